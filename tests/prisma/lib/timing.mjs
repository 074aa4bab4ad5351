// Per-operation service times for the capacity planner's validation (scripts/validate-plan).
// A service time is how long the operation held its gate slot: from the moment poolgate starts
// it to the moment it settles (each attempt's, summed over retries), which covers the pg pool's
// checkout and Prisma's work around the SQL. That is what the simulator draws for each
// operation. Its wait is then its latency minus that time.
//
// The slot's operation is matched to its caller through the synchronous call: the gated client
// calls `pool.run(op)` before returning, so `timedCall` marks the caller while it makes the
// call and the gate's `run` picks the mark up. (Async context does not survive the trip: a
// queued operation is started from the continuation of whichever one freed its slot, and a
// Prisma query extension receives a copy of the arguments.) Without a gate there is no slot and
// the whole call is the service time: waits in the pg pool cannot be told apart from it.

import { performance } from 'node:perf_hooks';

let current;

/** Patches `gate` (a ConnectionPool) so the operations it runs add their time to their caller's record. */
export function timeGate(gate) {
  const run = gate.run;
  gate.run = function timedRun(op, options) {
    const record = current;
    if (record === undefined || typeof op !== 'function') return run.call(this, op, options);
    record.gated = true;
    const timedOp = async () => {
      const t0 = performance.now();
      try {
        return await op();
      } finally {
        record.serviceMs += performance.now() - t0;
      }
    };
    return run.call(this, timedOp, options);
  };
  return gate;
}

/**
 * Calls `fn()` (which makes one Prisma call, gated or not) and resolves to `{ serviceMs,
 * gated }`: the slot time when a timed gate ran it, else the whole call's time.
 */
export async function timedCall(fn) {
  const record = { serviceMs: 0, gated: false };
  const t0 = performance.now();
  current = record;
  let promise;
  try {
    promise = fn();
  } finally {
    current = undefined;
  }
  try {
    await promise;
  } finally {
    if (!record.gated) record.serviceMs = performance.now() - t0;
  }
  return record;
}
