// `scripts/load --instances K`: K app instances (worker.mjs, one Node process each, a gate of
// `--max` in each) against one database, first without and then with a fleet limit on Redis.
// Prints errors, peak server connections (pg_stat_activity) and time for each.
//
//   node --import tsx fleet/load-instances.mjs --instances 4 [--ops 1500] [--concurrency 60]
//        [--max 15] [--fleet-limit 16] [--only fleet|local] [--check]
// --check: exit 1 unless the fleet run had 0 errors and at most --fleet-limit server connections.
// Needs DATABASE_URL, ADMIN_DATABASE_URL (to read pg_stat_activity) and REDIS_URL.

import { parseArgs } from 'node:util';
import { APP_NAME } from '../lib/db.mjs';
import { startMonitor, waitForIdleServer } from '../lib/monitor.mjs';
import { startInstance } from './instances.mjs';

const { values } = parseArgs({
  options: {
    instances: { type: 'string', default: '4' },
    ops: { type: 'string', default: '1500' },
    concurrency: { type: 'string', default: '60' },
    max: { type: 'string', default: '15' },
    'fleet-limit': { type: 'string', default: '16' },
    only: { type: 'string' },
    check: { type: 'boolean', default: false },
  },
  allowPositionals: true,
});
const k = Number(values.instances);
if (!Number.isInteger(k) || k < 1) throw new RangeError('--instances must be a whole number >= 1');
const adminUrl = process.env.ADMIN_DATABASE_URL ?? process.env.DATABASE_URL;
const match = { applicationName: APP_NAME };

async function runOnce(label, fleet) {
  await waitForIdleServer({ url: adminUrl, match });
  const monitor = await startMonitor({ url: adminUrl, match });
  const env = {
    OPS: values.ops,
    CONCURRENCY: values.concurrency,
    MAX: values.max,
    ...(fleet ? { FLEET_LIMIT: values['fleet-limit'], FLEET_KEY: `load-${process.pid}` } : {}),
  };
  const t0 = performance.now();
  const insts = Array.from({ length: k }, (_, i) => startInstance(`${label}${i + 1}`, env));
  const reports = await Promise.all(insts.map((i) => i.done));
  const ms = performance.now() - t0;
  const { peak } = await monitor.stop();
  const ok = reports.reduce((n, r) => n + (r.ok ?? 0), 0);
  const errors = reports.reduce(
    (n, r) => n + Object.values(r.errors ?? {}).reduce((a, b) => a + b, 0),
    0,
  );
  const perInstance = reports.map((r) => `${r.ok}/${Number(values.ops)}`).join(' ');
  return { label, ok, errors, peak, seconds: (ms / 1000).toFixed(1), perInstance };
}

const rows = [];
if (values.only !== 'fleet') rows.push(await runOnce('local', false));
if (values.only !== 'local') rows.push(await runOnce('fleet', true));
const gate = `${k} x maxConnections ${values.max}`;
console.log(`\n${k} instances, ${values.ops} queries each at concurrency ${values.concurrency}`);
console.log('| run | queries ok | errors | peak server conns | seconds | ok per instance |');
console.log('|---|---|---|---|---|---|');
for (const r of rows) {
  const name = r.label === 'fleet' ? `${gate}, fleet limit ${values['fleet-limit']}` : gate;
  console.log(`| ${name} | ${r.ok} | ${r.errors} | ${r.peak} | ${r.seconds} | ${r.perInstance} |`);
}

const fleetRow = rows.find((r) => r.label === 'fleet');
if (values.check && fleetRow !== undefined) {
  const limit = Number(values['fleet-limit']);
  if (fleetRow.errors > 0 || fleetRow.peak > limit) {
    console.error(
      `FAIL: the fleet run had ${fleetRow.errors} errors, peak ${fleetRow.peak} > ${limit}?`,
    );
    process.exit(1);
  }
  console.log(`ok: with the fleet limit, 0 errors and at most ${limit} server connections`);
}
