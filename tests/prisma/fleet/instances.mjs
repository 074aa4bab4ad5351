// Starts app instances (worker.mjs, one Node process each) and collects what they print.

import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const WORKER = fileURLToPath(new URL('./worker.mjs', import.meta.url));
const CWD = fileURLToPath(new URL('..', import.meta.url));

/**
 * Spawns one instance. Resolves `done` with its final report (or `{ killed }` / `{ exit }` when
 * it printed none). `last` is its latest state line.
 */
export function startInstance(name, env) {
  const proc = spawn(process.execPath, ['--import', 'tsx', WORKER], {
    cwd: CWD,
    env: { ...process.env, NAME: name, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const inst = { name, proc, last: null, report: null, events: [], stderr: '' };
  let buf = '';
  proc.stdout.on('data', (d) => {
    buf += d;
    const lines = buf.split('\n');
    buf = lines.pop();
    for (const line of lines) {
      let o;
      try {
        o = JSON.parse(line);
      } catch {
        continue;
      }
      if (o.type === 'state') inst.last = o;
      else if (o.type === 'done') inst.report = o;
      else inst.events.push(o);
    }
  });
  proc.stderr.on('data', (d) => {
    inst.stderr += d;
  });
  inst.done = new Promise((resolve) => {
    proc.on('exit', (code, signal) => {
      resolve(inst.report ?? { exit: code, killed: signal, stderr: inst.stderr.slice(-2000) });
    });
  });
  return inst;
}
