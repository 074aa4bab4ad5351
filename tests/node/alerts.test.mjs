// The alert feed (pkg/src/alerts.js) over the core's rules, driven by hand: alerts reach the
// listener in order with their figures, options are checked by name.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { initSync } from 'poolgate/bare';
import { AlertFeed, CONNECTION_FAILED, OK } from '../node_modules/poolgate/dist/alerts.js';

// Not a public entry yet (the pool will own the feed): load the wasm the bare entry's way.
initSync(readFileSync(createRequire(import.meta.url).resolve('poolgate/poolgate_bg.wasm')));

function feed(options) {
  let now = 0;
  const seen = [];
  const f = new AlertFeed(
    options,
    (a) => seen.push(a),
    () => now,
  );
  return { f, seen, at: (ms) => (now = ms) };
}

test('saturated is raised after saturatedForMs and cleared below the clear threshold', () => {
  const { f, seen, at } = feed({ saturatedForMs: 100 });
  f.granted(9, 10);
  at(99);
  f.granted(10, 10);
  assert.equal(seen.length, 0);
  at(100);
  f.granted(10, 10);
  assert.equal(seen.length, 1);
  assert.deepEqual(
    { ...seen[0] },
    {
      name: 'saturated',
      state: 'raised',
      at: 100,
      since: 0,
      windowMs: 60000,
      activeConnections: 10,
      maxConnections: 10,
      operations: 0,
      failed: 0,
      disconnects: 0,
      queueTimeouts: 0,
      averageMs: 0,
      errorRate: 0,
    },
  );
  at(150);
  f.released(3, OK, 7, 10);
  at(250);
  f.released(3, OK, 6, 10);
  assert.deepEqual(
    seen.map((a) => [a.name, a.state, a.at]),
    [
      ['saturated', 'raised', 100],
      ['saturated', 'cleared', 250],
    ],
  );
  assert.equal(f.isRaised('saturated'), false);
  f.stop();
});

test('disconnects and queue timeouts', () => {
  const { f, seen, at } = feed({ disconnects: 2, disconnectsClear: 0 });
  at(10);
  f.released(1, CONNECTION_FAILED, 0, 5);
  f.released(1, CONNECTION_FAILED, 0, 5);
  f.queueTimeout();
  assert.deepEqual(
    seen.map((a) => [a.name, a.state, a.disconnects, a.queueTimeouts]),
    [
      ['disconnects', 'raised', 2, 0],
      ['queue-timeouts', 'raised', 2, 1],
    ],
  );
  f.stop();
});

test('options are checked by name', () => {
  assert.throws(() => feed({ saturatedFor: 1 }), {
    name: 'TypeError',
    message: /alerts options: unknown option "saturatedFor"/,
  });
  assert.throws(() => feed({ saturatedForMs: '1' }), {
    name: 'TypeError',
    message: 'saturatedForMs must be a number, got the string "1"',
  });
  assert.throws(() => feed({ errorRate: 2 }), {
    name: 'RangeError',
    message: 'errorRate must be a number from 0 to 1, got 2',
  });
  assert.throws(() => feed({ slowMs: 1000, slowClearMs: 2000 }), {
    name: 'RangeError',
    message: /^slowClearMs must not be above slowMs/,
  });
});
