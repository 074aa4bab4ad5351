// Contender poolgate: the package built in ../../pkg (linked as `poolgate` by bench/package.json).
// Always run as shipped: queue timeout armed (60 s in S1-S3, the scenario's value in S4), a
// queue bound large enough for the burst, stats available. Throws NotBuiltError until
// pkg/dist exists, so the driver reports "not built" and goes on with the others.

import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { NotBuiltError } from '../lib/worker.mjs';

export const info = { queueTimeout: true, queueTimeoutModel: 'native queueTimeoutMs' };

const DIST = fileURLToPath(new URL('../../pkg/dist/', import.meta.url));

async function load() {
  if (!existsSync(DIST)) throw new NotBuiltError(`not built: ${DIST} does not exist`);
  try {
    return await import('poolgate');
  } catch (err) {
    if (err?.code === 'ERR_MODULE_NOT_FOUND') throw new NotBuiltError(`not built: ${err.message}`);
    throw err;
  }
}

export async function create({ limit, maxQueue = 2_000_000, queueTimeoutMs = 60_000 }) {
  const { ConnectionPool } = await load();
  const pool = new ConnectionPool({ maxConnections: limit, maxQueue, queueTimeoutMs });
  return {
    run: (op) => pool.run(op),
    queued: () => pool.getPoolStats().queuedConnections,
    isQueueTimeout: (err) => err?.name === 'QueueTimeoutError',
    close: () => pool.close(),
  };
}
