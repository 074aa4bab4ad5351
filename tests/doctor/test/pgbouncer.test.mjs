// `poolgate doctor` through Debian's PgBouncer (transaction pooling, pool 10) in front of the
// test PostgreSQL: detected by the server's port differing from the URL's, then read from
// PgBouncer's admin console when the credentials allow it.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  assertNoPassword,
  BOUNCER_PORT,
  bouncerUrl,
  doctorJson,
  finding,
  severities,
} from './helpers.mjs';

test('as an admin user: PgBouncer, its pool and mode; the sizing shares the pool', async () => {
  const { code, report, stdout, stderr } = await doctorJson([
    bouncerUrl('postgres'),
    '--instances',
    '3',
  ]);
  assertNoPassword(assert, stdout + stderr);
  assert.equal(code, 0, stdout + stderr);
  assert.equal(report.target, 'pgbouncer-transaction');
  assert.match(
    finding(report, 'target').title,
    /^the URL points at PgBouncer 1\.\d+\.\d+, transaction pooling$/,
  );
  const b = finding(report, 'pgbouncer');
  assert.match(
    b.title,
    /^PgBouncer 1\.\d+\.\d+: pool_mode transaction, default_pool_size 10, max_db_connections 10, max_client_conn 1000$/,
  );
  assert.equal(severities(report)['transaction-pooling'], 'warn');
  // The server behind it still reports its own limit.
  assert.equal(
    finding(report, 'max-connections').title,
    'max_connections 20: 17 for role postgres',
  );
  // 10 server connections shared by 3 instances, no margin (PgBouncer queues the rest): 3 each.
  assert.deepEqual(report.sizing, {
    limit: 10,
    reserved: 0,
    others: 0,
    instances: 3,
    pooler: true,
    usable: 10,
    headroom: 0,
    perInstance: 3,
    fleetTotal: 9,
    pgPoolMax: 3,
    connectTimeoutMs: 5000,
    queueTimeoutMs: 10000,
  });
});

test('as the app user: PgBouncer recognised by its refusal; sized against the server', async () => {
  const url = `${bouncerUrl('app')}?connection_limit=20`;
  const { code, report, stdout, stderr } = await doctorJson([url, '--instances', '2']);
  assertNoPassword(assert, stdout + stderr);
  assert.equal(code, 0, stdout + stderr);
  assert.equal(report.url.includes(`:${BOUNCER_PORT}/app`), true);
  assert.equal(report.target, 'pgbouncer-transaction');
  assert.equal(
    finding(report, 'target').title,
    'the URL points at PgBouncer (admin console not readable with these credentials)',
  );
  // Behind a transaction pooler, connection_limit × instances is not compared with the server.
  assert.equal(severities(report).connection_limit, 'warn');
  assert.equal(report.sizing.pooler, false);
  assert.equal(report.sizing.perInstance, 7);
});
