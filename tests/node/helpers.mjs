// Small shared helpers for the package tests.
import assert from 'node:assert/strict';

export const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** A promise with its resolve/reject exposed: an operation the test finishes by hand. */
export function deferred() {
  let resolve;
  let reject;
  const promise = new Promise((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

/** Lets pending promise callbacks run. */
export const tick = () => new Promise((resolve) => setImmediate(resolve));

/** Asserts the seed's four numbers. */
export function assertStats(pool, active, queued) {
  const s = pool.getPoolStats();
  assert.deepEqual(Object.keys(s).sort(), [
    'activeConnections',
    'availableConnections',
    'maxConnections',
    'queuedConnections',
  ]);
  assert.equal(s.activeConnections, active, 'activeConnections');
  assert.equal(s.queuedConnections, queued, 'queuedConnections');
  assert.equal(s.availableConnections, Math.max(0, s.maxConnections - active));
}

/** An error shaped like the ones Prisma 7 throws (see shared/TOOLCHAIN.md). */
export function prismaError(code, message, cause) {
  const e = new Error(message);
  e.name = 'PrismaClientKnownRequestError';
  e.code = code;
  if (cause) e.meta = { driverAdapterError: { cause } };
  return e;
}
