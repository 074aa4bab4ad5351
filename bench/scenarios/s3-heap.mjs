// S3 (memory): heap bytes per queued waiter. With the limiter at limit 1, submits `waiters`
// calls of one shared operation that awaits a gate promise left pending, so one call runs and
// the rest wait in the queue. gc before and after (node --expose-gc); the caller's promises
// are kept in an array allocated before the first reading. The same harness with no limiter
// (run = op => op()) is measured first in this process and subtracted, so the array and the
// harness do not count; the promise the limiter hands back to each caller does.
// Params: { contender, waiters }.

import { fullGc, runWorker, settleTicks } from '../lib/worker.mjs';

async function heapGrowth(run, op, holder) {
  await settleTicks();
  fullGc();
  const before = process.memoryUsage().heapUsed;
  for (let i = 0; i < holder.length; i++) holder[i] = run(op);
  await settleTicks();
  fullGc();
  return process.memoryUsage().heapUsed - before;
}

runWorker(async ({ waiters }, contender) => {
  let openGate;
  const gate = new Promise((resolve) => {
    openGate = resolve;
  });
  const op = () => gate;
  const holder = new Array(waiters).fill(null);

  const baselineBytes = await heapGrowth((fn) => fn(), op, holder);
  holder.fill(null);

  const limiter = await contender.create({ limit: 1 });
  const limiterBytes = await heapGrowth(limiter.run, op, holder);
  const queuedAtReading = limiter.queued();
  const bytesPerWaiter = (limiterBytes - baselineBytes) / waiters;

  openGate();
  return { waiters, baselineBytes, limiterBytes, queuedAtReading, bytesPerWaiter };
});
