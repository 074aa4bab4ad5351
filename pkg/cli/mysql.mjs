// What the doctor reads from a MySQL or MariaDB server, with the user's own `mysql2`.

import { loadDriver } from './driver.mjs';

/** Facts about the server behind `url`; throws the driver's error when it cannot connect. */
export async function inspectMysql(url, parsed, { timeoutMs = 5000, cwd } = {}) {
  const mysql = loadDriver('mysql2', cwd);
  const connect = mysql.createConnection ?? mysql.default?.createConnection;
  const options = {
    user: parsed.user || undefined,
    password: parsed.rawPassword === undefined ? undefined : decodeURIComponent(parsed.rawPassword),
    database: parsed.database || undefined,
    connectTimeout: timeoutMs,
  };
  if (parsed.socket) options.socketPath = parsed.host;
  else Object.assign(options, { host: parsed.host, port: parsed.port });
  const conn = connect(options);
  conn.on('error', () => {});
  await new Promise((resolve, reject) => conn.connect((e) => (e ? reject(e) : resolve())));
  const q = (sql) =>
    new Promise((resolve, reject) => conn.query(sql, (e, rows) => (e ? reject(e) : resolve(rows))));
  try {
    const [info] = await q(`SELECT VERSION() AS version, @@max_connections AS max_connections,
        @@max_user_connections AS max_user_connections, @@wait_timeout AS wait_timeout,
        CURRENT_USER() AS role, DATABASE() AS db, CONNECTION_ID() AS id`);
    const status = {};
    for (const row of await q(
      "SHOW GLOBAL STATUS WHERE Variable_name IN ('Threads_connected', 'Max_used_connections')",
    )) {
      status[row.Variable_name] = Number(row.Value);
    }
    const processes = await q('SHOW FULL PROCESSLIST');
    return {
      kind: 'mysql',
      version: String(info.version),
      versionText: String(info.version),
      mariadb: /mariadb/i.test(String(info.version)),
      maxConnections: Number(info.max_connections),
      maxUserConnections: Number(info.max_user_connections),
      waitTimeout: Number(info.wait_timeout),
      role: String(info.role),
      database: info.db === null ? '' : String(info.db),
      threadsConnected: status.Threads_connected ?? null,
      maxUsedConnections: status.Max_used_connections ?? null,
      activity: processes
        .filter(
          (p) =>
            Number(p.Id) !== Number(info.id) && p.Command !== 'Daemon' && p.User !== 'system user',
        )
        .map((p) => ({
          role: String(p.User),
          application: String(p.db ?? '(none)'),
          state: p.Command === 'Sleep' ? 'idle' : String(p.Command).toLowerCase(),
          stateSeconds: Number(p.Time),
        })),
    };
  } finally {
    await new Promise((resolve) => conn.end(() => resolve()));
  }
}
