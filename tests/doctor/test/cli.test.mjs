// The command's edges: usage errors, a missing driver, servers that are not there, URLs that do
// not parse; in none of them is the password printed.

import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { assertNoPassword, ENCODED, PASSWORD, PG_PORT, pgUrl, poolgate } from './helpers.mjs';

test('usage errors exit 2 and say what to write', async () => {
  let r = await poolgate(['doctor']);
  assert.equal(r.code, 2);
  assert.equal(
    r.stderr,
    'poolgate doctor: no database URL: pass it as an argument or set DATABASE_URL (try --help)\n',
  );
  r = await poolgate(['doctor', pgUrl(), '--instances', '0']);
  assert.equal(r.code, 2);
  assert.equal(
    r.stderr,
    'poolgate doctor: --instances must be an integer from 1 to 100000, got "0"\n',
  );
  r = await poolgate(['doctor', pgUrl(), '--margin=150']);
  assert.equal(r.stderr, 'poolgate doctor: --margin must be an integer from 0 to 100, got "150"\n');
  r = await poolgate(['doctor', pgUrl(), '--bogus']);
  assert.equal(r.stderr, 'poolgate doctor: unknown option --bogus (try --help)\n');
  r = await poolgate(['frobnicate']);
  assert.equal(r.code, 2);
  r = await poolgate(['doctor', '--help']);
  assert.equal(r.code, 0);
  assert.match(r.stdout, /^Usage: poolgate doctor \[DATABASE_URL\]/);
  r = await poolgate(['doctor', `ftp://app:${ENCODED}@127.0.0.1/x`]);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /unsupported scheme "ftp:\/\/"/);
  assertNoPassword(assert, r.stdout + r.stderr);
});

test('no pg in the project: exit 2 with how to install it', async () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'poolgate-doctor-nodriver-'));
  try {
    const r = await poolgate(['doctor', pgUrl()], { cwd: dir });
    assert.equal(r.code, 2);
    assert.match(r.stderr, /your project's own `pg` package, and none was found from /);
    assert.match(r.stderr, /npm install pg/);
    const m = await poolgate(['doctor', `mysql://app:${ENCODED}@127.0.0.1:1/app`], { cwd: dir });
    assert.match(m.stderr, /npm install mysql2/);
    assertNoPassword(assert, r.stdout + r.stderr + m.stdout + m.stderr);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('nothing listening, on 127.0.0.1 and on [::1]: exit 1, no password', async () => {
  const closed = PG_PORT + 50;
  for (const host of ['127.0.0.1', '[::1]']) {
    for (const json of [[], ['--json']]) {
      const r = await poolgate([
        'doctor',
        `postgresql://app:${ENCODED}@${host}:${closed}/app`,
        ...json,
      ]);
      assert.equal(r.code, 1, r.stdout + r.stderr);
      assertNoPassword(assert, r.stdout + r.stderr);
      assert.match(r.stdout, /cannot connect to/);
      assert.ok(r.stdout.includes(`${host}:${closed}`), r.stdout);
    }
  }
  // The server listens on 127.0.0.1 only, so [::1] on its port is refused too (or unreachable).
  const r = await poolgate(['doctor', `postgresql://app:${ENCODED}@[::1]:${PG_PORT}/app`]);
  assert.equal(r.code, 1);
  assertNoPassword(assert, r.stdout + r.stderr);
});

test('a database that does not exist, and URLs written badly: no password', async () => {
  let r = await poolgate(['doctor', pgUrl().replace(/\/app$/, '/nope'), '--json']);
  assert.equal(r.code, 1);
  assert.match(r.stdout, /database \\"nope\\" does not exist/);
  assertNoPassword(assert, r.stdout + r.stderr);
  // The password pasted without percent-encoding (its @ : / # ? % & = + and space raw).
  r = await poolgate(['doctor', `postgresql://app:${PASSWORD}@127.0.0.1:${PG_PORT}/app`]);
  assertNoPassword(assert, r.stdout + r.stderr);
  assert.equal(r.code, 1);
  assert.match(
    r.stdout,
    /fix: the driver could not parse the URL: percent-encode special characters/,
  );
  // A port that is not a number.
  r = await poolgate(['doctor', `postgresql://app:${ENCODED}@127.0.0.1:notaport/app`]);
  assertNoPassword(assert, r.stdout + r.stderr);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /the port in the database URL is not a number/);
});
