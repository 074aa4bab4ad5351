// Nothing is left behind: a process whose pool went idle exits by itself, although calls used
// 60 s timeouts, signals, and retry back-offs of 60 s ended by an abort. Bounded: the child is killed after 20 s if it hangs.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const child = fileURLToPath(new URL('./fixtures/idle-exit.mjs', import.meta.url));

test('an idle pool leaves no timer or listener behind, so the process exits', () => {
  const r = spawnSync(process.execPath, [child], { encoding: 'utf8', timeout: 20_000 });
  assert.equal(r.signal, null, `child hung and was killed; stderr: ${r.stderr}`);
  assert.equal(r.status, 0, r.stderr);
  const report = JSON.parse(r.stdout.trim().split('\n').pop());
  assert.equal(report.listenersLeft, 0);
  assert.deepEqual(report.stats, {
    activeConnections: 0,
    maxConnections: 4,
    queuedConnections: 0,
    availableConnections: 4,
  });
  assert.equal(report.sleepingBeforeAbort, 500, 'every retrying call was asleep in its back-off');
  assert.deepEqual(report.outcomes, { fulfilled: 1000, Error: 500, AbortError: 500 });
  assert.equal(report.sleepingLeft, 0);
});
