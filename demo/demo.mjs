// poolgate demo: a burst of 500 concurrent queries against a PostgreSQL that
// allows only 20 connections, first straight through a pg.Pool sized 50 (the
// usual mistake), then through poolgate's gate capped at 15.
//
// Run it with scripts/demo (starts a throwaway PostgreSQL and sets
// DATABASE_URL / ADMIN_DATABASE_URL). Options:
//   --phase=1   only the run without the gate
//   --phase=2   only the run through poolgate
// Exit code 0 when phase 1 failed somewhere and phase 2 did not at all.

import pg from 'pg';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';

const CALLS = 500; // concurrent queries fired at once
const PG_POOL_MAX = 50; // the app's pg.Pool size, in both phases
const GATE_MAX = 15; // poolgate's maxConnections
const QUERY = 'SELECT pg_sleep(0.02), $1::int AS i'; // holds a connection ~20 ms
const SAMPLE_MS = 10; // pg_stat_activity sampling period
const WATCHDOG_MS = 120_000;

const DATABASE_URL = process.env.DATABASE_URL;
const ADMIN_DATABASE_URL = process.env.ADMIN_DATABASE_URL;
const phaseArg = process.argv.find((a) => a.startsWith('--phase='))?.slice('--phase='.length);
const runPhase1 = phaseArg === undefined || phaseArg === '1';
const runPhase2 = phaseArg === undefined || phaseArg === '2';
const isTTY = Boolean(process.stdout.isTTY);

// Never hang: if something goes wrong, say so and leave (unref: it does not keep us alive).
setTimeout(() => {
  console.error(`\ndemo: still running after ${WATCHDOG_MS / 1000}s; giving up`);
  process.exit(2);
}, WATCHDOG_MS).unref();

if (!DATABASE_URL || !ADMIN_DATABASE_URL) {
  console.error('demo: DATABASE_URL and ADMIN_DATABASE_URL must be set; run scripts/demo');
  process.exit(1);
}
if (!runPhase1 && !runPhase2) {
  console.error(`demo: unknown --phase=${phaseArg} (use 1 or 2)`);
  process.exit(1);
}

// ---------------------------------------------------------------- helpers

function percentile(sorted, p) {
  if (sorted.length === 0) return NaN;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1];
}

const fmtMs = (ms) => (Number.isFinite(ms) ? `${Math.round(ms)}` : '-');

// Errors are grouped by SQLSTATE + message when the server sent one, else by
// message (pg's own errors, e.g. "timeout exceeded when trying to connect").
function errorKind(err) {
  const msg = String(err?.message ?? err).split('\n')[0];
  const kind = err?.code ? `${err.code} ${msg}` : msg;
  return kind.length > 64 ? `${kind.slice(0, 61)}...` : kind;
}

async function serverConnectionsOfApp(client) {
  const r = await client.query(
    "SELECT count(*)::int AS n FROM pg_stat_activity WHERE usename = 'app'",
  );
  return r.rows[0].n;
}

// Samples pg_stat_activity on its own superuser connection (which always gets
// one of the slots PostgreSQL reserves for superusers) until stopped.
async function startMonitor() {
  const client = new pg.Client({ connectionString: ADMIN_DATABASE_URL });
  await client.connect();
  let peak = 0;
  let samples = 0;
  let stopped = false;
  const loop = (async () => {
    while (!stopped) {
      const n = await serverConnectionsOfApp(client);
      samples += 1;
      if (n > peak) peak = n;
      await sleep(SAMPLE_MS);
    }
  })();
  return {
    get peak() {
      return peak;
    },
    async stop() {
      stopped = true;
      await loop;
      await client.end();
      return { peak, samples };
    },
  };
}

// Before a phase: wait (bounded) until the previous phase's backends are gone,
// so they don't count in this phase's peak.
async function waitForAppConnectionsToClose() {
  const client = new pg.Client({ connectionString: ADMIN_DATABASE_URL });
  await client.connect();
  try {
    for (let i = 0; i < 100; i += 1) {
      if ((await serverConnectionsOfApp(client)) === 0) return;
      await sleep(50);
    }
  } finally {
    await client.end();
  }
}

function startTicker(render) {
  const draw = () => {
    if (isTTY) process.stdout.write(`\r\x1b[K  ${render()}`);
    else console.log(`  ${render()}`);
  };
  const timer = setInterval(draw, isTTY ? 100 : 250);
  return () => {
    clearInterval(timer);
    if (isTTY) process.stdout.write(`\r\x1b[K  ${render()}\n`);
    else console.log(`  ${render()}`);
  };
}

// Fires CALLS queries at once through `call(i)`, times each one, and samples
// the server while they run.
async function runPhase({ title, call, gateStats }) {
  console.log(`\n${title}`);
  await waitForAppConnectionsToClose();
  const monitor = await startMonitor();
  const latencies = [];
  const errors = new Map();
  let done = 0;
  let failed = 0;
  const t0 = performance.now();

  const stopTicker = startTicker(() => {
    const elapsed = ((performance.now() - t0) / 1000).toFixed(2);
    let line = `${elapsed}s  done ${String(done).padStart(3)}/${CALLS}  errors ${String(failed).padStart(3)}`;
    line += `  server conns (peak) ${String(monitor.peak).padStart(2)}`;
    if (gateStats) {
      const s = gateStats();
      line += `  gate: active ${s.activeConnections}/${s.maxConnections} queued ${s.queuedConnections}`;
    }
    return line;
  });

  await Promise.all(
    Array.from({ length: CALLS }, async (_, i) => {
      const start = performance.now();
      try {
        await call(i);
        latencies.push(performance.now() - start);
      } catch (err) {
        failed += 1;
        const kind = errorKind(err);
        errors.set(kind, (errors.get(kind) ?? 0) + 1);
      } finally {
        done += 1;
      }
    }),
  );

  const wallMs = performance.now() - t0;
  const { peak, samples } = await monitor.stop();
  stopTicker();
  latencies.sort((a, b) => a - b);
  return {
    ok: latencies.length,
    failed,
    errors,
    p50: percentile(latencies, 50),
    p95: percentile(latencies, 95),
    p99: percentile(latencies, 99),
    peak,
    samples,
    wallMs,
  };
}

function newPgPool() {
  const pool = new pg.Pool({
    connectionString: DATABASE_URL,
    max: PG_POOL_MAX,
    connectionTimeoutMillis: 5000,
  });
  pool.on('error', () => {}); // idle-client errors; the queries report their own
  return pool;
}

// ---------------------------------------------------------------- phases

async function phaseWithoutGate() {
  const pgPool = newPgPool();
  try {
    return await runPhase({
      title: `Phase 1 - without the gate: ${CALLS} concurrent queries straight into pg.Pool({ max: ${PG_POOL_MAX} })`,
      call: (i) => pgPool.query(QUERY, [i]),
    });
  } finally {
    await pgPool.end();
  }
}

async function phaseThroughGate() {
  let ConnectionPool;
  try {
    ({ ConnectionPool } = await import('poolgate'));
  } catch (err) {
    throw Object.assign(
      new Error(
        `cannot load the poolgate package: ${err.message.split('\n')[0]}\n  (build it with scripts/build, or run only phase 1 with --phase=1)`,
      ),
      { brief: true },
    );
  }
  const gate = new ConnectionPool({ maxConnections: GATE_MAX });
  const pgPool = newPgPool();
  try {
    const result = await runPhase({
      title: `Phase 2 - through poolgate: the same ${CALLS} queries, each in gate.run(), ConnectionPool({ maxConnections: ${GATE_MAX} })`,
      call: (i) => gate.run(() => pgPool.query(QUERY, [i])),
      gateStats: () => gate.getPoolStats(),
    });
    result.gateStats = gate.getPoolStats();
    result.gateMetrics = typeof gate.getMetrics === 'function' ? gate.getMetrics() : undefined;
    return result;
  } finally {
    await pgPool.end();
    if (typeof gate.close === 'function') gate.close();
  }
}

// ---------------------------------------------------------------- report

function printTable(columns) {
  const kinds = [...new Set(columns.flatMap(([, r]) => [...r.errors.keys()]))].sort();
  const rows = [
    ['queries', ...columns.map(() => String(CALLS))],
    ['succeeded', ...columns.map(([, r]) => String(r.ok))],
    ['failed', ...columns.map(([, r]) => String(r.failed))],
    ...kinds.map((k) => [`  ${k}`, ...columns.map(([, r]) => String(r.errors.get(k) ?? 0))]),
    ['latency p50 (ms, successes)', ...columns.map(([, r]) => fmtMs(r.p50))],
    ['latency p95 (ms, successes)', ...columns.map(([, r]) => fmtMs(r.p95))],
    ['latency p99 (ms, successes)', ...columns.map(([, r]) => fmtMs(r.p99))],
    ['peak server connections (app)', ...columns.map(([, r]) => String(r.peak))],
    ['wall time (ms)', ...columns.map(([, r]) => fmtMs(r.wallMs))],
  ];
  const header = ['', ...columns.map(([name]) => name)];
  const widths = header.map((h, c) => Math.max(h.length, ...rows.map((row) => row[c].length)));
  const fmt = (row) =>
    row.map((cell, c) => (c === 0 ? cell.padEnd(widths[c]) : cell.padStart(widths[c]))).join('   ');
  console.log(`\n${fmt(header)}`);
  console.log(widths.map((w) => '-'.repeat(w)).join('   '));
  for (const row of rows) console.log(fmt(row));
}

// A few of getMetrics()'s fields, those present (flattened one level: wait.p50Ms).
const METRIC_LINES = [
  ['submitted', 'succeeded', 'failed', 'queueTimeouts', 'rejectedFull'],
  ['peakActive', 'peakQueued'],
  ['wait.p50Ms', 'wait.p95Ms', 'wait.p99Ms', 'wait.maxMs'],
  ['hold.p50Ms', 'hold.p95Ms', 'hold.p99Ms', 'hold.maxMs'],
];

function printMetrics(metrics) {
  if (!metrics || typeof metrics !== 'object') return;
  const get = (path) => path.split('.').reduce((o, k) => (o == null ? undefined : o[k]), metrics);
  const show = (v) => (typeof v === 'number' && !Number.isInteger(v) ? v.toFixed(1) : String(v));
  const lines = METRIC_LINES.map((keys) =>
    keys
      .filter((k) => get(k) !== undefined && typeof get(k) !== 'object')
      .map((k) => `${k}=${show(get(k))}`)
      .join('  '),
  ).filter(Boolean);
  if (lines.length === 0) return;
  console.log('\npoolgate getMetrics():');
  for (const line of lines) console.log(`  ${line}`);
}

// ---------------------------------------------------------------- main

async function main() {
  const admin = new pg.Client({ connectionString: ADMIN_DATABASE_URL });
  await admin.connect();
  const settings = await admin.query(
    "SELECT current_setting('max_connections')::int AS max, current_setting('superuser_reserved_connections')::int AS reserved",
  );
  await admin.end();
  const { max, reserved } = settings.rows[0];

  console.log('poolgate demo');
  console.log(
    `  PostgreSQL accepts ${max} connections, ${max - reserved} of them for the app's role (the rest are reserved for superusers).`,
  );
  console.log(
    `  The app's pg.Pool is allowed ${PG_POOL_MAX}: more than the server takes, as when many instances each open their own pool.`,
  );
  console.log(
    `  A burst of ${CALLS} concurrent queries arrives (each holds its connection ~20 ms).`,
  );

  const columns = [];
  let p1;
  let p2;
  if (runPhase1) {
    p1 = await phaseWithoutGate();
    columns.push(['without gate', p1]);
  }
  if (runPhase2) {
    p2 = await phaseThroughGate();
    columns.push([`poolgate (max ${GATE_MAX})`, p2]);
  }

  printTable(columns);
  if (p2) {
    const s = p2.gateStats;
    console.log(
      `\npoolgate getPoolStats() at the end: active ${s.activeConnections}/${s.maxConnections}, queued ${s.queuedConnections}, available ${s.availableConnections}`,
    );
    printMetrics(p2.gateMetrics);
  }

  const problems = [];
  if (p1 && p1.failed === 0)
    problems.push('phase 1 (without the gate) had no error: the demo did not overload the server');
  if (p2) {
    if (p2.ok !== CALLS)
      problems.push(`phase 2 (poolgate) succeeded ${p2.ok}/${CALLS}, expected ${CALLS}/${CALLS}`);
    if (p2.failed !== 0) problems.push(`phase 2 (poolgate) had ${p2.failed} errors, expected 0`);
    if (p2.peak > GATE_MAX)
      problems.push(
        `phase 2 (poolgate) peaked at ${p2.peak} server connections, above the gate's ${GATE_MAX}`,
      );
  }
  if (problems.length > 0) {
    console.log('\nFAIL:');
    for (const p of problems) console.log(`  - ${p}`);
    process.exitCode = 1;
  } else {
    const parts = [];
    if (p1) parts.push(`without the gate ${p1.failed}/${CALLS} queries failed`);
    if (p2)
      parts.push(
        `through poolgate ${p2.ok}/${CALLS} succeeded with at most ${p2.peak} server connections`,
      );
    console.log(`\nOK: ${parts.join('; ')}.`);
  }
}

main().catch((err) => {
  console.error(`\ndemo failed: ${err?.brief ? err.message : (err?.stack ?? err)}`);
  process.exit(1); // don't wait for pools a failure may have left open
});
