// Reads a DATABASE_URL the way the doctor needs it (scheme, host or socket, port, database,
// query parameters) without ever keeping the password in anything printed: `redactor` returns a
// function that scrubs every form of it from any text. A hand-written parser, because the URLs
// users paste are not always valid WHATWG URLs (an empty host for a socket, an unencoded `@` or
// `#` in a password), and an error from `new URL` would echo the whole string.

const SCHEMES = {
  postgres: 'postgres',
  postgresql: 'postgres',
  mysql: 'mysql',
  mariadb: 'mysql',
};

const DEFAULT_PORTS = { postgres: 5432, mysql: 3306 };

function decode(s) {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

/**
 * Splits `raw` into its parts. Throws an Error (whose message never contains the URL) when it
 * is not a postgres:// / postgresql:// / mysql:// / mariadb:// URL.
 */
export function parseDatabaseUrl(raw) {
  const m = /^([a-z][a-z0-9+.-]*):\/\/(.*)$/is.exec(raw);
  if (!m) {
    throw new Error(
      'the database URL must look like postgresql://user:password@host:5432/db or mysql://user:password@host:3306/db',
    );
  }
  const scheme = m[1].toLowerCase().replace(/\+.*$/, '');
  const kind = SCHEMES[scheme];
  if (!kind) {
    throw new Error(
      `unsupported scheme ${JSON.stringify(`${m[1]}://`)}: poolgate doctor reads postgresql://, postgres://, mysql:// and mariadb:// URLs`,
    );
  }
  let rest = m[2];
  const at = rest.lastIndexOf('@');
  let userinfo = '';
  if (at >= 0) {
    userinfo = rest.slice(0, at);
    rest = rest.slice(at + 1);
  }
  const q = rest.indexOf('?');
  const query = q >= 0 ? rest.slice(q + 1) : '';
  const beforeQuery = q >= 0 ? rest.slice(0, q) : rest;
  const slash = beforeQuery.indexOf('/');
  const hostport = slash >= 0 ? beforeQuery.slice(0, slash) : beforeQuery;
  const database = slash >= 0 ? decode(beforeQuery.slice(slash + 1)) : '';
  const colon = userinfo.indexOf(':');
  const user = decode(colon >= 0 ? userinfo.slice(0, colon) : userinfo);
  const rawPassword = colon >= 0 ? userinfo.slice(colon + 1) : undefined;

  let host = hostport;
  let port;
  const v6 = /^\[([^\]]*)\](?::(\d*))?$/.exec(hostport);
  if (v6) {
    host = v6[1];
    port = v6[2];
  } else {
    const c = hostport.lastIndexOf(':');
    if (c >= 0) {
      if (!/^\d*$/.test(hostport.slice(c + 1))) {
        throw new Error(
          'the port in the database URL is not a number (an IPv6 address goes in brackets: [::1]:5432)',
        );
      }
      host = hostport.slice(0, c);
      port = hostport.slice(c + 1);
    }
  }
  host = decode(host);
  const params = new URLSearchParams(query);
  if (!host && params.get('host')) host = params.get('host');
  if (!host && params.get('socket')) host = params.get('socket');
  if (!port && params.get('port')) port = params.get('port');
  const socket = host.startsWith('/');
  return {
    kind,
    scheme,
    user,
    hasPassword: rawPassword !== undefined && rawPassword !== '',
    rawPassword,
    host: host || 'localhost',
    socket,
    ipv6: Boolean(v6),
    port: port ? Number(port) : DEFAULT_PORTS[kind],
    portGiven: Boolean(port),
    database,
    params,
  };
}

/**
 * A function that replaces every form of the password in `raw` (as written, percent-decoded,
 * percent-encoded) with `***`. Safe on a URL that does not parse.
 */
export function redactor(raw) {
  const secrets = new Set();
  const m = /^[a-z][a-z0-9+.-]*:\/\/(.*)$/is.exec(String(raw));
  if (m) {
    const at = m[1].lastIndexOf('@');
    if (at >= 0) {
      const userinfo = m[1].slice(0, at);
      const colon = userinfo.indexOf(':');
      if (colon >= 0) {
        const pw = userinfo.slice(colon + 1);
        for (const form of [pw, decode(pw), encodeURIComponent(decode(pw))]) {
          if (form.length > 0) secrets.add(form);
        }
      }
    }
  }
  const list = [...secrets].sort((a, b) => b.length - a.length);
  return (text) => {
    let out = String(text);
    for (const s of list) out = out.split(s).join('***');
    return out;
  };
}

/** The URL as the doctor prints it: the password replaced by `***`. */
export function displayUrl(raw) {
  const m = /^([a-z][a-z0-9+.-]*:\/\/)(.*)$/is.exec(String(raw));
  if (!m) return '(not a URL)';
  const at = m[2].lastIndexOf('@');
  if (at < 0) return String(raw);
  const userinfo = m[2].slice(0, at);
  const colon = userinfo.indexOf(':');
  const shown = colon >= 0 ? `${userinfo.slice(0, colon)}:***` : userinfo;
  return `${m[1]}${shown}@${m[2].slice(at + 1)}`;
}

/** Whether a host is this machine. */
export function isLoopback(host) {
  return (
    host === 'localhost' ||
    host === '::1' ||
    /^127\.\d+\.\d+\.\d+$/.test(host) ||
    host.startsWith('/')
  );
}

/** `raw` with its database name replaced by `name` (for PgBouncer's admin console). */
export function withDatabase(raw, name) {
  const m = /^([a-z][a-z0-9+.-]*:\/\/)(.*)$/is.exec(raw);
  if (!m) return raw;
  const at = m[2].lastIndexOf('@');
  const userinfo = at >= 0 ? m[2].slice(0, at + 1) : '';
  const rest = at >= 0 ? m[2].slice(at + 1) : m[2];
  const q = rest.indexOf('?');
  const beforeQuery = q >= 0 ? rest.slice(0, q) : rest;
  const query = q >= 0 ? rest.slice(q) : '';
  const slash = beforeQuery.indexOf('/');
  const hostport = slash >= 0 ? beforeQuery.slice(0, slash) : beforeQuery;
  return `${m[1]}${userinfo}${hostport}/${encodeURIComponent(name)}${query}`;
}
