// What the doctor reads from a PostgreSQL server (directly or through a pooler), with the
// user's own `pg`. Plain facts; findings.mjs judges them.

import { loadDriver } from './driver.mjs';
import { withDatabase } from './url.mjs';

const APP_NAME = 'poolgate-doctor';

async function connect(pg, connectionString, timeoutMs) {
  const config = {
    connectionString,
    application_name: APP_NAME,
    connectionTimeoutMillis: timeoutMs,
  };
  const client = new pg.Client(config);
  // An 'error' after connecting (the server going away) must not crash the process.
  client.on('error', () => {});
  await client.connect();
  return client;
}

/** Reads PgBouncer's admin console (database `pgbouncer`) with the same credentials. */
async function readPgBouncer(pg, url, timeoutMs) {
  let client;
  try {
    client = await connect(pg, withDatabase(url, 'pgbouncer'), timeoutMs);
  } catch (e) {
    return { reachable: false, error: e };
  }
  try {
    // The admin console speaks the simple query protocol only.
    const version = (await client.query({ text: 'SHOW VERSION', rowMode: 'array' })).rows[0]?.[0];
    const config = {};
    try {
      for (const row of (await client.query('SHOW CONFIG')).rows) config[row.key] = row.value;
    } catch {
      // A stats-only user may read some SHOW commands and not others.
    }
    return { reachable: true, version: String(version ?? ''), config };
  } catch (e) {
    return { reachable: false, error: e };
  } finally {
    await client.end().catch(() => {});
  }
}

/** Facts about the server behind `url`; throws the driver's error when it cannot connect. */
export async function inspectPostgres(url, parsed, { timeoutMs = 5000, cwd } = {}) {
  const pg = loadDriver('pg', cwd);
  const client = await connect(pg, url, timeoutMs);
  try {
    const one = async (sql) => (await client.query(sql)).rows[0];
    const info = await one(`SELECT version() AS version,
        current_setting('server_version') AS server_version,
        current_setting('server_version_num')::int AS server_version_num,
        current_setting('max_connections')::int AS max_connections,
        current_setting('superuser_reserved_connections')::int AS superuser_reserved,
        coalesce(current_setting('reserved_connections', true), '0')::int AS reserved_connections,
        current_user AS role, current_database() AS database,
        inet_server_port() AS server_port, pg_backend_pid() AS pid`);
    const role = await one(
      'SELECT rolsuper AS superuser, rolconnlimit AS conn_limit FROM pg_roles WHERE rolname = current_user',
    );
    const db = await one(
      'SELECT datconnlimit AS conn_limit FROM pg_database WHERE datname = current_database()',
    );
    const activity = (
      await client.query(`SELECT usename AS role, application_name AS application, state,
          extract(epoch FROM now() - state_change)::float8 AS state_seconds,
          pid = pg_backend_pid() AS self
        FROM pg_stat_activity
        WHERE backend_type = 'client backend'`)
    ).rows;
    const self = activity.find((r) => r.self);
    const others = activity.filter((r) => !r.self && r.application !== APP_NAME);
    const facts = {
      kind: 'postgres',
      version: info.server_version,
      versionNum: info.server_version_num,
      versionText: info.version,
      maxConnections: info.max_connections,
      superuserReserved: info.superuser_reserved,
      reservedConnections: info.reserved_connections,
      role: info.role,
      superuser: Boolean(role?.superuser),
      roleConnLimit: role?.conn_limit ?? -1,
      database: info.database,
      databaseConnLimit: db?.conn_limit ?? -1,
      serverPort: info.server_port,
      // Through a transaction pooler the doctor's own row may be another client's server
      // connection: count every row but the doctor's.
      selfSeen: Boolean(self),
      activity: others.map((r) => ({
        role: r.role ?? '(hidden)',
        application: r.application || '(none)',
        state: r.state ?? '(hidden)',
        stateSeconds: r.state_seconds === null ? null : Number(r.state_seconds),
      })),
      pgbouncer: null,
    };
    const behindProxy =
      !parsed.socket && facts.serverPort !== null && facts.serverPort !== parsed.port;
    facts.behindProxy = behindProxy;
    if (behindProxy) facts.pgbouncer = await readPgBouncer(pg, url, timeoutMs);
    return facts;
  } finally {
    await client.end().catch(() => {});
  }
}
