// What the real-database tests share: the URLs scripts/test-prisma exports, a superuser
// connection for counting and for breaking things, the load tool run as a user runs it, and a
// restart of the throwaway cluster.

import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import pg from 'pg';

const need = (name) => {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is not set: run these tests with scripts/test-prisma`);
  return v;
};

export const DATABASE_URL = need('DATABASE_URL');
export const ADMIN_DATABASE_URL = need('ADMIN_DATABASE_URL');
export const PGBOUNCER_DATABASE_URL = process.env.PGBOUNCER_DATABASE_URL;
const CLUSTER = need('POOLGATE_TEST_CLUSTER');
const REPO_ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const PRISMA_DIR = fileURLToPath(new URL('../', import.meta.url));

/** Runs one query as superuser on a fresh connection (it gets a reserved slot). */
export async function admin(sql, params) {
  const client = new pg.Client({ connectionString: ADMIN_DATABASE_URL });
  await client.connect();
  try {
    return (await client.query(sql, params)).rows;
  } finally {
    await client.end();
  }
}

/** Runs a command; resolves to { code, stdout, stderr }; kills it after `timeoutMs`. */
export function exec(cmd, args, { timeoutMs = 120_000, cwd = PRISMA_DIR } = {}) {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => {
      stdout += d;
    });
    child.stderr.on('data', (d) => {
      stderr += d;
    });
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${cmd} ${args.join(' ')}: still running after ${timeoutMs} ms, killed`));
    }, timeoutMs);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

/** Runs the load tool with `--json --quiet` and returns its results (one per run). */
export async function loadTool(args) {
  const r = await exec(process.execPath, [
    '--import',
    'tsx',
    'load.mjs',
    '--json',
    '--quiet',
    ...args,
  ]);
  if (r.code !== 0) throw new Error(`load tool exited ${r.code}:\n${r.stderr}\n${r.stdout}`);
  return JSON.parse(r.stdout);
}

/** Restarts the PostgreSQL cluster (fast stop, start) through scripts/lib/pg.sh. */
export async function restartServer() {
  const script = `source "${REPO_ROOT}scripts/lib/pg.sh" && pg_restart "$1"`;
  const r = await exec('bash', ['-c', script, 'restart', CLUSTER], { timeoutMs: 90_000 });
  if (r.code !== 0) throw new Error(`pg_restart failed:\n${r.stderr}`);
}

/** Waits (bounded) until the server accepts connections again. */
export async function waitForServer(timeoutMs = 60_000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      await admin('SELECT 1');
      return;
    } catch (err) {
      if (Date.now() > deadline) throw err;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
}

/** Rows of poolgate_writes per request id, for the ids starting with `prefix`. */
export async function rowsByRequestId(prefix) {
  const rows = await admin(
    'SELECT request_id, count(*)::int AS n FROM poolgate_writes WHERE request_id LIKE $1 GROUP BY request_id',
    [`${prefix}%`],
  );
  return new Map(rows.map((r) => [r.request_id, r.n]));
}

/**
 * Locks poolgate_users (ACCESS EXCLUSIVE, in an open transaction of a superuser connection) so
 * queries on it block until `release()`. Tolerates a server that dies meanwhile.
 */
export async function lockUsers() {
  const client = new pg.Client({ connectionString: ADMIN_DATABASE_URL });
  client.on('error', () => {});
  await client.connect();
  await client.query('BEGIN');
  await client.query('LOCK TABLE poolgate_users IN ACCESS EXCLUSIVE MODE');
  return {
    async release() {
      await client.query('ROLLBACK').catch(() => {});
      await client.end().catch(() => {});
    },
  };
}

/** Waits (bounded) until `n` backends of `applicationName` wait on a lock; returns their pids. */
export async function blockedBackends(applicationName, n = 1, timeoutMs = 15_000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const rows = await admin(
      "SELECT pid FROM pg_stat_activity WHERE application_name = $1 AND wait_event_type = 'Lock'",
      [applicationName],
    );
    if (rows.length >= n) return rows.map((r) => r.pid);
    if (Date.now() > deadline) {
      throw new Error(
        `${rows.length} of ${n} backends of ${applicationName} blocked after ${timeoutMs} ms`,
      );
    }
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** The rejection of `promise` (fails if it resolves). */
export async function rejection(promise) {
  try {
    await promise;
  } catch (err) {
    return err;
  }
  throw new Error('expected the call to fail, it succeeded');
}
