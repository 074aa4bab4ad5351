// Node 20 from the packed tarball: the README's burst.mjs (import, the `node` + `import` entry)
// and burst.cjs (require, the `node` + `require` entry) each print the expected stats.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createConsumer, removeConsumer } from './lib/consumer.mjs';
import { EXPECTED } from './lib/expected.mjs';
import { example } from './lib/readme.mjs';
import { run } from './lib/servers.mjs';

test('Node: README burst.mjs (import) and burst.cjs (require)', { timeout: 120_000 }, async () => {
  const dir = await createConsumer('node', {
    'burst.mjs': example('burst.mjs'),
    'burst.cjs': example('burst.cjs'),
  });
  for (const file of ['burst.mjs', 'burst.cjs']) {
    const { stdout } = await run(process.execPath, [file], { cwd: dir, timeoutMs: 30_000 });
    assert.deepEqual(JSON.parse(stdout), EXPECTED, file);
  }
  removeConsumer(dir);
});
