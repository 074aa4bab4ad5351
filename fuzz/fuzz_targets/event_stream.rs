//! Fuzzes `poolgate-core` with arbitrary event streams.
//!
//! Each input decodes (through `arbitrary`) into:
//! * a small pool configuration (`maxConnections` 1..=8, `maxQueue` 0..=16, optional queue and
//!   operation timeouts, `releaseOnTimeout`, the adaptive limit with a floor, early rejection),
//!   up to three retry policies registered before the first call (validated from JavaScript-like
//!   options by `RetryPolicy::from_raw`, or built field by field), and a sequence of up to
//!   [`MAX_OPS`] driver calls: submit (with or without a per-call timeout and overall deadline,
//!   a registered, unregistered or no retry policy, idempotent or not), release ok/err, release
//!   with an outcome of each error class and any random sample (NaN included), of a live,
//!   settled or bogus ticket, cancel, register another policy, clock moves (small, huge,
//!   backwards, to the next timer), handle_timeout, resize with any f64 (NaN and friends
//!   included), close, and the clock-free `try_acquire` / `try_release` (falling back to
//!   `release_clock_free`, as the JS driver does), draining every event after every call as the
//!   crate docs require;
//! * side inputs for the pure functions: `RawConfig::validate` and the `Config` builders,
//!   `RetryPolicy::from_raw`, `backoff`, `backoff_after`, `decide`, `classify` and the
//!   protocol's error-class codes.
//!
//! A reference model of every ticket runs next to the gate. It holds the retry state machine
//! (attempts, back-off without a slot, requeue behind earlier callers, give-up reasons, the
//! overall deadline), the adaptive limit (halved once per overload, never below the floor,
//! grown by one after a window of clean operations, never above `maxConnections`) and early
//! rejection (the prediction `position * median hold / limit`, with the median checked against
//! the model's own record of every hold time). After every call the target checks
//! `Gate::check_invariants()`, that the gate's counters, gauges and every metric total match the
//! model, that `active` stays within `maxConnections` (unless the pool was shrunk below what was
//! already running) and that a call that granted left at most the effective limit running, that
//! the effective limit stays within [floor, `maxConnections`], that every event is one the model
//! allows (so a ticket settles at most once: any event for a ticket that settled, gave up or was
//! never issued is a bug; a retry is never granted before its back-off ends nor at or after its
//! overall deadline), that grants follow arrival order and never come after a waiter's deadline,
//! that each call's return value is the one the model predicts (`Retrying { at }` to the
//! microsecond, each `GaveUp` reason, `WouldTimeOut` only with `rejectEarly` on), and (when the
//! input asks for it) that `poll_timeout` names exactly the model's next deadline. Any failure
//! panics with a readable trace of the run.
//!
//! Known core bugs can be let through while they are open, so that a run explores past them:
//! `POOLGATE_FUZZ_TOLERATE=name,...` (see [`Tolerate`]). Without it every check is strict.
//!
//! Show a saved input decoded: `cargo fuzz fmt event_stream fuzz/artifacts/event_stream/crash-*`
//! (from `fuzz/`, with `RUSTC_BOOTSTRAP=1` on a stable toolchain), or run `scripts/fuzz`.

#![no_main]

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use poolgate_core::config::{
    max_connections_option, MAX_CONNECTIONS_LIMIT, MAX_QUEUE_LIMIT, MAX_TIMEOUT_MS,
};
use poolgate_core::protocol::{
    cancel_code, error_class_code, error_class_of, event_code, refusal_code, release_code,
};
use poolgate_core::retry::MAX_RETRIES_LIMIT;
use poolgate_core::{
    classify, Cancelled, Config, Duration, ErrorClass, Event, Gate, GiveUp, Instant,
    OperationTimeout, Outcome, RawConfig, RawRetryPolicy, Rejected, Released, Request,
    RetryDecision, RetryPolicy, RetryPolicyId, Submitted, Ticket, TicketError,
    PREDICTION_MIN_SAMPLES,
};
use std::collections::{HashMap, VecDeque};
use std::fmt::Write as _;
use std::sync::OnceLock;

/// Calls per input; enough for deep queues and slot reuse, small enough to stay fast.
const MAX_OPS: usize = 256;
const NEVER: Instant = Instant::NEVER;
const CLASSES: [ErrorClass; 5] = [
    ErrorClass::Permanent,
    ErrorClass::NotSent,
    ErrorClass::MaybeSent,
    ErrorClass::TooManyConnections,
    ErrorClass::LoginLockout,
];

/// Where the gate's clock ends up for a reading: never past `Instant::LATEST` (the core's clamp,
/// added after this fuzzer found that `now == NEVER` made every deadline look passed).
fn gate_clock(clock: Instant) -> Instant {
    clock.min(Instant::LATEST)
}

/// Does nothing, out of line: a call in a branch of the model is a coverage edge of its own, so
/// the fuzzer keeps inputs that reach a case the gate's own branches do not tell apart (a login
/// lockout deciding a retry's back-off, whose code the side inputs already cover; the exact
/// boundaries of early rejection, of a retry's budget and of the adaptive limit's last cut),
/// and explores from them.
#[inline(never)]
fn coverage_hint() {
    std::hint::black_box(());
}

/// Open core bugs the harness may let through, named in `POOLGATE_FUZZ_TOLERATE` (comma
/// separated). Each relaxes exactly one check; the default is to tolerate nothing.
#[derive(Clone, Copy, Debug, Default)]
struct Tolerate {
    /// `retry-past-deadline`: do not fail when a retry whose back-off ended is granted at or
    /// after its overall deadline (`RetryPolicy::deadline`: "no attempt waits or starts past
    /// it").
    retry_past_deadline: bool,
}

fn tolerate() -> Tolerate {
    static T: OnceLock<Tolerate> = OnceLock::new();
    *T.get_or_init(|| {
        let v = std::env::var("POOLGATE_FUZZ_TOLERATE").unwrap_or_default();
        let mut t = Tolerate::default();
        for name in v.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            match name {
                "retry-past-deadline" => t.retry_past_deadline = true,
                other => panic!("POOLGATE_FUZZ_TOLERATE: unknown name {other:?}"),
            }
        }
        t
    })
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
    /// The adaptive limit's floor, `% maxConnections + 1`, when on.
    adaptive_min: Option<u8>,
    reject_early: bool,
    /// Retry policies registered before the first call.
    policies: [Option<PolicyIn>; 3],
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
        const SPECIAL: [f64; 18] = [
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
            0.5,
            1.0 - f64::EPSILON,
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

/// A retry policy: options as JavaScript passes them, or built field by field.
#[derive(Arbitrary, Debug, Clone, Copy)]
enum PolicyIn {
    /// `maxRetries`, `delay`, `maxDelayMs`, `jitter`, `deadlineMs`, `loginLockoutMs` through
    /// `RetryPolicy::from_raw` (nothing is registered when it refuses them).
    Raw([Option<Num>; 6]),
    /// The public fields set directly, bypassing validation.
    Direct {
        max_retries: u8,
        delay: Span,
        max_delay: Option<Span>,
        jitter: Num,
        deadline: Option<Span>,
        login_lockout: Option<Span>,
    },
    /// A policy at the scale of the other spans (microseconds), so that back-offs, budgets and
    /// lockouts meet: `max_retries % 5`, a delay and cap in microseconds, a jitter of
    /// `jitter / 255`, a budget and a login lockout of up to a few hundred microseconds.
    Small {
        max_retries: u8,
        delay: u8,
        max_delay: Option<u8>,
        jitter: u8,
        deadline: Option<u8>,
        login_lockout: Option<u8>,
    },
}

impl PolicyIn {
    fn build(self) -> Option<RetryPolicy> {
        match self {
            PolicyIn::Raw(r) => RetryPolicy::from_raw(&raw_retry(r)).ok(),
            PolicyIn::Direct {
                max_retries,
                delay,
                max_delay,
                jitter,
                deadline,
                login_lockout,
            } => Some(RetryPolicy {
                max_retries: max_retries.into(),
                delay: delay.get(),
                max_delay: max_delay.map(Span::get),
                jitter: jitter.get(),
                deadline: deadline.map(Span::get),
                login_lockout: login_lockout.map(Span::get),
            }),
            PolicyIn::Small {
                max_retries,
                delay,
                max_delay,
                jitter,
                deadline,
                login_lockout,
            } => {
                let us = |n: u8, k: u64| Duration::from_micros(u64::from(n) * k);
                Some(RetryPolicy {
                    max_retries: u32::from(max_retries % 5),
                    delay: us(delay, 1),
                    max_delay: max_delay.map(|n| us(n, 1)),
                    jitter: f64::from(jitter) / 255.0,
                    deadline: deadline.map(|n| us(n, 4)),
                    login_lockout: login_lockout.map(|n| us(n, 4)),
                })
            }
        }
    }
}

fn raw_retry(r: [Option<Num>; 6]) -> RawRetryPolicy {
    let num = |n: Option<Num>| n.map(Num::get);
    RawRetryPolicy {
        max_retries: num(r[0]),
        delay_ms: num(r[1]),
        max_delay_ms: num(r[2]),
        jitter: num(r[3]),
        deadline_ms: num(r[4]),
        login_lockout_ms: num(r[5]),
    }
}

/// Which retry policy a submission names.
#[derive(Arbitrary, Debug, Clone, Copy)]
enum PolicyRef {
    None,
    /// The n-th registered policy (modulo), or none when nothing is registered.
    Registered(u8),
    /// Any id at all, registered or not (0 included).
    Raw(u16),
}

#[derive(Arbitrary, Debug, Clone, Copy)]
enum OutcomeIn {
    Ok,
    /// A failure of `CLASSES[n % 5]`.
    Failed(u8),
}

impl OutcomeIn {
    fn get(self) -> Outcome {
        match self {
            OutcomeIn::Ok => Outcome::Ok,
            OutcomeIn::Failed(n) => Outcome::Failed(CLASSES[usize::from(n) % CLASSES.len()]),
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
        retry: PolicyRef,
        idempotent: bool,
    },
    /// `release(ok)`: a failure counts as a permanent one.
    Release {
        ticket: TicketIn,
        ok: bool,
    },
    /// `release_with(outcome, random)`.
    ReleaseWith {
        ticket: TicketIn,
        outcome: OutcomeIn,
        random: Num,
    },
    Cancel {
        ticket: TicketIn,
    },
    RegisterPolicy(PolicyIn),
    /// Moves the driver's clock without calling the gate.
    Clock(ClockMove),
    HandleTimeout,
    /// `poll_timeout()`, move the clock there, `handle_timeout()`: one timer firing.
    FireTimer,
    Resize(Num),
    Close,
    /// The clock-free `try_acquire`.
    TryAcquire,
    /// A clock-free slot's operation settled: `try_release`, else `release_clock_free` at the
    /// driver's clock.
    ReleaseClockFree {
        ok: bool,
    },
}

#[derive(Arbitrary, Debug)]
struct Side {
    /// `maxConnections`, `maxQueue`, `queueTimeoutMs`, `operationTimeoutMs`, `adaptive.min`.
    raw: [Option<Num>; 5],
    release_on_timeout: Option<bool>,
    reject_early: Option<bool>,
    /// A floor for `Config::with_adaptive_min`, any value.
    adaptive_probe: Option<u32>,
    /// A new `maxConnections` for `Config::with_max_connections`, any value.
    resize: Option<Num>,
    retry_raw: [Option<Num>; 6],
    attempts: u32,
    random: Num,
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
    deadline: Option<u64>,
    login_lockout: Option<u64>,
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
        adaptive_min: num(side.raw[4]),
        reject_early: side.reject_early,
    };
    let max_timeout = Duration::from_millis_f64(MAX_TIMEOUT_MS);
    match raw.validate() {
        Ok(c) => {
            assert!(
                (1..=MAX_CONNECTIONS_LIMIT).contains(&c.max_connections()),
                "{raw:?} -> {c:?}"
            );
            assert!(c.max_queue() <= MAX_QUEUE_LIMIT, "{raw:?} -> {c:?}");
            assert!(
                c.queue_timeout().is_none_or(|d| d <= max_timeout),
                "{raw:?} -> {c:?}"
            );
            assert!(
                c.operation_timeout()
                    .is_none_or(|d| d >= Duration::from_millis(1) && d <= max_timeout),
                "{raw:?} -> {c:?}"
            );
            if let Some(v) = raw.max_connections {
                assert_eq!(f64::from(c.max_connections()), v, "{raw:?} -> {c:?}");
            }
            assert!(
                c.adaptive_min()
                    .is_none_or(|m| m >= 1 && m <= c.max_connections()),
                "{raw:?} -> {c:?}"
            );
            assert_eq!(
                c.adaptive_min().map(f64::from),
                raw.adaptive_min,
                "{raw:?} -> {c:?}"
            );
            assert_eq!(c.reject_early(), raw.reject_early == Some(true));
            assert_eq!(c.release_on_timeout(), raw.release_on_timeout == Some(true));
            // The builders make the same configuration from the same values.
            let built = Config::default()
                .with_max_connections(f64::from(c.max_connections()))
                .and_then(|b| b.with_max_queue(c.max_queue()))
                .map(|b| b.with_queue_timeout(c.queue_timeout()))
                .and_then(|b| b.with_operation_timeout(c.operation_timeout()))
                .map(|b| b.with_release_on_timeout(c.release_on_timeout()))
                .and_then(|b| b.with_adaptive_min(c.adaptive_min()))
                .map(|b| b.with_reject_early(c.reject_early()));
            assert_eq!(built, Ok(c), "{raw:?}");
            // Any floor: accepted exactly within 1..=maxConnections.
            if let Some(m) = side.adaptive_probe {
                let got = c.with_adaptive_min(Some(m));
                assert_eq!(
                    got.is_ok(),
                    (1..=c.max_connections()).contains(&m),
                    "with_adaptive_min({m}) on {c:?} gave {got:?}"
                );
                if let Ok(g) = got {
                    assert_eq!(g.adaptive_min(), Some(m));
                }
            }
            // Resizing keeps the floor at or below maxConnections.
            if let Some(v) = side.resize.map(Num::get) {
                match c.with_max_connections(v) {
                    Ok(r) => {
                        assert_eq!(f64::from(r.max_connections()), v);
                        assert_eq!(
                            r.adaptive_min(),
                            c.adaptive_min().map(|m| m.min(r.max_connections()))
                        );
                    }
                    Err(e) => assert!(max_connections_option(v).is_err(), "{e}"),
                }
            }
            let gate = Gate::from_raw(&raw).expect("from_raw disagrees with validate");
            assert_eq!(*gate.config(), c);
            assert_eq!(
                gate.clock_free_eligible(),
                c.operation_timeout().is_none() && c.adaptive_min().is_none() && !c.reject_early()
            );
            gate.check_invariants().expect("fresh gate");
        }
        Err(e) => {
            assert!(!e.to_string().is_empty());
            assert!(Gate::from_raw(&raw).is_err());
        }
    }

    // RetryPolicy::from_raw, backoff, backoff_after, decide.
    let random = side.random.get();
    let now = Instant::from_micros(side.now);
    let deadline = side.deadline.map(Instant::from_micros);
    let check = |p: &RetryPolicy| {
        for class in CLASSES {
            check_policy(
                p,
                side.attempts,
                random,
                class,
                side.idempotent,
                now,
                deadline,
            );
        }
    };
    let raw_policy = raw_retry(side.retry_raw);
    match RetryPolicy::from_raw(&raw_policy) {
        Ok(p) => {
            let ms = |d: Duration| d.as_millis_f64();
            assert!(p.max_retries <= MAX_RETRIES_LIMIT, "{p:?}");
            assert!((0.0..=1.0).contains(&p.jitter), "{p:?}");
            assert!(p.delay <= max_timeout, "{p:?}");
            assert!(p.max_delay.is_none_or(|d| d <= max_timeout), "{p:?}");
            assert!(
                p.deadline
                    .is_none_or(|d| d >= Duration::from_millis(1) && d <= max_timeout),
                "{p:?}"
            );
            assert!(
                p.login_lockout
                    .is_none_or(|d| d > Duration::ZERO && d <= max_timeout),
                "{p:?}"
            );
            if let Some(v) = raw_policy.max_retries {
                assert_eq!(f64::from(p.max_retries), v, "{raw_policy:?} -> {p:?}");
            }
            if let Some(v) = raw_policy.jitter {
                assert_eq!(p.jitter, v, "{raw_policy:?} -> {p:?}");
            }
            if let Some(v) = raw_policy.delay_ms {
                assert_eq!(p.delay, Duration::from_millis_f64(v), "{raw_policy:?}");
            }
            if raw_policy.deadline_ms == Some(f64::INFINITY) {
                assert_eq!(p.deadline, None);
            }
            if let Some(d) = p.login_lockout {
                assert!(ms(d) > 0.0);
            }
            check(&p);
        }
        Err(e) => {
            let msg = e.to_string();
            assert!(
                [
                    "maxRetries",
                    "delay",
                    "maxDelayMs",
                    "jitter",
                    "deadlineMs",
                    "loginLockoutMs"
                ]
                .iter()
                .any(|o| msg.starts_with(o)),
                "a retry option error names no option: {msg}"
            );
        }
    }
    // A policy built field by field, bypassing validation (its fields are public).
    let d = &side.direct;
    check(&RetryPolicy {
        max_retries: d.max_retries,
        delay: Duration::from_micros(d.delay),
        max_delay: d.max_delay.map(Duration::from_micros),
        jitter: d.jitter.get(),
        deadline: d.deadline.map(Duration::from_micros),
        login_lockout: d.login_lockout.map(Duration::from_micros),
    });

    // classify: never panics, and a class is one of five, whose code round-trips.
    let c = classify(
        side.codes.iter().map(String::as_str),
        side.messages.iter().map(String::as_str),
    );
    assert!(error_class_code(c) <= 4);
    assert_eq!(error_class_of(error_class_code(c)), c);
    if side.codes.is_empty() {
        // A class from messages alone is the strongest of the classes of each message.
        let each: Vec<ErrorClass> = side
            .messages
            .iter()
            .map(|m| classify(std::iter::empty(), std::iter::once(m.as_str())))
            .collect();
        assert!(
            each.contains(&c) || (c == ErrorClass::Permanent && each.is_empty()),
            "{c:?} from {each:?}"
        );
    }
    let none = classify(std::iter::empty(), std::iter::empty());
    assert_eq!(none, ErrorClass::Permanent);
}

/// The back-off the docs describe: `delay * n` (n at least 1), capped at `max_delay`, minus
/// `jitter * random` of it (random clamped to [0, 1], NaN as 0); after a login lockout with
/// `login_lockout` set, at least `login_lockout / max_retries` (max_retries at least 1).
fn model_backoff(p: &RetryPolicy, n: u32, class: ErrorClass, random: f64) -> Duration {
    let linear = p.delay.as_micros().saturating_mul(u64::from(n.max(1)));
    let capped = p.max_delay.map_or(linear, |c| linear.min(c.as_micros()));
    let r = if random.is_nan() {
        0.0
    } else {
        random.clamp(0.0, 1.0)
    };
    let cut = (capped as f64 * p.jitter * r) as u64;
    let jittered = capped.saturating_sub(cut);
    let floor = match (class, p.login_lockout) {
        (ErrorClass::LoginLockout, Some(l)) => l.as_micros() / u64::from(p.max_retries.max(1)),
        _ => 0,
    };
    Duration::from_micros(jittered.max(floor))
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
    // After a failure of `class`: the same schedule, except that a login lockout spreads the
    // retries over it.
    let after = p.backoff_after(attempts, class, random);
    assert_eq!(
        after,
        model_backoff(p, attempts, class, random),
        "backoff_after({attempts}, {class:?}, {random}) of {p:?}"
    );
    match (class, p.login_lockout) {
        (ErrorClass::LoginLockout, Some(l)) => {
            assert!(after >= b, "{p:?}");
            assert!(
                after <= b.max(l),
                "a lockout back-off past the lockout: {p:?}"
            );
        }
        _ => assert_eq!(after, b, "{class:?} changed the schedule: {p:?}"),
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
                deadline.is_some_and(|d| now.saturating_add(after) >= d),
                "{p:?}"
            )
        }
        (RetryDecision::RetryAt(w), None) => {
            assert_eq!(w, now.saturating_add(after), "{p:?}");
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

/// The configuration as the model knows it.
#[derive(Clone, Copy, Debug)]
struct ModelCfg {
    max_connections: u32,
    max_queue: u32,
    queue_timeout: Option<Duration>,
    operation_timeout: Option<Duration>,
    release_on_timeout: bool,
    adaptive_min: Option<u32>,
    reject_early: bool,
}

impl ModelCfg {
    /// When a caller queued at `now` with overall deadline `cap` must leave the queue.
    fn queue_deadline(&self, now: Instant, cap: Instant) -> Instant {
        match self.queue_timeout {
            Some(t) => now.saturating_add(t).min(cap),
            None => cap,
        }
    }
}

/// Where one ticket is.
#[derive(Clone, Copy, Debug, PartialEq)]
enum St {
    Queued {
        since: Instant,
        deadline: Instant,
        /// A retry whose back-off ended when it could not wait at all: it must be granted or
        /// time out (waited 0) within the same call.
        no_wait: bool,
        /// Such a retry that found a slot free when its back-off ended: it must be granted.
        must_grant: bool,
    },
    /// A retry backing off without a slot.
    Sleeping { wake: Instant },
    Holding {
        /// Operation deadline, `NEVER` once it fired or the caller was detached.
        deadline: Instant,
        granted_at: Instant,
        timed_out: bool,
        cancelled: bool,
        /// Timed out with `release_on_timeout`: the slot was given back.
        detached: bool,
    },
    /// Settled and freed: any further event about it is a bug.
    Done,
}

/// What the model knows about one ticket.
#[derive(Clone, Copy, Debug, PartialEq)]
struct Tk {
    st: St,
    /// The operation timeout each attempt gets.
    op: Option<Duration>,
    /// The overall deadline (the caller's, or the end of the policy's budget): no attempt waits
    /// or starts at or past it.
    cap: Instant,
    /// The retry policy's id the gate must apply (0: never retried).
    retry: u16,
    idempotent: bool,
    /// Failed attempts so far.
    failed: u32,
}

/// The metric totals, as the model counts them.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct Counts {
    submitted: u64,
    granted: u64,
    succeeded: u64,
    failed: u64,
    rejected_full: u64,
    queue_timeouts: u64,
    operation_timeouts: u64,
    aborted: u64,
    rejected_closed: u64,
    retries: u64,
    rejected_early: u64,
    too_many_connections: u64,
    limit_cuts: u64,
}

impl Counts {
    fn of(m: &poolgate_core::Metrics) -> Counts {
        Counts {
            submitted: m.submitted,
            granted: m.granted,
            succeeded: m.succeeded,
            failed: m.failed,
            rejected_full: m.rejected_full,
            queue_timeouts: m.queue_timeouts,
            operation_timeouts: m.operation_timeouts,
            aborted: m.aborted,
            rejected_closed: m.rejected_closed,
            retries: m.retries,
            rejected_early: m.rejected_early,
            too_many_connections: m.too_many_connections,
            limit_cuts: m.limit_cuts,
        }
    }
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
    /// The policy built (none when `from_raw` refused it) and the id the gate gave it.
    Register(Option<RetryPolicy>, Option<RetryPolicyId>),
    Resize(bool),
    PollTimeout(Option<Instant>),
    /// `try_acquire`, `try_release` or `release_clock_free`.
    Fast(bool),
}

/// What a submission should do.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Want {
    /// Granted at once, with this operation deadline.
    Grant(Instant),
    Queue,
    Refuse(Rejected),
}

struct Harness {
    gate: Gate,
    cfg: ModelCfg,
    check_poll_timeout: bool,
    /// The driver's clock (what it passes in).
    clock: Instant,
    /// The gate's clock as the model knows it: the latest `now` passed in.
    now: Instant,
    tickets: HashMap<Ticket, Tk>,
    issued: Vec<Ticket>,
    /// Queued tickets in arrival order, each with a group number. Tickets of one group (retries
    /// whose back-offs ended at the same instant, woken by the same call) may be granted in
    /// either order; every other ticket has a group of its own.
    queue: VecDeque<(Ticket, u64)>,
    groups: u64,
    closed: bool,
    /// Slots held by clock-free grants (counted, not tracked).
    clock_free: u32,
    /// Upper bound on `active`: `maxConnections`, or what was already running when the pool
    /// shrank, whichever is larger, tightening as operations finish.
    allowed: u32,
    /// The effective limit (adaptive), when it was last cut, clean operations since it changed.
    limit: u32,
    last_cut: Option<Instant>,
    clean: u32,
    /// Registered retry policies; an id is an index + 1.
    policies: Vec<RetryPolicy>,
    counts: Counts,
    /// Every hold time the gate should have recorded, sorted (microseconds).
    holds: Vec<u64>,
    /// Whether the current call advanced the gate and its back-offs are not yet applied.
    advanced: bool,
    /// Grants during the current call, and the effective limit before it.
    granted_in_call: u32,
    limit_before: u32,
    /// The peaks last read, which may only grow.
    peak_active: u32,
    peak_queued: u32,
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
        let max_connections = u32::from(fc.max_connections % 8) + 1;
        let adaptive_min = fc.adaptive_min.map(|m| u32::from(m) % max_connections + 1);
        let mut operation_timeout = fc.operation_timeout.map(Span::get);
        let base = Config::default()
            .with_max_connections(f64::from(max_connections))
            .and_then(|c| c.with_max_queue(u32::from(fc.max_queue % 17)))
            .expect("a valid size")
            .with_queue_timeout(fc.queue_timeout.map(Span::get));
        let config = match base.with_operation_timeout(operation_timeout) {
            Ok(c) => c,
            Err(e) => {
                // Only a zero timeout is refused (it would time out every grant at once).
                assert_eq!(operation_timeout, Some(Duration::ZERO), "{e}");
                operation_timeout = Some(Duration::from_micros(1));
                base.with_operation_timeout(operation_timeout)
                    .expect("1 us")
            }
        }
        .with_release_on_timeout(fc.release_on_timeout)
        .with_adaptive_min(adaptive_min)
        .expect("a floor within 1..=maxConnections")
        .with_reject_early(fc.reject_early);
        let cfg = ModelCfg {
            max_connections,
            max_queue: u32::from(fc.max_queue % 17),
            queue_timeout: fc.queue_timeout.map(Span::get),
            operation_timeout,
            release_on_timeout: fc.release_on_timeout,
            adaptive_min,
            reject_early: fc.reject_early,
        };
        assert_eq!(
            (
                config.max_connections(),
                config.max_queue(),
                config.queue_timeout(),
                config.operation_timeout(),
                config.release_on_timeout(),
                config.adaptive_min(),
                config.reject_early()
            ),
            (
                cfg.max_connections,
                cfg.max_queue,
                cfg.queue_timeout,
                cfg.operation_timeout,
                cfg.release_on_timeout,
                cfg.adaptive_min,
                cfg.reject_early
            ),
            "the builders lost an option"
        );
        let mut h = Harness {
            gate: Gate::new(config),
            cfg,
            check_poll_timeout: fc.check_poll_timeout,
            clock: Instant::ZERO,
            now: Instant::ZERO,
            tickets: HashMap::new(),
            issued: Vec::new(),
            queue: VecDeque::new(),
            groups: 0,
            closed: false,
            clock_free: 0,
            allowed: max_connections,
            limit: max_connections,
            last_cut: None,
            clean: 0,
            policies: Vec::new(),
            counts: Counts::default(),
            holds: Vec::new(),
            advanced: false,
            granted_in_call: 0,
            limit_before: max_connections,
            peak_active: 0,
            peak_queued: 0,
            trace: Vec::new(),
        };
        for p in fc.policies.iter().flatten() {
            h.register(*p);
        }
        h
    }

    #[cold]
    fn fail(&self, what: &str) -> ! {
        let mut s = format!(
            "\n=== poolgate fuzz failure: {what}\nconfig: {:?}\ntolerating: {:?}\n",
            self.cfg,
            tolerate()
        );
        for (i, p) in self.policies.iter().enumerate() {
            let _ = writeln!(s, "retry policy {}: {p:?}", i + 1);
        }
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
            .filter(|(_, tk)| tk.st != St::Done)
            .collect();
        live.sort_by_key(|(t, _)| t.to_bits());
        for (t, tk) in live {
            let _ = writeln!(s, "  {t:?}: {tk:?}");
        }
        let _ = writeln!(
            s,
            "model queue (ticket, group): {:?}\nmodel limit {} (last cut {:?}, clean {}), counts {:?}\n\
             gate stats: {:?}\ngate metrics: {:?}",
            self.queue,
            self.limit,
            self.last_cut,
            self.clean,
            self.counts,
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
        self.clock_free
            + self.count(|s| {
                matches!(
                    s,
                    St::Holding {
                        detached: false,
                        ..
                    }
                )
            })
    }

    fn count(&self, f: impl Fn(&St) -> bool) -> u32 {
        self.tickets.values().filter(|tk| f(&tk.st)).count() as u32
    }

    /// The model's next deadline, which `poll_timeout` must name.
    fn next_deadline(&self) -> Option<Instant> {
        self.tickets
            .values()
            .filter_map(|tk| match tk.st {
                St::Queued { deadline, .. } => Some(deadline),
                St::Sleeping { wake } => Some(wake),
                St::Holding { deadline, .. } => Some(deadline),
                St::Done => None,
            })
            .filter(|&at| at != NEVER)
            .min()
    }

    fn issue(&mut self, t: Ticket, tk: Tk) {
        ensure!(
            self,
            !self.tickets.contains_key(&t),
            "ticket {t:?} issued twice (was {:?})",
            self.tickets.get(&t)
        );
        self.tickets.insert(t, tk);
        self.issued.push(t);
    }

    fn set_state(&mut self, t: Ticket, st: St) {
        if let Some(tk) = self.tickets.get_mut(&t) {
            tk.st = st;
        }
    }

    fn enqueue(&mut self, t: Ticket) {
        self.groups += 1;
        self.queue.push_back((t, self.groups));
    }

    fn unqueue(&mut self, t: Ticket) {
        match self.queue.iter().position(|&(q, _)| q == t) {
            Some(i) => {
                self.queue.remove(i);
            }
            None => self.fail(&format!("{t:?} left a queue it was not in")),
        }
    }

    fn record_hold(&mut self, d: Duration) {
        let v = d.as_micros();
        let at = self.holds.partition_point(|&h| h <= v);
        self.holds.insert(at, v);
    }

    /// The wait early rejection predicts for the caller at `position`: `position * median
    /// hold / limit`, once there are enough hold samples. The median is the gate's (bucketed)
    /// one, checked against the model's exact one in `check_after_call`.
    fn expected_prediction(&self, position: u32) -> Option<Duration> {
        if (self.holds.len() as u64) < PREDICTION_MIN_SAMPLES {
            return None;
        }
        let p50 = self.gate.metrics().hold.p50.as_micros();
        let micros = u128::from(p50) * u128::from(position) / u128::from(self.limit.max(1));
        Some(Duration::from_micros(
            u64::try_from(micros).unwrap_or(u64::MAX),
        ))
    }

    // ---- retry policies ---------------------------------------------------------------------

    fn register(&mut self, p: PolicyIn) {
        let Some(policy) = p.build() else {
            self.trace.push(Trace::Ret(Ret::Register(None, None)));
            return;
        };
        let got = self.gate.register_retry_policy(policy);
        self.trace.push(Trace::Ret(Ret::Register(
            Some(policy),
            got.as_ref().ok().copied(),
        )));
        // Equal policies share an id (a NaN jitter equals nothing, so it never does).
        let want = match self.policies.iter().position(|q| *q == policy) {
            Some(i) => i + 1,
            None => {
                self.policies.push(policy);
                self.policies.len()
            }
        };
        ensure!(
            self,
            got == Ok(RetryPolicyId::from_u16(want as u16)),
            "register_retry_policy({policy:?}) gave {got:?}, model says id {want}"
        );
    }

    fn policy_ref(&self, r: PolicyRef) -> Option<RetryPolicyId> {
        let n = self.policies.len();
        match r {
            PolicyRef::None => None,
            PolicyRef::Registered(_) if n == 0 => None,
            PolicyRef::Registered(i) => {
                Some(RetryPolicyId::from_u16((usize::from(i) % n) as u16 + 1))
            }
            PolicyRef::Raw(v) => Some(RetryPolicyId::from_u16(v)),
        }
    }

    /// The policy the gate must apply: a registered id, else none ("an id that was never
    /// registered makes `submit` refuse nothing and retry nothing").
    fn effective_retry(&self, id: Option<RetryPolicyId>) -> u16 {
        id.map_or(0, |id| {
            let v = id.to_u16();
            if v >= 1 && usize::from(v) <= self.policies.len() {
                v
            } else {
                0
            }
        })
    }

    /// What the gate must answer to the failure of a call with a retry policy: the instant the
    /// retry's back-off ends, or why it gives up.
    fn expected_retry(&self, tk: &Tk, class: ErrorClass, random: f64) -> Result<Instant, GiveUp> {
        if self.closed {
            return Err(GiveUp::Closed);
        }
        let p = self.policies[usize::from(tk.retry) - 1];
        let n = tk.failed.saturating_add(1);
        match class {
            ErrorClass::Permanent => return Err(GiveUp::NotRetryable),
            ErrorClass::MaybeSent if !tk.idempotent => return Err(GiveUp::MaybeExecuted),
            _ if n > p.max_retries => return Err(GiveUp::Exhausted),
            _ => {}
        }
        let backoff = model_backoff(&p, n, class, random);
        if backoff > model_backoff(&p, n, ErrorClass::NotSent, random) {
            coverage_hint();
        }
        let wake = self.now.saturating_add(backoff);
        if wake == tk.cap {
            coverage_hint();
        }
        if tk.cap != NEVER && wake >= tk.cap {
            return Err(GiveUp::Deadline);
        }
        Ok(wake)
    }

    /// The counters and the adaptive limit after an operation granted at `granted_at` settled.
    /// Every too-many-connections failure is counted, adaptive or not; an operation granted
    /// before the last cut moves the limit neither way (its failure is the same overload, its
    /// success says nothing about the new limit).
    fn adapt(&mut self, granted_at: Instant, outcome: Outcome) {
        if outcome == Outcome::Failed(ErrorClass::TooManyConnections) {
            self.counts.too_many_connections += 1;
        }
        let Some(min) = self.cfg.adaptive_min else {
            return;
        };
        if self.last_cut == Some(granted_at) {
            coverage_hint();
        }
        if self.last_cut.is_some_and(|cut| granted_at < cut) {
            return;
        }
        match outcome {
            Outcome::Failed(ErrorClass::TooManyConnections) => {
                self.limit = (self.limit / 2).max(min);
                self.last_cut = Some(self.now);
                self.clean = 0;
                self.counts.limit_cuts += 1;
            }
            Outcome::Ok => {
                self.clean += 1;
                if self.clean >= self.limit && self.limit < self.cfg.max_connections {
                    self.limit += 1;
                    self.clean = 0;
                }
            }
            Outcome::Failed(_) => {}
        }
    }

    // ---- events -----------------------------------------------------------------------------

    /// Retries whose back-off ended by `now` join the back of the queue, in the order their
    /// back-offs ended (ties in either order), each with a queue deadline counted from now;
    /// one that may not wait at all must be granted or time out within this call, and be
    /// granted when a slot was certainly free as its back-off ended: it is the only one whose
    /// back-off ended first, and nobody waited while a slot was free before the call (firing
    /// deadlines only frees slots).
    fn apply_wakes(&mut self) {
        let now = self.now;
        let free_before = self.queue.is_empty() && self.active() < self.limit_before;
        let mut woke: Vec<(Instant, u64)> = self
            .tickets
            .iter()
            .filter_map(|(t, tk)| match tk.st {
                St::Sleeping { wake } if wake <= now => Some((wake, t.to_bits())),
                _ => None,
            })
            .collect();
        woke.sort_unstable();
        let first_alone = woke.len() == 1 || (woke.len() > 1 && woke[0].0 < woke[1].0);
        let mut last = None;
        for (i, (wake, bits)) in woke.into_iter().enumerate() {
            let t = Ticket::from_bits(bits);
            if last != Some(wake) {
                self.groups += 1;
                last = Some(wake);
            }
            let cap = self.tickets[&t].cap;
            let deadline = self.cfg.queue_deadline(now, cap);
            let st = if deadline > now {
                St::Queued {
                    since: now,
                    deadline,
                    no_wait: false,
                    must_grant: false,
                }
            } else {
                St::Queued {
                    since: now,
                    deadline: now.saturating_add(Duration::from_micros(1)),
                    no_wait: true,
                    must_grant: i == 0 && first_alone && free_before && cap > now,
                }
            };
            self.set_state(t, st);
            self.queue.push_back((t, self.groups));
        }
    }

    /// Pops the gate's events and applies each to the model, checking it is allowed.
    fn drain_events(&mut self) {
        if std::mem::take(&mut self.advanced) {
            self.apply_wakes();
        }
        while let Some(ev) = self.gate.poll_event() {
            self.trace.push(Trace::Event(ev));
            self.on_event(ev);
        }
    }

    fn on_event(&mut self, ev: Event) {
        ensure!(
            self,
            (1..=4).contains(&event_code(&ev)),
            "{ev:?} has code {}",
            event_code(&ev)
        );
        let t = ev.ticket();
        let now = self.now;
        let Some(&tk) = self.tickets.get(&t) else {
            self.fail(&format!("{ev:?} for a ticket never issued"));
        };
        let next = match (ev, tk.st) {
            (
                Event::Granted(_),
                St::Queued {
                    deadline, no_wait, ..
                },
            ) => {
                ensure!(
                    self,
                    no_wait || deadline > now,
                    "{t:?} granted at/after its queue deadline"
                );
                ensure!(
                    self,
                    tk.cap > now || (tolerate().retry_past_deadline && tk.failed > 0),
                    "{t:?} granted at/after its overall deadline {:?} (now {now:?}; failed attempts {})",
                    tk.cap,
                    tk.failed
                );
                let front = self.queue.front().map(|&(_, g)| g);
                match self.queue.iter().position(|&(q, _)| q == t) {
                    Some(i) if Some(self.queue[i].1) == front => {
                        self.queue.remove(i);
                    }
                    _ => self.fail(&format!(
                        "{t:?} granted out of arrival order (queue {:?})",
                        self.queue
                    )),
                }
                self.counts.granted += 1;
                self.granted_in_call += 1;
                St::Holding {
                    deadline: tk.op.map_or(NEVER, |d| now.saturating_add(d)).min(tk.cap),
                    granted_at: now,
                    timed_out: false,
                    cancelled: false,
                    detached: false,
                }
            }
            (Event::Granted(_), St::Sleeping { wake }) => self.fail(&format!(
                "{t:?} granted at {now:?}, before its back-off ends at {wake:?}"
            )),
            (
                Event::QueueTimeout { waited, .. },
                St::Queued {
                    since,
                    deadline,
                    no_wait,
                    must_grant,
                },
            ) => {
                ensure!(
                    self,
                    no_wait || deadline <= now,
                    "{t:?} timed out before its deadline"
                );
                ensure!(
                    self,
                    !must_grant,
                    "{t:?} timed out when its back-off ended although a slot was free"
                );
                ensure!(
                    self,
                    waited == now.saturating_since(since),
                    "{t:?} waited {waited:?}, queued at {since:?}, now {now:?}"
                );
                self.unqueue(t);
                self.counts.queue_timeouts += 1;
                St::Done
            }
            (
                Event::OperationTimeout(_),
                St::Holding {
                    deadline,
                    granted_at,
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
                self.counts.operation_timeouts += 1;
                if self.cfg.release_on_timeout {
                    self.record_hold(now.saturating_since(granted_at));
                }
                St::Holding {
                    deadline: NEVER,
                    granted_at,
                    timed_out: true,
                    cancelled: false,
                    detached: self.cfg.release_on_timeout,
                }
            }
            (Event::Closed(_), St::Queued { .. }) if self.closed => {
                self.unqueue(t);
                self.counts.rejected_closed += 1;
                St::Done
            }
            (Event::Closed(_), St::Sleeping { .. }) if self.closed => {
                self.counts.rejected_closed += 1;
                St::Done
            }
            _ => self.fail(&format!(
                "{ev:?} for a ticket in state {tk:?} (settled twice, or impossible)"
            )),
        };
        self.set_state(t, next);
    }

    // ---- calls ------------------------------------------------------------------------------

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
            // The clock-free calls take no `now` (release_clock_free advances; see below), and
            // registering a policy takes none either.
            Op::Clock(_) | Op::TryAcquire | Op::ReleaseClockFree { .. } | Op::RegisterPolicy(_) => {
                false
            }
            Op::Resize(n) => max_connections_option(n.get()).is_ok(),
            _ => true,
        };
        if advances {
            self.now = self.now.max(gate_clock(clock));
        }
        self.advanced = advances;
        self.granted_in_call = 0;
        self.limit_before = self.limit;
        let before_max = self.cfg.max_connections;
        match op {
            Op::Submit {
                timeout,
                deadline,
                retry,
                idempotent,
            } => {
                let request = Request {
                    operation_timeout: match timeout {
                        OpTimeoutIn::PoolDefault => OperationTimeout::PoolDefault,
                        OpTimeoutIn::Never => OperationTimeout::Never,
                        OpTimeoutIn::After(s) => OperationTimeout::After(s.get()),
                    },
                    deadline: deadline.map(|w| w.at(clock)),
                    retry: self.policy_ref(retry),
                    idempotent,
                };
                let got = self.gate.submit(clock, request);
                self.trace.push(Trace::Ret(Ret::Submit(got)));
                self.drain_events();
                self.check_submit(request, got);
            }
            Op::Release { ticket, ok } => {
                let t = self.ticket(ticket);
                let got = self.gate.release(clock, t, ok);
                // `release` is `release_with` with a permanent failure and no jitter.
                let outcome = if ok {
                    Outcome::Ok
                } else {
                    Outcome::Failed(ErrorClass::Permanent)
                };
                self.check_release(t, outcome, 0.0, got);
            }
            Op::ReleaseWith {
                ticket,
                outcome,
                random,
            } => {
                let t = self.ticket(ticket);
                let (outcome, random) = (outcome.get(), random.get());
                let got = self.gate.release_with(clock, t, outcome, random);
                self.check_release(t, outcome, random, got);
            }
            Op::Cancel { ticket } => {
                let t = self.ticket(ticket);
                let got = self.gate.cancel(clock, t);
                self.trace.push(Trace::Ret(Ret::Cancel(t, got)));
                self.drain_events();
                let tk = self.tickets.get(&t).copied();
                let (want, next) = match tk.map(|k| k.st) {
                    None | Some(St::Done) => (Err(TicketError::Unknown), None),
                    Some(St::Queued { .. }) => {
                        self.unqueue(t);
                        (Ok(Cancelled::Removed), Some(St::Done))
                    }
                    Some(St::Sleeping { .. }) => (Ok(Cancelled::Removed), Some(St::Done)),
                    Some(St::Holding {
                        timed_out: false,
                        cancelled: false,
                        granted_at,
                        ..
                    }) => (
                        Ok(Cancelled::NowZombie),
                        Some(St::Holding {
                            deadline: NEVER,
                            granted_at,
                            timed_out: false,
                            cancelled: true,
                            detached: false,
                        }),
                    ),
                    Some(St::Holding { .. }) => (Ok(Cancelled::AlreadySettled), None),
                };
                ensure!(
                    self,
                    got == want,
                    "cancel({t:?}) gave {got:?}, model says {want:?}"
                );
                if let Ok(c) = got {
                    ensure!(
                        self,
                        (0..=2).contains(&cancel_code(&c)),
                        "{c:?} has code {}",
                        cancel_code(&c)
                    );
                    if c != Cancelled::AlreadySettled {
                        self.counts.aborted += 1;
                    }
                }
                if let Some(next) = next {
                    self.set_state(t, next);
                }
                // Removing a waiter or detaching can grant nobody: no slot was freed. The gate
                // still runs grant_waiters; any Granted it emits was checked in drain_events.
            }
            Op::RegisterPolicy(p) => self.register(p),
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
                    let max = value as u32;
                    self.cfg.max_connections = max;
                    // The floor stays at or below maxConnections; the effective limit stays
                    // within both (without the adaptive limit it is maxConnections).
                    self.cfg.adaptive_min = self.cfg.adaptive_min.map(|m| m.min(max));
                    self.limit = match self.cfg.adaptive_min {
                        Some(min) => self.limit.clamp(min, max),
                        None => max,
                    };
                    self.allowed = self.allowed.max(max);
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
                let eligible = self.cfg.operation_timeout.is_none()
                    && self.cfg.adaptive_min.is_none()
                    && !self.cfg.reject_early;
                ensure!(
                    self,
                    self.gate.clock_free_eligible() == eligible,
                    "clock_free_eligible() is {}, model says {eligible}",
                    self.gate.clock_free_eligible()
                );
                let want =
                    !self.closed && self.queue.is_empty() && self.active() < self.limit && eligible;
                let got = self.gate.try_acquire();
                self.trace.push(Trace::Ret(Ret::Fast(got)));
                ensure!(
                    self,
                    got == want,
                    "try_acquire gave {got}, model says {want}"
                );
                if got {
                    self.clock_free += 1;
                    self.counts.submitted += 1;
                    self.counts.granted += 1;
                    self.granted_in_call += 1;
                }
                ensure!(
                    self,
                    self.gate.poll_event().is_none(),
                    "try_acquire emitted an event"
                );
            }
            Op::ReleaseClockFree { ok } => {
                let fast = self.gate.try_release(ok);
                self.trace.push(Trace::Ret(Ret::Fast(fast)));
                let want_fast = self.clock_free > 0 && self.queue.is_empty();
                ensure!(
                    self,
                    fast == want_fast,
                    "try_release gave {fast}, model says {want_fast}"
                );
                if fast {
                    self.clock_free -= 1;
                    self.count_outcome(ok);
                    ensure!(
                        self,
                        self.gate.poll_event().is_none(),
                        "try_release emitted an event"
                    );
                } else {
                    // The gate fires due deadlines, gives the slot back, then grants waiters.
                    self.now = self.now.max(gate_clock(clock));
                    self.advanced = true;
                    let got = self.gate.release_clock_free(clock, ok);
                    self.trace.push(Trace::Ret(Ret::Fast(got)));
                    ensure!(
                        self,
                        got == (self.clock_free > 0),
                        "release_clock_free gave {got} with {} clock-free slots",
                        self.clock_free
                    );
                    self.drain_events();
                    if got {
                        self.clock_free -= 1;
                        self.count_outcome(ok);
                    }
                }
            }
        }
        if !matches!(op, Op::Clock(_)) {
            self.check_after_call(step, op, before_max);
        }
    }

    fn count_outcome(&mut self, ok: bool) {
        if ok {
            self.counts.succeeded += 1;
        } else {
            self.counts.failed += 1;
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

    fn check_release(
        &mut self,
        t: Ticket,
        outcome: Outcome,
        random: f64,
        got: Result<Released, TicketError>,
    ) {
        self.trace.push(Trace::Ret(Ret::Release(t, got)));
        // Events about `t` can only come from the advance before the release itself, so
        // applying them all first gives the state the release saw.
        self.drain_events();
        let tk = self.tickets.get(&t).copied();
        let held = match tk.map(|k| k.st) {
            None | Some(St::Done) => Err(TicketError::Unknown),
            Some(St::Queued { .. } | St::Sleeping { .. }) => Err(TicketError::NotHeld),
            Some(St::Holding {
                cancelled: true,
                granted_at,
                ..
            }) => Ok((Released::ZombieEnded, granted_at)),
            Some(St::Holding {
                timed_out: true,
                detached,
                granted_at,
                ..
            }) => Ok((
                if detached {
                    Released::AlreadyFreed
                } else {
                    Released::ZombieEnded
                },
                granted_at,
            )),
            Some(St::Holding { granted_at, .. }) => Ok((Released::Completed, granted_at)),
        };
        let (Ok((released, granted_at)), Some(tk)) = (held, tk) else {
            if let Err(e) = held {
                ensure!(
                    self,
                    got == Err(e),
                    "release({t:?}, {outcome:?}) gave {got:?}, model says {e:?}"
                );
            }
            return;
        };
        let now = self.now;
        if released != Released::AlreadyFreed {
            self.record_hold(now.saturating_since(granted_at));
        }
        self.count_outcome(outcome == Outcome::Ok);
        self.adapt(granted_at, outcome);
        // Only a completed attempt of a call with a retry policy is decided; a zombie's or a
        // freed slot's failure reaches nobody.
        let want = match (released, outcome) {
            (Released::Completed, Outcome::Failed(class)) if tk.retry != 0 => {
                match self.expected_retry(&tk, class, random) {
                    Ok(at) => Released::Retrying { at },
                    Err(why) => Released::GaveUp(why),
                }
            }
            _ => released,
        };
        ensure!(
            self,
            got == Ok(want),
            "release({t:?}, {outcome:?}, random {random:?}) gave {got:?}, model says {want:?} (ticket {tk:?})"
        );
        ensure!(
            self,
            (0..=8).contains(&release_code(&want)),
            "{want:?} has code {}",
            release_code(&want)
        );
        match want {
            Released::Retrying { at } => {
                ensure!(self, at >= now, "a back-off that ends before now: {at:?}");
                ensure!(
                    self,
                    tk.cap == NEVER || at < tk.cap,
                    "a back-off that ends at {at:?}, past the overall deadline {:?}",
                    tk.cap
                );
                self.counts.retries += 1;
                self.tickets.insert(
                    t,
                    Tk {
                        st: St::Sleeping { wake: at },
                        failed: tk.failed.saturating_add(1),
                        ..tk
                    },
                );
            }
            _ => self.set_state(t, St::Done),
        }
    }

    fn check_submit(&mut self, request: Request, got: Result<Submitted, Rejected>) {
        let now = self.now;
        let retry = self.effective_retry(request.retry);
        let budget = match retry {
            0 => NEVER,
            id => self.policies[usize::from(id) - 1]
                .deadline
                .map_or(NEVER, |d| now.saturating_add(d)),
        };
        let cap = request.deadline.unwrap_or(NEVER).min(budget);
        let op = match request.operation_timeout {
            OperationTimeout::PoolDefault => self.cfg.operation_timeout,
            OperationTimeout::Never => None,
            OperationTimeout::After(d) => Some(d),
        };
        let free = self.queue.is_empty() && self.active() < self.limit;
        let queue_deadline = self.cfg.queue_deadline(now, cap);
        let position = self.queue.len() as u32 + 1;
        let predicted = self.expected_prediction(position);
        let gate_predicted = self.gate.predicted_wait(position);
        ensure!(
            self,
            gate_predicted == predicted,
            "predicted_wait({position}) gave {gate_predicted:?}, model says {predicted:?}"
        );
        if predicted.is_some_and(|p| now.saturating_add(p) == queue_deadline) {
            coverage_hint();
        }
        let want = if self.closed {
            Want::Refuse(Rejected::Closed)
        } else if free && cap > now {
            Want::Grant(op.map_or(NEVER, |d| now.saturating_add(d)).min(cap))
        } else if self.queue.len() as u32 >= self.cfg.max_queue {
            Want::Refuse(Rejected::QueueFull {
                max_queue: self.cfg.max_queue,
            })
        } else if queue_deadline <= now {
            Want::Refuse(Rejected::NoWait)
        } else {
            match predicted {
                Some(p) if self.cfg.reject_early && now.saturating_add(p) > queue_deadline => {
                    Want::Refuse(Rejected::WouldTimeOut { predicted: p })
                }
                _ => Want::Queue,
            }
        };
        let tk = |st| Tk {
            st,
            op,
            cap,
            retry,
            idempotent: request.idempotent,
            failed: 0,
        };
        let holding = |deadline| St::Holding {
            deadline,
            granted_at: now,
            timed_out: false,
            cancelled: false,
            detached: false,
        };
        match (got, want) {
            (Ok(Submitted::Granted(t)), Want::Grant(deadline)) if deadline != NEVER => {
                self.issue(t, tk(holding(deadline)));
            }
            (Ok(Submitted::GrantedNoDeadline(t)), Want::Grant(NEVER)) => {
                self.issue(t, tk(holding(NEVER)));
            }
            (Ok(Submitted::Queued(t)), Want::Queue) => {
                self.issue(
                    t,
                    tk(St::Queued {
                        since: now,
                        deadline: queue_deadline,
                        no_wait: false,
                        must_grant: false,
                    }),
                );
                self.enqueue(t);
            }
            (Err(e), Want::Refuse(w)) if e == w => {
                ensure!(
                    self,
                    (-4..=-1).contains(&refusal_code(&e)),
                    "{e:?} has code {}",
                    refusal_code(&e)
                );
                match e {
                    Rejected::Closed => self.counts.rejected_closed += 1,
                    Rejected::QueueFull { .. } => self.counts.rejected_full += 1,
                    Rejected::NoWait => self.counts.queue_timeouts += 1,
                    Rejected::WouldTimeOut { .. } => self.counts.rejected_early += 1,
                }
                return;
            }
            _ => self.fail(&format!(
                "submit({request:?}) gave {got:?}, model expects {want:?} (free={free}, queued={}, active={}, limit={})",
                self.queue.len(),
                self.active(),
                self.limit
            )),
        }
        self.counts.submitted += 1;
        if matches!(want, Want::Grant(_)) {
            self.counts.granted += 1;
            self.granted_in_call += 1;
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
        // The adaptive limit: what the model computed, within [floor, maxConnections].
        let floor = self.cfg.adaptive_min.unwrap_or(self.cfg.max_connections);
        ensure!(
            self,
            metrics.effective_limit == self.limit,
            "gate's effective limit {}, model {}",
            metrics.effective_limit,
            self.limit
        );
        ensure!(
            self,
            floor <= self.limit && self.limit <= self.cfg.max_connections,
            "effective limit {} outside [{floor}, {}]",
            self.limit,
            self.cfg.max_connections
        );
        ensure!(
            self,
            stats.available_connections == self.limit.saturating_sub(active),
            "gate says {} available, model {} of {}",
            stats.available_connections,
            active,
            self.limit
        );
        let config = *self.gate.config();
        ensure!(
            self,
            config.max_connections() == self.cfg.max_connections
                && config.adaptive_min() == self.cfg.adaptive_min,
            "gate config {config:?}, model {:?}",
            self.cfg
        );
        // A grant happens only below the limit in force when it happened (before or after a
        // change in this call).
        ensure!(
            self,
            self.granted_in_call == 0 || active <= self.limit_before.max(self.limit),
            "{} granted this call, leaving {active} active over the limit ({} before, {} after)",
            self.granted_in_call,
            self.limit_before,
            self.limit
        );
        ensure!(
            self,
            self.queue.is_empty() || active >= self.limit,
            "lost wake-up: {active} active of {} with {} queued",
            self.limit,
            self.queue.len()
        );
        ensure!(
            self,
            !self.closed || (queued == 0 && sleeping == 0),
            "a waiter or back-off survived close()"
        );
        // Totals and histograms.
        let counts = Counts::of(&metrics);
        ensure!(
            self,
            counts == self.counts,
            "metric totals differ:\n  gate  {counts:?}\n  model {:?}",
            self.counts
        );
        ensure!(
            self,
            metrics.wait.count == self.counts.granted,
            "{} waits recorded for {} grants",
            metrics.wait.count,
            self.counts.granted
        );
        ensure!(
            self,
            metrics.hold.count == self.holds.len() as u64,
            "{} hold times recorded, model {}",
            metrics.hold.count,
            self.holds.len()
        );
        if let Some(&max) = self.holds.last() {
            // The median within the histogram's precision (half a bucket: 1/32), the max exact.
            let n = self.holds.len();
            let rank = ((0.5 * n as f64).ceil() as usize).clamp(1, n);
            let median = self.holds[rank - 1];
            let p50 = metrics.hold.p50.as_micros();
            ensure!(
                self,
                metrics.hold.max.as_micros() == max,
                "hold max {:?}, model {max} us",
                metrics.hold.max
            );
            ensure!(
                self,
                p50 <= max && p50.abs_diff(median) <= median / 32 + 1,
                "hold p50 {p50} us, the model's median is {median} us (of {n})"
            );
        }
        let predicted = self.expected_prediction(queued + 1);
        ensure!(
            self,
            metrics.predicted_wait == predicted,
            "metrics predict {:?}, model {predicted:?}",
            metrics.predicted_wait
        );
        ensure!(
            self,
            metrics.peak_active >= self.peak_active.max(active)
                && metrics.peak_queued >= self.peak_queued.max(queued),
            "peaks went down or below the present: {} / {} (were {} / {}; now {active} / {queued})",
            metrics.peak_active,
            metrics.peak_queued,
            self.peak_active,
            self.peak_queued
        );
        self.peak_active = metrics.peak_active;
        self.peak_queued = metrics.peak_queued;
        // Nothing is left overdue: every deadline at or before `now` has fired. (A back-off or
        // an operation timeout set to `now` itself fires on the next call.) A retry that could
        // not wait was granted or timed out within the call.
        let now = self.now;
        let overdue = self.tickets.iter().find(|(_, tk)| match tk.st {
            St::Queued {
                deadline, no_wait, ..
            } => no_wait || deadline <= now,
            St::Sleeping { wake } => wake < now,
            St::Holding { deadline, .. } => {
                deadline != NEVER
                    && deadline < now
                    && !(tolerate().retry_past_deadline && tk.failed > 0)
            }
            St::Done => false,
        });
        if let Some((t, tk)) = overdue {
            self.fail(&format!("{t:?} is overdue at {now:?}: {tk:?}"));
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
