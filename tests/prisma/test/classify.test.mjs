// classify() on the errors Prisma 7 really throws, each produced by a real PostgreSQL (or, for
// P1001, by the absence of one), none built by hand:
//   P2037 with a TooManyConnections cause -> 'too-many-connections' (not sent: safe to retry,
//     and the adaptive limit's signal); P1001, `timeout exceeded when trying to connect`
//     -> 'not-sent' (safe to retry, even a write)
//   `Connection terminated unexpectedly`, P2039 with 57P01 -> 'maybe-sent' (retry if idempotent)
//   P2002, P2039 with 57014 (statement_timeout) -> 'permanent'

import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import pg from 'pg';
import { classify, isTransientError } from 'poolgate';
import { newPrisma } from '../lib/db.mjs';
import { causeOf } from '../lib/errors.mjs';
import {
  admin,
  blockedBackends,
  DATABASE_URL,
  lockUsers,
  rejection,
  waitForServer,
} from './helpers.mjs';

const NOTHING_LISTENS = 'postgresql://app@127.0.0.1:55459/app'; // port reserved for this test
const seen = [];

function expectClass(name, err, expected) {
  seen.push(
    `${name}: ${err.code ?? '-'} ${causeOf(err) ?? ''} "${String(err.message).split('\n').at(-1)}" -> ${classify(err)}`,
  );
  assert.equal(classify(err), expected, `${name}: ${err.stack}`);
  assert.equal(isTransientError(err), expected !== 'permanent');
}

after(() => console.log(`classified:\n  ${seen.join('\n  ')}`));

test('P2037 (TooManyConnections, 53300) when the server has no slot left: too-many-connections', async () => {
  const hogs = [];
  try {
    // Take every slot the app's role may have.
    for (let i = 0; i < 30; i += 1) {
      const c = new pg.Client({ connectionString: DATABASE_URL });
      c.on('error', () => {});
      try {
        await c.connect();
      } catch (err) {
        assert.equal(err.code, '53300');
        break;
      }
      hogs.push(c);
    }
    assert.ok(hogs.length >= 10, `only ${hogs.length} connections before the server refused`);
    const prisma = newPrisma({ url: DATABASE_URL, max: 5 });
    const err = await rejection(prisma.user.count());
    await prisma.$disconnect();
    assert.equal(err.code, 'P2037');
    assert.equal(err.meta?.driverAdapterError?.cause?.kind, 'TooManyConnections');
    assert.equal(err.meta?.driverAdapterError?.cause?.originalCode, '53300');
    expectClass('P2037', err, 'too-many-connections');
  } finally {
    await Promise.all(hogs.map((c) => c.end().catch(() => {})));
  }
});

test('P1001 when nothing listens: not-sent', async () => {
  const prisma = newPrisma({ url: NOTHING_LISTENS, max: 5 });
  const err = await rejection(prisma.user.count());
  await prisma.$disconnect();
  assert.equal(err.code, 'P1001');
  expectClass('P1001', err, 'not-sent');
});

test('`timeout exceeded when trying to connect` (pg pool exhausted): not-sent', async () => {
  const lock = await lockUsers();
  const app = 'poolgate-classify-connect';
  const prisma = newPrisma({
    url: DATABASE_URL,
    max: 1,
    connectionTimeoutMillis: 300,
    applicationName: app,
  });
  try {
    const holder = prisma.user.count(); // takes the pool's only connection, blocks on the lock
    holder.catch(() => {});
    await blockedBackends(app);
    const err = await rejection(prisma.user.count());
    assert.match(err.message, /timeout exceeded when trying to connect/);
    expectClass('pg connect timeout', err, 'not-sent');
    await lock.release();
    assert.equal(typeof (await holder), 'number');
  } finally {
    await lock.release();
    await prisma.$disconnect();
  }
});

test('P2002 (unique violation): permanent', async () => {
  const prisma = newPrisma({ url: DATABASE_URL, max: 2 });
  try {
    const err = await rejection(
      prisma.user.create({ data: { email: 'user1@example.test', name: 'duplicate' } }),
    );
    assert.equal(err.code, 'P2002');
    expectClass('P2002', err, 'permanent');
  } finally {
    await prisma.$disconnect();
  }
});

test('P2039 with 57014 (statement_timeout): permanent', async () => {
  const lock = await lockUsers();
  const prisma = newPrisma({ url: DATABASE_URL, max: 2, statement_timeout: 200 });
  try {
    const err = await rejection(prisma.user.count());
    assert.equal(err.code, 'P2039');
    assert.equal(causeOf(err), '57014');
    expectClass('P2039 statement_timeout', err, 'permanent');
  } finally {
    await lock.release();
    await prisma.$disconnect();
  }
});

test('P2039 with 57P01 (backend terminated mid-query): maybe-sent', async () => {
  const lock = await lockUsers();
  const app = 'poolgate-classify-terminate';
  const prisma = newPrisma({ url: DATABASE_URL, max: 2, applicationName: app });
  try {
    const call = rejection(prisma.user.count());
    const [pid] = await blockedBackends(app);
    await admin('SELECT pg_terminate_backend($1)', [pid]);
    const err = await call;
    assert.equal(causeOf(err), '57P01');
    expectClass('P2039 terminated', err, 'maybe-sent');
  } finally {
    await lock.release();
    await prisma.$disconnect();
  }
});

test('`Connection terminated unexpectedly` (backend killed mid-query): maybe-sent', async () => {
  const lock = await lockUsers();
  const app = 'poolgate-classify-kill';
  const prisma = newPrisma({ url: DATABASE_URL, max: 2, applicationName: app });
  try {
    const call = rejection(prisma.user.count());
    const [pid] = await blockedBackends(app);
    process.kill(pid, 'SIGKILL'); // the server process dies without a word; postgres then resets
    const err = await call;
    assert.match(err.message, /Connection terminated unexpectedly/);
    expectClass('killed backend', err, 'maybe-sent');
  } finally {
    await lock.release();
    await prisma.$disconnect();
    await waitForServer(); // the postmaster restarts every backend after a crash
  }
});
