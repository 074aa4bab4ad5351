// The "How these were measured" notes printed under the results table: one line per scenario,
// plus how each contender without a native queue timeout was given one in S4.

export function methodNotes(contenders, infos) {
  const modelled = contenders.filter((c) => infos[c].queueTimeoutModel && c !== 'poolgate');
  return [
    'Each cell: one fresh `node` process per repetition (child_process.spawn), the median of the repetitions.',
    'S1: a burst of `async () => {}` submitted at once, ops/s until all settled (after a 10k warm-up burst in the same process). ' +
      'cockatiel and seed-wrapper drain their queue with Array#shift (O(n) on a deep queue) and run S1 at 100k ops instead of 1M, as marked.',
    'S2: ops awaited one at a time; (median limiter round - median no-limiter round) / ops, rounds alternating in one process, gc before each.',
    'S3 time: 1 ms timer ops at limit 100; wall time / (ops / 100 * 1 ms). S3 memory: limit 1, ops held on a pending gate, ' +
      '(heapUsed after - before) / waiters with gc (--expose-gc), minus the same harness with no limiter; includes the promise each caller gets.',
    'S4: 1 ms ops at limit 10, queue timeout 5 ms, all submitted at once. Lateness = time the caller sees the timeout - (submit time + 5 ms); ' +
      'the submit loop itself delays early timers. "started after timeout": ops whose function ran after their caller had been rejected. ' +
      '"past deadline": ops whose function started later than submit time + 5 ms, whatever the caller was told. ' +
      '"peak running": most ops running at once, as the ops themselves count it. "queue left": entries in the limiter queue when the ' +
      "harness stopped watching (idle, or no op started for 500 ms). A ref'd interval keeps the process alive, as a server would; " +
      'callers still pending at the cap (60 s; 5 s with --quick) are reported as never settled.',
    'none has no limit: its S3 ratio is the harness floor (all timers at once), not a figure to compare.',
    ...modelled.map((c) => `S4 ${c}: queue timeout modelled as ${infos[c].queueTimeoutModel}.`),
    'poolgate always runs with its queue timeout armed (60 s in S1-S3) and maxQueue 2,000,000. ' +
      "seed-wrapper is the seed's wrapper ported as is (no queue timeout; a 30 s timer per call, never cleared).",
  ];
}
