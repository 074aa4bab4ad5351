// The Prisma 7 clients of the load tool and the tests: a real PrismaClient on @prisma/adapter-pg
// (a node-postgres pool underneath), optionally behind a poolgate ConnectionPool, either through
// createPooledClient (a Proxy) or through the poolgateExtension client extension.
//
// Needs the generated client (generated/prisma, made by `npm run generate`) and a loader for
// its TypeScript: run with `node --import tsx`.

import { PrismaPg } from '@prisma/adapter-pg';
import { ConnectionPool, createPooledClient, poolgateExtension } from 'poolgate';
import { PrismaClient } from '../generated/prisma/client.ts';

/** The `application_name` of the load's connections, by which the monitor counts them. */
export const APP_NAME = 'poolgate-load';

/**
 * A PrismaClient whose pg pool may open `max` connections. Extra pg pool settings
 * (`connectionTimeoutMillis`, `statement_timeout`, ...) pass through.
 */
export function newPrisma({ url, max = 50, applicationName = APP_NAME, ...pgOptions }) {
  const adapter = new PrismaPg({
    connectionString: url,
    max,
    application_name: applicationName,
    ...pgOptions,
  });
  return new PrismaClient({ adapter });
}

/** A poolgate gate; `queueTimeoutMs` defaults to 60 s so a deep burst drains rather than fails. */
export function newGate({ maxConnections = 15, queueTimeoutMs = 60_000, ...rest } = {}) {
  return new ConnectionPool({ maxConnections, queueTimeoutMs, ...rest });
}

/**
 * `prisma` with every model call going through `gate`: `via` is 'proxy' (createPooledClient)
 * or 'extension' (prisma.$extends(poolgateExtension(...))).
 */
export function gated(prisma, gate, { via = 'proxy', retry } = {}) {
  const options = retry === undefined ? { pool: gate } : { pool: gate, retry };
  if (via === 'proxy') return createPooledClient(prisma, options);
  if (via === 'extension') return prisma.$extends(poolgateExtension(options));
  throw new RangeError(`via must be 'proxy' or 'extension', got ${via}`);
}
