// The entry for runtimes that refuse to compile wasm from bytes (Vercel Edge, Workers): it
// takes a precompiled WebAssembly.Module.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { init, ConnectionPool } from 'poolgate/bare';

test('poolgate/bare runs once given a precompiled WebAssembly.Module', async () => {
  const require = createRequire(import.meta.url);
  const wasmPath = require.resolve('poolgate/poolgate_bg.wasm');
  const module = new WebAssembly.Module(await readFile(wasmPath));
  await init(module);
  const pool = new ConnectionPool({ maxConnections: 1 });
  assert.deepEqual(await Promise.all([pool.run(async () => 1), pool.run(async () => 2)]), [1, 2]);
});
