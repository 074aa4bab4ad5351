// Watches the server side of a load: samples pg_stat_activity on a connection of its own and
// keeps the peak count of the load's connections, counted by application_name (default) or,
// behind PgBouncer (which opens the server connections itself), by role name.

import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';

const SAMPLE_MS = 10;

/**
 * Connects to `url` and samples until `stop()`. It connects before the load starts, so even as a
 * superuser it takes one of the ordinary slots (the app is left 16 of PostgreSQL's 17); a
 * superuser's monitor still reconnects into a reserved slot if it loses its connection.
 * `match` is `{ applicationName }` or `{ user }`.
 */
export async function startMonitor({ url, match }) {
  const byUser = match.user !== undefined;
  const filter = byUser
    ? "usename = $1 AND backend_type = 'client backend'"
    : 'application_name = $1';
  const value = byUser ? match.user : match.applicationName;
  const client = new pg.Client({ connectionString: url, application_name: 'poolgate-monitor' });
  client.on('error', () => {}); // a restart of the server ends this connection; see `lost`
  await client.connect();

  let peak = 0;
  let current = 0;
  let samples = 0;
  let lost = false;
  let stopped = false;
  const loop = (async () => {
    while (!stopped && !lost) {
      try {
        const r = await client.query(
          `SELECT count(*)::int AS n FROM pg_stat_activity WHERE ${filter} AND pid <> pg_backend_pid()`,
          [value],
        );
        current = r.rows[0].n;
        samples += 1;
        if (current > peak) peak = current;
      } catch {
        lost = true; // the server went away (a restart): keep what was seen
      }
      await sleep(SAMPLE_MS);
    }
  })();

  return {
    get peak() {
      return peak;
    },
    get current() {
      return current;
    },
    /** Terminates every server backend of the load (pg_terminate_backend); resolves to how many. */
    async terminate() {
      const r = await client.query(
        `SELECT count(pg_terminate_backend(pid))::int AS n FROM pg_stat_activity WHERE ${filter} AND pid <> pg_backend_pid()`,
        [value],
      );
      return r.rows[0].n;
    },
    async stop() {
      stopped = true;
      await loop;
      await client.end().catch(() => {});
      return { peak, samples, lost };
    },
  };
}

/**
 * Waits (at most `timeoutMs`) until no connection of a previous load is left on the server, so
 * it does not count in the next peak. Not when counting by role: PgBouncer keeps its idle
 * server connections, and they rightly count.
 */
export async function waitForIdleServer({ url, match, timeoutMs = 15_000 }) {
  if (match.user !== undefined) return;
  const monitor = await startMonitor({ url, match });
  const deadline = Date.now() + timeoutMs;
  try {
    await sleep(2 * SAMPLE_MS);
    while (monitor.current > 0 && Date.now() < deadline) await sleep(50);
  } finally {
    await monitor.stop();
  }
}
