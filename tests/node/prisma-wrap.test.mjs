// createPooledClient and poolgateExtension: model discovery, gating, lazy calls, transactions,
// the retry rules and argument checks. The client here is a plain object with Prisma's shape
// (model delegates with methods, `$` methods, lazy promises tagged "PrismaPromise"), which tests
// the wrapping logic only; the real Prisma 7 client is exercised in tests/prisma (paths,
// mixed-burst) against a real PostgreSQL.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  ConnectionPool,
  createPooledClient,
  pgPoolOptions,
  poolgateExtension,
  QueueFullError,
  QueueTimeoutError,
  OperationTimeoutError,
  PoolClosedError,
  PoolgateError,
} from 'poolgate';
import { deferred, tick } from './helpers.mjs';

/** A lazy promise like Prisma's: `run` starts on the first then; batches call requestTransaction. */
function prismaPromise(run) {
  let started;
  const start = () => {
    started ??= Promise.resolve().then(run);
    return started;
  };
  return {
    // biome-ignore lint/suspicious/noThenProperty: a lazy promise like Prisma's, on purpose
    then: (a, b) => start().then(a, b),
    catch: (b) => start().catch(b),
    finally: (f) => start().finally(f),
    requestTransaction: () => start(),
    [Symbol.toStringTag]: 'PrismaPromise',
  };
}

/** A client-shaped object whose every model method records calls and waits to be released. */
function clientShape(models) {
  const pending = [];
  const calls = [];
  const client = { $connect: async () => {}, _engine: {} };
  for (const model of models) {
    client[model] = {};
    for (const method of ['findMany', 'findUnique', 'create', 'update', 'delete', 'count']) {
      client[model][method] = (args) =>
        prismaPromise(() => {
          calls.push(`${model}.${method}`);
          const d = deferred();
          pending.push(d);
          return d.promise.then(() => ({ model, method, args }));
        });
    }
  }
  client.$queryRaw = () => prismaPromise(() => [{ one: 1 }]);
  client.$transaction = (arg) => {
    calls.push('$transaction');
    if (Array.isArray(arg)) {
      if (!arg.every((p) => p?.[Symbol.toStringTag] === 'PrismaPromise')) {
        return Promise.reject(
          new Error('All elements of the array need to be Prisma Client promises'),
        );
      }
      return Promise.all(arg.map((p) => p.requestTransaction()));
    }
    return Promise.resolve().then(() => arg(client));
  };
  return { client, pending, calls };
}

test('every method of every model goes through the pool, lazily like Prisma', async () => {
  const pool = new ConnectionPool({ maxConnections: 2 });
  const { client, pending, calls } = clientShape(['user', 'post', 'auditLog']);
  const db = createPooledClient(client, { pool, retry: false });
  const lazy = db.user.findMany({ take: 1 });
  await tick();
  assert.equal(calls.length, 0, 'nothing runs until awaited');
  assert.equal(pool.getMetrics().submitted, 0);
  const results = [
    lazy.then((r) => r),
    db.post.create({ data: {} }).then((r) => r),
    db.auditLog.count().then((r) => r),
    db.user.delete({ where: { id: 1 } }).then((r) => r),
  ];
  await tick();
  assert.equal(calls.length, 2, 'only two run at once');
  assert.deepEqual(db.getPoolStats(), {
    activeConnections: 2,
    maxConnections: 2,
    queuedConnections: 2,
    availableConnections: 0,
  });
  while (pending.length || calls.length < 4) {
    pending.shift()?.resolve();
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

test('a batch $transaction of the wrapped calls is accepted and takes one slot', async () => {
  const pool = new ConnectionPool({ maxConnections: 1 });
  const { client, pending } = clientShape(['user']);
  const db = createPooledClient(client, { pool, retry: false });
  const batch = db.$transaction([db.user.count(), db.user.findMany()]);
  for (let i = 0; i < 10 && pending.length < 2; i++) await tick();
  assert.equal(pending.length, 2, 'both statements run inside the one slot');
  for (const d of pending.splice(0)) d.resolve();
  const [a, b] = await batch;
  assert.equal(a.method, 'count');
  assert.equal(b.method, 'findMany');
  assert.equal(pool.getMetrics().granted, 1);
});

test('an interactive $transaction takes one slot; its idempotent option is poolgate own', async () => {
  const pool = new ConnectionPool({ maxConnections: 1 });
  const { client } = clientShape(['user']);
  let seen;
  client.$transaction = (fn, options) => {
    seen = options;
    return Promise.resolve().then(() => fn(client));
  };
  const db = createPooledClient(client, { pool, retry: false });
  const inside = await db.$transaction(async () => pool.getPoolStats().activeConnections, {
    timeout: 5000,
    idempotent: true,
  });
  assert.equal(inside, 1);
  assert.deepEqual(seen, { timeout: 5000 }, 'Prisma gets its own options only');
  await assert.rejects(
    db.$transaction(async () => 1, { idempotent: 'yes' }),
    TypeError,
  );
});

test('reads are retried after a broken connection, writes are not', async () => {
  const pool = new ConnectionPool({ maxConnections: 4 });
  let reads = 0;
  let writes = 0;
  const broken = () => Promise.reject(new Error('Connection terminated unexpectedly'));
  const client = {
    user: {
      findMany: () => prismaPromise(() => (++reads === 1 ? broken() : ['ok'])),
      create: () =>
        prismaPromise(() => {
          writes++;
          return broken();
        }),
    },
  };
  const db = createPooledClient(client, { pool, retry: { maxRetries: 3, delay: 1 } });
  assert.deepEqual(await db.user.findMany(), ['ok']);
  assert.equal(reads, 2, 'the retry made a fresh Prisma promise');
  await assert.rejects(db.user.create({ data: {} }), /terminated/);
  assert.equal(writes, 1, 'a write that may have committed is never re-run');
});

/** What `client.$extends` receives, from a client that hands the definition back. */
function extensionOf(options, transaction) {
  const client = {
    $extends: (definition) => definition,
    $transaction: transaction ?? (async (arg) => (typeof arg === 'function' ? arg({}) : arg)),
  };
  return poolgateExtension(options)(client);
}

test('the client extension gates every operation, but not the statements of a transaction', async () => {
  const pool = new ConnectionPool({ maxConnections: 1 });
  const ext = extensionOf({ pool, retry: false });
  assert.equal(ext.name, 'poolgate');
  const hold = deferred();
  const run = (operation, query, transaction) =>
    ext.query.$allOperations({
      model: 'User',
      operation,
      args: {},
      query,
      __internalParams: { transaction },
    });
  const first = run('findMany', () => hold.promise);
  const second = run('$queryRaw', async () => 'raw');
  assert.equal(ext.client.$poolStats().queuedConnections, 1);
  // A statement of a transaction runs on the transaction's slot: not queued behind `first`.
  assert.equal(await run('create', async () => 'in batch', { kind: 'batch' }), 'in batch');
  hold.resolve('found');
  assert.deepEqual(await Promise.all([first, second]), ['found', 'raw']);
  assert.equal(pool.getMetrics().granted, 2);
});

test('the client extension runs $transaction on the base client, holding one slot', async () => {
  const pool = new ConnectionPool({ maxConnections: 1 });
  const calls = [];
  const ext = extensionOf({ pool, retry: false }, async (arg, options) => {
    calls.push([Array.isArray(arg) ? 'batch' : 'interactive', options]);
    return pool.getPoolStats().activeConnections;
  });
  assert.equal(await ext.client.$transaction([1, 2]), 1);
  assert.equal(await ext.client.$transaction(async () => {}, { maxWait: 10 }), 1);
  assert.deepEqual(calls, [
    ['batch', undefined],
    ['interactive', { maxWait: 10 }],
  ]);
  assert.throws(() => poolgateExtension({ pool })({}), /prisma\.\$extends/);
});

test('wrong arguments: a pool where the options go, non-plain options, a bad pool or retry', () => {
  const pool = new ConnectionPool({ maxConnections: 1 });
  const { client } = clientShape(['user']);
  assert.throws(() => poolgateExtension(pool), {
    name: 'TypeError',
    message: /write prisma\.\$extends\(poolgateExtension\(\{ pool \}\)\)/,
  });
  assert.throws(() => createPooledClient(client, pool), {
    name: 'TypeError',
    message: /write createPooledClient\(prisma, \{ pool \}\)/,
  });
  assert.throws(() => createPooledClient(pool), /createPooledClient\(prisma, \{ pool \}\)/);
  for (const bad of [new Map(), new (class Options {})(), [pool], 'pool', 3, null]) {
    assert.throws(() => poolgateExtension(bad), TypeError);
    assert.throws(() => createPooledClient(client, bad), TypeError);
  }
  assert.throws(() => poolgateExtension({ pool: {} }), /pool must be a ConnectionPool/);
  assert.throws(() => poolgateExtension({ pool, retry: 'yes' }), /retry must be/);
  assert.throws(() => poolgateExtension({ pool, retry: { maxRetries: -1 } }), RangeError);
  assert.throws(() => poolgateExtension({ pools: pool }), /unknown option "pools"/);
  assert.throws(() => createPooledClient(null), TypeError);
  // Object.create(null) is a plain object too.
  const bare = Object.assign(Object.create(null), { pool });
  assert.equal(typeof poolgateExtension(bare), 'function');
});

test('pgPoolOptions sizes pg to the gate with a finite connection timeout', () => {
  const pool = new ConnectionPool({ maxConnections: 7 });
  assert.deepEqual(pgPoolOptions(pool), { max: 7, connectionTimeoutMillis: 10_000 });
  assert.deepEqual(pgPoolOptions(pool, { connectionTimeoutMillis: 500 }), {
    max: 7,
    connectionTimeoutMillis: 500,
  });
  assert.throws(() => pgPoolOptions({}), TypeError);
  assert.throws(() => pgPoolOptions(pool, { connectionTimeoutMillis: 0 }), RangeError);
  assert.throws(() => pgPoolOptions(pool, { max: 3 }), /unknown option "max"/);
});

test('error classes carry their names as strings, not from the (minifiable) class name', () => {
  const stats = {
    activeConnections: 1,
    maxConnections: 1,
    queuedConnections: 0,
    availableConnections: 0,
  };
  const made = [
    new QueueFullError(stats, 1),
    new QueueTimeoutError(stats, 5),
    new OperationTimeoutError(stats),
    new PoolClosedError(),
  ];
  assert.deepEqual(
    made.map((e) => [e.name, Object.hasOwn(e, 'name'), e instanceof PoolgateError]),
    [
      ['QueueFullError', true, true],
      ['QueueTimeoutError', true, true],
      ['OperationTimeoutError', true, true],
      ['PoolClosedError', true, true],
    ],
  );
});
