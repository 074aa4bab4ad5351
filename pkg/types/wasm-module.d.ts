// Types of `poolgate/poolgate_bg.wasm` and `poolgate/poolgate_bg.wasm?module`: what the bundlers
// of Next.js Edge routes and Cloudflare Workers make of a .wasm import, a precompiled module to
// hand to `init` from `poolgate/bare`.
declare const wasmModule: WebAssembly.Module;
export default wasmModule;
