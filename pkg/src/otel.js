// `poolgate/otel`: a pool's metrics as OpenTelemetry instruments, named and shaped by the
// semantic conventions for database client connection pools. A separate entry, so the main
// one stays free of dependencies (on Edge too); `@opentelemetry/api` is an optional peer
// dependency that only this entry imports.
//
// The gate's slots stand for connections: `used` is activeConnections (zombies included: their
// queries still hold a connection), `idle` is availableConnections. Gauges and counters are
// read from getPoolStats() / getMetrics() when the SDK collects; the two histograms record each
// settled operation from the pool's 'release' event.

import { metrics, ValueType } from '@opentelemetry/api';

/** Bucket boundaries in seconds for wait and use times: 1 ms to 10 s. */
export const TIME_BUCKETS_S = [
  0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10,
];
const OPTIONS = ['poolName', 'meter'];
const DEFAULT_POOL_NAME = 'poolgate';

function describe(v) {
  if (v === null) return 'null';
  if (typeof v === 'object') return Array.isArray(v) ? 'an array' : 'an object';
  return `${typeof v} ${String(v)}`;
}

/**
 * Reports `pool` through OpenTelemetry: `db.client.connection.count` (state used / idle),
 * `.max`, `.pending_requests`, `.timeouts`, `.wait_time` and `.use_time` (histograms in
 * seconds), each with `db.client.connection.pool.name`. Returns `{ stop() }`, which removes the
 * callbacks and the listener.
 *
 * @param {import('poolgate').ConnectionPool} pool
 * @param {{ poolName?: string, meter?: import('@opentelemetry/api').Meter }} [options]
 */
export function instrumentPool(pool, options = {}) {
  if (
    pool === null ||
    typeof pool !== 'object' ||
    typeof pool.getPoolStats !== 'function' ||
    typeof pool.on !== 'function'
  ) {
    throw new TypeError(`instrumentPool needs a ConnectionPool, got ${describe(pool)}`);
  }
  if (options === null || typeof options !== 'object') {
    throw new TypeError(`instrumentPool options must be an object, got ${describe(options)}`);
  }
  for (const key of Object.keys(options)) {
    if (!OPTIONS.includes(key)) {
      throw new TypeError(
        `instrumentPool: unknown option ${JSON.stringify(key)}; expected one of ${OPTIONS.join(', ')}`,
      );
    }
  }
  const poolName = options.poolName ?? DEFAULT_POOL_NAME;
  if (typeof poolName !== 'string' || poolName === '') {
    throw new TypeError(`poolName must be a non-empty string, got ${describe(poolName)}`);
  }
  const meter = options.meter ?? metrics.getMeter('poolgate');
  if (typeof meter?.createObservableUpDownCounter !== 'function') {
    throw new TypeError(`meter must be an OpenTelemetry Meter, got ${describe(meter)}`);
  }

  const attrs = { 'db.client.connection.pool.name': poolName };
  const used = { ...attrs, 'db.client.connection.state': 'used' };
  const idle = { ...attrs, 'db.client.connection.state': 'idle' };
  const int = { valueType: ValueType.INT };

  const count = meter.createObservableUpDownCounter('db.client.connection.count', {
    ...int,
    unit: '{connection}',
    description:
      'The number of connections that are currently in the state described by the state attribute.',
  });
  const max = meter.createObservableUpDownCounter('db.client.connection.max', {
    ...int,
    unit: '{connection}',
    description: 'The maximum number of open connections allowed.',
  });
  const pending = meter.createObservableUpDownCounter('db.client.connection.pending_requests', {
    ...int,
    unit: '{request}',
    description: 'The number of current pending requests for an open connection.',
  });
  const timeouts = meter.createObservableCounter('db.client.connection.timeouts', {
    ...int,
    unit: '{timeout}',
    description:
      'The number of connection timeouts that have occurred trying to obtain a connection from the pool.',
  });
  const observables = [count, max, pending, timeouts];
  const collect = (result) => {
    const s = pool.getPoolStats();
    result.observe(count, s.activeConnections, used);
    result.observe(count, s.availableConnections, idle);
    result.observe(max, s.maxConnections, attrs);
    result.observe(pending, s.queuedConnections, attrs);
    result.observe(timeouts, pool.getMetrics().queueTimeouts, attrs);
  };
  meter.addBatchObservableCallback(collect, observables);

  const advice = { explicitBucketBoundaries: TIME_BUCKETS_S };
  const waitTime = meter.createHistogram('db.client.connection.wait_time', {
    unit: 's',
    description: 'The time it took to obtain an open connection from the pool.',
    advice,
  });
  const useTime = meter.createHistogram('db.client.connection.use_time', {
    unit: 's',
    description: 'The time between borrowing a connection and returning it to the pool.',
    advice,
  });
  const onRelease = ({ waitMs, holdMs }) => {
    waitTime.record(waitMs / 1000, attrs);
    useTime.record(holdMs / 1000, attrs);
  };
  pool.on('release', onRelease);

  let stopped = false;
  return {
    /** Removes the observable callbacks and the 'release' listener. Idempotent. */
    stop() {
      if (stopped) return;
      stopped = true;
      meter.removeBatchObservableCallback(collect, observables);
      pool.off('release', onRelease);
    },
  };
}
