// createPooledClient and poolgateExtension: model discovery, gating and the retry rules. The
// client here is a plain object with Prisma's shape (model delegates with methods, `$` methods),
// which tests the wrapping logic only; the real Prisma 7 client is exercised by the tests of
// the Prisma issue against a real PostgreSQL.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ConnectionPool, createPooledClient, poolgateExtension } from 'poolgate';
import { deferred, tick } from './helpers.mjs';

/** A client-shaped object whose every model method records calls and waits to be released. */
function clientShape(models) {
  const pending = [];
  const calls = [];
  const client = { $connect: async () => {}, _engine: {} };
  for (const model of models) {
    client[model] = {};
    for (const method of ['findMany', 'findUnique', 'create', 'update', 'delete', 'count']) {
      client[model][method] = (args) => {
        calls.push(`${model}.${method}`);
        const d = deferred();
        pending.push(d);
        return d.promise.then(() => ({ model, method, args }));
      };
    }
  }
  client.$queryRaw = () => Promise.resolve([{ one: 1 }]);
  return { client, pending, calls };
}

test('every method of every model goes through the pool', async () => {
  const pool = new ConnectionPool({ maxConnections: 2 });
  const { client, pending, calls } = clientShape(['user', 'post', 'auditLog']);
  const db = createPooledClient(client, { pool, retry: false });
  const results = [
    db.user.findMany({ take: 1 }),
    db.post.create({ data: {} }),
    db.auditLog.count(),
    db.user.delete({ where: { id: 1 } }),
  ];
  assert.equal(calls.length, 2, 'only two run at once');
  assert.deepEqual(db.getPoolStats(), {
    activeConnections: 2,
    maxConnections: 2,
    queuedConnections: 2,
    availableConnections: 0,
  });
  while (pending.length) {
    pending.shift().resolve();
    await tick();
  }
  const settled = await Promise.all(results);
  assert.deepEqual(
    settled.map((r) => `${r.model}.${r.method}`),
    ['user.findMany', 'post.create', 'auditLog.count', 'user.delete'],
  );
  assert.deepEqual(await db.$queryRaw`SELECT 1`, [{ one: 1 }]);
  assert.equal(db.$pool, pool);
  assert.equal(typeof db.$connect, 'function', 'other client members pass through');
  assert.equal(pool.getMetrics().granted, 5);
});

test('reads are retried after a broken connection, writes are not', async () => {
  const pool = new ConnectionPool({ maxConnections: 4 });
  let reads = 0;
  let writes = 0;
  const broken = () => Promise.reject(new Error('Connection terminated unexpectedly'));
  const client = {
    user: {
      findMany: () => (++reads === 1 ? broken() : Promise.resolve(['ok'])),
      create: () => {
        writes++;
        return broken();
      },
    },
  };
  const db = createPooledClient(client, { pool, retry: { maxRetries: 3, delay: 1 } });
  assert.deepEqual(await db.user.findMany(), ['ok']);
  assert.equal(reads, 2);
  await assert.rejects(db.user.create({ data: {} }), /terminated/);
  assert.equal(writes, 1, 'a write that may have committed is never re-run');
});

test('the client extension gates $allOperations the same way', async () => {
  const pool = new ConnectionPool({ maxConnections: 1 });
  const ext = poolgateExtension({ pool, retry: false });
  assert.equal(ext.name, 'poolgate');
  const hold = deferred();
  const run = (operation, query) =>
    ext.query.$allModels.$allOperations({ model: 'User', operation, args: {}, query });
  const first = run('findMany', () => hold.promise);
  const second = run('create', async () => 'created');
  assert.deepEqual(ext.client.$poolStats().queuedConnections, 1);
  hold.resolve('found');
  assert.deepEqual(await Promise.all([first, second]), ['found', 'created']);
  assert.throws(() => poolgateExtension({ pool: {} }), TypeError);
  assert.throws(() => createPooledClient(null), TypeError);
});
