// ConnectionPool: the JavaScript driver of the Rust gate.
//
// Data flows one way: a JS event (run, settle, abort, timer) becomes one synchronous wasm call;
// the core decides; this file drains the resulting events (start this operation, reject that
// caller) and arms a single timer at the core's next deadline. No decision is made here, no
// promise is awaited across the wasm boundary, and nothing is left behind once a call settles:
// no timer when nothing is pending, no listener on a caller's AbortSignal.

import { Gate } from './wasm.js';
import {
  OperationTimeoutError,
  PoolClosedError,
  QueueFullError,
  QueueTimeoutError,
  abortReason,
  withoutStack,
} from './errors.js';
import {
  POOL_OPTIONS,
  RUN_OPTIONS,
  WITH_RETRY_OPTIONS,
  checkObject,
  checkOperation,
  optionalBoolean,
  optionalNumber,
  optionalSignal,
  requiredNumber,
} from './options.js';
import { runWithRetry, retryPolicyFrom } from './retry.js';
import { FleetDriver } from './fleet/lease.js';

/** Events and queued submissions carry a kind above bit 48 of the ticket. */
const KIND = 2 ** 48;
const GRANTED = 1;
const QUEUE_TIMEOUT = 2;
const OPERATION_TIMEOUT = 3;
const WOKEN = 4;
const CLOSED = 5;
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

export class ConnectionPool {
  #gate;
  // Each caller the core holds a ticket for, by the ticket's slot index (struct of arrays: no
  // object per waiter, which matters with 100,000 queued callers):
  #tickets = []; // the full ticket, or -1 when the slot is not tracked
  #ops = []; // the operation, until it starts (null for a retry back-off)
  #resolves = []; // the caller's resolve; null once the caller has been told (done)
  #rejects = []; // the caller's reject
  #aborts = new Map(); // slot index -> { signal, onAbort }, only for calls with a signal
  #timer = null;
  #timerAt = Infinity;
  #clockFree; // no default operation timeout: uncontended calls need no clock
  #sinceTimed = 0; // plain calls since the last one that took the timed path
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
   */
  constructor(options) {
    const o = checkObject('ConnectionPool options', options, POOL_OPTIONS);
    this.#gate = new Gate(
      optionalNumber('maxConnections', o.maxConnections),
      optionalNumber('maxQueue', o.maxQueue),
      optionalNumber('queueTimeoutMs', o.queueTimeoutMs),
      optionalNumber('operationTimeoutMs', o.operationTimeoutMs),
      optionalBoolean('releaseOnTimeout', o.releaseOnTimeout),
    );
    this.#clockFree = !this.#gate.hasOperationTimeout;
    if (o.fleet !== undefined) {
      const g = this.#gate;
      this.#fleet = new FleetDriver(o.fleet, g, g.maxConnections, clock, () => this.#afterCall());
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
    if (options === undefined && typeof op === 'function') return this.#plain(op);
    try {
      checkOperation(op);
      const o = checkObject('run options', options, RUN_OPTIONS);
      const signal = optionalSignal(o.signal);
      const timeoutMs = optionalNumber('timeoutMs', o.timeoutMs) ?? NaN;
      const idempotent = optionalBoolean('idempotent', o.idempotent) ?? false;
      if (o.retry === undefined || o.retry === false) {
        return this.submit(op, signal, timeoutMs, Infinity);
      }
      const policy = retryPolicyFrom(o.retry === true ? undefined : o.retry);
      return runWithRetry(this, op, { signal, timeoutMs, idempotent, policy, clock });
    } catch (e) {
      return Promise.reject(e);
    }
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

  /** Changes the limit while running; waiters are granted at once if it grows. */
  setMaxConnections(n) {
    this.#gate.setMaxConnections(clock(), requiredNumber('maxConnections', n));
    this.#afterCall();
  }

  /** Rejects every waiting caller with PoolClosedError and refuses new work. */
  close() {
    this.#gate.close(clock());
    this.#afterCall();
    this.#fleet?.close();
  }

  // ---- driver internals (used by retry.js) ---------------------------------------------

  /** Submits one attempt. `timeoutMs` NaN: pool default; `deadline` Infinity: none. */
  submit(op, signal, timeoutMs, deadline) {
    const plain = signal === undefined && Number.isNaN(timeoutMs) && deadline === Infinity;
    return plain ? this.#plain(op) : this.#timed(op, signal, timeoutMs, deadline, false);
  }

  /**
   * A call with no signal, timeout or deadline. Clock-free when the pool has no default
   * operation timeout and the gate grants at once (a free slot, nobody waiting): no clock read
   * and one wasm call each way. One such call in HOLD_SAMPLE takes the timed path instead, so
   * `getMetrics().hold` keeps measuring how long operations hold their slot.
   */
  #plain(op) {
    if (this.#clockFree && ++this.#sinceTimed < HOLD_SAMPLE && this.#gate.tryAcquire()) {
      return this.#runUntimed(op);
    }
    return this.#timed(op, undefined, NaN, Infinity, true);
  }

  #timed(op, signal, timeoutMs, deadline, plain) {
    this.#sinceTimed = 0;
    if (signal?.aborted) return Promise.reject(abortReason(signal));
    const now = clock();
    const r = plain ? this.#gate.submit(now) : this.#gate.submitWith(now, timeoutMs, deadline);
    // The call may have expired older waiters and reused one of their slots for this ticket:
    // settle those first, so the slot's table entry is free before it is reused.
    this.#drain();
    if (r < 0) {
      this.#arm();
      return Promise.reject(this.#refusal(r));
    }
    if (r < KIND && plain && this.#clockFree) {
      // Events drained above may have started waiters with deadlines of their own.
      this.#arm();
      return this.#runGranted(op, r);
    }
    const promise = new Promise(capture);
    const ticket = r % KIND;
    if (this.#track(ticket, op, capturedResolve, capturedReject, signal, r < KIND)) {
      if (r < KIND) this.#start(ticket >>> 0);
      this.#arm();
    }
    return promise;
  }

  /**
   * Fast paths: granted at once, and nothing can reject the caller before the operation settles
   * (no timeout, no signal). The slot is given back as the operation settles, before the caller
   * resumes. The caller gets a promise derived from the operation's, not the operation's own, so
   * a failure nobody handles is still reported as an unhandled rejection.
   */
  #runGranted(op, ticket) {
    return runHolding(
      op,
      () => this.#release(ticket, true),
      () => this.#release(ticket, false),
    );
  }

  /** `#runGranted` for a clock-free slot (no ticket: the gate counts it like a permit). */
  #runUntimed(op) {
    return runHolding(op, this.#untimedOk, this.#untimedFailed);
  }

  #untimedOk = () => this.#releaseUntimed(true);
  #untimedFailed = () => this.#releaseUntimed(false);

  #releaseUntimed(ok) {
    // Someone queued meanwhile: the timed release fires due deadlines, then hands the slot on.
    if (this.#gate.tryRelease(ok)) return;
    this.#gate.releaseUntimed(clock(), ok);
    this.#afterCall();
  }

  #release(ticket, ok) {
    this.#gate.release(clock(), ticket, ok);
    this.#afterCall();
  }

  /** A back-off until `wakeAt` (ms on this pool's clock) that close() and abort can end. */
  sleepUntil(wakeAt, signal) {
    if (signal?.aborted) return Promise.reject(abortReason(signal));
    const t = this.#gate.scheduleRetry(clock(), wakeAt);
    this.#drain();
    if (t < 0) {
      this.#arm();
      return Promise.reject(new PoolClosedError());
    }
    const promise = new Promise(capture);
    if (this.#track(t, null, capturedResolve, capturedReject, signal, false)) this.#arm();
    return promise;
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
        if (holdsSlot) this.#gate.release(clock(), ticket, false);
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

  #refusal(code) {
    if (code === -1) return new QueueFullError(this.getPoolStats(), this.#gate.maxQueue);
    if (code === -2) return new QueueTimeoutError(this.getPoolStats(), 0);
    return new PoolClosedError();
  }

  /** Runs the operation of slot `i`, which was just granted. */
  #start(i) {
    const ticket = this.#tickets[i];
    const op = this.#ops[i];
    this.#ops[i] = null;
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
    this.#untrack(i);
    this.#gate.release(clock(), ticket, ok);
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
    // 1: running, now a zombie until it settles; 2: already one. 0: left the queue or
    // back-off; -1: it had just expired (its event, still to be drained, is then ignored).
    const r = this.#gate.cancel(clock(), ticket);
    if (r > 0) this.#told(i);
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
      const kind = Math.floor(e / KIND);
      const i = e >>> 0;
      // The whole ticket must match, not only the slot: a slot is reused once freed.
      if (this.#tickets[i] !== e % KIND) continue;
      const resolve = this.#resolves[i];
      const reject = this.#rejects[i];
      switch (kind) {
        case GRANTED:
          this.#start(i);
          break;
        case OPERATION_TIMEOUT:
          // The slot stays with the operation (a zombie) until it settles.
          if (resolve === null) break;
          this.#told(i);
          reject(withoutStack(() => new OperationTimeoutError(this.getPoolStats())));
          break;
        case QUEUE_TIMEOUT:
          this.#untrack(i);
          reject(
            withoutStack(() => new QueueTimeoutError(this.getPoolStats(), gate.lastWaitedMs())),
          );
          break;
        case WOKEN:
          this.#untrack(i);
          resolve();
          break;
        case CLOSED:
          this.#untrack(i);
          reject(withoutStack(() => new PoolClosedError()));
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
