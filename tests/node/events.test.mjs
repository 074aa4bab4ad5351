// pool.on / pool.off: the 'release' event per settled operation, measured only while listened to.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ConnectionPool } from 'poolgate';
import { deferred, tick } from './helpers.mjs';

test("'release' reports each settled operation: wait, hold and outcome", async () => {
  const pool = new ConnectionPool({ maxConnections: 1 });
  const seen = [];
  const listener = (e) => seen.push(e);
  pool.on('release', listener);
  const first = deferred();
  const a = pool.run(() => first.promise);
  const b = pool.run(async () => {
    throw new Error('boom');
  });
  const c = pool.run(() => 'sync value', { timeoutMs: 1000 });
  await tick();
  assert.equal(seen.length, 0, 'nothing settled yet');
  first.resolve('x');
  assert.equal(await a, 'x');
  await assert.rejects(b, /boom/);
  assert.equal(await c, 'sync value');
  await tick();
  assert.deepEqual(
    seen.map((e) => e.ok),
    [true, false, true],
  );
  for (const e of seen) {
    assert.deepEqual(Object.keys(e).sort(), ['holdMs', 'ok', 'waitMs']);
    assert.ok(e.waitMs >= 0 && e.holdMs >= 0);
  }
  // b and c waited for a's slot.
  assert.ok(seen[1].waitMs >= seen[0].holdMs - 1);
  pool.off('release', listener);
  await pool.run(async () => 1);
  await tick();
  assert.equal(seen.length, 3, 'no event after off()');
});

test('a listener that throws does not break the pool or other listeners', () => {
  // In a child process: the error is reported as an uncaught exception (as EventTarget does),
  // which the test runner would count against this file.
  const script = `
    import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ConnectionPool } from 'poolgate';
    const errors = [];
    process.on('uncaughtException', (e) => errors.push(e.message));
    const pool = new ConnectionPool({ maxConnections: 2 });
    const seen = [];
    pool.on('release', () => { throw new Error('listener bug'); });
    pool.on('release', (e) => seen.push(e.ok));
    const v = await pool.run(async () => 5);
    await new Promise((r) => setTimeout(r, 10));
    console.log(JSON.stringify({ v, seen, errors, active: pool.getPoolStats().activeConnections }));
  `;
  const out = execFileSync(process.execPath, ['--input-type=module', '-e', script], {
    cwd: path.dirname(fileURLToPath(import.meta.url)),
    encoding: 'utf8',
  });
  assert.deepEqual(JSON.parse(out), { v: 5, seen: [true], errors: ['listener bug'], active: 0 });
});

test('on/off check the event name and the listener', () => {
  const pool = new ConnectionPool();
  assert.throws(() => pool.on('relase', () => {}), {
    name: 'TypeError',
    message: 'unknown event "relase"; expected one of release, alert',
  });
  assert.throws(() => pool.on('release', 'nope'), {
    name: 'TypeError',
    message: 'listener must be a function, got the string "nope"',
  });
  assert.throws(() => pool.off(42, () => {}), /unknown event number 42/);
});
