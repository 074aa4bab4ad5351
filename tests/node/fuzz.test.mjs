// Property fuzz of every export of the installed `poolgate` package (issue 4, JS part).
//
// Every call gets arbitrary values (fc.anything(), odd numbers, strings, symbols, objects with
// unknown keys, getters and proxies that throw, signal look-alikes). The property: a call either
// succeeds or fails with a TypeError/RangeError whose message names an option or the argument
// (promise-returning calls reject, never throw), never a wasm trap or any other error class, and
// afterwards the same pool still runs `async () => 1` and its stats are idle and consistent.
//
// Errors that are the caller's own are let through unchanged and accepted: what the operation
// throws, what a hostile getter or proxy trap throws (HostileError), and an aborted signal's
// reason (or poolgate's AbortError for a signal without one).
//
// The default run executes well over 10,000 cases (counted, and asserted at the end).
// FUZZ_SEED=<n> replays a run; FUZZ_SCALE=<x> multiplies every numRuns.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import * as poolgate from 'poolgate';
import {
  ConnectionPool,
  withConnectionPool,
  withRetryAndPool,
  getPoolStats,
  getDefaultPool,
  setDefaultPool,
  createPooledClient,
  poolgateExtension,
  pgPoolOptions,
  trackNestedCalls,
  classify,
  isTransientError,
  PoolgateError,
  sizeFleet,
} from 'poolgate';

const SCALE = Number(process.env.FUZZ_SCALE ?? 1);
const SEED = process.env.FUZZ_SEED === undefined ? undefined : Number(process.env.FUZZ_SEED);
const runs = (n) => Math.max(1, Math.round(n * SCALE));
const params = (numRuns) => ({
  numRuns: runs(numRuns),
  seed: SEED,
  includeErrorInReport: true,
});

let cases = 0;
/** Outcome tallies over every fuzzed call (health checks excluded): resolved/returned, TypeError, RangeError, caller's own. */
const outcomes = { ok: 0, TypeError: 0, RangeError: 0, callersOwn: 0 };
function tally(r) {
  if (r.ok) outcomes.ok++;
  else if (r.error?.constructor === TypeError) outcomes.TypeError++;
  else if (r.error?.constructor === RangeError) outcomes.RangeError++;
  else outcomes.callersOwn++;
}
const MIN_CASES = 10_000;

// ---- what a call may do --------------------------------------------------------------------

/** Thrown by hostile getters, proxy traps and operations: the caller's own error. */
class HostileError extends Error {
  constructor(where = 'hostile') {
    super(`hostile value threw (${where})`);
    this.name = 'HostileError';
  }
}
const opError = new HostileError('operation');

/** Every option name the API accepts (and `pool`, which the Prisma helpers take). */
const OPTION_KEYS = [
  'maxConnections',
  'maxQueue',
  'queueTimeoutMs',
  'operationTimeoutMs',
  'releaseOnTimeout',
  'adaptive',
  'adaptive.min',
  'min',
  'rejectEarly',
  'signal',
  'timeoutMs',
  'idempotent',
  'retry',
  'maxRetries',
  'delay',
  'maxDelayMs',
  'jitter',
  'deadlineMs',
  'loginLockoutMs',
  'pool',
  'alerts',
  'saturatedForMs',
  'errorRate',
  'limit',
  'reserved',
  'others',
  'instances',
  'marginPercent',
  'minHeadroom',
];
/** Names an error message may cite: any option, or an argument. */
const NAMES = [
  ...OPTION_KEYS,
  'operation',
  'options',
  'ConnectionPool',
  'Prisma',
  'createPooledClient',
  'setDefaultPool',
  'query',
  'pgPoolOptions',
  'connectionTimeoutMillis',
  'poolgateExtension',
];

const LEGITIMATE_POOL_CODES = new Set([
  'POOLGATE_OPERATION_TIMEOUT',
  'POOLGATE_QUEUE_TIMEOUT',
  'POOLGATE_QUEUE_FULL',
  'POOLGATE_WOULD_TIME_OUT',
]);

/** Fails unless `e` is an error a caller may legitimately see from a fuzzed call. */
function checkError(e, what) {
  if (e instanceof WebAssembly.RuntimeError) {
    assert.fail(`${what}: wasm trap: ${e.stack}`);
  }
  if (e instanceof HostileError) return; // the caller's own getter/proxy/operation threw
  if (e instanceof Error && e.name === 'AbortError' && /aborted/.test(e.message)) return;
  // The pool's own verdicts on a valid call (a timeout of 1 ms can pass while the fuzz keeps
  // the event loop busy) are legitimate outcomes, not input errors.
  if (e instanceof PoolgateError && LEGITIMATE_POOL_CODES.has(e.code)) return;
  const isTypeOrRange = e instanceof TypeError || e instanceof RangeError;
  if (!isTypeOrRange) {
    assert.fail(
      `${what}: expected TypeError or RangeError, got ${
        e instanceof Error ? `${e.constructor.name}: ${e.message}` : `non-error ${safeString(e)}`
      }`,
    );
  }
  assert.ok(e.constructor === TypeError || e.constructor === RangeError, `${what}: subclass`);
  assert.equal(typeof e.message, 'string', `${what}: message type`);
  assert.ok(e.message.length > 0, `${what}: empty message`);
  assert.ok(
    NAMES.some((n) => e.message.includes(n)),
    `${what}: message names no option or argument: ${e.name}: ${e.message}`,
  );
}

function safeString(v) {
  try {
    return typeof v === 'symbol' ? v.toString() : String(v);
  } catch {
    return '<unprintable>';
  }
}

/**
 * Hostile values (throwing getters, throwing proxies, coercion bombs) are built only inside the
 * property, never handed to fast-check, which inspects and prints generated values.
 */
class Lazy {
  constructor(label, make) {
    this.label = label;
    this.make = make;
  }
  toString() {
    return `<${this.label}>`;
  }
}

/** Builds the real value: Lazy leaves are made; plain objects and arrays are copied. */
function realize(v, depth = 0) {
  if (v instanceof Lazy) return v.make();
  if (depth > 8 || v === null || typeof v !== 'object') return v;
  if (Array.isArray(v) && Object.getPrototypeOf(v) === Array.prototype) {
    if (!v.some((x) => x instanceof Lazy || (x !== null && typeof x === 'object'))) return v;
    return v.map((x) => realize(x, depth + 1));
  }
  if (Object.getPrototypeOf(v) === Object.prototype) {
    const keys = Object.keys(v);
    if (!keys.some((k) => v[k] instanceof Lazy || (v[k] !== null && typeof v[k] === 'object'))) {
      return v;
    }
    const o = {};
    for (const k of keys) {
      Object.defineProperty(o, k, {
        value: realize(v[k], depth + 1),
        enumerable: true,
        writable: true,
        configurable: true,
      });
    }
    return o;
  }
  return v;
}

/** fc.asyncProperty / fc.property, with every generated argument realized first. */
const aprop = (...a) => {
  const fn = a.pop();
  return fc.asyncProperty(...a, (...xs) => fn(...xs.map((x) => realize(x))));
};
const sprop = (...a) => {
  const fn = a.pop();
  return fc.property(...a, (...xs) => fn(...xs.map((x) => realize(x))));
};

const HANG_MS = 2000;

/** Awaits a promise-returning call: resolves or rejects acceptably, within HANG_MS. */
async function settles(what, call, allowed = () => false, count = true) {
  let p;
  try {
    p = call();
  } catch (e) {
    assert.fail(`${what}: threw synchronously instead of rejecting: ${safeString(e?.stack ?? e)}`);
  }
  assert.ok(p instanceof Promise, `${what}: did not return a promise`);
  let timer;
  const hang = new Promise((resolve) => {
    timer = setTimeout(resolve, HANG_MS, hangMarker);
  });
  const outcome = await Promise.race([
    p.then(
      (value) => ({ ok: true, value }),
      (error) => ({ ok: false, error }),
    ),
    hang,
  ]);
  clearTimeout(timer);
  if (outcome === hangMarker) assert.fail(`${what}: never settled (${HANG_MS} ms)`);
  if (!outcome.ok && !allowed(outcome.error)) checkError(outcome.error, what);
  if (count) tally(outcome);
  return outcome;
}
const hangMarker = Symbol('hang');

/** Runs a synchronous call: returns normally or throws acceptably. */
function syncCall(what, call) {
  try {
    const r = { ok: true, value: call() };
    tally(r);
    return r;
  } catch (e) {
    checkError(e, what);
    const r = { ok: false, error: e };
    tally(r);
    return r;
  }
}

/** The pool still works and is idle with consistent stats. */
async function assertHealthy(pool, what) {
  const r = await settles(`${what}: health run`, () => pool.run(async () => 1), undefined, false);
  assert.ok(r.ok, `${what}: health run rejected: ${safeString(r.error)}`);
  assert.equal(r.value, 1, `${what}: health run value`);
  assertIdle(pool, what);
}

function assertIdle(pool, what) {
  const s = pool.getPoolStats();
  assert.deepEqual(
    Object.keys(s).sort(),
    ['activeConnections', 'availableConnections', 'maxConnections', 'queuedConnections'],
    `${what}: stats keys`,
  );
  assert.equal(s.activeConnections, 0, `${what}: activeConnections`);
  assert.equal(s.queuedConnections, 0, `${what}: queuedConnections`);
  assert.ok(Number.isInteger(s.maxConnections) && s.maxConnections >= 1, `${what}: max`);
  assert.equal(s.availableConnections, s.maxConnections, `${what}: availableConnections`);
  const m = pool.getMetrics();
  assert.equal(m.zombies, 0, `${what}: zombies`);
  assert.equal(m.sleeping, 0, `${what}: sleeping`);
}

// ---- arbitraries ---------------------------------------------------------------------------

const oddNumber = fc.oneof(
  fc.constantFrom(
    NaN,
    Infinity,
    -Infinity,
    -0,
    0,
    1,
    2,
    3,
    10,
    0.5,
    1.5,
    -1,
    -0.5,
    1e-300,
    Number.MIN_VALUE,
    Number.EPSILON,
    1e308,
    -1e308,
    Number.MAX_VALUE,
    Number.MAX_SAFE_INTEGER,
    Number.MAX_SAFE_INTEGER + 2,
    2 ** 31 - 1,
    2 ** 31,
    2 ** 32,
    2 ** 32 + 1,
    2 ** 48,
    2 ** 53,
    2 ** 64,
    1000,
    1001,
    1_000_000,
    1_000_001,
    16_777_216,
    16_777_217,
    2_147_483_647,
    2_147_483_648,
  ),
  fc.double(),
  fc.integer(),
  fc.integer({ min: -3, max: 50 }),
  fc.double({ min: 0, max: 5, noNaN: true }),
);

const hostileGetterObject = fc
  .uniqueArray(fc.oneof(fc.constantFrom(...OPTION_KEYS), fc.string({ maxLength: 6 })), {
    minLength: 1,
    maxLength: 3,
  })
  .map(
    (keys) =>
      new Lazy(`getters ${keys.join(',')}`, () => {
        const o = {};
        for (const k of keys) {
          Object.defineProperty(o, k, {
            enumerable: true,
            get() {
              throw new HostileError(`getter ${k}`);
            },
          });
        }
        return o;
      }),
  );

/** A proxy whose every trap throws. */
const throwingProxy = fc.constantFrom('object', 'function', 'array').map(
  (kind) =>
    new Lazy(`throwing ${kind} proxy`, () => {
      const target = kind === 'function' ? () => {} : kind === 'array' ? [] : {};
      const trap = (name) => () => {
        throw new HostileError(`trap ${name}`);
      };
      const handler = {};
      for (const name of [
        'get',
        'set',
        'has',
        'ownKeys',
        'getOwnPropertyDescriptor',
        'getPrototypeOf',
        'defineProperty',
        'deleteProperty',
        'apply',
        'construct',
        'isExtensible',
        'preventExtensions',
        'setPrototypeOf',
      ]) {
        handler[name] = trap(name);
      }
      return new Proxy(target, handler);
    }),
);

/** A transparent proxy around a value: must behave exactly as the value. */
const transparentProxy = (inner) =>
  inner
    .filter((v) => v !== null && (typeof v === 'object' || typeof v === 'function'))
    .map((v) => new Lazy('transparent proxy', () => new Proxy(realize(v), {})));

const symbolValue = fc.oneof(
  fc.string({ maxLength: 5 }).map((s) => Symbol(s)),
  fc.constantFrom(Symbol.iterator, Symbol.toPrimitive, Symbol.for('poolgate')),
);

/** Objects whose coercion throws: valueOf/toString/Symbol.toPrimitive. */
const coercionBomb = fc.constant(
  new Lazy('coercion bomb', () => ({
    valueOf() {
      throw new HostileError('valueOf');
    },
    toString() {
      throw new HostileError('toString');
    },
    [Symbol.toPrimitive]() {
      throw new HostileError('toPrimitive');
    },
  })),
);

const anything = fc.anything({
  maxDepth: 2,
  maxKeys: 4,
  withBigInt: true,
  withBoxedValues: true,
  withDate: true,
  withMap: true,
  withSet: true,
  withNullPrototype: true,
  withObjectString: true,
  withSparseArray: true,
  withTypedArray: true,
  key: fc.oneof(fc.string({ maxLength: 6 }), fc.constantFrom(...OPTION_KEYS)),
});

const weird = fc.oneof(
  { weight: 4, arbitrary: anything },
  { weight: 4, arbitrary: oddNumber },
  { weight: 1, arbitrary: fc.string({ maxLength: 12 }) },
  { weight: 1, arbitrary: symbolValue },
  { weight: 1, arbitrary: hostileGetterObject },
  { weight: 1, arbitrary: throwingProxy },
  { weight: 1, arbitrary: coercionBomb },
  { weight: 1, arbitrary: fc.constantFrom(undefined, null, true, false, 0n, -1n, () => 1, [], {}) },
);

/**
 * Regression inputs for bugs this fuzz found in poolgate 0.1.0, all fixed:
 *  - a signal look-alike whose addEventListener throws (or is a throwing proxy) leaked the slot
 *    it was granted;
 *  - a look-alike without a working removeEventListener left the caller's promise unsettled;
 *  - retry deadlineMs below 1 ms refused even the first attempt (now a RangeError).
 */

const fakeSignal = fc
  .record(
    {
      aborted: fc.oneof(fc.boolean(), weird),
      addEventListener: fc.oneof(
        fc.constant(() => {}),
        weird,
      ),
      removeEventListener: fc.oneof(
        fc.constant(() => {}),
        weird,
      ),
      reason: fc.constant(new HostileError('fake signal reason')),
    },
    { requiredKeys: [] },
  )
  .map(
    (r) =>
      new Lazy('signal look-alike', () => {
        const o = realize(r);
        return o;
      }),
  );

/** A signal or something that may pass for one. Aborted real signals carry a HostileError reason. */
const signalLike = fc.oneof(
  fc.constant(null).map(() => new AbortController().signal),
  fc.constant(null).map(() => AbortSignal.abort(new HostileError('abort reason'))),
  fc.constant(null).map(() => AbortSignal.abort()),
  // Look-alikes that pass the `aborted`/`addEventListener` check but misbehave later.
  ...[
    fc.constantFrom(
      new Lazy('signal without removeEventListener', () => ({
        aborted: false,
        addEventListener() {},
      })),
      new Lazy('signal whose addEventListener throws', () => ({
        aborted: false,
        addEventListener() {
          throw new HostileError('addEventListener');
        },
        removeEventListener() {},
      })),
      new Lazy('signal whose removeEventListener throws', () => ({
        aborted: false,
        addEventListener() {},
        removeEventListener() {
          throw new HostileError('removeEventListener');
        },
      })),
    ),
  ],
  fakeSignal,
  // A plain weird value, unless it is a throwing function proxy (which would pass as a signal
  // only inside an object; as the signal itself it is refused, being no object).
  weird,
);

const retryValue = fc.oneof(
  fc.constantFrom(undefined, true, false),
  fc.record(
    {
      maxRetries: fc.oneof(oddNumber, weird),
      delay: fc.oneof(oddNumber, weird),
      maxDelayMs: fc.oneof(oddNumber, weird),
      jitter: fc.oneof(oddNumber, weird),
      deadlineMs: fc.oneof(oddNumber, weird),
      loginLockoutMs: fc.oneof(oddNumber, weird),
    },
    { requiredKeys: [] },
  ),
  weird,
);

/** An options object: known keys with arbitrary values, sometimes an unknown key, sometimes wrapped. */
function optionsOf(keys, valueFor = () => fc.oneof(oddNumber, weird)) {
  const model = {};
  for (const k of keys) model[k] = valueFor(k);
  const rec = fc.record(model, { requiredKeys: [] });
  const withUnknown = fc
    .tuple(rec, fc.string({ minLength: 1, maxLength: 8 }), weird)
    .map(([o, k, v]) => (keys.includes(k) ? o : { ...o, [k]: v }));
  return fc.oneof(
    { weight: 6, arbitrary: rec },
    { weight: 1, arbitrary: withUnknown },
    { weight: 1, arbitrary: transparentProxy(rec) },
    { weight: 2, arbitrary: weird },
  );
}

const runOptionValue = (k) =>
  k === 'signal' ? signalLike : k === 'retry' ? retryValue : fc.oneof(oddNumber, weird);

const runOptions = optionsOf(['signal', 'timeoutMs', 'idempotent', 'retry'], runOptionValue);
const retryAndPoolOptions = optionsOf(
  ['signal', 'timeoutMs', 'idempotent', 'maxDelayMs', 'jitter', 'deadlineMs'],
  runOptionValue,
);
const poolOptions = optionsOf([
  'maxConnections',
  'maxQueue',
  'queueTimeoutMs',
  'operationTimeoutMs',
  'releaseOnTimeout',
  'adaptive',
  'rejectEarly',
]);

/**
 * Operations settle within a microtask or two, and what they throw is never a transient
 * connection failure, so no retry back-off sleeps here (see the retry property below).
 */
const operation = fc.oneof(
  {
    weight: 3,
    arbitrary: fc.constantFrom(
      async () => 1,
      () => 'sync value',
      () => undefined,
      () => {
        throw opError;
      },
      async () => {
        throw opError;
      },
      () => Promise.reject(opError),
      // biome-ignore lint/suspicious/noThenProperty: a thenable operation is a case under test
      () => ({ then: (resolve) => resolve('thenable') }),
      () => ({
        // biome-ignore lint/suspicious/noThenProperty: a thenable whose then throws is a case under test
        then() {
          throw opError;
        },
      }),
      () => Promise.resolve().then(() => 'later'),
    ),
  },
  { weight: 2, arbitrary: weird },
);

// ---- properties ----------------------------------------------------------------------------

test('ConnectionPool constructor: any options', async () => {
  await fc.assert(
    aprop(fc.oneof(poolOptions, weird), async (options) => {
      cases++;
      const r = syncCall('new ConnectionPool', () => new ConnectionPool(options));
      if (r.ok) {
        assert.ok(r.value instanceof ConnectionPool);
        await assertHealthy(r.value, 'new pool');
      }
    }),
    params(1500),
  );
});

test('ConnectionPool with extra constructor arguments', async () => {
  await fc.assert(
    aprop(fc.array(weird, { maxLength: 3 }), async (extra) => {
      cases++;
      const r = syncCall('new ConnectionPool(...)', () => new ConnectionPool(undefined, ...extra));
      assert.ok(r.ok, 'extra arguments are ignored');
      await assertHealthy(r.value, 'new pool (extra)');
    }),
    params(200),
  );
});

test('pool.run: any operation and options', async () => {
  const pool = new ConnectionPool({ maxConnections: 2 });
  await fc.assert(
    aprop(operation, fc.oneof(runOptions, fc.constant(undefined)), async (op, opts) => {
      cases++;
      await settles('run', () => pool.run(op, opts));
      await assertHealthy(pool, 'run');
    }),
    params(2500),
  );
});

test('pool.withConnectionPool: any operation and timeout', async () => {
  const pool = new ConnectionPool({ maxConnections: 1 });
  await fc.assert(
    aprop(
      operation,
      fc.oneof(oddNumber, weird),
      fc.array(weird, { maxLength: 2 }),
      async (op, timeout, extra) => {
        cases++;
        await settles('withConnectionPool', () => pool.withConnectionPool(op, timeout, ...extra));
        await assertHealthy(pool, 'withConnectionPool');
      },
    ),
    params(1000),
  );
});

test('pool.withRetryAndPool: any operation, retries, delay and options', async () => {
  const pool = new ConnectionPool({ maxConnections: 3 });
  await fc.assert(
    aprop(
      operation,
      fc.oneof(oddNumber, weird),
      fc.oneof(oddNumber, weird),
      fc.oneof(retryAndPoolOptions, fc.constant(undefined)),
      async (op, maxRetries, delay, opts) => {
        cases++;
        await settles('withRetryAndPool', () => pool.withRetryAndPool(op, maxRetries, delay, opts));
        await assertHealthy(pool, 'withRetryAndPool');
      },
    ),
    params(1500),
  );
});

test('retry back-offs with arbitrary delays end by abort and leave the pool idle', async () => {
  // A transient failure makes the pool sleep delay * n; whatever the settings, aborting the
  // signal ends the wait and leaves no sleeper behind.
  const pool = new ConnectionPool({ maxConnections: 2 });
  const transient = () => {
    throw Object.assign(new Error("Can't reach database server"), { code: 'P1001' });
  };
  await fc.assert(
    aprop(
      fc.oneof(oddNumber, weird),
      fc.oneof(oddNumber, weird),
      fc.record(
        {
          maxDelayMs: fc.oneof(oddNumber, weird),
          jitter: fc.oneof(oddNumber, weird),
          deadlineMs: fc.oneof(oddNumber, weird),
          idempotent: fc.oneof(fc.boolean(), weird),
        },
        { requiredKeys: [] },
      ),
      async (maxRetries, delay, opts) => {
        cases++;
        const ac = new AbortController();
        const reason = new HostileError('aborted by the fuzz');
        const p = pool.withRetryAndPool(transient, maxRetries, delay, {
          ...opts,
          signal: ac.signal,
        });
        setTimeout(() => ac.abort(reason), 3);
        // Aborted (HostileError reason), refused (TypeError/RangeError), or out of retries or
        // past the deadline with the operation's own error.
        const r = await settles(
          'withRetryAndPool (transient)',
          () => p,
          (e) => e?.code === 'P1001',
        );
        assert.ok(!r.ok, 'the operation always fails');
        ac.abort(reason);
        await assertHealthy(pool, 'withRetryAndPool (transient)');
      },
    ),
    params(300),
  );
});

test('pool.getPoolStats / getMetrics / setMaxConnections: any arguments', async () => {
  const pool = new ConnectionPool();
  await fc.assert(
    aprop(
      fc.constantFrom('getPoolStats', 'getMetrics', 'setMaxConnections'),
      fc.array(fc.oneof(oddNumber, weird), { maxLength: 3 }),
      async (method, args) => {
        cases++;
        const before = pool.getPoolStats().maxConnections;
        const r = syncCall(method, () => pool[method](...args));
        if (method === 'getPoolStats' && r.ok) {
          assert.equal(r.value.activeConnections, 0);
        }
        if (method === 'getMetrics' && r.ok) {
          assert.equal(typeof r.value.submitted, 'number');
          assert.equal(typeof r.value.wait.p99Ms, 'number');
        }
        if (method === 'setMaxConnections') {
          const after = pool.getPoolStats().maxConnections;
          if (r.ok) assert.equal(after, args[0], 'the limit took the new value');
          else assert.equal(after, before, 'a refused limit leaves the pool unchanged');
        } else {
          assert.ok(r.ok, `${method} takes no arguments and must not throw`);
        }
        await assertHealthy(pool, method);
      },
    ),
    params(1500),
  );
});

test('numbers only: every numeric option reaches the wasm core', async () => {
  // Well-typed values pass the JS type checks, so the Rust core validates (RangeError) or uses
  // every one of them: NaN, ±Infinity, -0, fractions, huge values, the range edges.
  const pool = new ConnectionPool({ maxConnections: 2 });
  await fc.assert(
    aprop(
      fc.record(
        {
          maxConnections: oddNumber,
          maxQueue: oddNumber,
          queueTimeoutMs: oddNumber,
          operationTimeoutMs: oddNumber,
          releaseOnTimeout: fc.boolean(),
          adaptive: fc.oneof(fc.boolean(), fc.record({ min: oddNumber }, { requiredKeys: [] })),
          rejectEarly: fc.boolean(),
        },
        { requiredKeys: [] },
      ),
      fc.record({ timeoutMs: oddNumber, idempotent: fc.boolean() }, { requiredKeys: [] }),
      fc.record(
        {
          maxRetries: oddNumber,
          delay: oddNumber,
          maxDelayMs: oddNumber,
          jitter: oddNumber,
          loginLockoutMs: oddNumber,
        },
        { requiredKeys: [] },
      ),
      oddNumber,
      async (poolOpts, runOpts, retry, limit) => {
        cases++;
        const made = syncCall('new ConnectionPool (numbers)', () => new ConnectionPool(poolOpts));
        if (made.ok) await assertHealthy(made.value, 'new pool (numbers)');
        await settles('run (numbers)', () => pool.run(async () => 1, { ...runOpts, retry }));
        await settles('withRetryAndPool (numbers)', () =>
          pool.withRetryAndPool(async () => 1, retry.maxRetries, retry.delay, {
            ...runOpts,
            maxDelayMs: retry.maxDelayMs,
            jitter: retry.jitter,
          }),
        );
        await settles('withConnectionPool (numbers)', () =>
          pool.withConnectionPool(async () => 1, runOpts.timeoutMs),
        );
        syncCall('setMaxConnections (numbers)', () => pool.setMaxConnections(limit));
        syncCall('restore', () => pool.setMaxConnections(2));
        await assertHealthy(pool, 'numbers');
      },
    ),
    params(1500),
  );
});

test('pool.close: any arguments, then new work is refused and the stats stay idle', async () => {
  await fc.assert(
    aprop(
      fc.array(weird, { maxLength: 3 }),
      fc.integer({ min: 0, max: 3 }),
      async (args, inFlight) => {
        cases++;
        const pool = new ConnectionPool({ maxConnections: 1 });
        const pending = [];
        for (let i = 0; i < inFlight; i++) pending.push(pool.run(async () => i).catch((e) => e));
        const r = syncCall('close', () => pool.close(...args));
        assert.ok(r.ok, 'close must not throw');
        syncCall('close again', () => pool.close());
        const settled = await Promise.all(pending);
        // The running one finishes; the queued ones are rejected with PoolClosedError.
        for (const [i, v] of settled.entries()) {
          if (i === 0) assert.equal(v, 0);
          else assert.equal(v.code, 'POOLGATE_CLOSED');
        }
        await assert.rejects(
          pool.run(async () => 1),
          { code: 'POOLGATE_CLOSED' },
        );
        assertIdle(pool, 'close');
        assert.equal(pool.getMetrics().closed, true);
      },
    ),
    params(300),
  );
});

test('free functions on the default pool: any arguments', async () => {
  const original = getDefaultPool();
  await fc.assert(
    aprop(
      fc.constantFrom('withConnectionPool', 'withRetryAndPool', 'getPoolStats', 'getDefaultPool'),
      operation,
      fc.array(fc.oneof(oddNumber, weird, retryAndPoolOptions), { maxLength: 3 }),
      async (fn, op, args) => {
        cases++;
        if (fn === 'withConnectionPool') {
          await settles(fn, () => withConnectionPool(op, ...args));
        } else if (fn === 'withRetryAndPool') {
          await settles(fn, () => withRetryAndPool(op, ...args));
        } else if (fn === 'getPoolStats') {
          const r = syncCall(fn, () => getPoolStats(...args));
          assert.ok(r.ok);
          assert.deepEqual(r.value, getDefaultPool().getPoolStats());
        } else {
          const r = syncCall(fn, () => getDefaultPool(...args));
          assert.ok(r.ok);
          assert.equal(r.value, original);
        }
        assert.equal(getDefaultPool(), original);
        await assertHealthy(original, fn);
      },
    ),
    params(1500),
  );
});

const realPools = new WeakSet();

test('setDefaultPool: any value', async () => {
  const original = getDefaultPool();
  try {
    await fc.assert(
      aprop(
        fc.oneof(
          { weight: 5, arbitrary: weird },
          {
            weight: 1,
            arbitrary: fc.constant(
              new Lazy('new ConnectionPool()', () => {
                const p = new ConnectionPool();
                realPools.add(p);
                return p;
              }),
            ),
          },
          {
            weight: 1,
            arbitrary: fc.constant(null).map(() => Object.create(ConnectionPool.prototype)),
          },
          { weight: 1, arbitrary: fc.constant({ run: async () => 1 }) },
        ),
        async (value) => {
          cases++;
          const before = getDefaultPool();
          const r = syncCall('setDefaultPool', () => setDefaultPool(value));
          if (r.ok) assert.equal(getDefaultPool(), value);
          else assert.equal(getDefaultPool(), before, 'a refused pool leaves the default alone');
          const current = getDefaultPool();
          // Object.create(ConnectionPool.prototype) passes `instanceof` without a gate: the
          // caller's own broken object, so only pools made by the constructor are run.
          if (current === original || realPools.has(current)) {
            await settles('withConnectionPool on the default', () =>
              withConnectionPool(async () => 1),
            );
            assert.deepEqual(getPoolStats(), current.getPoolStats());
            await assertHealthy(current, 'setDefaultPool');
          }
          setDefaultPool(original);
        },
      ),
      params(800),
    );
  } finally {
    setDefaultPool(original);
  }
  await assertHealthy(getDefaultPool(), 'setDefaultPool restored');
});

/** A tiny Prisma look-alike: one model whose methods return or throw what they are told. */
const fakeClients = new WeakSet();
function fakePrisma(result) {
  const call = () => (typeof result === 'function' ? result() : result);
  const client = {
    user: { findMany: call, create: call, count: call },
    $queryRaw: call,
    $transaction: call,
    $connect: () => 'connected',
    plain: 42,
  };
  fakeClients.add(client);
  return client;
}

test('createPooledClient: any client and options, and every wrapped call', async () => {
  const pool = new ConnectionPool({ maxConnections: 2 });
  await fc.assert(
    aprop(
      fc.oneof(
        { weight: 2, arbitrary: weird },
        {
          weight: 3,
          arbitrary: operation.map((op) => new Lazy('fake prisma', () => fakePrisma(realize(op)))),
        },
      ),
      fc.oneof(
        fc.constant(undefined),
        fc.constant({ pool }),
        optionsOf(['pool', 'retry'], (k) =>
          k === 'pool' ? fc.oneof(fc.constant(pool), weird) : retryValue,
        ),
      ),
      fc.constantFrom('findMany', 'create', 'count', '$queryRaw', '$transaction'),
      fc.array(weird, { maxLength: 2 }),
      async (client, options, method, args) => {
        cases++;
        // Keep retries off the default pool and its 1000 ms back-off: operations here never
        // fail transiently, so no back-off happens anyway.
        const r = syncCall('createPooledClient', () => createPooledClient(client, options));
        if (r.ok && fakeClients.has(client)) {
          const wrapped = r.value;
          const usedPool = wrapped.$pool;
          const target = method.startsWith('$') ? wrapped : wrapped.user;
          // Model calls and raw queries return a lazy PrismaPromise-like value (what a batch
          // $transaction accepts); awaiting it runs it through the pool.
          await settles(`createPooledClient ${method}`, () => {
            const call = target[method](...args);
            if (method === '$transaction') return call;
            assert.equal(call[Symbol.toStringTag], 'PrismaPromise', `${method}: a PrismaPromise`);
            return Promise.resolve(call);
          });
          assert.equal(wrapped.plain, 42);
          assert.equal(wrapped.$connect(), 'connected');
          if (usedPool instanceof ConnectionPool) {
            assert.deepEqual(wrapped.getPoolStats(), usedPool.getPoolStats());
            await assertHealthy(usedPool, 'createPooledClient');
          }
        }
        await assertHealthy(pool, 'createPooledClient');
      },
    ),
    params(1000),
  );
});

test('poolgateExtension: any options and any $allOperations arguments', async () => {
  const pool = new ConnectionPool({ maxConnections: 2 });
  await fc.assert(
    aprop(
      fc.oneof(
        fc.constant(undefined),
        fc.constant({ pool }),
        optionsOf(['pool', 'retry'], (k) =>
          k === 'pool' ? fc.oneof(fc.constant(pool), weird) : retryValue,
        ),
      ),
      fc.record(
        {
          model: weird,
          operation: fc.oneof(fc.constantFrom('findMany', 'create', 'count'), weird),
          args: weird,
          query: operation,
        },
        { requiredKeys: [] },
      ),
      async (options, params) => {
        cases++;
        const r = syncCall('poolgateExtension', () => poolgateExtension(options));
        if (!r.ok) return;
        // The extension is Prisma's function form: it receives the client to extend.
        const ext = r.value({ $extends: (definition) => definition, $transaction: async () => 1 });
        assert.equal(ext.name, 'poolgate');
        const stats = syncCall('$poolStats', () => ext.client.$poolStats());
        assert.ok(stats.ok);
        await settles('$allOperations', () => ext.query.$allOperations(params));
        await assertHealthy(pool, 'poolgateExtension');
      },
    ),
    params(1000),
  );
});

test('classify and isTransientError never throw', () => {
  fc.assert(
    sprop(
      fc.oneof(
        { weight: 3, arbitrary: weird },
        {
          weight: 2,
          arbitrary: fc
            .record(
              {
                code: fc.oneof(fc.constantFrom('P1001', 'ECONNRESET', '57P01', 'P2002'), weird),
                message: fc.oneof(fc.constantFrom("Can't reach database server", 'boom'), weird),
                errno: weird,
                sqlState: weird,
                cause: weird,
                errors: fc.oneof(fc.array(weird, { maxLength: 10 }), weird),
                meta: fc.oneof(
                  fc.record({ driverAdapterError: fc.record({ cause: weird }) }),
                  weird,
                ),
              },
              { requiredKeys: [] },
            )
            .map((o) => new Lazy('error', () => Object.assign(new Error('x'), realize(o)))),
        },
        {
          weight: 1,
          arbitrary: fc.constant(
            new Lazy('cyclic error', () => {
              const e = new Error('cycle');
              e.cause = e;
              e.errors = [e, e];
              return e;
            }),
          ),
        },
      ),
      (err) => {
        cases++;
        let c;
        let t;
        try {
          c = classify(err);
          t = isTransientError(err);
        } catch (e) {
          assert.fail(`classify/isTransientError threw: ${safeString(e?.stack ?? e)}`);
        }
        assert.ok(['permanent', 'not-sent', 'maybe-sent'].includes(c), `class ${c}`);
        assert.equal(t, c !== 'permanent');
      },
    ),
    params(2000),
  );
});

test('a random mix of calls on one pool, concurrently, leaves it idle', async () => {
  const pool = new ConnectionPool({ maxConnections: 2, maxQueue: 50 });
  const call = fc.oneof(
    fc.tuple(fc.constant('run'), operation, fc.oneof(runOptions, fc.constant(undefined))),
    fc.tuple(fc.constant('withConnectionPool'), operation, fc.oneof(oddNumber, weird)),
    fc.tuple(
      fc.constant('withRetryAndPool'),
      operation,
      fc.oneof(oddNumber, weird),
      retryAndPoolOptions,
    ),
    fc.tuple(
      fc.constant('setMaxConnections'),
      fc.oneof(fc.integer({ min: 1, max: 4 }), oddNumber, weird),
    ),
  );
  await fc.assert(
    aprop(fc.array(call, { minLength: 1, maxLength: 12 }), async (calls) => {
      cases++;
      const pending = [];
      for (const [name, a, b, c] of calls) {
        if (name === 'setMaxConnections') {
          syncCall(name, () => pool.setMaxConnections(a));
        } else {
          pending.push(settles(name, () => pool[name](a, b, c)));
        }
      }
      await Promise.all(pending);
      syncCall('restore', () => pool.setMaxConnections(2));
      await assertHealthy(pool, 'mix');
    }),
    params(500),
  );
});

test('sizeFleet: any options give a sizing or a TypeError / RangeError, never a trap', () => {
  const sizingKey = fc.constantFrom(
    'limit',
    'reserved',
    'others',
    'instances',
    'marginPercent',
    'minHeadroom',
    'queueTimeoutMs',
  );
  const options = fc.oneof(
    { weight: 1, arbitrary: weird },
    {
      weight: 3,
      arbitrary: fc.dictionary(
        sizingKey,
        fc.oneof(oddNumber, fc.integer({ min: 0, max: 200 }), weird),
        {
          maxKeys: 7,
        },
      ),
    },
  );
  fc.assert(
    sprop(options, (o) => {
      cases++;
      const r = syncCall('sizeFleet', () => sizeFleet(o));
      if (r.ok) {
        const s = r.value;
        assert.ok(s.perInstance >= 1 && s.fleetTotal <= s.usable - s.headroom, JSON.stringify(s));
      }
    }),
    params(2000),
  );
});

test('pgPoolOptions and trackNestedCalls: any arguments', () => {
  const pool = new ConnectionPool({ maxConnections: 3 });
  fc.assert(
    sprop(
      fc.oneof(fc.constant(pool), weird),
      fc.oneof(
        fc.constant(undefined),
        optionsOf(['connectionTimeoutMillis', 'max'], () => weird),
      ),
      (p, options) => {
        cases++;
        const r = syncCall('pgPoolOptions', () => pgPoolOptions(p, options));
        if (r.ok) {
          assert.equal(r.value.max, 3);
          assert.ok(Number.isInteger(r.value.connectionTimeoutMillis));
        }
        const t = syncCall('trackNestedCalls', () => trackNestedCalls());
        assert.equal(t.value, true, 'Node has AsyncLocalStorage');
      },
    ),
    params(500),
  );
});

test('every export is covered', () => {
  assert.deepEqual(Object.keys(poolgate).sort(), [
    'ConnectionPool',
    'OperationTimeoutError',
    'PoolClosedError',
    'PoolgateError',
    'QueueFullError',
    'QueueTimeoutError',
    'WouldTimeOutError',
    'classify',
    'createPooledClient',
    'getDefaultPool',
    'getPoolStats',
    'isTransientError',
    'pgPoolOptions',
    'poolgateExtension',
    'setDefaultPool',
    'sizeFleet',
    'trackNestedCalls',
    'withConnectionPool',
    'withRetryAndPool',
  ]);
});

test(`at least ${MIN_CASES} cases ran in all`, (t) => {
  t.diagnostic(`fuzz cases: ${cases}`);
  t.diagnostic(`call outcomes: ${JSON.stringify(outcomes)}`);
  if (SCALE >= 1) {
    assert.ok(cases >= MIN_CASES, `only ${cases} fuzz cases ran; expected at least ${MIN_CASES}`);
  }
});
