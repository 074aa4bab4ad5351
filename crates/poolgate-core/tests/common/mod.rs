//! Shared by `exhaustive.rs` and `model.rs`: the events a driver can send, a plain reference
//! model of the pool (a `Vec` FIFO), and a tracker that checks the gate's observable
//! guarantees from what it reports, independently of the model.
//!
//! [`Sim::step`] applies one action to the gate and the model, compares every return value,
//! event, stat and metric, and runs the tracker's checks plus `Gate::check_invariants()`.

#![allow(dead_code)]

use poolgate_core::{
    Cancelled, Config, Duration, Event, Gate, Instant, OperationTimeout, Rejected, Released,
    Request, Submitted, Ticket, TicketError,
};
use std::collections::HashMap;

/// Queue timeout, in microseconds.
pub const QUEUE_TIMEOUT: u64 = 100;
/// The pool's operation timeout, in microseconds.
pub const OP_TIMEOUT: u64 = 300;
/// The per-call operation timeout of a "short" submission, in microseconds.
pub const SHORT_OP_TIMEOUT: u64 = 50;

const NEVER: u64 = u64::MAX;

/// The pool configuration under test.
#[derive(Clone, Copy, Debug)]
pub struct Cfg {
    pub max_connections: u32,
    pub max_queue: u32,
    pub release_on_timeout: bool,
    /// The pool has a default operation timeout ([`OP_TIMEOUT`]). Without one, plain submits
    /// run unbounded and the clock-free fast path (`try_acquire`) can grant.
    pub default_op_timeout: bool,
}

impl Cfg {
    pub fn config(&self) -> Config {
        Config::default()
            .with_max_connections(f64::from(self.max_connections))
            .and_then(|c| c.with_max_queue(self.max_queue))
            .and_then(|c| {
                c.with_operation_timeout(
                    self.default_op_timeout
                        .then(|| Duration::from_micros(OP_TIMEOUT)),
                )
            })
            .expect("test configurations are valid")
            .with_queue_timeout(Some(Duration::from_micros(QUEUE_TIMEOUT)))
            .with_release_on_timeout(self.release_on_timeout)
    }

    /// The operation timeout of a plain submission, in microseconds ([`NEVER`]: none).
    pub fn default_op(&self) -> u64 {
        if self.default_op_timeout {
            OP_TIMEOUT
        } else {
            NEVER
        }
    }
}

/// One thing a driver does. Tickets are named by the test's own ids: the n-th accepted
/// submission is id n.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    /// Submit with the pool's operation timeout, or (`short`) a per-call shorter one.
    Submit { short: bool },
    /// The operation of `id` settled.
    Release { id: usize, ok: bool },
    /// The caller of `id` aborted.
    Cancel { id: usize },
    /// The clock jumps to this absolute time (micros) and the timer fires.
    AdvanceTo(u64),
    /// The clock moves forward by this much and the timer fires.
    AdvanceBy(u64),
    /// Fire the driver's single timer exactly at `poll_timeout()` (no-op if none).
    Timer,
    /// `set_max_connections`.
    Resize(u32),
    /// `close()`.
    Close,
    /// The clock-free `try_acquire` (no time passes).
    TryAcquire,
    /// The operation of clock-free grant `id` settled; the driver calls `try_release`, and
    /// `release_clock_free` at the current time if that refuses. `id` is `usize::MAX` when there
    /// is no such grant (both must refuse).
    ReleaseClockFree { id: usize, ok: bool },
}

/// A call's return value, with tickets replaced by test ids.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Ret {
    /// `(granted at once, id)`.
    Submit(Result<(bool, usize), Rejected>),
    Release(Result<Released, TicketError>),
    Cancel(Result<Cancelled, TicketError>),
    Resize(bool),
    TryAcquire(Option<usize>),
    /// `(try_release took it, released at all)`.
    ReleaseClockFree(bool, bool),
    Unit,
}

/// An event, with tickets replaced by test ids.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ev {
    Granted(usize),
    QueueTimeout { id: usize, waited: u64 },
    OperationTimeout(usize),
    Closed(usize),
}

// ---- reference model ------------------------------------------------------------------------

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum MState {
    Queued,
    Active,
    Zombie,
    Detached,
    Done,
}

#[derive(Clone, Debug)]
struct MTicket {
    state: MState,
    since: u64,
    /// Granted by the clock-free path: no hold time is recorded.
    clock_free: bool,
    op: u64,
    deadline: u64,
    /// Every (deadline, sequence) the gate pushed a timer record for.
    records: Vec<(u64, u64)>,
}

impl MTicket {
    /// The sequence number the deadline fires with: that of the latest record (an older record
    /// at the same instant is stale).
    fn seq(&self) -> u64 {
        self.records
            .last()
            .filter(|r| r.0 == self.deadline)
            .map_or(NEVER, |r| r.1)
    }
}

/// Lifetime counters the model predicts.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Counts {
    pub submitted: u64,
    pub granted: u64,
    pub succeeded: u64,
    pub failed: u64,
    pub rejected_full: u64,
    pub queue_timeouts: u64,
    pub operation_timeouts: u64,
    pub aborted: u64,
    pub rejected_closed: u64,
    pub zombies: u32,
    pub peak_active: u32,
    pub peak_queued: u32,
    pub closed: bool,
    pub wait_count: u64,
    pub wait_max: u64,
    pub hold_count: u64,
    pub hold_max: u64,
}

/// A deliberately naive pool: a `Vec` FIFO, linear scans, no heap, no slab.
#[derive(Clone, Debug)]
pub struct Model {
    cfg: Cfg,
    now: u64,
    max: u32,
    closed: bool,
    tickets: Vec<MTicket>,
    queue: Vec<usize>,
    active: u32,
    seq: u64,
    counts: Counts,
    events: Vec<Ev>,
}

impl Model {
    pub fn new(cfg: Cfg) -> Model {
        Model {
            cfg,
            now: 0,
            max: cfg.max_connections,
            closed: false,
            tickets: Vec::new(),
            queue: Vec::new(),
            active: 0,
            seq: 0,
            counts: Counts::default(),
            events: Vec::new(),
        }
    }

    pub fn counts(&self) -> Counts {
        let mut c = self.counts.clone();
        c.zombies = self
            .tickets
            .iter()
            .filter(|t| t.state == MState::Zombie)
            .count() as u32;
        c.closed = self.closed;
        c
    }

    pub fn active(&self) -> u32 {
        self.active
    }

    pub fn queued(&self) -> u32 {
        self.queue.len() as u32
    }

    pub fn max(&self) -> u32 {
        self.max
    }

    pub fn next_deadline(&self) -> Option<u64> {
        self.tickets
            .iter()
            .filter(|t| matches!(t.state, MState::Queued | MState::Active))
            .map(|t| t.deadline)
            .filter(|&d| d != NEVER)
            .min()
    }

    fn set_deadline(&mut self, id: usize, at: u64) {
        self.seq += 1;
        let t = &mut self.tickets[id];
        t.deadline = at;
        t.records.push((at, self.seq));
    }

    fn advance(&mut self, now: u64) -> u64 {
        self.now = self.now.max(now);
        let now = self.now;
        // Expire due deadlines in (deadline, sequence) order; nothing is granted meanwhile.
        loop {
            let due = self
                .tickets
                .iter()
                .enumerate()
                .filter(|(_, t)| matches!(t.state, MState::Queued | MState::Active))
                .filter(|(_, t)| t.deadline <= now)
                .min_by_key(|(_, t)| (t.deadline, t.seq()))
                .map(|(i, _)| i);
            let Some(id) = due else { break };
            match self.tickets[id].state {
                MState::Queued => {
                    self.queue.retain(|&q| q != id);
                    self.tickets[id].state = MState::Done;
                    self.counts.queue_timeouts += 1;
                    let waited = now - self.tickets[id].since;
                    self.events.push(Ev::QueueTimeout { id, waited });
                }
                _ => {
                    self.counts.operation_timeouts += 1;
                    if self.cfg.release_on_timeout {
                        self.hold(now - self.tickets[id].since);
                        self.active -= 1;
                        self.tickets[id].state = MState::Detached;
                    } else {
                        self.tickets[id].state = MState::Zombie;
                    }
                    self.events.push(Ev::OperationTimeout(id));
                }
            }
        }
        self.grant(now);
        now
    }

    fn hold(&mut self, d: u64) {
        self.counts.hold_count += 1;
        self.counts.hold_max = self.counts.hold_max.max(d);
    }

    fn start(&mut self, id: usize, now: u64, queued_at: u64) {
        let t = &mut self.tickets[id];
        t.state = MState::Active;
        t.since = now;
        let at = now.saturating_add(t.op);
        self.set_deadline(id, at);
        self.active += 1;
        self.counts.granted += 1;
        self.counts.peak_active = self.counts.peak_active.max(self.active);
        self.counts.wait_count += 1;
        self.counts.wait_max = self.counts.wait_max.max(now - queued_at);
    }

    fn grant(&mut self, now: u64) {
        while self.active < self.max && !self.queue.is_empty() {
            let id = self.queue.remove(0);
            let queued_at = self.tickets[id].since;
            self.start(id, now, queued_at);
            self.events.push(Ev::Granted(id));
        }
    }

    /// Applies one action at `now`; returns the call's result and the events it produced.
    pub fn apply(&mut self, action: Action, now: u64) -> (Ret, Vec<Ev>) {
        let ret = match action {
            Action::Submit { short } => Ret::Submit(self.submit(now, short)),
            Action::Release { id, ok } => Ret::Release(self.release(now, id, ok)),
            Action::Cancel { id } => Ret::Cancel(self.cancel(now, id)),
            Action::AdvanceTo(_) | Action::AdvanceBy(_) | Action::Timer => {
                self.advance(now);
                Ret::Unit
            }
            Action::Resize(n) => {
                if n == 0 {
                    Ret::Resize(false)
                } else {
                    let now = self.advance(now);
                    self.max = n;
                    self.grant(now);
                    Ret::Resize(true)
                }
            }
            Action::TryAcquire => Ret::TryAcquire(self.try_acquire()),
            Action::ReleaseClockFree { id, ok } => {
                let (fast, done) = self.release_clock_free(now, id, ok);
                Ret::ReleaseClockFree(fast, done)
            }
            Action::Close => {
                self.advance(now);
                if !self.closed {
                    self.closed = true;
                    for id in std::mem::take(&mut self.queue) {
                        self.tickets[id].state = MState::Done;
                        self.counts.rejected_closed += 1;
                        self.events.push(Ev::Closed(id));
                    }
                }
                Ret::Unit
            }
        };
        (ret, std::mem::take(&mut self.events))
    }

    fn submit(&mut self, now: u64, short: bool) -> Result<(bool, usize), Rejected> {
        let now = self.advance(now);
        if self.closed {
            self.counts.rejected_closed += 1;
            return Err(Rejected::Closed);
        }
        let op = if short {
            SHORT_OP_TIMEOUT
        } else {
            self.cfg.default_op()
        };
        let id = self.tickets.len();
        let fresh = MTicket {
            state: MState::Queued,
            since: now,
            clock_free: false,
            op,
            deadline: NEVER,
            records: Vec::new(),
        };
        if self.queue.is_empty() && self.active < self.max {
            self.tickets.push(fresh);
            self.counts.submitted += 1;
            self.start(id, now, now);
            return Ok((true, id));
        }
        if self.queue.len() as u32 >= self.cfg.max_queue {
            self.counts.rejected_full += 1;
            return Err(Rejected::QueueFull {
                max_queue: self.cfg.max_queue,
            });
        }
        self.tickets.push(fresh);
        self.counts.submitted += 1;
        self.set_deadline(id, now + QUEUE_TIMEOUT);
        self.queue.push(id);
        self.counts.peak_queued = self.counts.peak_queued.max(self.queue.len() as u32);
        Ok((false, id))
    }

    /// Grants at once without moving the clock, only if nobody waits, a slot is free and plain
    /// submissions have no operation timeout.
    fn try_acquire(&mut self) -> Option<usize> {
        if self.closed
            || !self.queue.is_empty()
            || self.active >= self.max
            || self.cfg.default_op_timeout
        {
            return None;
        }
        let id = self.tickets.len();
        self.tickets.push(MTicket {
            state: MState::Queued,
            since: self.now,
            clock_free: true,
            op: NEVER,
            deadline: NEVER,
            records: Vec::new(),
        });
        self.counts.submitted += 1;
        let now = self.now;
        self.start(id, now, now);
        Some(id)
    }

    /// A clock-free grant's operation settled: given back without moving the clock if nobody
    /// waits, else at `now` with the usual expiry and grants.
    fn release_clock_free(&mut self, now: u64, id: usize, ok: bool) -> (bool, bool) {
        let held = self
            .tickets
            .get(id)
            .is_some_and(|t| t.state == MState::Active && t.clock_free);
        let fast = held && self.queue.is_empty();
        let now = if fast { now } else { self.advance(now) };
        if !held {
            return (false, false);
        }
        self.active -= 1;
        if ok {
            self.counts.succeeded += 1;
        } else {
            self.counts.failed += 1;
        }
        self.tickets[id].state = MState::Done;
        if !fast {
            self.grant(now);
        }
        (fast, true)
    }

    fn release(&mut self, now: u64, id: usize, ok: bool) -> Result<Released, TicketError> {
        let now = self.advance(now);
        let Some((state, since)) = self
            .tickets
            .get(id)
            .filter(|t| !t.clock_free)
            .map(|t| (t.state, t.since))
        else {
            return Err(TicketError::Unknown);
        };
        let released = match state {
            MState::Active => Released::Completed,
            MState::Zombie => Released::ZombieEnded,
            MState::Detached => Released::AlreadyFreed,
            MState::Queued => return Err(TicketError::NotHeld),
            MState::Done => return Err(TicketError::Unknown),
        };
        if released != Released::AlreadyFreed {
            self.active -= 1;
            self.hold(now - since);
        }
        if ok {
            self.counts.succeeded += 1;
        } else {
            self.counts.failed += 1;
        }
        self.tickets[id].state = MState::Done;
        self.grant(now);
        Ok(released)
    }

    fn cancel(&mut self, now: u64, id: usize) -> Result<Cancelled, TicketError> {
        let now = self.advance(now);
        let Some(t) = self.tickets.get(id).filter(|t| !t.clock_free) else {
            return Err(TicketError::Unknown);
        };
        let out = match t.state {
            MState::Queued => {
                self.queue.retain(|&q| q != id);
                self.tickets[id].state = MState::Done;
                Cancelled::Removed
            }
            MState::Active => {
                self.tickets[id].state = MState::Zombie;
                Cancelled::NowZombie
            }
            MState::Zombie | MState::Detached => return Ok(Cancelled::AlreadySettled),
            MState::Done => return Err(TicketError::Unknown),
        };
        self.counts.aborted += 1;
        self.grant(now);
        Ok(out)
    }
}

// ---- property tracker -----------------------------------------------------------------------

/// What the test itself knows about one id, from the gate's outputs alone.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Seen {
    Waiting {
        queued_at: u64,
        deadline: u64,
    },
    Running {
        deadline: u64,
    },
    /// Holds a slot; its caller was already told (timeout or abort).
    Zombie,
    /// Timed out with `release_on_timeout`: slot already given back, release still expected.
    Detached,
    /// The slot was released.
    Released,
    /// The waiter left without a slot (timed out, aborted, closed).
    Gone,
}

/// Checks the guarantees listed in the issue from what the gate returns and emits.
#[derive(Clone, Debug)]
pub struct Tracker {
    cfg: Cfg,
    pub now: u64,
    pub max: u32,
    pub closed: bool,
    pub active: u32,
    /// Highest `active` may be right now: `max`, or more right after a shrink until
    /// operations finish.
    ceiling: u32,
    pub seen: Vec<Seen>,
    /// Waiter outcomes per id (granted, timed out, aborted, closed): must never exceed 1.
    outcomes: Vec<u8>,
    /// Operation outcomes per id told to the caller (timeout, abort): at most 1.
    op_outcomes: Vec<u8>,
    op_of: Vec<u64>,
    /// Ids granted by the clock-free `try_acquire`.
    pub fast: Vec<bool>,
}

fn ensure(cond: bool, what: impl FnOnce() -> String) -> Result<(), String> {
    if cond {
        Ok(())
    } else {
        Err(what())
    }
}

impl Tracker {
    pub fn new(cfg: Cfg) -> Tracker {
        Tracker {
            cfg,
            now: 0,
            max: cfg.max_connections,
            closed: false,
            active: 0,
            ceiling: cfg.max_connections,
            seen: Vec::new(),
            outcomes: Vec::new(),
            op_outcomes: Vec::new(),
            op_of: Vec::new(),
            fast: Vec::new(),
        }
    }

    pub fn waiting(&self) -> impl Iterator<Item = usize> + '_ {
        self.seen
            .iter()
            .enumerate()
            .filter(|(_, s)| matches!(s, Seen::Waiting { .. }))
            .map(|(i, _)| i)
    }

    /// Every deadline the test expects the gate to have pending.
    pub fn pending_deadlines(&self) -> Vec<u64> {
        let mut d: Vec<u64> = self
            .seen
            .iter()
            .filter_map(|s| match *s {
                Seen::Waiting { deadline, .. } | Seen::Running { deadline } => Some(deadline),
                _ => None,
            })
            .filter(|&d| d != NEVER)
            .collect();
        d.sort_unstable();
        d.dedup();
        d
    }

    fn settle_waiter(&mut self, id: usize, how: &str) -> Result<(), String> {
        self.outcomes[id] += 1;
        ensure(self.outcomes[id] == 1, || {
            format!("waiter {id} settled twice (last: {how})")
        })
    }

    fn settle_op(&mut self, id: usize, how: &str) -> Result<(), String> {
        self.op_outcomes[id] += 1;
        ensure(self.op_outcomes[id] == 1, || {
            format!("operation {id} told its caller twice (last: {how})")
        })
    }

    fn grant(&mut self, id: usize, op: u64, from_queue: bool) -> Result<(), String> {
        ensure(!self.closed, || format!("{id} granted after close()"))?;
        ensure(self.active < self.max, || {
            format!(
                "grant of {id} with active {} >= max {}",
                self.active, self.max
            )
        })?;
        if from_queue {
            let Seen::Waiting { deadline, .. } = self.seen[id] else {
                return Err(format!("Granted({id}) but it was {:?}", self.seen[id]));
            };
            ensure(self.now < deadline, || {
                format!("{id} granted at {} after its deadline {deadline}", self.now)
            })?;
            ensure(self.waiting().all(|w| w >= id), || {
                format!("FIFO: {id} granted while an older waiter still waits")
            })?;
        } else {
            ensure(self.waiting().next().is_none(), || {
                format!("barging: newcomer {id} granted at once while others wait")
            })?;
        }
        self.settle_waiter(id, "granted")?;
        self.active += 1;
        self.seen[id] = Seen::Running {
            deadline: self.now.saturating_add(op),
        };
        Ok(())
    }

    fn event(&mut self, ev: Ev, action: Action) -> Result<(), String> {
        match ev {
            Ev::Granted(id) => {
                // The op timeout is not visible in the event; look it up from the deadline the
                // gate must arm (checked against poll_timeout later).
                let op = self.op_of[id];
                self.grant(id, op, true)
            }
            Ev::QueueTimeout { id, waited } => {
                let Seen::Waiting {
                    queued_at,
                    deadline,
                } = self.seen[id]
                else {
                    return Err(format!("QueueTimeout({id}) but it was {:?}", self.seen[id]));
                };
                ensure(self.now >= deadline, || {
                    format!(
                        "{id} timed out at {} before its deadline {deadline}",
                        self.now
                    )
                })?;
                ensure(waited == self.now - queued_at, || {
                    format!("{id} waited {waited}, expected {}", self.now - queued_at)
                })?;
                self.seen[id] = Seen::Gone;
                self.settle_waiter(id, "queue timeout")
            }
            Ev::OperationTimeout(id) => {
                let Seen::Running { deadline } = self.seen[id] else {
                    return Err(format!(
                        "OperationTimeout({id}) but it was {:?}",
                        self.seen[id]
                    ));
                };
                ensure(self.now >= deadline, || {
                    format!("{id} op-timed out at {} before {deadline}", self.now)
                })?;
                self.settle_op(id, "operation timeout")?;
                if self.cfg.release_on_timeout {
                    self.active -= 1;
                    self.seen[id] = Seen::Detached;
                } else {
                    self.seen[id] = Seen::Zombie;
                }
                Ok(())
            }
            Ev::Closed(id) => {
                ensure(action == Action::Close, || {
                    format!("Closed({id}) outside close(): {action:?}")
                })?;
                ensure(matches!(self.seen[id], Seen::Waiting { .. }), || {
                    format!("Closed({id}) but it was {:?}", self.seen[id])
                })?;
                self.seen[id] = Seen::Gone;
                self.settle_waiter(id, "closed")
            }
        }
    }
}

// The op timeout of each id, known from how it was submitted.
impl Tracker {
    fn register(&mut self, short: bool, fast: bool) -> usize {
        self.seen.push(Seen::Gone);
        self.outcomes.push(0);
        self.op_outcomes.push(0);
        self.op_of.push(if short {
            SHORT_OP_TIMEOUT
        } else {
            self.cfg.default_op()
        });
        self.fast.push(fast);
        self.seen.len() - 1
    }
}

impl Tracker {
    /// The call's own effect, checked against what the test knows about the ticket.
    fn effect(&mut self, action: Action, ret: Ret) -> Result<(), String> {
        match (action, ret) {
            (Action::Release { id, .. }, Ret::Release(r)) => {
                let s = self.seen.get(id).copied();
                match (s, r) {
                    (Some(Seen::Running { .. }), Ok(Released::Completed))
                    | (Some(Seen::Zombie), Ok(Released::ZombieEnded)) => self.active -= 1,
                    (Some(Seen::Detached), Ok(Released::AlreadyFreed)) => {}
                    (Some(Seen::Waiting { .. }), Err(TicketError::NotHeld)) => return Ok(()),
                    // A clock-free grant has no ticket: nothing else can release it.
                    (Some(_), Err(TicketError::Unknown)) if self.fast[id] => return Ok(()),
                    (None | Some(Seen::Released | Seen::Gone), Err(TicketError::Unknown)) => {
                        return Ok(())
                    }
                    (s, r) => return Err(format!("release of {id} in {s:?} returned {r:?}")),
                }
                self.seen[id] = Seen::Released;
            }
            (Action::Cancel { id }, Ret::Cancel(r)) => {
                let s = self.seen.get(id).copied();
                match (s, r) {
                    (Some(Seen::Waiting { .. }), Ok(Cancelled::Removed)) => {
                        self.seen[id] = Seen::Gone;
                        self.settle_waiter(id, "aborted")?;
                    }
                    (Some(Seen::Running { .. }), Ok(Cancelled::NowZombie)) => {
                        self.seen[id] = Seen::Zombie;
                        self.settle_op(id, "aborted")?;
                    }
                    (Some(Seen::Zombie | Seen::Detached), Ok(Cancelled::AlreadySettled)) => {}
                    (None | Some(Seen::Released | Seen::Gone), Err(TicketError::Unknown)) => {}
                    (Some(_), Err(TicketError::Unknown)) if self.fast[id] => {}
                    (s, r) => return Err(format!("cancel of {id} in {s:?} returned {r:?}")),
                }
            }
            (Action::Submit { short }, Ret::Submit(r)) => match r {
                Ok((granted, id)) => {
                    let new = self.register(short, false);
                    ensure(new == id, || format!("ids out of step: {new} vs {id}"))?;
                    if granted {
                        let op = self.op_of[id];
                        self.grant(id, op, false)?;
                    } else {
                        ensure(!self.closed, || "queued after close()".into())?;
                        ensure(self.active >= self.max, || {
                            format!("{id} queued while a slot was free")
                        })?;
                        let before = self.waiting().count() as u32;
                        ensure(before < self.cfg.max_queue, || {
                            format!("{id} queued beyond maxQueue")
                        })?;
                        self.seen[id] = Seen::Waiting {
                            queued_at: self.now,
                            deadline: self.now + QUEUE_TIMEOUT,
                        };
                    }
                }
                Err(Rejected::Closed) => {
                    ensure(self.closed, || "Rejected::Closed while open".into())?;
                }
                Err(Rejected::QueueFull { max_queue }) => {
                    ensure(
                        !self.closed
                            && max_queue == self.cfg.max_queue
                            && self.waiting().count() as u32 == max_queue
                            && self.active >= self.max,
                        || "QueueFull while the queue had room".into(),
                    )?;
                }
                Err(Rejected::NoWait) => return Err("NoWait with a queue timeout > 0".into()),
                Err(Rejected::WouldTimeOut { .. }) => {
                    return Err("WouldTimeOut without rejectEarly".into())
                }
            },
            (Action::TryAcquire, Ret::TryAcquire(r)) => {
                let could = !self.closed
                    && self.waiting().next().is_none()
                    && self.active < self.max
                    && !self.cfg.default_op_timeout;
                ensure(r.is_some() == could, || {
                    format!("try_acquire returned {r:?} when it could grant: {could}")
                })?;
                if let Some(id) = r {
                    let new = self.register(false, true);
                    ensure(new == id, || format!("ids out of step: {new} vs {id}"))?;
                    self.grant(id, NEVER, false)?;
                }
            }
            (Action::ReleaseClockFree { id, .. }, Ret::ReleaseClockFree(fast, done)) => {
                let held = self.fast.get(id) == Some(&true)
                    && matches!(self.seen[id], Seen::Running { .. });
                let nobody_waits = self.waiting().next().is_none();
                ensure(done == held && fast == (held && nobody_waits), || {
                    format!("release of clock-free {id}: (fast, done) = ({fast}, {done})")
                })?;
                if done {
                    self.active -= 1;
                    self.seen[id] = Seen::Released;
                }
            }
            (Action::Resize(n), Ret::Resize(ok)) => {
                ensure(ok == (n >= 1), || format!("resize to {n} returned {ok}"))?;
                if ok {
                    self.max = n;
                }
            }
            (Action::Close, _) => self.closed = true,
            _ => {}
        }
        Ok(())
    }
}

// ---- the simulation: gate + model + tracker -------------------------------------------------

/// A gate, the model and the tracker, driven in lockstep.
pub struct Sim {
    pub gate: Gate,
    pub model: Model,
    pub tracker: Tracker,
    tickets: Vec<Ticket>,
    ids: HashMap<Ticket, usize>,
    /// Compare with the reference model (off: only the tracker's checks run).
    pub compare_model: bool,
}

impl Sim {
    pub fn new(cfg: Cfg) -> Sim {
        Sim {
            gate: Gate::new(cfg.config()),
            model: Model::new(cfg),
            tracker: Tracker::new(cfg),
            tickets: Vec::new(),
            ids: HashMap::new(),
            compare_model: true,
        }
    }

    /// The configuration under test.
    pub fn model_cfg(&self) -> Cfg {
        self.model.cfg
    }

    fn id_of(&self, t: Ticket) -> Result<usize, String> {
        self.ids
            .get(&t)
            .copied()
            .ok_or_else(|| format!("event for a ticket never issued: {t:?}"))
    }

    fn ticket(&self, id: usize) -> Ticket {
        self.tickets
            .get(id)
            .copied()
            .unwrap_or(Ticket::from_bits(u64::MAX))
    }

    /// The instant the driver passes for `action`.
    pub fn time_for(&mut self, action: Action) -> u64 {
        let now = self.tracker.now;
        match action {
            Action::AdvanceTo(t) => t.max(now),
            Action::AdvanceBy(d) => now + d,
            Action::Timer => self
                .gate
                .poll_timeout()
                .map_or(now, |t| t.as_micros().max(now)),
            _ => now,
        }
    }

    /// Applies `action` and checks everything. `Err` describes the first broken guarantee.
    pub fn step(&mut self, action: Action) -> Result<(), String> {
        let now = self.time_for(action);
        let at = Instant::from_micros(now);
        self.tracker.now = now;
        let gate_ret = match action {
            Action::Submit { short } => {
                let request = Request {
                    operation_timeout: if short {
                        OperationTimeout::After(Duration::from_micros(SHORT_OP_TIMEOUT))
                    } else {
                        OperationTimeout::PoolDefault
                    },
                    ..Request::default()
                };
                let r = self.gate.submit(at, request);
                Ret::Submit(r.map(|s| {
                    let t = s.ticket();
                    let id = self.tickets.len();
                    self.tickets.push(t);
                    self.ids.insert(t, id);
                    (
                        matches!(s, Submitted::Granted(_) | Submitted::GrantedNoDeadline(_)),
                        id,
                    )
                }))
            }
            Action::Release { id, ok } => Ret::Release(self.gate.release(at, self.ticket(id), ok)),
            Action::TryAcquire => Ret::TryAcquire(self.gate.try_acquire().then(|| {
                // No ticket: a placeholder that the gate refuses like any bogus one.
                let id = self.tickets.len();
                self.tickets.push(Ticket::from_bits(u64::MAX));
                id
            })),
            Action::ReleaseClockFree { ok, .. } => {
                let fast = self.gate.try_release(ok);
                let done = fast || self.gate.release_clock_free(at, ok);
                Ret::ReleaseClockFree(fast, done)
            }
            Action::Cancel { id } => Ret::Cancel(self.gate.cancel(at, self.ticket(id))),
            Action::AdvanceTo(_) | Action::AdvanceBy(_) | Action::Timer => {
                self.gate.handle_timeout(at);
                Ret::Unit
            }
            Action::Resize(n) => Ret::Resize(self.gate.set_max_connections(at, n as f64).is_ok()),
            Action::Close => {
                self.gate.close(at);
                Ret::Unit
            }
        };
        let mut events = Vec::new();
        while let Some(e) = self.gate.poll_event() {
            events.push(match e {
                Event::Granted(t) => Ev::Granted(self.id_of(t)?),
                Event::QueueTimeout { ticket, waited } => Ev::QueueTimeout {
                    id: self.id_of(ticket)?,
                    waited: waited.as_micros(),
                },
                Event::OperationTimeout(t) => Ev::OperationTimeout(self.id_of(t)?),
                Event::Closed(t) => Ev::Closed(self.id_of(t)?),
            });
        }
        self.gate
            .check_invariants()
            .map_err(|e| format!("check_invariants: {e}"))?;

        if self.compare_model {
            let (model_ret, model_events) = self.model.apply(action, now);
            ensure(gate_ret == model_ret, || {
                format!("{action:?} returned {gate_ret:?}, model says {model_ret:?}")
            })?;
            ensure(events == model_events, || {
                format!("{action:?} emitted {events:?}, model says {model_events:?}")
            })?;
        }

        self.observe(action, gate_ret, &events)?;

        // A slot released once can never be released again.
        let released = match (action, gate_ret) {
            (Action::Release { id, .. }, Ret::Release(Ok(_))) => Some(id),
            _ => None,
        };
        if let Some(id) = released {
            let before = self.gate.stats();
            let again = self.gate.release(at, self.ticket(id), true);
            ensure(again == Err(TicketError::Unknown), || {
                format!("second release of {id} was {again:?}")
            })?;
            ensure(self.gate.poll_event().is_none(), || {
                "a refused release emitted an event".into()
            })?;
            ensure(self.gate.stats() == before, || {
                "a refused release changed the stats".into()
            })?;
        }
        self.check_state()
    }

    fn observe(&mut self, action: Action, ret: Ret, events: &[Ev]) -> Result<(), String> {
        let tr = &mut self.tracker;
        let shrink = matches!(action, Action::Resize(n) if n < tr.max);
        // The clock's events (timeouts, then grants of slots they freed) come first; a release,
        // cancel or resize then takes effect and hands slots on. A grant that needs the call's
        // effect to fit under the limit is taken as following it.
        let lazy = matches!(
            action,
            Action::Release { .. }
                | Action::Cancel { .. }
                | Action::Resize(_)
                | Action::ReleaseClockFree { .. }
        );
        let mut applied = false;
        for &ev in events {
            if lazy && !applied && matches!(ev, Ev::Granted(_)) && tr.active >= tr.max {
                tr.effect(action, ret)?;
                applied = true;
            }
            tr.event(ev, action)?;
        }
        if !applied {
            tr.effect(action, ret)?;
        }
        if action == Action::Close {
            ensure(tr.waiting().next().is_none(), || {
                "close() left a waiter".into()
            })?;
        }
        // Active never exceeds the limit, except right after a shrink until work drains.
        if shrink {
            tr.ceiling = tr.max.max(tr.active);
        } else {
            ensure(tr.active <= tr.max.max(tr.ceiling), || {
                format!("active {} above max {}", tr.active, tr.max)
            })?;
            tr.ceiling = tr.max.max(tr.active);
        }
        Ok(())
    }

    fn check_state(&mut self) -> Result<(), String> {
        // With a default operation timeout every grant has a deadline, so the clock-free path
        // must always refuse (and change nothing).
        if self.model.cfg.default_op_timeout {
            let r = self.gate.try_acquire();
            ensure(!r, || {
                "try_acquire granted with a default operation timeout".into()
            })?;
        }
        let tr = &self.tracker;
        let waiting = tr.waiting().count() as u32;
        // No lost wake-up.
        ensure(waiting == 0 || tr.active >= tr.max, || {
            format!(
                "lost wake-up: {waiting} waiting, active {} < max {}",
                tr.active, tr.max
            )
        })?;
        // No waiter lingers past its deadline.
        ensure(
            tr.seen
                .iter()
                .all(|s| !matches!(s, Seen::Waiting { deadline, .. } if *deadline <= tr.now)),
            || "a waiter is still waiting past its deadline".into(),
        )?;
        // Stats equal the real state.
        let s = self.gate.stats();
        let want = (tr.active, tr.max, waiting, tr.max.saturating_sub(tr.active));
        let got = (
            s.active_connections,
            s.max_connections,
            s.queued_connections,
            s.available_connections,
        );
        ensure(got == want, || {
            format!("stats (active, max, queued, available) {got:?}, expected {want:?}")
        })?;
        if tr.active == 0 {
            ensure(s.available_connections == s.max_connections, || {
                "idle but available != max".into()
            })?;
        }
        let m = self.gate.metrics();
        let zombies = tr.seen.iter().filter(|s| **s == Seen::Zombie).count() as u32;
        ensure(m.zombies == zombies, || {
            format!("metrics.zombies {} != {zombies}", m.zombies)
        })?;
        ensure(m.closed == tr.closed, || "metrics.closed wrong".into())?;
        // The one timer the driver arms is the earliest pending deadline: none re-armed,
        // none lost.
        let next = self.gate.poll_timeout().map(|t| t.as_micros());
        let want_next = tr.pending_deadlines().first().copied();
        ensure(next == want_next, || {
            format!("poll_timeout {next:?}, expected {want_next:?}")
        })?;
        if self.compare_model {
            let c = self.model.counts();
            let got = Counts {
                submitted: m.submitted,
                granted: m.granted,
                succeeded: m.succeeded,
                failed: m.failed,
                rejected_full: m.rejected_full,
                queue_timeouts: m.queue_timeouts,
                operation_timeouts: m.operation_timeouts,
                aborted: m.aborted,
                rejected_closed: m.rejected_closed,
                zombies: m.zombies,
                peak_active: m.peak_active,
                peak_queued: m.peak_queued,
                closed: m.closed,
                wait_count: m.wait.count,
                wait_max: m.wait.max.as_micros(),
                hold_count: m.hold.count,
                hold_max: m.hold.max.as_micros(),
            };
            ensure(got == c, || format!("metrics {got:?}, model says {c:?}"))?;
            let ms = (
                self.model.active(),
                self.model.max(),
                self.model.queued(),
                self.model.next_deadline(),
            );
            ensure(
                (
                    s.active_connections,
                    s.max_connections,
                    s.queued_connections,
                    next,
                ) == ms,
                || format!("stats/timer differ from model {ms:?}"),
            )?;
        }
        Ok(())
    }
}
