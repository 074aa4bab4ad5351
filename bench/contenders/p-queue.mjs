// Contender p-queue (ESM-only): `new PQueue({ concurrency }).add(op)`.
// Queue timeout (S4) is modelled as a peer would write it: `add(op, { signal: AbortSignal.timeout(ms) })`.
// p-queue removes an aborted task from its queue and rejects the caller with the signal's
// TimeoutError; the signal also rejects a task still running at the deadline (a total deadline).
// Its own `timeout` option is not used: it starts only when the task starts, not while queued.

import PQueue from 'p-queue';

export const info = {
  queueTimeout: true,
  queueTimeoutModel:
    'add(op, { signal: AbortSignal.timeout(ms) }) (a deadline on queue wait + run)',
};

export async function create({ limit, queueTimeoutMs }) {
  const queue = new PQueue({ concurrency: limit });
  const run =
    queueTimeoutMs === undefined
      ? (op) => queue.add(op)
      : (op) => queue.add(op, { signal: AbortSignal.timeout(queueTimeoutMs) });
  return {
    run,
    queued: () => queue.size,
    isQueueTimeout: (err) => err?.name === 'TimeoutError',
    close: () => queue.clear(),
  };
}
