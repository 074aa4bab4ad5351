// Entry for runtimes that load the wasm themselves, such as Vercel Edge and Cloudflare Workers,
// which refuse to compile wasm from bytes: pass a precompiled WebAssembly.Module (or bytes, a
// Response or a URL where the runtime allows it) to `init` once, then use the API.
import initGlue, { initSync as initGlueSync } from './wasm.js';

/** Loads the wasm from a WebAssembly.Module, bytes, a Response or a URL. Idempotent. */
export async function init(input) {
  await initGlue({ module_or_path: input });
}

/** Loads the wasm synchronously from a WebAssembly.Module or bytes. Idempotent. */
export function initSync(module) {
  initGlueSync({ module });
}

export * from './index.js';
