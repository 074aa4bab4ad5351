// Next.js / Vercel Edge entry (`edge-light` condition). The Edge runtime refuses to compile wasm
// from bytes; both Next.js bundlers (Turbopack and webpack) turn a `.wasm?module` import into a
// precompiled WebAssembly.Module, instantiated here synchronously. Under `next start` that module
// comes from another realm: scripts/build patches the glue's initSync to accept it.
import wasmModule from './poolgate_bg.wasm?module';
import { initSync } from './wasm.js';

initSync({ module: wasmModule });

export * from './index.js';
