// Node entry (ESM; the CommonJS build is bundled from this file). The wasm bytes are embedded
// in the package's JS, so no file is read at run time: it works unchanged inside bundles such
// as Next.js server chunks, where paths next to the package no longer exist.
import { AsyncLocalStorage } from 'node:async_hooks';
import { provideAsyncLocalStorage } from './context.js';
import { initSync } from './wasm.js';
// Bundled by esbuild's binary loader (scripts/build): the bytes end up inside this file.
import wasmBytes from './poolgate_bg.wasm';

initSync({ module: wasmBytes });
// Nested calls are detected with it once tracking is on (see context.js); importing costs nothing.
provideAsyncLocalStorage(AsyncLocalStorage);

export * from './index.js';
