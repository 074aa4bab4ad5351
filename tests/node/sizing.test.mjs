// sizeFleet: the core's fleet sizing, as poolgate doctor prints it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { sizeFleet } from 'poolgate';

test('the test server (max_connections 20) for 1 and 4 instances', () => {
  assert.deepEqual(sizeFleet({ limit: 20 }), {
    usable: 17,
    headroom: 2,
    perInstance: 15,
    fleetTotal: 15,
    pgPoolMax: 15,
    connectTimeoutMs: 5000,
    queueTimeoutMs: 10000,
  });
  assert.equal(sizeFleet({ limit: 20, instances: 4 }).perInstance, 3);
  assert.equal(
    sizeFleet({ limit: 10, reserved: 0, marginPercent: 0, minHeadroom: 0, instances: 3 })
      .perInstance,
    3,
  );
  assert.equal(sizeFleet({ limit: 20, queueTimeoutMs: 2000 }).connectTimeoutMs, 2000);
});

test('bad options are TypeErrors and RangeErrors naming the option', () => {
  assert.throws(() => sizeFleet(), {
    name: 'TypeError',
    message: 'sizeFleet needs an options object with limit',
  });
  assert.throws(() => sizeFleet({ limit: '20' }), {
    name: 'TypeError',
    message: 'limit must be a number, got the string "20"',
  });
  assert.throws(() => sizeFleet({ limit: 20, instance: 2 }), {
    name: 'TypeError',
    message: /unknown option "instance"/,
  });
  assert.throws(() => sizeFleet({ limit: 20, instances: 2.5 }), {
    name: 'RangeError',
    message: 'instances must be an integer from 1 to 1000000000, got 2.5',
  });
  assert.throws(() => sizeFleet({ limit: 20, instances: 16 }), {
    name: 'RangeError',
    message: '16 instances cannot each have a connection: only 15 slots remain after the headroom',
  });
  assert.throws(() => sizeFleet({ limit: 3 }), {
    name: 'RangeError',
    message: 'no slot is left for the app: limit 3, reserved 3, others 0',
  });
});
