// Contender cockatiel: its `bulkhead(limit, queue)` policy (queue = maxQueue, 2,000,000).
// Queue timeout (S4) is modelled as a peer would write it:
// `wrap(timeout(ms, TimeoutStrategy.Aggressive), bulkhead)`, which rejects the caller at the
// deadline (a deadline on queue wait + run) and aborts the signal the bulkhead sees; the bulkhead
// only checks that signal when an entry reaches the head of its queue.

import cockatiel from 'cockatiel';

const { bulkhead, timeout, wrap, TimeoutStrategy, TaskCancelledError } = cockatiel;

export const info = {
  queueTimeout: true,
  queueTimeoutModel:
    'wrap(timeout(ms, Aggressive), bulkhead(limit, queue)) (a deadline on queue wait + run)',
  // Array#shift on a deep queue is O(n): S1 runs at 100k ops instead of 1M.
  deepQueueOps: 100_000,
};

export async function create({ limit, maxQueue = 2_000_000, queueTimeoutMs }) {
  const gate = bulkhead(limit, maxQueue);
  const policy =
    queueTimeoutMs === undefined
      ? gate
      : wrap(timeout(queueTimeoutMs, TimeoutStrategy.Aggressive), gate);
  return {
    run: (op) => policy.execute(op),
    queued: () => maxQueue - gate.queueSlots,
    isQueueTimeout: (err) => err instanceof TaskCancelledError,
    close() {},
  };
}
