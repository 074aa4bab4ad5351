// `poolgate doctor` against the real PostgreSQL 15 (max_connections=20, 3 reserved for
// superusers) that scripts/test-doctor starts: findings and sizing checked exactly.

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import {
  assertNoPassword,
  doctorJson,
  emptyServer,
  finding,
  holdPg,
  PG_PORT,
  pgUrl,
  poolgate,
  SOCKET_DIR,
  severities,
} from './helpers.mjs';

let holders;
before(async () => {
  await emptyServer();
  holders = await holdPg(3);
  // One of them inside an open transaction.
  await holders.clients[0].query('BEGIN');
});
after(() => holders?.close());

test('direct TCP: server, limits, who holds connections, sizing for one instance', async () => {
  const { code, report, stdout, stderr } = await doctorJson([pgUrl(), '--idle-seconds', '0']);
  assertNoPassword(assert, stdout + stderr);
  assert.equal(code, 0);
  assert.equal(report.url, `postgresql://app:***@127.0.0.1:${PG_PORT}/app`);
  assert.equal(report.target, 'direct');
  assert.deepEqual(severities(report), {
    server: 'info',
    'max-connections': 'info',
    'connections-now': 'info',
    'long-idle': 'warn',
    'idle-in-transaction': 'warn',
    target: 'info',
    sizing: 'info',
  });
  assert.match(finding(report, 'server').title, /^PostgreSQL 15\.\d+/);
  assert.equal(finding(report, 'max-connections').title, 'max_connections 20: 17 for role app');
  assert.equal(finding(report, 'max-connections').detail, 'superuser_reserved_connections 3.');
  const now = finding(report, 'connections-now');
  assert.equal(now.title, '3 other connections now (of 17 for this role)');
  assert.equal(
    now.detail,
    'by role: app 3; by application: holder 3; by state: idle 2, idle in transaction 1.',
  );
  assert.match(finding(report, 'long-idle').title, /^2 connections idle for 0 s or more/);
  assert.match(
    finding(report, 'idle-in-transaction').title,
    /^1 connection idle inside a transaction/,
  );
  assert.equal(finding(report, 'target').title, 'the URL points at PostgreSQL, direct');
  assert.deepEqual(report.sizing, {
    limit: 20,
    reserved: 3,
    others: 0,
    instances: 1,
    pooler: false,
    usable: 17,
    headroom: 2,
    perInstance: 15,
    fleetTotal: 15,
    pgPoolMax: 15,
    connectTimeoutMs: 5000,
    queueTimeoutMs: 10000,
  });
});

test('the default idle threshold (300 s) reports no long-idle connection', async () => {
  const { code, report } = await doctorJson([pgUrl()]);
  assert.equal(code, 0);
  assert.equal(report.findings.filter((f) => f.id === 'long-idle').length, 0);
  // The open transaction is younger than 60 s too.
  assert.equal(report.findings.filter((f) => f.id === 'idle-in-transaction').length, 0);
});

test('--instances, --reserve and --margin change the sizing; a fleet that cannot fit is an error', async () => {
  let r = await doctorJson([pgUrl(), '--instances', '4']);
  assert.equal(r.code, 0);
  assert.deepEqual(
    [r.report.sizing.perInstance, r.report.sizing.fleetTotal, r.report.sizing.headroom],
    [3, 12, 2],
  );
  assert.equal(
    finding(r.report, 'sizing').title,
    'for 4 instances: maxConnections 3 each (12 in all, 2 kept free)',
  );

  r = await doctorJson([pgUrl(), '--instances', '2', '--reserve', '5', '--margin', '25']);
  // 20 - 3 - 5 = 12 usable, 3 kept free, 9 / 2 = 4 each.
  assert.deepEqual(
    [r.report.sizing.usable, r.report.sizing.headroom, r.report.sizing.perInstance],
    [12, 3, 4],
  );

  r = await doctorJson([pgUrl(), '--instances', '16']);
  assert.equal(r.code, 1, 'an error finding makes the exit code 1');
  assert.equal(r.report.sizing, null);
  const s = finding(r.report, 'sizing');
  assert.equal(s.severity, 'error');
  assert.equal(
    s.title,
    'no size fits 16 instances: 16 instances cannot each have a connection: only 15 slots remain after the headroom',
  );
});

test("Prisma's URL parameters: each trap named, pool_timeout used as the queue timeout", async () => {
  const url = pgUrl('?connection_limit=20&pool_timeout=20&connect_timeout=10&pgbouncer=true');
  const { code, report, stdout, stderr } = await doctorJson([url, '--instances', '2']);
  assertNoPassword(assert, stdout + stderr);
  assert.equal(code, 1);
  const sev = severities(report);
  assert.equal(sev.connection_limit, 'error');
  assert.equal(
    finding(report, 'connection_limit').title,
    'connection_limit=20 × 2 instances = 40, more than the 17 slots the server leaves',
  );
  assert.equal(sev.pool_timeout, 'warn');
  assert.equal(sev.connect_timeout, 'warn');
  assert.equal(sev['pgbouncer-param'], 'warn', 'pgbouncer=true on a direct URL');
  assert.equal(report.sizing.queueTimeoutMs, 20000);
  assert.equal(report.sizing.perInstance, 7);
  // Within the limit, connection_limit is only a warning (node-postgres ignores it).
  const ok = await doctorJson([pgUrl('?connection_limit=5')]);
  assert.equal(ok.code, 0);
  assert.equal(severities(ok.report).connection_limit, 'warn');
});

test('a superuser URL is told it may take the reserved slots', async () => {
  const { code, report } = await doctorJson([pgUrl('', 'postgres')]);
  assert.equal(code, 0);
  assert.match(
    finding(report, 'max-connections').detail,
    /postgres is a superuser and may also take the reserved slots/,
  );
});

test('a socket path (percent-encoded host) works and hides the password', async () => {
  const url = `postgresql://app:Zq9p%40ss@${encodeURIComponent(SOCKET_DIR)}:${PG_PORT}/app`;
  const { code, report, stdout, stderr } = await doctorJson([url]);
  assertNoPassword(assert, stdout + stderr, 'Zq9p@ss');
  assert.equal(code, 0, stdout + stderr);
  assert.equal(report.url, `postgresql://app:***@${encodeURIComponent(SOCKET_DIR)}:${PG_PORT}/app`);
  assert.equal(
    finding(report, 'target').detail,
    `PostgreSQL at socket ${SOCKET_DIR} (port ${PG_PORT}).`,
  );
  assert.equal(report.sizing.perInstance, 15);
  // The ?host= form too.
  const q = `postgresql://app:Zq9p%40ss@/app?host=${SOCKET_DIR}&port=${PG_PORT}`;
  const r = await doctorJson([q]);
  assertNoPassword(assert, r.stdout + r.stderr, 'Zq9p@ss');
  assert.equal(r.code, 0, r.stdout + r.stderr);
});

test('the text report: findings with their fixes, the code to paste, no password', async () => {
  const { code, stdout, stderr } = await poolgate([
    'doctor',
    pgUrl('?connect_timeout=10'),
    '--instances',
    '2',
  ]);
  assert.equal(code, 0, stderr);
  assertNoPassword(assert, stdout + stderr);
  assert.match(
    stdout,
    /^poolgate doctor: postgresql:\/\/app:\*\*\*@127\.0\.0\.1:\d+\/app\?connect_timeout=10\n/,
  );
  assert.match(stdout, /^info {3}max-connections: max_connections 20: 17 for role app$/m);
  assert.match(stdout, /^WARN {3}connect_timeout: connect_timeout=10 in the URL$/m);
  assert.match(stdout, /^ {9}fix: pass connectionTimeoutMillis/m);
  assert.match(stdout, /new ConnectionPool\(\{ maxConnections: 7, queueTimeoutMs: 10000 \}\)/);
  assert.match(
    stdout,
    /new PrismaPg\(\{ connectionString, max: 7, connectionTimeoutMillis: 5000 \}\)/,
  );
  assert.match(stdout, /^0 error\(s\), 1 warning\(s\), 5 note\(s\)\.$/m);
});

test('npx poolgate doctor, with DATABASE_URL from the environment', async () => {
  const { code, stdout, stderr } = await poolgate(['doctor', '--json'], {
    npx: true,
    env: { DATABASE_URL: pgUrl() },
  });
  assert.equal(code, 0, stderr);
  assertNoPassword(assert, stdout + stderr);
  assert.equal(JSON.parse(stdout).sizing.perInstance, 15);
});

test('a server with no slot left: the connection error says so, exit 1', async () => {
  await holders.close();
  const full = await holdPg(17, 'filler');
  try {
    const { code, report, stdout, stderr } = await doctorJson([pgUrl()]);
    assertNoPassword(assert, stdout + stderr);
    assert.equal(code, 1);
    const c = finding(report, 'connect');
    assert.equal(c.severity, 'error');
    assert.match(c.detail, /remaining connection slots are reserved.*\(53300\)$/);
    assert.match(c.fix, /^the server is full right now/);
  } finally {
    await full.close();
  }
  // 14 of 17 taken (over 80%): a warning, with the doctor's own connection fitting.
  const most = await holdPg(14, 'filler');
  try {
    const { code, report } = await doctorJson([pgUrl()]);
    assert.equal(code, 0);
    const now = finding(report, 'connections-now');
    assert.equal(now.severity, 'warn');
    assert.equal(now.title, '14 other connections now (of 17 for this role)');
  } finally {
    await most.close();
  }
  holders = await holdPg(3);
});
