// What the "every path a user takes" tests share: a real Prisma 7 client on its own
// application_name (so its server connections can be counted in pg_stat_activity), behind a gate
// through either integration, with a monitor sampling the server every 10 ms.

import { PrismaPg } from '@prisma/adapter-pg';
import { makeTypedQueryFactory } from '@prisma/client/runtime/client';
import { ConnectionPool, createPooledClient, poolgateExtension } from 'poolgate';
import { PrismaClient } from '../generated/prisma/client.ts';
import { ADMIN_DATABASE_URL, DATABASE_URL } from '../test/helpers.mjs';
import { startMonitor } from './monitor.mjs';

/** Both integrations, by the name the tests print. */
export const VIAS = ['proxy', 'extension'];

let clients = 0;

/**
 * A gate of `gate` slots, a PrismaClient whose pg pool opens up to `pgMax` connections (or the
 * pg options `pg(pool)` returns), `db` = the client through the gate (`via`), and a monitor of
 * this client's server connections. Everything is closed when the test ends.
 */
export async function gatedClient(
  t,
  via,
  { gate, pgMax = 50, pg, queueTimeoutMs = 60_000, retry = false },
) {
  const applicationName = `poolgate-paths-${process.pid}-${++clients}`;
  const pool = new ConnectionPool({ maxConnections: gate, queueTimeoutMs });
  const pgOptions = pg ? pg(pool) : { max: pgMax };
  const prisma = new PrismaClient({
    adapter: new PrismaPg({
      connectionString: DATABASE_URL,
      application_name: applicationName,
      ...pgOptions,
    }),
  });
  const options = { pool, retry };
  const db =
    via === 'proxy'
      ? createPooledClient(prisma, options)
      : prisma.$extends(poolgateExtension(options));
  const monitor = await startMonitor({ url: ADMIN_DATABASE_URL, match: { applicationName } });
  t.after(async () => {
    await monitor.stop();
    pool.close();
    await prisma.$disconnect();
  });
  return { pool, prisma, db, monitor, applicationName };
}

/** A TypedSQL query object, as `prisma generate --sql` would write one (the SQL is ours). */
export const sleepTyped = makeTypedQueryFactory(
  'SELECT pg_sleep(0.05)::text AS slept, $1::int AS n',
);

/** A run id unique to this process and call, to tag rows. */
let runs = 0;
export function runId(label) {
  runs += 1;
  return `paths-${label}-${process.pid}-${runs}`;
}
