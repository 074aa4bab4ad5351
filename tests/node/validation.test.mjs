// Bad input gets a TypeError or RangeError naming the problem, and the pool keeps working.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ConnectionPool, withRetryAndPool } from 'poolgate';

test('bad sizes are RangeErrors naming the option and range', () => {
  for (const bad of [-1, 0, NaN, 2.5, Infinity, 1e12]) {
    assert.throws(() => new ConnectionPool({ maxConnections: bad }), {
      name: 'RangeError',
      message: /^maxConnections must be an integer from 1 to 1000000, got /,
    });
  }
  assert.throws(() => new ConnectionPool({ maxQueue: -1 }), /^RangeError: maxQueue/);
  assert.throws(() => new ConnectionPool({ queueTimeoutMs: -5 }), /queueTimeoutMs must be/);
  assert.throws(() => new ConnectionPool({ operationTimeoutMs: NaN }), RangeError);
});

test('wrong types and unknown options are TypeErrors', () => {
  assert.throws(() => new ConnectionPool({ maxConnections: '10' }), {
    name: 'TypeError',
    message: 'maxConnections must be a number, got the string "10"',
  });
  assert.throws(() => new ConnectionPool({ maxConection: 5 }), {
    name: 'TypeError',
    message: /unknown option "maxConection"; expected one of maxConnections/,
  });
  assert.throws(() => new ConnectionPool(42), TypeError);
  assert.throws(() => new ConnectionPool({ releaseOnTimeout: 'yes' }), TypeError);
});

test('a non-function operation and bad run options reject, and the pool keeps working', async () => {
  const pool = new ConnectionPool({ maxConnections: 1 });
  await assert.rejects(pool.run('SELECT 1'), {
    name: 'TypeError',
    message: /operation must be a function/,
  });
  await assert.rejects(
    pool.run(async () => 1, { timeoutMs: -1 }),
    /^RangeError: timeoutMs/,
  );
  await assert.rejects(
    pool.run(async () => 1, { signal: {} }),
    TypeError,
  );
  await assert.rejects(
    pool.run(async () => 1, { retries: 3 }),
    /unknown option "retries"/,
  );
  await assert.rejects(
    withRetryAndPool(async () => 1, -1),
    /maxRetries must be an integer/,
  );
  await assert.rejects(
    withRetryAndPool(async () => 1, 3, 'soon'),
    /delay must be a number/,
  );
  assert.throws(() => pool.setMaxConnections(0), RangeError);
  assert.throws(() => pool.setMaxConnections('2'), TypeError);
  assert.equal(pool.getPoolStats().maxConnections, 1);
  assert.equal(await pool.run(async () => 'still works'), 'still works');
  assert.deepEqual(pool.getPoolStats(), {
    activeConnections: 0,
    maxConnections: 1,
    queuedConnections: 0,
    availableConnections: 1,
  });
});
