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
  RETRY_ONLY_OPTIONS,
  RUN_OPTIONS,
  checkObject,
  checkOperation,
  optionalBoolean,
  optionalNumber,
  optionalSignal,
} from './options.js';
import { runWithRetry, retryPolicyFrom } from './retry.js';

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

/** One caller waiting on the gate: a submission or a retry back-off. */
class Waiter {
  constructor(op, signal, resolve, reject) {
    this.op = op; // null for a back-off
    this.signal = signal;
    this.resolve = resolve;
    this.reject = reject;
    this.ticket = 0;
    this.done = false; // the caller's promise has settled
    this.onAbort = null;
  }
}

export class ConnectionPool {
  #gate;
  #entries = []; // slot index -> Waiter, while the core holds the ticket
  #timer = null;
  #timerAt = Infinity;
  #maxQueue;
  #hasDefaultTimeout;
  #clockFree; // no default operation timeout: uncontended calls need no clock
  #untimed = 0; // clock-free fast-path calls since the last timed one
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
    this.#maxQueue = o.maxQueue ?? 10000;
    this.#hasDefaultTimeout =
      o.operationTimeoutMs !== undefined && o.operationTimeoutMs !== Infinity;
    this.#clockFree = !this.#hasDefaultTimeout;
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
      const o = checkObject('withRetryAndPool options', options, [
        ...RUN_OPTIONS.filter((k) => k !== 'retry'),
        ...RETRY_ONLY_OPTIONS,
      ]);
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
    return this.#gate.metrics();
  }

  /** Changes the limit while running; waiters are granted at once if it grows. */
  setMaxConnections(n) {
    if (typeof n !== 'number') {
      throw new TypeError(`maxConnections must be a number, got ${typeof n}`);
    }
    this.#gate.setMaxConnections(clock(), n);
    this.#afterCall();
  }

  /** Rejects every waiting caller with PoolClosedError and refuses new work. */
  close() {
    this.#gate.close(clock());
    this.#afterCall();
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
    if (this.#clockFree && ++this.#untimed < HOLD_SAMPLE && this.#gate.tryAcquire()) {
      return this.#runUntimed(op);
    }
    return this.#timed(op, undefined, NaN, Infinity, true);
  }

  #timed(op, signal, timeoutMs, deadline, plain) {
    this.#untimed = 0;
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
    if (r < KIND && plain && !this.#hasDefaultTimeout) {
      // Events drained above may have started waiters with deadlines of their own.
      this.#arm();
      return this.#runGranted(op, r);
    }
    return new Promise((resolve, reject) => {
      const w = new Waiter(op, signal, resolve, reject);
      if (!this.#track(w, r % KIND, r < KIND)) return;
      if (r < KIND) this.#start(w);
      this.#arm();
    });
  }

  /**
   * Fast path: granted at once, and nothing can reject the caller before the operation settles
   * (no timeout, no signal). The caller gets the operation's own promise; the release is
   * attached first, so the slot is free again before the caller resumes.
   */
  #runGranted(op, ticket) {
    let result;
    try {
      result = op();
    } catch (e) {
      this.#release(ticket, false);
      return Promise.reject(e);
    }
    const p = Promise.resolve(result);
    p.then(
      () => this.#release(ticket, true),
      () => this.#release(ticket, false),
    );
    return p;
  }

  /**
   * `#runGranted` for a clock-free slot (no ticket: the gate counts it like a semaphore
   * permit). Released without a clock read when nobody waits.
   */
  #runUntimed(op) {
    let result;
    try {
      result = op();
    } catch (e) {
      this.#releaseUntimed(false);
      return Promise.reject(e);
    }
    const p = Promise.resolve(result);
    p.then(this.#untimedOk, this.#untimedFailed);
    return p;
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
    return new Promise((resolve, reject) => {
      if (!this.#track(new Waiter(null, signal, resolve, reject), t, false)) return;
      this.#arm();
    });
  }

  /**
   * Records the waiter under its ticket and listens to its signal. If the signal's
   * `addEventListener` throws, the submission is undone (the slot released, or the waiter
   * removed from the queue) and the caller gets that error; returns false then.
   */
  #track(w, ticket, holdsSlot) {
    w.ticket = ticket;
    if (w.signal !== undefined) {
      w.onAbort = () => this.#abort(w);
      try {
        w.signal.addEventListener('abort', w.onAbort, { once: true });
      } catch (e) {
        w.onAbort = null;
        w.done = true;
        if (holdsSlot) this.#gate.release(clock(), ticket, false);
        else this.#gate.cancel(clock(), ticket);
        w.reject(e);
        this.#afterCall();
        return false;
      }
    }
    this.#entries[ticket >>> 0] = w;
    return true;
  }

  #refusal(code) {
    if (code === -1) return new QueueFullError(this.getPoolStats(), this.#maxQueue);
    if (code === -2) return new QueueTimeoutError(this.getPoolStats(), 0);
    return new PoolClosedError();
  }

  #start(w) {
    let result;
    try {
      result = w.op();
    } catch (e) {
      this.#settle(w, false, e);
      return;
    }
    Promise.resolve(result).then(
      (v) => this.#settle(w, true, v),
      (e) => this.#settle(w, false, e),
    );
  }

  #settle(w, ok, value) {
    this.#entries[w.ticket >>> 0] = undefined;
    this.#gate.release(clock(), w.ticket, ok);
    this.#drain();
    if (!w.done) {
      this.#finish(w);
      if (ok) w.resolve(value);
      else w.reject(value);
    }
    this.#arm();
  }

  #abort(w) {
    if (w.done) return;
    // 0: left the queue or back-off; 1: running, now a zombie until it settles.
    if (this.#gate.cancel(clock(), w.ticket) === 0) this.#entries[w.ticket >>> 0] = undefined;
    this.#finish(w);
    w.reject(abortReason(w.signal));
    this.#afterCall();
  }

  /** Marks the caller settled and drops its abort listener. */
  #finish(w) {
    w.done = true;
    if (w.onAbort !== null) {
      const onAbort = w.onAbort;
      w.onAbort = null;
      try {
        w.signal.removeEventListener('abort', onAbort);
      } catch {
        // A signal look-alike that cannot remove listeners must not keep the caller waiting.
      }
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
      const index = e >>> 0;
      const w = this.#entries[index];
      // The whole ticket must match, not only the slot: a slot is reused once freed.
      if (w === undefined || w.ticket !== e % KIND) continue;
      switch (kind) {
        case GRANTED:
          this.#start(w);
          break;
        case OPERATION_TIMEOUT:
          // The slot stays with the operation (a zombie) until it settles.
          if (w.done) break;
          this.#finish(w);
          w.reject(withoutStack(() => new OperationTimeoutError(this.getPoolStats())));
          break;
        case QUEUE_TIMEOUT:
          this.#entries[index] = undefined;
          this.#finish(w);
          w.reject(
            withoutStack(() => new QueueTimeoutError(this.getPoolStats(), gate.lastWaitedMs())),
          );
          break;
        case WOKEN:
          this.#entries[index] = undefined;
          this.#finish(w);
          w.resolve();
          break;
        case CLOSED:
          this.#entries[index] = undefined;
          this.#finish(w);
          w.reject(new PoolClosedError());
          break;
      }
    }
  }

  /** One timer for the whole pool, at the core's next deadline; none when idle. */
  #arm() {
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
