// Runs tests/leak/leak.mjs (100,000 mixed operations on the built package) in a child process
// with --expose-gc, and checks that it passes its own checks (listeners, idle stats, heap) and
// that it exits by itself, with code 0, before the timeout: no timer or handle is left behind.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const SCRIPT = fileURLToPath(new URL('../leak/leak.mjs', import.meta.url));
const TIMEOUT_MS = 90_000;

test('100,000 mixed operations leave no listener, zombie, sleeper, heap growth or handle', async (t) => {
  const child = spawn(process.execPath, ['--expose-gc', SCRIPT], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d) => (stdout += d));
  child.stderr.on('data', (d) => (stderr += d));
  let killed = false;
  const timer = setTimeout(() => {
    killed = true;
    child.kill('SIGKILL');
  }, TIMEOUT_MS);
  const [code, signal] = await new Promise((resolve) => {
    child.on('close', (c, s) => resolve([c, s]));
  });
  clearTimeout(timer);
  t.diagnostic(stderr.trim().split('\n').join(' / '));
  assert.equal(killed, false, `leak.mjs did not exit by itself within ${TIMEOUT_MS} ms`);
  assert.equal(signal, null, `leak.mjs was killed by ${signal}`);
  const last = stdout.trim().split('\n').pop() ?? '';
  let summary;
  assert.doesNotThrow(() => {
    summary = JSON.parse(last);
  }, `no JSON summary from leak.mjs: ${stdout}\n${stderr}`);
  t.diagnostic(
    `heap ${summary.heapUsedBefore} -> ${summary.heapUsedAfter} (${summary.heapGrowthPct}%), ` +
      `outcomes ${JSON.stringify(summary.counts)}`,
  );
  assert.deepEqual(summary.failures, []);
  assert.equal(code, 0, `leak.mjs exited with ${code}:\n${stderr}`);
  assert.equal(summary.operations, 100_000);
  assert.deepEqual(summary.listeners, [0, 0, 0]);
  assert.equal(summary.metrics.zombies, 0);
  assert.equal(summary.metrics.sleeping, 0);
  assert.ok(summary.heapGrowthPct <= 10, `heap grew ${summary.heapGrowthPct}%`);
});
