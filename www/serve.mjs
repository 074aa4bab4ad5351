// A tiny static file server for the poolgate browser page, with no dependencies.
// Serves the repository root (the parent of www/) on 127.0.0.1; refuses any path that resolves
// outside it, symlinks included. Usually started by scripts/serve-www.
//
//   PORT=8080 node www/serve.mjs

import { createServer } from 'node:http';
import { createReadStream } from 'node:fs';
import { realpath, stat } from 'node:fs/promises';
import { dirname, extname, join, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

const HOST = '127.0.0.1';
const PORT = Number(process.env.PORT ?? 8080);
if (!Number.isInteger(PORT) || PORT < 0 || PORT > 65535) {
  console.error(`serve.mjs: bad PORT: ${process.env.PORT}`);
  process.exit(2);
}

const ROOT = await realpath(resolve(dirname(fileURLToPath(import.meta.url)), '..'));

const MIME = {
  '.html': 'text/html; charset=utf-8',
  '.htm': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.cjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
  '.wasm': 'application/wasm',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.jpg': 'image/jpeg',
  '.jpeg': 'image/jpeg',
  '.gif': 'image/gif',
  '.ico': 'image/x-icon',
  '.txt': 'text/plain; charset=utf-8',
  '.md': 'text/plain; charset=utf-8',
  '.ts': 'text/plain; charset=utf-8',
};

/** True if `p` is ROOT itself or lies inside it. */
function inside(p) {
  return p === ROOT || p.startsWith(ROOT + sep);
}

function send(res, status, message, headers = {}) {
  res.writeHead(status, { 'Content-Type': 'text/plain; charset=utf-8', ...headers });
  res.end(`${status} ${message}\n`);
}

async function handle(req, res) {
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    return send(res, 405, 'Method Not Allowed', { Allow: 'GET, HEAD' });
  }
  let pathname;
  try {
    pathname = decodeURIComponent(new URL(req.url, 'http://localhost').pathname);
  } catch {
    return send(res, 400, 'Bad Request');
  }
  if (pathname.includes('\0')) return send(res, 400, 'Bad Request');

  // Resolve against ROOT, then check both the lexical path and the real one (symlinks).
  let file = resolve(ROOT, '.' + pathname);
  if (!inside(file)) return send(res, 403, 'Forbidden');
  let info;
  try {
    file = await realpath(file);
    if (!inside(file)) return send(res, 403, 'Forbidden');
    info = await stat(file);
    if (info.isDirectory()) {
      if (!pathname.endsWith('/')) {
        const url = new URL(req.url, 'http://localhost');
        return send(res, 301, 'Moved Permanently', { Location: url.pathname + '/' + url.search });
      }
      file = await realpath(join(file, 'index.html'));
      if (!inside(file)) return send(res, 403, 'Forbidden');
      info = await stat(file);
    }
    if (!info.isFile()) return send(res, 404, 'Not Found');
  } catch {
    return send(res, 404, 'Not Found');
  }

  res.writeHead(200, {
    'Content-Type': MIME[extname(file).toLowerCase()] ?? 'application/octet-stream',
    'Content-Length': info.size,
    'Cache-Control': 'no-store',
    'X-Content-Type-Options': 'nosniff',
  });
  if (req.method === 'HEAD') return res.end();
  createReadStream(file)
    .on('error', () => res.destroy())
    .pipe(res);
}

const server = createServer((req, res) => {
  handle(req, res).catch((e) => {
    console.error(e);
    if (!res.headersSent) send(res, 500, 'Internal Server Error');
    else res.destroy();
  });
});

server.on('error', (e) => {
  console.error(`serve.mjs: ${e.message}`);
  process.exit(1);
});

server.listen(PORT, HOST, () => {
  const { port } = server.address();
  console.log(`serving ${ROOT} at http://${HOST}:${port}/`);
  console.log(`http://${HOST}:${port}/www/`);
});

for (const sig of ['SIGINT', 'SIGTERM']) {
  process.on(sig, () => {
    server.close();
    process.exit(0);
  });
}
