// The driver side of alerts: feeds the core's alert rules (crates/poolgate-core/src/alerts.rs)
// with what the pool sees, dispatches each decided alert to 'alert' listeners, and keeps one
// timer for the rules' next deadline, only while something is pending. The timer is unref'd:
// alerts watch the process, they never keep it alive.

import { checkObject, optionalNumber } from './options.js';
import { Alerts } from './wasm.js';

/** Alert options, as `new ConnectionPool({ alerts: { ... } })` takes them. */
export const ALERT_OPTIONS = [
  'windowMs',
  'saturatedPercent',
  'saturatedForMs',
  'saturatedClearPercent',
  'slowMs',
  'slowClearMs',
  'errorRate',
  'errorClearRate',
  'minOperations',
  'disconnects',
  'disconnectsClear',
  'queueTimeouts',
];

/** Outcome codes the core expects: ok, failed, failed with a connection-class error. */
export const OK = 0;
export const FAILED = 1;
export const CONNECTION_FAILED = 2;

export class AlertFeed {
  #alerts;
  #emit;
  #clock;
  #timer = null;
  #timerAt = Infinity;
  #onTimer = () => {
    this.#timer = null;
    this.#timerAt = Infinity;
    this.#alerts.handleTimeout(this.#clock());
    this.#flush();
  };

  /**
   * @param {true | object} options `true` for the defaults, or thresholds (ALERT_OPTIONS)
   * @param {(alert: object) => void} emit called with each alert, in order
   * @param {() => number} clock the pool's clock, in ms
   */
  constructor(options, emit, clock) {
    const o = options === true ? {} : checkObject('alerts options', options, ALERT_OPTIONS);
    this.#alerts = new Alerts(...ALERT_OPTIONS.map((k) => optionalNumber(k, o[k])));
    this.#emit = emit;
    this.#clock = clock;
  }

  /** A caller was granted a slot; `active` of `limit` are held now. */
  granted(active, limit) {
    this.#alerts.onGrant(this.#clock(), active, limit);
    this.#flush();
  }

  /** An operation settled after holding its slot `holdMs`; `active` of `limit` remain. */
  released(holdMs, outcome, active, limit) {
    this.#alerts.onRelease(this.#clock(), holdMs, outcome, active, limit);
    this.#flush();
  }

  /** A caller gave up waiting for a slot. */
  queueTimeout() {
    this.#alerts.onQueueTimeout(this.#clock());
    this.#flush();
  }

  /** Whether the alert `name` is raised now. */
  isRaised(name) {
    return this.#alerts.isRaised(name);
  }

  /** Stops the timer (the pool was closed). */
  stop() {
    if (this.#timer !== null) clearTimeout(this.#timer);
    this.#timer = null;
    this.#timerAt = Infinity;
  }

  #flush() {
    for (let a = this.#alerts.pollAlert(); a !== undefined; a = this.#alerts.pollAlert()) {
      this.#emit(a);
    }
    const at = this.#alerts.nextDeadline();
    if (at === this.#timerAt) return;
    if (this.#timer !== null) clearTimeout(this.#timer);
    this.#timer = null;
    this.#timerAt = at;
    if (at !== Infinity) {
      this.#timer = setTimeout(this.#onTimer, Math.max(0, Math.ceil(at - this.#clock())));
      this.#timer.unref?.();
    }
  }
}
