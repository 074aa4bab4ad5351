//! What the gate reports about itself.
//!
//! [`PoolStats`] is exactly the four numbers the old wrapper's `getPoolStats()` returned, so
//! dashboards and health checks built on it keep working. [`Metrics`] is everything else:
//! lifetime totals and latency percentiles.

use crate::time::Duration;

/// The live state of the pool, in the old wrapper's vocabulary.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PoolStats {
    /// Slots held right now, including zombies (operations whose caller gave up but whose
    /// query still holds a database connection).
    pub active_connections: u32,
    /// The current limit.
    pub max_connections: u32,
    /// Waiters in the queue.
    pub queued_connections: u32,
    /// Slots free right now: `max - active`, never negative (after a shrink, active may exceed
    /// max until enough operations finish).
    pub available_connections: u32,
}

/// Durations summarised as percentiles.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Percentiles {
    /// Number of durations recorded.
    pub count: u64,
    /// Median.
    pub p50: Duration,
    /// 95th percentile.
    pub p95: Duration,
    /// 99th percentile.
    pub p99: Duration,
    /// Largest seen.
    pub max: Duration,
}

/// Lifetime totals and current gauges beyond [`PoolStats`].
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Metrics {
    /// Submissions accepted (granted at once or queued).
    pub submitted: u64,
    /// Slots granted.
    pub granted: u64,
    /// Operations that settled successfully.
    pub succeeded: u64,
    /// Operations that settled with an error (including ones whose caller had timed out).
    pub failed: u64,
    /// Submissions refused because the queue was full.
    pub rejected_full: u64,
    /// Waiters rejected because they waited longer than the queue timeout.
    pub queue_timeouts: u64,
    /// Callers told their operation timed out.
    pub operation_timeouts: u64,
    /// Queued waiters, running operations and retry back-offs cancelled by their caller.
    pub aborted: u64,
    /// Waiters and back-offs rejected by `close()`, and submissions refused after it.
    pub rejected_closed: u64,
    /// Retries scheduled.
    pub retries: u64,
    /// Submissions refused by early rejection (`rejectEarly`).
    pub rejected_early: u64,
    /// Operations that failed because the server had no connection left
    /// (`ErrorClass::TooManyConnections`, as the driver classed them).
    pub too_many_connections: u64,
    /// Times the adaptive limit was cut.
    pub limit_cuts: u64,
    /// The limit in force: `maxConnections`, or less while the adaptive limit is cut or a fleet
    /// lease allows fewer slots.
    pub effective_limit: u32,
    /// The wait early rejection would predict for a caller that arrives now and has to queue,
    /// once the gate has enough hold-time samples (whether or not `rejectEarly` is on).
    pub predicted_wait: Option<Duration>,
    /// Zombies right now: slots held by operations whose caller was already rejected.
    pub zombies: u32,
    /// Retry back-offs in progress right now.
    pub sleeping: u32,
    /// Most slots held at once.
    pub peak_active: u32,
    /// Deepest the queue has been.
    pub peak_queued: u32,
    /// Whether `close()` was called.
    pub closed: bool,
    /// Time from submission to grant, for every grant.
    pub wait: Percentiles,
    /// Time from grant to release, for every released slot granted by a timed call (slots taken
    /// by the clock-free `Gate::try_acquire` are not timed).
    pub hold: Percentiles,
}
