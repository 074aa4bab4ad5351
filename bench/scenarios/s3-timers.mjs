// S3 (time): submits `ops` calls of an operation that awaits a `opMs` timer, through the
// limiter at `limit`, all at once; reports wall time until all settled divided by the ideal
// time (ops / limit * opMs), so 1.00x would be a perfect limiter on a perfect timer.
// Params: { contender, ops, limit, opMs }.

import { burst, runWorker } from '../lib/worker.mjs';

runWorker(async ({ ops, limit, opMs }, contender) => {
  const op = () => new Promise((resolve) => setTimeout(resolve, opMs));
  const limiter = await contender.create({ limit });
  const { ms, failures, firstError } = await burst(limiter.run, op, ops);
  const idealMs = (ops / limit) * opMs;
  return { ops, limit, ms, idealMs, ratio: ms / idealMs, failures, firstError };
});
