// Early rejection (issue 13, point 4) over real queries: a gate of 2 in front of Prisma, each
// operation a pg_sleep of known length, callers arriving faster than the gate can serve them.
// At each submission the gate's own prediction (getMetrics().predictedWaitMs, the wait of the
// next caller to queue) is recorded, then compared with the real wait of every caller that
// queued and was granted. A caller refused early never waits, so what it *would* have waited is
// read off the FIFO queue: the slot it would have had went to the first caller that arrived
// after it and was granted from the queue.
//
// Sizes: with 2 slots and a hold of H, the prediction is position * H / 2, and the real wait
// of position p is about (p - 1/2) * H / 2 when the slots free up in turn (the operations
// running at arrival are half done on average), and up to ceil(p / 2) * H when both free up
// together (then positions 1 and 2 wait alike). The queue timeout is set at 1.12 H, from the
// hold measured first: position 3 is refused (predicted 1.5 H; it would have waited 1.25 H to
// 1.5 H on average), position 2 queues (predicted H). So the refused callers would have waited
// longer than allowed on any machine speed, within 10% of error on H. Only that, and what does not depend on timing, is
// asserted; the prediction errors are printed.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { QueueTimeoutError, WouldTimeOutError } from 'poolgate';
import { newGate, newPrisma } from '../lib/db.mjs';
import { DATABASE_URL } from './helpers.mjs';

const SLOTS = 2;
const TIMEOUT_PER_HOLD = 1.12;
const SLEEP_S = 0.26;
const WARM_UP_ROUNDS = 12; // 24 hold samples: the gate predicts from 20 on
const ARRIVALS = 40;
const GAP_MS = 50; // 20 arrivals a second; the gate serves about 7.5
const CALIBRATION_ROUNDS = 4;
const SQL = `SELECT 1 AS one FROM pg_sleep(${SLEEP_S})`;

const mean = (xs) => xs.reduce((a, b) => a + b, 0) / xs.length;
const round = (x) => Math.round(x * 10) / 10;

test('early rejection: predicted waits against real ones, and who was refused', {
  timeout: 120_000,
}, async (t) => {
  const prisma = newPrisma({ url: DATABASE_URL, max: SLOTS, applicationName: 'poolgate-early' });
  // The hold of one operation on this machine, timed directly, two at a time.
  const holds = [];
  for (let i = 0; i < CALIBRATION_ROUNDS; i += 1) {
    await Promise.all(
      [0, 1].map(async () => {
        const t0 = performance.now();
        await prisma.$queryRawUnsafe(SQL);
        holds.push(performance.now() - t0);
      }),
    );
  }
  holds.sort((a, b) => a - b);
  const QUEUE_TIMEOUT_MS = Math.round(TIMEOUT_PER_HOLD * holds[holds.length >> 1]);
  const gate = newGate({
    maxConnections: SLOTS,
    queueTimeoutMs: QUEUE_TIMEOUT_MS,
    rejectEarly: true,
  });
  const run = (rec) =>
    gate.run(
      () => {
        if (rec) rec.start = performance.now();
        return prisma.$queryRawUnsafe(SQL);
      },
      { retry: true, idempotent: true },
    );
  try {
    // Warm-up, two at a time: nobody queues, the gate learns the hold time.
    assert.equal(gate.getMetrics().predictedWaitMs, undefined, 'no prediction without samples');
    for (let i = 0; i < WARM_UP_ROUNDS; i += 1) await Promise.all([run(), run()]);
    const hold = gate.getMetrics().hold;
    assert.equal(typeof gate.getMetrics().predictedWaitMs, 'number');

    // The stream.
    const callers = [];
    const calls = [];
    for (let i = 0; i < ARRIVALS; i += 1) {
      const stats = gate.getPoolStats();
      const rec = {
        i,
        predicted: gate.getMetrics().predictedWaitMs,
        immediate: stats.queuedConnections === 0 && stats.availableConnections > 0,
        submitted: performance.now(),
        start: undefined,
        outcome: 'pending',
        error: undefined,
      };
      callers.push(rec);
      calls.push(
        run(rec).then(
          () => {
            rec.outcome = 'ok';
          },
          (err) => {
            rec.error = err;
            rec.outcome =
              err instanceof WouldTimeOutError
                ? 'early'
                : err instanceof QueueTimeoutError
                  ? 'queue-timeout'
                  : 'other';
          },
        ),
      );
      await sleep(GAP_MS);
    }
    await Promise.all(calls);
    const m = gate.getMetrics();

    const early = callers.filter((c) => c.outcome === 'early');
    const queuedOk = callers.filter((c) => c.outcome === 'ok' && !c.immediate);
    const immediate = callers.filter((c) => c.outcome === 'ok' && c.immediate);
    // What a caller refused early would have waited: the grant of the first later arrival that
    // was granted from the queue (FIFO: that slot was its). Unknown when no such caller exists.
    const wouldHaveWaited = early
      .map((c) => {
        const next = callers.find((d) => d.i > c.i && d.outcome === 'ok');
        if (next === undefined || next.immediate) return undefined;
        return next.start - c.submitted;
      })
      .filter((w) => w !== undefined);
    const errs = queuedOk.map((c) => c.predicted - (c.start - c.submitted));
    const figures = {
      queueTimeoutMs: QUEUE_TIMEOUT_MS,
      holdMedianMs: round(hold.p50Ms),
      arrivals: ARRIVALS,
      grantedAtOnce: immediate.length,
      queuedAndGranted: queuedOk.length,
      rejectedEarly: early.length,
      queueTimeouts: callers.filter((c) => c.outcome === 'queue-timeout').length,
      other: callers.filter((c) => c.outcome === 'other').length,
      predictionMeanAbsErrorMs: round(mean(errs.map(Math.abs))),
      predictionMeanErrorMs: round(mean(errs)),
      predictionMeanRelError: round(
        mean(queuedOk.map((c, k) => Math.abs(errs[k]) / (c.start - c.submitted))),
      ),
      meanRealWaitMs: round(mean(queuedOk.map((c) => c.start - c.submitted))),
      meanPredictedOfRejectedMs: round(mean(early.map((c) => c.error.predictedWaitMs))),
      meanWouldHaveWaitedMs: round(mean(wouldHaveWaited)),
      wouldHaveWaitedKnown: wouldHaveWaited.length,
      wouldHaveWaitedOverTimeout: wouldHaveWaited.filter((w) => w > QUEUE_TIMEOUT_MS).length,
    };
    t.diagnostic(`early rejection figures: ${JSON.stringify(figures)}`);
    t.diagnostic(
      `per queued caller, predicted/real ms: ${queuedOk
        .map((c) => `${Math.round(c.predicted)}/${Math.round(c.start - c.submitted)}`)
        .join(' ')}`,
    );

    assert.equal(figures.other, 0, 'no other error');
    assert.ok(early.length > 0, 'some callers were refused early');
    assert.equal(m.rejectedEarly, early.length);
    for (const c of early) {
      assert.equal(c.error.code, 'POOLGATE_WOULD_TIME_OUT');
      assert.equal(typeof c.error.predictedWaitMs, 'number');
      assert.ok(
        c.error.predictedWaitMs > QUEUE_TIMEOUT_MS,
        `refused with a predicted wait of ${c.error.predictedWaitMs} ms`,
      );
      assert.equal(c.start, undefined, 'a caller refused early never ran');
    }
    assert.ok(queuedOk.length > 0, 'some callers queued and were served');
    assert.ok(wouldHaveWaited.length > 0);
    assert.ok(
      figures.meanWouldHaveWaitedMs > QUEUE_TIMEOUT_MS,
      `callers refused early would have waited ${figures.meanWouldHaveWaitedMs} ms on average`,
    );

    // The gate keeps working.
    const stats = gate.getPoolStats();
    assert.equal(stats.activeConnections, 0);
    assert.equal(stats.queuedConnections, 0);
    const after = { start: undefined };
    await run(after);
    assert.equal(typeof after.start, 'number');
  } finally {
    gate.close();
    await prisma.$disconnect();
  }
});
