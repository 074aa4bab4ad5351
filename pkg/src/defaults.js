// The default pool behind the seed-compatible free functions, created on first use so that
// importing poolgate costs nothing until it is used.

import { ConnectionPool } from './pool.js';

let defaultPool = null;

/** The pool used by the free functions (10 connections unless replaced). */
export function getDefaultPool() {
  defaultPool ??= new ConnectionPool();
  return defaultPool;
}

/** Replaces the default pool, e.g. `setDefaultPool(new ConnectionPool({ maxConnections: 15 }))`. */
export function setDefaultPool(pool) {
  if (!(pool instanceof ConnectionPool)) {
    throw new TypeError('setDefaultPool needs a ConnectionPool');
  }
  defaultPool = pool;
}

/** The seed's `withConnectionPool(op, timeout = 30000)`, on the default pool (same defaults). */
export function withConnectionPool(op, timeout) {
  return getDefaultPool().withConnectionPool(op, timeout);
}

/** The seed's `withRetryAndPool(op, maxRetries = 3, delay = 1000)`, on the default pool (same defaults). */
export function withRetryAndPool(op, maxRetries, delay, options) {
  return getDefaultPool().withRetryAndPool(op, maxRetries, delay, options);
}

/** The default pool's `{ activeConnections, maxConnections, queuedConnections, availableConnections }`. */
export function getPoolStats() {
  return getDefaultPool().getPoolStats();
}
