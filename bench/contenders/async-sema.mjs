// Contender async-sema: a semaphore used the usual way, acquire / try { await op() } finally release.
// It has no queue-wait timeout.

import asyncSema from 'async-sema';

const { Sema } = asyncSema;

export const info = { queueTimeout: false };

export async function create({ limit }) {
  const sema = new Sema(limit);
  const run = async (op) => {
    await sema.acquire();
    try {
      return await op();
    } finally {
      sema.release();
    }
  };
  return {
    run,
    queued: () => sema.nrWaiting(),
    isQueueTimeout: () => false,
    close() {},
  };
}
