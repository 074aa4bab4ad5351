// Shared by the doctor tests: run the installed `poolgate` bin as a user would, the servers
// started by scripts/test-doctor, and the password check.

import { spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
export const projectDir = path.resolve(here, '..');
const require = createRequire(path.join(projectDir, 'x.cjs'));
export const pg = require('pg');
export const mysql = require('mysql2');

const offset = Number(process.env.POOLGATE_PORT_OFFSET ?? 0);
export const PG_PORT = 55470 + offset;
export const BOUNCER_PORT = 55471 + offset;
export const MYSQL_PORT = 55472 + offset;
export const SOCKET_DIR = process.env.DOCTOR_PG_SOCKET_DIR;
/** The MariaDB app user's real password (scripts/test-doctor sets it). */
export const MYSQL_PASSWORD = process.env.MARIADB_APP_PASSWORD;

/** A password with every character a URL treats specially; trust auth lets PostgreSQL accept it. */
export const PASSWORD = 'Zq9p@ss:w/rd?#%&=+ é';
export const ENCODED = encodeURIComponent(PASSWORD);

export const pgUrl = (query = '', user = 'app') =>
  `postgresql://${user}:${ENCODED}@127.0.0.1:${PG_PORT}/app${query}`;
export const bouncerUrl = (user = 'app') =>
  `postgresql://${user}:${ENCODED}@127.0.0.1:${BOUNCER_PORT}/app`;

/** Runs `poolgate ...args` (the bin npm linked into node_modules/.bin); resolves {code, stdout, stderr}. */
export function poolgate(args, { cwd = projectDir, env = {}, npx = false } = {}) {
  const bin = path.join(projectDir, 'node_modules', '.bin', 'poolgate');
  const [cmd, argv] = npx
    ? ['npx', ['--no-install', 'poolgate', ...args]]
    : [process.execPath, [bin, ...args]];
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, argv, {
      cwd,
      env: { ...process.env, DATABASE_URL: '', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

/** `poolgate doctor ... --json`, parsed. */
export async function doctorJson(args, opts) {
  const r = await poolgate(['doctor', ...args, '--json'], opts);
  let report;
  try {
    report = JSON.parse(r.stdout);
  } catch {
    throw new Error(`not JSON (exit ${r.code}): ${r.stdout}\n${r.stderr}`);
  }
  return { ...r, report };
}

/** Every form a password could be printed in. */
export function passwordForms(pw) {
  return [pw, encodeURIComponent(pw), encodeURI(pw), pw.replaceAll(' ', '+')];
}

/** Fails when any form of `pw` appears in the text. */
export function assertNoPassword(assert, text, pw = PASSWORD) {
  for (const form of passwordForms(pw)) {
    assert.ok(
      !text.includes(form),
      `the password (as ${JSON.stringify(form)}) was printed:\n${text}`,
    );
  }
}

/** Severity by finding id. */
export function severities(report) {
  return Object.fromEntries(report.findings.map((f) => [f.id, f.severity]));
}

export function finding(report, id) {
  const f = report.findings.find((x) => x.id === id);
  if (!f)
    throw new Error(`no finding ${id} in ${JSON.stringify(report.findings.map((x) => x.id))}`);
  return f;
}

/** Opens `n` idle connections as role app with application_name `name`. */
export async function holdPg(n, name = 'holder', port = PG_PORT) {
  const clients = [];
  for (let i = 0; i < n; i++) {
    const c = new pg.Client({
      connectionString: `postgresql://app@127.0.0.1:${port}/app`,
      application_name: name,
    });
    c.on('error', () => {});
    await c.connect();
    clients.push(c);
  }
  return { clients, close: () => Promise.all(clients.map((c) => c.end().catch(() => {}))) };
}

/** Terminates every client backend but the caller's, and waits until they are gone. */
export async function emptyServer() {
  const admin = new pg.Client({
    connectionString: `postgresql://postgres@127.0.0.1:${PG_PORT}/app`,
  });
  await admin.connect();
  try {
    const others = `FROM pg_stat_activity WHERE backend_type = 'client backend' AND pid <> pg_backend_pid()`;
    await admin.query(`SELECT pg_terminate_backend(pid) ${others}`);
    for (let i = 0; i < 100; i++) {
      const { rows } = await admin.query(`SELECT count(*)::int AS n ${others}`);
      if (rows[0].n === 0) return;
      await new Promise((r) => setTimeout(r, 50));
    }
    throw new Error('client backends did not go away within 5 s');
  } finally {
    await admin.end();
  }
}
