// Types of `poolgate/poolgate_bg.wasm`: the wasm file of `poolgate/bare`, typed as what bundlers
// that import .wasm files as modules make of it, a precompiled module to hand to `init`.
declare const wasmModule: WebAssembly.Module;
export default wasmModule;
