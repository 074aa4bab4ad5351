// Leak check of the built package (issue 4): 100,000 mixed operations (successes, queue
// timeouts, operation timeouts, aborts through a few reused AbortSignals, retried transient
// failures), then asserts that nothing is left behind:
//   - no abort listener on any reused signal,
//   - stats idle: getPoolStats() all idle, getMetrics().zombies === 0 and sleeping === 0,
//   - JS heap after gc within 10% of the heap after a warm-up round,
//   - no timer or handle left: the process exits by itself (checked by the parent test).
//
// Run: node --expose-gc tests/leak/leak.mjs [operations]   (default 100000)
// Prints progress on stderr and one JSON summary line on stdout; exits 1 on a failed check.
import { getEventListeners, setMaxListeners } from 'node:events';
import { ConnectionPool, setDefaultPool, withRetryAndPool, withConnectionPool } from 'poolgate';

if (typeof globalThis.gc !== 'function') {
  console.error('leak.mjs needs --expose-gc');
  process.exit(2);
}

const TOTAL = Number(process.argv[2] ?? 100_000);
const WARMUP = Math.min(20_000, Math.max(1000, Math.round(TOTAL / 5)));
const BATCH = 500;
const HEAP_TOLERANCE = 0.1;

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const pool = new ConnectionPool({
  maxConnections: 16,
  maxQueue: 100_000,
  queueTimeoutMs: 4,
});
setDefaultPool(pool);

// A few signals reused across every call (never aborted): listeners must not pile up on them.
// Sharing a signal across hundreds of concurrent calls is intended use, so Node's
// 10-listener warning is lifted on them. A wrapper counts every add and remove.
const reused = [0, 1, 2].map(() => new AbortController());
const listenerCalls = { added: 0, removed: 0 };
for (const c of reused) {
  setMaxListeners(0, c.signal);
  const add = c.signal.addEventListener.bind(c.signal);
  const remove = c.signal.removeEventListener.bind(c.signal);
  c.signal.addEventListener = (...a) => {
    listenerCalls.added++;
    return add(...a);
  };
  c.signal.removeEventListener = (...a) => {
    listenerCalls.removed++;
    return remove(...a);
  };
}
const transient = () => Object.assign(new Error("Can't reach database server"), { code: 'P1001' });

const counts = {
  ok: 0,
  queueTimeout: 0,
  operationTimeout: 0,
  aborted: 0,
  transientGaveUp: 0,
  opError: 0,
  queueFull: 0,
};
const unexpected = [];

function tally(r) {
  if (r.status === 'fulfilled') {
    counts.ok++;
    return;
  }
  const e = r.reason;
  if (e?.code === 'POOLGATE_QUEUE_TIMEOUT') counts.queueTimeout++;
  else if (e?.code === 'POOLGATE_OPERATION_TIMEOUT') counts.operationTimeout++;
  else if (e?.code === 'POOLGATE_QUEUE_FULL') counts.queueFull++;
  else if (e?.name === 'AbortError' || e?.message === 'batch abort') counts.aborted++;
  else if (e?.code === 'P1001') counts.transientGaveUp++;
  else if (e?.message === 'op failed') counts.opError++;
  else if (unexpected.length < 5) unexpected.push(String(e?.stack ?? e));
}

/** One operation of the mix; `i` picks its kind. */
function one(i, batchSignal) {
  const k = i % 10;
  const signal = reused[i % reused.length].signal;
  switch (k) {
    case 0: // plain, microtask-fast
      return pool.run(async () => i);
    case 1: // reused signal, short timer op
      return pool.run(() => sleep(i % 3), { signal });
    case 2: // operation timeout: the op outlives timeoutMs (a zombie until it settles)
      return pool.run(() => sleep(4), { timeoutMs: 1, signal });
    case 3: // retries with tiny back-offs; fails transiently once or twice, then succeeds
    case 4: {
      let failures = (i % 3) + (k === 4 ? 2 : 0); // k === 4 sometimes runs out of retries
      return withRetryAndPool(
        async () => {
          if (failures-- > 0) throw transient();
          return i;
        },
        3,
        1,
        { signal, idempotent: i % 2 === 0 },
      );
    }
    case 5: // the batch's abortable signal, aborted mid-batch (queued, running or sleeping)
      return pool.run(() => sleep(1), { signal: batchSignal });
    case 6: // retry with the abortable signal: abort may land during a back-off
      return withRetryAndPool(
        async () => {
          throw transient();
        },
        5,
        1,
        { signal: batchSignal },
      );
    case 7: // operation error, seed-compatible wrapper
      return withConnectionPool(async () => {
        throw new Error('op failed');
      }, 1000);
    case 8: // run with retry options object and a reused signal
      return pool.run(async () => i, { retry: { maxRetries: 2, delay: 1, jitter: 0.5 }, signal });
    default: // a burst of cheap ops that queue and may time out
      return pool.run(() => sleep(0), { timeoutMs: 50 });
  }
}

async function round(n, label) {
  const t0 = performance.now();
  for (let done = 0; done < n; done += BATCH) {
    const batch = new AbortController();
    setMaxListeners(0, batch.signal);
    const size = Math.min(BATCH, n - done);
    const ps = [];
    for (let j = 0; j < size; j++) ps.push(one(done + j, batch.signal));
    setTimeout(() => batch.abort(new Error('batch abort')), 1 + (done % 3));
    const results = await Promise.allSettled(ps);
    for (const r of results) tally(r);
    if (getEventListeners(batch.signal, 'abort').length !== 0) {
      unexpected.push(
        `batch signal kept ${getEventListeners(batch.signal, 'abort').length} listeners`,
      );
    }
  }
  // Zombies finish on their own timers; wait for the pool to go idle.
  for (let i = 0; i < 200 && !isIdle(); i++) await sleep(5);
  console.error(`[leak] ${label}: ${n} operations in ${Math.round(performance.now() - t0)} ms`);
}

function isIdle() {
  const s = pool.getPoolStats();
  const m = pool.getMetrics();
  return (
    s.activeConnections === 0 && s.queuedConnections === 0 && m.zombies === 0 && m.sleeping === 0
  );
}

async function heap() {
  for (let i = 0; i < 6; i++) {
    globalThis.gc();
    await sleep(10);
  }
  return process.memoryUsage();
}

await round(WARMUP, 'warm-up');
const before = await heap();
await round(TOTAL, 'measured');
const after = await heap();

const failures = [];
const listeners = reused.map((c) => getEventListeners(c.signal, 'abort').length);
if (listeners.some((n) => n !== 0))
  failures.push(`abort listeners left on reused signals: ${listeners}`);
if (listenerCalls.added === 0 || listenerCalls.added !== listenerCalls.removed) {
  failures.push(
    `reused signals: ${listenerCalls.added} listeners added, ${listenerCalls.removed} removed`,
  );
}
const stats = pool.getPoolStats();
const metrics = pool.getMetrics();
if (stats.activeConnections !== 0 || stats.queuedConnections !== 0) {
  failures.push(`pool not idle: ${JSON.stringify(stats)}`);
}
if (stats.availableConnections !== stats.maxConnections) failures.push('available != max');
if (metrics.zombies !== 0) failures.push(`zombies ${metrics.zombies}`);
if (metrics.sleeping !== 0) failures.push(`sleeping ${metrics.sleeping}`);
const growth = (after.heapUsed - before.heapUsed) / before.heapUsed;
if (growth > HEAP_TOLERANCE) {
  failures.push(
    `heap grew ${(growth * 100).toFixed(1)}% (${before.heapUsed} -> ${after.heapUsed})`,
  );
}
if (unexpected.length > 0) failures.push(`unexpected outcomes: ${unexpected.join(' | ')}`);
const kinds = ['ok', 'queueTimeout', 'operationTimeout', 'aborted', 'transientGaveUp', 'opError'];
for (const k of kinds) if (counts[k] === 0) failures.push(`the mix produced no ${k}`);

console.log(
  JSON.stringify({
    operations: TOTAL,
    warmup: WARMUP,
    counts,
    listeners,
    listenerCalls,
    stats,
    metrics: {
      submitted: metrics.submitted,
      queueTimeouts: metrics.queueTimeouts,
      operationTimeouts: metrics.operationTimeouts,
      aborted: metrics.aborted,
      retries: metrics.retries,
      zombies: metrics.zombies,
      sleeping: metrics.sleeping,
    },
    heapUsedBefore: before.heapUsed,
    heapUsedAfter: after.heapUsed,
    heapGrowthPct: Number((growth * 100).toFixed(2)),
    arrayBuffersBefore: before.arrayBuffers,
    arrayBuffersAfter: after.arrayBuffers,
    rssAfter: after.rss,
    failures,
  }),
);
if (failures.length > 0) {
  console.error(`[leak] FAILED:\n  ${failures.join('\n  ')}`);
  process.exitCode = 1;
}
// No process.exit(): the process must end by itself, with no timer or listener left.
