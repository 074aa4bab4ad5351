// Turns what the doctor read (the URL, the server's facts or the connection error) into
// findings, each with a severity and a fix, plus the fleet sizing. Pure: no IO, so every rule
// is easy to test and to read.

import { isLoopback } from './url.mjs';

const SUPABASE_POOLER = /\.pooler\.supabase\.com$/i;
const SUPABASE_DB = /^db\.[a-z0-9-]+\.supabase\.co$/i;

/** Sorted `[name, count]` pairs of `rows` grouped by `key`. */
function countBy(rows, key) {
  const m = new Map();
  for (const r of rows) m.set(r[key], (m.get(r[key]) ?? 0) + 1);
  return [...m.entries()].sort((a, b) => b[1] - a[1] || String(a[0]).localeCompare(String(b[0])));
}

function listCounts(pairs) {
  return pairs.map(([k, n]) => `${k} ${n}`).join(', ');
}

function plural(n, one, many = `${one}s`) {
  return `${n} ${n === 1 ? one : many}`;
}

/** What the URL points at: a direct server, Supabase's pooler, PgBouncer, or some proxy. */
export function classifyTarget(parsed, facts) {
  const { host, port } = parsed;
  if (parsed.kind === 'mysql') return { kind: 'mysql', label: 'MySQL/MariaDB server' };
  if (SUPABASE_POOLER.test(host)) {
    return port === 6543
      ? { kind: 'supabase-transaction', label: "Supabase's pooler (Supavisor), transaction mode" }
      : { kind: 'supabase-session', label: "Supabase's pooler (Supavisor), session mode" };
  }
  if (SUPABASE_DB.test(host) && port === 6543) {
    return {
      kind: 'supabase-transaction',
      label: "Supabase's dedicated pooler (PgBouncer), transaction mode",
    };
  }
  const bouncer = facts?.pgbouncer;
  if (bouncer?.reachable) {
    const mode = bouncer.config?.pool_mode ?? 'unknown';
    return {
      kind: mode === 'session' ? 'pgbouncer-session' : 'pgbouncer-transaction',
      label: `${bouncer.version || 'PgBouncer'}, ${mode} pooling`,
      mode,
    };
  }
  if (facts?.behindProxy) {
    // Denied the admin console: PgBouncer answers with its own messages.
    const msg = String(bouncer?.error?.message ?? '');
    const isBouncer = /pgbouncer|not allowed|admin/i.test(msg) && !/does not exist/i.test(msg);
    return isBouncer
      ? {
          kind: 'pgbouncer-transaction',
          label: 'PgBouncer (admin console not readable with these credentials)',
          mode: 'unknown',
        }
      : {
          kind: 'proxy',
          label: `a pooler or proxy (the server listens on port ${facts.serverPort}, the URL says ${port})`,
        };
  }
  if (SUPABASE_DB.test(host)) return { kind: 'direct', label: 'Supabase database, direct' };
  return { kind: 'direct', label: 'PostgreSQL, direct' };
}

/** Fix hints for a connection error, by its code. */
function connectFix(e, parsed) {
  const code = e?.code;
  const where = parsed.socket ? `socket ${parsed.host}` : `${parsed.host}:${parsed.port}`;
  switch (code) {
    case 'ECONNREFUSED':
      return `nothing accepts connections at ${where}: check the host and port, and that the server runs and listens there (PostgreSQL's listen_addresses, MySQL's bind-address).`;
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return `the host name ${parsed.host} does not resolve: check it for typos.`;
    case 'ENOENT':
      return `no socket at ${where}: check the directory (PostgreSQL's unix_socket_directories) and the port.`;
    case '53300':
    case 'ER_CON_COUNT_ERROR':
      return 'the server is full right now: every slot is taken. Find who holds them (pg_stat_activity / SHOW PROCESSLIST), and put a gate with maxConnections below the limit in front of each instance (see the sizing).';
    case '28P01':
    case '28000':
    case 'ER_ACCESS_DENIED_ERROR':
      return 'the server refused these credentials: check the user and password (a password with @ : / # ? % must be percent-encoded in the URL).';
    case '3D000':
    case 'ER_BAD_DB_ERROR':
      return `database ${JSON.stringify(parsed.database)} does not exist on this server.`;
    case 'ERR_INVALID_URL':
      return 'the driver could not parse the URL: percent-encode special characters in the user and password (@ %40, : %3A, / %2F, # %23, ? %3F, % %25, space %20).';
    default:
      if (/timeout/i.test(String(e?.message))) {
        return `no answer from ${where} in time: a firewall dropping packets, or the server is overloaded.`;
      }
      return 'check the URL, the server and the network.';
  }
}

/**
 * Every finding for a run. `facts` is null when the connection failed with `error`.
 * `sizeFleet` is the package's (the core's arithmetic). `redact` scrubs the password.
 */
export function judge({ parsed, facts, error, options, sizeFleet, redact }) {
  const findings = [];
  const add = (severity, id, title, detail, fix) => {
    findings.push({
      id,
      severity,
      title: redact(title),
      ...(detail ? { detail: redact(detail) } : {}),
      ...(fix ? { fix: redact(fix) } : {}),
    });
  };
  const target = classifyTarget(parsed, facts);
  const product = parsed.kind === 'mysql' ? 'MySQL/MariaDB' : 'PostgreSQL';
  const where = parsed.socket
    ? `socket ${parsed.host} (port ${parsed.port})`
    : `${parsed.ipv6 ? `[${parsed.host}]` : parsed.host}:${parsed.port}`;

  if (error) {
    const code = error.code ? ` (${error.code})` : '';
    add(
      'error',
      'connect',
      `cannot connect to ${where}`,
      `${String(error.message || error)}${code}`,
      connectFix(error, parsed),
    );
  }

  // ---------------------------------------------------------------- the server and its limit
  let limit = null;
  let reserved = 0;
  let usable = null;
  if (facts?.kind === 'postgres') {
    add('info', 'server', `PostgreSQL ${facts.version}`, facts.versionText);
    reserved = facts.superuserReserved + facts.reservedConnections;
    limit = facts.maxConnections;
    const caps = [];
    let forRole = facts.maxConnections - reserved;
    if (facts.roleConnLimit >= 0 && facts.roleConnLimit < forRole) {
      forRole = facts.roleConnLimit;
      caps.push(`role ${facts.role} CONNECTION LIMIT ${facts.roleConnLimit}`);
    }
    if (facts.databaseConnLimit >= 0 && facts.databaseConnLimit < forRole) {
      forRole = facts.databaseConnLimit;
      caps.push(`database ${facts.database} CONNECTION LIMIT ${facts.databaseConnLimit}`);
    }
    if (caps.length > 0) {
      limit = forRole;
      reserved = 0;
    }
    usable = forRole;
    const reservedText =
      facts.reservedConnections > 0
        ? `superuser_reserved_connections ${facts.superuserReserved} + reserved_connections ${facts.reservedConnections}`
        : `superuser_reserved_connections ${facts.superuserReserved}`;
    add(
      'info',
      'max-connections',
      `max_connections ${facts.maxConnections}: ${forRole} for role ${facts.role}`,
      `${reservedText}${caps.length ? `; capped by ${caps.join(', ')}` : ''}.${
        facts.superuser
          ? ` ${facts.role} is a superuser and may also take the reserved slots: keep them for emergencies, and run the app as a normal role.`
          : ''
      }`,
    );
  } else if (facts?.kind === 'mysql') {
    add('info', 'server', `${facts.mariadb ? 'MariaDB' : 'MySQL'} ${facts.version}`);
    limit = facts.maxConnections;
    usable = facts.maxConnections;
    if (facts.maxUserConnections > 0 && facts.maxUserConnections < usable) {
      usable = facts.maxUserConnections;
      limit = usable;
    }
    add(
      'info',
      'max-connections',
      `max_connections ${facts.maxConnections}: ${usable} for user ${facts.role}`,
      `max_user_connections ${facts.maxUserConnections || '0 (no per-user cap)'}; the server keeps one more for an admin with SUPER or CONNECTION ADMIN; Threads_connected ${facts.threadsConnected}, Max_used_connections ${facts.maxUsedConnections} since start; wait_timeout ${facts.waitTimeout} s.`,
    );
  }

  // ----------------------------------------------------------------- connections right now
  if (facts) {
    const rows = facts.activity;
    const n = rows.length;
    const detail = n
      ? `by role: ${listCounts(countBy(rows, 'role'))}; by ${facts.kind === 'mysql' ? 'database' : 'application'}: ${listCounts(countBy(rows, 'application'))}; by state: ${listCounts(countBy(rows, 'state'))}.`
      : 'none.';
    const title = `${plural(n, 'other connection')} now${usable ? ` (of ${usable} for this role)` : ''}`;
    if (usable !== null && n >= usable) {
      add(
        'error',
        'connections-now',
        title,
        detail,
        'the server has no slot left for this role: new connections fail (PostgreSQL 53300 "too many clients already", MySQL 1040). Find the holders above and gate each instance below the sizing.',
      );
    } else if (usable !== null && n >= Math.ceil(usable * 0.8)) {
      add(
        'warn',
        'connections-now',
        title,
        detail,
        'more than 80% of the slots are taken: a burst or one more instance will hit the limit. Gate each instance (see the sizing).',
      );
    } else {
      add('info', 'connections-now', title, detail);
    }

    const idleLimit = options.idleSeconds;
    const idle = rows.filter((r) => r.state === 'idle' && r.stateSeconds !== null && r.stateSeconds >= idleLimit);
    if (idle.length > 0) {
      const longest = Math.max(...idle.map((r) => r.stateSeconds));
      add(
        'warn',
        'long-idle',
        `${plural(idle.length, 'connection')} idle for ${idleLimit} s or more (longest ${Math.floor(longest)} s)`,
        `by role: ${listCounts(countBy(idle, 'role'))}; by ${facts.kind === 'mysql' ? 'database' : 'application'}: ${listCounts(countBy(idle, 'application'))}.`,
        facts.kind === 'mysql'
          ? 'each holds a server slot doing nothing: close pools you do not use, give the pool an idle timeout (mysql2: idleTimeout, maxIdle), or lower wait_timeout for the user.'
          : "each holds a server slot doing nothing: close pools you do not use, give the pool an idle timeout (pg's idleTimeoutMillis, 10 s by default; @prisma/adapter-pg passes it through), or set idle_session_timeout (PostgreSQL 14+) for the role.",
      );
    }
    const inTx = rows.filter(
      (r) =>
        r.state.startsWith('idle in transaction') &&
        r.stateSeconds !== null &&
        r.stateSeconds >= Math.min(60, idleLimit),
    );
    if (inTx.length > 0) {
      add(
        'warn',
        'idle-in-transaction',
        `${plural(inTx.length, 'connection')} idle inside a transaction for ${Math.min(60, idleLimit)} s or more`,
        `by role: ${listCounts(countBy(inTx, 'role'))}; by application: ${listCounts(countBy(inTx, 'application'))}.`,
        'an open transaction keeps its connection and its locks: commit or roll back in a finally, and set idle_in_transaction_session_timeout for the role.',
      );
    }
  }

  // ------------------------------------------------------------------- what the URL points at
  add('info', 'target', `the URL points at ${target.label}`, `${product} at ${where}.`);
  if (target.kind === 'supabase-transaction' || target.kind === 'pgbouncer-transaction') {
    add(
      'warn',
      'transaction-pooling',
      'each transaction may run on a different server connection',
      'session state does not survive between transactions: SET, advisory locks, LISTEN/NOTIFY, temporary tables, and named prepared statements (PgBouncer before 1.21, or without max_prepared_statements: "prepared statement \\"s0\\" already exists").',
      'Prisma 7 with @prisma/adapter-pg and node-postgres use unnamed statements: fine (do not pass `name` to pg queries). Prisma 6 and earlier: add pgbouncer=true to the URL. Run migrations through a direct URL (5432 on the database host).',
    );
  }
  if (target.kind === 'supabase-session' || target.kind === 'pgbouncer-session') {
    add(
      'warn',
      'session-pooling',
      'every client connection pins a server connection for its whole life',
      "the pooler's pool size is the limit for the whole fleet; past it clients wait or fail (Supavisor: MaxClientsInSessionMode: max clients reached).",
      'for serverless and many instances, use transaction mode (port 6543 on Supabase); otherwise keep the fleet under the pool size (see the sizing).',
    );
  }
  const bouncer = facts?.pgbouncer;
  let poolerLimit = null;
  if (bouncer?.reachable && bouncer.config) {
    const c = bouncer.config;
    const poolSize = Number(c.default_pool_size);
    const maxDb = Number(c.max_db_connections);
    poolerLimit = maxDb > 0 ? Math.min(poolSize, maxDb) : poolSize;
    add(
      'info',
      'pgbouncer',
      `${bouncer.version}: pool_mode ${c.pool_mode}, default_pool_size ${c.default_pool_size}, max_db_connections ${c.max_db_connections}, max_client_conn ${c.max_client_conn}`,
      `at most ${poolerLimit} server connections per database and user; up to ${c.max_client_conn} clients may wait for them.`,
    );
    if (usable !== null && poolerLimit > usable) {
      add(
        'error',
        'pgbouncer-oversized',
        `PgBouncer may open ${poolerLimit} server connections, PostgreSQL leaves ${usable} for ${facts.role}`,
        null,
        `set default_pool_size (or max_db_connections) to at most ${usable} minus what other clients need.`,
      );
    }
  }

  // ------------------------------------------------------------------------ URL parameters
  const p = parsed.params;
  const instances = options.instances;
  if (p.has('connection_limit')) {
    const n = Number(p.get('connection_limit'));
    const total = n * instances;
    // Behind a transaction pooler the client side is the pooler's max_client_conn, not the
    // server's slots: only the warning applies there.
    const direct = !target.kind.endsWith('transaction');
    if (direct && usable !== null && Number.isFinite(n) && total > usable) {
      add(
        'error',
        'connection_limit',
        `connection_limit=${p.get('connection_limit')} × ${plural(instances, 'instance')} = ${total}, more than the ${usable} slots the server leaves`,
        'a pool of that size on every instance runs the server out of connections under load (53300 "too many clients already", Prisma P2037).',
        'size each instance with the sizing below; with Prisma 7 set it on the adapter (new PrismaPg({ max })), not in the URL.',
      );
    } else {
      add(
        'warn',
        'connection_limit',
        `connection_limit=${p.get('connection_limit')} in the URL`,
        'Prisma 6 and earlier read it; Prisma 7 with @prisma/adapter-pg hands the URL to node-postgres, which ignores it (its pool opens up to `max`, 10 by default).',
        'set the pool size where the driver reads it: new PrismaPg({ connectionString, max }) or new pg.Pool({ max }), and gate each instance (see the sizing).',
      );
    }
  }
  if (p.has('pool_timeout')) {
    const v = p.get('pool_timeout');
    add(
      'warn',
      'pool_timeout',
      `pool_timeout=${v} in the URL`,
      `${v === '0' ? 'pool_timeout=0 made Prisma 6 wait forever for a connection. ' : ''}Prisma 7 with @prisma/adapter-pg ignores it; node-postgres never gives up waiting for a pooled connection unless told (connectionTimeoutMillis).`,
      "bound the wait where it happens: poolgate's queueTimeoutMs (the sizing pairs it with pg's connectionTimeoutMillis).",
    );
  }
  if (p.has('connect_timeout')) {
    add(
      'warn',
      'connect_timeout',
      `connect_timeout=${p.get('connect_timeout')} in the URL`,
      'node-postgres reads the connection timeout from its connectionTimeoutMillis option (or PGCONNECT_TIMEOUT), not from the URL: this one is ignored, and the default is to wait forever.',
      'pass connectionTimeoutMillis to new pg.Pool({ ... }) or new PrismaPg({ ... }) (see the sizing).',
    );
  }
  if (p.has('pgbouncer')) {
    const pooled = target.kind.endsWith('transaction');
    add(
      pooled ? 'info' : 'warn',
      'pgbouncer-param',
      `pgbouncer=${p.get('pgbouncer')} in the URL`,
      pooled
        ? 'Prisma 6 and earlier then avoid named prepared statements, as transaction pooling needs; Prisma 7 with @prisma/adapter-pg ignores it (node-postgres uses unnamed statements).'
        : 'the URL does not point at a transaction pooler: with Prisma 6 and earlier this turns off prepared statements for nothing.',
      pooled ? null : 'drop pgbouncer=true from direct URLs.',
    );
  }
  const sslmode = p.get('sslmode');
  if (parsed.kind === 'postgres' && !isLoopback(parsed.host)) {
    if (!sslmode || sslmode === 'disable' || sslmode === 'allow') {
      add(
        'warn',
        'sslmode',
        sslmode ? `sslmode=${sslmode}: the connection is not encrypted` : 'no sslmode: the connection is not encrypted',
        `node-postgres connects without TLS unless told; the password and data cross the network to ${parsed.host} in clear.`,
        "add sslmode=verify-full (with the provider's CA in sslrootcert if Node does not trust it).",
      );
    } else if (['prefer', 'require', 'verify-ca'].includes(sslmode) && p.get('uselibpqcompat') !== 'true') {
      add(
        'warn',
        'sslmode',
        `sslmode=${sslmode} is treated as verify-full by node-postgres 8`,
        "the server's certificate must chain to a CA Node trusts: providers with their own CA fail with \"self-signed certificate in certificate chain\".",
        "give sslrootcert=<the provider's CA file> (best), or uselibpqcompat=true&sslmode=require to encrypt without checking the certificate.",
      );
    }
  }

  // --------------------------------------------------------------------------------- sizing
  let sizing = null;
  let sizingLimit = limit;
  let sizingReserved = reserved;
  let pooler = false;
  if (poolerLimit !== null && target.kind === 'pgbouncer-transaction') {
    sizingLimit = poolerLimit;
    sizingReserved = 0;
    pooler = true;
  }
  const poolTimeout = Number(p.get('pool_timeout'));
  const queueTimeoutMs =
    options.queueTimeoutMs ?? (poolTimeout > 0 ? Math.round(poolTimeout * 1000) : 10_000);
  if (sizingLimit !== null) {
    try {
      sizing = sizeFleet({
        limit: sizingLimit,
        reserved: sizingReserved,
        others: options.reserve,
        instances,
        marginPercent: pooler ? 0 : options.marginPercent,
        minHeadroom: pooler ? 0 : 1,
        queueTimeoutMs,
      });
      sizing = { limit: sizingLimit, reserved: sizingReserved, others: options.reserve, instances, pooler, ...sizing };
      add(
        'info',
        'sizing',
        `for ${plural(instances, 'instance')}: maxConnections ${sizing.perInstance} each (${sizing.fleetTotal} in all, ${sizing.headroom} kept free)`,
        `${pooler ? `PgBouncer's pool of ${sizingLimit}` : `${sizingLimit} - ${sizingReserved} reserved`}${options.reserve ? ` - ${options.reserve} for other clients` : ''} = ${sizing.usable} usable; ${sizing.headroom} kept free; ${sizing.usable - sizing.headroom} / ${instances} = ${sizing.perInstance} per instance. Pair it with the driver's pool max ${sizing.pgPoolMax} and a connect timeout of ${sizing.connectTimeoutMs} ms, and queueTimeoutMs ${sizing.queueTimeoutMs}.`,
      );
    } catch (e) {
      if (!(e instanceof RangeError)) throw e;
      add(
        'error',
        'sizing',
        `no size fits ${plural(instances, 'instance')}: ${e.message}`,
        null,
        'put a transaction pooler (PgBouncer, Supabase port 6543) between the fleet and the server, run fewer instances, or raise max_connections.',
      );
    }
  }

  return { target, findings, sizing };
}
