// Prisma integration: every operation that takes a connection goes through the pool, found at
// run time (no hand-kept list of models): model operations, raw queries ($queryRaw,
// $queryRawUnsafe, $executeRaw, $executeRawUnsafe, $queryRawTyped) and transactions, batch and
// interactive. Two forms: a Proxy around a client (`createPooledClient`, the seed's
// `pooledPrisma`) and a client extension (`prisma.$extends(poolgateExtension({ pool }))`).
//
// A transaction takes one slot for its whole life, from its first statement to commit or
// rollback; the queries inside it run on that slot's connection and never ask the gate again
// (asking again is what deadlocked: the transaction held a pg connection, its queries waited for
// slots held by calls that waited for pg connections). A transaction is retried only as a whole,
// and only when the failure proves nothing was sent (or the caller marked it `idempotent`); a
// query inside one is never retried alone.

import { getDefaultPool } from './defaults.js';
import { checkRetryOptions } from './pool.js';
import { trackNestedCalls } from './context.js';
import { checkObject, describe } from './options.js';

/** Prisma model operations that only read: safe to retry after any connection failure. */
const READS = new Set([
  'findUnique',
  'findUniqueOrThrow',
  'findFirst',
  'findFirstOrThrow',
  'findMany',
  'count',
  'aggregate',
  'groupBy',
  'findRaw',
  'aggregateRaw',
]);

/** Client methods that run one statement. Raw SQL may write: retried only when not sent. */
const RAW_CALLS = new Set([
  '$queryRaw',
  '$queryRawUnsafe',
  '$executeRaw',
  '$executeRawUnsafe',
  '$queryRawTyped',
  '$runCommandRaw',
]);

const OPTIONS = ['pool', 'retry'];
/** poolgate's own key in `$transaction`'s options; the rest go to Prisma. */
const TX_IDEMPOTENT = 'idempotent';

function isPlainObject(v) {
  if (v === null || typeof v !== 'object') return false;
  const proto = Object.getPrototypeOf(v);
  return proto === Object.prototype || proto === null;
}

function looksLikePool(v) {
  return (
    v !== null &&
    typeof v === 'object' &&
    typeof v.run === 'function' &&
    typeof v.getPoolStats === 'function'
  );
}

/** Checks the integrations' options: `{ pool?, retry? }`, a plain object and nothing else. */
function settings(what, usage, options) {
  if (looksLikePool(options)) {
    throw new TypeError(
      `${what}: got a ConnectionPool where the options object goes; write ${usage} ` +
        '(the options are { pool, retry })',
    );
  }
  if (options !== undefined && !isPlainObject(options)) {
    throw new TypeError(
      `${what} options must be a plain object such as { pool, retry }, got ${describe(options)}` +
        (options !== null && typeof options === 'object' && !Array.isArray(options)
          ? ` (an instance of ${options.constructor?.name ?? 'a class'})`
          : ''),
    );
  }
  const o = checkObject(`${what} options`, options, OPTIONS);
  if (o.pool !== undefined && !looksLikePool(o.pool)) {
    throw new TypeError(`${what}: pool must be a ConnectionPool, got ${describe(o.pool)}`);
  }
  const pool = o.pool ?? getDefaultPool();
  // The seed retried every call with withRetryAndPool(op, 3, 1000); so do we, by default
  // (`true`: the core's default policy, 3 retries with a 1000 ms linear back-off).
  const retry = o.retry ?? true;
  if (typeof retry !== 'boolean') {
    if (!isPlainObject(retry)) {
      throw new TypeError(
        `${what}: retry must be true, false or { maxRetries, delay, ... }, got ${describe(retry)}`,
      );
    }
    checkRetryOptions(pool, retry); // throws now, not at the first query, when a setting is wrong
  }
  // Interactive transactions run user code while holding a slot: calls made from there must be
  // recognised as nested, not queued behind the slot they hold.
  trackNestedCalls();
  return { pool, retry };
}

function gate(s, idempotent, op) {
  return s.pool.run(op, { retry: s.retry, idempotent });
}

/**
 * Splits `$transaction`'s options into Prisma's and poolgate's (`idempotent: true` allows
 * retrying a transaction whose connection broke while it may have committed).
 */
function transactionOptions(options) {
  if (options === undefined || options === null || typeof options !== 'object') {
    return { prisma: options, idempotent: false };
  }
  if (!(TX_IDEMPOTENT in options)) return { prisma: options, idempotent: false };
  const { [TX_IDEMPOTENT]: idempotent, ...prisma } = options;
  if (typeof idempotent !== 'boolean') {
    throw new TypeError(
      `$transaction option idempotent must be a boolean, got ${describe(idempotent)}`,
    );
  }
  return { prisma: Object.keys(prisma).length ? prisma : undefined, idempotent };
}

/**
 * A transaction through the gate: one slot for the whole transaction. A batch
 * (`$transaction([...])`) is one statement list sent on one connection; an interactive one holds
 * its connection for the callback. `start(arg, options)` calls Prisma's own `$transaction`.
 */
function gatedTransaction(s, start, arg, options) {
  try {
    const { prisma, idempotent } = transactionOptions(options);
    return gate(s, idempotent, () => (prisma === undefined ? start(arg) : start(arg, prisma)));
  } catch (e) {
    return Promise.reject(e);
  }
}

/**
 * What a wrapped client's call returns: a lazy promise like Prisma's own (nothing runs until it
 * is awaited), that goes through the gate when awaited, and that `$transaction([...])` accepts:
 * inside a batch it hands Prisma its own promise, which then runs on the batch's slot.
 */
class GatedCall {
  #s;
  #read; // the operation only reads: retried after any connection failure
  #make;
  #raw;
  #promise;

  constructor(s, operation, make) {
    this.#s = s;
    this.#make = make;
    this.#read = READS.has(operation);
  }

  /** Prisma's own lazy promise for this call (made once). */
  #prisma() {
    this.#raw ??= this.#make();
    return this.#raw;
  }

  #run() {
    if (this.#promise === undefined) {
      let attempts = 0;
      // Prisma's promise keeps its first result: a retry needs a fresh one.
      const op = () => (attempts++ === 0 ? this.#prisma() : this.#make());
      this.#promise = gate(this.#s, this.#read, op);
    }
    return this.#promise;
  }

  /** Runs the call through the gate (once, however many times it is awaited). */
  // biome-ignore lint/suspicious/noThenProperty: a lazy promise like Prisma's own, on purpose
  then(onFulfilled, onRejected) {
    return this.#run().then(onFulfilled, onRejected);
  }

  /** As Promise#catch. */
  catch(onRejected) {
    return this.#run().catch(onRejected);
  }

  /** As Promise#finally. */
  finally(onFinally) {
    return this.#run().finally(onFinally);
  }

  /** Called by Prisma's `$transaction([...])`: the statement joins the batch, ungated. */
  requestTransaction(batch) {
    const raw = this.#prisma();
    return typeof raw?.requestTransaction === 'function' ? raw.requestTransaction(batch) : raw;
  }

  /** Prisma's request description, for tools that read it. */
  get spec() {
    return this.#prisma()?.spec;
  }

  /** What `$transaction([...])` checks for. */
  get [Symbol.toStringTag]() {
    return 'PrismaPromise';
  }
}

/**
 * Wraps a Prisma client so every model method (`prisma.user.findMany(...)`, for every model),
 * every raw query and every transaction runs through the pool, with retries of transient
 * connection failures (reads after any of them, writes only when the statement never reached
 * the server). Calls stay lazy like Prisma's, and can be passed to `$transaction([...])`.
 * Adds `getPoolStats()` and `$pool`.
 */
export function createPooledClient(prisma, options) {
  if (prisma === null || typeof prisma !== 'object') {
    throw new TypeError(`createPooledClient needs a Prisma client, got ${describe(prisma)}`);
  }
  if (looksLikePool(prisma)) {
    throw new TypeError(
      'createPooledClient: got a ConnectionPool first; write createPooledClient(prisma, { pool })',
    );
  }
  const s = settings('createPooledClient', 'createPooledClient(prisma, { pool })', options);
  const models = new Map();
  const wrapModel = (name, delegate) => {
    let wrapped = models.get(name);
    if (wrapped === undefined) {
      wrapped = new Proxy(delegate, {
        get(target, method, receiver) {
          const value = Reflect.get(target, method, receiver);
          if (typeof value !== 'function' || typeof method !== 'string') return value;
          return (...args) => new GatedCall(s, method, () => value.apply(target, args));
        },
      });
      models.set(name, wrapped);
    }
    return wrapped;
  };
  return new Proxy(prisma, {
    get(target, prop, receiver) {
      if (prop === 'getPoolStats') return () => s.pool.getPoolStats();
      if (prop === '$pool') return s.pool;
      const value = Reflect.get(target, prop, receiver);
      if (typeof prop !== 'string') return value;
      if (typeof value === 'function') {
        if (RAW_CALLS.has(prop)) {
          return (...args) => new GatedCall(s, prop, () => value.apply(target, args));
        }
        if (prop === '$transaction') {
          return (arg, txOptions) =>
            gatedTransaction(s, (...a) => value.apply(target, a), arg, txOptions);
        }
      }
      const isModel =
        !prop.startsWith('$') &&
        !prop.startsWith('_') &&
        value !== null &&
        typeof value === 'object' &&
        typeof value.findMany === 'function';
      return isModel ? wrapModel(prop, value) : value;
    },
  });
}

/**
 * A Prisma client extension doing the same: `prisma.$extends(poolgateExtension({ pool }))`.
 * Every model operation and raw query is gated (a top-level `$allOperations` query hook, which
 * sees both); `$transaction` takes one slot for the whole transaction, and the queries inside it
 * (which Prisma also passes through the hook) run on it. Adds `$poolStats()` to the client.
 * Add it last (`prisma.$extends(other).$extends(poolgateExtension({ pool }))`): a transaction
 * runs on the client poolgate extended, so extensions added after it do not apply inside.
 */
export function poolgateExtension(options) {
  const s = settings('poolgateExtension', 'prisma.$extends(poolgateExtension({ pool }))', options);
  return (client) => {
    if (client === null || typeof client !== 'object' || typeof client.$extends !== 'function') {
      throw new TypeError(
        `poolgateExtension: use it as prisma.$extends(poolgateExtension({ pool })), got ${describe(client)}`,
      );
    }
    const baseTransaction = client.$transaction.bind(client);
    return client.$extends({
      name: 'poolgate',
      query: {
        $allOperations({ operation, args, query, __internalParams }) {
          // A statement of a batch or interactive transaction: the transaction holds the slot.
          if (__internalParams?.transaction != null) return query(args);
          return gate(s, READS.has(operation), () => query(args));
        },
      },
      client: {
        $poolStats() {
          return s.pool.getPoolStats();
        },
        $transaction(arg, txOptions) {
          return gatedTransaction(s, baseTransaction, arg, txOptions);
        },
      },
    });
  };
}

/**
 * Options for node-postgres's pool (`new PrismaPg({ connectionString, ...pgPoolOptions(pool) })`)
 * that agree with the gate: `max` equal to the gate's `maxConnections`, so every caller the gate
 * lets through finds a connection, and a finite `connectionTimeoutMillis` (pg's default 0 waits
 * forever, outside poolgate's timeout and stats) so a caller that does wait in pg (a connection
 * slow to open, or one held past the gate) gets an error instead of hanging.
 */
export function pgPoolOptions(pool, options) {
  if (!looksLikePool(pool)) {
    throw new TypeError(`pgPoolOptions needs a ConnectionPool, got ${describe(pool)}`);
  }
  const o = checkObject('pgPoolOptions options', options, ['connectionTimeoutMillis']);
  const connectionTimeoutMillis = o.connectionTimeoutMillis ?? 10_000;
  if (
    typeof connectionTimeoutMillis !== 'number' ||
    !Number.isInteger(connectionTimeoutMillis) ||
    connectionTimeoutMillis < 1
  ) {
    throw new RangeError(
      `connectionTimeoutMillis must be an integer number of milliseconds from 1, got ${describe(connectionTimeoutMillis)}`,
    );
  }
  return { max: pool.getPoolStats().maxConnections, connectionTimeoutMillis };
}
