// Sizes of the built package: every *.wasm under pkg/dist (raw and gzip -9) and the JS files
// of pkg/dist (.js/.mjs/.cjs, each gzipped on its own, summed). Returns null when not built.

import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { gzipSync } from 'node:zlib';

function walk(dir) {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? walk(join(dir, e.name)) : [join(dir, e.name)],
  );
}

function sizeOf(file, root) {
  const bytes = readFileSync(file);
  return {
    file: relative(root, file),
    raw: bytes.length,
    gzip: gzipSync(bytes, { level: 9 }).length,
  };
}

export function measurePkgSizes(distDir) {
  if (!existsSync(distDir)) return null;
  const files = walk(distDir);
  const wasm = files.filter((f) => f.endsWith('.wasm')).map((f) => sizeOf(f, distDir));
  const js = files.filter((f) => /\.(m|c)?js$/.test(f)).map((f) => sizeOf(f, distDir));
  const sum = (list, key) => list.reduce((n, x) => n + x[key], 0);
  return {
    wasm,
    wasmRaw: sum(wasm, 'raw'),
    wasmGzip: sum(wasm, 'gzip'),
    js,
    jsRaw: sum(js, 'raw'),
    jsGzip: sum(js, 'gzip'),
  };
}
