// `poolgate doctor` on mysql:// URLs against a real MariaDB (Debian's mariadb-server,
// max_connections=20), read with the project's own mysql2, as seed 004 did by hand
// (SHOW VARIABLES LIKE 'max_connections', SHOW PROCESSLIST).

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import {
  assertNoPassword,
  doctorJson,
  finding,
  MYSQL_PASSWORD,
  MYSQL_PORT,
  mysql,
  severities,
} from './helpers.mjs';

const url = (pw = MYSQL_PASSWORD) =>
  `mysql://app:${encodeURIComponent(pw)}@127.0.0.1:${MYSQL_PORT}/app`;

const holders = [];
before(async () => {
  for (let i = 0; i < 3; i++) {
    const c = mysql.createConnection({
      host: '127.0.0.1',
      port: MYSQL_PORT,
      user: 'app',
      password: MYSQL_PASSWORD,
      database: 'app',
    });
    await c.promise().query('SELECT 1');
    holders.push(c);
  }
});
after(() =>
  Promise.all(
    holders.map((c) =>
      c
        .promise()
        .end()
        .catch(() => {}),
    ),
  ),
);

test('MariaDB: version, max_connections, the process list, sizing', async () => {
  const { code, report, stdout, stderr } = await doctorJson([
    url(),
    '--idle-seconds',
    '0',
    '--instances',
    '3',
  ]);
  assertNoPassword(assert, stdout + stderr, MYSQL_PASSWORD);
  assert.equal(code, 0, stdout + stderr);
  assert.equal(report.kind, 'mysql');
  assert.deepEqual(severities(report), {
    server: 'info',
    'max-connections': 'info',
    'connections-now': 'info',
    'long-idle': 'warn',
    target: 'info',
    sizing: 'info',
  });
  assert.match(finding(report, 'server').title, /^MariaDB 10\.\d+\.\d+/);
  assert.equal(finding(report, 'max-connections').title, 'max_connections 20: 20 for user app@%');
  const now = finding(report, 'connections-now');
  assert.equal(now.title, '3 other connections now (of 20 for this role)');
  assert.equal(now.detail, 'by role: app 3; by database: app 3; by state: idle 3.');
  assert.equal(
    finding(report, 'long-idle').title.startsWith('3 connections idle for 0 s or more'),
    true,
  );
  // 20 usable, 2 kept free, 18 / 3 = 6 each.
  assert.deepEqual(
    [
      report.sizing.usable,
      report.sizing.headroom,
      report.sizing.perInstance,
      report.sizing.fleetTotal,
    ],
    [20, 2, 6, 18],
  );
});

test('a wrong password: access denied, exit 1, neither password printed', async () => {
  const wrong = 'Wr0ng p@ss#word';
  const { code, report, stdout, stderr } = await doctorJson([url(wrong)]);
  assertNoPassword(assert, stdout + stderr, wrong);
  assertNoPassword(assert, stdout + stderr, MYSQL_PASSWORD);
  assert.equal(code, 1);
  const c = finding(report, 'connect');
  assert.match(c.detail, /Access denied for user 'app'.*\(ER_ACCESS_DENIED_ERROR\)$/);
  assert.match(c.fix, /^the server refused these credentials/);
});
