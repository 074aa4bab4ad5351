// S4 queue-wait timeout under overload: submits `ops` calls of a `opMs` timer operation at once,
// limit `limit`, queue timeout `queueTimeoutMs`. Reports: time until every caller's promise has
// settled; how late queue timeouts reach the caller (rejection time - (submit time + timeout),
// p50/p99 ms); operations that started after their caller had been told they timed out (and,
// for context, those that started past their deadline at all); the peak number of operations
// running at once; entries still in the limiter's queue afterwards. After all callers settled the
// harness keeps watching until the limiter is idle, or no operation has started for `stallMs`.
// A ref'd interval keeps the process alive throughout, as a server's would; callers still
// unsettled after `capMs` are reported as such.
// Params: { contender, ops, limit, opMs, queueTimeoutMs, stallMs, capMs }.

import { percentile } from '../lib/stats.mjs';
import { runWorker } from '../lib/worker.mjs';

const DONE = 1;
const TIMED_OUT = 2;
const FAILED = 3;

runWorker(async (params, contender) => {
  const { ops, limit, opMs, queueTimeoutMs, stallMs = 500, capMs = 60_000 } = params;
  const limiter = await contender.create({ limit, queueTimeoutMs });
  const state = new Uint8Array(ops);
  const submitAt = new Float64Array(ops);
  const lateMs = [];
  let started = 0;
  let startedAfterTimeout = 0;
  let startedPastDeadline = 0;
  let inflight = 0;
  let peakRunning = 0;
  let lastStartAt = 0;
  let settled = 0;
  let otherErrors = 0;
  let firstError;
  let allSettledAt = 0;

  const makeOp = (i) => () => {
    lastStartAt = performance.now();
    started++;
    if (state[i] === TIMED_OUT) startedAfterTimeout++;
    if (lastStartAt > submitAt[i] + queueTimeoutMs) startedPastDeadline++;
    if (++inflight > peakRunning) peakRunning = inflight;
    return new Promise((resolve) =>
      setTimeout(() => {
        inflight--;
        resolve();
      }, opMs),
    );
  };

  let allSettled;
  const whenAllSettled = new Promise((resolve) => {
    allSettled = resolve;
  });
  const onSettled = () => {
    if (++settled === ops) {
      allSettledAt = performance.now();
      allSettled('all settled');
    }
  };
  const keepAlive = setInterval(() => {}, 50);

  const t0 = performance.now();
  for (let i = 0; i < ops; i++) {
    submitAt[i] = performance.now();
    limiter.run(makeOp(i)).then(
      () => {
        state[i] = DONE;
        onSettled();
      },
      (err) => {
        if (limiter.isQueueTimeout(err)) {
          state[i] = TIMED_OUT;
          lateMs.push(performance.now() - (submitAt[i] + queueTimeoutMs));
        } else {
          state[i] = FAILED;
          otherErrors++;
          firstError ??= String(err?.message ?? err);
        }
        onSettled();
      },
    );
  }
  const submitMs = performance.now() - t0;
  const capTimer = setTimeout(() => {
    allSettledAt = performance.now();
    allSettled(`${ops - settled} callers unsettled after ${capMs} ms`);
  }, capMs);
  const settleEnd = await whenAllSettled;
  clearTimeout(capTimer);
  const queuedAtSettle = limiter.queued();

  const watchEnd = await new Promise((resolve) => {
    const timer = setInterval(() => {
      const now = performance.now();
      let reason;
      if (limiter.queued() === 0 && inflight === 0) reason = 'idle';
      else if (now - Math.max(lastStartAt, allSettledAt) > stallMs) reason = 'stalled';
      else if (now - allSettledAt > capMs) reason = 'cap';
      if (reason) {
        clearInterval(timer);
        resolve(reason);
      }
    }, 10);
  });
  clearInterval(keepAlive);

  return {
    ops,
    limit,
    queueTimeoutMs,
    submitMs,
    settledMs: allSettledAt - t0,
    settleEnd,
    unsettled: ops - settled,
    timedOut: lateMs.length,
    completed: state.reduce((n, s) => n + (s === DONE ? 1 : 0), 0),
    otherErrors,
    firstError,
    lateP50Ms: percentile(lateMs, 50),
    lateP99Ms: percentile(lateMs, 99),
    started,
    startedAfterTimeout,
    startedPastDeadline,
    peakRunning,
    queuedAtSettle,
    queueLeft: limiter.queued(),
    inflightLeft: inflight,
    watchEnd,
  };
});
