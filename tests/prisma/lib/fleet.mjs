// Several instances of the load tool at once (`load.mjs --instances K`): K child processes,
// each with its own Prisma client (and gate, unless --no-gate), started together after every one
// has warmed up, with the server's connections watched from the parent. The children's results
// are merged into one, as if one fleet ran the scenario.

import { fork } from 'node:child_process';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { APP_NAME } from './db.mjs';
import { startMonitor, waitForIdleServer } from './monitor.mjs';
import { percentile } from './stats.mjs';

const LOAD = fileURLToPath(new URL('../load.mjs', import.meta.url));

/** The operations of child `i` of `k` when `ops` are shared out. */
function share(ops, k, i) {
  return Math.floor(ops / k) + (i < ops % k ? 1 : 0);
}

/**
 * Runs `scenario` with `ops` operations split across `instances` processes; `args` are the
 * load tool's other options (gate, pool, ...) passed on to each child. Resolves to one merged
 * result like runLoad's.
 */
export async function runFleet({ scenario, ops, instances, args, url, monitorUrl, match }) {
  match ??= { applicationName: APP_NAME };
  await waitForIdleServer({ url: monitorUrl ?? url, match });
  const children = Array.from({ length: instances }, (_, i) =>
    fork(
      LOAD,
      [scenario, ...args, '--ops', String(share(ops, instances, i)), '--fleet-child', '--json'],
      { execArgv: ['--import', 'tsx'], stdio: ['ignore', 'pipe', 'inherit', 'ipc'] },
    ),
  );
  const results = children.map(
    (child) =>
      new Promise((resolve, reject) => {
        let out = '';
        child.stdout.on('data', (c) => {
          out += c;
        });
        child.on('exit', (code) =>
          code === 0
            ? resolve(JSON.parse(out)[0])
            : reject(new Error(`a fleet child exited with ${code}`)),
        );
      }),
  );
  const ready = children.map(
    (child) => new Promise((resolve) => child.once('message', (m) => m === 'ready' && resolve())),
  );
  try {
    await Promise.race([Promise.all(ready), Promise.all(results)]);
    const monitor = await startMonitor({ url: monitorUrl ?? url, match });
    const t0 = performance.now();
    for (const child of children) child.send('go');
    const parts = await Promise.all(results);
    const wallMs = performance.now() - t0;
    const { peak } = await monitor.stop();
    return merge(parts, { scenario, instances, peak, wallMs });
  } finally {
    for (const child of children) if (child.exitCode === null) child.kill();
  }
}

function merge(parts, { scenario, instances, peak, wallMs }) {
  const sum = (key) => parts.reduce((n, p) => n + (p[key] ?? 0), 0);
  const errors = {};
  for (const p of parts) {
    for (const [k, n] of Object.entries(p.errors)) errors[k] = (errors[k] ?? 0) + n;
  }
  const all = (key) => parts.flatMap((p) => p.samples?.[key] ?? []).sort((a, b) => a - b);
  const latency = all('latency');
  const wait = all('wait');
  const gated = parts[0].label !== 'without gate';
  return {
    label: `${instances} x ${parts[0].label}`,
    scenario,
    instances,
    ops: sum('ops'),
    ok: sum('ok'),
    failed: sum('failed'),
    unsettled: sum('unsettled'),
    timedOut: parts.some((p) => p.timedOut),
    errors,
    retries: gated ? sum('retries') : undefined,
    p50: percentile(latency, 50),
    p95: percentile(latency, 95),
    p99: percentile(latency, 99),
    waitP50: percentile(wait, 50),
    waitP99: percentile(wait, 99),
    peakActive: gated ? Math.max(...parts.map((p) => p.peakActive ?? 0)) : undefined,
    peakQueued: gated ? Math.max(...parts.map((p) => p.peakQueued ?? 0)) : undefined,
    peakServer: peak,
    wallMs,
    samples: { service: all('service'), latency, wait },
  };
}
