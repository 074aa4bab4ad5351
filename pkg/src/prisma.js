// Prisma integration: every model method of every model goes through the pool, found at run
// time (no hand-kept list of models or methods), either by wrapping a client in a Proxy
// (`createPooledClient`, the seed's `pooledPrisma`) or as a client extension
// (`prisma.$extends(poolgateExtension())`, the idiomatic way).

import { checkObject } from './options.js';
import { getDefaultPool } from './defaults.js';

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

/** Client methods that use a connection and are not model methods. */
const CLIENT_CALLS = new Set([
  '$queryRaw',
  '$queryRawUnsafe',
  '$executeRaw',
  '$executeRawUnsafe',
  '$transaction',
]);

const OPTIONS = ['pool', 'retry'];

function settings(options) {
  const o = checkObject('Prisma options', options, OPTIONS);
  const pool = o.pool ?? getDefaultPool();
  if (typeof pool?.run !== 'function') {
    throw new TypeError('pool must be a ConnectionPool');
  }
  // The seed retried every call with withRetryAndPool(op, 3, 1000); so do we, by default
  // (`true`: the core's default policy, 3 retries with a 1000 ms linear back-off).
  const retry = o.retry ?? true;
  return { pool, retry };
}

function gated(pool, retry, operation, call) {
  return pool.run(call, { retry, idempotent: READS.has(operation) });
}

/**
 * Wraps a Prisma client so every model method (`prisma.user.findMany(...)`, for every model) and
 * every raw query or transaction runs through the pool, with retries of transient connection
 * failures (reads after any of them, writes only when the statement never reached the server).
 * Adds `getPoolStats()` and `$pool`.
 */
export function createPooledClient(prisma, options) {
  if (prisma === null || typeof prisma !== 'object') {
    throw new TypeError('createPooledClient needs a Prisma client');
  }
  const { pool, retry } = settings(options);
  const models = new Map();
  const wrapModel = (name, delegate) => {
    let wrapped = models.get(name);
    if (wrapped === undefined) {
      wrapped = new Proxy(delegate, {
        get(target, method, receiver) {
          const value = Reflect.get(target, method, receiver);
          if (typeof value !== 'function' || typeof method !== 'string') return value;
          return (...args) => gated(pool, retry, method, () => value.apply(target, args));
        },
      });
      models.set(name, wrapped);
    }
    return wrapped;
  };
  return new Proxy(prisma, {
    get(target, prop, receiver) {
      if (prop === 'getPoolStats') return () => pool.getPoolStats();
      if (prop === '$pool') return pool;
      const value = Reflect.get(target, prop, receiver);
      if (typeof prop !== 'string') return value;
      if (CLIENT_CALLS.has(prop) && typeof value === 'function') {
        return (...args) => gated(pool, retry, prop, () => value.apply(target, args));
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
 * Adds `$poolStats()` to the client.
 */
export function poolgateExtension(options) {
  const { pool, retry } = settings(options);
  return {
    name: 'poolgate',
    query: {
      $allModels: {
        $allOperations({ operation, args, query }) {
          return gated(pool, retry, operation, () => query(args));
        },
      },
    },
    client: {
      $poolStats() {
        return pool.getPoolStats();
      },
    },
  };
}
