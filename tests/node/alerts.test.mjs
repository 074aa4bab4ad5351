// The alert feed (pkg/src/alerts.js) over the core's rules, driven by hand: alerts reach the
// listener in order with their figures, options are checked by name.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ConnectionPool, QueueTimeoutError } from 'poolgate';
import { createRequire } from 'node:module';
import { initSync } from 'poolgate/bare';
import { AlertFeed, CONNECTION_FAILED, OK } from '../node_modules/poolgate/dist/alerts.js';

// Not a public entry yet (the pool will own the feed): load the wasm the bare entry's way.
initSync(readFileSync(createRequire(import.meta.url).resolve('poolgate/poolgate_bg.wasm')));

function feed(options) {
  let now = 0;
  const seen = [];
  const f = new AlertFeed(
    options,
    (a) => seen.push(a),
    () => now,
  );
  return { f, seen, at: (ms) => (now = ms) };
}

test('saturated is raised after saturatedForMs and cleared below the clear threshold', () => {
  const { f, seen, at } = feed({ saturatedForMs: 100 });
  f.granted(9, 10);
  at(99);
  f.granted(10, 10);
  assert.equal(seen.length, 0);
  at(100);
  f.granted(10, 10);
  assert.equal(seen.length, 1);
  assert.deepEqual(
    { ...seen[0] },
    {
      name: 'saturated',
      state: 'raised',
      at: 100,
      since: 0,
      windowMs: 60000,
      activeConnections: 10,
      maxConnections: 10,
      operations: 0,
      failed: 0,
      disconnects: 0,
      queueTimeouts: 0,
      averageMs: 0,
      errorRate: 0,
    },
  );
  at(150);
  f.released(3, OK, 7, 10);
  at(250);
  f.released(3, OK, 6, 10);
  assert.deepEqual(
    seen.map((a) => [a.name, a.state, a.at]),
    [
      ['saturated', 'raised', 100],
      ['saturated', 'cleared', 250],
    ],
  );
  assert.equal(f.isRaised('saturated'), false);
  f.stop();
});

test('disconnects and queue timeouts', () => {
  const { f, seen, at } = feed({ disconnects: 2, disconnectsClear: 0 });
  at(10);
  f.released(1, CONNECTION_FAILED, 0, 5);
  f.released(1, CONNECTION_FAILED, 0, 5);
  f.queueTimeout();
  assert.deepEqual(
    seen.map((a) => [a.name, a.state, a.disconnects, a.queueTimeouts]),
    [
      ['disconnects', 'raised', 2, 0],
      ['queue-timeouts', 'raised', 2, 1],
    ],
  );
  f.stop();
});

test('options are checked by name', () => {
  assert.throws(() => feed({ saturatedFor: 1 }), {
    name: 'TypeError',
    message: /alerts options: unknown option "saturatedFor"/,
  });
  assert.throws(() => feed({ saturatedForMs: '1' }), {
    name: 'TypeError',
    message: 'saturatedForMs must be a number, got the string "1"',
  });
  assert.throws(() => feed({ errorRate: 2 }), {
    name: 'RangeError',
    message: 'errorRate must be a number from 0 to 1, got 2',
  });
  assert.throws(() => feed({ slowMs: 1000, slowClearMs: 2000 }), {
    name: 'RangeError',
    message: /^slowClearMs must not be above slowMs/,
  });
});

test("the pool's alerts option: queue timeouts raise an alert that reaches pool.on('alert')", async () => {
  const pool = new ConnectionPool({ maxConnections: 1, queueTimeoutMs: 0, alerts: true });
  const seen = [];
  pool.on('alert', (a) => seen.push(a));
  let release;
  const holder = pool.run(() => new Promise((r) => (release = r)));
  await assert.rejects(
    pool.run(async () => 1),
    QueueTimeoutError,
  );
  assert.deepEqual(
    seen.map((a) => [a.name, a.state, a.queueTimeouts, a.activeConnections, a.maxConnections]),
    [['queue-timeouts', 'raised', 1, 1, 1]],
  );
  release();
  await holder;
  pool.close();
});

test('bad alerts options are TypeErrors and RangeErrors; alerts: false is off', () => {
  assert.throws(() => new ConnectionPool({ alerts: 5 }), {
    name: 'TypeError',
    message: 'alerts options must be an object, got number 5',
  });
  assert.throws(() => new ConnectionPool({ alerts: { slowMs: -1 } }), {
    name: 'RangeError',
    message: /^slowMs must be/,
  });
  assert.throws(() => new ConnectionPool({ alerts: { saturatedPercent: 50 } }), {
    name: 'RangeError',
    message: /^saturatedClearPercent must not be above saturatedPercent/,
  });
  const pool = new ConnectionPool({ alerts: false });
  return pool.run(async () => 'ok').then((v) => assert.equal(v, 'ok'));
});

test('a pending alert timer never keeps the process alive', () => {
  // queue-timeouts stays raised for the 60 s window; the process must still exit at once.
  const script = `
    import { ConnectionPool } from 'poolgate';
    const pool = new ConnectionPool({ maxConnections: 1, queueTimeoutMs: 0, alerts: true });
    pool.on('alert', (a) => console.log(a.name + ' ' + a.state));
    const holder = pool.run(() => new Promise((r) => setTimeout(r, 10)));
    await pool.run(async () => 1).catch(() => {});
    await holder;
  `;
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], {
    cwd: path.dirname(fileURLToPath(import.meta.url)),
    encoding: 'utf8',
    timeout: 30_000,
  });
  assert.equal(r.signal, null, 'killed: the process did not exit by itself within 30 s');
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stdout, 'queue-timeouts raised\n');
});

test('saturation counts against the limit in force: an adaptive cut makes a half-used pool full', async () => {
  // A fake clock: saturatedForMs passes without waiting.
  let now = 1000;
  performance.now = () => now;
  try {
    const pool = new ConnectionPool({
      maxConnections: 8,
      adaptive: { min: 1 },
      alerts: { saturatedForMs: 50 },
    });
    const seen = [];
    pool.on('alert', (a) => seen.push(a));
    const full = Object.assign(new Error('sorry, too many clients already'), { code: '53300' });
    await assert.rejects(
      pool.run(async () => {
        throw full;
      }),
      /too many clients/,
    );
    assert.equal(pool.getMetrics().effectiveLimit, 4);
    // Four running operations fill the cut limit (half of maxConnections).
    const releases = [];
    const running = Array.from({ length: 4 }, () =>
      pool.run(() => new Promise((r) => releases.push(r))),
    );
    now += 60;
    const late = pool.run(async () => 'queued behind them');
    // The rule's timer (armed at the fourth grant, 50 ms of real time) reads the fake clock.
    for (let i = 0; i < 100 && !seen.some((a) => a.name === 'saturated'); i++) {
      await new Promise((r) => setTimeout(r, 10));
    }
    const raised = seen.find((a) => a.name === 'saturated' && a.state === 'raised');
    assert.ok(raised, `saturated not raised: ${JSON.stringify(seen)}`);
    assert.equal(raised.activeConnections, 4);
    assert.equal(raised.maxConnections, 4, 'the limit in force, not maxConnections (8)');
    for (const r of releases) r();
    await Promise.all(running);
    assert.equal(await late, 'queued behind them');
    pool.close();
  } finally {
    delete performance.now;
  }
});
