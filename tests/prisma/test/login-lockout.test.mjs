// PostgreSQL restarted behind the real PgBouncer (issue 13, point 7). While the server is down,
// PgBouncer's logins to it fail, and for server_login_retry (15 s by default; the PgBouncer of
// scripts/lib/pgbouncer.sh keeps the default) it refuses every new client at login with
// `server login has been failing, try again later (server_login_retry)`: before any statement,
// so nothing was sent. classify() must say so ('login-lockout'), and a retry budget that
// outlasts the lockout (`loginLockoutMs`) must carry reads and writes through it, while
// Prisma's default retry (3 retries, 1 + 2 + 3 s) gives up inside it.
//
// Other clients of PgBouncer keep logging in during the lockout (probes here, a fresh connection
// every 250 ms, as other instances of an app would); they also show how long it lasts.

import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import { classify, createPooledClient } from 'poolgate';
import { newGate, newPrisma } from '../lib/db.mjs';
import { errorKey } from '../lib/errors.mjs';
import {
  admin,
  PGBOUNCER_DATABASE_URL,
  restartServer,
  rowsByRequestId,
  waitForServer,
} from './helpers.mjs';

const LOCKOUT_RETRY = { loginLockoutMs: 20_000, deadlineMs: 40_000 };
const READS = 10;
const WRITES = 10;
const LOCKOUT_MESSAGE = 'server login has been failing';
const CANNOT_CONNECT = 'pgbouncer cannot connect to server';
const FIND_LOCKOUT_MS = 30_000;
const SETTLE_TIMEOUT_MS = 90_000;

// PgBouncer keeps its server connections open while idle: end them for the tests after this.
after(() =>
  admin(
    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = 'app' AND pid <> pg_backend_pid()",
  ),
);

/** Logs in to PgBouncer on a fresh connection and runs SELECT 1; never throws. */
async function probe() {
  const c = new pg.Client({
    connectionString: PGBOUNCER_DATABASE_URL,
    application_name: 'poolgate-probe',
    connectionTimeoutMillis: 3000,
    query_timeout: 3000,
  });
  c.on('error', () => {});
  const at = performance.now();
  try {
    await c.connect();
    await c.query('SELECT 1');
    return { at, ok: true };
  } catch (err) {
    return { at, ok: false, err };
  } finally {
    c.end().catch(() => {});
  }
}

/** Fires a probe every `everyMs` (without waiting for the last) until `stop()`. */
function startProbes(everyMs) {
  const results = [];
  const pending = [];
  let stopped = false;
  const loop = (async () => {
    while (!stopped) {
      pending.push(probe().then((r) => results.push(r)));
      await sleep(everyMs);
    }
  })();
  return {
    results,
    everyMs,
    async stop() {
      stopped = true;
      await loop;
      await Promise.all(pending);
    },
  };
}

/** Runs READS reads and WRITES writes through `db`; resolves to what each caller got. */
async function operations(db, runId) {
  const ops = [];
  for (let i = 0; i < READS + WRITES; i += 1) {
    const write = i % 2 === 1;
    const requestId = `${runId}-${i}`;
    const call = write
      ? db.write.create({ data: { requestId, label: 'login-lockout' } })
      : db.user.findUnique({ where: { id: 1 + i } });
    ops.push(
      call.then(
        (v) => ({ write, requestId, ok: write || v?.id === 1 + i, err: undefined }),
        (err) => ({ write, requestId, ok: false, err }),
      ),
    );
  }
  let timer;
  const settled = await Promise.race([
    Promise.all(ops),
    new Promise((resolve) => {
      timer = setTimeout(resolve, SETTLE_TIMEOUT_MS, undefined);
    }),
  ]);
  clearTimeout(timer);
  assert.ok(settled, `operations still pending after ${SETTLE_TIMEOUT_MS} ms`);
  return settled;
}

/** Counts of a group's outcomes, with its writes checked against the table. */
async function tally(results, gate, runId) {
  const rows = await rowsByRequestId(`${runId}-`);
  const errors = {};
  for (const r of results.filter((x) => !x.ok)) {
    const key = errorKey(r.err);
    errors[key] = (errors[key] ?? 0) + 1;
  }
  const writes = results.filter((r) => r.write);
  const m = gate.getMetrics();
  return {
    readsOk: results.filter((r) => !r.write && r.ok).length,
    writesOk: writes.filter((r) => r.ok).length,
    errors,
    failedAttempts: m.failed,
    retries: m.retries,
    okWritesWithOneRow: writes.filter((r) => r.ok && rows.get(r.requestId) === 1).length,
    failedWritesWithNoRow: writes.filter((r) => !r.ok && !rows.has(r.requestId)).length,
    idsWithTwoOrMoreRows: [...rows.values()].filter((n) => n >= 2).length,
  };
}

test('PostgreSQL restarted behind PgBouncer: the login lockout is classed and outlasted', {
  timeout: 240_000,
  skip: PGBOUNCER_DATABASE_URL
    ? false
    : 'PGBOUNCER_DATABASE_URL not set (scripts/test-prisma sets it)',
}, async (t) => {
  const runId = `lockout-${randomUUID().slice(0, 8)}`;
  assert.equal((await probe()).ok, true, 'PgBouncer serves before the restart');

  // Two apps behind the same PgBouncer, each a fresh Prisma client (no open connection: every
  // query needs a login) behind its own gate: Prisma's default retry, and one that allows for
  // the lockout.
  const prismaDefault = newPrisma({ url: PGBOUNCER_DATABASE_URL, max: 10 });
  const prismaLockout = newPrisma({ url: PGBOUNCER_DATABASE_URL, max: 10 });
  const gateDefault = newGate({ maxConnections: 5 });
  const gateLockout = newGate({ maxConnections: 5 });
  const dbDefault = createPooledClient(prismaDefault, { pool: gateDefault });
  const dbLockout = createPooledClient(prismaLockout, { pool: gateLockout, retry: LOCKOUT_RETRY });

  // Restart the server while fresh logins arrive every 50 ms, until PgBouncer locks out.
  let probes = startProbes(50);
  const restartStart = performance.now();
  await restartServer();
  const restartMs = Math.round(performance.now() - restartStart);
  const findDeadline = performance.now() + FIND_LOCKOUT_MS;
  const lockoutError = () =>
    probes.results.find((r) => !r.ok && String(r.err?.message).includes(LOCKOUT_MESSAGE));
  while (lockoutError() === undefined && performance.now() < findDeadline) await sleep(20);
  await probes.stop();
  const phase1 = probes.results;
  const firstLockout = lockoutError();
  assert.ok(
    firstLockout,
    `PgBouncer never answered "${LOCKOUT_MESSAGE}" (probe errors: ${phase1
      .filter((r) => !r.ok)
      .map((r) => r.err?.message)
      .join(' | ')})`,
  );

  // The lockout is on: both apps run the same reads and writes, while other clients keep
  // logging in.
  probes = startProbes(250);
  const opsStart = performance.now();
  const [resultsDefault, resultsLockout] = await Promise.all([
    operations(dbDefault, `${runId}-default`),
    operations(dbLockout, `${runId}-lockout`),
  ]);
  const opsMs = Math.round(performance.now() - opsStart);
  await probes.stop();
  const phase2 = probes.results;
  await Promise.all([prismaDefault.$disconnect(), prismaLockout.$disconnect()]);
  await waitForServer();

  // What the probes saw: every error PgBouncer sent, by class.
  const probeErrors = {};
  for (const r of [...phase1, ...phase2].filter((x) => !x.ok)) {
    const key = `${String(r.err?.message).split('\n')[0]} [${r.err?.code ?? '-'}] (${classify(r.err)})`;
    probeErrors[key] = (probeErrors[key] ?? 0) + 1;
  }
  const firstOkAfter = phase2.find((r) => r.ok && r.at > firstLockout.at);
  const lastLockout = [...phase1, ...phase2]
    .filter((r) => !r.ok && String(r.err?.message).includes(LOCKOUT_MESSAGE))
    .at(-1);
  const figures = {
    restartMs,
    opsMs,
    lockoutSeenMs: lastLockout ? Math.round(lastLockout.at - firstLockout.at) : 0,
    firstProbeOkAfterLockoutMs: firstOkAfter
      ? Math.round(firstOkAfter.at - firstLockout.at)
      : undefined,
    probeErrors,
    defaultRetry: await tally(resultsDefault, gateDefault, `${runId}-default`),
    lockoutRetry: await tally(resultsLockout, gateLockout, `${runId}-lockout`),
  };
  gateDefault.close();
  gateLockout.close();
  t.diagnostic(`login lockout figures: ${JSON.stringify(figures)}`);

  // The real refusals are classed by what they prove.
  for (const r of [...phase1, ...phase2].filter((x) => !x.ok)) {
    const message = String(r.err?.message);
    if (message.includes(LOCKOUT_MESSAGE)) assert.equal(classify(r.err), 'login-lockout');
    if (message.includes(CANNOT_CONNECT)) assert.equal(classify(r.err), 'not-sent');
  }
  // The default retry gave up inside the lockout, on errors that say nothing ran.
  const d = figures.defaultRetry;
  assert.ok(d.readsOk + d.writesOk < READS + WRITES, 'the default retry failed in the lockout');
  for (const r of resultsDefault.filter((x) => !x.ok)) {
    assert.ok(
      ['login-lockout', 'not-sent'].includes(classify(r.err)),
      `default retry failed on ${errorKey(r.err)}`,
    );
  }
  assert.equal(d.failedWritesWithNoRow, WRITES - d.writesOk, 'a refused write never ran');
  assert.equal(d.okWritesWithOneRow, d.writesOk);
  assert.equal(d.idsWithTwoOrMoreRows, 0);

  // With loginLockoutMs every read and write succeeded, each write exactly once.
  const l = figures.lockoutRetry;
  assert.ok(l.retries > 0, 'the lockout-aware app met the lockout too');
  assert.deepEqual(l.errors, {});
  assert.equal(l.readsOk, READS);
  assert.equal(l.writesOk, WRITES);
  assert.equal(l.okWritesWithOneRow, WRITES);
  assert.equal(l.idsWithTwoOrMoreRows, 0);
});
