// PgBouncer (transaction pooling, default_pool_size 10, below the server's 17 slots for the
// app) in front of PostgreSQL, poolgate's extension in front of Prisma: the 10,000-operation
// burst passes with 0 errors and PgBouncer keeps the server at 10 connections or fewer.

import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import {
  ADMIN_DATABASE_URL,
  admin,
  loadTool,
  PGBOUNCER_DATABASE_URL,
  rowsByRequestId,
} from './helpers.mjs';

const POOL_SIZE = Number(process.env.PGBOUNCER_POOL_SIZE ?? 10);

// PgBouncer keeps its server connections open while idle (server_idle_timeout, 600 s by
// default); end them, so the tests after this one get the server's slots back.
after(() =>
  admin(
    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = 'app' AND pid <> pg_backend_pid()",
  ),
);

test('10,000 mixed operations through poolgate and PgBouncer: 0 errors', {
  timeout: 180_000,
  skip: PGBOUNCER_DATABASE_URL
    ? false
    : 'PGBOUNCER_DATABASE_URL not set (scripts/test-prisma sets it)',
}, async () => {
  const [r] = await loadTool([
    'mixed',
    '--ops',
    '10000',
    '--gate',
    '15',
    '--pool',
    '50',
    '--via',
    'extension',
    '--url',
    PGBOUNCER_DATABASE_URL,
    '--monitor-url',
    ADMIN_DATABASE_URL,
    '--monitor-user',
    'app',
  ]);
  assert.equal(r.timedOut, false);
  assert.deepEqual(r.errors, {});
  assert.equal(r.ok, 10_000);
  assert.ok(r.peakActive <= 15);
  // PgBouncer's own bound (max_db_connections), shown to be in force rather than poolgate's.
  assert.ok(r.peakServer >= 1 && r.peakServer <= POOL_SIZE, `server peak ${r.peakServer}`);
  const rows = await rowsByRequestId(`${r.runId}-`);
  assert.equal(rows.size, 3_000);
  assert.ok([...rows.values()].every((n) => n === 1));
  console.log(`pgbouncer: ${JSON.stringify(r)}`);
});
