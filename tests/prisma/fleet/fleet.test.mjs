// The fleet limit with real processes: app instances (worker.mjs, each its own Node process with
// a Prisma 7 client, a pg pool and a gate of 15) against one PostgreSQL (max_connections=20,
// 17 for the app's role, one taken by the monitor) and one Redis, both started by
// scripts/test-fleet on 127.0.0.1. Server connections are counted from pg_stat_activity.

import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';
import { test } from 'node:test';
import { Redis as Upstash } from '@upstash/redis';
import IORedis from 'ioredis';
import { ConnectionPool } from 'poolgate';
import { createClient } from 'redis';
import { APP_NAME } from '../lib/db.mjs';
import { startMonitor, waitForIdleServer } from '../lib/monitor.mjs';
import { startInstance } from './instances.mjs';
import { startUpstashRest } from './upstash-rest.mjs';

const adminUrl = process.env.ADMIN_DATABASE_URL;
const match = { applicationName: APP_NAME };
const LIMIT = 16;
let keyN = 0;
const freshKey = () => `fleet-test-${process.pid}-${++keyN}`;

function redisCtl(fn) {
  execFileSync('bash', ['-c', `source "$REPO_ROOT/scripts/lib/redis.sh" && ${fn} fleet-test`], {
    stdio: 'inherit',
  });
}

async function leases(redis, key) {
  const h = await redis.hGetAll(`poolgate:{${key}}:leases`);
  return Object.values(h).reduce((n, v) => n + Number(v.split(' ')[0]), 0);
}

/**
 * Runs `count` 2 ms operations spread round-robin over `pools` (which share one fleet key),
 * closes the pools, and returns the most that ran at once across them and each pool's fleet
 * metrics. Every operation must succeed.
 */
async function spread(pools, count) {
  let running = 0;
  let peak = 0;
  const op = async () => {
    running += 1;
    peak = Math.max(peak, running);
    await sleep(2);
    running -= 1;
  };
  const results = await Promise.allSettled(
    Array.from({ length: count }, (_, i) => pools[i % pools.length].run(op)),
  );
  const metrics = pools.map((p) => p.getMetrics().fleet);
  for (const p of pools) p.close();
  console.log(JSON.stringify({ peak, metrics }));
  assert.equal(results.filter((r) => r.status === 'fulfilled').length, count);
  return { peak, metrics };
}

test('four processes of 15 under a fleet limit of 16: 0 errors, at most 16 server connections', async () => {
  await waitForIdleServer({ url: adminUrl, match });
  const monitor = await startMonitor({ url: adminUrl, match });
  const key = freshKey();
  const env = { FLEET_LIMIT: String(LIMIT), FLEET_KEY: key, OPS: '1500', CONCURRENCY: '60' };
  const insts = [1, 2, 3, 4].map((i) => startInstance(`i${i}`, env));
  const reports = await Promise.all(insts.map((i) => i.done));
  const { peak, samples } = await monitor.stop();
  console.log(JSON.stringify({ peak, samples, reports }, null, 0));
  for (const r of reports) {
    assert.equal(r.ok, 1500, `every query of ${r.name} succeeded: ${JSON.stringify(r)}`);
    assert.deepEqual(r.errors, {});
    assert.ok(r.fleet.requests > 0 && r.fleet.fallbacks === 0, JSON.stringify(r.fleet));
  }
  assert.ok(samples > 10, `the monitor sampled (${samples})`);
  assert.ok(peak <= LIMIT, `peak server connections ${peak} <= ${LIMIT}`);
  assert.ok(peak >= 4, `the load did reach the server (${peak})`);
});

test('the same four processes without the fleet limit overrun the server', async () => {
  await waitForIdleServer({ url: adminUrl, match });
  const monitor = await startMonitor({ url: adminUrl, match });
  const env = { OPS: '1500', CONCURRENCY: '60' };
  const insts = [1, 2, 3, 4].map((i) => startInstance(`n${i}`, env));
  const reports = await Promise.all(insts.map((i) => i.done));
  const { peak } = await monitor.stop();
  const errors = reports.reduce(
    (n, r) => n + Object.values(r.errors).reduce((a, b) => a + b, 0),
    0,
  );
  const kinds = insts.flatMap((i) => i.events.filter((e) => e.type === 'error'));
  console.log(JSON.stringify({ peak, errors, kinds, reports }, null, 0));
  // What the fleet limit prevents: more than the server allows, hence refused connections.
  // Only refused connections count: 53300 "too many clients" (P2037 from Prisma, or P2010 from
  // a raw query carrying that code).
  const refused = kinds.every((e) => /too many clients|remaining connection slots/.test(e.message));
  assert.ok(refused, `errors other than refused connections: ${JSON.stringify(kinds)}`);
  assert.ok(errors > 0 || peak > LIMIT, `no overrun without the fleet limit? ${peak}, ${errors}`);
});

test('kill -9 of an instance holding slots: the others take them over when its lease expires', async () => {
  const redis = createClient({ url: process.env.REDIS_URL });
  await redis.connect();
  const key = freshKey();
  const leaseMs = 2000;
  const base = { FLEET_LIMIT: String(LIMIT), FLEET_KEY: key, LEASE_MS: String(leaseMs) };
  // The victim runs alone first and takes as many slots as it can use (its local 15).
  const victim = startInstance('victim', { ...base, OPS: '1000000', CONCURRENCY: '60' });
  while (!(victim.last?.fleet?.held >= 12)) await sleep(20);
  const others = ['a', 'b'].map((n) =>
    startInstance(n, { ...base, OPS: '3000', CONCURRENCY: '40' }),
  );
  while (others.some((o) => o.last?.fleet?.mode !== 'leased')) await sleep(20);
  const held = victim.last.fleet.held;
  const killedAt = Date.now();
  victim.proc.kill('SIGKILL');
  await victim.done;
  // Takeover: the two survivors hold more than the victim left them.
  let takeoverMs = null;
  while (takeoverMs === null) {
    const heldByOthers = others.reduce((n, o) => n + (o.last?.fleet?.held ?? 0), 0);
    if (heldByOthers > LIMIT - held) takeoverMs = Date.now() - killedAt;
    else await sleep(10);
  }
  const reports = await Promise.all(others.map((o) => o.done));
  await redis.quit();
  console.log(JSON.stringify({ victimHeld: held, takeoverMs, leaseMs, reports }));
  for (const r of reports) {
    assert.equal(r.ok, 3000, JSON.stringify(r));
    assert.deepEqual(r.errors, {});
  }
});

test('Redis stopped and restarted mid-run: every caller settles, instances fall back and rejoin, the limit holds again', async () => {
  const redis = createClient({ url: process.env.REDIS_URL, socket: { reconnectStrategy: 100 } });
  redis.on('error', () => {});
  await redis.connect();
  await waitForIdleServer({ url: adminUrl, match });
  const key = freshKey();
  const env = {
    FLEET_LIMIT: String(LIMIT),
    FLEET_KEY: key,
    LEASE_MS: '2000',
    OPS: '6000',
    CONCURRENCY: '40',
  };
  const insts = ['r1', 'r2'].map((n) => startInstance(n, env));
  while (insts.some((o) => o.last?.fleet?.mode !== 'leased')) await sleep(20);
  await sleep(500);
  redisCtl('redis_pause');
  const stoppedAt = Date.now();
  while (insts.some((o) => o.last?.fleet?.mode !== 'fallback')) await sleep(20);
  const fellBackMs = Date.now() - stoppedAt;
  const servedBefore = insts.map((o) => o.last.ok);
  await sleep(1500);
  const servedDuring = insts.map((o, i) => o.last.ok - servedBefore[i]);
  redisCtl('redis_resume');
  const resumedAt = Date.now();
  while (insts.some((o) => o.last?.fleet?.mode !== 'leased')) await sleep(20);
  const rejoinMs = Date.now() - resumedAt;
  // After recovery: the fallback's extra connections are trimmed; the limit holds again.
  await sleep(500);
  const monitor = await startMonitor({ url: adminUrl, match });
  let maxLeased = 0;
  const sampler = setInterval(async () => {
    maxLeased = Math.max(maxLeased, await leases(redis, key).catch(() => 0));
  }, 20);
  const reports = await Promise.all(insts.map((o) => o.done));
  clearInterval(sampler);
  const { peak } = await monitor.stop();
  await redis.quit();
  console.log(
    JSON.stringify({ fellBackMs, servedDuring, rejoinMs, peakAfter: peak, maxLeased, reports }),
  );
  for (const r of reports) {
    assert.equal(r.ok + Object.values(r.errors).reduce((a, b) => a + b, 0), 6000, 'all settled');
    assert.deepEqual(r.errors, {});
    assert.ok(r.fleet.fallbacks >= 1 && r.fleet.mode === 'leased', JSON.stringify(r.fleet));
  }
  assert.ok(
    servedDuring.every((n) => n > 0),
    `served during the outage: ${servedDuring}`,
  );
  assert.ok(peak <= LIMIT, `peak server connections after recovery ${peak} <= ${LIMIT}`);
  assert.ok(maxLeased <= LIMIT, `leases after recovery ${maxLeased} <= ${LIMIT}`);
});

test('the Upstash REST adapter, against an HTTP endpoint speaking its protocol: the fleet limit holds', async () => {
  const rest = await startUpstashRest({ redisUrl: process.env.REDIS_URL });
  try {
    const key = freshKey();
    const limit = 5;
    const pools = [1, 2, 3].map(
      () =>
        new ConnectionPool({
          maxConnections: 4,
          fleet: {
            store: new Upstash({ url: rest.url, token: rest.token }),
            key,
            limit,
            leaseMs: 3000,
          },
        }),
    );
    const { peak, metrics } = await spread(pools, 600);
    assert.ok(peak <= limit, `at most ${limit} at once across the pools, saw ${peak}`);
    assert.ok(peak >= 2, `the pools shared the limit (${peak})`);
    for (const m of metrics) assert.equal(m.fallbacks, 0, JSON.stringify(m));
  } finally {
    await rest.close();
  }
});

test('node-redis and ioredis clients share one fleet limit (the same script)', async () => {
  const nodeRedis = createClient({ url: process.env.REDIS_URL });
  await nodeRedis.connect();
  const ioredis = new IORedis(process.env.REDIS_URL);
  try {
    const key = freshKey();
    const limit = 3;
    const pools = [nodeRedis, ioredis].map(
      (store) => new ConnectionPool({ maxConnections: 3, fleet: { store, key, limit } }),
    );
    const { peak, metrics } = await spread(pools, 300);
    assert.ok(peak <= limit, `at most ${limit} at once across the pools, saw ${peak}`);
    for (const m of metrics) {
      assert.ok(m.requests > 0 && m.failures === 0, JSON.stringify(m));
    }
  } finally {
    await nodeRedis.quit();
    ioredis.disconnect();
  }
});

test('bad fleet options are TypeErrors/RangeErrors naming the option', () => {
  const store = createClient();
  assert.throws(() => new ConnectionPool({ fleet: { store: {}, key: 'k', limit: 2 } }), {
    name: 'TypeError',
    message: /fleet\.store must be a connected Redis client/,
  });
  assert.throws(() => new ConnectionPool({ fleet: { store, limit: 2 } }), {
    name: 'TypeError',
    message: /fleet\.key/,
  });
  assert.throws(() => new ConnectionPool({ fleet: { store, key: 'k' } }), {
    name: 'TypeError',
    message: /fleet\.limit is required/,
  });
  assert.throws(() => new ConnectionPool({ fleet: { store, key: 'k', limit: 0 } }), {
    name: 'RangeError',
    message: /fleet\.limit/,
  });
  assert.throws(() => new ConnectionPool({ fleet: { store, key: 'k', limit: 2, leaseMs: -1 } }), {
    name: 'RangeError',
    message: /fleet\.leaseMs/,
  });
  assert.throws(() => new ConnectionPool({ fleet: { store, key: 'k', limit: 2, nope: 1 } }), {
    name: 'TypeError',
    message: /unknown option "nope"/,
  });
});
