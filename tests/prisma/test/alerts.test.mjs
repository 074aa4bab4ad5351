// Alerts on a real burst against the real database: ten Prisma reads fill a gate of 10 and are
// held by a table lock, so the pool sits at 100% until the lock goes; `saturated` is raised
// once that lasted saturatedForMs, and cleared once the burst is over and the level stayed
// below 80% as long. Outcomes, not timings, are asserted: a slower machine only waits longer.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createPooledClient } from 'poolgate';
import { newGate, newPrisma } from '../lib/db.mjs';
import { blockedBackends, DATABASE_URL, lockUsers } from './helpers.mjs';

/** Waits (bounded) until `seen` holds an alert matching name and state. */
async function alertSeen(seen, name, state, timeoutMs = 20_000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const a = seen.find((x) => x.name === name && x.state === state);
    if (a) return a;
    if (Date.now() > deadline) {
      throw new Error(`no ${name} ${state} within ${timeoutMs} ms; seen: ${JSON.stringify(seen)}`);
    }
    await new Promise((r) => setTimeout(r, 20));
  }
}

test('a real burst raises saturated, and it clears after the burst', async () => {
  const lock = await lockUsers();
  const app = 'poolgate-alerts';
  const gate = newGate({ maxConnections: 10, alerts: { saturatedForMs: 300 } });
  const seen = [];
  gate.on('alert', (a) => seen.push(a));
  const prisma = newPrisma({ url: DATABASE_URL, max: 10, applicationName: app });
  const db = createPooledClient(prisma, { pool: gate, retry: false });
  try {
    // Prisma calls (and the wrapped client's) are lazy: Promise.resolve starts each one now.
    const burst = Array.from({ length: 30 }, (_, i) =>
      Promise.resolve(db.user.findMany({ where: { id: i + 1 } })),
    );
    await blockedBackends(app, 10);
    const raised = await alertSeen(seen, 'saturated', 'raised');
    assert.equal(raised.activeConnections, 10);
    assert.equal(raised.maxConnections, 10);
    assert.ok(raised.at - raised.since >= 300, `held ${raised.at - raised.since} ms`);
    assert.equal(gate.getPoolStats().queuedConnections, 20, 'the rest of the burst waits');

    await lock.release();
    const rows = await Promise.all(burst);
    assert.equal(rows.length, 30);
    const cleared = await alertSeen(seen, 'saturated', 'cleared');
    assert.equal(cleared.activeConnections, 0);
    assert.ok(cleared.at - cleared.since >= 300);
    assert.deepEqual(
      seen.map((a) => `${a.name} ${a.state}`),
      ['saturated raised', 'saturated cleared'],
      'nothing else (no errors, no queue timeouts, no flapping)',
    );
    // Every operation was counted in the window.
    assert.equal(cleared.operations, 30);
    assert.equal(cleared.failed, 0);
    console.log(`alerts: ${JSON.stringify(seen)}`);
  } finally {
    await lock.release();
    await prisma.$disconnect();
  }
});
