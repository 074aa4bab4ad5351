//! The core's later rules against a reference model of their own: the retry state machine
//! (attempts, back-off without a slot, requeue behind later callers, give-up reasons, the
//! overall deadline) and the adaptive limit (halve once per overload, floor, grow back one per
//! window of clean operations). `common/mod.rs` models the basic gate; this model is the same
//! idea kept small for these rules: a `Vec` FIFO, linear scans, every decision written out
//! plainly. Early rejection depends on the hold-time histogram's quantile and is checked by
//! `tests/gate.rs` and the spec instead.
//!
//! Both an exhaustive search (every action sequence to `POOLGATE_RULES_DEPTH`, 6 by default)
//! and random sequences (proptest, `POOLGATE_PROPTEST_CASES`) compare every answer, every
//! event, the stats and the effective limit with the model after each step, and run
//! `Gate::check_invariants`.

use poolgate_core::{
    Cancelled, Config, Duration, ErrorClass, Event, Gate, GiveUp, Instant, Outcome, RawRetryPolicy,
    Rejected, Released, Request, RetryPolicy, RetryPolicyId, Submitted, Ticket, TicketError,
};
use proptest::prelude::*;

/// Queue timeout, back-off base and overall budget, in microseconds.
const QUEUE_TIMEOUT: u64 = 100;
const DELAY: u64 = 30;
const BUDGET: u64 = 200;
const MAX_RETRIES: u32 = 2;
const NEVER: u64 = u64::MAX;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Cfg {
    max: u32,
    /// The adaptive limit's floor, when on.
    adaptive: Option<u32>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Action {
    /// Submit: with a retry policy (and an overall budget), idempotent or not.
    Submit {
        retry: bool,
        budget: bool,
        idempotent: bool,
    },
    /// The operation of `id` settled (`None`: ok).
    Release {
        id: usize,
        fail: Option<ErrorClass>,
    },
    Cancel {
        id: usize,
    },
    /// The clock moves just past this deadline.
    AdvanceTo(u64),
}

const CLASSES: [ErrorClass; 5] = [
    ErrorClass::Permanent,
    ErrorClass::NotSent,
    ErrorClass::MaybeSent,
    ErrorClass::TooManyConnections,
    ErrorClass::LoginLockout,
];

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum St {
    Queued,
    Active,
    Zombie,
    Sleeping,
    Done,
}

#[derive(Clone, Debug)]
struct Entry {
    st: St,
    since: u64,
    deadline: u64,
    /// Every (deadline, sequence) the gate pushed a timer record for: a deadline fires with
    /// its latest record's sequence, as the gate's timer heap orders them.
    records: Vec<(u64, u64)>,
    retry: bool,
    idempotent: bool,
    overall: u64,
    failed: u32,
}

impl Entry {
    fn seq(&self) -> u64 {
        self.records
            .last()
            .filter(|r| r.0 == self.deadline)
            .map_or(NEVER, |r| r.1)
    }
}

/// What the model and the gate answered, in test ids.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Ret {
    Submit(Result<(bool, usize), Rejected>),
    Release(Result<Released, TicketError>),
    Cancel(Result<Cancelled, TicketError>),
    Unit,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Ev {
    Granted(usize),
    QueueTimeout(usize, u64),
    OperationTimeout(usize),
}

struct Model {
    cfg: Cfg,
    now: u64,
    limit: u32,
    last_cut: Option<u64>,
    clean: u32,
    active: u32,
    seq: u64,
    entries: Vec<Entry>,
    queue: Vec<usize>,
    events: Vec<Ev>,
}

impl Model {
    fn new(cfg: Cfg) -> Model {
        Model {
            cfg,
            now: 0,
            limit: cfg.max,
            last_cut: None,
            clean: 0,
            active: 0,
            seq: 0,
            entries: Vec::new(),
            queue: Vec::new(),
            events: Vec::new(),
        }
    }

    fn set_deadline(&mut self, id: usize, at: u64) {
        self.seq += 1;
        let e = &mut self.entries[id];
        e.deadline = at;
        e.records.push((at, self.seq));
    }

    fn pending(&self) -> Vec<u64> {
        let mut d: Vec<u64> = self
            .entries
            .iter()
            .filter(|e| matches!(e.st, St::Queued | St::Active | St::Sleeping))
            .map(|e| e.deadline)
            .filter(|&d| d != NEVER)
            .collect();
        d.sort_unstable();
        d.dedup();
        d
    }

    fn slot_free(&self) -> bool {
        self.queue.is_empty() && self.active < self.limit
    }

    fn advance(&mut self, now: u64) -> u64 {
        self.now = self.now.max(now);
        let now = self.now;
        loop {
            let due = self
                .entries
                .iter()
                .enumerate()
                .filter(|(_, e)| matches!(e.st, St::Queued | St::Active | St::Sleeping))
                .filter(|(_, e)| e.deadline <= now)
                .min_by_key(|(_, e)| (e.deadline, e.seq()))
                .map(|(i, _)| i);
            let Some(id) = due else { break };
            match self.entries[id].st {
                St::Queued => {
                    self.queue.retain(|&q| q != id);
                    self.entries[id].st = St::Done;
                    let waited = now - self.entries[id].since;
                    self.events.push(Ev::QueueTimeout(id, waited));
                }
                St::Active => {
                    self.entries[id].st = St::Zombie;
                    self.entries[id].deadline = NEVER;
                    self.events.push(Ev::OperationTimeout(id));
                }
                St::Sleeping => {
                    // Back-off over: queue again (or leave at once if it cannot wait).
                    let overall = self.entries[id].overall;
                    let deadline = (now + QUEUE_TIMEOUT).min(overall);
                    if overall <= now || (deadline <= now && !self.slot_free()) {
                        self.entries[id].st = St::Done;
                        self.events.push(Ev::QueueTimeout(id, 0));
                    } else {
                        self.entries[id].st = St::Queued;
                        self.entries[id].since = now;
                        self.set_deadline(id, deadline.max(now + 1));
                        self.queue.push(id);
                    }
                }
                _ => unreachable!(),
            }
        }
        self.grant(now);
        now
    }

    fn start(&mut self, id: usize, now: u64) {
        let e = &mut self.entries[id];
        e.st = St::Active;
        e.since = now;
        let overall = e.overall;
        e.deadline = NEVER;
        if overall != NEVER {
            self.set_deadline(id, overall);
        }
        self.active += 1;
    }

    fn grant(&mut self, now: u64) {
        while self.active < self.limit && !self.queue.is_empty() {
            let id = self.queue.remove(0);
            self.start(id, now);
            self.events.push(Ev::Granted(id));
        }
    }

    fn submit(&mut self, now: u64, retry: bool, budget: bool, idempotent: bool) -> Ret {
        let now = self.advance(now);
        let overall = if retry && budget { now + BUDGET } else { NEVER };
        let id = self.entries.len();
        let entry = Entry {
            st: St::Done,
            since: now,
            deadline: NEVER,
            records: Vec::new(),
            retry,
            idempotent,
            overall,
            failed: 0,
        };
        if self.slot_free() {
            self.entries.push(entry);
            self.start(id, now);
            return Ret::Submit(Ok((true, id)));
        }
        self.entries.push(Entry {
            st: St::Queued,
            ..entry
        });
        self.set_deadline(id, (now + QUEUE_TIMEOUT).min(overall));
        self.queue.push(id);
        Ret::Submit(Ok((false, id)))
    }

    fn outcome(&mut self, now: u64, granted_at: u64, fail: Option<ErrorClass>) {
        let Some(min) = self.cfg.adaptive else { return };
        // Granted under the limit before the last cut: says nothing about the new one.
        if self.last_cut.is_some_and(|c| granted_at < c) {
            return;
        }
        match fail {
            Some(ErrorClass::TooManyConnections) => {
                self.limit = (self.limit / 2).max(min);
                self.last_cut = Some(now);
                self.clean = 0;
            }
            None => {
                self.clean += 1;
                if self.clean >= self.limit && self.limit < self.cfg.max {
                    self.limit += 1;
                    self.clean = 0;
                }
            }
            Some(_) => {}
        }
    }

    fn release(&mut self, now: u64, id: usize, fail: Option<ErrorClass>) -> Ret {
        let now = self.advance(now);
        let Some(e) = self.entries.get(id).cloned() else {
            return Ret::Release(Err(TicketError::Unknown));
        };
        let released = match e.st {
            St::Active => Released::Completed,
            St::Zombie => Released::ZombieEnded,
            St::Queued | St::Sleeping => return Ret::Release(Err(TicketError::NotHeld)),
            St::Done => return Ret::Release(Err(TicketError::Unknown)),
        };
        self.active -= 1;
        self.outcome(now, e.since, fail);
        let mut result = released;
        self.entries[id].st = St::Done;
        if let (Released::Completed, Some(class), true) = (released, fail, e.retry) {
            let failed = e.failed + 1;
            let give_up = match class {
                ErrorClass::Permanent => Some(GiveUp::NotRetryable),
                ErrorClass::MaybeSent if !e.idempotent => Some(GiveUp::MaybeExecuted),
                _ if failed > MAX_RETRIES => Some(GiveUp::Exhausted),
                _ => None,
            };
            let wake = now + DELAY * u64::from(failed);
            result = match give_up {
                Some(why) => Released::GaveUp(why),
                None if e.overall != NEVER && wake >= e.overall => {
                    Released::GaveUp(GiveUp::Deadline)
                }
                None => {
                    let entry = &mut self.entries[id];
                    entry.st = St::Sleeping;
                    entry.since = now;
                    entry.failed = failed;
                    self.set_deadline(id, wake);
                    Released::Retrying {
                        at: Instant::from_micros(wake),
                    }
                }
            };
        }
        self.grant(now);
        Ret::Release(Ok(result))
    }

    fn cancel(&mut self, now: u64, id: usize) -> Ret {
        self.advance(now);
        let Some(e) = self.entries.get(id) else {
            return Ret::Cancel(Err(TicketError::Unknown));
        };
        let out = match e.st {
            St::Queued => {
                self.queue.retain(|&q| q != id);
                self.entries[id].st = St::Done;
                Cancelled::Removed
            }
            St::Sleeping => {
                self.entries[id].st = St::Done;
                Cancelled::Removed
            }
            St::Active => {
                self.entries[id].st = St::Zombie;
                self.entries[id].deadline = NEVER;
                Cancelled::NowZombie
            }
            St::Zombie => Cancelled::AlreadySettled,
            St::Done => return Ret::Cancel(Err(TicketError::Unknown)),
        };
        Ret::Cancel(Ok(out))
    }
}

/// The gate and the model side by side.
struct Sim {
    gate: Gate,
    model: Model,
    policy: RetryPolicyId,
    budget_policy: RetryPolicyId,
    tickets: Vec<Ticket>,
}

impl Sim {
    fn new(cfg: Cfg) -> Sim {
        let config = Config::default()
            .with_max_connections(f64::from(cfg.max))
            .and_then(|c| c.with_adaptive_min(cfg.adaptive))
            .expect("valid")
            .with_queue_timeout(Some(Duration::from_micros(QUEUE_TIMEOUT)));
        let mut gate = Gate::new(config);
        let base = RetryPolicy {
            max_retries: MAX_RETRIES,
            delay: Duration::from_micros(DELAY),
            ..RetryPolicy::from_raw(&RawRetryPolicy::default()).unwrap()
        };
        let policy = gate.register_retry_policy(base).unwrap();
        let budget_policy = gate
            .register_retry_policy(RetryPolicy {
                deadline: Some(Duration::from_micros(BUDGET)),
                ..base
            })
            .unwrap();
        Sim {
            gate,
            model: Model::new(cfg),
            policy,
            budget_policy,
            tickets: Vec::new(),
        }
    }

    fn ticket(&self, id: usize) -> Ticket {
        self.tickets
            .get(id)
            .copied()
            .unwrap_or(Ticket::from_bits(0xFFFF_FFFF_FFFF))
    }

    fn step(&mut self, action: Action) -> Result<(), String> {
        let now = match action {
            Action::AdvanceTo(t) => t,
            _ => self.model.now,
        };
        let at = Instant::from_micros(now);
        let got = match action {
            Action::Submit {
                retry,
                budget,
                idempotent,
            } => {
                let request = Request {
                    retry: retry.then_some(if budget {
                        self.budget_policy
                    } else {
                        self.policy
                    }),
                    idempotent,
                    ..Request::default()
                };
                Ret::Submit(self.gate.submit(at, request).map(|s| {
                    self.tickets.push(s.ticket());
                    (!matches!(s, Submitted::Queued(_)), self.tickets.len() - 1)
                }))
            }
            Action::Release { id, fail } => {
                let outcome = fail.map_or(Outcome::Ok, Outcome::Failed);
                Ret::Release(self.gate.release_with(at, self.ticket(id), outcome, 0.0))
            }
            Action::Cancel { id } => Ret::Cancel(self.gate.cancel(at, self.ticket(id))),
            Action::AdvanceTo(_) => {
                self.gate.handle_timeout(at);
                Ret::Unit
            }
        };
        let mut events = Vec::new();
        while let Some(e) = self.gate.poll_event() {
            let id = |t: Ticket| {
                self.tickets
                    .iter()
                    .position(|&x| x == t)
                    .unwrap_or(usize::MAX)
            };
            events.push(match e {
                Event::Granted(t) => Ev::Granted(id(t)),
                Event::QueueTimeout { ticket, waited } => {
                    Ev::QueueTimeout(id(ticket), waited.as_micros())
                }
                Event::OperationTimeout(t) => Ev::OperationTimeout(id(t)),
                Event::Closed(t) => return Err(format!("unexpected Closed({t:?})")),
            });
        }
        self.gate.check_invariants()?;
        let want = match action {
            Action::Submit {
                retry,
                budget,
                idempotent,
            } => self.model.submit(now, retry, budget, idempotent),
            Action::Release { id, fail } => self.model.release(now, id, fail),
            Action::Cancel { id } => self.model.cancel(now, id),
            Action::AdvanceTo(t) => {
                self.model.advance(t);
                Ret::Unit
            }
        };
        let want_events = std::mem::take(&mut self.model.events);
        if got != want {
            return Err(format!("{action:?}: gate {got:?}, model {want:?}"));
        }
        if events != want_events {
            return Err(format!(
                "{action:?}: events {events:?}, model {want_events:?}"
            ));
        }
        let s = self.gate.stats();
        let m = self.gate.metrics();
        let model = &self.model;
        let want = (
            model.active,
            model.queue.len() as u32,
            model.limit,
            model
                .entries
                .iter()
                .filter(|e| e.st == St::Sleeping)
                .count() as u32,
        );
        let have = (
            s.active_connections,
            s.queued_connections,
            m.effective_limit,
            m.sleeping,
        );
        if have != want {
            return Err(format!(
                "{action:?}: (active, queued, limit, sleeping) gate {have:?}, model {want:?}"
            ));
        }
        let next = self.gate.poll_timeout().map(|i| i.as_micros());
        if next != model.pending().first().copied() {
            return Err(format!(
                "{action:?}: next deadline gate {next:?}, model {:?}",
                model.pending()
            ));
        }
        Ok(())
    }

    /// Every action that makes sense now.
    fn actions(&self) -> Vec<Action> {
        let mut out = Vec::new();
        for (retry, budget, idempotent) in [
            (false, false, false),
            (true, false, false),
            (true, false, true),
            (true, true, false),
        ] {
            out.push(Action::Submit {
                retry,
                budget,
                idempotent,
            });
        }
        for (id, e) in self.model.entries.iter().enumerate() {
            if matches!(e.st, St::Active | St::Zombie) {
                out.push(Action::Release { id, fail: None });
                for class in CLASSES {
                    // Keep the alphabet small: a zombie's class changes nothing but the limit.
                    if e.st == St::Active || class == ErrorClass::TooManyConnections {
                        out.push(Action::Release {
                            id,
                            fail: Some(class),
                        });
                    }
                }
            }
            if matches!(e.st, St::Queued | St::Sleeping | St::Active) {
                out.push(Action::Cancel { id });
            }
        }
        for d in self.model.pending() {
            out.push(Action::AdvanceTo(d));
        }
        out
    }
}

const CONFIGS: [Cfg; 4] = [
    Cfg {
        max: 1,
        adaptive: None,
    },
    Cfg {
        max: 2,
        adaptive: None,
    },
    Cfg {
        max: 2,
        adaptive: Some(1),
    },
    Cfg {
        max: 4,
        adaptive: Some(1),
    },
];

fn explore(cfg: Cfg, prefix: &mut Vec<Action>, depth: usize, count: &mut u64) {
    let mut sim = Sim::new(cfg);
    for &a in prefix.iter() {
        sim.step(a).expect("a prefix that passed before");
    }
    for a in sim.actions() {
        let mut next = Sim::new(cfg);
        for &p in prefix.iter() {
            next.step(p).expect("replay");
        }
        if let Err(e) = next.step(a) {
            panic!("{cfg:?} after {prefix:?} then {a:?}: {e}");
        }
        *count += 1;
        if depth > 1 {
            prefix.push(a);
            explore(cfg, prefix, depth - 1, count);
            prefix.pop();
        }
    }
}

#[test]
fn every_short_history_of_retries_and_adaptive_limits_matches_the_model() {
    let depth = std::env::var("POOLGATE_RULES_DEPTH")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(6);
    let mut total = 0;
    for cfg in CONFIGS {
        explore(cfg, &mut Vec::new(), depth, &mut total);
    }
    println!("{total} steps checked to depth {depth}");
    assert!(total > 1000);
}

fn action(n_ids: usize) -> impl Strategy<Value = (u8, usize, u8, u64)> {
    (0u8..10, 0..n_ids.max(1), 0u8..6, 0u64..80)
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: std::env::var("POOLGATE_PROPTEST_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(20_000),
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn random_histories_of_retries_and_adaptive_limits_match_the_model(
        cfg in prop::sample::select(CONFIGS.to_vec()),
        ops in prop::collection::vec(action(64), 1..=120),
    ) {
        let mut sim = Sim::new(cfg);
        let mut done = Vec::new();
        for (kind, which, class, dt) in ops {
            let n = sim.model.entries.len();
            let id = if n == 0 { 0 } else { which % n };
            let a = match kind {
                0 => Action::Submit { retry: false, budget: false, idempotent: false },
                1 => Action::Submit { retry: true, budget: false, idempotent: false },
                2 => Action::Submit { retry: true, budget: false, idempotent: true },
                3 => Action::Submit { retry: true, budget: true, idempotent: class % 2 == 0 },
                4 | 5 => Action::Release { id, fail: None },
                6 | 7 => Action::Release {
                    id,
                    fail: Some(CLASSES[usize::from(class) % CLASSES.len()]),
                },
                8 => Action::Cancel { id },
                _ => Action::AdvanceTo(sim.model.now + dt),
            };
            done.push(a);
            if let Err(e) = sim.step(a) {
                return Err(TestCaseError::fail(format!("{cfg:?} after {done:?}: {e}")));
            }
        }
    }
}
