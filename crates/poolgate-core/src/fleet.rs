//! Fleet leases: one limit for every instance that shares a key in a store (Redis).
//!
//! A gate bounds one process. Instances of an autoscaled app each run their own gate, so the
//! database sees `instances x maxConnections`. A [`Fleet`] makes an instance hold *fleet slots*,
//! leased from a store that every instance shares, and the gate then runs at most
//! `min(maxConnections, usable fleet slots)` operations (see `Gate::set_fleet_limit`).
//!
//! # Who decides what
//! This machine is sans-IO like the gate. It decides how many slots the instance should hold,
//! when to ask for more, when to renew and when to give back; the driver runs one atomic store
//! script per [`LeaseRequest`] and feeds the answer back with [`Fleet::on_reply`] (or
//! [`Fleet::on_failure`]), exactly like a timer firing. The store's side of the protocol is
//! [`Store`]: a reference model of the Lua script the driver runs, used by the tests.
//!
//! # Blocks, and the fast path
//! Slots are leased in blocks of [`FleetConfig::block`]: an instance asks for more only when
//! every slot it holds is busy, and keeps a block spare while nobody else waits, so an
//! uncontended call never waits on the network. A lease change costs one round trip.
//!
//! # Whose clock
//! Lease validity is measured by the store: the script stamps each lease with the store's
//! `TIME` and answers with the time left on it (`ttl`). The instance only ever uses *durations*
//! from its own monotonic clock: it counts the lease as valid until `sent + ttl - margin`, where
//! `sent` is when the request left, before the store could have stamped it. So whatever the
//! offset between the clocks, and however long the request and its answer travel, the instance
//! stops using its slots before the store frees them (given clocks that tick at the same rate
//! to within the margin).
//!
//! # Expiry, fallback and rejoin
//! Leases expire in the store unless renewed, so a crashed instance's slots come back within
//! the lease time. When the store does not answer (error, or no answer within
//! [`FleetConfig::request_timeout`]) the instance keeps its lease until it lapses, then falls
//! back to [`FleetConfig::fallback`] local slots, keeps serving, counts the outage, and retries
//! every [`FleetConfig::retry`] until the store answers again.
//!
//! # Fairness between instances
//! An instance whose callers wait joins a FIFO queue in the store (a ticket counter); freed
//! slots go to the queue's head first, and an instance that only wants headroom gets none while
//! anyone waits. While others wait, every instance keeps at most its fair share
//! (`limit / instances`, at least 1) and gives back the rest as its operations finish, so no
//! instance keeps the others out. (With more instances than the fleet limit, an instance holding
//! its one slot keeps it while its own callers keep it busy; size the limit at least to the
//! number of instances.)

use crate::time::{Duration, Instant};
use std::collections::BTreeMap;

/// Settings of a fleet lease. Build with [`FleetConfig::new`], which checks them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FleetConfig {
    /// Slots the whole fleet may hold at once.
    pub limit: u32,
    /// This instance's own `maxConnections`: it never asks for more.
    pub local_max: u32,
    /// Slots asked for at a time, and kept spare while nobody else waits.
    pub block: u32,
    /// How long a lease lasts in the store after each renewal.
    pub lease: Duration,
    /// Subtracted from the store's time left, for clocks that drift apart.
    pub margin: Duration,
    /// How often an instance re-asks while it (or another instance) waits.
    pub poll: Duration,
    /// A store call that has not answered by then counts as failed.
    pub request_timeout: Duration,
    /// Local limit while the store is unreachable and no valid lease is held.
    pub fallback: u32,
    /// Back-off between attempts after a failure.
    pub retry: Duration,
}

/// Why a [`FleetConfig`] was refused; the message names the option.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FleetConfigError(pub String);

impl core::fmt::Display for FleetConfigError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(&self.0)
    }
}

impl FleetConfig {
    /// Defaults for a fleet `limit` and a local `local_max`: blocks of a quarter of the local
    /// max (at least 1), leases of 10 s with a 1 s margin, polls every 100 ms, store calls
    /// timed out after 1 s, a fallback of 1 slot, retries every 500 ms.
    pub fn new(limit: u32, local_max: u32) -> FleetConfig {
        FleetConfig {
            limit,
            local_max,
            block: (local_max / 4).max(1),
            lease: Duration::from_millis(10_000),
            margin: Duration::from_millis(1_000),
            poll: Duration::from_millis(100),
            request_timeout: Duration::from_millis(1_000),
            fallback: 1,
            retry: Duration::from_millis(500),
        }
    }

    /// Checks the settings together.
    pub fn validate(self) -> Result<FleetConfig, FleetConfigError> {
        let err = |s: &str| Err(FleetConfigError(s.to_string()));
        if self.limit == 0 {
            return err("fleet.limit must be a whole number >= 1 (slots for the whole fleet)");
        }
        if self.block == 0 {
            return err("fleet.block must be a whole number >= 1");
        }
        if self.margin.as_micros() * 2 >= self.lease.as_micros() {
            return err("fleet.leaseMs must be more than twice fleet.marginMs");
        }
        if self.request_timeout.as_micros() == 0
            || self.request_timeout.as_micros() * 2 > self.lease.as_micros()
        {
            return err("fleet.requestTimeoutMs must be > 0 and at most half of fleet.leaseMs");
        }
        if self.poll.as_micros() == 0 || self.retry.as_micros() == 0 {
            return err("fleet.pollMs and fleet.retryMs must be > 0");
        }
        Ok(self)
    }
}

/// What the driver must send to the store: "this instance wants to hold `want` slots".
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LeaseRequest {
    /// Increases with every request; the store ignores one older than the last it applied.
    pub seq: u64,
    /// Slots this instance wants to hold after this call (fewer than held: gives back).
    pub want: u32,
    /// Whether callers of this instance wait (it then queues in the store for freed slots).
    pub waiting: bool,
}

/// The store's answer to a [`LeaseRequest`], as the script returns it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LeaseReply {
    /// The request answered.
    pub seq: u64,
    /// Slots this instance holds now.
    pub held: u32,
    /// Time left on the lease by the store's clock (zero when nothing is held).
    pub ttl: Duration,
    /// Other instances whose callers wait for slots.
    pub others_waiting: u32,
    /// Instances with a live lease or queue entry, this one included.
    pub instances: u32,
}

/// Where the instance stands with the store.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum FleetMode {
    /// No answer from the store yet.
    #[default]
    Joining,
    /// Holds a lease the store counts.
    Leased,
    /// The store could not be reached and no lease is valid: runs on the fallback limit.
    Fallback,
}

/// Counters of a fleet lease (for metrics and alerts).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FleetStats {
    /// Where the instance stands.
    pub mode: FleetMode,
    /// Slots the store counts for this instance (as far as it knows).
    pub held: u32,
    /// Slots the gate may use now.
    pub usable: u32,
    /// Store calls sent.
    pub requests: u64,
    /// Store calls that failed or timed out.
    pub failures: u64,
    /// Times the instance fell back to its local limit.
    pub fallbacks: u64,
    /// Other instances waiting, at the last answer.
    pub others_waiting: u32,
    /// Instances sharing the key, at the last answer.
    pub instances: u32,
}

#[derive(Clone, Copy, Debug)]
struct InFlight {
    seq: u64,
    want: u32,
    sent: Instant,
}

/// The instance's side of a fleet lease. See the module docs.
#[derive(Debug)]
pub struct Fleet {
    config: FleetConfig,
    /// Slots this instance may count as its own in the store (the smaller of what it was
    /// granted and what it asked for since, when an answer is missing).
    held: u32,
    /// Local time until which `held` is valid (exclusive).
    valid_until: Instant,
    in_flight: Option<InFlight>,
    next_seq: u64,
    /// Earliest time of the next request (renewal, poll or retry).
    next_at: Instant,
    active: u32,
    queued: u32,
    /// The last answer granted less than asked: wait for the next poll before asking again.
    starved: bool,
    closed: bool,
    stats: FleetStats,
}

impl Fleet {
    /// A fleet lease that holds nothing yet; its first request is due at once.
    pub fn new(config: FleetConfig) -> Fleet {
        Fleet {
            config,
            held: 0,
            valid_until: Instant::ZERO,
            in_flight: None,
            next_seq: 1,
            next_at: Instant::ZERO,
            active: 0,
            queued: 0,
            starved: false,
            closed: false,
            stats: FleetStats::default(),
        }
    }

    /// The settings.
    pub fn config(&self) -> &FleetConfig {
        &self.config
    }

    /// Records the gate's demand (`active` operations running, `queued` callers waiting).
    pub fn set_demand(&mut self, now: Instant, active: u32, queued: u32) {
        self.active = active;
        self.queued = queued;
        self.handle_timeout(now);
    }

    /// From now on, holds only what running operations need, then nothing: call on close.
    pub fn close(&mut self, now: Instant) {
        self.closed = true;
        self.next_at = now;
    }

    /// Whether this instance holds a valid lease at `now`.
    pub fn is_leased(&self, now: Instant) -> bool {
        self.stats.mode == FleetMode::Leased && now < self.valid_until
    }

    /// Slots the gate may use at `now`: the valid lease (but no more than a pending request
    /// asks for, nor more than the fair share while others wait), or the fallback limit.
    pub fn usable(&self, now: Instant) -> u32 {
        match self.stats.mode {
            FleetMode::Joining => 0,
            FleetMode::Fallback => self.config.fallback,
            FleetMode::Leased if now >= self.valid_until && self.held > 0 => 0,
            FleetMode::Leased => {
                let mut n = self.held;
                if let Some(f) = self.in_flight {
                    // A give-back may already be applied: use no more than it leaves.
                    n = n.min(f.want);
                }
                if self.stats.others_waiting > 0 {
                    n = n.min(self.share().max(self.active));
                }
                if self.closed {
                    n = n.min(self.active);
                }
                n
            }
        }
    }

    /// Nothing to hold, renew or ask for: the store has no entry for this instance (or the pool
    /// closed), and no caller waits.
    fn idle(&self) -> bool {
        self.held == 0
            && self.queued == 0
            && self.target() == 0
            && (self.stats.mode == FleetMode::Leased || self.closed)
    }

    /// Slots kept while others wait: this instance's share of the fleet.
    fn share(&self) -> u32 {
        (self.config.limit / self.stats.instances.max(1)).max(1)
    }

    /// How many slots this instance wants to hold, given its demand.
    fn target(&self) -> u32 {
        let demand = self.active.saturating_add(self.queued);
        if self.closed {
            return self.active;
        }
        let want = if self.stats.others_waiting > 0 {
            demand.min(self.share())
        } else {
            // A block spare above demand, rounded to whole blocks.
            let b = self.config.block;
            (demand / b).saturating_add(1).saturating_mul(b)
        };
        want.max(self.active).min(self.config.local_max)
    }

    /// The next request to send at `now`, if one is due. At most one is in flight.
    pub fn poll_request(&mut self, now: Instant) -> Option<LeaseRequest> {
        self.handle_timeout(now);
        if self.in_flight.is_some() {
            return None;
        }
        let want = self.target();
        let waiting = self.queued > 0 && !self.closed;
        if self.idle() {
            return None;
        }
        let leased = self.stats.mode == FleetMode::Leased;
        let due = now >= self.next_at
            // More is needed now (every slot is busy), and the last answer did not refuse it.
            || (leased && !self.starved && want > self.held && (waiting || self.active >= self.held))
            // Slots to give back while others wait.
            || (leased && self.stats.others_waiting > 0 && self.held > want);
        if !due {
            return None;
        }
        let seq = self.next_seq;
        self.next_seq += 1;
        self.in_flight = Some(InFlight {
            seq,
            want,
            sent: now,
        });
        self.stats.requests += 1;
        Some(LeaseRequest { seq, want, waiting })
    }

    /// The store answered request `reply.seq` at `now`. An answer to anything but the request
    /// in flight is ignored.
    pub fn on_reply(&mut self, now: Instant, reply: LeaseReply) {
        let Some(f) = self.in_flight.filter(|f| f.seq == reply.seq) else {
            return;
        };
        self.in_flight = None;
        self.held = reply.held;
        self.starved = reply.held < f.want;
        let margin = self.config.margin.as_micros();
        let ttl = reply.ttl.as_micros();
        self.valid_until = if ttl > margin {
            f.sent.saturating_add(Duration::from_micros(ttl - margin))
        } else {
            f.sent
        };
        self.stats.others_waiting = reply.others_waiting;
        self.stats.instances = reply.instances.max(1);
        self.stats.mode = FleetMode::Leased;
        let contended = reply.others_waiting > 0 || (self.queued > 0 && self.starved);
        let wait = if contended {
            self.config.poll
        } else {
            Duration::from_micros(self.config.lease.as_micros() / 3)
        };
        // Renew well before the lease runs out either way.
        self.next_at = if self.held > 0 {
            let renew = Duration::from_micros(ttl.saturating_sub(margin) / 2);
            now.saturating_add(if renew < wait { renew } else { wait })
                .min(self.valid_until)
        } else {
            now.saturating_add(wait)
        };
    }

    /// The request `seq` failed (the store returned an error or could not be reached).
    pub fn on_failure(&mut self, now: Instant, seq: u64) {
        if self.in_flight.is_some_and(|f| f.seq == seq) {
            self.fail(now);
        }
    }

    fn fail(&mut self, now: Instant) {
        if let Some(f) = self.in_flight.take() {
            // The store may or may not have applied it: count only what both allow.
            self.held = self.held.min(f.want);
        }
        self.stats.failures += 1;
        self.next_at = now.saturating_add(self.config.retry);
        // Nothing valid to run on: serve on the fallback limit until the store answers.
        if self.stats.mode != FleetMode::Fallback && !(self.held > 0 && now < self.valid_until) {
            self.enter_fallback();
        }
    }

    fn enter_fallback(&mut self) {
        self.stats.mode = FleetMode::Fallback;
        self.stats.fallbacks += 1;
        self.held = 0;
        self.stats.others_waiting = 0;
    }

    /// Fires what is due at `now`: a request that took too long fails, a lease that was not
    /// renewed in time lapses. Calling it early, late or twice is harmless.
    pub fn handle_timeout(&mut self, now: Instant) {
        if self
            .in_flight
            .is_some_and(|f| now >= f.sent.saturating_add(self.config.request_timeout))
        {
            self.fail(now);
        }
        // A lease that was not renewed in time lapses.
        if self.stats.mode == FleetMode::Leased && self.held > 0 && now >= self.valid_until {
            self.enter_fallback();
        }
    }

    /// When the driver must call [`Fleet::poll_request`] / [`Fleet::handle_timeout`] next:
    /// the pending request's timeout, the lease's end, or the next renewal, poll or retry.
    /// After those calls it is always later than `now`, so a timer never spins.
    pub fn poll_timeout(&self) -> Option<Instant> {
        let lapse = if self.stats.mode == FleetMode::Leased && self.held > 0 {
            self.valid_until
        } else {
            Instant::NEVER
        };
        let at = match self.in_flight {
            Some(f) => f.sent.saturating_add(self.config.request_timeout),
            None if self.idle() => Instant::NEVER,
            None => self.next_at,
        };
        let at = at.min(lapse);
        (at != Instant::NEVER).then_some(at)
    }

    /// Counters and gauges at `now`.
    pub fn stats(&self, now: Instant) -> FleetStats {
        FleetStats {
            held: self.held,
            usable: self.usable(now),
            ..self.stats
        }
    }
}

/// One instance's entry in the [`Store`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StoreEntry {
    /// Slots held.
    pub held: u32,
    /// Store time at which the entry expires.
    pub expires: u64,
    /// Last request applied.
    pub seq: u64,
    /// Queue ticket, when its callers wait.
    pub ticket: Option<u64>,
}

/// A reference model of the store's Lua script (pkg/src/fleet/scripts.js): the same steps on
/// the same data, with the store's clock in milliseconds passed in. The tests drive it against
/// many [`Fleet`]s.
#[derive(Clone, Debug, Default)]
pub struct Store {
    /// Entries by instance id.
    pub entries: BTreeMap<u64, StoreEntry>,
    /// The ticket counter.
    pub tickets: u64,
}

impl Store {
    /// Slots counted at store time `now_ms`, expired entries excluded.
    pub fn total(&self, now_ms: u64) -> u32 {
        self.entries
            .values()
            .filter(|e| e.expires > now_ms)
            .map(|e| e.held)
            .sum()
    }

    /// Slots counted for `id` at store time `now_ms` (0 once expired).
    pub fn held(&self, id: u64, now_ms: u64) -> u32 {
        self.entries
            .get(&id)
            .filter(|e| e.expires > now_ms)
            .map_or(0, |e| e.held)
    }

    /// Applies one request from instance `id` at store time `now_ms` (what `TIME` returns),
    /// for a fleet of `limit` slots and leases of `lease_ms`; returns the reply.
    pub fn apply(
        &mut self,
        now_ms: u64,
        id: u64,
        req: LeaseRequest,
        limit: u32,
        lease_ms: u64,
    ) -> LeaseReply {
        // 1. Drop expired entries (and their queue tickets).
        self.entries.retain(|_, e| e.expires > now_ms);
        let mine = self.entries.get(&id).copied();
        let reply = |s: &Store, held: u32, ttl: u64| {
            let queued = s.entries.values().filter(|e| e.ticket.is_some()).count() as u32;
            let me_queued = s.entries.get(&id).is_some_and(|e| e.ticket.is_some());
            LeaseReply {
                seq: req.seq,
                held,
                ttl: Duration::from_millis(ttl),
                others_waiting: queued - u32::from(me_queued),
                instances: s.entries.len() as u32,
            }
        };
        // 2. A request older than the last one applied changes nothing.
        if let Some(e) = mine.filter(|e| req.seq <= e.seq) {
            return reply(self, e.held, e.expires - now_ms);
        }
        let mut e = mine.unwrap_or(StoreEntry {
            held: 0,
            expires: 0,
            seq: 0,
            ticket: None,
        });
        e.seq = req.seq;
        if !req.waiting || req.want <= e.held {
            e.ticket = None;
        }
        let others: u32 = self
            .entries
            .iter()
            .filter(|(k, _)| **k != id)
            .map(|(_, e)| e.held)
            .sum();
        if req.want <= e.held {
            // 3. Give back (or renew).
            e.held = req.want;
        } else {
            // 4. Grow: waiters queue by ticket; freed slots go to the head of the queue, and
            //    headroom only when nobody waits.
            if req.waiting && e.ticket.is_none() {
                self.tickets += 1;
                e.ticket = Some(self.tickets);
            }
            let head = self
                .entries
                .iter()
                .filter(|(k, _)| **k != id)
                .filter_map(|(_, o)| o.ticket)
                .min();
            let allowed = match (e.ticket, head) {
                (_, None) => true,
                (Some(mine), Some(h)) => mine < h,
                (None, Some(_)) => false,
            };
            let free = limit.saturating_sub(others.saturating_add(e.held));
            if allowed && free > 0 {
                e.held += (req.want - e.held).min(free);
                e.ticket = None;
            }
        }
        // 5. Keep the entry only while it holds or waits.
        if e.held == 0 && e.ticket.is_none() {
            self.entries.remove(&id);
            return reply(self, 0, 0);
        }
        e.expires = now_ms + lease_ms;
        self.entries.insert(id, e);
        reply(self, e.held, lease_ms)
    }
}
