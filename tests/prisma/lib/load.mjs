// Runs one load scenario against a real database and measures it: every operation fired at
// once through a Prisma client (behind poolgate, or straight in with `gate: null`), the server's
// connections sampled meanwhile. Used by the load tool (load.mjs) and by the tests.

import { randomUUID } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { APP_NAME, gated, newGate, newPrisma } from './db.mjs';
import { errorKey } from './errors.mjs';
import { startMonitor, waitForIdleServer } from './monitor.mjs';
import { operation } from './scenarios.mjs';
import { percentile } from './stats.mjs';

/** Resolves after `ms` with `value`, without keeping the process alive. */
function after(ms, value) {
  return new Promise((resolve) => setTimeout(resolve, ms, value).unref());
}

/**
 * Options: `url` (the database the load uses), `monitorUrl` (where pg_stat_activity is read;
 * default `url`), `match` (`{ user }` to count server connections by role; default by
 * application_name), `scenario` (a name, for the label and request ids), `ops`, `mix`,
 * `terminateAt` (fraction done at which the load's backends are terminated), `gate` (poolgate's
 * maxConnections, or null for no gate), `pgPoolMax` (the pg pool size), `via` ('proxy' or
 * 'extension'), `queueTimeoutMs`, `retry`, `timeoutMs` (give up waiting after it), `onProgress`
 * (called with a status line every `progressMs`).
 */
export async function runLoad(options) {
  const {
    url,
    monitorUrl = url,
    scenario,
    ops,
    mix,
    terminateAt,
    gate: gateMax,
    pgPoolMax = 50,
    via = 'proxy',
    queueTimeoutMs,
    retry,
    timeoutMs = 300_000,
    onProgress,
    progressMs = 1000,
    alerts,
    onAlert,
  } = options;
  const match = options.match ?? { applicationName: APP_NAME };
  const label = gateMax ? `poolgate (max ${gateMax})` : 'without gate';

  await waitForIdleServer({ url: monitorUrl, match });
  const prisma = newPrisma({ url, max: pgPoolMax });
  const gate = gateMax ? newGate({ maxConnections: gateMax, queueTimeoutMs, alerts }) : null;
  // Alerts as they fire, with the second of the run they fired at.
  const fired = [];
  let t0 = performance.now();
  gate?.on('alert', (a) => {
    const alert = { ...a, second: (performance.now() - t0) / 1000 };
    fired.push(alert);
    onAlert?.(alert, label);
  });
  const db = gate ? gated(prisma, gate, { via, retry }) : prisma;
  // Warm up outside the measurement: the first call loads Prisma's query compiler.
  await prisma.user.count().catch(() => {});
  const monitor = await startMonitor({ url: monitorUrl, match });
  const runId = `${scenario}-${randomUUID().slice(0, 8)}`;

  const latencies = [];
  const errors = {};
  let done = 0;
  let failed = 0;
  let terminated;
  t0 = performance.now();
  const status = () => {
    const s = gate?.getPoolStats();
    const gateText = s ? `  gate active ${s.activeConnections} queued ${s.queuedConnections}` : '';
    const secs = ((performance.now() - t0) / 1000).toFixed(1);
    return `${scenario} ${label}: ${secs}s  done ${done}/${ops}  errors ${failed}${gateText}  server conns ${monitor.current} (peak ${monitor.peak})`;
  };
  const ticker = onProgress ? setInterval(() => onProgress(status()), progressMs) : undefined;

  const all = Promise.all(
    Array.from({ length: ops }, async (_, i) => {
      const start = performance.now();
      try {
        await operation(mix, db, i, runId);
        latencies.push(performance.now() - start);
      } catch (err) {
        failed += 1;
        const key = errorKey(err);
        errors[key] = (errors[key] ?? 0) + 1;
      } finally {
        done += 1;
        if (terminateAt !== undefined && terminated === undefined && done >= terminateAt * ops) {
          terminated = monitor.terminate().catch(() => 0);
        }
      }
    }),
  );
  const settled = await Promise.race([all.then(() => true), after(timeoutMs, false)]);
  const wallMs = performance.now() - t0;
  // An alert still raised clears once its condition has been gone long enough: wait for it
  // (at most 5 s) before closing the gate, so the output shows both ends.
  const stillRaised = () => {
    const last = new Map(fired.map((a) => [a.name, a.state]));
    return [...last.values()].includes('raised');
  };
  for (let waited = 0; gate && stillRaised() && waited < 5000; waited += 25) await after(25);
  if (ticker) clearInterval(ticker);
  if (onProgress) onProgress(status());
  const { peak } = await monitor.stop();
  const metrics = gate?.getMetrics();
  gate?.close();
  await Promise.race([prisma.$disconnect(), after(10_000)]);

  latencies.sort((a, b) => a - b);
  return {
    label,
    scenario,
    runId,
    ops,
    ok: latencies.length,
    failed,
    unsettled: ops - done,
    timedOut: !settled,
    errors,
    terminatedBackends: terminated === undefined ? undefined : await terminated,
    retries: metrics?.retries,
    p50: percentile(latencies, 50),
    p95: percentile(latencies, 95),
    p99: percentile(latencies, 99),
    peakActive: metrics?.peakActive,
    peakQueued: metrics?.peakQueued,
    peakServer: peak,
    wallMs,
    alerts: fired,
  };
}
