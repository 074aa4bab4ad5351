// Types of `poolgate/otel`: a pool's metrics as OpenTelemetry instruments.
import type { Meter } from '@opentelemetry/api';
import type { ConnectionPool } from './index.js';

export interface InstrumentPoolOptions {
  /** `db.client.connection.pool.name` on every instrument. Default `'poolgate'`. */
  poolName?: string;
  /** The meter to create the instruments on. Default `metrics.getMeter('poolgate')`. */
  meter?: Meter;
}

/** Bucket boundaries (seconds) of the wait and use time histograms. */
export declare const TIME_BUCKETS_S: readonly number[];

/**
 * Reports `pool` per the semantic conventions for database client connection pools:
 * `db.client.connection.count` (`db.client.connection.state` = `used` / `idle`), `.max`,
 * `.pending_requests`, `.timeouts`, and the histograms `.wait_time` and `.use_time` (seconds).
 * `stop()` removes the callbacks and the pool listener.
 */
export declare function instrumentPool(
  pool: ConnectionPool,
  options?: InstrumentPoolOptions,
): { stop(): void };
