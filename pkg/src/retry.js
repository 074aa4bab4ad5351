// Retry with linear back-off around pool.run. The Rust core decides whether and when to retry
// (error class, idempotence, attempts used, overall deadline); this loop only waits for the
// back-off, which the pool tracks like any other deadline (one timer, ended by close or abort).

import { RetryPolicy } from './wasm.js';
import { classCode } from './classify.js';
import { RETRY_OPTIONS, checkObject, optionalNumber } from './options.js';

// Policies are small wasm objects; callers pass the same few settings over and over, so each
// distinct setting is validated and built once.
const policies = new Map();
const MAX_CACHED_POLICIES = 64;

/** A validated policy from `{ maxRetries, delay, maxDelayMs, jitter, deadlineMs }`. */
export function retryPolicyFrom(options) {
  const o = checkObject('retry options', options, RETRY_OPTIONS);
  const maxRetries = optionalNumber('maxRetries', o.maxRetries);
  const delay = optionalNumber('delay', o.delay);
  const maxDelayMs = optionalNumber('maxDelayMs', o.maxDelayMs);
  const jitter = optionalNumber('jitter', o.jitter);
  const deadlineMs = optionalNumber('deadlineMs', o.deadlineMs);
  if (deadlineMs !== undefined && !(deadlineMs >= 1)) {
    throw new RangeError(
      `deadlineMs must be a number of milliseconds from 1 to Infinity, got ${deadlineMs}`,
    );
  }
  const key = `${maxRetries}|${delay}|${maxDelayMs}|${jitter}`;
  let rust = policies.get(key);
  if (rust === undefined) {
    rust = new RetryPolicy(maxRetries, delay, maxDelayMs, jitter);
    if (policies.size < MAX_CACHED_POLICIES) policies.set(key, rust);
  }
  return { rust, deadlineMs };
}

/** Runs `op` through `pool`, retrying transient connection failures as the policy allows. */
export async function runWithRetry(pool, op, { signal, timeoutMs, idempotent, policy, clock }) {
  const deadline = policy.deadlineMs === undefined ? Infinity : clock() + policy.deadlineMs;
  for (let failed = 1; ; failed++) {
    try {
      return await pool.submit(op, signal, timeoutMs, deadline);
    } catch (err) {
      const at = policy.rust.decide(
        failed,
        classCode(err),
        idempotent,
        clock(),
        deadline,
        Math.random(),
      );
      if (at < 0) throw err;
      await pool.sleepUntil(at, signal);
    }
  }
}
