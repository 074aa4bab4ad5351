// `poolgate/bare`: the API without loading the wasm, for setups that load it themselves (the
// main entry already does it in Node, Next.js, Workers and browsers). Pass a precompiled
// WebAssembly.Module (what runtimes that refuse to compile wasm from bytes provide, such as
// `import m from 'poolgate/poolgate_bg.wasm?module'`), bytes, a Response or a URL to `init` once,
// then use the API.
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
