// Baseline "no limiter": calls the operation directly. Measures what the harness itself costs,
// so the other contenders' figures can be read (or, in S2, subtracted) against it.

export const info = { queueTimeout: false };

export async function create() {
  return {
    run: (op) => op(),
    queued: () => 0,
    isQueueTimeout: () => false,
    close() {},
  };
}
