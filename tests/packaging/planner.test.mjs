// The capacity planner page (www/planner/, the simulator's own wasm built by
// scripts/build-planner) in Debian's Chromium via playwright-core, served from the repository by
// www/serve.mjs on 127.0.0.1. It loads a preset from URL parameters, checks the figures of a
// small fixed-seed plan (the same ones crates/poolgate-sim/tests/sim.rs pins), edits the plan
// through the form, checks a bad parameter's message, saves a screenshot in .out/planner.png,
// and measures a 100,000-operation plan (printed and saved in .out/planner-timing.json; speed is
// reported, never asserted).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { OUT, REPO } from './lib/consumer.mjs';
import { launchChromium } from './lib/chromium.mjs';
import { freePort, startServer, waitForHttp } from './lib/servers.mjs';

async function settled(page) {
  await page.waitForSelector('body[data-state="done"], body[data-state="error"]', {
    timeout: 60_000,
  });
  return page.evaluate(() => document.body.dataset.state);
}

const text = (page, id) => page.locator(`#${id}`).textContent();

test('planner page: a preset from the URL, both sides, the form, a bad parameter', {
  timeout: 180_000,
}, async () => {
  assert.ok(
    existsSync(join(REPO, 'www', 'planner', 'pkg', 'planner_bg.wasm')),
    'www/planner/pkg is not built: run scripts/build-planner',
  );
  mkdirSync(OUT, { recursive: true });
  const port = await freePort();
  const server = startServer(process.execPath, [join(REPO, 'www', 'serve.mjs')], {
    env: { PORT: String(port) },
  });
  let browser;
  try {
    const base = `http://127.0.0.1:${port}/www/planner/`;
    await waitForHttp(server, base);
    browser = await launchChromium();
    const page = await browser.newPage({ viewport: { width: 1200, height: 1900 } });
    const problems = [];
    page.on('pageerror', (e) => problems.push(`pageerror: ${e.message}`));
    // Resource errors are checked by status below (the browser asks for a favicon on its own).
    page.on('console', (m) => {
      if (m.type() === 'error' && !m.text().startsWith('Failed to load resource')) {
        problems.push(`console: ${m.text()}`);
      }
    });
    page.on('response', (r) => {
      if (r.status() >= 400 && !r.url().endsWith('/favicon.ico')) {
        problems.push(`HTTP ${r.status()}: ${r.url()}`);
      }
    });

    await page.goto(`${base}?preset=load-test&ops=200`, { timeout: 15_000 });
    assert.equal(await settled(page), 'done', `${await text(page, 'status')} ${problems}`);
    // The URL's preset and override reached the form.
    assert.equal(await page.locator('#in-preset').inputValue(), 'load-test');
    assert.equal(await page.locator('input[name=ops]').inputValue(), '200');
    // Without the gate the pg pool of 50 outruns the server's 16 free slots; with it, nothing
    // is refused and the server never sees more than maxConnections.
    assert.equal(await text(page, 'without-completed'), '64');
    assert.equal(await text(page, 'without-too-many'), '136');
    assert.equal(await text(page, 'without-peak-server'), '16');
    assert.equal(await text(page, 'with-completed'), '200');
    assert.equal(await text(page, 'with-failed'), '0');
    assert.equal(await text(page, 'with-peak-server'), '15');
    assert.equal(await text(page, 'rec-max'), '16');
    assert.equal(await text(page, 'rec-pgmax'), '16');
    assert.match(await text(page, 'p99-without'), /^68% of requests fail/);
    assert.match(await text(page, 'p99-with'), /^the p99 request waits \d/);
    // Both sides drew their charts (some pixel is not blank).
    for (const side of ['without', 'with']) {
      const inked = await page.evaluate((s) => {
        const c = document.querySelector(`#side-${s} canvas.conns`);
        const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
        let n = 0;
        for (let i = 3; i < d.length; i += 4) if (d[i] !== 0) n += 1;
        return n;
      }, side);
      assert.ok(inked > 500, `${side} chart has ${inked} drawn pixels`);
    }
    await page.screenshot({ path: join(OUT, 'planner.png'), fullPage: true });

    // Edit the plan in the form: the URL follows and so do the figures.
    await page.fill('input[name=max]', '5');
    await page.fill('input[name=cpu]', '0.5');
    await page.click('#run');
    await page.waitForFunction(() => location.search.includes('max=5'));
    assert.match(await page.evaluate(() => location.search), /cpu=0\.5/);
    assert.equal(await text(page, 'with-peak-server'), '5');
    assert.match(await page.locator('#link').getAttribute('href'), /max=5/);

    // A bad parameter names itself; the page stays usable.
    await page.goto(`${base}?ops=0`, { timeout: 15_000 });
    assert.equal(await settled(page), 'error');
    assert.match(await text(page, 'status'), /^RangeError: ops must be a whole number/);

    // The measurement: 100,000 operations (times three runs: without, with, the sizing run).
    const big = '?preset=railway&ops=100000';
    const times = [];
    for (let i = 0; i < 3; i += 1) {
      await page.goto(`${base}${big}&seed=${i + 1}`, { timeout: 15_000 });
      assert.equal(await settled(page), 'done', await text(page, 'status'));
      times.push(await page.evaluate(() => window.planner.ms));
    }
    const ops = await page.evaluate(() => window.planner.report.with.ops);
    assert.equal(ops, 100_000);
    const record = { plan: big, runsPerPlan: 3, opsPerRun: ops, ms: times };
    writeFileSync(join(OUT, 'planner-timing.json'), `${JSON.stringify(record, null, 2)}\n`);
    console.log(
      `planner: 100,000 operations x 3 runs in Chromium: ${times.map((t) => `${t.toFixed(0)} ms`).join(', ')}`,
    );
    assert.deepEqual(problems, []);
  } finally {
    await browser?.close();
    await server.stop();
  }
});
