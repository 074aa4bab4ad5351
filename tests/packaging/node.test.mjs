// Node 20 from the packed tarball: the README's burst.mjs (import, the `node` + `import` entry),
// burst.cjs (require, the `node` + `require` entry) and bare.mjs (`poolgate/bare`, handed the
// bytes of `poolgate/poolgate_bg.wasm`) each print the expected stats.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createConsumer, removeConsumer } from './lib/consumer.mjs';
import { EXPECTED } from './lib/expected.mjs';
import { example } from './lib/readme.mjs';
import { run } from './lib/servers.mjs';

test('Node: README burst.mjs (import), burst.cjs (require) and bare.mjs (poolgate/bare)', {
  timeout: 120_000,
}, async () => {
  const dir = await createConsumer('node', {
    'burst.mjs': example('burst.mjs'),
    'burst.cjs': example('burst.cjs'),
    'bare.mjs': example('bare.mjs'),
  });
  for (const file of ['burst.mjs', 'burst.cjs', 'bare.mjs']) {
    const { stdout } = await run(process.execPath, [file], { cwd: dir, timeoutMs: 30_000 });
    assert.deepEqual(JSON.parse(stdout), EXPECTED, file);
  }
  removeConsumer(dir);
});
