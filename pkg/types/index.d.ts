// Types of the `poolgate` package (every entry point shares them).

/** The old wrapper's four numbers, unchanged. */
export interface PoolStats {
  /** Slots held right now, including zombies (timed-out operations still running). */
  activeConnections: number;
  /** The current limit. */
  maxConnections: number;
  /** Callers waiting for a slot. */
  queuedConnections: number;
  /** Free slots: `maxConnections - activeConnections`, never negative. */
  availableConnections: number;
}

/** Durations summarised as percentiles, in milliseconds. */
export interface Percentiles {
  count: number;
  p50Ms: number;
  p95Ms: number;
  p99Ms: number;
  maxMs: number;
}

/** Everything else the pool counts. */
export interface PoolMetrics {
  submitted: number;
  granted: number;
  succeeded: number;
  failed: number;
  rejectedFull: number;
  queueTimeouts: number;
  operationTimeouts: number;
  aborted: number;
  rejectedClosed: number;
  retries: number;
  /** Slots held by operations whose caller was already rejected (timeout or abort). */
  zombies: number;
  /** Retry back-offs in progress. */
  sleeping: number;
  peakActive: number;
  peakQueued: number;
  closed: boolean;
  /** Time from submission to grant. */
  wait: Percentiles;
  /**
   * Time from grant to release. Uncontended calls with no options take a clock-free path that
   * reads no clock, so only one such call in 32 is timed here; every other call is.
   */
  hold: Percentiles;
}

export interface PoolOptions {
  /** Operations allowed at once: an integer from 1 to 1,000,000. Default 10. */
  maxConnections?: number;
  /** Waiters allowed; past it calls reject at once with QueueFullError. 0 to 16,777,216. Default 10,000. */
  maxQueue?: number;
  /** Longest wait for a slot in ms (0: do not wait; Infinity: forever). Default 10,000. */
  queueTimeoutMs?: number;
  /** Default operation timeout in ms (1 to 2,147,483,647, or Infinity). Default Infinity. */
  operationTimeoutMs?: number;
  /** Free the slot when an operation times out although its query may still run. Default false. */
  releaseOnTimeout?: boolean;
}

export interface RetryOptions {
  /** Retries after the first attempt: 0 to 1000. Default 3. */
  maxRetries?: number;
  /** Base back-off in ms; the n-th retry waits `delay * n`. Default 1000. */
  delay?: number;
  /** Cap on one back-off, in ms. */
  maxDelayMs?: number;
  /** Fraction (0 to 1) of each back-off that may be randomly cut. Default 0. */
  jitter?: number;
  /** Overall budget in ms (at least 1) for every attempt and back-off together. */
  deadlineMs?: number;
}

export interface RunOptions {
  /** Aborting rejects the call at once; a queued call leaves the queue. */
  signal?: AbortSignal;
  /** Operation timeout for this call, in ms (Infinity: none). */
  timeoutMs?: number;
  /** The operation may safely run twice (a read, or a write with its own idempotency key). */
  idempotent?: boolean;
  /** Retry transient connection failures (`true` for the defaults). */
  retry?: boolean | RetryOptions;
}

export declare class ConnectionPool {
  constructor(options?: PoolOptions);
  /** Runs `op` once a slot is free, in arrival order, and returns its result. */
  run<T>(op: () => T | PromiseLike<T>, options?: RunOptions): Promise<T>;
  /** The old wrapper's `withConnectionPool(op, timeout = 30000)`, on this pool. */
  withConnectionPool<T>(op: () => T | PromiseLike<T>, timeout?: number): Promise<T>;
  /** The old wrapper's `withRetryAndPool(op, maxRetries = 3, delay = 1000)`, on this pool. */
  withRetryAndPool<T>(
    op: () => T | PromiseLike<T>,
    maxRetries?: number,
    delay?: number,
    options?: Omit<RunOptions, 'retry'> & Omit<RetryOptions, 'maxRetries' | 'delay'>,
  ): Promise<T>;
  getPoolStats(): PoolStats;
  getMetrics(): PoolMetrics;
  /** Changes the limit while running. */
  setMaxConnections(maxConnections: number): void;
  /** Rejects every waiting caller with PoolClosedError and refuses new work. */
  close(): void;
}

export declare function getDefaultPool(): ConnectionPool;
export declare function setDefaultPool(pool: ConnectionPool): void;
export declare function withConnectionPool<T>(
  op: () => T | PromiseLike<T>,
  timeout?: number,
): Promise<T>;
export declare function withRetryAndPool<T>(
  op: () => T | PromiseLike<T>,
  maxRetries?: number,
  delay?: number,
  options?: Omit<RunOptions, 'retry'> & Omit<RetryOptions, 'maxRetries' | 'delay'>,
): Promise<T>;
export declare function getPoolStats(): PoolStats;

export interface PrismaOptions {
  /** The pool to use (default: the default pool). */
  pool?: ConnectionPool;
  /** Retry settings (default `{ maxRetries: 3, delay: 1000 }`; `false` to disable). */
  retry?: boolean | RetryOptions;
}

/**
 * Wraps a Prisma client: every model method, raw query (`$queryRaw`, `$queryRawUnsafe`,
 * `$executeRaw`, `$executeRawUnsafe`, `$queryRawTyped`) and transaction runs through the pool.
 * Calls stay lazy like Prisma's and can be passed to `$transaction([...])`; a transaction takes
 * one slot for its whole life. `$transaction`'s options also take `idempotent: true`.
 */
export declare function createPooledClient<C extends object>(
  prisma: C,
  options?: PrismaOptions,
): C & { getPoolStats(): PoolStats; readonly $pool: ConnectionPool };

/**
 * A Prisma client extension, in Prisma's function form:
 * `prisma.$extends(poolgateExtension({ pool }))`. Gates model operations and raw queries (a
 * top-level `$allOperations` hook) and `$transaction` (one slot per transaction; the statements
 * inside run on it). Adds `$poolStats()`. Add it last among your extensions.
 */
export declare function poolgateExtension(options?: PrismaOptions): PoolgateExtension;

/**
 * What `poolgateExtension()` returns: Prisma's function form of an extension. Typed the way
 * Prisma's `$extends` reads it, so the extended client keeps its model types and gains
 * `$poolStats()` (Prisma calls `client` entries as `() => method`).
 */
export type PoolgateExtension = (client: any) => {
  $extends: {
    extArgs: {
      result: {};
      model: {};
      query: {};
      client: { $poolStats: () => () => PoolStats };
    };
  };
};

/**
 * Options for node-postgres's pool that agree with the gate, for
 * `new PrismaPg({ connectionString, ...pgPoolOptions(pool) })`: `max` equal to the gate's
 * `maxConnections`, and a finite `connectionTimeoutMillis` (default 10,000; pg's own default
 * of 0 waits forever).
 */
export declare function pgPoolOptions(
  pool: ConnectionPool,
  options?: { connectionTimeoutMillis?: number },
): { max: number; connectionTimeoutMillis: number };

/**
 * Turns on nested-call detection (AsyncLocalStorage) for every pool of the process, so a call
 * made inside an operation holding a slot of the same pool runs on that slot. On already when
 * a Prisma integration exists or in Next.js. Returns false where the runtime has no
 * AsyncLocalStorage (nested calls then queue like any other).
 */
export declare function trackNestedCalls(): boolean;

export type ErrorClass = 'permanent' | 'not-sent' | 'maybe-sent';
/** How poolgate treats an error when retrying. */
export declare function classify(error: unknown): ErrorClass;
/** Whether an error is a transient connection failure. */
export declare function isTransientError(error: unknown): boolean;

export declare class PoolgateError extends Error {
  readonly code: string;
  readonly poolStats?: PoolStats;
}
export declare class QueueFullError extends PoolgateError {
  readonly code: 'POOLGATE_QUEUE_FULL';
  readonly maxQueue: number;
}
export declare class QueueTimeoutError extends PoolgateError {
  readonly code: 'POOLGATE_QUEUE_TIMEOUT';
  readonly waitedMs: number;
}
export declare class OperationTimeoutError extends PoolgateError {
  readonly code: 'POOLGATE_OPERATION_TIMEOUT';
}
export declare class PoolClosedError extends PoolgateError {
  readonly code: 'POOLGATE_CLOSED';
}
