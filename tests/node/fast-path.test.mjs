// The clock-free fast path: an uncontended call with no options reads no clock and crosses into
// wasm once each way; everything else (queueing behind it, timeouts, metrics) stays exact.
import { spawnSync } from 'node:child_process';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ConnectionPool, QueueTimeoutError } from 'poolgate';
import { assertStats, deferred, prismaError, sleep } from './helpers.mjs';

/** Counts performance.now() calls made while `fn` runs. */
async function countClockReads(fn) {
  const real = performance.now;
  let reads = 0;
  performance.now = function now() {
    reads++;
    return real.call(performance);
  };
  try {
    await fn();
  } finally {
    performance.now = real;
  }
  return reads;
}

test('uncontended calls read the clock only for the sampled hold times', async () => {
  const pool = new ConnectionPool({ maxConnections: 4 });
  const op = async () => 1;
  const reads = await countClockReads(async () => {
    for (let i = 0; i < 320; i++) assert.equal(await pool.run(op), 1);
  });
  // One call in 32 is timed: a read at submit and one at release.
  assert.ok(reads <= 2 * (320 / 32) + 2, `read the clock ${reads} times for 320 calls`);
  assert.ok(reads >= 2 * (320 / 32) - 2, `only ${reads} reads: hold times are not sampled`);
  const m = pool.getMetrics();
  assert.equal(m.granted, 320);
  assert.equal(m.succeeded, 320);
  assert.equal(m.wait.count, 320, 'every grant counts a wait (zero on the fast path)');
  assert.equal(m.hold.count, 10, 'one hold time in 32 is measured');
  assertStats(pool, 0, 0);
});

test('a pool with a default operation timeout never takes the clock-free path', async () => {
  const pool = new ConnectionPool({ maxConnections: 4, operationTimeoutMs: 60_000 });
  const reads = await countClockReads(async () => {
    for (let i = 0; i < 10; i++) await pool.run(async () => {});
  });
  assert.ok(reads >= 20, `only ${reads} clock reads for 10 timed calls`);
  assert.equal(pool.getMetrics().hold.count, 10);
});

test('a waiter queued behind clock-free calls gets the slot in order when they settle', async () => {
  const pool = new ConnectionPool({ maxConnections: 2 });
  const a = deferred();
  const b = deferred();
  const pa = pool.run(() => a.promise); // clock-free
  const pb = pool.run(() => b.promise); // clock-free
  const order = [];
  const pc = pool.run(async () => order.push('c'));
  const pd = pool.run(async () => order.push('d'));
  assertStats(pool, 2, 2);
  a.resolve('a');
  assert.equal(await pa, 'a');
  assert.equal(await pc, 1);
  assertStats(pool, 1, 0);
  b.reject(new Error('b failed'));
  await assert.rejects(pb, /b failed/);
  assert.equal(await pd, 2);
  assert.deepEqual(order, ['c', 'd']);
  assertStats(pool, 0, 0);
  const m = pool.getMetrics();
  assert.equal(m.succeeded, 3);
  assert.equal(m.failed, 1);
});

test('a waiter behind a clock-free call still times out, and is never started late', async () => {
  const pool = new ConnectionPool({ maxConnections: 1, queueTimeoutMs: 30 });
  const a = deferred();
  const pa = pool.run(() => a.promise); // clock-free, holds the only slot
  let started = false;
  const pb = pool.run(async () => {
    started = true;
  });
  await assert.rejects(pb, QueueTimeoutError);
  await sleep(5);
  a.resolve('a');
  assert.equal(await pa, 'a');
  assert.equal(started, false, 'a timed-out waiter must never run');
  assertStats(pool, 0, 0);
});

test('a retry back-off survives a deep burst that empties the pool around it', async () => {
  const pool = new ConnectionPool({ maxConnections: 1, queueTimeoutMs: 60_000 });
  let attempts = 0;
  const retried = pool.withRetryAndPool(
    async () => {
      attempts++;
      if (attempts === 1) throw prismaError('P1001', "Can't reach database server");
      return 'second attempt';
    },
    2,
    1000,
  );
  await sleep(5); // the first attempt failed; its back-off sleeps for 1 s
  // 5,000 callers queue behind one slot and drain while the back-off sleeps; the back-off's
  // slot must still be known when it wakes.
  const burst = Array.from({ length: 5000 }, (_, i) => pool.run(async () => i));
  assert.equal((await Promise.all(burst)).length, 5000);
  assert.equal(pool.getMetrics().sleeping, 1, 'precondition: the back-off outlasts the burst');
  assert.equal(await retried, 'second attempt');
  assert.equal(attempts, 2);
  assertStats(pool, 0, 0);
  assert.equal(pool.getMetrics().sleeping, 0);
});

test('a failure nobody handles is still reported as an unhandled rejection', () => {
  // The fast paths watch the operation's promise to give the slot back; that must not count as
  // handling the caller's promise. Run in a child: an unhandled rejection ends the process.
  const script = `
    import { ConnectionPool } from 'poolgate';
    const pool = new ConnectionPool({ maxConnections: 2 });
    for (let i = 0; i < 40; i++) await pool.run(async () => i); // clock-free and sampled calls
    pool.run(async () => { throw new Error('nobody handles this'); });
  `;
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], {
    cwd: new URL('..', import.meta.url),
    encoding: 'utf8',
    timeout: 20_000,
  });
  assert.equal(r.status, 1, `exit ${r.status}; stderr: ${r.stderr}`);
  assert.match(r.stderr, /nobody handles this/);
});
