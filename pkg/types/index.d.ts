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
  /** Alert rules (off by default): `true` for the defaults, or thresholds. Alerts reach `pool.on('alert', ...)`. */
  alerts?: boolean | AlertOptions;
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
  /** Listens to an event of the pool (see `PoolEventMap`). */
  on<K extends keyof PoolEventMap>(name: K, listener: (event: PoolEventMap[K]) => void): void;
  /** Stops listening. */
  off<K extends keyof PoolEventMap>(name: K, listener: (event: PoolEventMap[K]) => void): void;
}

/** One settled operation, as the 'release' event reports it (only measured while listened to). */
export interface ReleaseEvent {
  /** From the call to the start of the operation, in ms. */
  waitMs: number;
  /** From the start of the operation to its end, in ms. */
  holdMs: number;
  /** Whether it succeeded. */
  ok: boolean;
}

/** Thresholds of the alert rules (the `alerts` pool option); each left out keeps its default. */
export interface AlertOptions {
  /** Sliding window of the slow, errors, disconnects and queue-timeouts rules, in ms. Default 60,000. */
  windowMs?: number;
  /** `saturated` is raised when active >= this percent of maxConnections... Default 90. */
  saturatedPercent?: number;
  /** ...for this long on end (ms). Default 10,000. */
  saturatedForMs?: number;
  /** ...and cleared when below this percent for as long. Default 80. */
  saturatedClearPercent?: number;
  /** `slow` is raised when the window's average operation time is above this (ms). Default 5,000. */
  slowMs?: number;
  /** ...and cleared at or below this. Default 4,000. */
  slowClearMs?: number;
  /** `errors` is raised when more than this share of operations failed (0-1). Default 0.05. */
  errorRate?: number;
  /** ...and cleared at or below this share. Default 0.025. */
  errorClearRate?: number;
  /** Fewest operations in the window for `slow` and `errors` to judge. Default 10. */
  minOperations?: number;
  /** `disconnects` is raised at this many connection-class failures in the window. Default 5. */
  disconnects?: number;
  /** ...and cleared at or below this many. Default 2. */
  disconnectsClear?: number;
  /** `queue-timeouts` is raised at this many queue timeouts in the window. Default 1. */
  queueTimeouts?: number;
}

/** An alert raised or cleared, with the figures that decided it (times in ms, pool clock). */
export interface PoolAlert {
  name: 'saturated' | 'slow' | 'errors' | 'disconnects' | 'queue-timeouts';
  state: 'raised' | 'cleared';
  /** When it was decided. */
  at: number;
  /** saturated: since when the level was past the threshold; others: the window's start. */
  since: number;
  windowMs: number;
  activeConnections: number;
  maxConnections: number;
  /** Operations, failures, connection-class failures and queue timeouts in the window. */
  operations: number;
  failed: number;
  disconnects: number;
  queueTimeouts: number;
  /** Average operation time in the window, ms. */
  averageMs: number;
  /** failed / operations (0 when none). */
  errorRate: number;
}

/** The pool's events and what their listeners receive. */
export interface PoolEventMap {
  release: ReleaseEvent;
  alert: PoolAlert;
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

/** What `sizeFleet` needs: the database's limit and the fleet sharing it. */
export interface SizingOptions {
  /** The server's `max_connections`, or the pooler's pool size in front of it. Required. */
  limit: number;
  /** Slots the app's role cannot use (PostgreSQL's `superuser_reserved_connections`). Default 3. */
  reserved?: number;
  /** Slots to leave to other clients (cron, admin tools, other apps). Default 0. */
  others?: number;
  /** App instances sharing the database. Default 1. */
  instances?: number;
  /** Share of the usable slots kept free, 0 to 100. Default 10. */
  marginPercent?: number;
  /** Fewest slots kept free. Default 1. */
  minHeadroom?: number;
  /** The gate's `queueTimeoutMs` to pair with (0 to 1,000,000,000). Default 10,000. */
  queueTimeoutMs?: number;
}

/** Per-instance advice and the figures behind it. */
export interface Sizing {
  /** `limit - reserved - others`. */
  usable: number;
  /** Slots kept free: `max(ceil(usable * marginPercent / 100), minHeadroom)`. */
  headroom: number;
  /** `maxConnections` for each instance's gate: `floor((usable - headroom) / instances)`. */
  perInstance: number;
  /** `perInstance * instances`. */
  fleetTotal: number;
  /** The pg pool's (or `@prisma/adapter-pg`'s) `max` to pair with the gate. */
  pgPoolMax: number;
  /** The pg pool's `connectionTimeoutMillis`: 5 s, at most the queue timeout. */
  connectTimeoutMs: number;
  /** The `queueTimeoutMs` assumed. */
  queueTimeoutMs: number;
}

/**
 * How many connections each of `instances` may open so the fleet stays under the database's
 * limit with a margin. Throws a `RangeError` when a value is out of range or the fleet cannot fit.
 */
export declare function sizeFleet(options: SizingOptions): Sizing;
