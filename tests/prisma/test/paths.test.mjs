// Every path a user takes goes through the gate, on real Prisma 7 and PostgreSQL (issue 14): raw
// queries and TypedSQL, batch and interactive transactions (one slot each, the queries inside
// never ask again: no deadlock with pg's pool sized to the gate), nested calls on the held slot,
// whole-transaction retries only, pg's pool agreeing with the gate, and wrong arguments refused.
// Each case runs through both integrations (createPooledClient and poolgateExtension); server
// connections are sampled from pg_stat_activity every 10 ms.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Prisma } from '../generated/prisma/client.ts';
import { createPooledClient, pgPoolOptions, poolgateExtension } from 'poolgate';
import { gatedClient, runId, sleepTyped, VIAS } from '../lib/paths.mjs';
import { DATABASE_URL, rejection, rowsByRequestId } from './helpers.mjs';
import pg from 'pg';

const range = (n) => Array.from({ length: n }, (_, i) => i);

for (const via of VIAS) {
  test(`${via}: 30 concurrent calls of each raw method and TypedSQL go through a gate of 3`, {
    timeout: 120_000,
  }, async (t) => {
    const { pool, db, monitor } = await gatedClient(t, via, { gate: 3, pgMax: 50 });
    const id = runId(`raw-${via}`);
    const calls = [
      ...range(30).map(() => db.$queryRaw`SELECT pg_sleep(0.05)::text AS slept`),
      ...range(30).map(
        (i) =>
          db.$executeRaw`INSERT INTO poolgate_writes (request_id, label) SELECT ${`${id}-a${i}`}, 'raw' FROM pg_sleep(0.05)`,
      ),
      ...range(30).map(() => db.$queryRawUnsafe('SELECT pg_sleep($1)::text AS slept', 0.05)),
      ...range(30).map((i) =>
        db.$executeRawUnsafe(
          "INSERT INTO poolgate_writes (request_id, label) SELECT $1, 'raw' FROM pg_sleep(0.05)",
          `${id}-b${i}`,
        ),
      ),
      ...range(30).map((i) => db.$queryRawTyped(sleepTyped(i))),
    ];
    const results = await Promise.allSettled(calls);
    const failures = results.filter((r) => r.status === 'rejected').map((r) => r.reason.message);
    assert.deepEqual(failures, [], 'every raw call succeeded');
    assert.equal(results[0].value.length, 1);
    assert.equal(results[30].value, 1, '$executeRaw inserted one row');
    assert.equal(results[120].value[0].n, 0, '$queryRawTyped returned its row');
    const m = pool.getMetrics();
    assert.equal(m.granted, 150, 'each of the 150 calls took a slot');
    assert.equal(m.peakActive, 3, 'the gate filled');
    assert.ok(m.peakQueued > 0, 'and callers queued in it');
    assert.ok(
      monitor.peak >= 1 && monitor.peak <= 3,
      `server connections peaked at ${monitor.peak}`,
    );
    const rows = await rowsByRequestId(`${id}-`);
    assert.equal(rows.size, 60, 'every raw insert is in the table once');

    // The control: the same raw queries on the client without the gate open many more.
    const control = await gatedClient(t, via, { gate: 3, pgMax: 50 });
    await Promise.allSettled(
      range(30).map(() => control.prisma.$queryRaw`SELECT pg_sleep(0.2)::text AS slept`),
    );
    assert.ok(control.monitor.peak > 3, `ungated: ${control.monitor.peak} server connections`);
    assert.equal(control.pool.getMetrics().submitted, 0);
  });

  test(`${via}: batch $transaction([...]) of the wrapped client's own calls takes one slot`, {
    timeout: 60_000,
  }, async (t) => {
    const { pool, db, monitor } = await gatedClient(t, via, { gate: 1, pgMax: 50 });
    const id = runId(`batch-${via}`);
    const [count, users, raw] = await db.$transaction([
      db.user.count(),
      db.user.findMany({ take: 2, orderBy: { id: 'asc' } }),
      db.$queryRaw`SELECT 1::int AS one`,
    ]);
    assert.ok(count >= 1000);
    assert.equal(users.length, 2);
    assert.deepEqual(raw, [{ one: 1 }]);
    assert.equal(pool.getMetrics().granted, 1, 'the batch asked the gate once');

    // Writes in a batch commit together; ten batches at once through a gate of 1.
    const batches = range(10).map((i) =>
      db.$transaction([
        db.write.create({ data: { requestId: `${id}-${i}`, label: 'batch' } }),
        db.$executeRaw`INSERT INTO poolgate_writes (request_id, label) VALUES (${`${id}-${i}`}, 'batch')`,
        db.$queryRaw`SELECT pg_sleep(0.02)::text`,
      ]),
    );
    await Promise.all(batches);
    const m = pool.getMetrics();
    assert.equal(m.granted, 11, 'one slot per batch');
    assert.equal(m.peakActive, 1);
    assert.ok(monitor.peak <= 1, `server connections peaked at ${monitor.peak}`);
    const rows = await rowsByRequestId(`${id}-`);
    assert.equal(rows.size, 10);
    assert.ok(
      [...rows.values()].every((n) => n === 2),
      'both inserts of each batch committed',
    );

    // A batch that fails rolls back as a whole.
    const err = await rejection(
      db.$transaction([
        db.write.create({ data: { requestId: `${id}-failed`, label: 'batch' } }),
        db.user.create({ data: { email: 'user1@example.test', name: 'duplicate' } }),
      ]),
    );
    assert.equal(err.code, 'P2002');
    assert.equal((await rowsByRequestId(`${id}-failed`)).size, 0, 'rolled back');
    assert.deepEqual(pool.getPoolStats().activeConnections, 0, 'the slot was given back');
  });

  test(`${via}: 8 interactive transactions beside 8 count() with gate 3 and pg max 3: no deadlock`, {
    timeout: 60_000,
  }, async (t) => {
    const { pool, db, monitor } = await gatedClient(t, via, { gate: 3, pg: pgPoolOptions });
    const id = runId(`itx-${via}`);
    const txs = range(8).map((i) =>
      db.$transaction(async (tx) => {
        const n = await tx.user.count();
        await tx.$queryRaw`SELECT pg_sleep(0.05)::text`;
        await tx.write.create({ data: { requestId: `${id}-${i}`, label: 'itx' } });
        await tx.$executeRaw`INSERT INTO poolgate_writes (request_id, label) VALUES (${`${id}-${i}`}, 'itx')`;
        return n;
      }),
    );
    const counts = range(8).map(() => db.user.count());
    const results = await Promise.allSettled([...txs, ...counts]);
    const failures = results.filter((r) => r.status === 'rejected').map((r) => r.reason.message);
    assert.deepEqual(failures, [], 'no transaction timed out waiting');
    const m = pool.getMetrics();
    assert.equal(m.granted, 16, 'one slot per transaction, none for the queries inside');
    assert.equal(m.peakActive, 3);
    assert.ok(monitor.peak <= 3, `server connections peaked at ${monitor.peak}`);
    const rows = await rowsByRequestId(`${id}-`);
    assert.equal(rows.size, 8);
    assert.ok([...rows.values()].every((n) => n === 2));

    // A transaction holds its one slot until it commits: with a gate of 3, three long ones
    // leave a fourth call queued.
    const gateOfOne = await gatedClient(t, via, { gate: 1, pg: pgPoolOptions });
    let inside;
    const seen = new Promise((resolve) => {
      inside = resolve;
    });
    let release;
    const held = new Promise((resolve) => {
      release = resolve;
    });
    const tx = gateOfOne.db.$transaction(async (txc) => {
      await txc.user.count();
      inside();
      await held;
      return txc.user.count();
    });
    await seen;
    const queued = gateOfOne.db.user.count().then((n) => n); // Prisma calls are lazy
    await new Promise((resolve) => setImmediate(resolve));
    assert.deepEqual(gateOfOne.pool.getPoolStats(), {
      activeConnections: 1,
      maxConnections: 1,
      queuedConnections: 1,
      availableConnections: 0,
    });
    release();
    assert.ok((await tx) >= 1000);
    assert.ok((await queued) >= 1000);
  });

  test(`${via}: nested calls run on the slot their caller holds`, {
    timeout: 60_000,
  }, async (t) => {
    const { pool, db, monitor } = await gatedClient(t, via, {
      gate: 1,
      pg: pgPoolOptions,
      queueTimeoutMs: 2_000,
    });
    // pool.run inside pool.run, with a gate of one: the inner call cannot wait for a slot.
    assert.equal(await pool.run(() => pool.run(async () => 'inner')), 'inner');
    // A wrapped Prisma call inside pool.run.
    const n = await pool.run(() => db.user.count());
    assert.ok(n >= 1000);
    // pool.run around a transaction's queries, inside the transaction.
    const inTx = await db.$transaction(async (tx) => pool.run(() => tx.user.count()));
    assert.equal(inTx, n);
    // A batch inside pool.run.
    const [c] = await pool.run(() => db.$transaction([db.user.count()]));
    assert.equal(c, n);
    const m = pool.getMetrics();
    assert.equal(m.granted, 4, 'each outer call took one slot, nested calls none');
    assert.equal(m.queueTimeouts, 0);
    assert.ok(monitor.peak <= 1);
    // Not nested: after the outer call settled, a call it left behind queues like any other.
    let later;
    await pool.run(async () => {
      later = () => pool.run(async () => pool.getPoolStats().activeConnections);
    });
    assert.equal(await later(), 1, 'a call made after its caller settled takes a slot of its own');
  });

  test(`${via}: a transaction is retried only as a whole, only when nothing was sent`, {
    timeout: 120_000,
  }, async (t) => {
    const { pool, db } = await gatedClient(t, via, {
      gate: 2,
      pg: pgPoolOptions,
      retry: { maxRetries: 3, delay: 50 },
    });
    const id = runId(`retry-${via}`);

    // The connection breaks inside the transaction, after an insert: "maybe sent", not retried;
    // the insert was rolled back, and the statement that failed ran once.
    let calls = 0;
    const err = await rejection(
      db.$transaction(async (tx) => {
        calls += 1;
        await tx.write.create({ data: { requestId: `${id}-broken`, label: 'retry' } });
        await tx.$executeRaw`SELECT pg_terminate_backend(pg_backend_pid())`;
      }),
    );
    assert.ok(err, 'the transaction failed');
    assert.equal(calls, 1, 'the callback ran once: a broken transaction is not retried');
    assert.equal(pool.getMetrics().retries, 0);
    assert.equal((await rowsByRequestId(`${id}-broken`)).size, 0, 'nothing committed');

    // The same in a batch: the batch is not retried, no statement of it is retried alone.
    const batchErr = await rejection(
      db.$transaction([
        db.write.create({ data: { requestId: `${id}-batch`, label: 'retry' } }),
        db.$executeRaw`SELECT pg_terminate_backend(pg_backend_pid())`,
      ]),
    );
    assert.ok(batchErr);
    assert.equal(pool.getMetrics().retries, 0);
    assert.equal((await rowsByRequestId(`${id}-batch`)).size, 0);

    // Marked idempotent, the whole transaction runs again, and commits once.
    let attempts = 0;
    await db.$transaction(
      async (tx) => {
        attempts += 1;
        await tx.write.create({ data: { requestId: `${id}-idem`, label: 'retry' } });
        if (attempts === 1) await tx.$executeRaw`SELECT pg_terminate_backend(pg_backend_pid())`;
      },
      { idempotent: true },
    );
    assert.equal(attempts, 2, 'retried as a whole');
    assert.equal(pool.getMetrics().retries, 1);
    assert.deepEqual([...(await rowsByRequestId(`${id}-idem`)).values()], [1], 'committed once');

    // Refused before anything was sent (the server has no slot left for the app's role):
    // retried as a whole, without being marked idempotent. A new client: pg's pool of the one
    // above keeps idle connections that would be reused.
    const fresh = await gatedClient(t, via, {
      gate: 2,
      pg: pgPoolOptions,
      retry: { maxRetries: 5, delay: 100 },
    });
    const hogs = [];
    const freeServer = () => Promise.all(hogs.splice(0).map((c) => c.end().catch(() => {})));
    t.after(freeServer);
    for (;;) {
      const c = new pg.Client({ connectionString: DATABASE_URL, application_name: 'poolgate-hog' });
      c.on('error', () => {});
      try {
        await c.connect();
        hogs.push(c);
      } catch {
        break; // 53300: the role's slots are all taken
      }
      assert.ok(hogs.length < 40, 'the server refused connections at some point');
    }
    const retriesBefore = fresh.pool.getMetrics().retries;
    let ran = 0;
    let settled = false;
    const tx = fresh.db
      .$transaction(async (txc) => {
        ran += 1;
        await txc.write.create({ data: { requestId: `${id}-refused`, label: 'retry' } });
      })
      .finally(() => {
        settled = true;
      });
    // Free the server once the first attempt has been refused and a retry is scheduled.
    for (
      let i = 0;
      i < 1000 && !settled && fresh.pool.getMetrics().retries === retriesBefore;
      i++
    ) {
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    const early = settled
      ? await tx.then(
          () => 'resolved',
          (e) => e,
        )
      : undefined;
    assert.equal(early, undefined, `settled before the server was freed: ${early?.stack ?? early}`);
    assert.ok(fresh.pool.getMetrics().retries > retriesBefore, 'the refused start was retried');
    await freeServer();
    await tx;
    assert.equal(ran, 1, 'the callback ran once, on the attempt that got a connection');
    assert.deepEqual([...(await rowsByRequestId(`${id}-refused`)).values()], [1]);
  });

  test(`${via}: pgPoolOptions sizes pg to the gate, and pg never waits forever`, {
    timeout: 60_000,
  }, async (t) => {
    const { pool, db, monitor } = await gatedClient(t, via, {
      gate: 2,
      pg: (p) => pgPoolOptions(p, { connectionTimeoutMillis: 1_000 }),
    });
    assert.deepEqual(pgPoolOptions(pool), { max: 2, connectionTimeoutMillis: 10_000 });
    const all = await Promise.all(range(40).map(() => db.user.count()));
    assert.equal(all.length, 40);
    assert.ok(monitor.peak <= 2);
    // Misuse: the outer client inside an interactive transaction needs a second pg connection
    // on the transaction's slot. pg's pool (max 2) has one left: fine. Two such transactions
    // at once take both, and the calls inside wait in pg: with pgPoolOptions' timeout they fail
    // instead of hanging.
    const misuse = () =>
      db.$transaction(async (tx) => {
        await tx.user.count();
        await new Promise((resolve) => setTimeout(resolve, 100));
        return db.user.count();
      });
    const settled = await Promise.allSettled([misuse(), misuse()]);
    const reasons = settled.filter((r) => r.status === 'rejected').map((r) => String(r.reason));
    assert.ok(reasons.length >= 1, 'at least one call waited in pg');
    assert.ok(
      reasons.every((r) =>
        /timeout exceeded when trying to connect|Unable to start a transaction/.test(r),
      ),
      reasons.join('\n'),
    );
  });

  test(`${via}: a ConnectionPool or a non-plain object as options is refused with a TypeError`, async (t) => {
    const { pool, prisma } = await gatedClient(t, via, { gate: 1 });
    const make =
      via === 'proxy'
        ? (o) => createPooledClient(prisma, o)
        : (o) => prisma.$extends(poolgateExtension(o));
    const name = via === 'proxy' ? 'createPooledClient' : 'poolgateExtension';
    assert.throws(
      () => make(pool),
      (e) =>
        e instanceof TypeError &&
        e.message.includes(via === 'proxy' ? `${name}(prisma, { pool })` : `${name}({ pool })`),
    );
    assert.throws(() => make(new Map([['pool', pool]])), /plain object/);
    assert.throws(() => make(new (class Options {})()), /plain object/);
    assert.throws(() => make({ pool, retries: 3 }), /unknown option "retries"/);
    assert.throws(() => make({ pool: {} }), /pool must be a ConnectionPool/);
    // The pool still works, and the right form does.
    const db = make({ pool });
    assert.ok((await db.user.count()) >= 1000);
    assert.equal(pool.getMetrics().granted, 1);
  });
}

test('Prisma.sql fragments and $queryRaw with a Sql object are gated too', {
  timeout: 30_000,
}, async (t) => {
  const { pool, db } = await gatedClient(t, 'extension', { gate: 1 });
  const rows = await db.$queryRaw(Prisma.sql`SELECT ${1}::int AS one`);
  assert.deepEqual(rows, [{ one: 1 }]);
  assert.equal(pool.getMetrics().granted, 1);
});
