// Browsers from the packed tarball, in Debian's Chromium driven by playwright-core: the README's
// index.html (an import map to the `browser` entry, which fetches the .wasm beside it) and the
// www/ demo page, both served by www/serve.mjs on 127.0.0.1. Each runs a burst of 50 through a
// pool of 5; the test reads the stats the page shows and saves a screenshot in .out/.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, mkdirSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { createConsumer, OUT, REPO, removeConsumer } from './lib/consumer.mjs';
import { EXPECTED } from './lib/expected.mjs';
import { example } from './lib/readme.mjs';
import { launchChromium } from './lib/chromium.mjs';
import { freePort, startServer, waitForHttp } from './lib/servers.mjs';

/** Opens `url`, collecting the page's errors for the failure message. */
async function open(browser, url) {
  const page = await browser.newPage({ viewport: { width: 1100, height: 1000 } });
  const problems = [];
  page.on('pageerror', (e) => problems.push(`pageerror: ${e.message}`));
  page.on('console', (m) => m.type() === 'error' && problems.push(`console: ${m.text()}`));
  page.on('requestfailed', (r) => problems.push(`request failed: ${r.url()}`));
  await page.goto(url, { timeout: 15_000 });
  return { page, problems };
}

test('browser: README index.html and the www/ page in Chromium', {
  timeout: 120_000,
}, async (t) => {
  const dir = await createConsumer('browser', { 'index.html': example('index.html') });
  // The www/ page as shipped, beside a `pkg` that is the installed tarball, so its import map
  // (../pkg/dist/browser.js) loads the packed files.
  cpSync(join(REPO, 'www'), join(dir, 'www'), { recursive: true });
  symlinkSync(join('node_modules', 'poolgate'), join(dir, 'pkg'));
  mkdirSync(OUT, { recursive: true });

  const port = await freePort();
  const server = startServer(process.execPath, [join(dir, 'www', 'serve.mjs')], {
    cwd: dir,
    env: { PORT: String(port) },
  });
  let browser;
  let passed = 0;
  try {
    const base = `http://127.0.0.1:${port}`;
    await waitForHttp(server, `${base}/index.html`);
    browser = await launchChromium();

    await t.test('README index.html', async () => {
      const { page, problems } = await open(browser, `${base}/index.html`);
      const shown = page.locator('#stats');
      await page
        .waitForFunction(() => document.getElementById('stats').textContent !== 'running…', null, {
          timeout: 20_000,
        })
        .catch(() => {});
      const text = await shown.textContent();
      await page.screenshot({ path: join(OUT, 'readme-index.png') });
      assert.deepEqual(safeJson(text), EXPECTED, `page shows ${text}; ${problems.join('; ')}`);
      passed++;
    });

    await t.test('www/ demo page', async () => {
      const query = 'auto=1&maxConnections=5&burst=50&queryMs=2&queueTimeoutMs=10000';
      const { page, problems } = await open(browser, `${base}/www/?${query}`);
      await page
        .waitForFunction(() => ['done', 'error'].includes(document.body.dataset.state), null, {
          timeout: 30_000,
        })
        .catch(() => {});
      await page.screenshot({ path: join(OUT, 'www.png'), fullPage: true });
      const read = (id) => page.locator(`#${id}`).textContent();
      const state = await page.evaluate(() => document.body.dataset.state);
      const status = await read('status');
      assert.equal(state, 'done', `page state ${state}: ${status}; ${problems.join('; ')}`);
      const shown = {
        activeConnections: Number(await read('active')),
        maxConnections: Number(await read('max')),
        queuedConnections: Number(await read('queued')),
        availableConnections: Number(await read('available')),
        completed: Number(await read('succeeded')),
        peakActive: Number(await read('peak-active')),
      };
      assert.deepEqual(shown, EXPECTED, status);
      assert.equal(await read('errors'), '0');
      passed++;
    });
  } finally {
    await browser?.close().catch(() => {});
    await server.stop();
  }
  if (passed === 2) removeConsumer(dir);
});

function safeJson(text) {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}
