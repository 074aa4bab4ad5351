// The public API, shared by every runtime entry point. Entries load the wasm their runtime's
// way, then re-export this module.

export { ConnectionPool } from './pool.js';
export {
  getDefaultPool,
  setDefaultPool,
  withConnectionPool,
  withRetryAndPool,
  getPoolStats,
} from './defaults.js';
export { createPooledClient, poolgateExtension, pgPoolOptions } from './prisma.js';
export { trackNestedCalls } from './context.js';
export { classify, isTransientError } from './classify.js';
export {
  PoolgateError,
  QueueFullError,
  QueueTimeoutError,
  OperationTimeoutError,
  PoolClosedError,
  WouldTimeOutError,
} from './errors.js';
export { sizeFleet } from './sizing.js';
