// Adaptive limit (issue 13, point 3) against a real PostgreSQL whose free slots are fewer than
// the gate's maxConnections: idle connections of the app's own role, opened here, hold the rest
// (as other instances of the app would). The same burst of reads (pg_sleep) and writes runs
// through a gate of 15 in front of a Prisma client whose pg pool may open 15, with Prisma's
// default retry, first without, then with `adaptive: { min: 2 }`. Failed attempts are what the
// gate saw (getMetrics().failed); caller-visible errors are what the callers got after retries.

import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import { createPooledClient } from 'poolgate';
import { newGate, newPrisma } from '../lib/db.mjs';
import { errorKey } from '../lib/errors.mjs';
import { startMonitor, waitForIdleServer } from '../lib/monitor.mjs';
import { ADMIN_DATABASE_URL, admin, DATABASE_URL, rowsByRequestId } from './helpers.mjs';

const GATE_SIZE = 15;
const ADAPTIVE_MIN = 2;
const FREE_SLOTS = 5; // what the other clients leave to this app
const OPS = 300; // one in three a write
const SLEEP_S = 0.02; // each read holds its connection this long
const APP = 'poolgate-adaptive';
const OCCUPIER = 'poolgate-occupier';
const SETTLE_TIMEOUT_MS = 120_000;

/** How many more connections the app's (non-superuser) role may open right now. */
async function appSlotsLeft() {
  const [{ max, reserved, used }] = await admin(
    `SELECT current_setting('max_connections')::int AS max,
            current_setting('superuser_reserved_connections')::int AS reserved,
            (SELECT count(*)::int FROM pg_stat_activity
              WHERE backend_type = 'client backend' AND pid <> pg_backend_pid()) AS used`,
  );
  return max - reserved - used;
}

/** Opens `n` idle connections as the app's role: other clients holding the server's slots. */
async function occupy(n) {
  const clients = [];
  for (let i = 0; i < n; i += 1) {
    const c = new pg.Client({ connectionString: DATABASE_URL, application_name: OCCUPIER });
    c.on('error', () => {});
    await c.connect();
    clients.push(c);
  }
  return {
    count: clients.length,
    async release() {
      await Promise.all(clients.map((c) => c.end().catch(() => {})));
    },
  };
}

/** The burst through a fresh gate and Prisma client; returns what the gate and callers saw. */
async function burst(gateOptions, runId) {
  await waitForIdleServer({ url: ADMIN_DATABASE_URL, match: { applicationName: APP } });
  const gate = newGate({ maxConnections: GATE_SIZE, queueTimeoutMs: 60_000, ...gateOptions });
  const prisma = newPrisma({ url: DATABASE_URL, max: GATE_SIZE, applicationName: APP });
  const db = createPooledClient(prisma, { pool: gate }); // retry: Prisma's default (3, 1 s)
  const monitor = await startMonitor({
    url: ADMIN_DATABASE_URL,
    match: { applicationName: APP },
  });
  let minLimit = gate.getMetrics().effectiveLimit;
  let sampling = true;
  const sampler = (async () => {
    while (sampling) {
      minLimit = Math.min(minLimit, gate.getMetrics().effectiveLimit);
      await sleep(5);
    }
  })();
  const errors = {};
  const writes = [];
  const started = performance.now();
  const calls = [];
  for (let i = 0; i < OPS; i += 1) {
    let call;
    if (i % 3 === 2) {
      const requestId = `${runId}-${i}`;
      const w = { requestId, ok: false };
      writes.push(w);
      call = db.write.create({ data: { requestId, label: 'adaptive' } }).then(() => {
        w.ok = true;
      });
    } else {
      call = db.$queryRawUnsafe(`SELECT 1 AS one FROM pg_sleep(${SLEEP_S})`);
    }
    calls.push(
      call.catch((err) => {
        const key = errorKey(err);
        errors[key] = (errors[key] ?? 0) + 1;
      }),
    );
  }
  let timer;
  const settled = await Promise.race([
    Promise.all(calls).then(() => true),
    new Promise((resolve) => {
      timer = setTimeout(resolve, SETTLE_TIMEOUT_MS, false);
    }),
  ]);
  clearTimeout(timer);
  const elapsedMs = Math.round(performance.now() - started);
  sampling = false;
  await sampler;
  const server = await monitor.stop();
  const m = gate.getMetrics();
  gate.close();
  await prisma.$disconnect();
  assert.equal(settled, true, 'every call settled');
  const rows = await rowsByRequestId(`${runId}-`);
  return {
    failedAttempts: m.failed,
    retries: m.retries,
    tooManyConnections: m.tooManyConnections,
    callerErrors: Object.values(errors).reduce((a, b) => a + b, 0),
    errors,
    limitCuts: m.limitCuts,
    minEffectiveLimit: minLimit,
    finalEffectiveLimit: m.effectiveLimit,
    peakActive: m.peakActive,
    peakServer: server.peak,
    elapsedMs,
    okWrites: writes.filter((w) => w.ok).length,
    okWritesWithOneRow: writes.filter((w) => w.ok && rows.get(w.requestId) === 1).length,
    failedWritesWithARow: writes.filter((w) => !w.ok && rows.has(w.requestId)).length,
    idsWithTwoOrMoreRows: [...rows.values()].filter((n) => n >= 2).length,
  };
}

test('adaptive limit: fewer free server slots than maxConnections', {
  timeout: 300_000,
}, async (t) => {
  const runId = `adaptive-${randomUUID().slice(0, 8)}`;
  // The monitor of each burst takes one ordinary slot too: leave FREE_SLOTS for the load.
  const others = await occupy((await appSlotsLeft()) - FREE_SLOTS - 1);
  let plain;
  let adaptive;
  try {
    t.diagnostic(
      `${others.count} idle connections of role app hold the server's other slots; ` +
        `${FREE_SLOTS} left for a gate of ${GATE_SIZE}`,
    );
    plain = await burst({}, `${runId}-plain`);
    adaptive = await burst({ adaptive: { min: ADAPTIVE_MIN } }, `${runId}-adaptive`);
  } finally {
    await others.release();
  }
  t.diagnostic(`without adaptive: ${JSON.stringify(plain)}`);
  t.diagnostic(`with adaptive { min: ${ADAPTIVE_MIN} }: ${JSON.stringify(adaptive)}`);

  // The scenario is real: the server refused connections to the plain gate.
  assert.ok(plain.failedAttempts > 0, 'the server refused some connections');
  assert.ok(
    Object.keys(plain.errors).every((k) => k.endsWith('(too-many-connections)')),
    `only "too many connections" errors reach callers: ${JSON.stringify(plain.errors)}`,
  );
  assert.equal(plain.limitCuts, 0);
  assert.equal(plain.minEffectiveLimit, GATE_SIZE, 'without adaptive the limit never moves');

  // The adaptive gate cut its limit, failed fewer attempts, and every caller succeeded.
  assert.ok(adaptive.limitCuts > 0, 'the effective limit was cut');
  assert.ok(adaptive.minEffectiveLimit < GATE_SIZE);
  assert.ok(adaptive.minEffectiveLimit >= ADAPTIVE_MIN);
  assert.ok(adaptive.tooManyConnections > 0);
  assert.ok(
    adaptive.failedAttempts < plain.failedAttempts,
    `failed attempts: ${adaptive.failedAttempts} adaptive vs ${plain.failedAttempts} plain`,
  );
  assert.ok(adaptive.callerErrors <= plain.callerErrors);
  assert.deepEqual(adaptive.errors, {}, 'no caller saw an error');
  assert.equal(adaptive.callerErrors, 0);

  // Writes: a refused connection never ran the statement, so nothing is lost or doubled.
  for (const r of [plain, adaptive]) {
    assert.equal(r.idsWithTwoOrMoreRows, 0);
    assert.equal(r.okWritesWithOneRow, r.okWrites);
    assert.equal(r.failedWritesWithARow, 0);
  }
  assert.equal(adaptive.okWrites, OPS / 3);
});
