// Starting and stopping the servers under test (next start, wrangler dev, the static server),
// each in its own process group on 127.0.0.1, with every wait bounded: a test that cannot reach
// its server fails with the server's output instead of hanging.
import { spawn, execFile } from 'node:child_process';
import { createServer } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';

const execFileP = promisify(execFile);

/** Process groups still running; killed when this process exits, even after a test timeout. */
const live = new Set();
process.on('exit', () => {
  for (const pid of live) {
    try {
      process.kill(-pid, 'SIGKILL');
    } catch {}
  }
});

/** A free TCP port on 127.0.0.1 (the kernel picks it). */
export function freePort() {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

/** Runs a command to completion (bounded by `timeoutMs`); rejects with its output on failure. */
export async function run(cmd, args, { cwd, env, timeoutMs = 180_000 } = {}) {
  try {
    return await execFileP(cmd, args, {
      cwd,
      env: { ...process.env, ...env },
      timeout: timeoutMs,
      killSignal: 'SIGKILL',
      maxBuffer: 64 * 1024 * 1024,
    });
  } catch (e) {
    const why = e.killed ? `killed after ${timeoutMs} ms` : `exit ${e.code}`;
    throw new Error(
      `${cmd} ${args.join(' ')} (in ${cwd}): ${why}\n${e.stdout ?? ''}${e.stderr ?? ''}`,
    );
  }
}

/**
 * Starts a long-running server in its own process group. Returns `{ output(), stop() }`; `stop`
 * kills the whole group (SIGTERM, then SIGKILL after 3 s) and is safe to call twice.
 */
export function startServer(cmd, args, { cwd, env } = {}) {
  const child = spawn(cmd, args, {
    cwd,
    env: { ...process.env, ...env },
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let log = '';
  const keep = (chunk) => {
    log = (log + chunk).slice(-20_000);
  };
  child.stdout.on('data', keep);
  child.stderr.on('data', keep);
  live.add(child.pid);
  const exited = new Promise((resolve) =>
    child.on('exit', (code, signal) => {
      live.delete(child.pid);
      resolve({ code, signal });
    }),
  );
  child.on('error', (e) => keep(`\nspawn error: ${e.message}\n`));
  let stopped = false;
  return {
    exited,
    output: () => log,
    async stop() {
      if (stopped || child.exitCode !== null || child.signalCode !== null) return;
      stopped = true;
      const kill = (sig) => {
        try {
          process.kill(-child.pid, sig);
        } catch {}
      };
      kill('SIGTERM');
      const done = await Promise.race([exited.then(() => true), sleep(3000).then(() => false)]);
      if (!done) kill('SIGKILL');
      await Promise.race([exited, sleep(2000)]);
    },
  };
}

/**
 * Fetches `url` until it answers 200 with JSON, for at most `timeoutMs`; gives up at once if the
 * server exits. Returns the parsed body.
 */
export async function fetchJsonWhenUp(server, url, timeoutMs = 60_000) {
  const deadline = Date.now() + timeoutMs;
  let last = 'no answer';
  let exit = null;
  server.exited.then((e) => {
    exit = e;
  });
  while (Date.now() < deadline) {
    if (exit) break;
    try {
      const res = await fetch(url, { signal: AbortSignal.timeout(15_000) });
      const body = await res.text();
      if (res.ok) return JSON.parse(body);
      last = `HTTP ${res.status}: ${body.slice(0, 2000)}`;
      if (res.status !== 503 && res.status !== 404) break;
    } catch (e) {
      last = e.cause?.code ?? e.message;
    }
    await sleep(250);
  }
  const why = exit ? `server exited (${exit.code ?? exit.signal})` : `last: ${last}`;
  throw new Error(
    `${url}: no JSON answer within ${timeoutMs} ms, ${why}\n--- server output ---\n${server.output()}`,
  );
}

/** Waits (at most `timeoutMs`) until `url` answers 200; gives up at once if the server exits. */
export async function waitForHttp(server, url, timeoutMs = 30_000) {
  const deadline = Date.now() + timeoutMs;
  let exit = null;
  server.exited.then((e) => {
    exit = e;
  });
  let last = 'no answer';
  while (Date.now() < deadline && !exit) {
    try {
      const res = await fetch(url, { signal: AbortSignal.timeout(5_000) });
      await res.arrayBuffer();
      if (res.ok) return;
      last = `HTTP ${res.status}`;
    } catch (e) {
      last = e.cause?.code ?? e.message;
    }
    await sleep(200);
  }
  const why = exit ? `server exited (${exit.code ?? exit.signal})` : `last: ${last}`;
  throw new Error(
    `${url}: not up within ${timeoutMs} ms, ${why}\n--- server output ---\n${server.output()}`,
  );
}
