#!/usr/bin/env node
// Benchmark driver (issue 5): runs every scenario x contender x repetition in a fresh Node
// process (scenarios/*.mjs, one JSON line back each), takes medians over repetitions, and
// writes results/latest.json and results/latest.md (results/quick.* with --quick).
//
//   node bench/run.mjs                       full suite (3 repetitions, a few minutes)
//   node bench/run.mjs --quick               smoke run for CI: small sizes, 1 repetition, < 60 s
//   node bench/run.mjs --only=S1,S2 --contenders=p-limit,poolgate
//   options: --reps=N  --out=NAME (writes results/NAME.json and .md)
// Exits 1 if a worker crashed; a poolgate that is not built yet is reported, not a failure.

import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { fileURLToPath } from 'node:url';
import { aggregate } from './lib/aggregate.mjs';
import { measureColdStart } from './lib/coldstart.mjs';
import { measurePkgSizes } from './lib/pkg-size.mjs';
import { CONTENDERS, FULL, QUICK, VARIANTS } from './lib/plan.mjs';
import { renderMarkdown } from './lib/report-md.mjs';
import { spawnJob } from './lib/spawn-job.mjs';

const here = (p) => fileURLToPath(new URL(p, import.meta.url));
const PEERS = ['p-limit', 'p-queue', 'async-sema', 'cockatiel'];

function parseArgs(argv) {
  const opts = { quick: false };
  for (const arg of argv) {
    const [key, value] = arg.replace(/^--/, '').split('=');
    if (key === 'quick') opts.quick = true;
    else if (key === 'only') opts.only = value.split(',').map((s) => s.trim().toUpperCase());
    else if (key === 'contenders') opts.contenders = value.split(',').map((s) => s.trim());
    else if (key === 'reps') opts.reps = Number(value);
    else if (key === 'out') opts.out = value;
    else throw new Error(`unknown option ${arg} (see the comment at the top of bench/run.mjs)`);
  }
  for (const name of opts.contenders ?? []) {
    if (!CONTENDERS.includes(name)) throw new Error(`unknown contender ${name}; known: ${CONTENDERS.join(', ')}`);
  }
  return opts;
}

function version(pkgJsonPath) {
  try {
    return JSON.parse(readFileSync(pkgJsonPath, 'utf8')).version;
  } catch {
    return 'not installed';
  }
}

async function contenderInfo(name) {
  const { info } = await import(`./contenders/${name}.mjs`);
  return info;
}

const fmtResult = (r) => (r.ok ? Object.entries(r.metrics).filter(([, v]) => typeof v === 'number').slice(0, 6).map(([k, v]) => `${k}=${+v.toFixed(2)}`).join(' ') : `${r.status}: ${r.message.split('\n')[0]}`);

async function main() {
  const opts = parseArgs(process.argv.slice(2));
  const mode = opts.quick ? QUICK : FULL;
  const reps = opts.reps ?? mode.reps;
  const contenders = opts.contenders ?? CONTENDERS;
  const variants = VARIANTS.filter((v) => !opts.only || opts.only.includes(v.scenario)).map((v) => ({
    ...v,
    planned: opts.quick ? v.quick : v.full,
  }));
  const infos = Object.fromEntries(await Promise.all(contenders.map(async (c) => [c, await contenderInfo(c)])));

  const started = performance.now();
  const records = [];
  const notBuilt = new Map();
  let crashed = 0;
  for (const variant of variants) {
    for (let rep = 1; rep <= reps; rep++) {
      for (const contender of contenders) {
        const info = infos[contender];
        const params = { ...variant.planned, contender };
        if (variant.capOpsForDeepQueue && info.deepQueueOps && !opts.quick) params.ops = Math.min(params.ops, info.deepQueueOps);
        let record;
        if (variant.needsQueueTimeout && !info.queueTimeout) record = { ok: false, status: 'no queue timeout', message: '' };
        else if (notBuilt.has(contender)) record = notBuilt.get(contender);
        else {
          const t0 = performance.now();
          record = await spawnJob(here(`./scenarios/${variant.script}`), variant.nodeFlags ?? [], params, mode.jobTimeoutMs);
          if (record.status === 'not built') notBuilt.set(contender, record);
          if (record.status === 'error') crashed++;
          const secs = ((performance.now() - t0) / 1000).toFixed(1);
          console.error(`[${variant.id}] ${contender} rep ${rep}/${reps} (${secs} s): ${fmtResult(record)}`);
        }
        records.push({ variant: variant.id, contender, params, record });
      }
    }
  }

  const extras = {};
  const dist = here('../pkg/dist');
  if (contenders.includes('poolgate')) extras.sizes = measurePkgSizes(dist);
  if (extras.sizes) {
    try {
      extras.coldStart = measureColdStart(here('./scenarios/coldstart-bare.mjs'), here('./scenarios/coldstart-poolgate.mjs'), mode.coldStartRuns);
    } catch (err) {
      extras.coldStart = { error: err.message };
      crashed++;
    }
  }

  const versions = { node: process.version };
  for (const name of PEERS.filter((p) => contenders.includes(p))) versions[name] = version(here(`./node_modules/${name}/package.json`));
  if (contenders.includes('poolgate')) versions.poolgate = version(here('../pkg/package.json'));
  const meta = {
    date: new Date().toISOString(),
    node: process.version,
    cpu: os.cpus()[0]?.model ?? 'unknown',
    cores: os.cpus().length,
    os: `${os.type()} ${os.release()} ${os.arch()}`,
    quick: opts.quick,
    reps,
    argv: process.argv.slice(2),
    versions,
    totalSeconds: (performance.now() - started) / 1000,
  };
  const cells = aggregate(records);
  const notes = [
    'Each cell: one fresh `node` process per repetition (child_process.spawn), the median of the repetitions.',
    'S1: a burst of `async () => {}` submitted at once, ops/s until all settled (after a 10k warm-up burst in the same process). ' +
      'cockatiel and seed-wrapper drain their queue with Array#shift (O(n) on a deep queue) and run S1 at 100k ops instead of 1M, as marked.',
    'S2: ops awaited one at a time; (median limiter round - median no-limiter round) / ops, rounds alternating in one process, gc before each.',
    'S3 time: 1 ms timer ops at limit 100; wall time / (ops / 100 * 1 ms). S3 memory: limit 1, ops held on a pending gate, ' +
      '(heapUsed after - before) / waiters with gc (--expose-gc), minus the same harness with no limiter; includes the promise each caller gets.',
    'S4: 1 ms ops at limit 10, queue timeout 5 ms, all submitted at once. Lateness = time the caller sees the timeout - (submit time + 5 ms); ' +
      'the submit loop itself delays early timers. "started after timeout": ops whose function ran after their caller had been rejected. ' +
      '"queue left": entries in the limiter queue when the harness stopped watching (idle, or no op started for 500 ms).',
    ...contenders.filter((c) => infos[c].queueTimeoutModel && c !== 'poolgate').map((c) => `S4 ${c}: queue timeout modelled as ${infos[c].queueTimeoutModel}.`),
    'poolgate always runs with its queue timeout armed (60 s in S1-S3) and maxQueue 2,000,000. seed-wrapper is the seed\'s wrapper ported as is (no queue timeout; a 30 s timer per call, never cleared).',
  ];
  const report = { meta, variants: variants.map(({ id, scenario, planned }) => ({ id, scenario, planned })), contenders, cells, extras, notes };

  mkdirSync(here('./results'), { recursive: true });
  const name = opts.out ?? (opts.quick ? 'quick' : 'latest');
  writeFileSync(here(`./results/${name}.json`), `${JSON.stringify(report, null, 2)}\n`);
  const md = renderMarkdown(report);
  writeFileSync(here(`./results/${name}.md`), md);
  console.log(md);
  console.error(`wrote bench/results/${name}.json and .md in ${meta.totalSeconds.toFixed(0)} s`);
  if (crashed > 0) {
    console.error(`${crashed} measurement(s) failed`);
    process.exitCode = 1;
  }
}

main().catch((err) => {
  console.error(err?.stack ?? err);
  process.exit(2);
});
