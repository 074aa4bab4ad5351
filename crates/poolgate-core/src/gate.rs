//! The gate: who holds a slot, who waits, and what happens at each deadline.
//!
//! # Fairness
//! Slots are handed out strictly in arrival order. A submission is granted at once only when a
//! slot is free **and** nobody is waiting; otherwise it joins the back of the queue, so a
//! newcomer never overtakes a waiter (no barging). Whenever a slot frees up, it goes to the
//! oldest waiter before the call returns, so there is never a free slot while someone waits.
//!
//! # Deadlines
//! Every call first advances the gate to `now`: each waiter whose queue deadline has passed is
//! rejected before any slot is handed out, so a waiter is never granted after its deadline, even
//! when the driver's timer fires late. A deadline is set once and never re-armed.
//!
//! # Zombies
//! An operation that outlives its timeout has its caller rejected at the deadline, but its query
//! is still running on a database connection. Its slot therefore stays counted until the driver
//! reports that the operation really settled; until then it is a *zombie*. Freeing the slot at
//! the timeout (what the old wrapper did) lets the database see more connections than the limit;
//! it is available as [`Config::release_on_timeout`], off by default.
//!
//! # Retries
//! A request may carry a retry policy (registered once with [`Gate::register_retry_policy`])
//! and say whether it is idempotent. When such an operation fails, the driver releases it with
//! the error's class ([`Gate::release_with`]); the gate decides ([`RetryPolicy::decide`]):
//! either the caller gets the error, or the ticket sleeps its back-off *without a slot* and
//! then joins the back of the queue like a newcomer, to come back as [`Event::Granted`]. The
//! overall deadline of the policy bounds every wait and attempt. The driver never counts
//! attempts.
//!
//! # Adaptive limit
//! With `adaptive` on, a failure classed [`ErrorClass::TooManyConnections`] (the server or a
//! pooler refused a connection because it is full) halves the effective limit, never below the
//! floor. Operations granted before that cut ran under the old limit: their failures are the
//! same overload and cut nothing more, and their successes say nothing about the new limit.
//! After as many clean operations (granted since the last cut) as the limit, it grows by one,
//! up to `maxConnections`.
//!
//! # Early rejection
//! With `rejectEarly` on, a caller that would have to queue is refused at once
//! ([`Rejected::WouldTimeOut`]) when its predicted wait is longer than it may wait. The
//! prediction is `position * median hold / limit`, from the gate's own hold-time histogram
//! (once it holds [`PREDICTION_MIN_SAMPLES`] samples; before that nobody is refused early).
//!
//! # The clock-free fast path
//! Reading a clock costs a JavaScript driver about 50 ns, more than everything else on an
//! uncontended call. [`Gate::try_acquire`] and [`Gate::try_release`] take no `now`: they act only
//! when time cannot change the outcome (nobody waits, and the grant has no deadline), and
//! otherwise return `false` so the driver falls back to the timed calls. Such a slot is counted
//! like a semaphore permit rather than tracked by ticket; it records a wait of zero and no hold
//! time. Pools with the adaptive limit do not take this path: the limit needs every grant's
//! time.

use crate::classify::ErrorClass;
use crate::config::{Config, ConfigError, RawConfig};
use crate::event::{Cancelled, Event, Rejected, Released, Submitted, TicketError};
use crate::histogram::Histogram;
use crate::retry::{GiveUp, RetryDecision, RetryPolicy};
use crate::stats::{Metrics, Percentiles, PoolStats};
use crate::time::{Duration, Instant};
use crate::timers::{TimerRecord, Timers};
use crate::waiters::{Entry, State, Ticket, Waiters};
use std::collections::VecDeque;

/// How long a granted operation may run.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum OperationTimeout {
    /// The pool's [`Config::operation_timeout`].
    #[default]
    PoolDefault,
    /// No limit for this operation.
    Never,
    /// This long after the grant.
    After(Duration),
}

/// Per-submission options.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Request {
    /// The operation's timeout.
    pub operation_timeout: OperationTimeout,
    /// An overall deadline: the wait ends by then, and so does the caller's wait for the
    /// operation. A retry policy's `deadline` adds its own, counted from the submission; the
    /// earlier one holds.
    pub deadline: Option<Instant>,
    /// Retry failed attempts under this policy (see [`Gate::register_retry_policy`]).
    pub retry: Option<RetryPolicyId>,
    /// The operation may run twice safely (a read): a failure that may have reached the server
    /// is then retried too.
    pub idempotent: bool,
}

/// A retry policy registered with a gate ([`Gate::register_retry_policy`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct RetryPolicyId(u16);

impl RetryPolicyId {
    /// The id as a number for a driver (from 1).
    pub fn to_u16(self) -> u16 {
        self.0
    }

    /// An id from a driver's number. An id that was never registered makes `submit` refuse
    /// nothing and retry nothing: the gate treats it as "no retry".
    pub fn from_u16(v: u16) -> RetryPolicyId {
        RetryPolicyId(v)
    }
}

/// How an operation ended, as the driver reports it on release.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// It succeeded.
    Ok,
    /// It failed with an error of this class.
    Failed(ErrorClass),
}

/// Most distinct retry policies one gate keeps.
pub const MAX_RETRY_POLICIES: usize = 1024;
/// Hold-time samples needed before early rejection predicts anything.
pub const PREDICTION_MIN_SAMPLES: u64 = 20;

/// The pool gate state machine. See the crate docs for how to drive it.
#[derive(Debug)]
pub struct Gate {
    config: Config,
    waiters: Waiters,
    timers: Timers,
    events: VecDeque<Event>,
    /// Slots held, zombies and clock-free grants included.
    active: u32,
    zombies: u32,
    /// Slots held by clock-free grants ([`Gate::try_acquire`]): counted, not tracked.
    clock_free: u32,
    sleeping: u32,
    closed: bool,
    /// Slots this instance may use from a fleet lease (`None`: no fleet limit).
    fleet_limit: Option<u32>,
    now: Instant,
    metrics: Metrics,
    wait: Histogram,
    hold: Histogram,
    /// Registered retry policies; a [`RetryPolicyId`] is an index + 1.
    policies: Vec<RetryPolicy>,
    /// The adaptive limit: `maxConnections`, or less while it is cut (always
    /// `maxConnections` without `adaptive`). The limit in force is [`Gate::limit`].
    adaptive_limit: u32,
    /// Adaptive limit: when it was last cut (failures of operations granted before that are
    /// the same overload), and clean operations since it last changed.
    last_cut: Option<Instant>,
    clean_since_change: u32,
}

impl Gate {
    /// A gate with a configuration (which is valid by construction, see [`Config`]).
    pub fn new(config: Config) -> Gate {
        Gate {
            adaptive_limit: config.max_connections(),
            config,
            waiters: Waiters::default(),
            timers: Timers::default(),
            events: VecDeque::new(),
            active: 0,
            zombies: 0,
            clock_free: 0,
            sleeping: 0,
            closed: false,
            fleet_limit: None,
            now: Instant::ZERO,
            metrics: Metrics::default(),
            wait: Histogram::default(),
            hold: Histogram::default(),
            policies: Vec::new(),
            last_cut: None,
            clean_since_change: 0,
        }
    }

    /// Registers a retry policy for requests to use, and returns its id. Registering an equal
    /// policy again returns the same id. Fails when [`MAX_RETRY_POLICIES`] distinct ones are
    /// registered already.
    pub fn register_retry_policy(
        &mut self,
        policy: RetryPolicy,
    ) -> Result<RetryPolicyId, ConfigError> {
        if let Some(i) = self.policies.iter().position(|p| *p == policy) {
            return Ok(RetryPolicyId(i as u16 + 1));
        }
        if self.policies.len() >= MAX_RETRY_POLICIES {
            return Err(ConfigError::TooManyRetryPolicies {
                max: MAX_RETRY_POLICIES as u32,
            });
        }
        self.policies.push(policy);
        Ok(RetryPolicyId(self.policies.len() as u16))
    }

    fn policy(&self, id: u16) -> Option<&RetryPolicy> {
        (id as usize)
            .checked_sub(1)
            .and_then(|i| self.policies.get(i))
    }

    /// Validates raw options (as JavaScript passes them) and builds a gate.
    pub fn from_raw(raw: &RawConfig) -> Result<Gate, ConfigError> {
        raw.validate().map(Gate::new)
    }

    /// The configuration in force.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// Asks for a slot. Granted at once when one is free and nobody waits; otherwise queued, to
    /// be settled later by an [`Event`]; refused when the queue is full, the pool closed, or
    /// (with `rejectEarly`) the caller would certainly time out in the queue.
    pub fn submit(&mut self, now: Instant, request: Request) -> Result<Submitted, Rejected> {
        let now = self.advance(now);
        if self.closed {
            self.metrics.rejected_closed += 1;
            return Err(Rejected::Closed);
        }
        // An id that was never registered means "no retry" (see `RetryPolicyId::from_u16`).
        let retry = match request.retry {
            Some(id) if self.policy(id.0).is_some() => id.0,
            _ => 0,
        };
        let budget = self
            .policy(retry)
            .and_then(|p| p.deadline)
            .map_or(Instant::NEVER, |d| now.saturating_add(d));
        let overall = request.deadline.unwrap_or(Instant::NEVER).min(budget);
        let op_timeout = match request.operation_timeout {
            OperationTimeout::PoolDefault => self.config.operation_timeout(),
            OperationTimeout::Never => None,
            OperationTimeout::After(d) => Some(d),
        };
        let alloc = |gate: &mut Gate, state| {
            let ticket = gate.alloc(state, now, op_timeout, overall)?;
            if let Some(e) = gate.waiters.get_mut(ticket) {
                e.retry_policy = retry;
                e.idempotent = request.idempotent;
            }
            Ok::<Ticket, Rejected>(ticket)
        };
        if self.slot_free() && overall > now {
            let ticket = alloc(self, State::Active)?;
            self.metrics.submitted += 1;
            self.start(ticket, now, now);
            let no_deadline = self
                .waiters
                .get(ticket)
                .is_some_and(|e| e.deadline == Instant::NEVER);
            return Ok(if no_deadline {
                Submitted::GrantedNoDeadline(ticket)
            } else {
                Submitted::Granted(ticket)
            });
        }
        if self.waiters.queued() >= self.config.max_queue() {
            self.metrics.rejected_full += 1;
            return Err(Rejected::QueueFull {
                max_queue: self.config.max_queue(),
            });
        }
        let deadline = self.queue_deadline(now, overall);
        if deadline <= now {
            self.metrics.queue_timeouts += 1;
            return Err(Rejected::NoWait);
        }
        if self.config.reject_early() {
            if let Some(predicted) = self.predicted_wait(self.waiters.queued() + 1) {
                if now.saturating_add(predicted) > deadline {
                    self.metrics.rejected_early += 1;
                    return Err(Rejected::WouldTimeOut { predicted });
                }
            }
        }
        let ticket = alloc(self, State::Queued)?;
        self.metrics.submitted += 1;
        self.enqueue(ticket, deadline);
        Ok(Submitted::Queued(ticket))
    }

    /// When a caller queued at `now` stops waiting: its queue timeout, or its overall deadline
    /// if that comes first.
    fn queue_deadline(&self, now: Instant, overall: Instant) -> Instant {
        match self.config.queue_timeout() {
            Some(t) => now.saturating_add(t).min(overall),
            None => overall,
        }
    }

    /// Puts an allocated entry at the back of the queue until `deadline`.
    fn enqueue(&mut self, ticket: Ticket, deadline: Instant) {
        self.set_deadline(ticket, deadline);
        self.waiters.push_back(ticket);
        self.metrics.peak_queued = self.metrics.peak_queued.max(self.waiters.queued());
    }

    /// The wait predicted for the caller at `position` in the queue (1 for the next one):
    /// `position * median hold / limit`. `None` until the hold-time histogram has
    /// [`PREDICTION_MIN_SAMPLES`] samples.
    pub fn predicted_wait(&self, position: u32) -> Option<Duration> {
        if self.hold.count() < PREDICTION_MIN_SAMPLES {
            return None;
        }
        let median = self.hold.quantile(0.5).as_micros();
        let micros = u128::from(median) * u128::from(position) / u128::from(self.limit().max(1));
        Some(Duration::from_micros(
            u64::try_from(micros).unwrap_or(u64::MAX),
        ))
    }

    /// Takes a slot without a clock reading, when no clock could change the answer: the gate is
    /// open, nobody waits, a slot is free, and [`Gate::clock_free_eligible`]. Returns `false`,
    /// changing nothing, when
    /// the timed [`Gate::submit`] must be used instead.
    ///
    /// Such a slot is counted, not tracked (like a semaphore permit): it has no ticket, no
    /// deadline and no event, its wait counts as zero and its hold time is not recorded. Give
    /// it back with [`Gate::try_release`], or [`Gate::release_clock_free`] when that refuses.
    ///
    /// Deadlines that passed since the last timed call are not fired first. That is safe: with
    /// nobody queued, firing them can only free slots (operation timeouts with
    /// `release_on_timeout`) or end back-offs (which then queue behind this grant, as they
    /// would have a moment later), never make this grant wrong.
    pub fn try_acquire(&mut self) -> bool {
        let free = !self.closed && self.slot_free() && self.clock_free_eligible();
        if free {
            self.clock_free += 1;
            self.metrics.submitted += 1;
            self.take_slot(Duration::ZERO);
        }
        free
    }

    /// Whether [`Gate::try_acquire`] can ever grant in this configuration: no default operation
    /// timeout (its grants would have a deadline), and neither the adaptive limit nor early
    /// rejection (both need every operation's timing).
    pub fn clock_free_eligible(&self) -> bool {
        self.config.operation_timeout().is_none()
            && self.config.adaptive_min().is_none()
            && !self.config.reject_early()
    }

    /// Gives back a slot taken by [`Gate::try_acquire`] without a clock reading, when nobody
    /// waits (so no grant, and no deadline check, has to follow). Returns `false`, changing
    /// nothing, when someone waits or no such slot is held: then call
    /// [`Gate::release_clock_free`].
    pub fn try_release(&mut self, ok: bool) -> bool {
        let done = self.clock_free > 0 && self.waiters.queued() == 0;
        if done {
            self.give_back_clock_free(ok);
        }
        done
    }

    /// Gives back a slot taken by [`Gate::try_acquire`] at `now`, handing it to the oldest
    /// waiter. Like every timed call it first fires the deadlines due by `now` (drain the
    /// events either way). Returns `false`, giving nothing back, when no such slot is held.
    pub fn release_clock_free(&mut self, now: Instant, ok: bool) -> bool {
        let now = self.advance(now);
        if self.clock_free == 0 {
            return false;
        }
        self.give_back_clock_free(ok);
        self.grant_waiters(now);
        true
    }

    fn give_back_clock_free(&mut self, ok: bool) {
        self.clock_free -= 1;
        self.active -= 1;
        // No adaptive limit on this path (see `try_acquire`), so the class does not matter.
        self.count_outcome(ok);
    }

    /// Reports that a granted operation settled (`ok` tells how), freeing its slot for the
    /// oldest waiter. A failure reported here is never retried and counts as
    /// [`ErrorClass::Permanent`]; use [`Gate::release_with`] to report its class.
    pub fn release(
        &mut self,
        now: Instant,
        ticket: Ticket,
        ok: bool,
    ) -> Result<Released, TicketError> {
        let outcome = if ok {
            Outcome::Ok
        } else {
            Outcome::Failed(ErrorClass::Permanent)
        };
        self.release_with(now, ticket, outcome, 0.0)
    }

    /// Reports how a granted operation settled, freeing its slot for the oldest waiter. A
    /// failure of a call with a retry policy is decided here: [`Released::Retrying`] (the
    /// caller keeps waiting; the ticket backs off without a slot, then queues again) or
    /// [`Released::GaveUp`]. `random` is a sample in `[0, 1)` for the back-off's jitter.
    pub fn release_with(
        &mut self,
        now: Instant,
        ticket: Ticket,
        outcome: Outcome,
        random: f64,
    ) -> Result<Released, TicketError> {
        let now = self.advance(now);
        let entry = *self.waiters.get(ticket).ok_or(TicketError::Unknown)?;
        let released = match entry.state {
            State::Active => Released::Completed,
            State::Zombie => Released::ZombieEnded,
            State::FreedAtTimeout => Released::AlreadyFreed,
            State::Queued | State::Sleeping | State::Unlinked | State::Free => {
                return Err(TicketError::NotHeld)
            }
        };
        if released != Released::AlreadyFreed {
            self.active -= 1;
            self.hold.record(now.saturating_since(entry.since));
        }
        if released == Released::ZombieEnded {
            self.zombies -= 1;
        }
        self.record_outcome(now, entry.since, outcome);
        let decision = match (released, outcome) {
            (Released::Completed, Outcome::Failed(class)) if entry.retry_policy != 0 => {
                Some(self.decide_retry(now, &entry, class, random))
            }
            _ => None,
        };
        let result = match decision {
            Some(RetryDecision::RetryAt(at)) => {
                if let Some(e) = self.waiters.get_mut(ticket) {
                    e.state = State::Sleeping;
                    e.since = now;
                    e.failed_attempts = e.failed_attempts.saturating_add(1);
                }
                self.set_deadline(ticket, at);
                self.sleeping += 1;
                self.metrics.retries += 1;
                Released::Retrying { at }
            }
            Some(RetryDecision::GiveUp(why)) => {
                self.waiters.free(ticket);
                Released::GaveUp(why)
            }
            None => {
                self.waiters.free(ticket);
                released
            }
        };
        self.grant_waiters(now);
        Ok(result)
    }

    /// The retry policy's decision after a failed attempt of `entry`.
    fn decide_retry(
        &self,
        now: Instant,
        entry: &Entry,
        class: ErrorClass,
        random: f64,
    ) -> RetryDecision {
        if self.closed {
            return RetryDecision::GiveUp(GiveUp::Closed);
        }
        let Some(policy) = self.policy(entry.retry_policy) else {
            return RetryDecision::GiveUp(GiveUp::NotRetryable);
        };
        let deadline = (entry.overall_deadline != Instant::NEVER).then_some(entry.overall_deadline);
        policy.decide(
            u32::from(entry.failed_attempts) + 1,
            class,
            entry.idempotent,
            now,
            deadline,
            random,
        )
    }

    /// The caller gave up (an `AbortSignal` fired). A queued waiter or back-off is removed at
    /// once; a running operation keeps its slot as a zombie until it is released.
    pub fn cancel(&mut self, now: Instant, ticket: Ticket) -> Result<Cancelled, TicketError> {
        self.advance(now);
        let state = self.waiters.get(ticket).ok_or(TicketError::Unknown)?.state;
        let outcome = match state {
            State::Queued => {
                self.waiters.free(ticket);
                Cancelled::Removed
            }
            State::Sleeping => {
                self.sleeping -= 1;
                self.waiters.free(ticket);
                Cancelled::Removed
            }
            State::Active => {
                self.make_zombie(ticket);
                Cancelled::NowZombie
            }
            State::Zombie | State::FreedAtTimeout | State::Unlinked | State::Free => {
                return Ok(Cancelled::AlreadySettled)
            }
        };
        // Nothing to grant: `advance` already did, and leaving the queue or turning into a
        // zombie frees no slot.
        self.metrics.aborted += 1;
        Ok(outcome)
    }

    /// Fires every deadline that has passed. Calling it early, late or twice is harmless.
    pub fn handle_timeout(&mut self, now: Instant) {
        self.advance(now);
    }

    /// The next time the driver must call [`Gate::handle_timeout`], if any deadline is pending.
    /// One timer for the whole pool.
    pub fn poll_timeout(&mut self) -> Option<Instant> {
        while let Some(record) = self.timers.peek() {
            if record_is_live(&self.waiters, &record) {
                return Some(record.at);
            }
            self.timers.pop();
        }
        None
    }

    /// The next thing that happened, oldest first. Drain after every call.
    pub fn poll_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }

    /// Changes `maxConnections` while running. Growing grants waiters at once (with the
    /// adaptive limit, the effective limit then grows back towards it one step at a time);
    /// shrinking lets running operations finish and grants nothing until `active` falls below
    /// the new limit.
    pub fn set_max_connections(&mut self, now: Instant, value: f64) -> Result<(), ConfigError> {
        let config = self.config.with_max_connections(value)?;
        let now = self.advance(now);
        self.config = config;
        self.adaptive_limit = match config.adaptive_min() {
            Some(min) => self.adaptive_limit.clamp(min, config.max_connections()),
            None => config.max_connections(),
        };
        self.grant_waiters(now);
        Ok(())
    }

    /// Sets the slots a fleet lease lets this instance use (`None`: no fleet limit). The gate
    /// then runs at most `min(adaptive limit, fleet limit)` operations (the adaptive limit is
    /// `maxConnections` without `adaptive`); like
    /// [`Gate::set_max_connections`], growing grants waiters at once and shrinking lets running
    /// operations finish.
    pub fn set_fleet_limit(&mut self, now: Instant, limit: Option<u32>) {
        let now = self.advance(now);
        self.fleet_limit = limit;
        self.grant_waiters(now);
    }

    /// The limit in force (also [`Metrics::effective_limit`], without building the metrics).
    pub fn effective_limit(&self) -> u32 {
        self.limit()
    }

    /// The limit in force: the adaptive limit (`maxConnections` without `adaptive`), lowered
    /// by a fleet lease if there is one.
    fn limit(&self) -> u32 {
        match self.fleet_limit {
            Some(f) => f.min(self.adaptive_limit),
            None => self.adaptive_limit,
        }
    }

    /// Rejects every waiter and back-off at once (as [`Event::Closed`]) and refuses new work.
    /// Running operations finish normally and are released as usual (a failure is then not
    /// retried: [`GiveUp::Closed`]).
    pub fn close(&mut self, now: Instant) {
        self.advance(now);
        if self.closed {
            return;
        }
        self.closed = true;
        let mut dropped = self.waiters.drain_queue();
        dropped.extend(self.waiters.tickets_in(State::Sleeping));
        for ticket in dropped {
            self.waiters.free(ticket);
            self.events.push_back(Event::Closed(ticket));
            self.metrics.rejected_closed += 1;
        }
        self.sleeping = 0;
    }

    /// The old wrapper's four numbers. `available_connections` counts against the effective
    /// limit (see [`Metrics::effective_limit`]).
    pub fn stats(&self) -> PoolStats {
        PoolStats {
            active_connections: self.active,
            max_connections: self.config.max_connections(),
            queued_connections: self.waiters.queued(),
            available_connections: self.limit().saturating_sub(self.active),
        }
    }

    /// Totals, gauges and percentiles.
    pub fn metrics(&self) -> Metrics {
        let summary = |h: &Histogram| Percentiles {
            count: h.count(),
            p50: h.quantile(0.50),
            p95: h.quantile(0.95),
            p99: h.quantile(0.99),
            max: h.max(),
        };
        Metrics {
            zombies: self.zombies,
            sleeping: self.sleeping,
            closed: self.closed,
            effective_limit: self.limit(),
            predicted_wait: self.predicted_wait(self.waiters.queued() + 1),
            wait: summary(&self.wait),
            hold: summary(&self.hold),
            ..self.metrics
        }
    }

    // ---- internals ----------------------------------------------------------------------

    /// Moves the clock forward (never back, never past [`Instant::LATEST`]), fires due
    /// deadlines, then hands out free slots.
    fn advance(&mut self, now: Instant) -> Instant {
        self.now = self.now.max(now.min(Instant::LATEST));
        let now = self.now;
        self.expire(now);
        self.grant_waiters(now);
        now
    }

    /// Fires every live deadline at or before `now`, in deadline order. Slots freed here are
    /// handed out only afterwards, so a waiter whose deadline passed is never granted.
    fn expire(&mut self, now: Instant) {
        while let Some(record) = self.timers.peek().filter(|r| r.at <= now) {
            self.timers.pop();
            let Some((ticket, &entry)) = live_record(&self.waiters, &record) else {
                continue;
            };
            match entry.state {
                State::Queued => {
                    self.waiters.unlink(ticket);
                    self.waiters.free(ticket);
                    self.metrics.queue_timeouts += 1;
                    self.events.push_back(Event::QueueTimeout {
                        ticket,
                        waited: now.saturating_since(entry.since),
                    });
                }
                State::Active => {
                    self.metrics.operation_timeouts += 1;
                    if self.config.release_on_timeout() {
                        self.hold.record(now.saturating_since(entry.since));
                        self.active -= 1;
                        if let Some(e) = self.waiters.get_mut(ticket) {
                            e.state = State::FreedAtTimeout;
                            e.deadline = Instant::NEVER;
                        }
                    } else {
                        self.make_zombie(ticket);
                    }
                    self.events.push_back(Event::OperationTimeout(ticket));
                }
                State::Sleeping => {
                    self.sleeping -= 1;
                    self.wake(ticket, now, &entry);
                }
                // Excluded by `live_record` above.
                State::Zombie | State::FreedAtTimeout | State::Unlinked | State::Free => {}
            }
        }
        let pending = self.waiters.queued() + self.active + self.sleeping;
        let waiters = &self.waiters;
        self.timers
            .compact_if_sparse(pending as usize, |r| record_is_live(waiters, r));
    }

    /// A retry's back-off ended: it joins the back of the queue like a newcomer (the queue
    /// bound does not apply: the caller was admitted already), or leaves at once (a queue
    /// timeout) when its overall deadline has passed or it may not wait and no slot is free. A free slot reaches it through `grant_waiters`, oldest waiter first.
    fn wake(&mut self, ticket: Ticket, now: Instant, entry: &Entry) {
        let deadline = self.queue_deadline(now, entry.overall_deadline);
        // Past its overall deadline (the timer fired late) no attempt may start, even on a free
        // slot; with no wait allowed it leaves unless a slot is free now.
        if entry.overall_deadline <= now || (deadline <= now && !self.slot_free()) {
            self.waiters.free(ticket);
            self.metrics.queue_timeouts += 1;
            self.events.push_back(Event::QueueTimeout {
                ticket,
                waited: Duration::ZERO,
            });
            return;
        }
        if let Some(e) = self.waiters.get_mut(ticket) {
            e.since = now;
            e.deadline = Instant::NEVER;
        }
        // With no wait allowed but a slot free, a deadline of `now + 1 µs` lets
        // `grant_waiters` (which runs before any later time) hand it the slot.
        self.enqueue(
            ticket,
            deadline.max(now.saturating_add(Duration::from_micros(1))),
        );
    }

    /// Hands free slots to the oldest waiters.
    fn grant_waiters(&mut self, now: Instant) {
        while self.active < self.limit() {
            let Some(ticket) = self.waiters.front() else {
                break;
            };
            self.waiters.unlink(ticket);
            let queued_at = self.waiters.get(ticket).map_or(now, |e| e.since);
            self.start(ticket, now, queued_at);
            self.events.push_back(Event::Granted(ticket));
        }
    }

    /// Marks `ticket` as holding a slot from `now`.
    fn start(&mut self, ticket: Ticket, now: Instant, queued_at: Instant) {
        let Some(entry) = self.waiters.get_mut(ticket) else {
            return;
        };
        entry.state = State::Active;
        entry.since = now;
        let deadline = entry
            .op_timeout
            .map_or(Instant::NEVER, |d| now.saturating_add(d))
            .min(entry.overall_deadline);
        entry.deadline = Instant::NEVER;
        self.set_deadline(ticket, deadline);
        self.take_slot(now.saturating_since(queued_at));
    }

    /// Counts a grant after a wait of `waited`.
    fn take_slot(&mut self, waited: Duration) {
        self.active += 1;
        self.metrics.granted += 1;
        self.metrics.peak_active = self.metrics.peak_active.max(self.active);
        self.wait.record(waited);
    }

    /// Counts how a released operation settled.
    fn count_outcome(&mut self, ok: bool) {
        if ok {
            self.metrics.succeeded += 1;
        } else {
            self.metrics.failed += 1;
        }
    }

    /// Counts an outcome and moves the adaptive limit (see the module docs). `granted_at` is
    /// when the operation got its slot: an operation granted before the last cut ran under the
    /// old limit, so neither its failure (the same overload) nor its success (it says nothing
    /// about the new limit) moves the limit again.
    fn record_outcome(&mut self, now: Instant, granted_at: Instant, outcome: Outcome) {
        self.count_outcome(outcome == Outcome::Ok);
        if outcome == Outcome::Failed(ErrorClass::TooManyConnections) {
            self.metrics.too_many_connections += 1;
        }
        let Some(min) = self.config.adaptive_min() else {
            return;
        };
        if self.last_cut.is_some_and(|cut| granted_at < cut) {
            return;
        }
        match outcome {
            Outcome::Failed(ErrorClass::TooManyConnections) => {
                self.adaptive_limit = (self.adaptive_limit / 2).max(min);
                self.last_cut = Some(now);
                self.clean_since_change = 0;
                self.metrics.limit_cuts += 1;
            }
            Outcome::Ok => {
                self.clean_since_change += 1;
                if self.clean_since_change >= self.adaptive_limit
                    && self.adaptive_limit < self.config.max_connections()
                {
                    self.adaptive_limit += 1;
                    self.clean_since_change = 0;
                }
            }
            Outcome::Failed(_) => {}
        }
    }

    /// Whether a newcomer may take a slot at once: one is free and nobody waits (no barging;
    /// after `advance` a waiter only remains if every slot is taken, so the queue check is
    /// implied there, and stated as the rule).
    fn slot_free(&self) -> bool {
        self.waiters.queued() == 0 && self.active < self.limit()
    }

    fn make_zombie(&mut self, ticket: Ticket) {
        if let Some(e) = self.waiters.get_mut(ticket) {
            e.state = State::Zombie;
            e.deadline = Instant::NEVER;
            self.zombies += 1;
        }
    }

    fn alloc(
        &mut self,
        state: State,
        now: Instant,
        op_timeout: Option<Duration>,
        overall_deadline: Instant,
    ) -> Result<Ticket, Rejected> {
        let ticket = self.waiters.alloc(state, now).ok_or(Rejected::QueueFull {
            max_queue: self.config.max_queue(),
        })?;
        if let Some(e) = self.waiters.get_mut(ticket) {
            e.op_timeout = op_timeout;
            e.overall_deadline = overall_deadline;
        }
        Ok(ticket)
    }

    fn set_deadline(&mut self, ticket: Ticket, at: Instant) {
        if at == Instant::NEVER {
            return;
        }
        if let Some(e) = self.waiters.get_mut(ticket) {
            e.deadline = at;
            e.timer_tag = self.timers.push(at, ticket.index(), ticket.generation());
        }
    }

    /// Recomputes everything the gate counts from its entries and checks the invariants that
    /// must hold after every call. For tests and fuzzing; O(n).
    pub fn check_invariants(&self) -> Result<(), String> {
        let count = |s| self.waiters.tickets_in(s).count() as u32;
        let (active, zombies) = (count(State::Active), count(State::Zombie));
        let (queued, sleeping) = (count(State::Queued), count(State::Sleeping));
        let order = self.waiters.queue_order();
        let floor = self
            .config
            .adaptive_min()
            .unwrap_or(self.config.max_connections());
        let retries_valid = self
            .waiters
            .tickets_in(State::Sleeping)
            .chain(order.iter().copied())
            .chain(self.waiters.tickets_in(State::Active))
            .all(|t| {
                self.waiters
                    .get(t)
                    .is_some_and(|e| e.retry_policy == 0 || self.policy(e.retry_policy).is_some())
            });
        let checks: [(bool, &str); 12] = [
            (
                self.active == active + zombies + self.clock_free,
                "active != Active + Zombie entries + clock-free grants",
            ),
            (
                self.adaptive_limit >= floor
                    && self.adaptive_limit <= self.config.max_connections(),
                "adaptive limit outside [adaptive floor, maxConnections]",
            ),
            (
                self.waiters.tickets_in(State::Unlinked).count() == 0,
                "an entry was left unlinked between calls",
            ),
            (
                retries_valid,
                "an entry refers to an unregistered retry policy",
            ),
            (self.zombies == zombies, "zombie count drifted"),
            (self.sleeping == sleeping, "sleeping count drifted"),
            (self.waiters.queued() == queued, "queued count drifted"),
            (order.len() as u32 == queued, "queue links lost an entry"),
            (
                queued == 0 || self.active >= self.limit(),
                "lost wake-up: a slot is free while a waiter waits",
            ),
            (
                !self.closed || (queued == 0 && sleeping == 0),
                "a waiter survived close()",
            ),
            (
                order.windows(2).all(|w| {
                    self.waiters.get(w[0]).map(|e| e.since)
                        <= self.waiters.get(w[1]).map(|e| e.since)
                }),
                "queue is not in arrival order",
            ),
            (
                order
                    .iter()
                    .all(|&t| self.waiters.get(t).is_some_and(|e| e.deadline > self.now)),
                "a waiter is still queued past its deadline",
            ),
        ];
        match checks.iter().find(|(ok, _)| !ok) {
            Some((_, what)) => Err(format!("{what}: {:?} {:?}", self.stats(), self.metrics())),
            None => Ok(()),
        }
    }
}

/// A timer record counts while its entry still exists, has not moved to another deadline since
/// (it is the entry's latest record), and is in a state that has a deadline.
fn record_is_live(waiters: &Waiters, record: &TimerRecord) -> bool {
    live_record(waiters, record).is_some()
}

/// The entry of a timer record that still counts (see [`record_is_live`]).
fn live_record<'a>(waiters: &'a Waiters, record: &TimerRecord) -> Option<(Ticket, &'a Entry)> {
    waiters
        .live_at(record.index, record.generation)
        .filter(|(_, e)| {
            e.deadline == record.at
                && e.timer_tag == record.tag()
                && matches!(e.state, State::Queued | State::Active | State::Sleeping)
        })
}

#[cfg(test)]
mod tests {
    //! `check_invariants` must report a broken invariant, not only pass on healthy gates: each
    //! test breaks one on purpose (the fields are private, so only here) and expects its report.
    use super::*;

    fn busy_gate() -> Gate {
        let config = Config::default()
            .with_max_connections(2.0)
            .and_then(|c| c.with_adaptive_min(Some(1)))
            .unwrap();
        let mut g = Gate::new(config);
        let t0 = Instant::ZERO;
        for _ in 0..3 {
            g.submit(t0, Request::default()).unwrap();
        }
        assert_eq!(g.check_invariants(), Ok(()));
        g
    }

    fn broken(g: &Gate, what: &str) {
        let e = g
            .check_invariants()
            .expect_err("a broken invariant must be reported");
        assert!(e.starts_with(what), "{e}");
    }

    #[test]
    fn a_drifted_active_count_is_reported() {
        let mut g = busy_gate();
        g.active += 1;
        broken(&g, "active != Active + Zombie entries");
    }

    #[test]
    fn an_effective_limit_outside_its_bounds_is_reported() {
        let mut g = busy_gate();
        g.adaptive_limit = 3;
        broken(&g, "adaptive limit outside");
        let mut g = busy_gate();
        g.adaptive_limit = 0;
        broken(&g, "adaptive limit outside");
    }

    #[test]
    fn a_lost_wake_up_is_reported() {
        let mut g = busy_gate();
        // The limit grows to 3 behind the gate's back: a slot is free while the third waits.
        g.config = g.config.with_max_connections(3.0).unwrap();
        g.adaptive_limit = 3;
        broken(&g, "lost wake-up");
    }

    #[test]
    fn drifted_counters_and_a_stale_retry_policy_are_reported() {
        let mut g = busy_gate();
        g.sleeping = 1;
        broken(&g, "sleeping count drifted");
        let mut g = busy_gate();
        g.zombies = 1;
        broken(&g, "zombie count drifted");
        let mut g = busy_gate();
        let t = g.waiters.front().unwrap();
        g.waiters.get_mut(t).unwrap().retry_policy = 9;
        broken(&g, "an entry refers to an unregistered retry policy");
        let mut g = busy_gate();
        g.closed = true;
        broken(&g, "a waiter survived close()");
    }

    #[test]
    fn a_waiter_past_its_deadline_is_reported() {
        let mut g = busy_gate();
        let t = g.waiters.front().unwrap();
        g.waiters.get_mut(t).unwrap().deadline = Instant::ZERO;
        broken(&g, "a waiter is still queued past its deadline");
    }
}
