// Browser entry (`browser` condition). The .wasm is fetched from next to this file and compiled
// while it streams in, once, with top-level await: importers see a ready API. The
// `new URL('./…', import.meta.url)` form is also what bundlers recognise as an asset to emit.
import init from './wasm.js';

await init({ module_or_path: new URL('./poolgate_bg.wasm', import.meta.url) });

export * from './index.js';
