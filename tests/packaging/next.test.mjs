// Next.js 16 (App Router) from the packed tarball: the README's two route handlers, one with
// `runtime = 'nodejs'` (the `node` entry) and one with `runtime = 'edge'` (the `edge-light`
// entry), built with Turbopack (the default) and with webpack, then served by `next start` and
// fetched over 127.0.0.1. Each must answer the expected stats. No next.config. Two more routes
// (Node and Edge) report poolgate's error names from inside the minified production bundles.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { BIN, createConsumer, removeConsumer } from './lib/consumer.mjs';
import { EXPECTED } from './lib/expected.mjs';
import { ERROR_ROUTES, EXPECTED_ERRORS, nextAppFiles, ROUTES, routePath } from './lib/next-app.mjs';
import { fetchJsonWhenUp, freePort, run, startServer } from './lib/servers.mjs';

const env = { NEXT_TELEMETRY_DISABLED: '1', NODE_ENV: 'production' };
const next = join(BIN, 'next');

test('Next.js 16: Node and Edge route handlers', { timeout: 360_000 }, async (t) => {
  const dir = await createConsumer('next', nextAppFiles());
  let passed = 0;
  for (const [bundler, flags] of [
    ['Turbopack', []],
    ['webpack', ['--webpack']],
  ]) {
    await t.test(
      `next build${flags.length ? ` ${flags.join(' ')}` : ''} (${bundler}), next start`,
      async () => {
        const { stdout } = await run(next, ['build', ...flags], {
          cwd: dir,
          env,
          timeoutMs: 180_000,
        });
        // Both routes must be server-rendered on demand, so the burst runs in `next start`.
        for (const path of [...ROUTES, ...ERROR_ROUTES].map(routePath)) {
          assert.match(stdout, new RegExp(`ƒ ${path}\\b`), `${path} is not dynamic:\n${stdout}`);
        }
        const port = await freePort();
        const server = startServer(next, ['start', '-H', '127.0.0.1', '-p', String(port)], {
          cwd: dir,
          env,
        });
        try {
          for (const path of ROUTES.map(routePath)) {
            const body = await fetchJsonWhenUp(server, `http://127.0.0.1:${port}${path}`, 60_000);
            assert.deepEqual(body, EXPECTED, `${bundler} ${path}`);
          }
          // Minified production bundles: error names are still the class names, instanceof
          // holds, and a nested call runs on its caller's slot (Node and Edge runtimes).
          for (const path of ERROR_ROUTES.map(routePath)) {
            const body = await fetchJsonWhenUp(server, `http://127.0.0.1:${port}${path}`, 60_000);
            assert.deepEqual(body, EXPECTED_ERRORS, `${bundler} ${path}`);
          }
        } finally {
          await server.stop();
        }
        passed++;
      },
    );
  }
  if (passed === 2) removeConsumer(dir);
});
