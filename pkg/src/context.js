// Nested calls: which pool slots the current async context already holds.
//
// A call made from inside a call that holds a slot of the same pool (`pool.run(() =>
// pool.run(...))`, a Prisma call inside `pool.run` or inside an interactive transaction) must not
// wait for a second slot: with every slot held by outer calls that wait for inner ones, nothing
// would ever move. Such a call runs on the slot its caller holds (reentrant), and is neither
// queued, counted again, timed out nor retried on its own.
//
// Detection uses AsyncLocalStorage: each started operation runs inside a frame naming its pool,
// and a call checks the frames above it. Node 20 pays for AsyncLocalStorage on every promise of
// the process once one is used (~100 ns each, measured), so tracking stays off until something
// needs it: a Prisma integration, a runtime that already uses AsyncLocalStorage itself (Next.js
// sets `globalThis.AsyncLocalStorage`), or `trackNestedCalls()`. Where no AsyncLocalStorage
// exists (browsers, Workers without `nodejs_compat`), nothing is detected: a nested call queues
// like any other and, with every slot held by its callers, ends with QueueTimeoutError.

import { abortReason } from './errors.js';
import {
  RUN_OPTIONS,
  checkObject,
  checkOperation,
  optionalBoolean,
  optionalNumber,
  optionalSignal,
} from './options.js';

let Storage; // the AsyncLocalStorage class, once known
let storage; // its one instance, created when tracking starts

/** Read by `ConnectionPool#run` on every call: one property load while tracking is off. */
export const nesting = { on: false };

/** Entries hand over the runtime's AsyncLocalStorage class (Node's `node:async_hooks`). */
export function provideAsyncLocalStorage(cls) {
  if (Storage === undefined && typeof cls === 'function') Storage = cls;
}

function findStorage() {
  if (Storage !== undefined) return Storage;
  if (typeof globalThis.AsyncLocalStorage === 'function') return globalThis.AsyncLocalStorage;
  const proc = globalThis.process;
  if (typeof proc?.getBuiltinModule === 'function') {
    try {
      return proc.getBuiltinModule('node:async_hooks')?.AsyncLocalStorage;
    } catch {
      return undefined;
    }
  }
  return undefined;
}

/**
 * Turns nested-call detection on for every pool of this process (idempotent). Returns whether
 * the runtime has AsyncLocalStorage; when it has none, nested calls are not detected.
 */
export function trackNestedCalls() {
  if (storage === undefined) {
    const cls = findStorage();
    if (typeof cls !== 'function') return false;
    storage = new cls();
  }
  nesting.on = true;
  return true;
}

/** Whether nested calls can be detected here (tracking on and AsyncLocalStorage present). */
export function nestedCallsTracked() {
  return nesting.on;
}

/** Whether the current async context runs inside an operation holding a slot of `pool`. */
export function heldBy(pool) {
  if (storage === undefined) return false;
  for (let f = storage.getStore(); f !== undefined; f = f.up) {
    if (f.pool === pool && f.held) return true;
  }
  return false;
}

/**
 * `op` made to run inside a frame that says it holds a slot of `pool`, until it settles (a
 * callback it leaves behind, run later, no longer counts as holding the slot). The frame's parent
 * is the caller's context, taken now.
 */
export function bindSlot(pool, op) {
  if (storage === undefined) return op;
  const up = storage.getStore();
  return () => {
    const frame = { pool, up, held: true };
    return storage.run(frame, runFrame, frame, op);
  };
}

function runFrame(frame, op) {
  let result;
  try {
    result = op();
  } catch (e) {
    frame.held = false;
    throw e;
  }
  if (result === null || typeof result?.then !== 'function') {
    frame.held = false;
    return result;
  }
  return Promise.resolve(result).then(
    (v) => {
      frame.held = false;
      return v;
    },
    (e) => {
      frame.held = false;
      throw e;
    },
  );
}

/**
 * Runs `op` on the slot the caller already holds: at once, not queued, not counted again, no
 * timeout or retry of its own (the outer call's apply). Options are checked as `run` checks
 * them (`checkRetry` checks the retry settings), and an aborted `signal` still refuses the call.
 */
export function runOnHeldSlot(op, options, checkRetry) {
  try {
    checkOperation(op);
    const o = checkObject('run options', options, RUN_OPTIONS);
    const signal = optionalSignal(o.signal);
    // Checked although the caller's slot, timeout and retries apply: a wrong one is reported.
    optionalNumber('timeoutMs', o.timeoutMs);
    optionalBoolean('idempotent', o.idempotent);
    checkRetry(o.retry);
    if (signal?.aborted) return Promise.reject(abortReason(signal));
    return Promise.resolve(op());
  } catch (e) {
    return Promise.reject(e);
  }
}

// Runtimes that already pay for AsyncLocalStorage (Next.js publishes it as a global) track
// from the start.
if (typeof globalThis.AsyncLocalStorage === 'function') trackNestedCalls();
