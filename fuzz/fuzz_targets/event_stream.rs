//! Fuzzes `poolgate-core` with arbitrary event streams.
//!
//! Each input decodes (through `arbitrary`) into:
//! * a small pool configuration (`maxConnections` 1..=8, `maxQueue` 0..=16, optional queue and
//!   operation timeouts, `releaseOnTimeout`) and a sequence of up to [`MAX_OPS`] driver calls:
//!   submit (with or without a per-call timeout and overall deadline), release ok/err of a live,
//!   settled or bogus ticket, cancel, schedule_retry, clock moves (small, huge, backwards, to the
//!   next timer), handle_timeout, resize with any f64 (NaN and friends included), close, and
//!   the clock-free `try_acquire` / `try_release` (falling back to `release_untimed`, as the
//!   JS driver does), draining every event after every call as the crate docs require;
//! * side inputs for the pure functions: `RawConfig::validate`, `RetryPolicy::from_raw`,
//!   `backoff`, `decide` and `classify`.
//!
//! A reference model of every ticket runs next to the gate. After every call the target checks
//! `Gate::check_invariants()`, that the gate's counters match the model, that `active` stays
//! within `maxConnections` (unless the pool was shrunk below what was already running), that
//! every event is one the model allows (so a ticket settles at most once: a `Granted`,
//! `QueueTimeout`, `Closed` or `Woken` for a ticket already settled is a bug), that grants follow
//! arrival order and never come after a waiter's deadline, that each call's return value is the
//! one the model predicts, and (when the input asks for it) that `poll_timeout` names exactly
//! the model's next deadline. Any failure panics with a readable trace of the run.
//!
//! Show a saved input decoded: `cargo fuzz fmt event_stream fuzz/artifacts/event_stream/crash-*`
//! (from `fuzz/`, with `RUSTC_BOOTSTRAP=1` on a stable toolchain), or run `scripts/fuzz`.

#![no_main]

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use poolgate_core::config::{
    max_connections_option, MAX_CONNECTIONS_LIMIT, MAX_QUEUE_LIMIT, MAX_TIMEOUT_MS,
};
use poolgate_core::retry::MAX_RETRIES_LIMIT;
use poolgate_core::{
    classify, Cancelled, Config, Duration, ErrorClass, Event, Gate, GiveUp, Instant,
    OperationTimeout, RawConfig, Rejected, Released, Request, RetryDecision, RetryPolicy,
    Submitted, Ticket, TicketError,
};
use std::collections::{HashMap, VecDeque};
use std::fmt::Write as _;

/// Calls per input; enough for deep queues and slot reuse, small enough to stay fast.
const MAX_OPS: usize = 256;
const NEVER: Instant = Instant::NEVER;

/// Where the gate's clock ends up for a reading: never past `Instant::LATEST` (the core's clamp,
/// added after this fuzzer found that `now == NEVER` made every deadline look passed).
fn gate_clock(clock: Instant) -> Instant {
    clock.min(Instant::LATEST)
}

// ---- input -----------------------------------------------------------------------------------

#[derive(Arbitrary, Debug)]
struct Input {
    config: FuzzConfig,
    side: Side,
    ops: Vec<Op>,
}

#[derive(Arbitrary, Debug)]
struct FuzzConfig {
    /// `% 8 + 1`.
    max_connections: u8,
    /// `% 17`.
    max_queue: u8,
    queue_timeout: Option<Span>,
    operation_timeout: Option<Span>,
    release_on_timeout: bool,
    /// Compare `poll_timeout()` with the model after every call. Off, stale timer records pile
    /// up between calls (as with a driver that re-arms its timer lazily).
    check_poll_timeout: bool,
}

/// A span of time, small or huge.
#[derive(Arbitrary, Debug, Clone, Copy)]
enum Span {
    Micros(u16),
    Millis(u16),
    Seconds(u16),
    Raw(u64),
    JsMillis(Num),
}

impl Span {
    fn get(self) -> Duration {
        match self {
            Span::Micros(n) => Duration::from_micros(n.into()),
            Span::Millis(n) => Duration::from_millis(n.into()),
            Span::Seconds(n) => Duration::from_millis(u64::from(n) * 1000),
            Span::Raw(n) => Duration::from_micros(n),
            Span::JsMillis(n) => Duration::from_millis_f64(n.get()),
        }
    }
}

/// A point in time relative to the driver's clock.
#[derive(Arbitrary, Debug, Clone, Copy)]
enum When {
    Now,
    In(Span),
    Ago(Span),
    At(u64),
    JsMillis(Num),
    Never,
}

impl When {
    fn at(self, clock: Instant) -> Instant {
        match self {
            When::Now => clock,
            When::In(s) => clock.saturating_add(s.get()),
            When::Ago(s) => {
                Instant::from_micros(clock.as_micros().saturating_sub(s.get().as_micros()))
            }
            When::At(n) => Instant::from_micros(n),
            When::JsMillis(n) => Instant::from_millis_f64(n.get()),
            When::Never => NEVER,
        }
    }
}

/// An f64 that reaches the interesting values often.
#[derive(Arbitrary, Debug, Clone, Copy)]
enum Num {
    Int(i32),
    Small(u8),
    Half(i16),
    Special(u8),
    Raw(f64),
}

impl Num {
    fn get(self) -> f64 {
        const SPECIAL: [f64; 16] = [
            f64::NAN,
            f64::INFINITY,
            f64::NEG_INFINITY,
            -0.0,
            0.0,
            1.0,
            f64::MIN_POSITIVE,
            f64::EPSILON,
            1e6,
            1e6 + 1.0,
            MAX_TIMEOUT_MS,
            MAX_TIMEOUT_MS + 0.5,
            16_777_216.0,
            9_007_199_254_740_993.0,
            f64::MAX,
            -f64::MAX,
        ];
        match self {
            Num::Int(n) => n.into(),
            Num::Small(n) => n.into(),
            Num::Half(n) => f64::from(n) / 2.0,
            Num::Special(i) => SPECIAL[usize::from(i) % SPECIAL.len()],
            Num::Raw(x) => x,
        }
    }
}

#[derive(Arbitrary, Debug, Clone, Copy)]
enum OpTimeoutIn {
    PoolDefault,
    Never,
    After(Span),
}

#[derive(Arbitrary, Debug, Clone, Copy)]
enum TicketIn {
    /// The n-th ticket issued so far (modulo), live or settled.
    Issued(u8),
    /// The most recent ticket.
    Latest,
    /// Any bits at all.
    Bogus(u64),
}

#[derive(Arbitrary, Debug, Clone, Copy)]
enum ClockMove {
    By(Span),
    /// To `poll_timeout()` (as a driver's timer would), if any.
    ToNextTimer,
    /// Past `poll_timeout()` by a few microseconds (a late timer).
    PastNextTimer(u16),
    /// Backwards: the gate must ignore it.
    Back(Span),
    /// Set from a float, as `performance.now()` would (may go backwards).
    JsMillis(Num),
}

#[derive(Arbitrary, Debug, Clone, Copy)]
enum Op {
    Submit {
        timeout: OpTimeoutIn,
        deadline: Option<When>,
    },
    Release {
        ticket: TicketIn,
        ok: bool,
    },
    Cancel {
        ticket: TicketIn,
    },
    ScheduleRetry {
        wake: When,
    },
    /// Moves the driver's clock without calling the gate.
    Clock(ClockMove),
    HandleTimeout,
    /// `poll_timeout()`, move the clock there, `handle_timeout()`: one timer firing.
    FireTimer,
    Resize(Num),
    Close,
    /// The clock-free `try_acquire`.
    TryAcquire,
    /// A clock-free slot's operation settled: `try_release`, else `release_untimed` at the
    /// driver's clock.
    ReleaseUntimed {
        ok: bool,
    },
}

#[derive(Arbitrary, Debug)]
struct Side {
    raw: [Option<Num>; 4],
    release_on_timeout: Option<bool>,
    retry_raw: [Option<Num>; 4],
    attempts: u32,
    random: Num,
    class: u8,
    idempotent: bool,
    now: u64,
    deadline: Option<u64>,
    direct: DirectPolicy,
    codes: Vec<String>,
    messages: Vec<String>,
}

/// A `RetryPolicy` built field by field, bypassing validation (its fields are public).
#[derive(Arbitrary, Debug)]
struct DirectPolicy {
    max_retries: u32,
    delay: u64,
    max_delay: Option<u64>,
    jitter: Num,
}

// ---- side inputs: the pure functions --------------------------------------------------------

fn check_pure_functions(side: &Side) {
    // RawConfig::validate: never panics; what it accepts is in range; errors print.
    let num = |n: Option<Num>| n.map(Num::get);
    let raw = RawConfig {
        max_connections: num(side.raw[0]),
        max_queue: num(side.raw[1]),
        queue_timeout_ms: num(side.raw[2]),
        operation_timeout_ms: num(side.raw[3]),
        release_on_timeout: side.release_on_timeout,
    };
    let max_timeout = Duration::from_millis_f64(MAX_TIMEOUT_MS);
    match raw.validate() {
        Ok(c) => {
            assert!(
                (1..=MAX_CONNECTIONS_LIMIT).contains(&c.max_connections),
                "{raw:?} -> {c:?}"
            );
            assert!(c.max_queue <= MAX_QUEUE_LIMIT, "{raw:?} -> {c:?}");
            assert!(
                c.queue_timeout.is_none_or(|d| d <= max_timeout),
                "{raw:?} -> {c:?}"
            );
            assert!(
                c.operation_timeout
                    .is_none_or(|d| d >= Duration::from_millis(1) && d <= max_timeout),
                "{raw:?} -> {c:?}"
            );
            if let Some(v) = raw.max_connections {
                assert_eq!(f64::from(c.max_connections), v, "{raw:?} -> {c:?}");
            }
            let gate = Gate::from_raw(&raw).expect("from_raw disagrees with validate");
            assert_eq!(*gate.config(), c);
            gate.check_invariants().expect("fresh gate");
        }
        Err(e) => {
            assert!(!e.to_string().is_empty());
            assert!(Gate::from_raw(&raw).is_err());
        }
    }

    // RetryPolicy::from_raw, backoff, decide.
    let [r0, r1, r2, r3] = side.retry_raw;
    let random = side.random.get();
    let class = ErrorClass::from_code(side.class % 3);
    let now = Instant::from_micros(side.now);
    let deadline = side.deadline.map(Instant::from_micros);
    let check = |p: &RetryPolicy| {
        check_policy(
            p,
            side.attempts,
            random,
            class,
            side.idempotent,
            now,
            deadline,
        );
    };
    if let Ok(p) = RetryPolicy::from_raw(num(r0), num(r1), num(r2), num(r3)) {
        assert!(p.max_retries <= MAX_RETRIES_LIMIT, "{p:?}");
        assert!((0.0..=1.0).contains(&p.jitter), "{p:?}");
        assert!(p.delay <= max_timeout, "{p:?}");
        check(&p);
    }
    // A policy built field by field, bypassing validation (its fields are public).
    let d = &side.direct;
    check(&RetryPolicy {
        max_retries: d.max_retries,
        delay: Duration::from_micros(d.delay),
        max_delay: d.max_delay.map(Duration::from_micros),
        jitter: d.jitter.get(),
    });

    // classify: never panics, and a class is one of three.
    let c = classify(
        side.codes.iter().map(String::as_str),
        side.messages.iter().map(String::as_str),
    );
    assert!(c.code() <= 2);
    let none = classify(std::iter::empty(), std::iter::empty());
    assert_eq!(none, ErrorClass::Permanent);
}

fn check_policy(
    p: &RetryPolicy,
    attempts: u32,
    random: f64,
    class: ErrorClass,
    idempotent: bool,
    now: Instant,
    deadline: Option<Instant>,
) {
    let b = p.backoff(attempts, random);
    assert!(b.as_millis_f64().is_finite(), "{p:?} {attempts} {random}");
    let linear = p.delay.saturating_mul(u64::from(attempts.max(1)));
    let capped = p.max_delay.map_or(linear, |cap| linear.min(cap));
    assert!(
        b <= capped,
        "backoff {b:?} above {capped:?}: {p:?} {attempts} {random}"
    );
    if p.jitter == 0.0 || random == 0.0 || random.is_nan() {
        assert_eq!(b, capped, "no jitter but cut: {p:?} {attempts} {random}");
    }
    if (0.0..=1.0).contains(&p.jitter) {
        // At most a `jitter` fraction is cut (allowing for float rounding).
        let floor =
            capped.as_micros() as f64 * (1.0 - p.jitter) - 1.0 - capped.as_micros() as f64 * 1e-12;
        assert!(
            b.as_micros() as f64 >= floor,
            "cut too much: {b:?} {p:?} {attempts} {random}"
        );
    }
    let decision = p.decide(attempts, class, idempotent, now, deadline, random);
    let expected_give_up = match class {
        ErrorClass::Permanent => Some(GiveUp::NotRetryable),
        ErrorClass::MaybeSent if !idempotent => Some(GiveUp::MaybeExecuted),
        _ if attempts > p.max_retries => Some(GiveUp::Exhausted),
        _ => None,
    };
    match (decision, expected_give_up) {
        (RetryDecision::GiveUp(r), Some(e)) => assert_eq!(r, e, "{p:?}"),
        (RetryDecision::GiveUp(GiveUp::Deadline), None) => {
            assert!(
                deadline.is_some_and(|d| now.saturating_add(b) >= d),
                "{p:?}"
            )
        }
        (RetryDecision::RetryAt(w), None) => {
            assert_eq!(w, now.saturating_add(b), "{p:?}");
            assert!(w >= now);
            assert!(
                deadline.is_none_or(|d| w < d),
                "retry at {w:?} past {deadline:?}"
            );
        }
        (got, want) => panic!("decide gave {got:?}, expected give-up {want:?}: {p:?}"),
    }
}

// ---- the reference model ----------------------------------------------------------------------

/// What the model knows about one ticket.
#[derive(Clone, Copy, Debug, PartialEq)]
enum St {
    Queued {
        since: Instant,
        deadline: Instant,
        op: Option<Duration>,
        cap: Instant,
    },
    Sleeping {
        wake: Instant,
    },
    Holding {
        /// Operation deadline, `NEVER` once it fired or the caller was detached.
        deadline: Instant,
        timed_out: bool,
        cancelled: bool,
        /// Timed out with `release_on_timeout`: the slot was given back.
        detached: bool,
    },
    /// Settled and freed: any further event about it is a bug.
    Done,
}

/// One line of the trace printed on failure (all `Copy`, formatted only then).
#[derive(Clone, Copy, Debug)]
enum Trace {
    Call {
        step: usize,
        op: Op,
        clock: Instant,
        gate_now: Instant,
    },
    Ret(Ret),
    Event(Event),
}

#[derive(Clone, Copy, Debug)]
#[allow(dead_code)] // fields are read through Debug
enum Ret {
    Submit(Result<Submitted, Rejected>),
    Release(Ticket, Result<Released, TicketError>),
    Cancel(Ticket, Result<Cancelled, TicketError>),
    Retry(Result<Ticket, Rejected>),
    Resize(bool),
    PollTimeout(Option<Instant>),
    /// `try_acquire`, `try_release` or `release_untimed`.
    Fast(bool),
}

struct Harness {
    gate: Gate,
    cfg: Config,
    check_poll_timeout: bool,
    /// The driver's clock (what it passes in).
    clock: Instant,
    /// The gate's clock as the model knows it: the latest `now` passed in.
    now: Instant,
    tickets: HashMap<Ticket, St>,
    issued: Vec<Ticket>,
    queue: VecDeque<Ticket>,
    closed: bool,
    /// Slots held by clock-free grants (counted, not tracked).
    untimed: u32,
    /// Upper bound on `active`: `maxConnections`, or what was already running when the pool
    /// shrank, whichever is larger, tightening as operations finish.
    allowed: u32,
    trace: Vec<Trace>,
}

macro_rules! ensure {
    ($h:expr, $cond:expr, $($msg:tt)+) => {
        if !$cond {
            $h.fail(&format!($($msg)+));
        }
    };
}

impl Harness {
    fn new(fc: &FuzzConfig) -> Harness {
        let cfg = Config {
            max_connections: u32::from(fc.max_connections % 8) + 1,
            max_queue: u32::from(fc.max_queue % 17),
            queue_timeout: fc.queue_timeout.map(Span::get),
            operation_timeout: fc.operation_timeout.map(Span::get),
            release_on_timeout: fc.release_on_timeout,
        };
        Harness {
            gate: Gate::new(cfg),
            cfg,
            check_poll_timeout: fc.check_poll_timeout,
            clock: Instant::ZERO,
            now: Instant::ZERO,
            tickets: HashMap::new(),
            issued: Vec::new(),
            queue: VecDeque::new(),
            closed: false,
            untimed: 0,
            allowed: cfg.max_connections,
            trace: Vec::new(),
        }
    }

    #[cold]
    fn fail(&self, what: &str) -> ! {
        let mut s = format!(
            "\n=== poolgate fuzz failure: {what}\nconfig: {:?}\n",
            self.cfg
        );
        for t in &self.trace {
            let _ = match t {
                Trace::Call {
                    step,
                    op,
                    clock,
                    gate_now,
                } => writeln!(
                    s,
                    "#{step:<3} clock={}us (gate now {}us) {op:?}",
                    clock.as_micros(),
                    gate_now.as_micros()
                ),
                Trace::Ret(r) => writeln!(s, "       -> {r:?}"),
                Trace::Event(e) => writeln!(s, "       event {e:?}"),
            };
        }
        let _ = writeln!(s, "model tickets:");
        let mut live: Vec<_> = self
            .tickets
            .iter()
            .filter(|(_, st)| **st != St::Done)
            .collect();
        live.sort_by_key(|(t, _)| t.to_bits());
        for (t, st) in live {
            let _ = writeln!(s, "  {t:?}: {st:?}");
        }
        let _ = writeln!(
            s,
            "model queue: {:?}\ngate stats: {:?}\ngate metrics: {:?}",
            self.queue,
            self.gate.stats(),
            self.gate.metrics()
        );
        panic!("{s}");
    }

    fn ticket(&self, t: TicketIn) -> Ticket {
        match t {
            TicketIn::Issued(i) if !self.issued.is_empty() => {
                self.issued[usize::from(i) % self.issued.len()]
            }
            TicketIn::Latest if !self.issued.is_empty() => self.issued[self.issued.len() - 1],
            TicketIn::Bogus(bits) => Ticket::from_bits(bits),
            _ => Ticket::from_bits(u64::MAX),
        }
    }

    /// Slots held as the model counts them (zombies and clock-free grants included, detached
    /// ones not).
    fn active(&self) -> u32 {
        self.untimed
            + self
                .tickets
                .values()
                .filter(|s| {
                    matches!(
                        s,
                        St::Holding {
                            detached: false,
                            ..
                        }
                    )
                })
                .count() as u32
    }

    fn count(&self, f: impl Fn(&St) -> bool) -> u32 {
        self.tickets.values().filter(|s| f(s)).count() as u32
    }

    /// The model's next deadline, which `poll_timeout` must name.
    fn next_deadline(&self) -> Option<Instant> {
        self.tickets
            .values()
            .filter_map(|s| match *s {
                St::Queued { deadline, .. } => Some(deadline),
                St::Sleeping { wake } => Some(wake),
                St::Holding { deadline, .. } => Some(deadline),
                St::Done => None,
            })
            .filter(|&at| at != NEVER)
            .min()
    }

    fn issue(&mut self, t: Ticket, st: St) {
        ensure!(
            self,
            !self.tickets.contains_key(&t),
            "ticket {t:?} issued twice (was {:?})",
            self.tickets.get(&t)
        );
        self.tickets.insert(t, st);
        self.issued.push(t);
    }

    fn unqueue(&mut self, t: Ticket) {
        match self.queue.iter().position(|&q| q == t) {
            Some(i) => {
                self.queue.remove(i);
            }
            None => self.fail(&format!("{t:?} left a queue it was not in")),
        }
    }

    /// Pops the gate's events and applies each to the model, checking it is allowed.
    fn drain_events(&mut self) {
        while let Some(ev) = self.gate.poll_event() {
            self.trace.push(Trace::Event(ev));
            self.on_event(ev);
        }
    }

    fn on_event(&mut self, ev: Event) {
        let t = ev.ticket();
        let now = self.now;
        let Some(&st) = self.tickets.get(&t) else {
            self.fail(&format!("{ev:?} for a ticket never issued"));
        };
        let next = match (ev, st) {
            (
                Event::Granted(_),
                St::Queued {
                    deadline, op, cap, ..
                },
            ) => {
                ensure!(
                    self,
                    deadline > now,
                    "{t:?} granted at/after its queue deadline"
                );
                ensure!(
                    self,
                    self.queue.front() == Some(&t),
                    "{t:?} granted out of arrival order (queue {:?})",
                    self.queue
                );
                self.queue.pop_front();
                St::Holding {
                    deadline: op.map_or(NEVER, |d| now.saturating_add(d)).min(cap),
                    timed_out: false,
                    cancelled: false,
                    detached: false,
                }
            }
            (
                Event::QueueTimeout { waited, .. },
                St::Queued {
                    since, deadline, ..
                },
            ) => {
                ensure!(self, deadline <= now, "{t:?} timed out before its deadline");
                ensure!(
                    self,
                    waited == now.saturating_since(since),
                    "{t:?} waited {waited:?}, queued at {since:?}, now {now:?}"
                );
                self.unqueue(t);
                St::Done
            }
            (
                Event::OperationTimeout(_),
                St::Holding {
                    deadline,
                    timed_out: false,
                    cancelled: false,
                    ..
                },
            ) => {
                ensure!(
                    self,
                    deadline <= now,
                    "{t:?} operation timed out before its deadline {deadline:?}"
                );
                St::Holding {
                    deadline: NEVER,
                    timed_out: true,
                    cancelled: false,
                    detached: self.cfg.release_on_timeout,
                }
            }
            (Event::Woken(_), St::Sleeping { wake }) => {
                ensure!(self, wake <= now, "{t:?} woken before {wake:?}");
                St::Done
            }
            (Event::Closed(_), St::Queued { .. }) if self.closed => {
                self.unqueue(t);
                St::Done
            }
            (Event::Closed(_), St::Sleeping { .. }) if self.closed => St::Done,
            _ => self.fail(&format!(
                "{ev:?} for a ticket in state {st:?} (settled twice, or impossible)"
            )),
        };
        self.tickets.insert(t, next);
    }

    fn call(&mut self, step: usize, op: Op) {
        let clock = self.clock;
        self.trace.push(Trace::Call {
            step,
            op,
            clock,
            gate_now: self.now,
        });
        // Every call that takes `now` first advances the gate to max(its now, now).
        // (`set_max_connections` validates its value first: a refused resize changes nothing,
        // not even the clock.)
        let advances = match op {
            // The clock-free calls take no `now` (release_untimed advances; see below).
            Op::Clock(_) | Op::TryAcquire | Op::ReleaseUntimed { .. } => false,
            Op::Resize(n) => max_connections_option(n.get()).is_ok(),
            _ => true,
        };
        if advances {
            self.now = self.now.max(gate_clock(clock));
        }
        let before_max = self.cfg.max_connections;
        match op {
            Op::Submit { timeout, deadline } => {
                let request = Request {
                    operation_timeout: match timeout {
                        OpTimeoutIn::PoolDefault => OperationTimeout::PoolDefault,
                        OpTimeoutIn::Never => OperationTimeout::Never,
                        OpTimeoutIn::After(s) => OperationTimeout::After(s.get()),
                    },
                    deadline: deadline.map(|w| w.at(clock)),
                };
                let got = self.gate.submit(clock, request);
                self.trace.push(Trace::Ret(Ret::Submit(got)));
                self.drain_events();
                self.check_submit(request, got);
            }
            Op::Release { ticket, ok } => {
                let t = self.ticket(ticket);
                let got = self.gate.release(clock, t, ok);
                self.trace.push(Trace::Ret(Ret::Release(t, got)));
                // Events about `t` can only come from the advance before the release itself,
                // so applying them all first gives the state the release saw.
                self.drain_events();
                let st = self.tickets.get(&t).copied();
                let want = match st {
                    None | Some(St::Done) => Err(TicketError::Unknown),
                    Some(St::Queued { .. } | St::Sleeping { .. }) => Err(TicketError::NotHeld),
                    Some(St::Holding {
                        cancelled: true, ..
                    }) => Ok(Released::Zombie),
                    Some(St::Holding {
                        timed_out: true,
                        detached,
                        ..
                    }) => Ok(if detached {
                        Released::Detached
                    } else {
                        Released::Zombie
                    }),
                    Some(St::Holding { .. }) => Ok(Released::Completed),
                };
                ensure!(
                    self,
                    got == want,
                    "release({t:?}) gave {got:?}, model says {want:?}"
                );
                if got.is_ok() {
                    self.tickets.insert(t, St::Done);
                }
            }
            Op::Cancel { ticket } => {
                let t = self.ticket(ticket);
                let got = self.gate.cancel(clock, t);
                self.trace.push(Trace::Ret(Ret::Cancel(t, got)));
                self.drain_events();
                let st = self.tickets.get(&t).copied();
                let (want, next) = match st {
                    None | Some(St::Done) => (Err(TicketError::Unknown), st),
                    Some(St::Queued { .. }) => {
                        self.unqueue(t);
                        (Ok(Cancelled::Removed), Some(St::Done))
                    }
                    Some(St::Sleeping { .. }) => (Ok(Cancelled::Removed), Some(St::Done)),
                    Some(St::Holding {
                        timed_out: false,
                        cancelled: false,
                        ..
                    }) => (
                        Ok(Cancelled::Detached),
                        Some(St::Holding {
                            deadline: NEVER,
                            timed_out: false,
                            cancelled: true,
                            detached: false,
                        }),
                    ),
                    Some(St::Holding { .. }) => (Ok(Cancelled::AlreadySettled), st),
                };
                ensure!(
                    self,
                    got == want,
                    "cancel({t:?}) gave {got:?}, model says {want:?}"
                );
                if let Some(next) = next {
                    self.tickets.insert(t, next);
                }
                // Removing a waiter or detaching can grant nobody: no slot was freed. The gate
                // still runs grant_waiters; any Granted it emits was checked in drain_events.
            }
            Op::ScheduleRetry { wake } => {
                let wake_at = wake.at(clock);
                let got = self.gate.schedule_retry(clock, wake_at);
                self.trace.push(Trace::Ret(Ret::Retry(got)));
                self.drain_events();
                match (got, self.closed) {
                    (Err(Rejected::Closed), true) => {}
                    (Ok(t), false) => self.issue(
                        t,
                        St::Sleeping {
                            wake: wake_at.max(self.now),
                        },
                    ),
                    _ => self.fail(&format!(
                        "schedule_retry gave {got:?} with closed={}",
                        self.closed
                    )),
                }
            }
            Op::Clock(m) => {
                self.clock = match m {
                    ClockMove::By(s) => clock.saturating_add(s.get()),
                    ClockMove::ToNextTimer => self.poll_timeout().unwrap_or(clock).max(clock),
                    ClockMove::PastNextTimer(us) => self
                        .poll_timeout()
                        .unwrap_or(clock)
                        .max(clock)
                        .saturating_add(Duration::from_micros(us.into())),
                    ClockMove::Back(s) => {
                        Instant::from_micros(clock.as_micros().saturating_sub(s.get().as_micros()))
                    }
                    ClockMove::JsMillis(n) => Instant::from_millis_f64(n.get()),
                };
            }
            Op::HandleTimeout => {
                self.gate.handle_timeout(clock);
                self.drain_events();
            }
            Op::FireTimer => {
                if let Some(at) = self.poll_timeout() {
                    self.clock = self.clock.max(at);
                    self.now = self.now.max(gate_clock(self.clock));
                }
                self.gate.handle_timeout(self.clock);
                self.drain_events();
            }
            Op::Resize(n) => {
                let value = n.get();
                let got = self.gate.set_max_connections(clock, value);
                self.trace.push(Trace::Ret(Ret::Resize(got.is_ok())));
                let valid = value.fract() == 0.0
                    && value >= 1.0
                    && value <= f64::from(MAX_CONNECTIONS_LIMIT);
                ensure!(
                    self,
                    valid == advances,
                    "max_connections_option({value:?}) disagrees"
                );
                ensure!(
                    self,
                    got.is_ok() == valid,
                    "set_max_connections({value:?}) gave {got:?}"
                );
                if valid {
                    self.cfg.max_connections = value as u32;
                    self.allowed = self.allowed.max(self.cfg.max_connections);
                }
                self.drain_events();
            }
            Op::Close => {
                // Events of the advance come first, then one Closed per waiter and back-off.
                self.closed = true;
                self.gate.close(clock);
                self.drain_events();
            }
            Op::TryAcquire => {
                let want = !self.closed
                    && self.queue.is_empty()
                    && self.active() < self.cfg.max_connections
                    && self.cfg.operation_timeout.is_none();
                let got = self.gate.try_acquire();
                self.trace.push(Trace::Ret(Ret::Fast(got)));
                ensure!(
                    self,
                    got == want,
                    "try_acquire gave {got}, model says {want}"
                );
                if got {
                    self.untimed += 1;
                }
                ensure!(
                    self,
                    self.gate.poll_event().is_none(),
                    "try_acquire emitted an event"
                );
            }
            Op::ReleaseUntimed { ok } => {
                let fast = self.gate.try_release(ok);
                self.trace.push(Trace::Ret(Ret::Fast(fast)));
                let want_fast = self.untimed > 0 && self.queue.is_empty();
                ensure!(
                    self,
                    fast == want_fast,
                    "try_release gave {fast}, model says {want_fast}"
                );
                if fast {
                    self.untimed -= 1;
                    ensure!(
                        self,
                        self.gate.poll_event().is_none(),
                        "try_release emitted an event"
                    );
                } else {
                    // The gate fires due deadlines, gives the slot back, then grants waiters:
                    // apply the expiries, then the release, then the grants.
                    self.now = self.now.max(gate_clock(clock));
                    let got = self.gate.release_untimed(clock, ok);
                    self.trace.push(Trace::Ret(Ret::Fast(got)));
                    ensure!(
                        self,
                        got == (self.untimed > 0),
                        "release_untimed gave {got} with {} clock-free slots",
                        self.untimed
                    );
                    let mut released = !got;
                    while let Some(ev) = self.gate.poll_event() {
                        self.trace.push(Trace::Event(ev));
                        if !released && matches!(ev, Event::Granted(_)) {
                            self.untimed -= 1;
                            released = true;
                        }
                        self.on_event(ev);
                    }
                    if !released {
                        self.untimed -= 1;
                    }
                }
            }
        }
        if !matches!(op, Op::Clock(_)) {
            self.check_after_call(step, op, before_max);
        }
    }

    fn poll_timeout(&mut self) -> Option<Instant> {
        let got = self.gate.poll_timeout();
        self.trace.push(Trace::Ret(Ret::PollTimeout(got)));
        let want = self.next_deadline();
        ensure!(
            self,
            got == want,
            "poll_timeout() gave {got:?}, the model's next deadline is {want:?}"
        );
        got
    }

    fn check_submit(&mut self, request: Request, got: Result<Submitted, Rejected>) {
        let now = self.now;
        let cap = request.deadline.unwrap_or(NEVER);
        let op = match request.operation_timeout {
            OperationTimeout::PoolDefault => self.cfg.operation_timeout,
            OperationTimeout::Never => None,
            OperationTimeout::After(d) => Some(d),
        };
        let free = self.queue.is_empty() && self.active() < self.cfg.max_connections;
        let queue_deadline = match self.cfg.queue_timeout {
            Some(t) => now.saturating_add(t).min(cap),
            None => cap,
        };
        let want = if self.closed {
            Err(Rejected::Closed)
        } else if free && cap > now {
            Ok(true)
        } else if self.queue.len() as u32 >= self.cfg.max_queue {
            Err(Rejected::QueueFull {
                max_queue: self.cfg.max_queue,
            })
        } else if queue_deadline <= now {
            Err(Rejected::NoWait)
        } else {
            Ok(false)
        };
        match (got, want) {
            (Ok(Submitted::Granted(t)), Ok(true)) => self.issue(
                t,
                St::Holding {
                    deadline: op.map_or(NEVER, |d| now.saturating_add(d)).min(cap),
                    timed_out: false,
                    cancelled: false,
                    detached: false,
                },
            ),
            (Ok(Submitted::Queued(t)), Ok(false)) => {
                self.issue(
                    t,
                    St::Queued {
                        since: now,
                        deadline: queue_deadline,
                        op,
                        cap,
                    },
                );
                self.queue.push_back(t);
            }
            (Err(e), Err(w)) if e == w => {}
            _ => self.fail(&format!(
                "submit({request:?}) gave {got:?}, model expects {} (free={free}, queued={}, active={})",
                match want {
                    Ok(true) => "Granted".to_string(),
                    Ok(false) => "Queued".to_string(),
                    Err(e) => format!("{e:?}"),
                },
                self.queue.len(),
                self.active()
            )),
        }
    }

    fn check_after_call(&mut self, step: usize, op: Op, before_max: u32) {
        if let Err(e) = self.gate.check_invariants() {
            self.fail(&format!("check_invariants after #{step} {op:?}: {e}"));
        }
        let stats = self.gate.stats();
        let metrics = self.gate.metrics();
        let active = self.active();
        let queued = self.count(|s| matches!(s, St::Queued { .. }));
        let sleeping = self.count(|s| matches!(s, St::Sleeping { .. }));
        let zombies = self.count(|s| {
            matches!(
                s,
                St::Holding {
                    cancelled: true,
                    ..
                } | St::Holding {
                    timed_out: true,
                    detached: false,
                    ..
                }
            )
        });
        ensure!(
            self,
            stats.active_connections == active,
            "gate counts {} active, model {active}",
            stats.active_connections
        );
        ensure!(
            self,
            stats.queued_connections == queued && queued == self.queue.len() as u32,
            "gate counts {} queued, model {queued} (queue {})",
            stats.queued_connections,
            self.queue.len()
        );
        ensure!(
            self,
            stats.max_connections == self.cfg.max_connections,
            "gate max {} model {}",
            stats.max_connections,
            self.cfg.max_connections
        );
        ensure!(
            self,
            metrics.zombies == zombies,
            "gate counts {} zombies, model {zombies}",
            metrics.zombies
        );
        ensure!(
            self,
            metrics.sleeping == sleeping,
            "gate counts {} sleeping, model {sleeping}",
            metrics.sleeping
        );
        ensure!(self, metrics.closed == self.closed, "closed flag differs");
        ensure!(
            self,
            stats.active_connections <= self.allowed,
            "active {} above maxConnections {} (was {before_max}; bound {})",
            stats.active_connections,
            self.cfg.max_connections,
            self.allowed
        );
        self.allowed = self
            .cfg
            .max_connections
            .max(self.allowed.min(stats.active_connections));
        ensure!(
            self,
            self.queue.is_empty() || active >= self.cfg.max_connections,
            "lost wake-up: {active} active of {} with {} queued",
            self.cfg.max_connections,
            self.queue.len()
        );
        ensure!(
            self,
            !self.closed || (queued == 0 && sleeping == 0),
            "a waiter or back-off survived close()"
        );
        // Nothing is left overdue: every deadline at or before `now` has fired. (A back-off or
        // an operation timeout set to `now` itself fires on the next call.)
        let now = self.now;
        let overdue = self.tickets.iter().find(|(_, s)| match **s {
            St::Queued { deadline, .. } => deadline <= now,
            St::Sleeping { wake } => wake < now,
            St::Holding { deadline, .. } => deadline != NEVER && deadline < now,
            St::Done => false,
        });
        if let Some((t, s)) = overdue {
            self.fail(&format!("{t:?} is overdue at {now:?}: {s:?}"));
        }
        if self.check_poll_timeout {
            self.poll_timeout();
        }
    }
}

fuzz_target!(|input: Input| {
    check_pure_functions(&input.side);
    let mut h = Harness::new(&input.config);
    h.check_after_call(0, Op::HandleTimeout, h.cfg.max_connections);
    for (step, &op) in input.ops.iter().take(MAX_OPS).enumerate() {
        h.call(step + 1, op);
    }
    // Finally let all time pass: everything with a deadline settles, and nothing panics.
    h.clock = Instant::from_micros(u64::MAX / 2);
    h.call(MAX_OPS + 1, Op::HandleTimeout);
});
