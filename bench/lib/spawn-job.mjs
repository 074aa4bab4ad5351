// Runs one measurement in a fresh Node process (child_process.spawn) and returns the JSON line
// the worker printed, or a { status: 'error' } record when it crashed, printed nothing or timed out.

import { spawn } from 'node:child_process';

export function spawnJob(scriptPath, nodeFlags, params, timeoutMs) {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [...nodeFlags, scriptPath, JSON.stringify(params)], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    let timedOut = false;
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, timeoutMs);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      const line = stdout
        .trim()
        .split('\n')
        .reverse()
        .find((l) => l.startsWith('{'));
      if (timedOut)
        return resolve({ ok: false, status: 'error', message: `timed out after ${timeoutMs} ms` });
      if (!line) {
        const why = stderr.trim().split('\n').slice(-3).join(' | ');
        return resolve({
          ok: false,
          status: 'error',
          message: `exit ${code ?? signal}, no result: ${why}`,
        });
      }
      try {
        resolve(JSON.parse(line));
      } catch (err) {
        resolve({ ok: false, status: 'error', message: `bad JSON from worker: ${err.message}` });
      }
    });
  });
}
