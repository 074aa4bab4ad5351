// Recovery: PostgreSQL is restarted in the middle of a stream of reads and writes through the
// gate. Every operation settles; reads retried by withRetryAndPool succeed once the server is
// back; each write carries a unique request id in a column without a unique constraint, so
// counting rows shows whether it was lost or ran twice: reported success => exactly 1 row,
// reported failure => 0 or 1 row (the statement may have committed before the connection
// broke), never 2 or more.

import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { createPooledClient } from 'poolgate';
import { newGate, newPrisma } from '../lib/db.mjs';
import { errorKey } from '../lib/errors.mjs';
import { DATABASE_URL, restartServer, rowsByRequestId, waitForServer } from './helpers.mjs';

const WAVES = 40; // one wave every WAVE_MS: the stream lasts ~4 s, the restart starts at ~1 s
const PER_WAVE = 100; // half reads, half writes
const WAVE_MS = 100;
const RESTART_AT_WAVE = 10;
const RETRIES = 10; // back-offs 200, 400, ... 2000 ms: 11 s in all, longer than a restart
const DELAY_MS = 200;
const SETTLE_TIMEOUT_MS = 120_000;

test('a PostgreSQL restart mid-burst: all settle, reads recover, writes never doubled or lost', {
  timeout: 240_000,
}, async () => {
  const gate = newGate({ maxConnections: 15, queueTimeoutMs: 60_000 });
  const prisma = newPrisma({ url: DATABASE_URL, max: 50, applicationName: 'poolgate-recovery' });
  const db = createPooledClient(prisma, {
    pool: gate,
    retry: { maxRetries: RETRIES, delay: DELAY_MS },
  });
  const runId = `recovery-${randomUUID().slice(0, 8)}`;
  const reads = [];
  const writes = []; // { requestId, outcome: 'ok' | error key }
  const pending = [];
  let restart;

  for (let wave = 0; wave < WAVES; wave += 1) {
    if (wave === RESTART_AT_WAVE) restart = restartServer();
    for (let j = 0; j < PER_WAVE; j += 1) {
      const i = wave * PER_WAVE + j;
      if (j % 2 === 0) {
        const read = { outcome: 'pending' };
        reads.push(read);
        const op = gate.withRetryAndPool(
          () => prisma.user.findUnique({ where: { id: 1 + (i % 1000) } }),
          RETRIES,
          DELAY_MS,
          { idempotent: true },
        );
        pending.push(
          op.then(
            (user) => {
              read.outcome = user?.id === 1 + (i % 1000) ? 'ok' : 'wrong row';
            },
            (err) => {
              read.outcome = errorKey(err);
            },
          ),
        );
      } else {
        const write = { requestId: `${runId}-${i}`, outcome: 'pending' };
        writes.push(write);
        const op = db.write.create({ data: { requestId: write.requestId, label: 'recovery' } });
        pending.push(
          op.then(
            () => {
              write.outcome = 'ok';
            },
            (err) => {
              write.outcome = errorKey(err);
            },
          ),
        );
      }
    }
    await sleep(WAVE_MS);
  }
  await restart;

  // None hangs: every operation settles within a bound.
  let timer;
  const settled = await Promise.race([
    Promise.all(pending).then(() => true),
    new Promise((resolve) => {
      timer = setTimeout(resolve, SETTLE_TIMEOUT_MS, false);
    }),
  ]);
  clearTimeout(timer);
  const metrics = gate.getMetrics();
  gate.close();
  await prisma.$disconnect();
  const stuck = [...reads, ...writes].filter((x) => x.outcome === 'pending').length;
  assert.equal(stuck, 0, `${stuck} operations never settled`);
  assert.equal(settled, true);

  await waitForServer();
  const rows = await rowsByRequestId(`${runId}-`);
  const tally = (list) => {
    const t = {};
    for (const x of list) t[x.outcome] = (t[x.outcome] ?? 0) + 1;
    return t;
  };
  const okWrites = writes.filter((w) => w.outcome === 'ok');
  const failedWrites = writes.filter((w) => w.outcome !== 'ok');
  const counts = {
    reads: reads.length,
    readOutcomes: tally(reads),
    writes: writes.length,
    writeOutcomes: tally(writes),
    okWithOneRow: okWrites.filter((w) => rows.get(w.requestId) === 1).length,
    failedWithNoRow: failedWrites.filter((w) => !rows.has(w.requestId)).length,
    failedWithOneRow: failedWrites.filter((w) => rows.get(w.requestId) === 1).length,
    requestIdsWithTwoOrMoreRows: [...rows.values()].filter((n) => n >= 2).length,
    rowsInTable: [...rows.values()].reduce((a, b) => a + b, 0),
    retries: metrics.retries,
  };
  console.log(`recovery counts: ${JSON.stringify(counts)}`);

  // The restart did hit the stream: some calls failed and were retried.
  assert.ok(metrics.retries > 0, 'the restart caused retries');
  // Reads are idempotent: retried until the server was back, every one succeeded.
  assert.deepEqual(counts.readOutcomes, { ok: reads.length });
  // Never a duplicate; success means committed exactly once; failure means 0 or 1 row.
  assert.equal(counts.requestIdsWithTwoOrMoreRows, 0);
  assert.equal(counts.okWithOneRow, okWrites.length, 'every reported success has exactly 1 row');
  assert.equal(counts.failedWithNoRow + counts.failedWithOneRow, failedWrites.length);
  assert.ok(rows.size <= writes.length, 'no row under an id that was never written');
  assert.ok(okWrites.length > 0, 'writes succeeded after the restart');
});
