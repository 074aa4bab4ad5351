// GENERATED from crates/poolgate-core/src/protocol.rs by its tests: do not edit.
// Regenerate with: POOLGATE_BLESS=1 cargo test -p poolgate-core --test protocol

/** 2^48: tickets fit below it; kinds are carried above it. */
export const KIND_UNIT = 2 ** 48;

/** Event kinds from pollEvent(): kind * KIND_UNIT + ticket; 0 is no event. */
export const EVENT = Object.freeze({
  GRANTED: 1,
  QUEUE_TIMEOUT: 2,
  OPERATION_TIMEOUT: 3,
  CLOSED: 4,
});

/** Kinds of a submission's answer: kind * KIND_UNIT + ticket (refusals are negative). */
export const SUBMITTED = Object.freeze({
  GRANTED: 0,
  QUEUED: 1,
  GRANTED_NO_DEADLINE: 2,
});

/** Refusals of a submission (negative answers of submit). */
export const REFUSED = Object.freeze({
  QUEUE_FULL: -1,
  NO_WAIT: -2,
  CLOSED: -3,
  WOULD_TIME_OUT: -4,
});

/** Answers of release() and releaseClockFree(). */
export const RELEASE = Object.freeze({
  COMPLETED: 0,
  ZOMBIE_ENDED: 1,
  ALREADY_FREED: 2,
  RETRYING: 3,
  GAVE_UP_EXHAUSTED: 4,
  GAVE_UP_DEADLINE: 5,
  GAVE_UP_MAYBE_EXECUTED: 6,
  GAVE_UP_NOT_RETRYABLE: 7,
  GAVE_UP_CLOSED: 8,
  UNKNOWN_TICKET: -1,
  NOT_HELD: -2,
});

/** Answers of cancel(). */
export const CANCEL = Object.freeze({
  REMOVED: 0,
  NOW_ZOMBIE: 1,
  ALREADY_SETTLED: 2,
  UNKNOWN_TICKET: -1,
});

/** Classes of a failure (classifyError, and the class passed to release()). */
export const ERROR_CLASS = Object.freeze({
  PERMANENT: 0,
  NOT_SENT: 1,
  MAYBE_SENT: 2,
  TOO_MANY_CONNECTIONS: 3,
  LOGIN_LOCKOUT: 4,
});

/** Names of the error classes, by ERROR_CLASS code. */
export const ERROR_CLASS_NAMES = Object.freeze([
  'permanent',
  'not-sent',
  'maybe-sent',
  'too-many-connections',
  'login-lockout',
]);
