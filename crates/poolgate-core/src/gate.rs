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
//! # The clock-free fast path
//! Reading a clock costs a JavaScript driver about 50 ns, more than everything else on an
//! uncontended call. [`Gate::try_acquire`] and [`Gate::try_release`] take no `now`: they act only
//! when time cannot change the outcome (nobody waits, and the grant has no deadline), and
//! otherwise return `false` so the driver falls back to the timed calls. Such a slot is counted
//! like a semaphore permit rather than tracked by ticket; it records a wait of zero and no hold
//! time.

use crate::config::{max_connections_option, Config, ConfigError, RawConfig};
use crate::event::{Cancelled, Event, Rejected, Released, Submitted, TicketError};
use crate::histogram::Histogram;
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
    /// An overall deadline (for example the end of a retry budget): the wait ends by then, and
    /// so does the caller's wait for the operation.
    pub deadline: Option<Instant>,
}

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
    untimed: u32,
    sleeping: u32,
    closed: bool,
    /// Slots this instance may use from a fleet lease (`None`: no fleet limit).
    fleet_limit: Option<u32>,
    now: Instant,
    metrics: Metrics,
    wait: Histogram,
    hold: Histogram,
}

impl Gate {
    /// A gate with a validated configuration.
    pub fn new(config: Config) -> Gate {
        Gate {
            config,
            waiters: Waiters::default(),
            timers: Timers::default(),
            events: VecDeque::new(),
            active: 0,
            zombies: 0,
            untimed: 0,
            sleeping: 0,
            closed: false,
            fleet_limit: None,
            now: Instant::ZERO,
            metrics: Metrics::default(),
            wait: Histogram::default(),
            hold: Histogram::default(),
        }
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
    /// be settled later by an [`Event`]; refused when the queue is full or the pool closed.
    pub fn submit(&mut self, now: Instant, request: Request) -> Result<Submitted, Rejected> {
        let now = self.advance(now);
        if self.closed {
            self.metrics.rejected_closed += 1;
            return Err(Rejected::Closed);
        }
        let cap = request.deadline.unwrap_or(Instant::NEVER);
        let op_timeout = match request.operation_timeout {
            OperationTimeout::PoolDefault => self.config.operation_timeout,
            OperationTimeout::Never => None,
            OperationTimeout::After(d) => Some(d),
        };
        if self.slot_free() && cap > now {
            let ticket = self.alloc(State::Active, now, op_timeout, cap)?;
            self.metrics.submitted += 1;
            self.start(ticket, now, now);
            return Ok(Submitted::Granted(ticket));
        }
        if self.waiters.queued() >= self.config.max_queue {
            self.metrics.rejected_full += 1;
            return Err(Rejected::QueueFull {
                max_queue: self.config.max_queue,
            });
        }
        let deadline = match self.config.queue_timeout {
            Some(t) => now.saturating_add(t).min(cap),
            None => cap,
        };
        if deadline <= now {
            self.metrics.queue_timeouts += 1;
            return Err(Rejected::NoWait);
        }
        let ticket = self.alloc(State::Queued, now, op_timeout, cap)?;
        self.metrics.submitted += 1;
        self.set_deadline(ticket, deadline);
        self.waiters.push_back(ticket);
        self.metrics.peak_queued = self.metrics.peak_queued.max(self.waiters.queued());
        Ok(Submitted::Queued(ticket))
    }

    /// Takes a slot without a clock reading, when no clock could change the answer: the gate is
    /// open, nobody waits, a slot is free, and the pool has no default operation timeout (so
    /// the grant has no deadline). Returns `false`, changing nothing, when the timed
    /// [`Gate::submit`] must be used instead.
    ///
    /// Such a slot is counted, not tracked (like a semaphore permit): it has no ticket, no
    /// deadline and no event, its wait counts as zero and its hold time is not recorded. Give
    /// it back with [`Gate::try_release`], or [`Gate::release_untimed`] when that refuses.
    ///
    /// Deadlines that passed since the last timed call are not fired first. That is safe: with
    /// nobody queued, firing them can only free slots (operation timeouts with
    /// `release_on_timeout`) or wake back-offs, never make this grant wrong.
    pub fn try_acquire(&mut self) -> bool {
        let free = !self.closed && self.slot_free() && self.config.operation_timeout.is_none();
        if free {
            self.untimed += 1;
            self.metrics.submitted += 1;
            self.take_slot(Duration::ZERO);
        }
        free
    }

    /// Gives back a slot taken by [`Gate::try_acquire`] without a clock reading, when nobody
    /// waits (so no grant, and no deadline check, has to follow). Returns `false`, changing
    /// nothing, when someone waits or no such slot is held: then call
    /// [`Gate::release_untimed`].
    pub fn try_release(&mut self, ok: bool) -> bool {
        let done = self.untimed > 0 && self.waiters.queued() == 0;
        if done {
            self.give_back_untimed(ok);
        }
        done
    }

    /// Gives back a slot taken by [`Gate::try_acquire`] at `now`, handing it to the oldest
    /// waiter. Like every timed call it first fires the deadlines due by `now` (drain the
    /// events either way). Returns `false`, giving nothing back, when no such slot is held.
    pub fn release_untimed(&mut self, now: Instant, ok: bool) -> bool {
        let now = self.advance(now);
        if self.untimed == 0 {
            return false;
        }
        self.give_back_untimed(ok);
        self.grant_waiters(now);
        true
    }

    fn give_back_untimed(&mut self, ok: bool) {
        self.untimed -= 1;
        self.active -= 1;
        self.record_outcome(ok);
    }

    /// Reports that a granted operation settled (`ok` tells how), freeing its slot for the
    /// oldest waiter.
    pub fn release(
        &mut self,
        now: Instant,
        ticket: Ticket,
        ok: bool,
    ) -> Result<Released, TicketError> {
        let now = self.advance(now);
        let entry = *self.waiters.get(ticket).ok_or(TicketError::Unknown)?;
        let released = match entry.state {
            State::Active => Released::Completed,
            State::Zombie => Released::Zombie,
            State::Detached => Released::Detached,
            State::Queued | State::Sleeping | State::Free => return Err(TicketError::NotHeld),
        };
        if released != Released::Detached {
            self.active -= 1;
            self.hold.record(now.saturating_since(entry.since));
        }
        if released == Released::Zombie {
            self.zombies -= 1;
        }
        self.record_outcome(ok);
        self.waiters.free(ticket);
        self.grant_waiters(now);
        Ok(released)
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
                Cancelled::Detached
            }
            State::Zombie | State::Detached | State::Free => return Ok(Cancelled::AlreadySettled),
        };
        // Nothing to grant: `advance` already did, and leaving the queue or turning into a
        // zombie frees no slot.
        self.metrics.aborted += 1;
        Ok(outcome)
    }

    /// Starts a retry back-off that ends at `wake_at` with an [`Event::Woken`]. It holds no slot
    /// and is dropped by `close()`.
    pub fn schedule_retry(&mut self, now: Instant, wake_at: Instant) -> Result<Ticket, Rejected> {
        let now = self.advance(now);
        if self.closed {
            self.metrics.rejected_closed += 1;
            return Err(Rejected::Closed);
        }
        let ticket = self.alloc(State::Sleeping, now, None, Instant::NEVER)?;
        self.set_deadline(ticket, wake_at.max(now));
        self.sleeping += 1;
        self.metrics.retries += 1;
        Ok(ticket)
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

    /// Changes the limit while running. Growing grants waiters at once; shrinking lets running
    /// operations finish and grants nothing until `active` falls below the new limit.
    pub fn set_max_connections(&mut self, now: Instant, value: f64) -> Result<(), ConfigError> {
        let max = max_connections_option(value)?;
        let now = self.advance(now);
        self.config.max_connections = max;
        self.grant_waiters(now);
        Ok(())
    }

    /// Sets the slots a fleet lease lets this instance use (`None`: no fleet limit). The gate
    /// then runs at most `min(maxConnections, fleet limit)` operations; like
    /// [`Gate::set_max_connections`], growing grants waiters at once and shrinking lets running
    /// operations finish.
    pub fn set_fleet_limit(&mut self, now: Instant, limit: Option<u32>) {
        let now = self.advance(now);
        self.fleet_limit = limit;
        self.grant_waiters(now);
    }

    /// The limit in force: `maxConnections`, lowered by a fleet lease if there is one.
    fn limit(&self) -> u32 {
        match self.fleet_limit {
            Some(f) => f.min(self.config.max_connections),
            None => self.config.max_connections,
        }
    }

    /// Rejects every waiter and back-off at once (as [`Event::Closed`]) and refuses new work.
    /// Running operations finish normally and are released as usual.
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

    /// The old wrapper's four numbers.
    pub fn stats(&self) -> PoolStats {
        PoolStats {
            active_connections: self.active,
            max_connections: self.config.max_connections,
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
                    if self.config.release_on_timeout {
                        self.hold.record(now.saturating_since(entry.since));
                        self.active -= 1;
                        if let Some(e) = self.waiters.get_mut(ticket) {
                            e.state = State::Detached;
                            e.deadline = Instant::NEVER;
                        }
                    } else {
                        self.make_zombie(ticket);
                    }
                    self.events.push_back(Event::OperationTimeout(ticket));
                }
                State::Sleeping => {
                    self.sleeping -= 1;
                    self.waiters.free(ticket);
                    self.events.push_back(Event::Woken(ticket));
                }
                // Excluded by `live_record` above.
                State::Zombie | State::Detached | State::Free => {}
            }
        }
        let pending = self.waiters.queued() + self.active + self.sleeping;
        let waiters = &self.waiters;
        self.timers
            .compact_if_sparse(pending as usize, |r| record_is_live(waiters, r));
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
            .min(entry.cap);
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
    fn record_outcome(&mut self, ok: bool) {
        if ok {
            self.metrics.succeeded += 1;
        } else {
            self.metrics.failed += 1;
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
        cap: Instant,
    ) -> Result<Ticket, Rejected> {
        let ticket = self.waiters.alloc(state, now).ok_or(Rejected::QueueFull {
            max_queue: self.config.max_queue,
        })?;
        if let Some(e) = self.waiters.get_mut(ticket) {
            e.op_timeout = op_timeout;
            e.cap = cap;
        }
        Ok(ticket)
    }

    fn set_deadline(&mut self, ticket: Ticket, at: Instant) {
        if at == Instant::NEVER {
            return;
        }
        if let Some(e) = self.waiters.get_mut(ticket) {
            e.deadline = at;
            self.timers.push(at, ticket.index(), ticket.generation());
        }
    }

    /// Recomputes everything the gate counts from its entries and checks the invariants that
    /// must hold after every call. For tests and fuzzing; O(n).
    pub fn check_invariants(&self) -> Result<(), String> {
        let count = |s| self.waiters.tickets_in(s).count() as u32;
        let (active, zombies) = (count(State::Active), count(State::Zombie));
        let (queued, sleeping) = (count(State::Queued), count(State::Sleeping));
        let order = self.waiters.queue_order();
        let checks: [(bool, &str); 9] = [
            (
                self.active == active + zombies + self.untimed,
                "active != Active + Zombie entries + clock-free grants",
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

/// A timer record counts while its entry still exists, has not moved to another deadline, and
/// is in a state that has a deadline.
fn record_is_live(waiters: &Waiters, record: &TimerRecord) -> bool {
    live_record(waiters, record).is_some()
}

/// The entry of a timer record that still counts (see [`record_is_live`]).
fn live_record<'a>(waiters: &'a Waiters, record: &TimerRecord) -> Option<(Ticket, &'a Entry)> {
    waiters
        .live_at(record.index, record.generation)
        .filter(|(_, e)| {
            e.deadline == record.at
                && matches!(e.state, State::Queued | State::Active | State::Sleeping)
        })
}
