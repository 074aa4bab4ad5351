// Type checks for everything a caller passes in. Types are checked here (TypeError); ranges are
// checked by the Rust core (RangeError), so the rules live in one place and messages name the
// option and its accepted range.

export const POOL_OPTIONS = [
  'maxConnections',
  'maxQueue',
  'queueTimeoutMs',
  'operationTimeoutMs',
  'releaseOnTimeout',
  'adaptive',
  'rejectEarly',
  'alerts',
];
const POOL_NUMBERS = ['maxConnections', 'maxQueue', 'queueTimeoutMs', 'operationTimeoutMs'];
const POOL_BOOLEANS = ['releaseOnTimeout', 'rejectEarly'];
export const RUN_OPTIONS = ['signal', 'timeoutMs', 'idempotent', 'retry'];
export const RETRY_ONLY_OPTIONS = ['maxDelayMs', 'jitter', 'deadlineMs', 'loginLockoutMs'];
export const RETRY_OPTIONS = ['maxRetries', 'delay', ...RETRY_ONLY_OPTIONS];
/** `withRetryAndPool`'s options: `run`'s, with the retry settings spread out. */
export const WITH_RETRY_OPTIONS = [
  ...RUN_OPTIONS.filter((k) => k !== 'retry'),
  ...RETRY_ONLY_OPTIONS,
];

/** A short, safe description of any value for an error message. */
export function describe(v) {
  if (v === null) return 'null';
  if (typeof v === 'string') return `the string ${JSON.stringify(v.slice(0, 40))}`;
  if (typeof v === 'function') return 'a function';
  if (typeof v === 'object') return Array.isArray(v) ? 'an array' : 'an object';
  if (typeof v === 'symbol') return 'a symbol';
  return `${typeof v} ${String(v)}`;
}

/** Checks that `options` is undefined or a plain object holding only `known` keys. */
export function checkObject(what, options, known) {
  if (options === undefined) return {};
  if (options === null || typeof options !== 'object' || Array.isArray(options)) {
    throw new TypeError(`${what} must be an object, got ${describe(options)}`);
  }
  for (const key of Object.keys(options)) {
    if (!known.includes(key)) {
      throw new TypeError(
        `${what}: unknown option ${JSON.stringify(key)}; expected one of ${known.join(', ')}`,
      );
    }
  }
  return options;
}

/**
 * Checks the types of pool options (values are the core's to check) and returns the record
 * the core reads: `adaptive` is `true`, `false` or `{ min }`.
 */
export function checkPoolOptions(o) {
  for (const k of POOL_NUMBERS) optionalNumber(k, o[k]);
  for (const k of POOL_BOOLEANS) optionalBoolean(k, o[k]);
  const a = o.adaptive;
  if (a !== undefined && typeof a !== 'boolean') {
    const { min } = checkObject('adaptive', a, ['min']);
    optionalNumber('adaptive.min', min);
  }
  return o;
}

/** `undefined` passes through; anything else must be a number. */
export function optionalNumber(name, v) {
  if (v === undefined) return undefined;
  if (typeof v !== 'number') throw new TypeError(`${name} must be a number, got ${describe(v)}`);
  return v;
}

/** Must be a number (its range is the core's to check). */
export function requiredNumber(name, v) {
  if (typeof v !== 'number') throw new TypeError(`${name} must be a number, got ${describe(v)}`);
  return v;
}

/** `undefined` passes through; anything else must be a boolean. */
export function optionalBoolean(name, v) {
  if (v === undefined) return undefined;
  if (typeof v !== 'boolean') throw new TypeError(`${name} must be a boolean, got ${describe(v)}`);
  return v;
}

/** `undefined` passes through; anything else must look like an AbortSignal. */
export function optionalSignal(v) {
  if (v === undefined) return undefined;
  if (
    v === null ||
    typeof v !== 'object' ||
    typeof v.aborted !== 'boolean' ||
    typeof v.addEventListener !== 'function' ||
    typeof v.removeEventListener !== 'function'
  ) {
    throw new TypeError(`signal must be an AbortSignal, got ${describe(v)}`);
  }
  return v;
}

/** The operation must be a function returning a value or a promise. */
export function checkOperation(op) {
  if (typeof op !== 'function') {
    throw new TypeError(`operation must be a function returning a promise, got ${describe(op)}`);
  }
}
