// Semantics of ConnectionPool, through the installed package (ESM import).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  ConnectionPool,
  OperationTimeoutError,
  PoolClosedError,
  QueueFullError,
  QueueTimeoutError,
} from 'poolgate';
import { assertStats, deferred, sleep, tick } from './helpers.mjs';

test('runs at most maxConnections at once, in strict arrival order', async () => {
  const pool = new ConnectionPool({ maxConnections: 3 });
  const started = [];
  const gates = [];
  let running = 0;
  let peak = 0;
  const calls = Array.from({ length: 20 }, (_, i) =>
    pool.run(async () => {
      started.push(i);
      running++;
      peak = Math.max(peak, running);
      const d = deferred();
      gates.push(d);
      await d.promise;
      running--;
      return i;
    }),
  );
  assertStats(pool, 3, 17);
  while (gates.length) {
    gates.shift().resolve();
    await tick();
  }
  assert.deepEqual(await Promise.all(calls), [...Array(20).keys()]);
  assert.deepEqual(started, [...Array(20).keys()], 'FIFO');
  assert.equal(peak, 3);
  assertStats(pool, 0, 0);
});

test('stats match the real state after each step', async () => {
  const pool = new ConnectionPool({ maxConnections: 2 });
  assertStats(pool, 0, 0);
  const a = deferred();
  const b = deferred();
  const c = deferred();
  const pa = pool.run(() => a.promise);
  assertStats(pool, 1, 0);
  const pb = pool.run(() => b.promise);
  assertStats(pool, 2, 0);
  const pc = pool.run(() => c.promise);
  assertStats(pool, 2, 1);
  a.resolve('a');
  assert.equal(await pa, 'a');
  assertStats(pool, 2, 0);
  b.reject(new Error('boom'));
  await assert.rejects(pb, /boom/);
  assertStats(pool, 1, 0);
  c.resolve('c');
  await pc;
  assertStats(pool, 0, 0);
  const m = pool.getMetrics();
  assert.equal(m.succeeded, 2);
  assert.equal(m.failed, 1);
  assert.equal(m.peakActive, 2);
});

test('a queue timeout rejects with a clear error and is never followed by a grant', async () => {
  const pool = new ConnectionPool({ maxConnections: 1, queueTimeoutMs: 30 });
  const hold = deferred();
  const first = pool.run(() => hold.promise);
  let ranLate = false;
  const waiter = pool.run(async () => {
    ranLate = true;
  });
  const err = await waiter.catch((e) => e);
  assert.ok(err instanceof QueueTimeoutError, String(err));
  assert.equal(err.code, 'POOLGATE_QUEUE_TIMEOUT');
  assert.ok(err.waitedMs >= 29, `waited ${err.waitedMs}`);
  assert.match(err.message, /waited \d+ ms .*1 of 1 connections in use/);
  assert.equal(err.poolStats.activeConnections, 1);
  assertStats(pool, 1, 0);
  hold.resolve();
  await first;
  await tick();
  assert.equal(ranLate, false, 'a timed-out waiter must never run');
  assertStats(pool, 0, 0);
});

test('a timed-out operation keeps its slot until it really settles (zombie)', async () => {
  const pool = new ConnectionPool({ maxConnections: 1 });
  const query = deferred();
  const slow = pool.run(() => query.promise, { timeoutMs: 20 });
  let nextStarted = false;
  const next = pool.run(async () => {
    nextStarted = true;
    return 'next';
  });
  await assert.rejects(slow, OperationTimeoutError);
  assertStats(pool, 1, 1);
  assert.equal(pool.getMetrics().zombies, 1);
  await sleep(20);
  assert.equal(nextStarted, false, 'the query still holds its connection');
  query.resolve('late result');
  assert.equal(await next, 'next');
  assert.equal(pool.getMetrics().zombies, 0);
  assertStats(pool, 0, 0);
});

test('releaseOnTimeout frees the slot at the deadline (the seed behaviour, opt-in)', async () => {
  const pool = new ConnectionPool({ maxConnections: 1, releaseOnTimeout: true });
  const query = deferred();
  const slow = pool.run(() => query.promise, { timeoutMs: 10 });
  const next = pool.run(async () => 'next');
  await assert.rejects(slow, OperationTimeoutError);
  assert.equal(await next, 'next');
  query.resolve();
  await tick();
  assertStats(pool, 0, 0);
});

test('aborting a queued call removes it at once; it never runs', async () => {
  const pool = new ConnectionPool({ maxConnections: 1 });
  const hold = deferred();
  const first = pool.run(() => hold.promise);
  const ac = new AbortController();
  let ran = false;
  const queued = pool.run(async () => (ran = true), { signal: ac.signal });
  const after = pool.run(async () => 'after');
  assertStats(pool, 1, 2);
  ac.abort(new Error('client went away'));
  await assert.rejects(queued, /client went away/);
  assertStats(pool, 1, 1);
  hold.resolve();
  await first;
  assert.equal(await after, 'after');
  assert.equal(ran, false);
  assert.equal(pool.getMetrics().aborted, 1);
  // An already-aborted signal rejects at once and takes no slot.
  await assert.rejects(pool.run(async () => 1, { signal: AbortSignal.abort() }));
  assertStats(pool, 0, 0);
});

test('aborting a running call detaches the caller; the slot waits for the query', async () => {
  const pool = new ConnectionPool({ maxConnections: 1 });
  const ac = new AbortController();
  const query = deferred();
  const running = pool.run(() => query.promise, { signal: ac.signal });
  ac.abort();
  await assert.rejects(running, { name: 'AbortError' });
  assert.equal(pool.getMetrics().zombies, 1);
  assertStats(pool, 1, 0);
  query.resolve();
  await tick();
  assertStats(pool, 0, 0);
});

test('QueueFull fails fast past maxQueue and the pool keeps working', async () => {
  const pool = new ConnectionPool({ maxConnections: 1, maxQueue: 2 });
  const hold = deferred();
  const calls = [pool.run(() => hold.promise), pool.run(async () => 1), pool.run(async () => 2)];
  const err = await pool.run(async () => 3).catch((e) => e);
  assert.ok(err instanceof QueueFullError);
  assert.equal(err.code, 'POOLGATE_QUEUE_FULL');
  assert.equal(err.maxQueue, 2);
  hold.resolve(0);
  assert.deepEqual(await Promise.all(calls), [0, 1, 2]);
  assert.equal(await pool.run(async () => 'fine'), 'fine');
  assert.equal(pool.getMetrics().rejectedFull, 1);
});

test('close() rejects every waiter at once and refuses new work', async () => {
  const pool = new ConnectionPool({ maxConnections: 1 });
  const hold = deferred();
  const running = pool.run(() => hold.promise);
  const waiters = Array.from({ length: 5 }, () => pool.run(async () => 'never'));
  pool.close();
  const results = await Promise.allSettled(waiters);
  for (const r of results) {
    assert.equal(r.status, 'rejected');
    assert.ok(r.reason instanceof PoolClosedError);
  }
  await assert.rejects(
    pool.run(async () => 1),
    PoolClosedError,
  );
  hold.resolve('finished');
  assert.equal(await running, 'finished', 'running work completes normally');
  assertStats(pool, 0, 0);
});

test('setMaxConnections grows and shrinks while running', async () => {
  const pool = new ConnectionPool({ maxConnections: 1 });
  const ds = Array.from({ length: 4 }, () => deferred());
  const calls = ds.map((d) => pool.run(() => d.promise));
  assertStats(pool, 1, 3);
  pool.setMaxConnections(3);
  assertStats(pool, 3, 1);
  pool.setMaxConnections(1);
  ds[0].resolve();
  ds[1].resolve();
  await Promise.all(calls.slice(0, 2));
  assertStats(pool, 1, 1);
  ds[2].resolve();
  await calls[2];
  assertStats(pool, 1, 0);
  ds[3].resolve();
  await calls[3];
  assertStats(pool, 0, 0);
});

// With no options these take the clock-free path (see fast-path.test.mjs).
test('operations that throw synchronously or return plain values are handled', async () => {
  const pool = new ConnectionPool({ maxConnections: 1 });
  await assert.rejects(
    pool.run(() => {
      throw new Error('sync');
    }),
    /sync/,
  );
  assert.equal(await pool.run(() => 7), 7);
  assertStats(pool, 0, 0);
});

test('withConnectionPool has the seed signature and a 30 s default timeout', async () => {
  const pool = new ConnectionPool({ maxConnections: 2 });
  assert.equal(await pool.withConnectionPool(async () => 'ok'), 'ok');
  await assert.rejects(
    pool.withConnectionPool(() => sleep(200), 10),
    OperationTimeoutError,
  );
  await sleep(220);
  assertStats(pool, 0, 0);
});

test('every caller settles when queue timeouts expire while new calls arrive (slot reuse)', async () => {
  // Submitting 50,000 calls takes longer than the 1 ms queue timeout, so each submission expires
  // older waiters and the core reuses their slots at once. A driver that tracked the new caller
  // before settling the expired ones lost callers here (found by the S4 benchmark).
  const pool = new ConnectionPool({ maxConnections: 10, maxQueue: 100_000, queueTimeoutMs: 1 });
  const calls = [];
  for (let i = 0; i < 50_000; i++) calls.push(pool.run(() => new Promise((r) => setTimeout(r, 1))));
  const results = await Promise.allSettled(calls);
  const ok = results.filter((r) => r.status === 'fulfilled').length;
  const timedOut = results.filter((r) => r.reason instanceof QueueTimeoutError).length;
  assert.equal(ok + timedOut, 50_000);
  const m = pool.getMetrics();
  assert.equal(m.succeeded, ok);
  assert.equal(m.queueTimeouts, timedOut);
  assertStats(pool, 0, 0);
});

test('a flood of refusals stays cheap: one per 10 ms carries the stack of the call site', async () => {
  const pool = new ConnectionPool({ maxConnections: 1, maxQueue: 0 });
  const gate = deferred();
  const running = pool.run(() => gate.promise);
  function callSiteOfTheUser() {
    return pool.run(async () => 1);
  }
  // A fake clock, so "the same 10 ms" does not depend on this machine's speed.
  let now = 1000;
  performance.now = () => now;
  const errors = [];
  try {
    for (let i = 0; i < 50; i++) errors.push(await callSiteOfTheUser().catch((e) => e));
  } finally {
    delete performance.now;
  }
  for (const e of errors) assert.ok(e instanceof QueueFullError);
  // The first one names the caller of run(), not the pool's internals.
  assert.match(errors[0].stack, /at callSiteOfTheUser /);
  assert.doesNotMatch(errors[0].stack, /#refusal|#timed/);
  // The same millisecond's others say why they have none.
  for (const e of errors.slice(1)) {
    assert.match(e.stack, /^QueueFullError: poolgate: queue full[^\n]*\n {4}\(stack omitted/);
  }
  // 10 ms later, a refusal carries a stack again.
  now += 10;
  performance.now = () => now;
  let later;
  try {
    later = await callSiteOfTheUser().catch((e) => e);
  } finally {
    delete performance.now;
  }
  assert.match(later.stack, /at callSiteOfTheUser /);
  gate.resolve();
  await running;
});
