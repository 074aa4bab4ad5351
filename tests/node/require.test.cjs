// The CommonJS build, loaded by require as an older Next.js or Express app would.
const { test } = require('node:test');
const assert = require('node:assert/strict');
const poolgate = require('poolgate');

test('require() gives the same API', async () => {
  for (const name of [
    'ConnectionPool',
    'withConnectionPool',
    'withRetryAndPool',
    'getPoolStats',
    'createPooledClient',
    'poolgateExtension',
    'QueueTimeoutError',
  ]) {
    assert.equal(typeof poolgate[name], 'function', name);
  }
  const pool = new poolgate.ConnectionPool({ maxConnections: 2 });
  const results = await Promise.all([1, 2, 3].map((i) => pool.run(async () => i * 2)));
  assert.deepEqual(results, [2, 4, 6]);
  assert.equal(await poolgate.withRetryAndPool(async () => 'ok'), 'ok');
  assert.deepEqual(poolgate.getPoolStats(), {
    activeConnections: 0,
    maxConnections: 10,
    queuedConnections: 0,
    availableConnections: 10,
  });
});
