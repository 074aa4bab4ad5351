// poolgate demo: a burst of 500 concurrent Prisma 7 queries against a PostgreSQL that allows
// only 20 connections, first straight through a Prisma client whose pg pool may open 50 (the
// usual mistake), then through poolgate's createPooledClient capped at 15.
//
// Run it with scripts/demo (starts a throwaway PostgreSQL, creates the tables, generates the
// Prisma client, and runs this file with tsx from tests/prisma, whose Prisma project and load
// code it reuses: scripts/load runs the same code with more scenarios). Options:
//   --phase=1   only the run without the gate
//   --phase=2   only the run through poolgate
// Exit code 0 when phase 1 had connection errors and phase 2 none, with at most 15 server
// connections.

import { connectionErrors } from '../tests/prisma/lib/errors.mjs';
import { runLoad } from '../tests/prisma/lib/load.mjs';
import { formatAlert, formatTable } from '../tests/prisma/lib/stats.mjs';

const CALLS = 500; // concurrent queries fired at once (reads: findUnique, findMany, count)
const PG_POOL_MAX = 50; // the Prisma client's pg pool size, in both phases
const GATE_MAX = 15; // poolgate's maxConnections
const WATCHDOG_MS = 120_000;

const { DATABASE_URL, ADMIN_DATABASE_URL } = process.env;
const phaseArg = process.argv.find((a) => a.startsWith('--phase='))?.slice('--phase='.length);
const runPhase1 = phaseArg === undefined || phaseArg === '1';
const runPhase2 = phaseArg === undefined || phaseArg === '2';

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

const isTTY = Boolean(process.stdout.isTTY);
const progress = (line) => {
  if (isTTY) process.stdout.write(`\r\x1b[K  ${line}`);
  else console.log(`  ${line}`);
};

function phase(gate) {
  return runLoad({
    url: DATABASE_URL,
    monitorUrl: ADMIN_DATABASE_URL,
    scenario: 'demo',
    ops: CALLS,
    mix: 'reads',
    gate,
    pgPoolMax: PG_POOL_MAX,
    onProgress: progress,
    progressMs: isTTY ? 100 : 250,
    // The gate's alerts, printed as they fire (saturatedForMs short enough for a 1 s burst).
    alerts: { saturatedForMs: 250 },
    onAlert: (a, label) => {
      if (isTTY) process.stdout.write('\r\x1b[K');
      console.log(`  ${formatAlert(a, label)}`);
    },
  }).finally(() => {
    if (isTTY) process.stdout.write('\n');
  });
}

async function main() {
  console.log('poolgate demo');
  console.log(
    "  PostgreSQL accepts 20 connections: 3 are for superusers, 1 is the demo's monitor, 16 are left for the app.",
  );
  console.log(
    `  The app's Prisma client (adapter-pg) may open ${PG_POOL_MAX}: more than the server takes, as when several instances each open their own pool.`,
  );
  console.log(`  A burst of ${CALLS} concurrent Prisma queries arrives.`);

  const columns = [];
  let p1;
  let p2;
  if (runPhase1) {
    console.log(`\nPhase 1 - without the gate: ${CALLS} queries straight into the Prisma client`);
    p1 = await phase(null);
    columns.push(p1);
  }
  if (runPhase2) {
    console.log(
      `\nPhase 2 - through poolgate: the same ${CALLS} queries via createPooledClient(prisma, { pool: new ConnectionPool({ maxConnections: ${GATE_MAX}, queueTimeoutMs: 60_000 }) })`,
    );
    p2 = await phase(GATE_MAX);
    columns.push(p2);
  }
  console.log(`\n${formatTable(columns)}`);

  const problems = [];
  if (p1 && connectionErrors(p1) === 0) {
    problems.push(
      'phase 1 (without the gate) had no connection error: it did not overload the server',
    );
  }
  if (p2) {
    if (p2.ok !== CALLS) problems.push(`phase 2 (poolgate) succeeded ${p2.ok}/${CALLS}`);
    if (p2.peakServer > GATE_MAX) {
      problems.push(`phase 2 peaked at ${p2.peakServer} server connections, above ${GATE_MAX}`);
    }
  }
  if (problems.length > 0) {
    console.log('\nFAIL:');
    for (const p of problems) console.log(`  - ${p}`);
    process.exitCode = 1;
    return;
  }
  const parts = [];
  if (p1) parts.push(`without the gate ${p1.failed}/${CALLS} queries failed`);
  if (p2) {
    parts.push(
      `through poolgate ${p2.ok}/${CALLS} succeeded with at most ${p2.peakServer} server connections`,
    );
  }
  console.log(`\nOK: ${parts.join('; ')}.`);
}

main().catch((err) => {
  console.error(`\ndemo failed: ${err?.stack ?? err}`);
  process.exit(1); // don't wait for pools a failure may have left open
});
