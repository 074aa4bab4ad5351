// Contender p-limit (ESM-only): `pLimit(limit)(op)`. It has no queue-wait timeout.

import pLimit from 'p-limit';

export const info = { queueTimeout: false };

export async function create({ limit }) {
  const limiter = pLimit(limit);
  return {
    run: (op) => limiter(op),
    queued: () => limiter.pendingCount,
    isQueueTimeout: () => false,
    close: () => limiter.clearQueue(),
  };
}
