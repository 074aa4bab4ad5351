// Cloudflare Workers entry (`workerd` condition). Workers refuse to compile wasm from bytes, so
// the .wasm is imported as a module: wrangler's bundler turns this import into a precompiled
// WebAssembly.Module of the Worker's own realm, which is instantiated synchronously here.
import wasmModule from './poolgate_bg.wasm';
import { initSync } from './wasm.js';

initSync({ module: wasmModule });

export * from './index.js';
