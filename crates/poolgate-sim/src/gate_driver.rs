//! Every call into poolgate-core, in one place. The rest of the simulator speaks only this
//! module's small vocabulary (tickets as `u64`, times as microseconds), so a change of the
//! core's API is adapted here and nowhere else.
//!
//! The driving contract is the core's own: after each call that takes `now`, drain the events,
//! then re-arm the single timer at [`GateDriver::next_deadline`]. Retries are the core's: a
//! refused connection is released with its error class, and the core either backs the same
//! ticket off (it comes back as [`Happened::Granted`], or times out) or gives up.

use poolgate_core::{
    Config, Duration, ErrorClass, Event, Gate, Instant, Outcome, Rejected, Released, Request,
    RetryPolicy, RetryPolicyId, Submitted, Ticket,
};

/// A ticket, as the core packs it ([`Ticket::to_bits`]).
pub type Tk = u64;

/// The gate's options, in the simulator's units.
#[derive(Clone, Copy, Debug)]
pub struct GateOptions {
    /// `maxConnections`.
    pub max_connections: u32,
    /// `maxQueue`.
    pub max_queue: u32,
    /// `queueTimeoutMs`; `None` waits forever.
    pub queue_timeout_ms: Option<f64>,
    /// `maxRetries` of connection failures that never reached the server.
    pub max_retries: u32,
    /// The retry back-off's base delay.
    pub retry_delay_ms: f64,
}

/// What a submission became.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Admit {
    /// Holding a slot now.
    Now(Tk),
    /// Queued; [`Happened::Granted`] or [`Happened::QueueTimeout`] will follow.
    Later(Tk),
    /// Refused: the queue is full.
    QueueFull,
    /// Refused: no slot and no time to wait.
    NoWait,
}

/// An event from the gate.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Happened {
    /// The ticket now holds a slot (after queueing, or after a retry's back-off).
    Granted(Tk),
    /// The ticket waited past `queueTimeoutMs`.
    QueueTimeout(Tk),
}

/// After a failed attempt.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AfterFailure {
    /// Backing off under this ticket; [`Happened::Granted`] or a timeout follows.
    Retry(Tk),
    /// No further attempt.
    GaveUp,
}

/// One instance's gate.
#[derive(Debug)]
pub struct GateDriver {
    gate: Gate,
    retry: RetryPolicyId,
}

fn at(us: u64) -> Instant {
    Instant::from_micros(us)
}

impl GateDriver {
    /// A gate with these options; refused (with the core's message) if the core refuses them.
    pub fn new(o: GateOptions) -> Result<GateDriver, String> {
        let config = Config::default()
            .with_max_connections(f64::from(o.max_connections.max(1)))
            .and_then(|c| c.with_max_queue(o.max_queue))
            .map_err(|e| e.to_string())?
            .with_queue_timeout(o.queue_timeout_ms.map(Duration::from_millis_f64));
        let mut gate = Gate::new(config);
        let retry = gate
            .register_retry_policy(RetryPolicy {
                max_retries: o.max_retries,
                delay: Duration::from_millis_f64(o.retry_delay_ms),
                ..RetryPolicy::default()
            })
            .map_err(|e| e.to_string())?;
        Ok(GateDriver { gate, retry })
    }

    /// Asks for a slot at `now`.
    pub fn submit(&mut self, now: u64) -> Admit {
        let request = Request {
            retry: Some(self.retry),
            ..Request::default()
        };
        match self.gate.submit(at(now), request) {
            Ok(Submitted::Granted(t) | Submitted::GrantedNoDeadline(t)) => Admit::Now(t.to_bits()),
            Ok(Submitted::Queued(t)) => Admit::Later(t.to_bits()),
            Err(Rejected::QueueFull { .. }) => Admit::QueueFull,
            Err(_) => Admit::NoWait,
        }
    }

    /// The operation holding `tk` succeeded.
    pub fn succeeded(&mut self, now: u64, tk: Tk) {
        // A ticket this module handed out and that still holds its slot: the core accepts it.
        let _ = self
            .gate
            .release_with(at(now), Ticket::from_bits(tk), Outcome::Ok, 0.0);
    }

    /// The operation holding `tk` failed for a reason that is not retried (the client pool's
    /// own timeout): give the slot back.
    pub fn gave_up(&mut self, now: u64, tk: Tk) {
        let failed = Outcome::Failed(ErrorClass::Permanent);
        let _ = self
            .gate
            .release_with(at(now), Ticket::from_bits(tk), failed, 0.0);
    }

    /// The operation holding `tk` could not get a server connection ("too many connections",
    /// which never reached the server): the core frees the slot and decides on a retry.
    /// `random` is in `[0, 1)`.
    pub fn connection_refused(&mut self, now: u64, tk: Tk, random: f64) -> AfterFailure {
        let refused = Outcome::Failed(ErrorClass::TooManyConnections);
        match self
            .gate
            .release_with(at(now), Ticket::from_bits(tk), refused, random)
        {
            Ok(Released::Retrying { .. }) => AfterFailure::Retry(tk),
            _ => AfterFailure::GaveUp,
        }
    }

    /// The next event, oldest first.
    pub fn next_event(&mut self) -> Option<Happened> {
        loop {
            return match self.gate.poll_event()? {
                Event::Granted(t) => Some(Happened::Granted(t.to_bits())),
                Event::QueueTimeout { ticket, .. } => {
                    Some(Happened::QueueTimeout(ticket.to_bits()))
                }
                // No operation timeout and no close() in a simulation.
                Event::OperationTimeout(_) | Event::Closed(_) => continue,
            };
        }
    }

    /// When the single timer must fire, in microseconds.
    pub fn next_deadline(&mut self) -> Option<u64> {
        self.gate.poll_timeout().map(Instant::as_micros)
    }

    /// The timer fired.
    pub fn fire(&mut self, now: u64) {
        self.gate.handle_timeout(at(now));
    }

    /// Slots held now.
    pub fn active(&self) -> u32 {
        self.gate.stats().active_connections
    }

    /// Waiters queued now (retries back from their back-off included).
    pub fn queued(&self) -> u32 {
        self.gate.stats().queued_connections
    }

    /// The core's own consistency check.
    pub fn check_invariants(&self) -> Result<(), String> {
        self.gate.check_invariants()
    }
}
