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

import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { fileURLToPath } from 'node:url';
import { aggregate } from './lib/aggregate.mjs';
import { measureColdStart } from './lib/coldstart.mjs';
import { measurePkgSizes } from './lib/pkg-size.mjs';
import { methodNotes } from './lib/method-notes.mjs';
import { CONTENDERS, FULL, QUICK, VARIANTS } from './lib/plan.mjs';
import { renderMarkdown } from './lib/report-md.mjs';
import { spawnJob } from './lib/spawn-job.mjs';

const here = (p) => fileURLToPath(new URL(p, import.meta.url));

/** The commit measured, with `+dirty` when the package or crates have uncommitted changes. */
function gitCommit() {
  const git = (args) =>
    spawnSync('git', args, { cwd: here('..'), encoding: 'utf8' }).stdout?.trim() ?? '';
  const head = git(['rev-parse', '--short', 'HEAD']) || 'unknown';
  return git(['status', '--porcelain', '--', 'pkg', 'crates']) ? `${head}+dirty` : head;
}
const PEERS = ['p-limit', 'p-queue', 'async-sema', 'cockatiel'];

function usage(message) {
  return Object.assign(new Error(`${message} (see the comment at the top of bench/run.mjs)`), {
    usage: true,
  });
}

function parseArgs(argv) {
  const opts = { quick: false };
  for (const arg of argv) {
    const [key, value] = arg.replace(/^--/, '').split('=');
    if (key === 'quick') opts.quick = true;
    else if (key === 'only') opts.only = value.split(',').map((s) => s.trim().toUpperCase());
    else if (key === 'contenders') opts.contenders = value.split(',').map((s) => s.trim());
    else if (key === 'reps') {
      opts.reps = Number(value);
      if (!Number.isInteger(opts.reps) || opts.reps < 1)
        throw usage(`--reps wants a positive integer, got ${value}`);
    } else if (key === 'out') opts.out = value;
    else throw usage(`unknown option ${arg}`);
  }
  const scenarios = new Set(VARIANTS.map((v) => v.scenario));
  for (const name of opts.only ?? []) {
    if (!scenarios.has(name))
      throw usage(`unknown scenario ${name}; known: ${[...scenarios].join(', ')}`);
  }
  for (const name of opts.contenders ?? []) {
    if (!CONTENDERS.includes(name))
      throw usage(`unknown contender ${name}; known: ${CONTENDERS.join(', ')}`);
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

/** One progress line per measurement: its first few numeric metrics, or why it failed. */
function fmtResult(r) {
  if (!r.ok) return `${r.status}: ${r.message.split('\n')[0]}`;
  const numbers = Object.entries(r.metrics).filter(([, v]) => typeof v === 'number');
  return numbers
    .slice(0, 6)
    .map(([k, v]) => `${k}=${+v.toFixed(2)}`)
    .join(' ');
}

async function main() {
  const opts = parseArgs(process.argv.slice(2));
  const mode = opts.quick ? QUICK : FULL;
  const reps = opts.reps ?? mode.reps;
  const contenders = opts.contenders ?? CONTENDERS;
  const variants = VARIANTS.filter((v) => !opts.only || opts.only.includes(v.scenario)).map(
    (v) => ({
      ...v,
      planned: opts.quick ? v.quick : v.full,
    }),
  );
  const infos = Object.fromEntries(
    await Promise.all(contenders.map(async (c) => [c, await contenderInfo(c)])),
  );

  const started = performance.now();
  const records = [];
  const notBuilt = new Map();
  let crashed = 0;
  for (const variant of variants) {
    for (let rep = 1; rep <= reps; rep++) {
      for (const contender of contenders) {
        const info = infos[contender];
        const params = { ...variant.planned, contender };
        if (variant.capOpsForDeepQueue && info.deepQueueOps && !opts.quick)
          params.ops = Math.min(params.ops, info.deepQueueOps);
        let record;
        if (variant.needsQueueTimeout && !info.queueTimeout)
          record = { ok: false, status: 'no queue timeout', message: '' };
        else if (notBuilt.has(contender)) record = notBuilt.get(contender);
        else {
          const t0 = performance.now();
          record = await spawnJob(
            here(`./scenarios/${variant.script}`),
            variant.nodeFlags ?? [],
            params,
            mode.jobTimeoutMs,
          );
          if (record.status === 'not built') notBuilt.set(contender, record);
          if (record.status === 'error') crashed++;
          const secs = ((performance.now() - t0) / 1000).toFixed(1);
          console.error(
            `[${variant.id}] ${contender} rep ${rep}/${reps} (${secs} s): ${fmtResult(record)}`,
          );
        }
        records.push({ variant: variant.id, contender, params, record });
      }
    }
  }

  const extras = {
    poolgate: contenders.includes('poolgate')
      ? notBuilt.has('poolgate')
        ? 'not built'
        : 'ran'
      : 'not run',
  };
  const dist = here('../pkg/dist');
  // Only when poolgate ran: a package built halfway through the run would not match the table.
  if (contenders.includes('poolgate') && !notBuilt.has('poolgate'))
    extras.sizes = measurePkgSizes(dist);
  if (extras.sizes) {
    try {
      extras.coldStart = measureColdStart(
        here('./scenarios/coldstart-bare.mjs'),
        here('./scenarios/coldstart-poolgate.mjs'),
        mode.coldStartRuns,
      );
    } catch (err) {
      extras.coldStart = { error: err.message };
      crashed++;
    }
  }

  const versions = { node: process.version };
  for (const name of PEERS.filter((p) => contenders.includes(p)))
    versions[name] = version(here(`./node_modules/${name}/package.json`));
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
    commit: gitCommit(),
    totalSeconds: (performance.now() - started) / 1000,
  };
  const cells = aggregate(records);
  const notes = methodNotes(contenders, infos);
  const report = {
    meta,
    variants: variants.map(({ id, scenario, planned }) => ({ id, scenario, planned })),
    contenders,
    cells,
    extras,
    notes,
  };

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
  console.error(err?.usage ? err.message : (err?.stack ?? err));
  process.exit(2);
});
