// A saturated gate: the caller that cannot get a slot within queueTimeoutMs gets poolgate's
// QueueTimeoutError (code, wait time, the pool's state), not a Prisma P2024 and not a hang. The
// slots are held by real queries blocked on a table lock.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { classify, createPooledClient, QueueTimeoutError } from 'poolgate';
import { newGate, newPrisma } from '../lib/db.mjs';
import { blockedBackends, DATABASE_URL, lockUsers, rejection } from './helpers.mjs';

test('queue timeout under a saturated gate: QueueTimeoutError with waitedMs and poolStats', async () => {
  const lock = await lockUsers();
  const app = 'poolgate-queue-timeout';
  const gate = newGate({ maxConnections: 2, queueTimeoutMs: 300 });
  const prisma = newPrisma({ url: DATABASE_URL, max: 50, applicationName: app });
  const db = createPooledClient(prisma, { pool: gate });
  try {
    // Prisma calls are lazy (through createPooledClient too): `then` starts them.
    const holders = [db.user.count(), db.user.count()].map((call) => call.then((n) => n));
    await blockedBackends(app, 2);
    assert.deepEqual(gate.getPoolStats(), {
      activeConnections: 2,
      maxConnections: 2,
      queuedConnections: 0,
      availableConnections: 0,
    });

    const err = await rejection(db.user.findMany({ take: 1 }));
    assert.ok(err instanceof QueueTimeoutError, `got ${err?.stack}`);
    assert.equal(err.code, 'POOLGATE_QUEUE_TIMEOUT');
    assert.notEqual(err.code, 'P2024');
    assert.ok(err.waitedMs >= 300, `waitedMs ${err.waitedMs}`);
    assert.equal(err.poolStats.activeConnections, 2);
    assert.equal(err.poolStats.maxConnections, 2);
    assert.match(err.message, /waited \d+ ms .*2 of 2 connections in use/);
    assert.equal(classify(err), 'permanent', 'a full gate is not retried into itself');
    console.log(`queue timeout: ${err.message} ${JSON.stringify(err.poolStats)}`);

    await lock.release();
    const counts = await Promise.all(holders);
    assert.ok(
      counts.every((n) => n >= 1000),
      'the blocked queries finished normally',
    );
    assert.equal(gate.getPoolStats().activeConnections, 0);
  } finally {
    await lock.release();
    gate.close();
    await prisma.$disconnect();
  }
});
