// poolgate/otel with the real OpenTelemetry SDK (sdk-metrics and its in-memory exporter): the
// exported instruments' names, units, attributes and values after a known burst.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  AggregationTemporality,
  InMemoryMetricExporter,
  MeterProvider,
  PeriodicExportingMetricReader,
} from '@opentelemetry/sdk-metrics';
import { ConnectionPool, QueueTimeoutError } from 'poolgate';
import { instrumentPool, TIME_BUCKETS_S } from 'poolgate/otel';
import { deferred, tick } from './helpers.mjs';

function sdk() {
  const exporter = new InMemoryMetricExporter(AggregationTemporality.CUMULATIVE);
  // A long interval: the test collects by hand with forceFlush.
  const reader = new PeriodicExportingMetricReader({ exporter, exportIntervalMillis: 3_600_000 });
  const provider = new MeterProvider({ readers: [reader] });
  return {
    meter: provider.getMeter('test'),
    provider,
    /** Collects now; returns { name: metricData } of the latest export. */
    async collect() {
      exporter.reset();
      await reader.forceFlush();
      const [resourceMetrics] = exporter.getMetrics();
      const out = {};
      for (const scope of resourceMetrics.scopeMetrics) {
        for (const m of scope.metrics) out[m.descriptor.name] = m;
      }
      return out;
    },
  };
}

/** `{ attributesAsJson: value }` of a sum metric. */
function points(metric) {
  return Object.fromEntries(metric.dataPoints.map((p) => [JSON.stringify(p.attributes), p.value]));
}

const NAME = { 'db.client.connection.pool.name': 'orders' };
const USED = JSON.stringify({ ...NAME, 'db.client.connection.state': 'used' });
const IDLE = JSON.stringify({ ...NAME, 'db.client.connection.state': 'idle' });
const POOL = JSON.stringify(NAME);

test('semantic-convention instruments: names, units, attributes and values through a burst', async () => {
  const { meter, provider, collect } = sdk();
  const pool = new ConnectionPool({ maxConnections: 2, queueTimeoutMs: 100 });
  const handle = instrumentPool(pool, { poolName: 'orders', meter });

  let m = await collect();
  assert.deepEqual(
    Object.keys(m).sort(),
    [
      'db.client.connection.count',
      'db.client.connection.max',
      'db.client.connection.pending_requests',
      'db.client.connection.timeouts',
    ],
    'histograms appear once something is recorded',
  );
  const units = Object.fromEntries(
    Object.values(m).map((x) => [x.descriptor.name, x.descriptor.unit]),
  );
  assert.deepEqual(units, {
    'db.client.connection.count': '{connection}',
    'db.client.connection.max': '{connection}',
    'db.client.connection.pending_requests': '{request}',
    'db.client.connection.timeouts': '{timeout}',
  });
  assert.deepEqual(points(m['db.client.connection.count']), { [USED]: 0, [IDLE]: 2 });

  // Two operations hold both slots until the test lets them go; three more wait.
  const holds = [deferred(), deferred()];
  const holders = holds.map((d) => pool.run(() => d.promise));
  const waiters = [1, 2, 3].map(() => pool.run(async () => 'never'));
  m = await collect();
  assert.deepEqual(points(m['db.client.connection.count']), { [USED]: 2, [IDLE]: 0 });
  assert.deepEqual(points(m['db.client.connection.max']), { [POOL]: 2 });
  assert.deepEqual(points(m['db.client.connection.pending_requests']), { [POOL]: 3 });
  assert.deepEqual(points(m['db.client.connection.timeouts']), { [POOL]: 0 });

  // The waiters give up after 100 ms: three timeouts, nobody pending.
  for (const w of waiters) await assert.rejects(w, QueueTimeoutError);
  m = await collect();
  assert.deepEqual(points(m['db.client.connection.pending_requests']), { [POOL]: 0 });
  assert.deepEqual(points(m['db.client.connection.timeouts']), { [POOL]: 3 });

  // Let the holders finish, then five quick operations.
  for (const d of holds) d.resolve('done');
  await Promise.all(holders);
  await Promise.all(Array.from({ length: 5 }, () => pool.run(async () => 1)));
  await tick();
  m = await collect();
  assert.deepEqual(points(m['db.client.connection.count']), { [USED]: 0, [IDLE]: 2 });
  for (const name of ['db.client.connection.wait_time', 'db.client.connection.use_time']) {
    const h = m[name];
    assert.equal(h.descriptor.unit, 's', name);
    assert.equal(h.dataPoints.length, 1, name);
    const [p] = h.dataPoints;
    assert.deepEqual(p.attributes, NAME, name);
    // Seven operations obtained a slot (the timed-out waiters never did).
    assert.equal(p.value.count, 7, name);
    assert.deepEqual(p.value.buckets.boundaries, TIME_BUCKETS_S, name);
    assert.equal(
      p.value.buckets.counts.reduce((a, b) => a + b, 0),
      7,
      name,
    );
  }
  // The holders held their slots at least while the waiters timed out (100 ms): in seconds.
  const use = m['db.client.connection.use_time'].dataPoints[0].value;
  assert.ok(use.max >= 0.1 && use.max < 60, `use_time max ${use.max} s`);
  assert.ok(use.sum >= 0.2, `use_time sum ${use.sum} s`);
  const wait = m['db.client.connection.wait_time'].dataPoints[0].value;
  assert.ok(wait.min >= 0 && wait.max < 60, `wait_time in seconds (${wait.min}..${wait.max})`);

  // stop(): no more observations or samples for this pool.
  handle.stop();
  handle.stop();
  await pool.run(async () => 1);
  const held = deferred();
  const running = pool.run(() => held.promise);
  m = await collect();
  // The SDK re-exports the last values it saw (cumulative); they no longer follow the pool.
  assert.equal(pool.getPoolStats().activeConnections, 1);
  assert.deepEqual(
    points(m['db.client.connection.count']),
    { [USED]: 0, [IDLE]: 2 },
    'callback removed',
  );
  assert.equal(m['db.client.connection.use_time'].dataPoints[0].value.count, 7, 'listener removed');
  held.resolve();
  await running;
  await provider.shutdown();
});

test('instrumentPool checks its arguments', () => {
  const { meter } = sdk();
  const pool = new ConnectionPool();
  assert.throws(() => instrumentPool({}), {
    name: 'TypeError',
    message: 'instrumentPool needs a ConnectionPool, got an object',
  });
  assert.throws(() => instrumentPool(pool, { poolname: 'x' }), {
    name: 'TypeError',
    message: 'instrumentPool: unknown option "poolname"; expected one of poolName, meter',
  });
  assert.throws(
    () => instrumentPool(pool, { poolName: '' }),
    /poolName must be a non-empty string/,
  );
  assert.throws(() => instrumentPool(pool, { meter: {} }), /meter must be an OpenTelemetry Meter/);
  // The pool is unaffected and can still be instrumented.
  instrumentPool(pool, { meter }).stop();
});
