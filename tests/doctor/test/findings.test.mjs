// The doctor's judgement for targets the tests cannot reach (they talk to loopback only):
// Supabase's pooler in each mode and sslmode on a remote host, from facts as the real servers
// report them. judge() is pure: the URL, the facts, the options and the package's sizeFleet.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { sizeFleet } from 'poolgate';
import { judge } from '../node_modules/poolgate/cli/findings.mjs';
import { parseDatabaseUrl, redactor } from '../node_modules/poolgate/cli/url.mjs';

const options = { instances: 1, reserve: 0, marginPercent: 10, idleSeconds: 300 };
// What Supabase's free plan reports through its pooler: max_connections 60.
const facts = {
  kind: 'postgres',
  version: '15.8',
  versionText: 'PostgreSQL 15.8',
  maxConnections: 60,
  superuserReserved: 3,
  reservedConnections: 0,
  role: 'postgres',
  superuser: false,
  roleConnLimit: -1,
  database: 'postgres',
  databaseConnLimit: -1,
  serverPort: 5432,
  activity: [],
  behindProxy: false,
  pgbouncer: null,
};

function run(url, opts = {}) {
  const redact = redactor(url);
  return judge({
    parsed: parseDatabaseUrl(url),
    facts,
    error: null,
    options: { ...options, ...opts },
    sizeFleet,
    redact,
  });
}
const ids = (r) => Object.fromEntries(r.findings.map((f) => [f.id, f.severity]));

test("Supabase's pooler on 6543 is transaction mode; on 5432 session mode", () => {
  const tx = run(
    'postgresql://postgres.ref:pw@aws-0-eu-west-3.pooler.supabase.com:6543/postgres?sslmode=verify-full',
  );
  assert.equal(tx.target.kind, 'supabase-transaction');
  assert.equal(ids(tx)['transaction-pooling'], 'warn');
  assert.equal(ids(tx).sslmode, undefined, 'verify-full is what node-postgres does anyway');
  const session = run(
    'postgresql://postgres.ref:pw@aws-0-eu-west-3.pooler.supabase.com:5432/postgres?sslmode=verify-full',
  );
  assert.equal(session.target.kind, 'supabase-session');
  assert.equal(ids(session)['session-pooling'], 'warn');
  // The seed's db.xxxxx.supabase.co:6543 (the dedicated pooler) and :5432 (direct).
  assert.equal(
    run('postgresql://u:pw@db.abcdefgh.supabase.co:6543/postgres').target.kind,
    'supabase-transaction',
  );
  const direct = run('postgresql://u:pw@db.abcdefgh.supabase.co:5432/postgres');
  assert.equal(direct.target.kind, 'direct');
  assert.equal(direct.target.label, 'Supabase database, direct');
  // 60 - 3 = 57 usable, 6 kept free, 3 instances: 17 each (the seed's 20 each would take 60).
  assert.equal(
    run('postgresql://u:pw@db.abcdefgh.supabase.co:5432/postgres', { instances: 3 }).sizing
      .perInstance,
    17,
  );
});

test('sslmode on a remote host: missing or disable is a warning, require is verify-full in pg 8', () => {
  const none = run('postgresql://u:pw@db.example.com:5432/app');
  assert.equal(
    none.findings.find((f) => f.id === 'sslmode').title,
    'no sslmode: the connection is not encrypted',
  );
  const require = run('postgresql://u:pw@db.example.com:5432/app?sslmode=require');
  assert.equal(
    require.findings.find((f) => f.id === 'sslmode').title,
    'sslmode=require is treated as verify-full by node-postgres 8',
  );
  assert.equal(
    ids(run('postgresql://u:pw@db.example.com/app?sslmode=require&uselibpqcompat=true')).sslmode,
    undefined,
  );
  assert.equal(
    ids(run('postgresql://u:pw@127.0.0.1/app')).sslmode,
    undefined,
    'loopback needs no TLS',
  );
});

test('a role or database CONNECTION LIMIT caps what the app may use', () => {
  const capped = judge({
    parsed: parseDatabaseUrl('postgresql://u:pw@127.0.0.1/app'),
    facts: { ...facts, roleConnLimit: 8 },
    error: null,
    options,
    sizeFleet,
    redact: (t) => t,
  });
  assert.equal(
    capped.findings.find((f) => f.id === 'max-connections').title,
    'max_connections 60: 8 for role postgres',
  );
  assert.equal(capped.sizing.perInstance, 7);
});
