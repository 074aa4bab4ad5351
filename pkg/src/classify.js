// Gathers what an error says about itself (codes and messages from the error, its `cause`
// chain, Prisma's driver-adapter cause and AggregateError members) and lets the Rust core decide
// whether it is a transient connection failure.

import { classifyError } from './wasm.js';
import { ERROR_CLASS, ERROR_CLASS_NAMES } from './protocol.js';
const MAX_DEPTH = 6;

function collect(err, codes, messages, depth, seen) {
  if (err === null || err === undefined || depth > MAX_DEPTH) return;
  if (typeof err !== 'object' && typeof err !== 'function') {
    if (typeof err === 'string') messages.push(err);
    return;
  }
  if (seen.has(err)) return;
  seen.add(err);
  for (const key of ['code', 'errno', 'sqlState', 'kind', 'originalCode']) {
    const v = err[key];
    if (typeof v === 'string' || typeof v === 'number') codes.push(String(v));
  }
  for (const key of ['message', 'originalMessage']) {
    if (typeof err[key] === 'string') messages.push(err[key]);
  }
  collect(err.meta?.driverAdapterError?.cause, codes, messages, depth + 1, seen);
  collect(err.meta?.driverAdapterError, codes, messages, depth + 1, seen);
  collect(err.cause, codes, messages, depth + 1, seen);
  if (Array.isArray(err.errors)) {
    for (const e of err.errors.slice(0, 8)) collect(e, codes, messages, depth + 1, seen);
  }
}

/** `ERROR_CLASS` code of any thrown value. */
export function classCode(err) {
  const codes = [];
  const messages = [];
  try {
    collect(err, codes, messages, 0, new Set());
  } catch {
    // A getter that throws (a hostile proxy, say) leaves what was gathered so far.
  }
  return classifyError(codes, messages);
}

/**
 * How poolgate would treat `err` when retrying: `'permanent'` (never retried), `'not-sent'`
 * (the statement never reached the server; retried even for writes), `'maybe-sent'` (the
 * connection broke while it may have run; retried only for idempotent operations), or two
 * kinds of not-sent: `'too-many-connections'` (the server or pooler is full; the adaptive limit
 * lowers itself on it) and `'login-lockout'` (a pooler refuses logins for a while after losing
 * its server; `loginLockoutMs` spreads the retries over it).
 */
export function classify(err) {
  return ERROR_CLASS_NAMES[classCode(err)];
}

/** Whether `err` is a transient connection failure (any class but `'permanent'`). */
export function isTransientError(err) {
  return classCode(err) !== ERROR_CLASS.PERMANENT;
}
