// A minimal HTTP endpoint speaking Upstash's REST protocol, in front of a real Redis, for the
// tests of the Upstash store adapter (no open-source Upstash-compatible server installs from
// npm, Debian or PyPI here). What @upstash/redis uses: POST / with a JSON array command,
// `Authorization: Bearer TOKEN`, answer `{ result }` or `{ error }` (HTTP 400), strings
// base64-encoded when the request has `Upstash-Encoding: base64`. POST /pipeline takes an
// array of commands. Listens on 127.0.0.1 only.

import http from 'node:http';
import { createClient } from 'redis';

function encode(v, b64) {
  if (!b64) return v;
  if (typeof v === 'string') return Buffer.from(v).toString('base64');
  if (Array.isArray(v)) return v.map((x) => encode(x, b64));
  return v;
}

/** Starts the endpoint; resolves to `{ url, token, close() }`. */
export async function startUpstashRest({ redisUrl, token = 'test-token', port = 0 }) {
  const redis = createClient({ url: redisUrl, socket: { reconnectStrategy: 100 } });
  redis.on('error', () => {});
  await redis.connect();
  const run = async (cmd) => {
    try {
      return { result: await redis.sendCommand(cmd.map(String)) };
    } catch (e) {
      return { error: String(e.message ?? e) };
    }
  };
  const server = http.createServer(async (req, res) => {
    const send = (status, body) => {
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(body));
    };
    if (req.method !== 'POST') return send(405, { error: 'POST only' });
    if (req.headers.authorization !== `Bearer ${token}`)
      return send(401, { error: 'Unauthorized' });
    let raw = '';
    for await (const chunk of req) raw += chunk;
    let body;
    try {
      body = JSON.parse(raw);
    } catch {
      return send(400, { error: 'ERR body is not JSON' });
    }
    const b64 = String(req.headers['upstash-encoding'] ?? '').toLowerCase() === 'base64';
    const path = new URL(req.url, 'http://x').pathname;
    if (path === '/pipeline' || path === '/multi-exec') {
      const out = [];
      for (const cmd of body) {
        const r = await run(cmd);
        out.push(r.error ? r : { result: encode(r.result, b64) });
      }
      return send(200, out);
    }
    if (!Array.isArray(body)) return send(400, { error: 'ERR command must be a JSON array' });
    const r = await run(body);
    if (r.error) return send(400, r);
    return send(200, { result: encode(r.result, b64) });
  });
  await new Promise((resolve) => server.listen(port, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${server.address().port}`;
  return {
    url,
    token,
    async close() {
      await new Promise((resolve) => server.close(resolve));
      await redis.quit().catch(() => {});
    },
  };
}
