// One app instance for the fleet tests and `scripts/load --instances K`: a real Prisma 7 client
// on a pg Pool of its own, behind a poolgate ConnectionPool of `MAX` connections, with or
// without a fleet lease on Redis. Runs OPS queries at CONCURRENCY, then prints one JSON line
// `{ type: 'done', ... }`. While running it prints `{ type: 'state', ... }` every 100 ms.
//
// Environment: DATABASE_URL, REDIS_URL (with FLEET_LIMIT), FLEET_KEY, MAX (15), OPS, CONCURRENCY,
// SLEEP_MS (server-side pg_sleep per query), LEASE_MS, NAME.

import { PrismaPg } from '@prisma/adapter-pg';
import pg from 'pg';
import { ConnectionPool } from 'poolgate';
import { createClient } from 'redis';
import { PrismaClient } from '../generated/prisma/client.ts';
import { APP_NAME } from '../lib/db.mjs';

const env = process.env;
const max = Number(env.MAX ?? 15);
const ops = Number(env.OPS ?? 2000);
const concurrency = Number(env.CONCURRENCY ?? 60);
const sleepSql = `SELECT 1::int AS one FROM pg_sleep(${Number(env.SLEEP_MS ?? 5) / 1000})`;
const fleetLimit = env.FLEET_LIMIT === undefined ? undefined : Number(env.FLEET_LIMIT);
const out = (o) => process.stdout.write(`${JSON.stringify({ name: env.NAME, ...o })}\n`);

/** Ends idle pg clients until the pool holds at most `keep` (pg-pool has no public call). */
export async function trimIdle(pool, keep) {
  const extra = pool.totalCount - keep;
  if (extra <= 0) return;
  const idle = pool._idle.slice(0, extra).map((item) => item.client);
  await Promise.all(idle.map((c) => new Promise((resolve) => pool._remove(c, resolve))));
}

const pgPool = new pg.Pool({
  connectionString: env.DATABASE_URL,
  max,
  application_name: APP_NAME,
  idleTimeoutMillis: 5_000,
});
pgPool.on('error', () => {});
const prisma = new PrismaClient({ adapter: new PrismaPg(pgPool) });

let redis;
let fleet;
if (fleetLimit !== undefined) {
  redis = createClient({ url: env.REDIS_URL, socket: { reconnectStrategy: 100 } });
  redis.on('error', () => {}); // outages are the fleet's to handle: see getMetrics().fleet
  await redis.connect();
  fleet = {
    store: redis,
    key: env.FLEET_KEY ?? 'db-main',
    limit: fleetLimit,
    leaseMs: Number(env.LEASE_MS ?? 10_000),
    trimConnections: (keep) => trimIdle(pgPool, keep),
    onStateChange: (s) => out({ type: 'fleet', from: s.from, to: s.to, at: Date.now() }),
  };
}
const gate = new ConnectionPool({ maxConnections: max, queueTimeoutMs: 120_000, fleet });

let ok = 0;
let next = 0;
let maxWaitMs = 0;
const errors = {};
async function lane() {
  while (next < ops) {
    next += 1;
    const asked = performance.now();
    try {
      await gate.run(() => {
        maxWaitMs = Math.max(maxWaitMs, performance.now() - asked);
        return prisma.$queryRawUnsafe(sleepSql);
      });
      ok += 1;
    } catch (e) {
      const key = e.code ?? e.name ?? 'Error';
      errors[key] = (errors[key] ?? 0) + 1;
      if (errors[key] === 1) out({ type: 'error', key, message: String(e.message).slice(-300) });
    }
  }
}
const state = () => ({
  ok,
  errors,
  active: gate.getPoolStats().activeConnections,
  pgTotal: pgPool.totalCount,
  fleet: gate.getMetrics().fleet,
});
const ticker = setInterval(() => out({ type: 'state', ...state() }), 100);
const t0 = performance.now();
await Promise.all(Array.from({ length: concurrency }, lane));
clearInterval(ticker);
out({
  type: 'done',
  ms: Math.round(performance.now() - t0),
  maxWaitMs: Math.round(maxWaitMs),
  ...state(),
});
gate.close();
await new Promise((r) => setTimeout(r, 200));
await prisma.$disconnect();
await pgPool.end().catch(() => {});
if (redis !== undefined) await redis.quit().catch(() => {});
