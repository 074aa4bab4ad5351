// 10,000 operations at once that mix every path a user takes (model reads and creates, raw
// queries and raw inserts, batch and interactive transactions) through a gate of 15 in front of a
// pg pool of 15 (pgPoolOptions), against PostgreSQL's 17 slots for the app's role, through each
// integration: 0 errors, at most 15 server connections, and the rows written are exactly the
// successful writes (each request id has exactly the rows its operation writes: none lost, none
// doubled). The figures are printed for the README.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { pgPoolOptions } from 'poolgate';
import { gatedClient, runId, VIAS } from '../lib/paths.mjs';
import { rowsByRequestId } from './helpers.mjs';

const OPS = 10_000;

/** Operation `i` of the mix, and how many rows it writes under its request id. */
function operation(db, i, rid) {
  switch (i % 10) {
    case 0:
      return [db.user.findUnique({ where: { id: (i % 1000) + 1 } }), 0];
    case 1:
      return [db.user.findMany({ take: 5, skip: i % 900 }), 0];
    case 2:
      return [db.user.count(), 0];
    case 3:
      return [
        db.$queryRaw`SELECT count(*)::int AS n FROM poolgate_users WHERE id < ${i % 1000}`,
        0,
      ];
    case 4:
      return [db.write.create({ data: { requestId: rid, label: 'create' } }), 1];
    case 5:
      return [
        db.$executeRaw`INSERT INTO poolgate_writes (request_id, label) VALUES (${rid}, 'raw')`,
        1,
      ];
    case 6:
      return [
        db.$transaction([
          db.write.create({ data: { requestId: rid, label: 'batch' } }),
          db.$executeRaw`INSERT INTO poolgate_writes (request_id, label) VALUES (${rid}, 'batch')`,
          db.user.count(),
        ]),
        2,
      ];
    case 7:
      return [
        db.$transaction(async (tx) => {
          const n = await tx.user.count();
          await tx.write.create({ data: { requestId: rid, label: 'itx' } });
          await tx.$executeRaw`INSERT INTO poolgate_writes (request_id, label) VALUES (${rid}, 'itx')`;
          return n;
        }),
        2,
      ];
    case 8:
      return [db.$queryRawUnsafe('SELECT $1::int AS i', i), 0];
    default:
      return [
        db.$executeRawUnsafe('UPDATE poolgate_users SET name = name WHERE id = $1', (i % 1000) + 1),
        0,
      ];
  }
}

for (const via of VIAS) {
  test(`${via}: 10,000 mixed operations (models, raw, batch and interactive transactions), gate 15, pg max 15`, {
    timeout: 240_000,
  }, async (t) => {
    const { pool, db, monitor } = await gatedClient(t, via, {
      gate: 15,
      pg: pgPoolOptions,
      retry: true,
    });
    const id = runId(`burst-${via}`);
    const expected = new Map();
    const started = performance.now();
    const calls = [];
    for (let i = 0; i < OPS; i++) {
      const rid = `${id}-${i}`;
      const [call, rows] = operation(db, i, rid);
      if (rows > 0) expected.set(rid, rows);
      calls.push(call);
    }
    const results = await Promise.allSettled(calls);
    const wallMs = Math.round(performance.now() - started);
    const errors = {};
    for (const r of results) {
      if (r.status === 'rejected') {
        const key = `${r.reason?.code ?? r.reason?.name}: ${String(r.reason?.message).slice(-120)}`;
        errors[key] = (errors[key] ?? 0) + 1;
      }
    }
    const m = pool.getMetrics();
    const rows = await rowsByRequestId(`${id}-`);
    const figures = {
      via,
      operations: OPS,
      succeeded: results.filter((r) => r.status === 'fulfilled').length,
      errors,
      writes: expected.size,
      rowsWritten: [...rows.values()].reduce((a, b) => a + b, 0),
      peakServerConnections: monitor.peak,
      peakActive: m.peakActive,
      peakQueued: m.peakQueued,
      granted: m.granted,
      retries: m.retries,
      waitP99Ms: m.wait.p99Ms,
      wallMs,
    };
    console.log(`burst: ${JSON.stringify(figures)}`);
    assert.deepEqual(errors, {}, 'no operation failed');
    assert.equal(m.granted, OPS + m.retries, 'one slot per attempt (transactions included)');
    assert.ok(
      monitor.peak >= 1 && monitor.peak <= 15,
      `server connections peaked at ${monitor.peak}`,
    );
    assert.equal(m.peakActive, 15);
    assert.equal(rows.size, expected.size, 'every write is in the table');
    for (const [rid, n] of expected) {
      assert.equal(rows.get(rid), n, `${rid}: ${n} rows expected`);
    }
    assert.equal(
      figures.rowsWritten,
      [...expected.values()].reduce((a, b) => a + b, 0),
    );
  });
}
