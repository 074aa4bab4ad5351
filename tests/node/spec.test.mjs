// Runs the language-neutral scenarios in tests/spec/*.json against the installed package, with a
// fake clock. The Rust core runs the very same files (crates/poolgate-core/tests/spec.rs), so
// the package and the core cannot drift apart. Format: tests/spec/README.md.
//
// Fake clock: `performance.now()` (which pool.js reads on every call) returns `now`, and
// node:test's mock timers drive setTimeout. The clock moves 1 ms at a time, so the pool's one
// timer fires exactly at the core's deadline (all scenario times are whole milliseconds), and
// pending promise callbacks run (setImmediate, left unmocked) before the clock moves on.
import { test, mock } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import {
  ConnectionPool,
  OperationTimeoutError,
  PoolClosedError,
  QueueFullError,
  QueueTimeoutError,
  WouldTimeOutError,
} from 'poolgate';

const dir = fileURLToPath(new URL('../spec/', import.meta.url));
const files = readdirSync(dir)
  .filter((f) => f.endsWith('.json'))
  .sort();

const OUTCOME_KEYS = ['status', 'grantedAt', 'at', 'waitedMs', 'attempts', 'error'];
const POOL_KEYS = [
  'maxConnections',
  'maxQueue',
  'queueTimeoutMs',
  'operationTimeoutMs',
  'releaseOnTimeout',
  'adaptive',
  'rejectEarly',
];
const AS_IS = new Set(['releaseOnTimeout', 'adaptive', 'rejectEarly']);

const flush = () => new Promise((resolve) => setImmediate(resolve));
const millis = (v) => (v === 'Infinity' ? Infinity : v);

let now = 0;
const realNow = performance.now;

function statusOf(err) {
  if (err instanceof QueueTimeoutError) return 'queue-timeout';
  if (err instanceof OperationTimeoutError) return 'operation-timeout';
  if (err instanceof QueueFullError) return 'queue-full';
  if (err instanceof WouldTimeOutError) return 'would-time-out';
  if (err instanceof PoolClosedError) return 'closed';
  if (err?.name === 'AbortError') return 'aborted';
  return 'rejected';
}

async function runScenario(file) {
  const spec = JSON.parse(readFileSync(dir + file, 'utf8'));
  for (const k of Object.keys(spec.pool))
    assert.ok(POOL_KEYS.includes(k), `unknown pool option ${k}`);
  const options = {};
  for (const k of POOL_KEYS) {
    if (spec.pool[k] !== undefined) options[k] = AS_IS.has(k) ? spec.pool[k] : millis(spec.pool[k]);
  }
  const pool = new ConnectionPool(options);
  const aborted = new Set(spec.steps.filter((s) => s.op === 'abort').map((s) => s.id));
  const outcomes = new Map(); // id -> { status, grantedAt?, at?, waitedMs?, attempts?, error? }
  const ops = new Map(); // id -> { resolve, reject } of the running operation
  const controllers = new Map();

  const track = (id, promise) =>
    promise.then(
      () => {
        Object.assign(outcomes.get(id), { status: 'resolved', at: now });
      },
      (err) => {
        const o = outcomes.get(id);
        const status = statusOf(err);
        Object.assign(o, { status, at: now });
        if (status === 'queue-timeout') o.waitedMs = err.waitedMs;
        if (o.attempts !== undefined && status === 'rejected') o.error = err.code;
      },
    );

  for (const [i, step] of spec.steps.entries()) {
    const where = `${file}: step ${i} (t=${step.t})`;
    assert.ok(step.t >= now, `${where}: steps must not go back in time`);
    while (now < step.t) {
      now += 1;
      mock.timers.tick(1);
      await flush();
    }
    await flush();
    switch (step.op) {
      case 'advance':
        break;
      case 'submit': {
        const { id } = step;
        assert.ok(!outcomes.has(id), `${where}: duplicate id ${id}`);
        const o = { status: 'queued' };
        outcomes.set(id, o);
        let signal;
        if (step.aborted) {
          signal = AbortSignal.abort();
        } else if (aborted.has(id)) {
          const c = new AbortController();
          controllers.set(id, c);
          signal = c.signal;
        }
        const op = () => {
          o.grantedAt = now;
          if (o.status === 'queued') o.status = 'granted';
          return new Promise((resolve, reject) => ops.set(id, { resolve, reject }));
        };
        const runOptions = {};
        if (signal !== undefined) runOptions.signal = signal;
        if (step.timeoutMs !== undefined) runOptions.timeoutMs = millis(step.timeoutMs);
        track(id, Object.keys(runOptions).length ? pool.run(op, runOptions) : pool.run(op));
        break;
      }
      case 'settle': {
        const d = ops.get(step.id);
        assert.ok(d, `${where}: ${step.id} holds no slot`);
        ops.delete(step.id);
        if (step.result === 'ok') d.resolve('ok');
        else if (step.result === 'err') {
          // An error's code and message, when given, are what the core classifies.
          const e = new Error(step.error?.message ?? `operation ${step.id} failed`);
          if (step.error?.code !== undefined) e.code = step.error.code;
          d.reject(e);
        } else assert.fail(`${where}: result must be ok or err`);
        break;
      }
      case 'abort':
        controllers.get(step.id).abort();
        break;
      case 'resize':
        pool.setMaxConnections(step.maxConnections);
        break;
      case 'close':
        pool.close();
        break;
      case 'retry': {
        const { id } = step;
        assert.ok(!outcomes.has(id), `${where}: duplicate id ${id}`);
        const o = { status: 'pending', attempts: [] };
        outcomes.set(id, o);
        let calls = 0;
        const op = async () => {
          o.attempts.push(now);
          const f = step.failures[calls++];
          if (f === undefined) return 'ok';
          const e = new Error(f.message);
          e.code = f.code;
          throw e;
        };
        const extra = {};
        if (step.deadlineMs !== undefined) extra.deadlineMs = step.deadlineMs;
        if (step.idempotent !== undefined) extra.idempotent = step.idempotent;
        if (step.loginLockoutMs !== undefined) extra.loginLockoutMs = step.loginLockoutMs;
        track(id, pool.withRetryAndPool(op, step.maxRetries, step.delayMs, extra));
        break;
      }
      case 'expect':
        for (const [id, want] of Object.entries(step.outcomes ?? {})) {
          const got = outcomes.get(id);
          assert.ok(got, `${where}: unknown id ${id}`);
          for (const [key, value] of Object.entries(want)) {
            assert.ok(OUTCOME_KEYS.includes(key), `${where}: unknown outcome key ${key}`);
            assert.deepEqual(
              got[key] ?? null,
              value,
              `${where}: ${id}.${key} is ${JSON.stringify(got[key])}, expected ${JSON.stringify(value)} (${JSON.stringify(got)})`,
            );
          }
        }
        if (step.stats) {
          const s = pool.getPoolStats();
          const got = {
            active: s.activeConnections,
            queued: s.queuedConnections,
            available: s.availableConnections,
            zombies: pool.getMetrics().zombies,
            maxConnections: s.maxConnections,
            effectiveLimit: pool.getMetrics().effectiveLimit,
          };
          for (const [key, value] of Object.entries(step.stats)) {
            assert.ok(key in got, `${where}: unknown stat ${key}`);
            assert.equal(got[key], value, `${where}: stats.${key}`);
          }
        }
        break;
      default:
        assert.fail(`${where}: unknown op ${step.op}`);
    }
    await flush();
    // Timers armed for this very instant (zero back-offs) fire now, not 1 ms later.
    for (let k = 0; k < 5; k++) {
      mock.timers.tick(0);
      await flush();
    }
  }
}

test('the spec scenarios are there', () => {
  assert.ok(files.length >= 20, `found ${files.length} scenario files`);
});

for (const file of files) {
  test(`spec: ${file}`, async () => {
    now = 0;
    performance.now = () => now;
    mock.timers.enable({ apis: ['setTimeout'] });
    try {
      await runScenario(file);
    } finally {
      mock.timers.reset();
      delete performance.now;
      if (performance.now !== realNow) performance.now = realNow;
    }
  });
}
