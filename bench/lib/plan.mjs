// What the driver runs: the scenarios (each split into the variants that get their own table
// column), their full and --quick sizes, and the contenders in table order.

export const CONTENDERS = [
  'none',
  'p-limit',
  'p-queue',
  'async-sema',
  'cockatiel',
  'seed-wrapper',
  'poolgate',
];

/** One entry per table column group; `scenario` is what --only=S1,... selects. */
export const VARIANTS = [
  {
    id: 'S1-limit10',
    scenario: 'S1',
    script: 's1-burst.mjs',
    full: { ops: 1_000_000, limit: 10 },
    quick: { ops: 20_000, limit: 10 },
    capOpsForDeepQueue: true,
  },
  {
    id: 'S1-limit100',
    scenario: 'S1',
    script: 's1-burst.mjs',
    full: { ops: 1_000_000, limit: 100 },
    quick: { ops: 20_000, limit: 100 },
    capOpsForDeepQueue: true,
  },
  {
    id: 'S2',
    scenario: 'S2',
    script: 's2-sequential.mjs',
    nodeFlags: ['--expose-gc'],
    full: { ops: 200_000, rounds: 9, limit: 10 },
    quick: { ops: 20_000, rounds: 3, limit: 10 },
  },
  {
    id: 'S3-time',
    scenario: 'S3',
    script: 's3-timers.mjs',
    full: { ops: 100_000, limit: 100, opMs: 1 },
    quick: { ops: 20_000, limit: 100, opMs: 1 },
  },
  {
    id: 'S3-heap',
    scenario: 'S3',
    script: 's3-heap.mjs',
    nodeFlags: ['--expose-gc'],
    full: { waiters: 100_000 },
    quick: { waiters: 20_000 },
  },
  {
    id: 'S4',
    scenario: 'S4',
    script: 's4-queue-timeout.mjs',
    full: { ops: 100_000, limit: 10, opMs: 1, queueTimeoutMs: 5, capMs: 60_000 },
    quick: { ops: 20_000, limit: 10, opMs: 1, queueTimeoutMs: 5, capMs: 5_000 },
    needsQueueTimeout: true,
  },
];

export const FULL = { reps: 3, jobTimeoutMs: 600_000, coldStartRuns: 31 };
export const QUICK = { reps: 1, jobTimeoutMs: 30_000, coldStartRuns: 5 };
