// Retries: only transient connection failures, writes only when they never reached the server.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ConnectionPool, PoolClosedError, classify, isTransientError } from 'poolgate';
import { assertStats, prismaError } from './helpers.mjs';

const P1001 = () =>
  prismaError('P1001', "Can't reach database server at 127.0.0.1:5432", {
    kind: 'DatabaseNotReachable',
  });
const P2002 = () =>
  prismaError('P2002', 'Unique constraint failed on the fields: (`email`)', {
    kind: 'UniqueConstraintViolation',
    originalCode: '23505',
  });
const terminated = () => new Error('Connection terminated unexpectedly');

/** An operation that fails with `errors` in turn, then returns 'ok'. */
function flaky(errors) {
  const op = async () => {
    op.calls++;
    if (op.calls <= errors.length) throw errors[op.calls - 1]();
    return 'ok';
  };
  op.calls = 0;
  return op;
}

test('P1001 is retried with linear back-off until it succeeds', async () => {
  const pool = new ConnectionPool({ maxConnections: 1 });
  const op = flaky([P1001, P1001]);
  const t0 = performance.now();
  assert.equal(await pool.withRetryAndPool(op, 3, 20), 'ok');
  const elapsed = performance.now() - t0;
  assert.equal(op.calls, 3);
  // 20 ms then 40 ms of back-off (a lower bound only: timers never fire early).
  assert.ok(elapsed >= 55, `elapsed ${elapsed}`);
  assert.equal(pool.getMetrics().retries, 2);
  assertStats(pool, 0, 0);
});

test('P2002 is never retried', async () => {
  const pool = new ConnectionPool();
  const op = flaky([P2002]);
  await assert.rejects(pool.withRetryAndPool(op, 3, 1), { code: 'P2002' });
  assert.equal(op.calls, 1);
});

test('a message merely containing "connection" is not retried (the seed did)', async () => {
  const pool = new ConnectionPool();
  const op = flaky([() => new Error('relation "connection_logs" does not exist')]);
  await assert.rejects(pool.withRetryAndPool(op, 3, 1));
  assert.equal(op.calls, 1);
});

test('a write is not retried after "Connection terminated unexpectedly"; a read is', async () => {
  const pool = new ConnectionPool();
  const write = flaky([terminated]);
  await assert.rejects(pool.withRetryAndPool(write, 3, 1), /terminated/);
  assert.equal(write.calls, 1, 'the INSERT may have committed: never re-run it');
  const read = flaky([terminated]);
  assert.equal(await pool.withRetryAndPool(read, 3, 1, { idempotent: true }), 'ok');
  assert.equal(read.calls, 2);
});

test('a write is retried when the error proves it never reached the server', async () => {
  const pool = new ConnectionPool();
  const p2037 = () =>
    prismaError('P2037', 'Too many database connections opened: sorry, too many clients already', {
      kind: 'TooManyConnections',
      originalCode: '53300',
    });
  const write = flaky([p2037, () => new Error('timeout exceeded when trying to connect')]);
  assert.equal(await pool.withRetryAndPool(write, 3, 1), 'ok');
  assert.equal(write.calls, 3);
});

test('retries stop after maxRetries and the last error is thrown', async () => {
  const pool = new ConnectionPool();
  const op = flaky([P1001, P1001, P1001, P1001, P1001]);
  await assert.rejects(pool.withRetryAndPool(op, 2, 1), { code: 'P1001' });
  assert.equal(op.calls, 3, 'one attempt plus two retries');
});

test('an overall deadline bounds every attempt and back-off', async () => {
  const pool = new ConnectionPool();
  const op = flaky(Array(100).fill(P1001));
  const t0 = performance.now();
  await assert.rejects(pool.withRetryAndPool(op, 100, 30, { deadlineMs: 100 }), {
    code: 'P1001',
  });
  assert.ok(op.calls >= 2 && op.calls <= 4, `calls ${op.calls}`);
  assert.ok(performance.now() - t0 < 1000);
});

test('close() ends a back-off in progress', async () => {
  const pool = new ConnectionPool();
  const op = flaky([P1001, P1001]);
  const call = pool.withRetryAndPool(op, 3, 60_000);
  await new Promise((r) => setTimeout(r, 10));
  assert.equal(pool.getMetrics().sleeping, 1);
  pool.close();
  await assert.rejects(call, PoolClosedError);
});

test('classify() reports what poolgate would do', () => {
  assert.equal(classify(P1001()), 'not-sent');
  assert.equal(classify(P2002()), 'permanent');
  assert.equal(classify(terminated()), 'maybe-sent');
  assert.equal(classify({ code: 'ECONNREFUSED', errors: [] }), 'not-sent');
  assert.equal(classify(new Error('wrapper', { cause: terminated() })), 'maybe-sent');
  assert.equal(isTransientError(new Error('FATAL: Max client connections reached')), true);
  for (const weird of [undefined, null, 42, 'too many clients already', Symbol('x'), {}]) {
    assert.equal(typeof classify(weird), 'string');
  }
});
