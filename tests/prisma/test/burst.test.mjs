// 10,000 concurrent reads and creates through a gate of 15 in front of a Prisma client whose pg
// pool would open 50, against a PostgreSQL that takes 20 (17 for the app's role): all succeed
// with at most 15 server connections. The same load without the gate fails with connection
// errors, so the gate is what made the difference. Both run through the load tool.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { connectionErrors } from '../lib/errors.mjs';
import { DATABASE_URL, loadTool, rowsByRequestId } from './helpers.mjs';

const OPS = 10_000;
const CREATES = 3_000; // the mixed scenario: operations i with i % 10 < 3 create a row

test('10,000 mixed operations through a gate of 15: all succeed, at most 15 server connections', {
  timeout: 180_000,
}, async () => {
  const [r] = await loadTool(['mixed', '--ops', String(OPS), '--gate', '15', '--pool', '50']);
  assert.equal(r.timedOut, false);
  assert.deepEqual(r.errors, {}, 'no operation failed');
  assert.equal(r.ok, OPS);
  assert.equal(r.failed, 0);
  assert.ok(r.peakServer >= 1, 'the monitor saw the load');
  assert.ok(r.peakServer <= 15, `server connections peaked at ${r.peakServer}`);
  assert.ok(r.peakActive <= 15, `the gate let ${r.peakActive} run at once`);
  assert.ok(r.peakQueued > 0, 'the burst queued in the gate');

  const rows = await rowsByRequestId(`${r.runId}-`);
  assert.equal(rows.size, CREATES, 'every create is in the table');
  assert.ok(
    [...rows.values()].every((n) => n === 1),
    'and none twice',
  );
  console.log(`gated: ${JSON.stringify(r)}`);
});

test('the same 10,000 operations without the gate: connection errors (P2037 / 53300)', {
  timeout: 180_000,
}, async () => {
  const [r] = await loadTool(['mixed', '--ops', String(OPS), '--no-gate', '--pool', '50']);
  assert.equal(r.timedOut, false);
  assert.equal(r.ok + r.failed, OPS);
  assert.ok(connectionErrors(r) > 0, `expected connection errors, got ${JSON.stringify(r.errors)}`);
  assert.ok(
    Object.keys(r.errors).some((k) => k.startsWith('P2037 53300')),
    'Prisma reports P2037 with SQLSTATE 53300',
  );
  console.log(`ungated (${DATABASE_URL}): ${JSON.stringify(r)}`);
});
