// The load tool: runs the old wrapper's load scenarios through a real Prisma 7 client behind
// poolgate (or without it, to compare) against a PostgreSQL, and prints a table. `scripts/load`
// launches it (and starts a throwaway PostgreSQL when DATABASE_URL is not set); run it directly
// with `node --import tsx load.mjs` after `npm run generate`.

import { readFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import pg from 'pg';
import { ALL, SCENARIOS } from './lib/scenarios.mjs';
import { formatAlert, formatTable } from './lib/stats.mjs';

const USAGE = `usage: scripts/load [SCENARIO...] [options]

  SCENARIO             ${ALL.join(' | ')} | all   (default: all)
${ALL.map((name) => `    ${name.padEnd(10)} ${SCENARIOS[name].about}`).join('\n')}

  --no-gate            the same load without poolgate, for comparison
  --compare            each scenario without and then with the gate, side by side
  --ops N              operations per scenario (instead of the scenario's own count)
  --gate N             poolgate's maxConnections (default 15)
  --pool N             the Prisma client's pg pool size (default 50)
  --via proxy|extension  createPooledClient (default) or the poolgateExtension client extension
  --queue-timeout MS   poolgate's queueTimeoutMs (default 60000)
  --retries N          retries of transient connection errors (default 3, the old wrapper's)
  --delay MS           base back-off; the n-th retry waits n times it (default 1000)
  --url URL            the database (default: $DATABASE_URL)
  --monitor-url URL    where to read pg_stat_activity (default: $ADMIN_DATABASE_URL, else --url)
  --monitor-user ROLE  count server connections by role instead of application_name (PgBouncer)
  --alert-after MS     the gate's alerts fire once a condition held this long (saturatedForMs;
                       default 250, short enough for these runs; the pool's default is 10000)
  --no-alerts          no alerts
  --json               results as JSON on stdout (progress stays on stderr)
  --quiet              no progress lines

It creates two tables if missing (poolgate_users with 1,000 rows, poolgate_writes) and leaves
them; drop them when done.`;

function fail(message, code = 2) {
  console.error(`load: ${message}`);
  process.exit(code);
}

function parse() {
  let parsed;
  try {
    parsed = parseArgs({
      allowPositionals: true,
      options: {
        'no-gate': { type: 'boolean' },
        compare: { type: 'boolean' },
        ops: { type: 'string' },
        gate: { type: 'string' },
        pool: { type: 'string' },
        via: { type: 'string' },
        'queue-timeout': { type: 'string' },
        retries: { type: 'string' },
        delay: { type: 'string' },
        url: { type: 'string' },
        'monitor-url': { type: 'string' },
        'monitor-user': { type: 'string' },
        json: { type: 'boolean' },
        quiet: { type: 'boolean' },
        'alert-after': { type: 'string' },
        'no-alerts': { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
    });
  } catch (err) {
    fail(`${err.message}\n\n${USAGE}`);
  }
  const { values: v, positionals } = parsed;
  if (v.help) {
    console.log(USAGE);
    process.exit(0);
  }
  const int = (name, fallback, min) => {
    if (v[name] === undefined) return fallback;
    const n = Number(v[name]);
    if (!Number.isInteger(n) || n < min) fail(`--${name} must be an integer >= ${min}`);
    return n;
  };
  const names = positionals.length === 0 ? ['all'] : positionals;
  const scenarios = names.flatMap((n) => (n === 'all' ? ALL : [n]));
  for (const n of scenarios) {
    if (!SCENARIOS[n]) fail(`unknown scenario ${n}\n\n${USAGE}`);
  }
  if (v.via !== undefined && v.via !== 'proxy' && v.via !== 'extension') {
    fail('--via must be proxy or extension');
  }
  if (v.compare && v['no-gate']) fail('--compare already runs without the gate');
  const url = v.url ?? process.env.DATABASE_URL;
  if (!url) fail('no database: set DATABASE_URL or pass --url (scripts/load starts one for you)');
  const gate = int('gate', 15, 1);
  return {
    scenarios,
    modes: v.compare ? [null, gate] : [v['no-gate'] ? null : gate],
    ops: int('ops', undefined, 1),
    pgPoolMax: int('pool', 50, 1),
    via: v.via ?? 'proxy',
    queueTimeoutMs: int('queue-timeout', 60_000, 0),
    retry: { maxRetries: int('retries', 3, 0), delay: int('delay', 1000, 0) },
    url,
    monitorUrl: v['monitor-url'] ?? process.env.ADMIN_DATABASE_URL ?? url,
    match: v['monitor-user'] === undefined ? undefined : { user: v['monitor-user'] },
    json: Boolean(v.json),
    quiet: Boolean(v.quiet),
    alerts: v['no-alerts'] ? false : { saturatedForMs: int('alert-after', 250, 0) },
  };
}

/** Creates the tables if missing (idempotent SQL, run through pg: no Prisma CLI needed). */
async function ensureTables(url) {
  const sql = await readFile(new URL('./sql/schema.sql', import.meta.url), 'utf8');
  const client = new pg.Client({ connectionString: url });
  try {
    await client.connect();
    await client.query(sql);
  } catch (err) {
    fail(`could not create the load's tables: ${err.message}`, 1);
  } finally {
    await client.end().catch(() => {});
  }
}

async function main() {
  const o = parse();
  let runLoad;
  try {
    ({ runLoad } = await import('./lib/load.mjs'));
  } catch (err) {
    fail(
      `cannot load the Prisma client (${err.message.split('\n')[0]}): run \`npm run generate\` in tests/prisma, or use scripts/load`,
      1,
    );
  }
  await ensureTables(o.url);
  const progress = (line) => {
    if (o.quiet) return;
    if (process.stderr.isTTY) process.stderr.write(`\r\x1b[K${line}`);
    else console.error(line);
  };
  const results = [];
  for (const name of o.scenarios) {
    const s = SCENARIOS[name];
    const columns = [];
    for (const gate of o.modes) {
      const r = await runLoad({
        ...o,
        scenario: name,
        ops: o.ops ?? s.ops,
        mix: s.mix,
        terminateAt: s.terminateAt,
        gate,
        onProgress: progress,
        onAlert: (a, label) => {
          if (o.quiet) return;
          if (process.stderr.isTTY) process.stderr.write('\r\x1b[K');
          console.error(formatAlert(a, label));
        },
      });
      if (!o.quiet && process.stderr.isTTY) process.stderr.write('\n');
      columns.push(r);
      results.push(r);
    }
    if (!o.json) {
      console.log(`\n${name}: ${o.ops ?? s.ops} operations, ${s.about.replace(/^[\d,]+ /, '')}`);
      console.log(formatTable(columns));
      for (const r of columns) {
        if (r.terminatedBackends !== undefined) {
          console.log(
            `(${r.label}: terminated ${r.terminatedBackends} server connections mid-run)`,
          );
        }
      }
    }
  }
  if (o.json) console.log(JSON.stringify(results, null, 2));
  const stuck = results.filter((r) => r.timedOut);
  if (stuck.length > 0) {
    fail(`${stuck.map((r) => `${r.scenario} ${r.label}: ${r.unsettled} unsettled`).join('; ')}`, 1);
  }
}

main().catch((err) => fail(err?.stack ?? String(err), 1));
