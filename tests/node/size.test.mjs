// The runtime package's wasm stays small: at most 40 KB gzipped (the budget the planner and the
// fleet features must fit in; Edge and Workers bundles pay for every byte at cold start).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { gzipSync } from 'node:zlib';

const BUDGET = 40 * 1024;

test(`the runtime wasm is at most ${BUDGET} bytes gzipped`, () => {
  const require = createRequire(import.meta.url);
  const dist = dirname(require.resolve('poolgate/package.json'));
  const wasm = readFileSync(join(dist, 'dist', 'poolgate_bg.wasm'));
  const gzipped = gzipSync(wasm, { level: 9 }).length;
  assert.ok(gzipped <= BUDGET, `poolgate_bg.wasm is ${gzipped} bytes gzipped (${wasm.length} raw)`);
});
