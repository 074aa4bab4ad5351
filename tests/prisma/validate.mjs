// The capacity planner checked against reality (scripts/validate-plan): load scenarios run
// against a real PostgreSQL through real Prisma 7 clients (one process or several, with the gate
// or without), and the simulator (crates/poolgate-sim's `plan` binary) fed the same parameters
// and the service times measured in a calibration run. Prints predicted against observed, with
// the relative error of each figure. Accuracy is a measured figure, never asserted; `--check`
// only fails when a figure is missing.

import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import pg from 'pg';

const USAGE = `usage: scripts/validate-plan [options]

  --ops N          operations per scenario (default 1000)
  --gate N         poolgate's maxConnections for one instance (default 15)
  --instances K    processes in the fleet scenarios (default 3)
  --pool N         each Prisma client's pg pool size (default 50)
  --repeat N       run the calibration and each scenario N times; observed = median (default 1)
  --small          a quick run: 200 operations, 2 instances (what scripts/test runs)
  --check          exit 1 unless every figure was produced
  --json           the rows as JSON`;

const FIGURES = [
  ['wall time (ms)', 'wallMs'],
  ['wait p50 (ms)', 'waitP50'],
  ['wait p99 (ms)', 'waitP99'],
  ['latency p50 (ms)', 'p50'],
  ['latency p99 (ms)', 'p99'],
  ['completed', 'ok'],
  ['failed: queue full', 'queueFull'],
  ['failed: queue timeout', 'queueTimeout'],
  ['failed: too many connections', 'tooMany'],
  ['peak server connections', 'peakServer'],
  ['retries (poolgate)', 'retries'],
];

function options() {
  const { values: v } = parseArgs({
    options: {
      ops: { type: 'string' },
      gate: { type: 'string' },
      instances: { type: 'string' },
      repeat: { type: 'string' },
      pool: { type: 'string' },
      small: { type: 'boolean' },
      check: { type: 'boolean' },
      json: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (v.help) {
    console.log(USAGE);
    process.exit(0);
  }
  const int = (name, fallback) => {
    if (v[name] === undefined) return fallback;
    const n = Number(v[name]);
    if (!Number.isInteger(n) || n < 1) {
      console.error(`validate: --${name} must be a whole number >= 1\n\n${USAGE}`);
      process.exit(2);
    }
    return n;
  };
  const url = process.env.DATABASE_URL;
  if (!url) {
    console.error('validate: no DATABASE_URL (scripts/validate-plan starts a database)');
    process.exit(2);
  }
  return {
    url,
    ops: int('ops', v.small ? 200 : 1000),
    gate: int('gate', 15),
    instances: int('instances', v.small ? 2 : 3),
    pool: int('pool', 50),
    repeat: int('repeat', 1),
    check: Boolean(v.check),
    json: Boolean(v.json),
    plan:
      process.env.PLAN_BIN ?? join(import.meta.dirname, '..', '..', 'target', 'release', 'plan'),
  };
}

/** Warm-up reads of every process before its clock starts (JIT). */
const WARMUP = 200;

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

/**
 * What the server allows this role: connects one client after another until refused, timing
 * the accepted and the refused connects. Leaves nothing open.
 */
async function probe(url) {
  const clients = [];
  const ok = [];
  const refused = [];
  try {
    while (clients.length < 500 && refused.length < 3) {
      const c = new pg.Client({ connectionString: url, application_name: 'poolgate-probe' });
      c.on('error', () => {});
      const t0 = performance.now();
      try {
        await c.connect();
        ok.push(performance.now() - t0);
        clients.push(c);
      } catch {
        refused.push(performance.now() - t0);
      }
    }
  } finally {
    await Promise.all(clients.map((c) => c.end().catch(() => {})));
  }
  if (refused.length === 0) throw new Error('the server never refused a connection (limit > 500?)');
  return { free: clients.length, connectMs: median(ok), rejectMs: median(refused) };
}

/** Failures of a load result by the simulator's kinds. */
function kinds(errors) {
  const k = { queueFull: 0, queueTimeout: 0, tooMany: 0, other: 0 };
  for (const [key, n] of Object.entries(errors)) {
    if (key.includes('POOLGATE_QUEUE_FULL')) k.queueFull += n;
    else if (key.includes('POOLGATE_QUEUE_TIMEOUT')) k.queueTimeout += n;
    else if (key.includes('53300') || key.includes('TooManyConnections')) k.tooMany += n;
    else k.other += n;
  }
  return k;
}

/** Runs the simulator for one scenario; returns the side that matches it. */
function predict(o, { instances, gate, samplesFile, probed, ops, cpuMs }) {
  const args = [
    '--json',
    '--samples-file',
    samplesFile,
    'arrival=burst',
    `ops=${ops}`,
    `instances=${instances}`,
    // The probe saw `free` slots; during the runs the load's monitor holds one of them.
    `limit=${probed.free}`,
    'reserved=0',
    'other=1',
    `pool=${o.pool}`,
    `max=${gate ?? o.gate}`,
    'queue_timeout=60000',
    'retries=3',
    'retry_delay=1000',
    `connect=${probed.connectMs.toFixed(2)}`,
    `reject=${probed.rejectMs.toFixed(2)}`,
    `cpu=${cpuMs.toFixed(3)}`,
    // Every process runs on this one machine: the calibration measured its capacity for the
    // client's work, which the fleet shares.
    'hosts=1',
    'cores=1',
  ];
  const report = JSON.parse(execFileSync(o.plan, args, { encoding: 'utf8' }));
  const side = gate === null ? report.without : report.with;
  return {
    wallMs: side.wallMs,
    waitP50: side.wait.p50,
    waitP99: side.wait.p99,
    p50: side.latency.p50,
    p99: side.latency.p99,
    ok: side.completed,
    queueFull: side.errors.queueFull,
    queueTimeout: side.errors.queueTimeout,
    tooMany: side.errors.tooManyConnections,
    peakServer: side.peakServer,
    retries: side.retries,
  };
}

function observed(r) {
  const k = kinds(r.errors);
  return {
    wallMs: r.wallMs,
    // Without a gate the wait cannot be told apart from the call (lib/timing.mjs).
    waitP50: r.label.includes('without') ? undefined : r.waitP50,
    waitP99: r.label.includes('without') ? undefined : r.waitP99,
    p50: r.p50,
    p99: r.p99,
    ok: r.ok,
    queueFull: k.queueFull,
    queueTimeout: k.queueTimeout,
    tooMany: k.tooMany,
    peakServer: r.peakServer,
    retries: r.retries ?? 0,
    otherErrors: k.other,
  };
}

function relError(pred, obs) {
  if (obs === undefined || !Number.isFinite(obs)) return undefined;
  if (obs === 0) return pred === 0 ? 0 : undefined;
  return (pred - obs) / obs;
}

const cell = (v) => {
  if (v === undefined || Number.isNaN(v)) return 'n/a';
  return Number.isInteger(v) ? String(v) : v.toFixed(v >= 100 ? 0 : 1);
};
const pct = (e) => (e === undefined ? '-' : `${e >= 0 ? '+' : ''}${(e * 100).toFixed(0)}%`);

function table(rows) {
  const lines = [['scenario', 'figure', 'predicted', 'observed', 'rel. error']];
  for (const r of rows) {
    lines.push([r.scenario, r.figure, cell(r.predicted), cell(r.observed), pct(r.relError)]);
  }
  const w = lines[0].map((_, c) => Math.max(...lines.map((l) => l[c].length)));
  const fmt = (l) =>
    l
      .map((x, c) => (c < 2 ? x.padEnd(w[c]) : x.padStart(w[c])))
      .join('   ')
      .trimEnd();
  return [fmt(lines[0]), w.map((n) => '-'.repeat(n)).join('   '), ...lines.slice(1).map(fmt)].join(
    '\n',
  );
}

async function main() {
  const o = options();
  const { runLoad } = await import('./lib/load.mjs');
  const { runFleet } = await import('./lib/fleet.mjs');
  const log = (m) => console.error(`[validate] ${m}`);
  const dir = mkdtempSync(join(tmpdir(), 'poolgate-validate-'));

  // The load's tables (idempotent SQL, as load.mjs creates them).
  const schema = new pg.Client({ connectionString: o.url });
  await schema.connect();
  await schema.query(readFileSync(new URL('./sql/schema.sql', import.meta.url), 'utf8'));
  await schema.end();
  const probed = await probe(o.url);
  log(
    `server: ${probed.free} connections free to this role; connect ${probed.connectMs.toFixed(1)} ms, refusal ${probed.rejectMs.toFixed(1)} ms`,
  );
  const base = {
    url: o.url,
    monitorUrl: process.env.ADMIN_DATABASE_URL ?? o.url,
    mix: 'reads',
    pgPoolMax: o.pool,
    queueTimeoutMs: 60_000,
    retry: { maxRetries: 3, delay: 1000 },
    timing: true,
    warmup: WARMUP,
  };
  // Calibration, two runs apart from the scenarios. The client's event loop is a shared
  // resource (Prisma builds and parses every query in JavaScript): its time per operation is the
  // wall time per operation of a saturated gated run. One operation at a time then gives each
  // operation's own time; less the client's part, that is the database's part, the simulator's
  // service samples.
  // Repeated (--repeat) because this machine is shared: one run's pace varies by tens of %.
  const paces = [];
  let busy;
  for (let i = 0; i < o.repeat; i += 1) {
    busy = await runLoad({ ...base, scenario: 'calibrate', ops: o.ops, gate: o.gate });
    paces.push(busy.wallMs / busy.ops);
  }
  const cpuMs = median(paces);
  const alone = await runLoad({
    ...base,
    scenario: 'calibrate',
    ops: Math.min(o.ops, 200),
    gate: 1,
  });
  const service = alone.samples.service.map((v) => Math.max(0.01, v - cpuMs));
  if (service.length === 0) {
    throw new Error(`calibration produced no samples: ${JSON.stringify(alone.errors)}`);
  }
  const samplesFile = join(dir, 'service.txt');
  writeFileSync(samplesFile, `${service.map((v) => v.toFixed(3)).join('\n')}\n`);
  log(
    `calibration: client CPU ${cpuMs.toFixed(2)} ms per operation (median of ${paces.map((p) => p.toFixed(2)).join(', ')}: ${busy.ops} ops through gate ${o.gate}); ${service.length} database samples, median ${median(service).toFixed(2)} ms (one at a time: ${median(alone.samples.service).toFixed(2)} ms per operation)`,
  );

  const perInstance = Math.max(1, Math.floor((probed.free - 1) / o.instances));
  const childArgs = (gate) => [
    ...(gate === null ? ['--no-gate'] : ['--gate', String(gate)]),
    '--pool',
    String(o.pool),
    '--url',
    o.url,
    '--quiet',
    '--queue-timeout',
    '60000',
    '--warmup',
    String(WARMUP),
  ];
  const scenarios = [
    { name: `1 instance, gate ${o.gate}`, instances: 1, gate: o.gate },
    { name: '1 instance, no gate', instances: 1, gate: null },
    {
      name: `${o.instances} instances, gate ${perInstance} each`,
      instances: o.instances,
      gate: perInstance,
    },
    { name: `${o.instances} instances, no gate`, instances: o.instances, gate: null },
    // Gates that add up past the server's limit: refusals, retried by the core's policy.
    {
      name: `${o.instances} instances, gate ${o.gate} each`,
      instances: o.instances,
      gate: o.gate,
    },
  ];
  const rows = [];
  for (const s of scenarios) {
    log(`running: ${s.name}, ${o.ops} reads at once`);
    const runs = [];
    for (let i = 0; i < o.repeat; i += 1) {
      const real =
        s.instances === 1
          ? await runLoad({ ...base, scenario: 'validate', ops: o.ops, gate: s.gate })
          : await runFleet({
              scenario: '1000',
              ops: o.ops,
              instances: s.instances,
              args: childArgs(s.gate),
              url: o.url,
              monitorUrl: base.monitorUrl,
            });
      runs.push(observed(real));
    }
    // Each figure's median over the repeats.
    const obs = Object.fromEntries(
      Object.keys(runs[0]).map((k) => [
        k,
        runs[0][k] === undefined ? undefined : median(runs.map((r) => r[k])),
      ]),
    );
    const real = { errors: runs.map((r) => r.otherErrors) };
    const pred = predict(o, { ...s, samplesFile, probed, ops: o.ops, cpuMs });
    if (obs.otherErrors > 0)
      log(`${s.name}: ${obs.otherErrors} errors of other kinds: ${JSON.stringify(real.errors)}`);
    for (const [figure, key] of FIGURES) {
      rows.push({
        scenario: s.name,
        figure,
        predicted: pred[key],
        observed: obs[key],
        relError: relError(pred[key], obs[key]),
      });
    }
  }
  if (o.json) console.log(JSON.stringify({ probed, rows }, null, 2));
  else {
    console.log(
      `\n${o.ops} reads at once per scenario; server: ${probed.free} free connections (one taken by the monitor during runs); Prisma pg pool ${o.pool} per instance; service times from a calibration run (gate ${o.gate}).\n`,
    );
    console.log(table(rows));
  }
  if (o.check) {
    const missing = rows.filter(
      (r) =>
        !Number.isFinite(r.predicted) ||
        (r.observed === undefined &&
          !(r.scenario.includes('no gate') && r.figure.startsWith('wait'))) ||
        (r.observed !== undefined && !Number.isFinite(r.observed)),
    );
    if (missing.length > 0) {
      console.error(
        `validate: figures missing: ${missing.map((r) => `${r.scenario} / ${r.figure}`).join('; ')}`,
      );
      process.exit(1);
    }
    const scenariosSeen = new Set(rows.map((r) => r.scenario)).size;
    if (scenariosSeen !== scenarios.length || rows.length !== scenarios.length * FIGURES.length) {
      console.error('validate: not every scenario produced its figures');
      process.exit(1);
    }
  }
}

main().catch((err) => {
  console.error(`validate: ${err?.stack ?? err}`);
  process.exit(1);
});
