//! The bindings driven the way JavaScript drives them: plain numbers in, packed numbers out,
//! with a fake clock (milliseconds as `f64`). Run with `wasm-pack test --node crates/poolgate-wasm`.
//!
//! A panic inside the bindings would trap the wasm instance, so every hostile input below must
//! come back as a value, never as a trap.

#![cfg(target_arch = "wasm32")]

use poolgate_wasm::codes::{KIND_UNIT, REJECTED_CLOSED, REJECTED_NO_WAIT};
use poolgate_wasm::{classify_error, WasmGate, WasmRetryPolicy};
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_test::wasm_bindgen_test;

// ---- helpers ------------------------------------------------------------------------------

const GRANTED: f64 = 1.0;
const QUEUE_TIMEOUT: f64 = 2.0;
const OPERATION_TIMEOUT: f64 = 3.0;
const WOKEN: f64 = 4.0;
const CLOSED: f64 = 5.0;

/// Splits a packed submission or event into `(kind, ticket)`.
fn decode(v: f64) -> (f64, f64) {
    assert!(v >= 0.0, "expected a packed value, got refusal {v}");
    assert!(v < 9_007_199_254_740_992.0, "packed value {v} is not exact");
    let kind = (v / KIND_UNIT).floor();
    (kind, v - kind * KIND_UNIT)
}

/// A gate from options, which must be valid.
fn gate(
    max_connections: Option<f64>,
    max_queue: Option<f64>,
    queue_timeout_ms: Option<f64>,
    operation_timeout_ms: Option<f64>,
    release_on_timeout: Option<bool>,
) -> WasmGate {
    match WasmGate::new(
        max_connections,
        max_queue,
        queue_timeout_ms,
        operation_timeout_ms,
        release_on_timeout,
    ) {
        Ok(g) => g,
        Err(e) => panic!("valid options refused: {e:?}"),
    }
}

/// Submits and expects an immediate grant; returns the ticket.
fn granted(g: &mut WasmGate, now: f64) -> f64 {
    let (kind, ticket) = decode(g.submit(now));
    assert_eq!(kind, 0.0, "expected an immediate grant");
    ticket
}

/// Submits and expects to be queued; returns the ticket.
fn queued(g: &mut WasmGate, now: f64) -> f64 {
    let (kind, ticket) = decode(g.submit(now));
    assert_eq!(kind, 1.0, "expected to be queued");
    ticket
}

/// Drains every pending event as `(kind, ticket)`.
fn drain(g: &mut WasmGate) -> Vec<(f64, f64)> {
    let mut out = Vec::new();
    loop {
        let e = g.poll_event();
        if e == 0.0 {
            return out;
        }
        out.push(decode(e));
        assert!(out.len() < 10_000, "pollEvent never returned 0");
    }
}

/// Asserts that the error is a `RangeError` and returns its message.
fn range_error_message(e: JsValue) -> String {
    assert!(
        e.is_instance_of::<js_sys::RangeError>(),
        "expected a RangeError, got {e:?}"
    );
    let e: js_sys::Error = e.dyn_into().expect("a RangeError is an Error");
    String::from(e.message())
}

/// The message of the `RangeError` the constructor throws for these options.
fn gate_error(
    max_connections: Option<f64>,
    max_queue: Option<f64>,
    queue_timeout_ms: Option<f64>,
    operation_timeout_ms: Option<f64>,
) -> String {
    let e = WasmGate::new(
        max_connections,
        max_queue,
        queue_timeout_ms,
        operation_timeout_ms,
        None,
    )
    .err()
    .expect("bad options were accepted");
    range_error_message(e)
}

/// A numeric field of a plain JavaScript object.
fn field(obj: &JsValue, key: &str) -> f64 {
    js_sys::Reflect::get(obj, &JsValue::from_str(key))
        .unwrap_or_else(|e| panic!("reading {key}: {e:?}"))
        .as_f64()
        .unwrap_or_else(|| panic!("{key} is not a number"))
}

fn metrics(g: &WasmGate) -> JsValue {
    let m = g.metrics().expect("metrics() converts");
    assert!(m.is_object(), "metrics() is an object");
    m
}

fn assert_invariants(g: &WasmGate) {
    assert_eq!(g.check_invariants(), None);
}

fn strings(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

// ---- construction -------------------------------------------------------------------------

#[wasm_bindgen_test]
fn bad_options_throw_range_errors_naming_the_option() {
    for (bad, shown) in [(-1.0, "-1"), (2.5, "2.5"), (f64::NAN, "NaN")] {
        let msg = gate_error(Some(bad), None, None, None);
        assert!(msg.starts_with("maxConnections "), "{msg}");
        assert!(msg.ends_with(&format!("got {shown}")), "{msg}");
    }
    let msg = gate_error(None, Some(-1.0), None, None);
    assert!(msg.starts_with("maxQueue "), "{msg}");
    assert!(msg.ends_with("got -1"), "{msg}");

    let msg = gate_error(None, None, Some(-5.0), None);
    assert!(msg.starts_with("queueTimeoutMs "), "{msg}");
    assert!(msg.ends_with("got -5"), "{msg}");

    let msg = gate_error(None, None, None, Some(0.0));
    assert!(msg.starts_with("operationTimeoutMs "), "{msg}");
    assert!(msg.ends_with("got 0"), "{msg}");
}

#[wasm_bindgen_test]
fn defaults_apply_when_every_option_is_undefined() {
    let mut g = gate(None, None, None, None, None);
    assert_eq!(g.max_connections(), 10);
    assert_eq!(g.available(), 10);
    assert_eq!((g.active(), g.queued()), (0, 0));
    // No operation timeout by default: nothing to arm while only holders exist.
    for i in 0..10 {
        granted(&mut g, f64::from(i));
    }
    assert_eq!(g.poll_timeout(), f64::INFINITY);
    assert_eq!((g.active(), g.available()), (10, 0));
    // The eleventh waits, for the default queue timeout of 10 s.
    queued(&mut g, 20.0);
    assert_eq!(g.queued(), 1);
    assert_eq!(g.poll_timeout(), 10_020.0);
    assert_invariants(&g);

    let m = metrics(&g);
    assert_eq!(field(&m, "submitted"), 11.0);
    assert_eq!(field(&m, "granted"), 10.0);
    assert_eq!(field(&m, "peakActive"), 10.0);
    assert_eq!(field(&m, "zombies"), 0.0);
}

#[wasm_bindgen_test]
fn bad_per_call_timeout_is_a_range_error() {
    let mut g = gate(Some(1.0), None, None, None, None);
    let e = g
        .submit_with(0.0, 0.0, f64::INFINITY)
        .expect_err("timeoutMs 0 accepted");
    let msg = range_error_message(e);
    assert!(msg.starts_with("timeoutMs "), "{msg}");
    assert_eq!(g.active(), 0, "a refused submitWith took a slot");
    assert_invariants(&g);
}

// ---- granting -----------------------------------------------------------------------------

#[wasm_bindgen_test]
fn submit_grants_then_queues_and_release_grants_the_oldest_waiter() {
    let mut g = gate(Some(1.0), None, None, None, None);
    let a = granted(&mut g, 0.0);
    let b = queued(&mut g, 1.0);
    assert_ne!(a, b);
    assert_eq!((g.active(), g.queued(), g.available()), (1, 1, 0));
    assert_eq!(g.poll_event(), 0.0, "nothing happened yet");

    assert_eq!(g.release(5.0, a, true), 0);
    assert_eq!(drain(&mut g), vec![(GRANTED, b)]);
    assert_eq!((g.active(), g.queued()), (1, 0));
    // The settled ticket is stale now.
    assert_eq!(g.release(6.0, a, true), -1);

    assert_eq!(g.release(7.0, b, true), 0);
    assert!(drain(&mut g).is_empty());
    assert_eq!((g.active(), g.available()), (0, 1));
    assert_invariants(&g);
}

#[wasm_bindgen_test]
fn waiters_are_granted_in_arrival_order() {
    let mut g = gate(Some(2.0), None, Some(f64::INFINITY), None, None);
    let mut holders = vec![granted(&mut g, 0.0), granted(&mut g, 0.0)];
    let waiters: Vec<f64> = (1..=5).map(|i| queued(&mut g, f64::from(i))).collect();
    // Nothing to time out: queue timeout is Infinity and there is no operation timeout.
    assert_eq!(g.poll_timeout(), f64::INFINITY);

    let mut order = Vec::new();
    let mut now = 10.0;
    while let Some(t) = holders.pop() {
        now += 1.0;
        assert_eq!(g.release(now, t, true), 0);
        for (kind, ticket) in drain(&mut g) {
            assert_eq!(kind, GRANTED);
            order.push(ticket);
            holders.insert(0, ticket);
        }
        assert_invariants(&g);
    }
    assert_eq!(order, waiters);
    assert_eq!((g.active(), g.queued()), (0, 0));
}

#[wasm_bindgen_test]
fn newcomers_never_overtake_a_waiter() {
    let mut g = gate(Some(1.0), None, None, None, None);
    let a = granted(&mut g, 0.0);
    let b = queued(&mut g, 1.0);
    g.set_max_connections(2.0, 2.0).expect("2 is valid");
    // Growing the pool grants the waiter at once.
    assert_eq!(drain(&mut g), vec![(GRANTED, b)]);
    assert_eq!(g.max_connections(), 2);
    // Both slots are taken, so a newcomer waits.
    let c = queued(&mut g, 3.0);
    assert_eq!(g.release(4.0, a, true), 0);
    assert_eq!(drain(&mut g), vec![(GRANTED, c)]);
    assert_invariants(&g);
}

// ---- timeouts -----------------------------------------------------------------------------

#[wasm_bindgen_test]
fn queue_timeout_fires_once_and_the_waiter_is_never_granted() {
    let mut g = gate(Some(1.0), None, Some(100.0), None, None);
    let a = granted(&mut g, 0.0);
    let b = queued(&mut g, 10.0);
    assert_eq!(g.poll_timeout(), 110.0);

    // A spurious early timer changes nothing.
    g.handle_timeout(50.0);
    assert!(drain(&mut g).is_empty());
    assert_eq!(g.queued(), 1);

    // A late timer rejects the waiter and reports how long it really waited.
    g.handle_timeout(125.0);
    assert_eq!(drain(&mut g), vec![(QUEUE_TIMEOUT, b)]);
    assert_eq!(g.last_waited_ms(), 115.0);
    assert_eq!(g.queued(), 0);
    assert_eq!(g.poll_timeout(), f64::INFINITY);

    // Freeing the slot afterwards grants nobody.
    assert_eq!(g.release(130.0, a, true), 0);
    assert!(drain(&mut g).is_empty());
    assert_eq!((g.active(), g.available()), (0, 1));
    assert_eq!(g.cancel(131.0, b,), -1, "a timed-out ticket is stale");

    let m = metrics(&g);
    assert_eq!(field(&m, "queueTimeouts"), 1.0);
    assert_invariants(&g);
}

#[wasm_bindgen_test]
fn a_release_after_the_deadline_does_not_grant_the_expired_waiter() {
    let mut g = gate(Some(1.0), None, Some(100.0), None, None);
    let a = granted(&mut g, 0.0);
    let b = queued(&mut g, 0.5);
    let c = queued(&mut g, 60.0);
    // The driver's timer has not fired yet, but the release comes after b's deadline.
    assert_eq!(g.release(120.0, a, true), 0);
    assert_eq!(drain(&mut g), vec![(QUEUE_TIMEOUT, b), (GRANTED, c)]);
    assert_eq!(g.last_waited_ms(), 119.5);
    assert_eq!(g.active(), 1);
    assert_invariants(&g);
}

#[wasm_bindgen_test]
fn operation_timeout_keeps_the_slot_until_the_zombie_is_released() {
    let mut g = gate(Some(1.0), None, None, None, None);
    let a = decode(g.submit_with(0.0, 50.0, f64::INFINITY).expect("valid"));
    assert_eq!(a.0, 0.0, "granted at once");
    let a = a.1;
    assert_eq!(g.poll_timeout(), 50.0);
    let b = queued(&mut g, 1.0);

    g.handle_timeout(50.0);
    assert_eq!(drain(&mut g), vec![(OPERATION_TIMEOUT, a)]);
    // The query may still run: the slot stays held, nobody else gets it.
    assert_eq!((g.active(), g.queued(), g.available()), (1, 1, 0));
    let m = metrics(&g);
    assert_eq!(field(&m, "zombies"), 1.0);
    assert_eq!(field(&m, "operationTimeouts"), 1.0);
    assert_invariants(&g);

    // When it really settles, release says it was a zombie and the waiter gets the slot.
    assert_eq!(g.release(80.0, a, false), 1);
    assert_eq!(drain(&mut g), vec![(GRANTED, b)]);
    assert_eq!(g.active(), 1);
    assert_eq!(field(&metrics(&g), "zombies"), 0.0);
    assert_eq!(field(&metrics(&g), "failed"), 1.0);
    assert_invariants(&g);
}

#[wasm_bindgen_test]
fn submit_with_nan_uses_the_pool_timeout_and_infinity_none() {
    let mut g = gate(Some(2.0), None, None, Some(30.0), None);
    let a = decode(g.submit_with(0.0, f64::NAN, f64::INFINITY).expect("valid")).1;
    let b = decode(
        g.submit_with(0.0, f64::INFINITY, f64::INFINITY)
            .expect("valid"),
    )
    .1;
    assert_eq!(g.poll_timeout(), 30.0);
    g.handle_timeout(1e6);
    assert_eq!(drain(&mut g), vec![(OPERATION_TIMEOUT, a)]);
    assert_eq!(g.poll_timeout(), f64::INFINITY);
    assert_eq!(g.release(1e6, b, true), 0);
    assert_eq!(g.release(1e6, a, true), 1);
    assert_eq!(g.active(), 0);
    assert_invariants(&g);
}

#[wasm_bindgen_test]
fn release_on_timeout_frees_the_slot_at_the_deadline() {
    let mut g = gate(Some(1.0), None, None, Some(50.0), Some(true));
    let a = granted(&mut g, 0.0);
    let b = queued(&mut g, 1.0);
    g.handle_timeout(50.0);
    assert_eq!(drain(&mut g), vec![(OPERATION_TIMEOUT, a), (GRANTED, b)]);
    assert_eq!(g.active(), 1);
    assert_eq!(g.release(60.0, a, true), 2, "slot already freed");
    assert_eq!(g.active(), 1, "releasing a detached ticket frees nothing");
    assert_eq!(g.release(61.0, b, true), 0);
    assert_eq!(g.active(), 0);
    assert_invariants(&g);
}

#[wasm_bindgen_test]
fn submit_with_a_passed_deadline_cannot_wait() {
    let mut g = gate(Some(1.0), None, None, None, None);
    granted(&mut g, 0.0);
    assert_eq!(
        g.submit_with(10.0, f64::NAN, 10.0).expect("valid"),
        REJECTED_NO_WAIT
    );
    assert_eq!(g.queued(), 0);
    assert_invariants(&g);
}

// ---- cancel, retry back-off, close --------------------------------------------------------

#[wasm_bindgen_test]
fn a_cancelled_waiter_is_never_granted() {
    let mut g = gate(Some(1.0), None, None, None, None);
    let a = granted(&mut g, 0.0);
    let b = queued(&mut g, 1.0);
    let c = queued(&mut g, 2.0);
    assert_eq!(g.cancel(3.0, b), 0);
    assert_eq!(g.queued(), 1);
    assert!(drain(&mut g).is_empty());
    assert_eq!(g.cancel(3.5, b), -1, "cancelled ticket is stale");
    assert_eq!(g.release(4.0, b, true), -1);

    assert_eq!(g.release(5.0, a, true), 0);
    assert_eq!(drain(&mut g), vec![(GRANTED, c)]);
    // Cancelling a running operation leaves a zombie holding the slot.
    assert_eq!(g.cancel(6.0, c), 1);
    assert_eq!(g.cancel(6.5, c), 2, "already settled");
    assert_eq!((g.active(), field(&metrics(&g), "zombies")), (1, 1.0));
    assert_eq!(g.release(7.0, c, true), 1);
    assert_eq!(g.active(), 0);
    assert!(drain(&mut g).is_empty());
    assert_invariants(&g);
}

#[wasm_bindgen_test]
fn a_retry_back_off_wakes_at_its_time_and_holds_no_slot() {
    let mut g = gate(Some(1.0), None, None, None, None);
    let t = g.schedule_retry(0.0, 1000.0);
    assert!(t >= 0.0);
    assert_eq!((g.active(), g.available()), (0, 1));
    assert_eq!(g.poll_timeout(), 1000.0);
    assert_eq!(g.release(1.0, t, true), -2, "a back-off holds no slot");
    g.handle_timeout(999.0);
    assert!(drain(&mut g).is_empty());
    g.handle_timeout(1000.0);
    assert_eq!(drain(&mut g), vec![(WOKEN, t)]);
    assert_eq!(field(&metrics(&g), "retries"), 1.0);
    assert_invariants(&g);
}

#[wasm_bindgen_test]
fn close_rejects_every_waiter_and_refuses_new_work() {
    let mut g = gate(Some(1.0), None, None, None, None);
    let a = granted(&mut g, 0.0);
    let b = queued(&mut g, 1.0);
    let c = queued(&mut g, 2.0);
    let s = g.schedule_retry(2.5, 500.0);
    g.close(3.0);
    assert_eq!(drain(&mut g), vec![(CLOSED, b), (CLOSED, c), (CLOSED, s)]);
    assert_eq!(g.queued(), 0);
    assert_eq!(g.submit(4.0), REJECTED_CLOSED);
    assert_eq!(
        g.submit_with(4.0, f64::NAN, f64::INFINITY).expect("valid"),
        REJECTED_CLOSED
    );
    assert_eq!(g.schedule_retry(4.0, 10.0), REJECTED_CLOSED);
    // Running operations finish normally.
    assert_eq!(g.release(5.0, a, true), 0);
    assert_eq!(g.active(), 0);
    assert!(drain(&mut g).is_empty());
    // Closing twice is harmless.
    g.close(6.0);
    assert!(drain(&mut g).is_empty());
    let m = metrics(&g);
    assert_eq!(
        js_sys::Reflect::get(&m, &JsValue::from_str("closed")).unwrap(),
        JsValue::TRUE
    );
    assert_invariants(&g);
}

// ---- hostile inputs -----------------------------------------------------------------------

/// Ticket numbers JavaScript might pass by mistake: none of them was ever issued.
const BOGUS_TICKETS: [f64; 6] = [
    f64::NAN,
    -1.0,
    f64::INFINITY,
    f64::NEG_INFINITY,
    1e300,
    9_007_199_254_740_992.0, // 2^53
];

#[wasm_bindgen_test]
fn hostile_inputs_never_panic_and_leave_the_gate_working() {
    let mut g = gate(Some(1.0), Some(3.0), Some(1000.0), None, None);
    // Use slot 0 once so that no live ticket has the all-zero bit pattern (see
    // `bogus_ticket_numbers_never_alias_a_live_ticket` for the case where one does).
    let first = granted(&mut g, 0.0);
    assert_eq!(g.release(0.0, first, true), 0);

    let a = granted(&mut g, 1.0);
    let b = queued(&mut g, 2.0);
    for bogus in BOGUS_TICKETS {
        assert!(g.release(3.0, bogus, true) < 0, "release({bogus})");
        assert!(g.release(3.0, bogus, false) < 0, "release({bogus})");
        assert!(g.cancel(3.0, bogus) < 0, "cancel({bogus})");
    }
    assert_eq!((g.active(), g.queued()), (1, 1));
    assert!(drain(&mut g).is_empty());
    assert_invariants(&g);

    // Broken clocks below the current time: no panic, and the clock never runs backwards.
    for now in [f64::NAN, f64::NEG_INFINITY, -1.0] {
        let r = g.submit(now);
        assert!(r == -1.0 || decode(r).0 == 1.0, "submit({now}) = {r}");
        assert!(drain(&mut g).is_empty());
        // A back-off "ending" before the gate's clock ends at the gate's clock (3 ms, the last
        // valid `now` above).
        let r = g.schedule_retry(now, now);
        assert!(r >= 0.0, "scheduleRetry({now}) = {r}");
        assert_eq!(g.poll_timeout(), 3.0);
        g.handle_timeout(now);
        assert_eq!(drain(&mut g), vec![(WOKEN, r)]);
        assert_invariants(&g);
    }

    // Bad limits are refused as RangeErrors and change nothing.
    for bad in [f64::NAN, 0.0, 1.5, 1e12, -1.0, f64::INFINITY] {
        let e = g
            .set_max_connections(4.0, bad)
            .err()
            .unwrap_or_else(|| panic!("setMaxConnections({bad}) accepted"));
        let msg = range_error_message(e);
        assert!(msg.starts_with("maxConnections "), "{msg}");
        assert_eq!(g.max_connections(), 1);
    }
    assert_invariants(&g);

    // A normal cycle still works afterwards: release everything, oldest waiter first.
    let mut to_release = vec![a];
    let mut grants = Vec::new();
    while let Some(t) = to_release.pop() {
        assert_eq!(g.release(5.0, t, true), 0);
        for (kind, ticket) in drain(&mut g) {
            assert_eq!(kind, GRANTED);
            grants.push(ticket);
            to_release.push(ticket);
        }
    }
    assert_eq!(grants.first(), Some(&b), "{grants:?}");
    assert_eq!((g.active(), g.queued()), (0, 0));
    let c = granted(&mut g, 7.0);
    assert_eq!(g.release(8.0, c, true), 0);
    assert_eq!(g.active(), 0);
    assert_eq!(g.check_invariants(), None);
}

/// A fresh gate's first ticket is the number 0, and the second is 1. Numbers that were never
/// issued (NaN, negatives, 2^53, fractions) must not be taken for them.
#[wasm_bindgen_test]
fn bogus_ticket_numbers_never_alias_a_live_ticket() {
    let mut g = gate(Some(2.0), None, None, None, None);
    let a = granted(&mut g, 0.0);
    let b = granted(&mut g, 0.0);
    assert_eq!((a, b), (0.0, 1.0), "first tickets of a fresh gate");
    for bogus in [f64::NAN, -1.0, -0.5, 9_007_199_254_740_992.0, 0.5] {
        assert!(
            g.release(1.0, bogus, true) < 0,
            "release({bogus}) freed ticket 0"
        );
        assert!(g.cancel(1.0, bogus) < 0, "cancel({bogus}) hit ticket 0");
    }
    assert!(g.release(1.0, 1.5, true) < 0, "release(1.5) freed ticket 1");
    assert_eq!(g.active(), 2);
    assert_eq!(field(&metrics(&g), "zombies"), 0.0);
    assert_eq!(g.check_invariants(), None);
}

/// `now = Infinity` (or any absurdly large time) from a broken clock must not stop the gate
/// from ever granting again.
#[wasm_bindgen_test]
fn an_infinite_now_does_not_brick_the_gate() {
    let mut g = gate(Some(1.0), None, None, None, None);
    let a = granted(&mut g, 0.0);
    g.handle_timeout(f64::INFINITY);
    let r = g.submit(f64::INFINITY);
    assert!(r.is_finite());
    let _ = drain(&mut g);
    assert_eq!(g.check_invariants(), None);

    assert_eq!(g.release(10.0, a, true), 0);
    // The submission made at `Infinity` was queued like any other and now holds the slot.
    let granted_waiters = drain(&mut g);
    assert_eq!(granted_waiters.len(), 1, "{granted_waiters:?}");
    assert_eq!(granted_waiters[0].0, GRANTED);
    assert_eq!(g.release(10.5, granted_waiters[0].1, true), 0);
    let r = g.submit(11.0);
    assert!(r >= 0.0, "submit after now=Infinity refused with {r}");
    let (kind, c) = decode(r);
    assert_eq!(kind, 0.0);
    assert_eq!(g.release(12.0, c, true), 0);
    assert_eq!(g.check_invariants(), None);
}

// ---- retry policy and classification ------------------------------------------------------

#[wasm_bindgen_test]
fn default_retry_policy_backs_off_linearly_then_gives_up() {
    let p = WasmRetryPolicy::new(None, None, None, None).expect("defaults are valid");
    assert_eq!(p.max_retries(), 3);
    let now = 5000.0;
    let inf = f64::INFINITY;
    assert_eq!(p.decide(1, 1, false, now, inf, 0.0), now + 1000.0);
    assert_eq!(p.decide(2, 1, false, now, inf, 0.5), now + 2000.0);
    assert_eq!(p.decide(3, 2, true, now, inf, 0.99), now + 3000.0);
    // Not retryable, a write that may have run, retries used up, past the deadline.
    assert_eq!(p.decide(1, 0, true, now, inf, 0.0), -1.0);
    assert_eq!(p.decide(1, 2, false, now, inf, 0.0), -2.0);
    assert_eq!(p.decide(4, 1, true, now, inf, 0.0), -3.0);
    assert_eq!(p.decide(1, 1, true, now, now + 999.0, 0.0), -4.0);
    // Unknown classes count as permanent; hostile numbers do not trap.
    assert_eq!(p.decide(1, 255, true, now, inf, 0.0), -1.0);
    let r = p.decide(u32::MAX, 1, true, f64::NAN, f64::NAN, f64::NAN);
    assert_eq!(r, -3.0);
}

#[wasm_bindgen_test]
fn retry_policy_options_are_validated() {
    let e = WasmRetryPolicy::new(Some(-1.0), None, None, None)
        .err()
        .expect("maxRetries -1 accepted");
    let msg = range_error_message(e);
    assert!(msg.starts_with("maxRetries "), "{msg}");
    assert!(msg.ends_with("got -1"), "{msg}");
    for (delay, jitter) in [(Some(f64::INFINITY), None), (None, Some(2.0))] {
        let e = WasmRetryPolicy::new(None, delay, None, jitter)
            .err()
            .expect("bad option accepted");
        range_error_message(e);
    }
    let p = WasmRetryPolicy::new(Some(5.0), Some(100.0), Some(250.0), Some(0.0)).expect("valid");
    assert_eq!(p.max_retries(), 5);
    assert_eq!(p.decide(5, 1, false, 0.0, f64::INFINITY, 0.0), 250.0);
}

#[wasm_bindgen_test]
fn errors_are_classified() {
    assert_eq!(classify_error(strings(&["P1001"]), vec![]), 1);
    assert_eq!(classify_error(strings(&["P2002"]), vec![]), 0);
    assert_eq!(
        classify_error(vec![], strings(&["Connection terminated unexpectedly"])),
        2
    );
    assert_eq!(classify_error(vec![], vec![]), 0);
    // A query error wins over a message that mentions a connection.
    assert_eq!(
        classify_error(
            strings(&["P2002"]),
            strings(&["duplicate key in connection_logs: connection terminated"])
        ),
        0
    );
}

// ---- async path ---------------------------------------------------------------------------

#[wasm_bindgen_test]
async fn awaits_a_resolved_promise() {
    let promise = js_sys::Promise::resolve(&JsValue::from_f64(42.0));
    let value = wasm_bindgen_futures::JsFuture::from(promise)
        .await
        .expect("a resolved promise resolves");
    assert_eq!(value.as_f64(), Some(42.0));

    // The gate is usable across an await, as the JavaScript driver uses it.
    let mut g = gate(Some(1.0), None, None, None, None);
    let a = granted(&mut g, 0.0);
    let b = queued(&mut g, 1.0);
    let tick = js_sys::Promise::resolve(&JsValue::UNDEFINED);
    wasm_bindgen_futures::JsFuture::from(tick)
        .await
        .expect("resolves");
    assert_eq!(g.release(2.0, a, true), 0);
    assert_eq!(drain(&mut g), vec![(GRANTED, b)]);
}

// ---- the clock-free fast path -----------------------------------------------------------------

#[wasm_bindgen_test]
fn clock_free_slots_count_against_the_limit_and_hand_over_in_order() {
    let mut g = gate(Some(2.0), None, Some(50.0), None, None);
    assert!(g.try_acquire());
    assert!(g.try_acquire());
    assert!(!g.try_acquire(), "no third slot at maxConnections 2");
    assert_eq!((g.active(), g.available()), (2, 0));
    let waiter = queued(&mut g, 0.0);
    assert!(!g.try_acquire(), "no barging past a waiter");
    assert!(
        !g.try_release(true),
        "someone waits: the timed release must hand the slot on"
    );
    assert!(g.release_untimed(1.0, true));
    assert_eq!(decode(g.poll_event()), (GRANTED, waiter));
    assert_eq!(g.poll_event(), 0.0);
    assert!(g.try_release(false), "nobody waits now");
    assert!(!g.try_release(true), "no clock-free slot is left");
    assert!(!g.release_untimed(2.0, true));
    assert_eq!(g.release(3.0, waiter, true), 0);
    assert_eq!((g.active(), g.queued(), g.available()), (0, 0, 2));
    assert_eq!(g.check_invariants(), None);
}

#[wasm_bindgen_test]
fn clock_free_path_is_refused_with_a_default_operation_timeout_or_after_close() {
    let mut timed = gate(Some(2.0), None, None, Some(100.0), None);
    assert!(!timed.try_acquire(), "every grant needs a deadline");
    let mut g = gate(Some(2.0), None, None, None, None);
    assert!(g.try_acquire());
    g.close(0.0);
    assert!(!g.try_acquire());
    assert!(
        g.try_release(true),
        "a running operation is released after close()"
    );
    assert_eq!(g.check_invariants(), None);
}
