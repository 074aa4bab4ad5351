// S1 burst throughput: submits `ops` calls of `async () => {}` through the limiter at once
// (limit `limit`), waits until every call has settled and reports ops/s. A small warm-up burst
// runs first so the timed burst measures optimised code. One process per measurement.
// Params: { contender, ops, limit }.

import { burst, runWorker } from '../lib/worker.mjs';

runWorker(async ({ ops, limit }, contender) => {
  const op = async () => {};
  const warm = await contender.create({ limit });
  await burst(warm.run, op, Math.min(10_000, Math.ceil(ops / 10)));
  await warm.close?.();

  const limiter = await contender.create({ limit });
  const { ms, failures, firstError } = await burst(limiter.run, op, ops);
  return { ops, limit, ms, opsPerSec: (ops / ms) * 1000, failures, firstError };
});
