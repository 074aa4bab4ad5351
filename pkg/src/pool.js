// ConnectionPool: the JavaScript driver of the Rust gate.
//
// Data flows one way: a JS event (run, settle, abort, timer) becomes one synchronous wasm call;
// the core decides; this file drains the resulting events (start this operation, reject that
// caller) and arms a single timer at the core's next deadline. No decision is made here (the
// core also runs retries: a failed attempt is released with its error class, and the core
// answers "retrying" or "gave up"), no promise is awaited across the wasm boundary, and nothing
// is left behind once a call settles: no timer when nothing is pending, no listener on a
// caller's AbortSignal. Every number exchanged with the core comes from protocol.js, which is
// generated from the core.

import { Gate } from './wasm.js';
import { CANCEL, EVENT, KIND_UNIT, REFUSED, RELEASE, SUBMITTED } from './protocol.js';
import { classCode } from './classify.js';
import {
  OperationTimeoutError,
  PoolClosedError,
  QueueFullError,
  QueueTimeoutError,
  REFUSAL_STACK_EVERY_MS,
  WouldTimeOutError,
  abortReason,
  refusalError,
  withoutStack,
} from './errors.js';
import {
  POOL_OPTIONS,
  RETRY_OPTIONS,
  RUN_OPTIONS,
  WITH_RETRY_OPTIONS,
  checkObject,
  checkOperation,
  checkPoolOptions,
  optionalBoolean,
  optionalNumber,
  optionalSignal,
  requiredNumber,
} from './options.js';
import { PoolEvents } from './events.js';
import { bindSlot, heldBy, nesting, runOnHeldSlot } from './context.js';
import { FleetDriver } from './fleet/lease.js';

/** Success, for `Gate.release` (failures pass their `ERROR_CLASS` code). */
const OK = -1;
/** Distinct retry settings a pool remembers in its cache of policy ids. */
const MAX_CACHED_POLICIES = 64;
/** One uncontended call in this many is timed, to keep sampling slot hold times. */
const HOLD_SAMPLE = 32;

const clock =
  typeof performance !== 'undefined' && typeof performance.now === 'function'
    ? () => performance.now()
    : () => Date.now();

// `new Promise(capture)` hands out the resolving functions without allocating an executor
// closure per call; they are read back right after the constructor returns.
let capturedResolve;
let capturedReject;
const capture = (resolve, reject) => {
  capturedResolve = resolve;
  capturedReject = reject;
};

/**
 * Calls `op` while a slot is held and returns a promise of its result. `onOk` / `onFailed` give
 * the slot back as the operation settles, before the caller's promise does (at once when `op`
 * throws synchronously).
 */
function runHolding(op, onOk, onFailed) {
  let result;
  try {
    result = op();
  } catch (e) {
    onFailed();
    return Promise.reject(e);
  }
  return Promise.resolve(result).then(
    (v) => {
      onOk();
      return v;
    },
    (e) => {
      onFailed();
      throw e;
    },
  );
}

/** `(pool, retry) => policy id`: a pool's retry-option check, for the integrations. */
let retryPolicyOf;

/**
 * Checks retry options against `pool` (the core validates them and remembers the policy), so
 * an integration reports a wrong setting when it is created, not at the first query. Pools
 * that are not this module's (a second copy of the package) are checked at their first call.
 */
export function checkRetryOptions(pool, retry) {
  retryPolicyOf(pool, retry);
}

export class ConnectionPool {
  static {
    retryPolicyOf = (pool, retry) => (#gate in pool ? pool.#retryPolicy(retry) : 0);
  }

  #gate;
  // Each caller the core holds a ticket for, by the ticket's slot index (struct of arrays: no
  // object per waiter, which matters with 100,000 queued callers):
  #tickets = []; // the full ticket, or -1 when the slot is not tracked
  #ops = []; // the operation, until it starts (null for a retry back-off)
  #resolves = []; // the caller's resolve; null once the caller has been told (done)
  #rejects = []; // the caller's reject
  #aborts = new Map(); // slot index -> { signal, onAbort }, only for calls with a signal
  #policies = new Map(); // retry settings key -> the core's policy id
  #lastRefusalStackAt = -Infinity; // when a refusal last carried a stack trace
  #timer = null;
  #timerAt = Infinity;
  #clockFree; // the core allows clock-free grants: uncontended calls need no clock
  #sinceTimed = 0; // plain calls since the last one that took the timed path
  #events;
  #fleet = null; // FleetDriver when the `fleet` option is set
  #onTimer = () => {
    this.#timer = null;
    this.#timerAt = Infinity;
    this.#gate.handleTimeout(clock());
    this.#afterCall();
  };

  /**
   * @param {object} [options]
   * @param {number} [options.maxConnections=10] operations allowed to run at once
   * @param {number} [options.maxQueue=10000] waiters allowed; past it calls fail fast
   * @param {number} [options.queueTimeoutMs=10000] longest wait for a slot (Infinity: forever)
   * @param {number} [options.operationTimeoutMs=Infinity] default timeout of an operation
   * @param {boolean} [options.releaseOnTimeout=false] free the slot when an operation times
   *   out even though its query may still be running (the old wrapper's behaviour)
   * @param {boolean | {min?: number}} [options.adaptive=false] lower the limit when the
   *   database answers "too many connections", and grow it back after clean operations
   * @param {boolean} [options.rejectEarly=false] refuse at once (WouldTimeOutError) a caller
   *   whose predicted wait is longer than its queue timeout
   */
  constructor(options) {
    // One validated record crosses to the core: types here (TypeError), values there.
    this.#gate = new Gate(
      checkPoolOptions(checkObject('ConnectionPool options', options, POOL_OPTIONS)),
    );
    this.#clockFree = this.#gate.clockFreeEligible;
    // Saturation is measured against the limit in force (lowered by the adaptive limit or a
    // fleet lease), not only maxConnections.
    this.#events = new PoolEvents(options?.alerts, clock, () => [
      this.#gate.active,
      this.#gate.effectiveLimit,
    ]);
    if (options?.fleet !== undefined) {
      const g = this.#gate;
      this.#fleet = new FleetDriver(options.fleet, g, g.maxConnections, clock, () =>
        this.#afterCall(),
      );
      this.#afterCall();
    }
  }

  /**
   * Runs `op` once a slot is free (in arrival order) and returns its result.
   * @param {() => any} op
   * @param {{signal?: AbortSignal, timeoutMs?: number, idempotent?: boolean,
   *          retry?: boolean | object}} [options]
   */
  run(op, options) {
    if (nesting.on) {
      // Nested: on the caller's slot (retry options are still checked, by the core).
      if (heldBy(this)) return runOnHeldSlot(op, options, (r) => this.#retryPolicy(r));
      if (typeof op === 'function') op = bindSlot(this, op);
    }
    if (options === undefined && typeof op === 'function') return this.#plain(op);
    try {
      checkOperation(op);
      const o = checkObject('run options', options, RUN_OPTIONS);
      const signal = optionalSignal(o.signal);
      const timeoutMs = optionalNumber('timeoutMs', o.timeoutMs) ?? NaN;
      const idempotent = optionalBoolean('idempotent', o.idempotent) ?? false;
      const policy = this.#retryPolicy(o.retry);
      if (policy === 0 && signal === undefined && Number.isNaN(timeoutMs)) return this.#plain(op);
      return this.#timed(op, signal, timeoutMs, policy, idempotent);
    } catch (e) {
      return Promise.reject(e);
    }
  }

  /**
   * The core's id for retry settings (`true`: the defaults; `false`/`undefined`: 0, none).
   * Each distinct setting is validated and registered once per pool.
   */
  #retryPolicy(retry) {
    if (retry === undefined || retry === false) return 0;
    const o = retry === true ? {} : checkObject('retry options', retry, RETRY_OPTIONS);
    const values = RETRY_OPTIONS.map((k) => optionalNumber(k, o[k]));
    const key = values.join('|');
    let id = this.#policies.get(key);
    if (id === undefined) {
      id = this.#gate.registerRetryPolicy(o);
      if (this.#policies.size < MAX_CACHED_POLICIES) this.#policies.set(key, id);
    }
    return id;
  }

  /** The seed's `withConnectionPool(op, timeout = 30000)`, on this pool. */
  withConnectionPool(op, timeout = 30000) {
    return this.run(op, { timeoutMs: timeout });
  }

  /**
   * The seed's `withRetryAndPool(op, maxRetries = 3, delay = 1000)`, on this pool: retries
   * transient connection failures with a `delay * n` back-off. `options` adds `idempotent`,
   * `signal`, `timeoutMs`, `maxDelayMs`, `jitter` and `deadlineMs`.
   */
  withRetryAndPool(op, maxRetries = 3, delay = 1000, options) {
    try {
      const o = checkObject('withRetryAndPool options', options, WITH_RETRY_OPTIONS);
      const { signal, timeoutMs, idempotent, ...retry } = o;
      return this.run(op, {
        signal,
        timeoutMs,
        idempotent,
        retry: { ...retry, maxRetries, delay },
      });
    } catch (e) {
      return Promise.reject(e);
    }
  }

  /** `{ activeConnections, maxConnections, queuedConnections, availableConnections }`. */
  getPoolStats() {
    const g = this.#gate;
    return {
      activeConnections: g.active,
      maxConnections: g.maxConnections,
      queuedConnections: g.queued,
      availableConnections: g.available,
    };
  }

  /** Totals, gauges and wait/hold percentiles (ms) beyond `getPoolStats()`. */
  getMetrics() {
    const m = this.#gate.metrics();
    if (this.#fleet !== null) m.fleet = this.#fleet.metrics();
    return m;
  }

  /** Listens to 'release' ({ waitMs, holdMs, ok } per settled operation) or 'alert'. */
  on(name, listener) {
    this.#events.on(name, listener);
  }

  /** Stops listening. */
  off(name, listener) {
    this.#events.off(name, listener);
  }

  /** Changes `maxConnections` while running; waiters are granted at once if it grows. */
  setMaxConnections(n) {
    this.#gate.setMaxConnections(clock(), requiredNumber('maxConnections', n));
    this.#afterCall();
  }

  /** Rejects every waiting caller with PoolClosedError and refuses new work. */
  close() {
    this.#gate.close(clock());
    this.#events.stop();
    this.#afterCall();
    this.#fleet?.close();
  }

  // ---- driver internals -------------------------------------------------------------------

  /**
   * A call with no signal, timeout or retry. Clock-free when the pool has no default
   * operation timeout and the gate grants at once (a free slot, nobody waiting): no clock read
   * and one wasm call each way. One such call in HOLD_SAMPLE takes the timed path instead, so
   * `getMetrics().hold` keeps measuring how long operations hold their slot.
   */
  #plain(op) {
    if (
      this.#clockFree &&
      !this.#events.watching &&
      ++this.#sinceTimed < HOLD_SAMPLE &&
      this.#gate.tryAcquire()
    ) {
      return this.#runClockFree(op);
    }
    return this.#timed(op, undefined, NaN, 0, false);
  }

  #timed(op, signal, timeoutMs, policy, idempotent) {
    if (this.#events.watching) op = this.#events.measure(op, clock);
    this.#sinceTimed = 0;
    if (signal?.aborted) return Promise.reject(abortReason(signal));
    const now = clock();
    const r =
      policy === 0 && Number.isNaN(timeoutMs) && !idempotent
        ? this.#gate.submit(now)
        : this.#gate.submitWith(now, timeoutMs, policy, idempotent);
    // The call may have expired older waiters and reused one of their slots for this ticket:
    // settle those first, so the slot's table entry is free before it is reused.
    this.#drain();
    if (r < 0) {
      this.#arm();
      return Promise.reject(this.#refusal(r, now));
    }
    const kind = Math.floor(r / KIND_UNIT);
    const ticket = r % KIND_UNIT;
    if (kind === SUBMITTED.GRANTED_NO_DEADLINE && signal === undefined) {
      // Nothing but the operation can settle this caller. Events drained above may have
      // started waiters with deadlines of their own.
      this.#arm();
      return this.#runGranted(op, ticket);
    }
    const promise = new Promise(capture);
    if (
      this.#track(ticket, op, capturedResolve, capturedReject, signal, kind !== SUBMITTED.QUEUED)
    ) {
      if (kind !== SUBMITTED.QUEUED) this.#start(ticket >>> 0);
      this.#arm();
    }
    return promise;
  }

  /**
   * Fast path: granted at once, and nothing can reject the caller before the operation settles
   * (no deadline, no signal). The slot is given back as the operation settles, before the
   * caller resumes. The caller gets a promise derived from the operation's, not the
   * operation's own, so a failure nobody handles is still reported as an unhandled rejection.
   * A failure the core decides to retry turns the call into a tracked one from then on.
   */
  #runGranted(op, ticket) {
    let result;
    try {
      result = op();
    } catch (e) {
      return this.#failedUntracked(op, ticket, e);
    }
    return Promise.resolve(result).then(
      (v) => {
        this.#gate.release(clock(), ticket, OK, 0);
        this.#afterCall();
        return v;
      },
      (e) => this.#failedUntracked(op, ticket, e),
    );
  }

  /** A fast-path attempt failed: the core retries it (the caller keeps waiting) or not. */
  #failedUntracked(op, ticket, err) {
    const r = this.#gate.release(clock(), ticket, classCode(err), Math.random());
    if (r !== RELEASE.RETRYING) {
      this.#afterCall();
      return Promise.reject(err);
    }
    const promise = new Promise(capture);
    this.#track(ticket, op, capturedResolve, capturedReject, undefined, false);
    this.#afterCall();
    return promise;
  }

  /** A clock-free slot (no ticket: the gate counts it like a permit). */
  #runClockFree(op) {
    return runHolding(op, this.#clockFreeOk, this.#clockFreeFailed);
  }

  #clockFreeOk = () => this.#releaseClockFree(true);
  #clockFreeFailed = () => this.#releaseClockFree(false);

  #releaseClockFree(ok) {
    // Someone queued meanwhile: the timed release fires due deadlines, then hands the slot on.
    if (this.#gate.tryRelease(ok)) return;
    this.#gate.releaseClockFree(clock(), ok);
    this.#afterCall();
  }

  /**
   * Records the caller under its ticket and listens to its signal. If the signal's
   * `addEventListener` throws, the submission is undone (the slot released, or the waiter
   * removed from the queue) and the caller gets that error; returns false then.
   */
  #track(ticket, op, resolve, reject, signal, holdsSlot) {
    const i = ticket >>> 0;
    if (signal !== undefined) {
      const onAbort = () => this.#abort(i, ticket);
      try {
        signal.addEventListener('abort', onAbort, { once: true });
      } catch (e) {
        if (holdsSlot) this.#gate.release(clock(), ticket, 0, 0);
        else this.#gate.cancel(clock(), ticket);
        reject(e);
        this.#afterCall();
        return false;
      }
      this.#aborts.set(i, { signal, onAbort });
    }
    this.#tickets[i] = ticket;
    this.#ops[i] = op;
    this.#resolves[i] = resolve;
    this.#rejects[i] = reject;
    return true;
  }

  /**
   * The error for a refused submission. Refusals come in floods under overload, so only one per
   * REFUSAL_STACK_EVERY_MS carries a stack trace (starting at the caller of `run`, where the
   * user looks); see `refusalError`.
   */
  #refusal(code, now) {
    const stats = this.getPoolStats();
    const withStack = now - this.#lastRefusalStackAt >= REFUSAL_STACK_EVERY_MS;
    if (withStack) this.#lastRefusalStackAt = now;
    const refuse = (make) => refusalError(make, this.run, withStack);
    switch (code) {
      case REFUSED.QUEUE_FULL:
        return refuse(() => new QueueFullError(stats, this.#gate.maxQueue));
      case REFUSED.NO_WAIT:
        this.#events.queueTimeout();
        return refuse(() => new QueueTimeoutError(stats, 0));
      case REFUSED.WOULD_TIME_OUT:
        return refuse(() => new WouldTimeOutError(stats, this.#gate.lastPredictedMs()));
      default:
        return refuse(() => new PoolClosedError(stats));
    }
  }

  /** Runs the operation of slot `i`, which was just granted (again, for a retry). */
  #start(i) {
    const ticket = this.#tickets[i];
    const op = this.#ops[i];
    let result;
    try {
      result = op();
    } catch (e) {
      this.#settle(i, ticket, false, e);
      return;
    }
    Promise.resolve(result).then(
      (v) => this.#settle(i, ticket, true, v),
      (e) => this.#settle(i, ticket, false, e),
    );
  }

  #settle(i, ticket, ok, value) {
    const resolve = this.#resolves[i];
    const reject = this.#rejects[i];
    const r = ok
      ? this.#gate.release(clock(), ticket, OK, 0)
      : this.#gate.release(clock(), ticket, classCode(value), Math.random());
    if (r === RELEASE.RETRYING) {
      // The core backs off, then queues the call again: a GRANTED event restarts `op`.
      this.#afterCall();
      return;
    }
    this.#untrack(i);
    this.#drain();
    // null: the caller was already told (operation timeout or abort); the slot was a zombie.
    if (resolve !== null) {
      if (ok) resolve(value);
      else reject(value);
    }
    this.#arm();
  }

  #abort(i, ticket) {
    if (this.#tickets[i] !== ticket || this.#resolves[i] === null) return;
    const reject = this.#rejects[i];
    const { signal } = this.#aborts.get(i);
    // Running: now a zombie until it settles (or already one). Removed: it left the queue or
    // its back-off. Unknown: it had just expired (its event, still to be drained, is ignored).
    const r = this.#gate.cancel(clock(), ticket);
    if (r === CANCEL.NOW_ZOMBIE || r === CANCEL.ALREADY_SETTLED) this.#told(i);
    else this.#untrack(i);
    reject(abortReason(signal));
    this.#afterCall();
  }

  /** The caller of slot `i` has been told; its operation still runs (a zombie). */
  #told(i) {
    this.#resolves[i] = null;
    this.#dropAbortListener(i);
  }

  /**
   * Forgets slot `i` (the core freed its ticket) and drops its abort listener. Callers read the
   * slot's resolve/reject first. The arrays keep their length, like the core's slab: after a
   * burst of N callers they hold about 11 bytes per slot (next to the core's 56). Emptying them
   * when the pool drained was tried and undone: in S4 the count touched zero 14 times mid-run,
   * and arrays rebuilt from empty at high slot indices made the run 15-25% slower.
   */
  #untrack(i) {
    this.#dropAbortListener(i);
    this.#tickets[i] = -1;
    this.#ops[i] = null;
    this.#resolves[i] = null;
    this.#rejects[i] = null;
  }

  #dropAbortListener(i) {
    const a = this.#aborts.get(i);
    if (a === undefined) return;
    this.#aborts.delete(i);
    try {
      a.signal.removeEventListener('abort', a.onAbort);
    } catch {
      // A signal look-alike that cannot remove listeners must not keep the caller waiting.
    }
  }

  #afterCall() {
    this.#drain();
    this.#arm();
  }

  #drain() {
    const gate = this.#gate;
    for (let e = gate.pollEvent(); e !== 0; e = gate.pollEvent()) {
      const kind = Math.floor(e / KIND_UNIT);
      const i = e >>> 0;
      // The whole ticket must match, not only the slot: a slot is reused once freed.
      if (this.#tickets[i] !== e % KIND_UNIT) continue;
      const resolve = this.#resolves[i];
      const reject = this.#rejects[i];
      switch (kind) {
        case EVENT.GRANTED:
          this.#start(i);
          break;
        case EVENT.OPERATION_TIMEOUT:
          // The slot stays with the operation (a zombie) until it settles.
          if (resolve === null) break;
          this.#told(i);
          reject(withoutStack(() => new OperationTimeoutError(this.getPoolStats())));
          break;
        case EVENT.QUEUE_TIMEOUT:
          this.#events.queueTimeout();
          this.#untrack(i);
          reject(
            withoutStack(() => new QueueTimeoutError(this.getPoolStats(), gate.lastWaitedMs())),
          );
          break;
        case EVENT.CLOSED:
          this.#untrack(i);
          reject(withoutStack(() => new PoolClosedError(this.getPoolStats())));
          break;
      }
    }
  }

  /** One timer for the whole pool, at the core's next deadline; none when idle. */
  #arm() {
    if (this.#fleet !== null) {
      this.#fleet.sync();
      this.#drain();
    }
    const at = this.#gate.pollTimeout();
    if (at === this.#timerAt) return;
    if (at === Infinity) {
      // Nothing pending: drop the timer so an idle process can exit.
      clearTimeout(this.#timer);
      this.#timer = null;
      this.#timerAt = Infinity;
      return;
    }
    if (this.#timer !== null && at > this.#timerAt) return; // fires early, then re-arms
    if (this.#timer !== null) clearTimeout(this.#timer);
    this.#timerAt = at;
    this.#timer = setTimeout(this.#onTimer, Math.max(0, Math.ceil(at - clock())));
  }
}
