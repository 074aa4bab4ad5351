//! # poolgate-core
//!
//! The decision-making half of poolgate: a gate in front of a database that lets at most
//! `maxConnections` operations run at once, queues the rest in strict arrival order (bounded,
//! with a wait timeout), times out operations without pretending their connection is free,
//! and decides which failures are worth retrying.
//!
//! It is **sans-IO and fully deterministic**: it reads no clock, starts no timer, spawns
//! nothing and allocates only for its own tables. The driver (the JavaScript package, or a test)
//! passes `now` into every call that can change state and acts on what comes back. The same
//! inputs always give the same outputs, so every interleaving of events can be replayed and
//! checked exhaustively.
//!
//! ## Driving the gate
//! After **every** call that takes `now`:
//! 1. drain [`Gate::poll_event`] until it returns `None`, and act on each [`Event`] (start the
//!    granted operation, reject the caller that timed out, ...);
//! 2. read [`Gate::poll_timeout`] and arm a single timer for that instant, replacing any earlier
//!    one (or none, when it returns `None`, so an idle process can exit);
//! 3. when the timer fires, call [`Gate::handle_timeout`] and go back to 1.
//!
//! A spurious or late `handle_timeout` is harmless: deadlines that have not passed are left
//! alone, and waiters whose deadline passed are rejected, never granted.
//!
//! A driver whose clock is costly may first try [`Gate::try_acquire`] for a call with no
//! timeout: it takes no `now`, emits no event and moves no deadline, so steps 1-3 can be
//! skipped. Give such a slot back with [`Gate::try_release`], or [`Gate::release_clock_free`]
//! (then drain and re-arm) when that refuses because someone is waiting.
//!
//! ```
//! use poolgate_core::{Event, Gate, Instant, Duration, RawConfig, Request, Submitted};
//!
//! let config = RawConfig { max_connections: Some(1.0), ..RawConfig::default() }.validate().unwrap();
//! let mut gate = Gate::new(config);
//! let t0 = Instant::from_micros(0);
//!
//! // The first caller gets the slot at once; the second waits.
//! let first = match gate.submit(t0, Request::default()).unwrap() {
//!     Submitted::GrantedNoDeadline(t) => t,
//!     _ => unreachable!(),
//! };
//! let second = gate.submit(t0, Request::default()).unwrap().ticket();
//! assert_eq!(gate.stats().queued_connections, 1);
//!
//! // The first operation settles: its slot goes to the second caller.
//! let t1 = t0.saturating_add(Duration::from_millis(5));
//! gate.release(t1, first, true).unwrap();
//! assert_eq!(gate.poll_event(), Some(Event::Granted(second)));
//! assert_eq!(gate.poll_event(), None);
//!
//! // Nobody waits any more, so there is no deadline to arm a timer for.
//! assert_eq!(gate.poll_timeout(), None);
//! ```

#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod alerts;
pub mod classify;
pub mod config;
mod event;
mod gate;
mod histogram;
pub mod protocol;
pub mod retry;
pub mod sizing;
mod stats;
mod time;
mod timers;
mod waiters;

pub use classify::{classify, ErrorClass};
pub use config::{Config, ConfigError, RawConfig};
pub use event::{Cancelled, Event, Rejected, Released, Submitted, TicketError};
pub use gate::{
    Gate, OperationTimeout, Outcome, Request, RetryPolicyId, MAX_RETRY_POLICIES,
    PREDICTION_MIN_SAMPLES,
};
pub use retry::{GiveUp, RawRetryPolicy, RetryDecision, RetryPolicy};
pub use stats::{Metrics, Percentiles, PoolStats};
pub use time::{Duration, Instant};
pub use waiters::Ticket;
