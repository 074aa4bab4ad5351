// Worker-side plumbing used by every scenarios/*.mjs file: reads the job's parameters (one JSON
// argument), loads the contender, runs the scenario's measure function, prints exactly one JSON
// line on stdout, and exits the process (the seed wrapper leaves 30 s timers armed on purpose).

/** Error a contender throws when it cannot run here (poolgate before `pkg/dist` exists). */
export class NotBuiltError extends Error {
  constructor(message) {
    super(message);
    this.name = 'NotBuiltError';
    this.code = 'NOT_BUILT';
  }
}

function emit(record) {
  process.stdout.write(`${JSON.stringify(record)}\n`);
}

/**
 * Loads `contenders/<params.contender>.mjs`, calls `measure(params, contender)` and reports.
 * `contender.create(options)` returns `{ run(op), queued(), isQueueTimeout(err), close() }`.
 */
export async function runWorker(measure) {
  const params = JSON.parse(process.argv[2] ?? '{}');
  process.once('beforeExit', () => {
    emit({
      ok: false,
      status: 'error',
      message: 'event loop emptied before the scenario finished: a promise never settled',
    });
    process.exit(1);
  });
  let code = 0;
  try {
    const contender = await import(`../contenders/${params.contender}.mjs`);
    const metrics = await measure(params, contender);
    emit({ ok: true, metrics });
  } catch (err) {
    if (err?.code === 'NOT_BUILT') {
      emit({ ok: false, status: 'not built', message: err.message });
    } else {
      emit({ ok: false, status: 'error', message: String(err?.stack ?? err) });
      code = 1;
    }
  }
  process.exit(code);
}

/** Resolves after the current microtask queue and one macrotask turn have drained. */
export function settleTicks(turns = 2) {
  let p = Promise.resolve();
  for (let i = 0; i < turns; i++) p = p.then(() => new Promise((r) => setImmediate(r)));
  return p;
}

/** Runs global.gc() `times` times (node --expose-gc); throws if gc is not exposed. */
export function fullGc(times = 3) {
  if (typeof globalThis.gc !== 'function') throw new Error('run with node --expose-gc');
  for (let i = 0; i < times; i++) globalThis.gc();
}

/** Submits `ops` calls of `op` through `run` at once; resolves { ms, failures } when all settled. */
export function burst(run, op, ops) {
  return new Promise((resolve) => {
    let remaining = ops;
    let failures = 0;
    let firstError;
    const t0 = performance.now();
    const finish = () => {
      if (--remaining === 0) resolve({ ms: performance.now() - t0, failures, firstError });
    };
    const fail = (err) => {
      failures++;
      firstError ??= String(err?.message ?? err);
      finish();
    };
    for (let i = 0; i < ops; i++) run(op).then(finish, fail);
  });
}
