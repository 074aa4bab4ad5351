//! The fleet lease protocol: many instances ([`Fleet`]) against the reference model of the
//! store's script ([`Store`]), under random interleavings of arrivals, completions, grants,
//! renewals, lost and late messages, crashes, restarts and clock offsets.
//!
//! Checked after every step:
//! - the store never counts more than the fleet limit (unexpired leases only);
//! - an instance that believes its lease valid may use no more slots than the store counts
//!   for it (whatever the offsets between the clocks and however late the answers);
//! - an instance that never fell back runs no more operations than the store counts for it;
//! - with a healthy store (every message delivered), nobody falls back, and once the load
//!   stops every caller of every instance is served (no instance starves).

use poolgate_core::fleet::{Fleet, FleetConfig, FleetMode, LeaseReply, LeaseRequest, Store};
use poolgate_core::{Duration, Instant};
use proptest::prelude::*;

const LIMIT: u32 = 6;
const LEASE_MS: u64 = 1_000;

fn config(local_max: u32) -> FleetConfig {
    FleetConfig {
        block: 2,
        lease: Duration::from_millis(LEASE_MS),
        margin: Duration::from_millis(100),
        poll: Duration::from_millis(50),
        request_timeout: Duration::from_millis(200),
        fallback: 1,
        retry: Duration::from_millis(100),
        ..FleetConfig::new(LIMIT, local_max)
    }
    .validate()
    .unwrap()
}

struct Inst {
    id: u64,
    fleet: Fleet,
    /// Local clock = true time + offset (ms).
    offset: u64,
    local_max: u32,
    active: u32,
    queued: u32,
    alive: bool,
}

struct World {
    /// True time, ms.
    t: u64,
    /// Store clock = true time + offset.
    store_offset: u64,
    store: Store,
    insts: Vec<Inst>,
    requests: Vec<(usize, u64, LeaseRequest)>,
    replies: Vec<(usize, u64, LeaseReply)>,
    next_id: u64,
}

fn at(ms: u64) -> Instant {
    Instant::from_micros(ms * 1000)
}

impl World {
    fn new(offsets: &[u64], store_offset: u64) -> World {
        let mut w = World {
            t: 0,
            store_offset,
            store: Store::default(),
            insts: Vec::new(),
            requests: Vec::new(),
            replies: Vec::new(),
            next_id: 1,
        };
        for (i, &off) in offsets.iter().enumerate() {
            let local_max = 4 + (i as u32 % 3);
            let inst = w.fresh(off, local_max);
            w.insts.push(inst);
        }
        for i in 0..w.insts.len() {
            w.sync(i);
        }
        w
    }

    fn fresh(&mut self, offset: u64, local_max: u32) -> Inst {
        self.next_id += 1;
        Inst {
            id: self.next_id,
            fleet: Fleet::new(config(local_max)),
            offset,
            local_max,
            active: 0,
            queued: 0,
            alive: true,
        }
    }

    fn local(&self, i: usize) -> Instant {
        at(self.t + self.insts[i].offset)
    }

    fn store_now(&self) -> u64 {
        self.t + self.store_offset
    }

    /// What the driver does after every event: tell the machine the demand, let the gate
    /// grant up to min(local max, usable), send a request if one is due.
    fn sync(&mut self, i: usize) {
        if !self.insts[i].alive {
            return;
        }
        let now = self.local(i);
        let inst = &mut self.insts[i];
        inst.fleet.set_demand(now, inst.active, inst.queued);
        let limit = inst.local_max.min(inst.fleet.usable(now));
        while inst.queued > 0 && inst.active < limit {
            inst.queued -= 1;
            inst.active += 1;
        }
        inst.fleet.set_demand(now, inst.active, inst.queued);
        if let Some(req) = inst.fleet.poll_request(now) {
            let id = inst.id;
            self.requests.push((i, id, req));
        }
    }

    /// Moves true time forward by `ms`, firing every instance's timer on the way.
    fn advance(&mut self, ms: u64) {
        let end = self.t + ms;
        for round in 0.. {
            assert!(
                round < 100_000,
                "timers keep firing at {}: {:?}",
                self.t,
                self.insts
                    .iter()
                    .map(|x| (
                        x.active,
                        x.queued,
                        x.fleet.poll_timeout(),
                        x.fleet.stats(at(0))
                    ))
                    .collect::<Vec<_>>()
            );
            let next = (0..self.insts.len())
                .filter(|&i| self.insts[i].alive)
                .filter_map(|i| {
                    let at = self.insts[i]
                        .fleet
                        .poll_timeout()?
                        .as_micros()
                        .div_ceil(1000);
                    let t = at.saturating_sub(self.insts[i].offset).max(self.t);
                    Some((t, i))
                })
                .min();
            match next {
                Some((t, i)) if t <= end => {
                    self.t = t;
                    self.sync(i);
                    // The driver's timer must move on, or it would spin.
                    let again = self.insts[i].fleet.poll_timeout().map(|x| x.as_micros());
                    assert!(
                        again.map_or(true, |x| x > self.local(i).as_micros()),
                        "instance {i}: timer did not move past now: {:?}",
                        self.insts[i].fleet.stats(self.local(i))
                    );
                }
                _ => break,
            }
        }
        self.t = end;
    }

    fn deliver_request(&mut self, k: usize) {
        if self.requests.is_empty() {
            return;
        }
        let (i, id, req) = self.requests.remove(k % self.requests.len());
        let now = self.store_now();
        let reply = self.store.apply(now, id, req, LIMIT, LEASE_MS);
        self.replies.push((i, id, reply));
    }

    fn deliver_reply(&mut self, k: usize) {
        if self.replies.is_empty() {
            return;
        }
        let (i, id, reply) = self.replies.remove(k % self.replies.len());
        if self.insts[i].alive && self.insts[i].id == id {
            let now = self.local(i);
            self.insts[i].fleet.on_reply(now, reply);
            self.sync(i);
        }
    }

    fn check(&self) -> Result<(), String> {
        let now = self.store_now();
        let total = self.store.total(now);
        if total > LIMIT {
            return Err(format!("store counts {total} > limit {LIMIT}"));
        }
        for (i, inst) in self.insts.iter().enumerate() {
            if !inst.alive {
                continue;
            }
            let local = self.local(i);
            let in_store = self.store.held(inst.id, now);
            let usable = inst.fleet.usable(local);
            if inst.fleet.is_leased(local) && usable > in_store {
                return Err(format!(
                    "instance {i} may use {usable} slots, the store counts {in_store}"
                ));
            }
            if inst.fleet.stats(local).fallbacks == 0 && inst.active > in_store {
                return Err(format!(
                    "instance {i} runs {} operations, the store counts {in_store} ({:?})",
                    inst.active,
                    inst.fleet.stats(local)
                ));
            }
            if inst.active > inst.local_max {
                return Err(format!("instance {i} runs past its local max"));
            }
        }
        Ok(())
    }
}

#[derive(Clone, Debug)]
enum Step {
    Arrive(usize, u32),
    Finish(usize),
    DeliverRequest(usize),
    DeliverReply(usize),
    LoseRequest(usize),
    LoseReply(usize),
    Advance(u64),
    Crash(usize),
    Restart(usize, u64),
}

fn step(faults: bool) -> impl Strategy<Value = Step> {
    let base = prop_oneof![
        4 => (0..4usize, 1..4u32).prop_map(|(i, n)| Step::Arrive(i, n)),
        4 => (0..4usize).prop_map(Step::Finish),
        5 => (0..8usize).prop_map(Step::DeliverRequest),
        5 => (0..8usize).prop_map(Step::DeliverReply),
        3 => (1..400u64).prop_map(Step::Advance),
    ];
    if faults {
        prop_oneof![
            20 => base,
            1 => (0..8usize).prop_map(Step::LoseRequest),
            1 => (0..8usize).prop_map(Step::LoseReply),
            1 => (0..4usize).prop_map(Step::Crash),
            1 => (0..4usize, 0..1_000_000u64).prop_map(|(i, o)| Step::Restart(i, o)),
        ]
        .boxed()
    } else {
        base.boxed()
    }
}

fn run(w: &mut World, s: &Step) {
    let n = w.insts.len();
    match *s {
        Step::Arrive(i, k) => {
            let i = i % n;
            if w.insts[i].alive {
                w.insts[i].queued += k;
                w.sync(i);
            }
        }
        Step::Finish(i) => {
            let i = i % n;
            if w.insts[i].alive && w.insts[i].active > 0 {
                w.insts[i].active -= 1;
                w.sync(i);
            }
        }
        Step::DeliverRequest(k) => w.deliver_request(k),
        Step::DeliverReply(k) => w.deliver_reply(k),
        Step::LoseRequest(k) => {
            if !w.requests.is_empty() {
                let len = w.requests.len();
                w.requests.remove(k % len);
            }
        }
        Step::LoseReply(k) => {
            if !w.replies.is_empty() {
                let len = w.replies.len();
                w.replies.remove(k % len);
            }
        }
        Step::Advance(ms) => w.advance(ms),
        Step::Crash(i) => {
            let i = i % n;
            w.insts[i].alive = false;
        }
        Step::Restart(i, off) => {
            let i = i % n;
            if !w.insts[i].alive {
                let local_max = w.insts[i].local_max;
                w.insts[i] = w.fresh(off, local_max);
                w.sync(i);
            }
        }
    }
}

fn cases() -> u32 {
    std::env::var("POOLGATE_PROPTEST_CASES")
        .ok()
        .and_then(|s| s.parse().ok())
        .map_or(5_000, |n: u32| (n / 20).max(1))
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(), ..ProptestConfig::default() })]

    /// Safety under any interleaving, lost and late messages, crashes and clock offsets.
    #[test]
    fn fleet_limit_holds_under_faults(
        offsets in proptest::collection::vec(0..10_000_000u64, 2..5),
        store_offset in 0..10_000_000u64,
        steps in proptest::collection::vec(step(true), 1..150),
    ) {
        let mut w = World::new(&offsets, store_offset);
        w.check().map_err(TestCaseError::fail)?;
        for s in &steps {
            run(&mut w, s);
            w.check().map_err(|e| TestCaseError::fail(format!("after {s:?}: {e}")))?;
        }
    }

    /// With a store that answers every request (in any order, after any delay the steps give),
    /// nobody falls back while answers come within the request timeout, and once arrivals stop
    /// every caller everywhere is served.
    #[test]
    fn every_caller_is_served_with_a_healthy_store(
        offsets in proptest::collection::vec(0..10_000_000u64, 2..5),
        store_offset in 0..10_000_000u64,
        steps in proptest::collection::vec(step(false), 1..120),
    ) {
        let mut w = World::new(&offsets, store_offset);
        for s in &steps {
            run(&mut w, s);
            w.check().map_err(|e| TestCaseError::fail(format!("after {s:?}: {e}")))?;
        }
        // Drain: answers come at once, operations finish, time moves on.
        for round in 0..2_000 {
            let mut pings = 0;
            while !w.requests.is_empty() || !w.replies.is_empty() {
                pings += 1;
                prop_assert!(pings < 1_000, "request storm: {:?} {:?} {:?} {:?}", w.requests, w.replies, w.insts.iter().map(|x| (x.active, x.queued, x.fleet.poll_timeout(), x.fleet.stats(at(0)))).collect::<Vec<_>>(), w.store);
                w.deliver_request(0);
                w.deliver_reply(0);
                w.check().map_err(TestCaseError::fail)?;
            }
            let busy = w.insts.iter().any(|x| x.active + x.queued > 0);
            if !busy {
                break;
            }
            for i in 0..w.insts.len() {
                if w.insts[i].active > 0 {
                    w.insts[i].active -= 1;
                    w.sync(i);
                }
            }
            w.advance(10);
            w.check().map_err(TestCaseError::fail)?;
            prop_assert!(round < 1_999, "callers still waiting after the drain: {:?}",
                w.insts.iter().map(|x| (x.active, x.queued, x.fleet.stats(at(0)))).collect::<Vec<_>>());
        }
    }
}

/// Two instances, one store: the first takes a block at once and keeps the fast path (no
/// request while its slots suffice); a crash returns its slots within the lease time.
#[test]
fn blocks_fast_path_and_takeover_after_a_crash() {
    let mut w = World::new(&[0, 5_000], 77);
    // Both joined: one round trip each.
    w.deliver_request(0);
    w.deliver_request(0);
    w.deliver_reply(0);
    w.deliver_reply(0);
    assert!(w.requests.is_empty());
    assert_eq!(w.insts[0].fleet.usable(w.local(0)), 2);
    // One caller fits the block: no network call.
    run(&mut w, &Step::Arrive(0, 1));
    assert_eq!(w.insts[0].active, 1);
    // The second takes the last slot: the next block is asked for ahead of need.
    run(&mut w, &Step::Arrive(0, 1));
    assert_eq!(w.insts[0].active, 2);
    assert_eq!(w.requests.len(), 1);
    w.deliver_request(0);
    w.deliver_reply(0);
    assert_eq!(w.insts[0].fleet.usable(w.local(0)), 4);
    // Instance 0 grabs the rest; instance 1 wants them and waits.
    run(&mut w, &Step::Arrive(0, 2));
    w.deliver_request(0);
    w.deliver_reply(0);
    run(&mut w, &Step::Arrive(1, 5));
    while !w.requests.is_empty() || !w.replies.is_empty() {
        w.deliver_request(0);
        w.deliver_reply(0);
    }
    let held0 = w.store.held(w.insts[0].id, w.store_now());
    assert!(held0 >= 4, "instance 0 holds {held0}");
    // Instance 0 crashes while it holds them; instance 1 keeps polling.
    w.insts[0].alive = false;
    let crash = w.t;
    while w.insts[1].active < 5 && w.t < crash + 3 * LEASE_MS {
        w.advance(10);
        while !w.requests.is_empty() || !w.replies.is_empty() {
            w.deliver_request(0);
            w.deliver_reply(0);
        }
        w.check().unwrap();
    }
    assert_eq!(w.insts[1].active, 5);
    assert!(
        w.t <= crash + LEASE_MS + 100,
        "takeover after {} ms",
        w.t - crash
    );
    assert_eq!(w.insts[1].fleet.stats(w.local(1)).mode, FleetMode::Leased);
}

/// An unreachable store: the lease lapses, the instance serves on the fallback limit, and
/// rejoins when the store answers again.
#[test]
fn fallback_and_rejoin() {
    let mut w = World::new(&[123], 0);
    w.deliver_request(0);
    w.deliver_reply(0);
    run(&mut w, &Step::Arrive(0, 3));
    assert_eq!(w.insts[0].active, 2);
    // Every request is lost from now on.
    for _ in 0..100 {
        w.requests.clear();
        w.advance(20);
    }
    let s = w.insts[0].fleet.stats(w.local(0));
    assert_eq!(s.mode, FleetMode::Fallback);
    assert!(s.failures > 0 && s.fallbacks == 1);
    // Two finish; the waiter runs on the fallback limit of 1.
    run(&mut w, &Step::Finish(0));
    run(&mut w, &Step::Finish(0));
    assert_eq!(w.insts[0].active, 1);
    // The store is back: a retry rejoins.
    w.requests.clear();
    for _ in 0..10 {
        w.advance(50);
        while !w.requests.is_empty() || !w.replies.is_empty() {
            w.deliver_request(0);
            w.deliver_reply(0);
        }
    }
    assert_eq!(w.insts[0].fleet.stats(w.local(0)).mode, FleetMode::Leased);
    w.check().unwrap();
}

/// A request delivered after a newer one from the same instance changes nothing.
#[test]
fn a_late_request_is_ignored_by_the_store() {
    let mut s = Store::default();
    let r = |seq, want| LeaseRequest {
        seq,
        want,
        waiting: false,
    };
    assert_eq!(s.apply(0, 1, r(2, 4), LIMIT, LEASE_MS).held, 4);
    assert_eq!(s.apply(10, 1, r(1, 1), LIMIT, LEASE_MS).held, 4);
    assert_eq!(s.held(1, 10), 4);
    // Expired entries stop counting.
    assert_eq!(s.total(LEASE_MS), 0);
}

/// Freed slots go to an instance whose callers wait before one that wants headroom.
#[test]
fn waiters_come_before_headroom() {
    let mut s = Store::default();
    let r = |seq, want, waiting| LeaseRequest { seq, want, waiting };
    assert_eq!(
        s.apply(0, 1, r(1, LIMIT, false), LIMIT, LEASE_MS).held,
        LIMIT
    );
    // Instance 2 waits; instance 3 only wants headroom.
    assert_eq!(s.apply(1, 2, r(1, 2, true), LIMIT, LEASE_MS).held, 0);
    assert_eq!(s.apply(2, 3, r(1, 2, false), LIMIT, LEASE_MS).held, 0);
    let back = s.apply(3, 1, r(2, LIMIT - 2, false), LIMIT, LEASE_MS);
    assert_eq!(back.others_waiting, 1);
    // Headroom is refused while instance 2 waits; instance 2 gets both.
    assert_eq!(s.apply(4, 3, r(2, 2, false), LIMIT, LEASE_MS).held, 0);
    assert_eq!(s.apply(5, 2, r(2, 2, true), LIMIT, LEASE_MS).held, 2);
}
