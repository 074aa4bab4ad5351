// The driver of a fleet lease: the Rust machine (FleetLease) decides how many fleet slots this
// instance holds and when to ask, renew or give back; this file runs the store script it asks
// for, feeds the answer back, and sets the gate's fleet limit. The fast path never waits on it:
// slots are leased in blocks, and the pool calls `sync()` only on its slower paths.

import { FleetLease } from '../wasm.js';
import { checkObject, describe, optionalNumber } from '../options.js';
import { leaseKeys } from './script.js';
import { storeOf } from './stores.js';

export const FLEET_OPTIONS = [
  'store',
  'key',
  'limit',
  'leaseMs',
  'fallbackMaxConnections',
  'block',
  'pollMs',
  'requestTimeoutMs',
  'retryMs',
  'trimConnections',
  'onStateChange',
];

function randomId() {
  const c = globalThis.crypto;
  if (c !== undefined && typeof c.randomUUID === 'function') return c.randomUUID();
  return `${Date.now().toString(36)}-${Math.random().toString(36).slice(2)}`;
}

export class FleetDriver {
  #core;
  #run;
  #keys;
  #id = randomId();
  #limit;
  #leaseMs;
  #gate;
  #clock;
  #wake;
  #timer = null;
  #timerAt = Infinity;
  #trim;
  #onStateChange;
  #mode = 'joining';
  #lastError = null;
  #sent = 0;
  #onTimer = () => {
    this.#timer = null;
    this.#timerAt = Infinity;
    this.#core.handleTimeout(this.#clock());
    this.#wake();
  };

  /**
   * @param {object} options the pool's `fleet` option
   * @param {object} gate the pool's wasm Gate
   * @param {number} maxConnections the pool's local limit
   * @param {() => number} clock
   * @param {() => void} wake the pool's "drain events and re-arm" (which calls sync())
   */
  constructor(options, gate, maxConnections, clock, wake) {
    const o = checkObject('fleet options', options, FLEET_OPTIONS);
    this.#run = storeOf(o.store);
    if (typeof o.key !== 'string' || o.key.length === 0) {
      throw new TypeError(
        `fleet.key must be a non-empty string naming the limit shared by the fleet (e.g. 'db-main'), got ${describe(o.key)}`,
      );
    }
    for (const name of ['trimConnections', 'onStateChange']) {
      if (o[name] !== undefined && typeof o[name] !== 'function') {
        throw new TypeError(`fleet.${name} must be a function, got ${describe(o[name])}`);
      }
    }
    const limit = optionalNumber('fleet.limit', o.limit);
    if (limit === undefined) {
      throw new TypeError('fleet.limit is required: the slots the whole fleet may hold (e.g. 16)');
    }
    const local = maxConnections;
    const leaseMs = optionalNumber('fleet.leaseMs', o.leaseMs) ?? 10000;
    this.#core = new FleetLease(
      limit,
      local,
      optionalNumber('fleet.block', o.block) ?? Math.max(1, Math.floor(local / 4)),
      leaseMs,
      Math.max(leaseMs / 10, 1),
      optionalNumber('fleet.pollMs', o.pollMs) ?? 100,
      optionalNumber('fleet.requestTimeoutMs', o.requestTimeoutMs) ?? Math.min(1000, leaseMs / 4),
      optionalNumber('fleet.fallbackMaxConnections', o.fallbackMaxConnections) ?? 1,
      optionalNumber('fleet.retryMs', o.retryMs) ?? 500,
    );
    this.#keys = leaseKeys(o.key);
    this.#limit = limit;
    this.#leaseMs = leaseMs;
    this.#gate = gate;
    this.#clock = clock;
    this.#wake = wake;
    this.#trim = o.trimConnections;
    this.#onStateChange = o.onStateChange;
  }

  /** Tells the machine the gate's demand, sets the gate's fleet limit, sends what is due. */
  sync() {
    const now = this.#clock();
    const g = this.#gate;
    g.setFleetLimit(now, this.#core.sync(now, g.active, g.queued));
    this.#core.sync(now, g.active, g.queued);
    if (this.#core.pollRequest(now)) {
      const c = this.#core;
      this.#send(c.requestSeq, c.requestWant, c.requestWaiting);
      g.setFleetLimit(now, c.usable(now));
    }
    this.#notify();
    this.#arm();
  }

  async #send(seq, want, waiting) {
    this.#sent += 1;
    try {
      // Connections behind slots given back must close before the store hands them on.
      await this.#trimTo();
      const args = [this.#id, seq, want, waiting ? 1 : 0, this.#limit, this.#leaseMs];
      const r = await this.#run(this.#keys, args);
      if (!Array.isArray(r) || r.length < 4)
        throw new Error(`unexpected store reply ${describe(r)}`);
      this.#core.onReply(
        this.#clock(),
        seq,
        Number(r[0]),
        Number(r[1]),
        Number(r[2]),
        Number(r[3]),
      );
      this.#lastError = null;
    } catch (e) {
      this.#lastError = e;
      this.#core.onFailure(this.#clock(), seq);
    }
    this.#wake();
    // Granted less than the pool holds open (or fell back): close the idle rest.
    await this.#trimTo();
  }

  /** Lets the user's `trimConnections(keep)` close idle connections beyond the usable slots. */
  async #trimTo() {
    if (this.#trim === undefined) return;
    try {
      await this.#trim(this.#core.usable(this.#clock()));
    } catch {
      // A failing hook must not stop the lease; the pool keeps serving.
    }
  }

  #notify() {
    if (this.#onStateChange === undefined) return;
    const mode = this.#core.stats(this.#clock()).mode;
    if (mode === this.#mode) return;
    const from = this.#mode;
    this.#mode = mode;
    try {
      this.#onStateChange({ from, to: mode, error: this.#lastError });
    } catch {
      // A listener that throws must not stop the pool.
    }
  }

  #arm() {
    const at = this.#core.pollTimeout();
    if (at === this.#timerAt) return;
    if (this.#timer !== null) clearTimeout(this.#timer);
    this.#timer = null;
    this.#timerAt = at;
    if (at === Infinity) return;
    this.#timer = setTimeout(this.#onTimer, Math.max(0, Math.ceil(at - this.#clock())));
    // Renewals alone must not keep a process alive.
    if (typeof this.#timer === 'object' && typeof this.#timer.unref === 'function') {
      this.#timer.unref();
    }
  }

  /** Gives back every slot once running operations finish. */
  close() {
    this.#core.close(this.#clock());
    this.#wake();
  }

  /** `{ mode, held, usable, requests, failures, fallbacks, othersWaiting, instances, lastError }`. */
  metrics() {
    const s = this.#core.stats(this.#clock());
    s.lastError =
      this.#lastError === null ? null : String(this.#lastError.message ?? this.#lastError);
    return s;
  }
}
