// The pool's events: `pool.on(name, listener)` / `pool.off(name, listener)`. Listeners are
// called synchronously; one that throws does not stop the others or the pool (its error is
// reported as an uncaught exception, as EventTarget does). Nothing is measured while nobody
// listens to 'release' and alerts are off, so the fast path pays one field read.
//
//   'release'  { waitMs, holdMs, ok } for every settled operation: time from the call to the
//              start of the operation, from its start to its end, and whether it succeeded.
//   'alert'    an alert raised or cleared by the core's rules (`alerts` pool option), with the
//              figures that decided it.

import { AlertFeed, CONNECTION_FAILED, FAILED, OK } from './alerts.js';
import { classCode } from './classify.js';
import { describe } from './options.js';

const EVENT_NAMES = ['release', 'alert'];

function report(e) {
  queueMicrotask(() => {
    throw e;
  });
}

export class PoolEvents {
  #listeners = new Map();
  #releasing = false;
  /** The alert rules' feed, or null when alerts are off. */
  #feed = null;
  /** `[active, maxConnections]` of the pool, read at grants and releases for the alerts. */
  #level;
  /** Whether operations must be measured (read on every call). */
  watching = false;

  /**
   * @param {undefined | boolean | object} alerts the pool's `alerts` option
   * @param {() => number} clock the pool's clock, in ms
   * @param {() => [number, number]} level the pool's active slots and limit
   */
  constructor(alerts, clock, level) {
    if (alerts !== undefined && alerts !== false) {
      this.#feed = new AlertFeed(alerts, (a) => this.emit('alert', a), clock);
      this.#level = level;
      this.watching = true;
    }
  }

  on(name, listener) {
    this.#check(name, listener);
    let set = this.#listeners.get(name);
    if (!set) {
      set = new Set();
      this.#listeners.set(name, set);
    }
    set.add(listener);
    this.#update();
  }

  off(name, listener) {
    this.#check(name, listener);
    this.#listeners.get(name)?.delete(listener);
    this.#update();
  }

  emit(name, value) {
    const set = this.#listeners.get(name);
    if (!set) return;
    for (const fn of [...set]) {
      try {
        fn(value);
      } catch (e) {
        report(e);
      }
    }
  }

  /** A caller gave up waiting for a slot (for the alerts). */
  queueTimeout() {
    this.#feed?.queueTimeout();
  }

  /** The pool was closed: no alert timer is left behind. */
  stop() {
    this.#feed?.stop();
  }

  /**
   * `op` measured: called at submission, it returns an operation that notes when it starts
   * and, when it settles, emits `{ waitMs, holdMs, ok }` and feeds the alert rules.
   */
  measure(op, clock) {
    let submitted = clock();
    return () => {
      const started = clock();
      const feed = this.#feed;
      if (feed !== null) {
        const [active, limit] = this.#level();
        feed.granted(active, limit);
      }
      const done = (ok, err) => {
        const ended = clock();
        const holdMs = ended - started;
        if (this.#releasing) this.emit('release', { waitMs: started - submitted, holdMs, ok });
        if (feed !== null) {
          const outcome = ok ? OK : classCode(err) === 0 ? FAILED : CONNECTION_FAILED;
          // Called just before the pool gives the slot back: count it as given back.
          const [active, limit] = this.#level();
          feed.released(holdMs, outcome, Math.max(0, active - 1), limit);
        }
        // A retry of this call waits from here (its back-off, then the queue).
        submitted = ended;
      };
      let result;
      try {
        result = op();
      } catch (e) {
        done(false, e);
        throw e;
      }
      Promise.resolve(result).then(
        () => done(true),
        (e) => done(false, e),
      );
      return result;
    };
  }

  #update() {
    this.#releasing = (this.#listeners.get('release')?.size ?? 0) > 0;
    this.watching = this.#releasing || this.#feed !== null;
  }

  #check(name, listener) {
    if (!EVENT_NAMES.includes(name)) {
      throw new TypeError(
        `unknown event ${typeof name === 'string' ? JSON.stringify(name) : describe(name)}; expected one of ${EVENT_NAMES.join(', ')}`,
      );
    }
    if (typeof listener !== 'function') {
      throw new TypeError(`listener must be a function, got ${describe(listener)}`);
    }
  }
}
