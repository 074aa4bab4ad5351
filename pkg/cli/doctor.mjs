// `poolgate doctor [DATABASE_URL]`: connects with the project's own driver, reads the limits and
// who holds connections now, says what the URL points at and which of its parameters are traps,
// and sizes the fleet with the core's arithmetic (the package's `sizeFleet`). Exit code 0 when
// no finding is an error, 1 when one is, 2 for a usage problem. The password never appears in
// any output: every text from outside (the URL, driver errors) goes through the redactor.

import { sizeFleet } from '../dist/node.js';
import { MissingDriverError } from './driver.mjs';
import { judge } from './findings.mjs';
import { inspectMysql } from './mysql.mjs';
import { inspectPostgres } from './postgres.mjs';
import { displayUrl, parseDatabaseUrl, redactor } from './url.mjs';

export const DOCTOR_HELP = `Usage: poolgate doctor [DATABASE_URL] [options]

Connects to the database (PostgreSQL directly or through PgBouncer / Supabase's pooler, MySQL,
MariaDB) with your project's own driver (pg or mysql2), and reports each finding with a severity
and a fix: the server's limits, who holds connections now, what the URL points at, the traps in
its parameters, and maxConnections per instance for your fleet.

DATABASE_URL defaults to the environment variable of that name.

Options:
  --instances K        app instances sharing the database (default 1)
  --reserve N          slots to leave to other clients: cron, admin tools (default 0)
  --margin PCT         share of the usable slots kept free, 0-100 (default 10)
  --queue-timeout MS   poolgate queueTimeoutMs to pair with (default: pool_timeout from the
                       URL, else 10000)
  --idle-seconds S     report connections idle this long (default 300)
  --timeout MS         connection timeout of the doctor itself (default 5000)
  --json               print one JSON object instead of text
  -h, --help           this help

Exit status: 0 no error found, 1 a finding is an error, 2 bad usage or no driver installed.`;

class UsageError extends Error {}

function intOption(name, value, min, max) {
  const n = Number(value);
  if (value === undefined || !/^\d+$/.test(String(value)) || n < min || n > max) {
    throw new UsageError(`${name} must be an integer from ${min} to ${max}, got ${value === undefined ? 'nothing' : JSON.stringify(value)}`);
  }
  return n;
}

/** Parses the doctor's arguments; throws UsageError with a message naming the problem. */
export function parseDoctorArgs(argv, env = process.env) {
  const o = {
    url: undefined,
    instances: 1,
    reserve: 0,
    marginPercent: 10,
    queueTimeoutMs: undefined,
    idleSeconds: 300,
    timeoutMs: 5000,
    json: false,
    help: false,
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const eq = a.indexOf('=');
    const [flag, inline] = a.startsWith('--') && eq > 0 ? [a.slice(0, eq), a.slice(eq + 1)] : [a, undefined];
    const value = () => (inline !== undefined ? inline : argv[++i]);
    switch (flag) {
      case '--instances':
        o.instances = intOption('--instances', value(), 1, 100_000);
        break;
      case '--reserve':
        o.reserve = intOption('--reserve', value(), 0, 1_000_000);
        break;
      case '--margin':
        o.marginPercent = intOption('--margin', value(), 0, 100);
        break;
      case '--queue-timeout':
        o.queueTimeoutMs = intOption('--queue-timeout', value(), 0, 2_147_483_647);
        break;
      case '--idle-seconds':
        o.idleSeconds = intOption('--idle-seconds', value(), 0, 31_536_000);
        break;
      case '--timeout':
        o.timeoutMs = intOption('--timeout', value(), 1, 600_000);
        break;
      case '--json':
        o.json = true;
        break;
      case '-h':
      case '--help':
        o.help = true;
        break;
      default:
        if (a.startsWith('-')) throw new UsageError(`unknown option ${a} (try --help)`);
        if (o.url !== undefined) throw new UsageError('give one DATABASE_URL at most (try --help)');
        o.url = a;
    }
  }
  if (o.url === undefined) o.url = env.DATABASE_URL;
  if (!o.help && !o.url) {
    throw new UsageError('no database URL: pass it as an argument or set DATABASE_URL (try --help)');
  }
  return o;
}

const MARK = { info: 'info ', warn: 'WARN ', error: 'ERROR' };

function wrap(text, indent, width = 100) {
  const words = text.split(' ');
  const lines = [];
  let line = '';
  for (const w of words) {
    if (line && indent.length + line.length + 1 + w.length > width) {
      lines.push(indent + line);
      line = w;
    } else {
      line = line ? `${line} ${w}` : w;
    }
  }
  if (line) lines.push(indent + line);
  return lines.join('\n');
}

/** The report as text. */
export function formatText(report) {
  const out = [`poolgate doctor: ${report.url}`, ''];
  for (const f of report.findings) {
    out.push(`${MARK[f.severity]}  ${f.id}: ${f.title}`);
    if (f.detail) out.push(wrap(f.detail, '         '));
    if (f.fix) out.push(wrap(`fix: ${f.fix}`, '         '));
  }
  const s = report.sizing;
  if (s) {
    out.push(
      '',
      `Sizing for ${s.instances} instance${s.instances === 1 ? '' : 's'} (${s.perInstance} connections each):`,
      '',
      `  new ConnectionPool({ maxConnections: ${s.perInstance}, queueTimeoutMs: ${s.queueTimeoutMs} })`,
      report.kind === 'mysql'
        ? `  mysql.createPool({ uri, connectionLimit: ${s.pgPoolMax}, connectTimeout: ${s.connectTimeoutMs} })`
        : `  new PrismaPg({ connectionString, max: ${s.pgPoolMax}, connectionTimeoutMillis: ${s.connectTimeoutMs} })   // or new pg.Pool({ ... })`,
    );
  }
  const counts = { error: 0, warn: 0, info: 0 };
  for (const f of report.findings) counts[f.severity]++;
  out.push('', `${counts.error} error(s), ${counts.warn} warning(s), ${counts.info} note(s).`);
  return `${out.join('\n')}\n`;
}

/** Runs the doctor; returns { exitCode, output } (output already redacted). */
export async function runDoctor(argv, { env = process.env, cwd = process.cwd() } = {}) {
  let options;
  try {
    options = parseDoctorArgs(argv, env);
  } catch (e) {
    if (e instanceof UsageError) return { exitCode: 2, output: `poolgate doctor: ${e.message}\n`, stream: 'stderr' };
    throw e;
  }
  if (options.help) return { exitCode: 0, output: `${DOCTOR_HELP}\n` };
  const redact = redactor(options.url);
  // A last net over everything printed, for passwords long enough not to mangle the text.
  const net = (text) => (options.url ? redactorNet(options.url)(text) : text);
  let parsed;
  try {
    parsed = parseDatabaseUrl(options.url);
  } catch (e) {
    return { exitCode: 2, output: net(`poolgate doctor: ${redact(e.message)}\n`), stream: 'stderr' };
  }
  let facts = null;
  let error = null;
  try {
    const inspect = parsed.kind === 'mysql' ? inspectMysql : inspectPostgres;
    facts = await inspect(options.url, parsed, { timeoutMs: options.timeoutMs, cwd });
  } catch (e) {
    if (e instanceof MissingDriverError) return { exitCode: 2, output: `poolgate doctor: ${e.message}\n`, stream: 'stderr' };
    error = e;
  }
  const { target, findings, sizing } = judge({ parsed, facts, error, options, sizeFleet, redact });
  const exitCode = findings.some((f) => f.severity === 'error') ? 1 : 0;
  const report = {
    url: displayUrl(options.url),
    kind: parsed.kind,
    target: target.kind,
    instances: options.instances,
    findings,
    sizing,
    exitCode,
  };
  const output = options.json ? `${JSON.stringify(report, null, 2)}\n` : formatText(report);
  return { exitCode, output: net(output), report };
}

/** Like `redactor`, but only for passwords of 4 characters or more (shorter ones would mangle
 *  ordinary words; they are scrubbed at their source instead). */
function redactorNet(url) {
  const r = redactor(url);
  const parsedPw = /^[a-z][a-z0-9+.-]*:\/\/([^@]*:)?([^@]*)@/is.exec(url)?.[2] ?? '';
  return parsedPw.length >= 4 ? r : (t) => t;
}
