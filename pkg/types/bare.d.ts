// Types of `poolgate/bare`: the API plus explicit wasm loading.
export * from './index.js';

/** Loads the wasm from a precompiled module, bytes, a Response or a URL. Idempotent. */
export declare function init(
  input: WebAssembly.Module | BufferSource | Response | URL | string | Promise<Response>,
): Promise<void>;
/** Loads the wasm synchronously from a precompiled module or bytes. Idempotent. */
export declare function initSync(module: WebAssembly.Module | BufferSource): void;
