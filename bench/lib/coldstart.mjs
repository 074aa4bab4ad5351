// Cold start of poolgate: times a fresh `node scenarios/coldstart-poolgate.mjs` (import, create a
// pool, one operation) against `node scenarios/coldstart-bare.mjs` (one operation, no import),
// alternating the two for `runs` runs each; reports the medians and their difference in ms.

import { spawnSync } from 'node:child_process';
import { median } from './stats.mjs';

function timeRun(script) {
  const t0 = process.hrtime.bigint();
  const r = spawnSync(process.execPath, [script], { stdio: ['ignore', 'ignore', 'pipe'] });
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  if (r.status !== 0) throw new Error(`${script} exited ${r.status}: ${String(r.stderr).trim()}`);
  return ms;
}

export function measureColdStart(bareScript, poolgateScript, runs) {
  const bare = [];
  const withPoolgate = [];
  timeRun(bareScript);
  timeRun(poolgateScript);
  for (let i = 0; i < runs; i++) {
    bare.push(timeRun(bareScript));
    withPoolgate.push(timeRun(poolgateScript));
  }
  return {
    runs,
    bareMs: median(bare),
    poolgateMs: median(withPoolgate),
    addedMs: median(withPoolgate) - median(bare),
  };
}
