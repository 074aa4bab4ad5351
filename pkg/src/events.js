// The pool's events: `pool.on(name, listener)` / `pool.off(name, listener)`. Listeners are
// called synchronously; one that throws does not stop the others or the pool (its error is
// reported on the next tick, like an unhandled exception). Nothing is measured or emitted
// while nobody listens, so the fast path pays one field read.
//
//   'release'  { waitMs, holdMs, ok } for every settled operation: time from the call to the
//              start of the operation, from its start to its end, and whether it succeeded.
//   'alert'    an alert object (raised / cleared), once the core decides them.

import { describe } from './options.js';

const EVENT_NAMES = ['release', 'alert'];

function report(e) {
  queueMicrotask(() => {
    throw e;
  });
}

export class PoolEvents {
  #listeners = new Map();
  /** Whether anyone listens to 'release' (read on every call). */
  releasing = false;

  on(name, listener) {
    this.#check(name, listener);
    let set = this.#listeners.get(name);
    if (!set) {
      set = new Set();
      this.#listeners.set(name, set);
    }
    set.add(listener);
    this.releasing = (this.#listeners.get('release')?.size ?? 0) > 0;
  }

  off(name, listener) {
    this.#check(name, listener);
    this.#listeners.get(name)?.delete(listener);
    this.releasing = (this.#listeners.get('release')?.size ?? 0) > 0;
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

  /**
   * `op` measured for 'release': called at submission, it returns an operation that notes when
   * it starts and emits `{ waitMs, holdMs, ok }` when it settles.
   */
  measure(op, clock) {
    let submitted = clock();
    return () => {
      const started = clock();
      const done = (ok) => {
        const ended = clock();
        this.emit('release', { waitMs: started - submitted, holdMs: ended - started, ok });
        // A retry of this call waits from here (its back-off, then the queue).
        submitted = ended;
      };
      let result;
      try {
        result = op();
      } catch (e) {
        done(false);
        throw e;
      }
      Promise.resolve(result).then(
        () => done(true),
        () => done(false),
      );
      return result;
    };
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
