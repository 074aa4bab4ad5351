// Errors poolgate gives to callers. Each has a stable `code` to branch on and, where the pool's
// state explains the failure, a `poolStats` snapshot taken at the moment it happened. Each sets
// its `name` from a string literal: production bundles (Next.js, Turbopack and webpack) minify
// class names, so `new.target.name` would read "M" or "l" there.

/**
 * Runs `make` with stack capture off. Timeout errors are raised from the pool's timer, where a
 * stack says nothing useful, and a burst can raise tens of thousands of them at once.
 */
export function withoutStack(make) {
  const limit = Error.stackTraceLimit;
  Error.stackTraceLimit = 0;
  try {
    return make();
  } finally {
    Error.stackTraceLimit = limit;
  }
}

/** Refusals with a stack trace: at most one per this many ms (per pool); see `refusalError`. */
export const REFUSAL_STACK_EVERY_MS = 10;

/**
 * Builds a refusal (queue full, closed, early rejection). Refusals come in floods under
 * overload, and capturing a stack trace is most of what each one costs (about 8 us of 9 in
 * Node 20). So a refusal carries a stack starting at the caller of `entry` (the user's call of
 * `run`) when `withStack` is true (the driver allows one per REFUSAL_STACK_EVERY_MS); the others
 * say where to look instead.
 */
export function refusalError(make, entry, withStack) {
  if (withStack) {
    const err = withoutStack(make);
    if (typeof Error.captureStackTrace === 'function') Error.captureStackTrace(err, entry);
    return err;
  }
  const err = withoutStack(make);
  err.stack = `${err.name}: ${err.message}\n    (stack omitted: under a flood of refusals only one per ${REFUSAL_STACK_EVERY_MS} ms carries its stack trace)`;
  return err;
}

/** Base class of every error poolgate itself raises. */
export class PoolgateError extends Error {
  constructor(message, code, poolStats) {
    super(message);
    this.name = 'PoolgateError';
    this.code = code;
    if (poolStats) this.poolStats = poolStats;
  }
}

function describeState(s) {
  return `${s.activeConnections} of ${s.maxConnections} connections in use, ${s.queuedConnections} waiting`;
}

/** The queue already held `maxQueue` waiters: the call failed at once instead of piling up. */
export class QueueFullError extends PoolgateError {
  constructor(poolStats, maxQueue) {
    super(
      `poolgate: queue full (${describeState(poolStats)}, maxQueue ${maxQueue}); ` +
        'shed load or raise maxQueue',
      'POOLGATE_QUEUE_FULL',
      poolStats,
    );
    this.name = 'QueueFullError';
    this.maxQueue = maxQueue;
  }
}

/** The caller waited longer than `queueTimeoutMs` for a slot and left the queue. */
export class QueueTimeoutError extends PoolgateError {
  constructor(poolStats, waitedMs) {
    super(
      `poolgate: waited ${Math.round(waitedMs)} ms for a connection and gave up ` +
        `(${describeState(poolStats)}); raise queueTimeoutMs or maxConnections, or lower the load`,
      'POOLGATE_QUEUE_TIMEOUT',
      poolStats,
    );
    this.name = 'QueueTimeoutError';
    this.waitedMs = waitedMs;
  }
}

/**
 * The operation ran longer than its timeout. Its query may still be running: unless the pool
 * was built with `releaseOnTimeout`, its slot stays taken until it really settles.
 */
export class OperationTimeoutError extends PoolgateError {
  constructor(poolStats) {
    super(
      `poolgate: the operation timed out; its connection stays counted until the query ends (${describeState(poolStats)})`,
      'POOLGATE_OPERATION_TIMEOUT',
      poolStats,
    );
    this.name = 'OperationTimeoutError';
  }
}

/** `close()` was called: waiting callers are rejected and new work is refused. */
export class PoolClosedError extends PoolgateError {
  constructor(poolStats) {
    super('poolgate: the pool is closed', 'POOLGATE_CLOSED', poolStats);
    this.name = 'PoolClosedError';
  }
}

/**
 * Early rejection (`rejectEarly`): from recent hold times, the caller would have waited about
 * `predictedWaitMs` for a slot, longer than its queue timeout, so it was refused at once
 * instead of waiting the whole timeout to fail.
 */
export class WouldTimeOutError extends PoolgateError {
  constructor(poolStats, predictedWaitMs) {
    super(
      `poolgate: refused at once: the wait for a connection would be about ${Math.round(predictedWaitMs)} ms, ` +
        `longer than the queue timeout (${describeState(poolStats)}); shed load, or raise queueTimeoutMs or maxConnections`,
      'POOLGATE_WOULD_TIME_OUT',
      poolStats,
    );
    this.name = 'WouldTimeOutError';
    this.predictedWaitMs = predictedWaitMs;
  }
}

/** The `AbortSignal` fired without a reason of its own. */
export function abortReason(signal) {
  if (signal.reason !== undefined) return signal.reason;
  const e = new Error('poolgate: the operation was aborted');
  e.name = 'AbortError';
  return e;
}
