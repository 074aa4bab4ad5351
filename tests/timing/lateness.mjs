// How late do queue timeouts fire? Measures and prints; never asserts speed (run it through
// scripts/timing). Two scenarios on the built package:
//
//  A. Load: WAITERS callers (default 10,000) submitted at once to a pool of 10 with
//     queueTimeoutMs 50 and 5 ms operations. For every caller rejected with QueueTimeoutError:
//     lateness = rejection time - (its submission time + 50 ms). A plain setTimeout(50) is
//     measured the same way for comparison.
//  B. Blocked loop: 1,000 callers queued behind a held slot with queueTimeoutMs 20, then the
//     event loop is blocked by a 200 ms busy loop. Every waiter has expired by the end of the
//     block; counts how many are rejected within one timer turn after it (before a setImmediate
//     queued at the end of the block runs), and their lateness after their deadline.
//
// Usage: node tests/timing/lateness.mjs [--waiters N] [--json]
import { ConnectionPool } from 'poolgate';

const args = process.argv.slice(2);
const arg = (name, dflt) => {
  const i = args.indexOf(name);
  return i >= 0 ? Number(args[i + 1]) : dflt;
};
const WAITERS = arg('--waiters', 10_000);
const JSON_OUT = args.includes('--json');

const now = () => performance.now();
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

function summary(values) {
  if (values.length === 0) return { n: 0, p50: NaN, p99: NaN, max: NaN, min: NaN };
  const v = Float64Array.from(values).sort();
  const q = (p) => v[Math.min(v.length - 1, Math.ceil(p * v.length) - 1)];
  return { n: v.length, min: v[0], p50: q(0.5), p99: q(0.99), max: v[v.length - 1] };
}

async function scenarioLoad() {
  const QUEUE_TIMEOUT = 50;
  const pool = new ConnectionPool({
    maxConnections: 10,
    maxQueue: WAITERS,
    queueTimeoutMs: QUEUE_TIMEOUT,
  });
  const late = [];
  let ok = 0;
  let other = 0;
  const lateFree = []; // after the later of the deadline and the end of the submit loop
  let submitEnd = Infinity;
  let firstRejection = Infinity;
  let lastRejection = -Infinity;
  const t0 = now();
  const ps = [];
  for (let i = 0; i < WAITERS; i++) {
    const submitted = now();
    ps.push(
      pool
        .run(() => sleep(5))
        .then(
          () => ok++,
          (e) => {
            if (e.code !== 'POOLGATE_QUEUE_TIMEOUT') {
              other++;
              return;
            }
            const t = now();
            late.push(t - (submitted + QUEUE_TIMEOUT));
            lateFree.push(t - Math.max(submitted + QUEUE_TIMEOUT, submitEnd));
            firstRejection = Math.min(firstRejection, t);
            lastRejection = Math.max(lastRejection, t);
          },
        ),
    );
  }
  submitEnd = now();
  const submitMs = submitEnd - t0;
  await Promise.all(ps);
  const totalMs = now() - t0;

  // Baseline: the same number of plain timers (capped at 1,000), same deadline.
  const base = [];
  const n = Math.min(1000, WAITERS);
  await Promise.all(
    Array.from({ length: n }, () => {
      const at = now() + QUEUE_TIMEOUT;
      return sleep(QUEUE_TIMEOUT).then(() => base.push(now() - at));
    }),
  );
  return {
    waiters: WAITERS,
    ok,
    queueTimeouts: late.length,
    other,
    submitMs,
    totalMs,
    rejectionsPerMs: late.length / Math.max(1e-9, lastRejection - firstRejection),
    lateness: summary(late),
    latenessAfterSubmitLoop: summary(lateFree),
    baseline: summary(base),
    stats: pool.getPoolStats(),
  };
}

async function scenarioBlocked() {
  const N = 1000;
  const QUEUE_TIMEOUT = 20;
  const BLOCK = 200;
  const pool = new ConnectionPool({
    maxConnections: 1,
    maxQueue: N,
    queueTimeoutMs: QUEUE_TIMEOUT,
  });
  let release;
  const holder = pool.run(() => new Promise((resolve) => (release = resolve)));
  const rejectedAt = [];
  const late = [];
  let other = 0;
  const ps = [];
  for (let i = 0; i < N; i++) {
    const submitted = now();
    ps.push(
      pool
        .run(async () => 'never')
        .then(
          () => other++,
          (e) => {
            if (e.code !== 'POOLGATE_QUEUE_TIMEOUT') {
              other++;
              return;
            }
            const t = now();
            rejectedAt.push(t);
            late.push(t - (submitted + QUEUE_TIMEOUT));
          },
        ),
    );
  }
  const queued = pool.getPoolStats().queuedConnections;
  // Block the loop: every waiter's deadline passes meanwhile.
  const blockStart = now();
  while (now() - blockStart < BLOCK) {
    // busy
  }
  const blockEnd = now();
  // A marker timer queued at the end of the block expires after the pool's timer (armed
  // earlier, for an earlier deadline), so it runs right after it in the same timers phase:
  // whatever was rejected before it ran was rejected by that one timer turn.
  let inFirstTurn = -1;
  let firstTurnAt = NaN;
  const marker = new Promise((resolve) =>
    setTimeout(() => {
      inFirstTurn = rejectedAt.length;
      firstTurnAt = now();
      resolve();
    }, 0),
  );
  await Promise.all([...ps, marker]);
  const lastRejection = Math.max(...rejectedAt);
  release();
  await holder;
  return {
    waiters: N,
    queued,
    queueTimeoutMs: QUEUE_TIMEOUT,
    blockMs: blockEnd - blockStart,
    rejected: rejectedAt.length,
    rejectedInFirstTurn: inFirstTurn,
    other,
    firstTurnAfterBlockMs: firstTurnAt - blockEnd,
    lastRejectionAfterBlockMs: lastRejection - blockEnd,
    lateness: summary(late),
    stats: pool.getPoolStats(),
  };
}

const a = await scenarioLoad();
const b = await scenarioBlocked();

if (JSON_OUT) {
  console.log(JSON.stringify({ load: a, blocked: b }));
} else {
  const f = (x) => (Number.isFinite(x) ? x.toFixed(2) : String(x));
  const row = (cells) => cells.map((c, i) => String(c).padEnd(i === 0 ? 50 : 10)).join('');
  /** A labelled distribution: n, p50, p99, max. */
  const dist = (label, d) => row([label, d.n, f(d.p50), f(d.p99), f(d.max)]);
  console.log(
    `poolgate queue-timeout lateness (node ${process.version}, ${new Date().toISOString()})`,
  );
  console.log('');
  console.log(`A. ${a.waiters} waiters, limit 10, queueTimeoutMs 50, 5 ms operations`);
  console.log(
    `   submitted in ${f(a.submitMs)} ms, all settled after ${f(a.totalMs)} ms; ` +
      `${a.ok} ran, ${a.queueTimeouts} queue timeouts, ${a.other} other; ` +
      `rejections processed at ${f(a.rejectionsPerMs)} per ms`,
  );
  console.log(row(['   ms after the deadline', 'n', 'p50', 'p99', 'max']));
  console.log(dist('   queue timeouts (poolgate)', a.lateness));
  const l2 = a.latenessAfterSubmitLoop;
  console.log(dist('   same, from max(deadline, end of submit loop)', l2));
  console.log(dist('   plain setTimeout(50) baseline', a.baseline));
  console.log('');
  console.log(
    `B. ${b.waiters} waiters (queued ${b.queued}) with queueTimeoutMs ${b.queueTimeoutMs}, ` +
      `event loop blocked ${f(b.blockMs)} ms`,
  );
  console.log(row(['   rejected with QueueTimeoutError', b.rejected]));
  console.log(row(['   ... within one timer turn after the block', b.rejectedInFirstTurn]));
  console.log(row(['   other outcomes', b.other]));
  console.log(row(['   first turn ended, ms after the block', f(b.firstTurnAfterBlockMs)]));
  console.log(row(['   last rejection, ms after the block', f(b.lastRejectionAfterBlockMs)]));
  console.log(row(['   ms after the deadline', 'n', 'p50', 'p99', 'max']));
  console.log(dist('   lateness (includes the block)', b.lateness));
  console.log('');
  console.log(`pools idle afterwards: A ${JSON.stringify(a.stats)}; B ${JSON.stringify(b.stats)}`);
}
