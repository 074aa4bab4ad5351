//! How many connections each instance of an app may open, given what the database accepts.
//!
//! The field notes this project grew from raise pool sizes by hand (20+30, then 30+40; 5, then
//! 10) without knowing what the server can take, and a fleet of K instances multiplies every
//! mistake by K. This module is the arithmetic `poolgate doctor` prints, kept here so the
//! command, the package and the tests all use one formula:
//!
//! ```text
//! usable      = limit - reserved - others            the slots this app's role can have
//! headroom    = max(ceil(usable * margin% / 100), min_headroom)
//!                                                    kept free for psql, migrations, a deploy
//! per_instance = floor((usable - headroom) / instances)
//! ```
//!
//! `limit` is PostgreSQL's `max_connections` (or MySQL's), or a pooler's pool size when the
//! app talks to PgBouncer; `reserved` is what the server keeps for superusers
//! (`superuser_reserved_connections`, plus `reserved_connections` on PostgreSQL 16+). The pg
//! pool's `max` is set equal to `per_instance`, so the driver never queues behind the gate, and
//! its `connectionTimeoutMillis` bounds only the opening of one connection: 5 s, never more than
//! the gate's queue timeout when it has one (node-postgres waits forever by default).
//!
//! Pure and total: every input is a plain integer, and a fleet that cannot fit is an
//! [`SizingError`], not a zero.

use crate::config::{integer_option, ConfigError};
use thiserror::Error;

/// Default share of the usable slots kept free, in percent.
pub const DEFAULT_MARGIN_PERCENT: u32 = 10;
/// Default poolgate `queueTimeoutMs` the advice pairs with (Prisma's `pool_timeout` default).
pub const DEFAULT_QUEUE_TIMEOUT_MS: u32 = 10_000;
/// Longest advised node-postgres `connectionTimeoutMillis`: opening a connection on a healthy
/// server takes milliseconds, so 5 s means the server or the network is in trouble.
pub const MAX_CONNECT_TIMEOUT_MS: u32 = 5_000;

/// What the sizing needs to know.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SizingInput {
    /// The server's `max_connections`, or the pooler's pool size in front of it.
    pub limit: u32,
    /// Slots the app's role cannot use (superuser-reserved ones).
    pub reserved: u32,
    /// Slots to leave to other clients (cron jobs, admin tools, other apps).
    pub others: u32,
    /// App instances sharing the database (K).
    pub instances: u32,
    /// Share of the usable slots kept free, in percent (0 to 100).
    pub margin_percent: u32,
    /// Fewest slots kept free, whatever the percentage gives.
    pub min_headroom: u32,
    /// The gate's queue timeout to pair with, in milliseconds (0: fail at once).
    pub queue_timeout_ms: u32,
}

impl Default for SizingInput {
    fn default() -> Self {
        SizingInput {
            limit: 100,
            reserved: 3,
            others: 0,
            instances: 1,
            margin_percent: DEFAULT_MARGIN_PERCENT,
            min_headroom: 1,
            queue_timeout_ms: DEFAULT_QUEUE_TIMEOUT_MS,
        }
    }
}

/// The advice for each instance and the figures it came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Sizing {
    /// Slots the app's role can have: `limit - reserved - others`.
    pub usable: u32,
    /// Slots kept free.
    pub headroom: u32,
    /// `maxConnections` for each instance's gate.
    pub per_instance: u32,
    /// What the whole fleet may hold: `per_instance * instances` (at most `usable - headroom`).
    pub fleet_total: u32,
    /// node-postgres pool `max` (or `@prisma/adapter-pg`'s `max`) to pair with the gate.
    pub pg_pool_max: u32,
    /// node-postgres `connectionTimeoutMillis` to pair with the gate.
    pub connect_timeout_ms: u32,
    /// poolgate `queueTimeoutMs` the advice assumes.
    pub queue_timeout_ms: u32,
}

/// Why no size fits.
#[derive(Clone, Copy, Debug, Error, PartialEq, Eq)]
pub enum SizingError {
    /// `instances` was zero.
    #[error("instances must be at least 1")]
    NoInstances,
    /// `margin_percent` was above 100.
    #[error("margin must be a percentage from 0 to 100, got {0}")]
    BadMargin(u32),
    /// Reserved and other slots take everything the server allows.
    #[error("no slot is left for the app: limit {limit}, reserved {reserved}, others {others}")]
    NoSlots {
        /// The limit given.
        limit: u32,
        /// The reserved slots given.
        reserved: u32,
        /// The slots left to others.
        others: u32,
    },
    /// Fewer slots remain after the headroom than there are instances.
    #[error("{instances} instances cannot each have a connection: only {budget} slots remain after the headroom")]
    TooManyInstances {
        /// The instances given.
        instances: u32,
        /// Slots for the fleet after the headroom.
        budget: u32,
    },
}

/// Computes the per-instance advice; see the module docs for the formula.
pub fn size_fleet(input: SizingInput) -> Result<Sizing, SizingError> {
    if input.instances == 0 {
        return Err(SizingError::NoInstances);
    }
    if input.margin_percent > 100 {
        return Err(SizingError::BadMargin(input.margin_percent));
    }
    let usable = input
        .limit
        .saturating_sub(input.reserved)
        .saturating_sub(input.others);
    if usable == 0 {
        return Err(SizingError::NoSlots {
            limit: input.limit,
            reserved: input.reserved,
            others: input.others,
        });
    }
    // ceil(usable * margin / 100) in u64: no overflow for any u32 inputs.
    let by_margin = (u64::from(usable) * u64::from(input.margin_percent)).div_ceil(100) as u32;
    let headroom = by_margin.max(input.min_headroom).min(usable);
    let budget = usable - headroom;
    let per_instance = budget / input.instances;
    if per_instance == 0 {
        return Err(SizingError::TooManyInstances {
            instances: input.instances,
            budget,
        });
    }
    Ok(Sizing {
        usable,
        headroom,
        per_instance,
        fleet_total: per_instance * input.instances,
        pg_pool_max: per_instance,
        connect_timeout_ms: match input.queue_timeout_ms {
            0 => MAX_CONNECT_TIMEOUT_MS,
            q => q.min(MAX_CONNECT_TIMEOUT_MS),
        },
        queue_timeout_ms: input.queue_timeout_ms,
    })
}

/// Largest accepted count of connections, instances or milliseconds in a [`RawSizing`].
pub const SIZING_INPUT_LIMIT: u32 = 1_000_000_000;

/// [`SizingInput`] as a JavaScript caller gives it: `None` for an option left out.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct RawSizing {
    /// `limit`: the server's `max_connections` or the pooler's pool size (required).
    pub limit: f64,
    /// `reserved` (default 3, PostgreSQL's `superuser_reserved_connections`).
    pub reserved: Option<f64>,
    /// `others` (default 0).
    pub others: Option<f64>,
    /// `instances` (default 1).
    pub instances: Option<f64>,
    /// `marginPercent` (default [`DEFAULT_MARGIN_PERCENT`]).
    pub margin_percent: Option<f64>,
    /// `minHeadroom` (default 1).
    pub min_headroom: Option<f64>,
    /// `queueTimeoutMs` (default [`DEFAULT_QUEUE_TIMEOUT_MS`]).
    pub queue_timeout_ms: Option<f64>,
}

impl RawSizing {
    /// Checks every option (integers in range, named as the user spells them) and fills in
    /// the defaults.
    pub fn validate(&self) -> Result<SizingInput, ConfigError> {
        let d = SizingInput::default();
        let int = |name, v: Option<f64>, min, default| match v {
            Some(v) => integer_option(name, v, min, SIZING_INPUT_LIMIT),
            None => Ok(default),
        };
        Ok(SizingInput {
            limit: integer_option("limit", self.limit, 1, SIZING_INPUT_LIMIT)?,
            reserved: int("reserved", self.reserved, 0, d.reserved)?,
            others: int("others", self.others, 0, d.others)?,
            instances: int("instances", self.instances, 1, d.instances)?,
            margin_percent: match self.margin_percent {
                Some(v) => integer_option("marginPercent", v, 0, 100)?,
                None => d.margin_percent,
            },
            min_headroom: int("minHeadroom", self.min_headroom, 0, d.min_headroom)?,
            queue_timeout_ms: int(
                "queueTimeoutMs",
                self.queue_timeout_ms,
                0,
                d.queue_timeout_ms,
            )?,
        })
    }
}
