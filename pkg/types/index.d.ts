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
  /** Present when the pool has a `fleet` option. */
  fleet?: FleetMetrics;
}

/** Where a fleet lease stands (`getMetrics().fleet`). */
export interface FleetMetrics {
  /** `joining` (no answer from the store yet), `leased`, or `fallback` (store unreachable). */
  mode: 'joining' | 'leased' | 'fallback';
  /** Slots the store counts for this instance. */
  held: number;
  /** Slots the gate may use now. */
  usable: number;
  requests: number;
  failures: number;
  fallbacks: number;
  /** Other instances whose callers wait, at the last answer. */
  othersWaiting: number;
  /** Instances sharing the key, at the last answer. */
  instances: number;
  /** Message of the last store failure, or null. */
  lastError: string | null;
}

/** One limit for every pool that shares `key` in Redis. */
export interface FleetOptions {
  /** A connected node-redis or ioredis client, or an Upstash `Redis` (`@upstash/redis`). */
  store: unknown;
  /** Names the limit shared by the fleet, e.g. 'db-main'. */
  key: string;
  /** Slots the whole fleet may hold at once. */
  limit: number;
  /** Lease time in ms; a crashed instance's slots return within it. Default 10,000. */
  leaseMs?: number;
  /** Local limit while the store is unreachable and no lease is valid. Default 1. */
  fallbackMaxConnections?: number;
  /** Slots leased at a time. Default a quarter of maxConnections (at least 1). */
  block?: number;
  /** How often a waiting instance asks again, ms. Default 100. */
  pollMs?: number;
  /** A store call slower than this counts as failed, ms. Default min(1000, leaseMs / 4). */
  requestTimeoutMs?: number;
  /** Back-off between attempts after a failure, ms. Default 500. */
  retryMs?: number;
  /** Close idle connections beyond `keep` (called before every lease change and after answers). */
  trimConnections?: (keep: number) => unknown;
  /** Called when the mode changes (e.g. to 'fallback' when Redis is unreachable). */
  onStateChange?: (change: { from: string; to: string; error: unknown }) => void;
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
  /** Lease slots from Redis so every instance sharing `fleet.key` stays within `fleet.limit`. */
  fleet?: FleetOptions;
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

/** Wraps a Prisma client: every model method and raw query runs through the pool. */
export declare function createPooledClient<C extends object>(
  prisma: C,
  options?: PrismaOptions,
): C & { getPoolStats(): PoolStats; readonly $pool: ConnectionPool };

/** A Prisma client extension: `prisma.$extends(poolgateExtension({ pool }))`. */
export declare function poolgateExtension(options?: PrismaOptions): {
  name: 'poolgate';
  query: {
    $allModels: {
      $allOperations(params: {
        model?: string;
        operation: string;
        args: unknown;
        query: (args: unknown) => Promise<unknown>;
      }): Promise<unknown>;
    };
  };
  client: { $poolStats(): PoolStats };
};

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
