// Names an error for the load tool's tally: the Prisma code and the SQLSTATE (or driver-adapter
// kind) when there are any, else poolgate's or Node's code, else the message's first line; then
// how poolgate classifies it.

import { classify } from 'poolgate';

const MAX_MESSAGE = 48;

function firstLine(err) {
  const line = String(err?.message ?? err)
    .split('\n')[0]
    .trim();
  return line.length > MAX_MESSAGE ? `${line.slice(0, MAX_MESSAGE - 3)}...` : line;
}

/** The SQLSTATE or driver-adapter kind behind a Prisma error, if it says. */
export function causeOf(err) {
  const cause = err?.meta?.driverAdapterError?.cause;
  return cause?.originalCode ?? cause?.kind;
}

/**
 * A short stable key such as `P2037 53300 (too-many-connections)` or
 * `Connection terminated ... (maybe-sent)`.
 */
export function errorKey(err) {
  const parts = [];
  if (typeof err?.code === 'string' && /^P\d{4}$/.test(err.code)) {
    parts.push(err.code);
    const cause = causeOf(err);
    if (cause) parts.push(cause);
  } else if (typeof err?.code === 'string' && err.code !== '') {
    parts.push(err.code);
  } else {
    parts.push(firstLine(err));
  }
  return `${parts.join(' ')} (${classify(err)})`;
}

/** Classes of a connection failure that never reached the server. */
const NOT_SENT = ['(not-sent)', '(too-many-connections)', '(login-lockout)'];

/** How many of a load result's errors were connection failures that never reached the server. */
export function connectionErrors(result) {
  return Object.entries(result.errors)
    .filter(([key]) => NOT_SENT.some((c) => key.endsWith(c)))
    .reduce((n, [, count]) => n + count, 0);
}
