// S2 uncontended cost: `ops` calls of `async () => {}`, each awaited before the next, through the
// limiter and, in the same process, with no limiter. Rounds alternate (gc before each); the
// reported cost is (median limiter round - median bare round) / ops, in ns per operation.
// Params: { contender, ops, rounds, limit } (run with node --expose-gc).

import { median } from '../lib/stats.mjs';
import { fullGc, runWorker } from '../lib/worker.mjs';

async function bareLoop(op, n) {
  for (let i = 0; i < n; i++) await op();
}

async function limitedLoop(run, op, n) {
  for (let i = 0; i < n; i++) await run(op);
}

async function timed(fn) {
  fullGc(1);
  const t0 = performance.now();
  await fn();
  return performance.now() - t0;
}

runWorker(async ({ ops, rounds, limit }, contender) => {
  const op = async () => {};
  const limiter = await contender.create({ limit });
  const warm = Math.min(ops, 20_000);
  await bareLoop(op, warm);
  await limitedLoop(limiter.run, op, warm);

  const bare = [];
  const limited = [];
  for (let r = 0; r < rounds; r++) {
    bare.push(await timed(() => bareLoop(op, ops)));
    limited.push(await timed(() => limitedLoop(limiter.run, op, ops)));
  }
  const toNs = (ms) => (ms * 1e6) / ops;
  return {
    ops,
    rounds,
    nsPerOp: toNs(median(limited) - median(bare)),
    bareNsPerOp: toNs(median(bare)),
    limitedNsPerOp: toNs(median(limited)),
    bareMs: bare,
    limitedMs: limited,
  };
});
