// Nested calls: a call made from inside an operation that holds a slot of the same pool runs on
// that slot (reentrant) once tracking is on, instead of waiting behind the slot it holds. The
// tests run in order in this one process: tracking is process-wide and cannot be turned off.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ConnectionPool, QueueTimeoutError, trackNestedCalls } from 'poolgate';
import { deferred, tick } from './helpers.mjs';

test('before tracking is on (plain Node, no Prisma integration): a nested call queues', async () => {
  const pool = new ConnectionPool({ maxConnections: 1, queueTimeoutMs: 30 });
  const err = await pool.run(() => pool.run(async () => 'inner')).catch((e) => e);
  assert.ok(err instanceof QueueTimeoutError, 'it waited behind its own caller, then gave up');
  assert.equal(pool.getMetrics().granted, 1);
});

test('trackNestedCalls() turns detection on where AsyncLocalStorage exists', () => {
  assert.equal(trackNestedCalls(), true);
  assert.equal(trackNestedCalls(), true, 'idempotent');
});

test('pool.run inside pool.run runs on the held slot: not queued, not counted again', async () => {
  const pool = new ConnectionPool({ maxConnections: 1, queueTimeoutMs: 1000 });
  const seen = [];
  const r = await pool.run(async () => {
    seen.push(pool.getPoolStats().activeConnections);
    const inner = await pool.run(async () => {
      seen.push(pool.getPoolStats().activeConnections);
      return pool.run(() => 'deepest', { retry: true, idempotent: true });
    });
    return `${inner}!`;
  });
  assert.equal(r, 'deepest!');
  assert.deepEqual(seen, [1, 1]);
  const m = pool.getMetrics();
  assert.equal(m.granted, 1);
  assert.equal(m.queueTimeouts, 0);
  assert.equal(pool.getPoolStats().activeConnections, 0);
});

test('a full pool of callers that each nest does not deadlock', async () => {
  const pool = new ConnectionPool({ maxConnections: 3, queueTimeoutMs: 1000 });
  const results = await Promise.all(
    Array.from({ length: 20 }, (_, i) =>
      pool.run(async () => {
        await tick();
        return pool.run(async () => i * 2);
      }),
    ),
  );
  assert.deepEqual(
    results,
    Array.from({ length: 20 }, (_, i) => i * 2),
  );
  const m = pool.getMetrics();
  assert.equal(m.granted, 20);
  assert.equal(m.queueTimeouts, 0);
  assert.equal(m.peakActive, 3);
});

test('another pool nested inside one still takes a slot of its own', async () => {
  const a = new ConnectionPool({ maxConnections: 1 });
  const b = new ConnectionPool({ maxConnections: 1 });
  await a.run(() => b.run(() => a.run(async () => 'ok')));
  assert.equal(a.getMetrics().granted, 1);
  assert.equal(b.getMetrics().granted, 1);
});

test('a call left behind by an operation that settled takes a slot of its own', async () => {
  const pool = new ConnectionPool({ maxConnections: 1 });
  const gate = deferred();
  let later;
  await pool.run(async () => {
    later = gate.promise.then(() => pool.run(async () => pool.getPoolStats().activeConnections));
  });
  const blocker = deferred();
  const holding = pool.run(() => blocker.promise);
  gate.resolve();
  await tick();
  assert.equal(pool.getPoolStats().queuedConnections, 1, 'it queued behind the holder');
  blocker.resolve();
  await holding;
  assert.equal(await later, 1);
  assert.equal(pool.getMetrics().granted, 3);
});

test('nested calls check their arguments like any call', async () => {
  const pool = new ConnectionPool({ maxConnections: 1 });
  await pool.run(async () => {
    await assert.rejects(pool.run('not a function'), TypeError);
    await assert.rejects(
      pool.run(async () => 1, { retries: 3 }),
      /unknown option "retries"/,
    );
    await assert.rejects(
      pool.run(async () => 1, { timeoutMs: '5' }),
      /timeoutMs must be a number/,
    );
    await assert.rejects(
      pool.run(async () => 1, { retry: { maxRetries: -1 } }),
      RangeError,
    );
    const aborted = AbortSignal.abort(new Error('stop'));
    await assert.rejects(
      pool.run(async () => 1, { signal: aborted }),
      /stop/,
    );
    await assert.rejects(
      pool.run(() => {
        throw new Error('sync throw');
      }),
      /sync throw/,
    );
  });
  assert.equal(pool.getPoolStats().activeConnections, 0);
});
