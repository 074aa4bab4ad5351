// Cloudflare Workers from the packed tarball: the README's wrangler.jsonc and src/index.ts run by
// `wrangler dev` (4.86.0, workerd, offline, local mode) on 127.0.0.1; wrangler resolves the
// `workerd` entry, which imports the .wasm as a module. The Worker must answer the expected stats.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { BIN, createConsumer, removeConsumer } from './lib/consumer.mjs';
import { EXPECTED } from './lib/expected.mjs';
import { example } from './lib/readme.mjs';
import { fetchJsonWhenUp, freePort, startServer } from './lib/servers.mjs';

test('Cloudflare Worker: wrangler dev', { timeout: 150_000 }, async () => {
  const dir = await createConsumer('worker', {
    'wrangler.jsonc': example('wrangler.jsonc'),
    'src/index.ts': example('src/index.ts'),
  });
  const port = await freePort();
  const inspector = await freePort();
  const server = startServer(
    join(BIN, 'wrangler'),
    ['dev', '--ip', '127.0.0.1', '--port', String(port), '--inspector-port', String(inspector)],
    {
      cwd: dir,
      env: {
        CLOUDFLARE_CF_FETCH_ENABLED: 'false',
        WRANGLER_SEND_METRICS: 'false',
        CI: 'true',
        // Keep wrangler's config and logs inside the consumer, not in the user's home.
        XDG_CONFIG_HOME: join(dir, '.config'),
        WRANGLER_LOG_PATH: join(dir, '.wrangler-logs'),
      },
    },
  );
  try {
    const body = await fetchJsonWhenUp(server, `http://127.0.0.1:${port}/`, 90_000);
    assert.deepEqual(body, EXPECTED);
  } finally {
    await server.stop();
  }
  removeConsumer(dir);
});
