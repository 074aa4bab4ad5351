//! The bindings driven the way JavaScript drives them: plain numbers in, packed numbers out,
//! with a fake clock (milliseconds as `f64`). Run with `wasm-pack test --node crates/poolgate-wasm`.
//!
//! Every code compared below comes from `poolgate_core::protocol`, the module that
//! `pkg/src/protocol.js` is generated from, so these tests check the numbers the JavaScript
//! driver really sees.
//!
//! A panic inside the bindings would trap the wasm instance, so every hostile input below must
//! come back as a value, never as a trap.

#![cfg(target_arch = "wasm32")]

use poolgate_core::protocol::{
    self, cancel, event_kind, refusal, release, submitted_kind, KIND_UNIT,
};
use poolgate_core::ErrorClass;
use poolgate_wasm::{classify_error, WasmGate};
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_test::wasm_bindgen_test;

// ---- helpers ------------------------------------------------------------------------------

/// `errorClass` of a successful release (the driver's `OK`; failures pass an `ERROR_CLASS`).
const OK: i32 = -1;

/// The `ERROR_CLASS` code of a class, as the driver passes it to `release`.
fn class(c: ErrorClass) -> i32 {
    i32::from(protocol::error_class_code(c))
}

/// A refusal code as the float that `submit` returns.
fn refused(code: i32) -> f64 {
    f64::from(code)
}

const GRANTED: i32 = event_kind::GRANTED;
const QUEUE_TIMEOUT: i32 = event_kind::QUEUE_TIMEOUT;
const OPERATION_TIMEOUT: i32 = event_kind::OPERATION_TIMEOUT;
const CLOSED: i32 = event_kind::CLOSED;

/// Splits a packed submission or event into `(kind, ticket)`.
fn decode(v: f64) -> (i32, f64) {
    assert!(v >= 0.0, "expected a packed value, got refusal {v}");
    assert!(v < 9_007_199_254_740_992.0, "packed value {v} is not exact");
    let kind = (v / KIND_UNIT).floor();
    (kind as i32, v - kind * KIND_UNIT)
}

/// A plain JavaScript object from `(key, value)` pairs.
fn object(pairs: &[(&str, JsValue)]) -> JsValue {
    let o = js_sys::Object::new();
    for (key, value) in pairs {
        js_sys::Reflect::set(&o, &JsValue::from_str(key), value).expect("set a key");
    }
    o.into()
}

/// A number option.
fn n(v: f64) -> JsValue {
    JsValue::from_f64(v)
}

/// A boolean option.
fn b(v: bool) -> JsValue {
    JsValue::from_bool(v)
}

/// A gate from an options object, which must be valid.
fn gate(pairs: &[(&str, JsValue)]) -> WasmGate {
    match WasmGate::new(&object(pairs)) {
        Ok(g) => g,
        Err(e) => panic!("valid options refused: {e:?}"),
    }
}

/// A gate with only `maxConnections` set.
fn gate_of(max_connections: f64) -> WasmGate {
    gate(&[("maxConnections", n(max_connections))])
}

/// Registers retry options, which must be valid; returns the policy id.
fn policy(g: &mut WasmGate, pairs: &[(&str, JsValue)]) -> u16 {
    match g.register_retry_policy(&object(pairs)) {
        Ok(id) => {
            assert_ne!(id, 0, "0 means no retry policy");
            id
        }
        Err(e) => panic!("valid retry options refused: {e:?}"),
    }
}

/// Submits and expects an immediate grant of `kind` (`submitted_kind`); returns the ticket.
fn granted_as(g: &mut WasmGate, now: f64, kind: i32) -> f64 {
    let (got, ticket) = decode(g.submit(now));
    assert_eq!(got, kind, "expected an immediate grant of kind {kind}");
    ticket
}

/// Submits and expects an immediate grant with no deadline; returns the ticket.
fn granted(g: &mut WasmGate, now: f64) -> f64 {
    granted_as(g, now, submitted_kind::GRANTED_NO_DEADLINE)
}

/// Submits and expects to be queued; returns the ticket.
fn queued(g: &mut WasmGate, now: f64) -> f64 {
    let (kind, ticket) = decode(g.submit(now));
    assert_eq!(kind, submitted_kind::QUEUED, "expected to be queued");
    ticket
}

/// `submitWith` with valid arguments; returns `(kind, ticket)`.
fn submit_with(g: &mut WasmGate, now: f64, timeout: f64, policy: u16, idem: bool) -> (i32, f64) {
    decode(
        g.submit_with(now, timeout, policy, idem)
            .expect("valid submitWith"),
    )
}

/// Drains every pending event as `(kind, ticket)`.
fn drain(g: &mut WasmGate) -> Vec<(i32, f64)> {
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
fn gate_error(pairs: &[(&str, JsValue)]) -> String {
    let e = WasmGate::new(&object(pairs))
        .err()
        .expect("bad options were accepted");
    range_error_message(e)
}

/// The message of the `RangeError` that `registerRetryPolicy` throws for these options.
fn policy_error(g: &mut WasmGate, pairs: &[(&str, JsValue)]) -> String {
    let e = g
        .register_retry_policy(&object(pairs))
        .expect_err("bad retry options were accepted");
    range_error_message(e)
}

/// A field of a plain JavaScript object.
fn raw_field(obj: &JsValue, key: &str) -> JsValue {
    js_sys::Reflect::get(obj, &JsValue::from_str(key))
        .unwrap_or_else(|e| panic!("reading {key}: {e:?}"))
}

/// A numeric field of a plain JavaScript object.
fn field(obj: &JsValue, key: &str) -> f64 {
    raw_field(obj, key)
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
        let msg = gate_error(&[("maxConnections", n(bad))]);
        assert!(msg.starts_with("maxConnections "), "{msg}");
        assert!(msg.ends_with(&format!("got {shown}")), "{msg}");
    }
    let msg = gate_error(&[("maxQueue", n(-1.0))]);
    assert!(msg.starts_with("maxQueue "), "{msg}");
    assert!(msg.ends_with("got -1"), "{msg}");

    let msg = gate_error(&[("queueTimeoutMs", n(-5.0))]);
    assert!(msg.starts_with("queueTimeoutMs "), "{msg}");
    assert!(msg.ends_with("got -5"), "{msg}");

    let msg = gate_error(&[("operationTimeoutMs", n(0.0))]);
    assert!(msg.starts_with("operationTimeoutMs "), "{msg}");
    assert!(msg.ends_with("got 0"), "{msg}");

    // The adaptive floor lies within 1..=maxConnections.
    let msg = gate_error(&[
        ("maxConnections", n(4.0)),
        ("adaptive", object(&[("min", n(5.0))])),
    ]);
    assert_eq!(msg, "adaptive.min must be an integer from 1 to 4, got 5");
    let msg = gate_error(&[("adaptive", object(&[("min", n(0.0))]))]);
    assert!(msg.starts_with("adaptive.min "), "{msg}");
}

#[wasm_bindgen_test]
fn defaults_apply_when_every_option_is_undefined() {
    for options in [JsValue::UNDEFINED, object(&[])] {
        let mut g = WasmGate::new(&options).expect("defaults are valid");
        assert_eq!(g.max_connections(), 10);
        assert_eq!(g.effective_limit(), 10, "no adaptive limit by default");
        assert_eq!(g.max_queue(), 10_000);
        assert!(g.clock_free_eligible());
        assert_eq!(g.available(), 10);
        assert_eq!((g.active(), g.queued()), (0, 0));
        // No operation timeout by default: grants carry no deadline, nothing to arm while only
        // holders exist.
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
        assert_eq!(field(&m, "effectiveLimit"), 10.0);
        assert_eq!(field(&m, "limitCuts"), 0.0);
        assert_eq!(field(&m, "rejectedEarly"), 0.0);
        assert!(
            raw_field(&m, "predictedWaitMs").is_null()
                || raw_field(&m, "predictedWaitMs").is_undefined(),
            "no prediction without hold samples"
        );
    }
}

#[wasm_bindgen_test]
fn bad_per_call_timeout_is_a_range_error() {
    let mut g = gate_of(1.0);
    let e = g
        .submit_with(0.0, 0.0, 0, false)
        .expect_err("timeoutMs 0 accepted");
    let msg = range_error_message(e);
    assert!(msg.starts_with("timeoutMs "), "{msg}");
    assert_eq!(g.active(), 0, "a refused submitWith took a slot");
    assert_eq!(field(&metrics(&g), "submitted"), 0.0);
    assert_invariants(&g);
}

// ---- granting -----------------------------------------------------------------------------

#[wasm_bindgen_test]
fn submit_grants_then_queues_and_release_grants_the_oldest_waiter() {
    let mut g = gate_of(1.0);
    let a = granted(&mut g, 0.0);
    let b = queued(&mut g, 1.0);
    assert_ne!(a, b);
    assert_eq!((g.active(), g.queued(), g.available()), (1, 1, 0));
    assert_eq!(g.poll_event(), 0.0, "nothing happened yet");

    assert_eq!(g.release(5.0, a, OK, 0.0), release::COMPLETED);
    assert_eq!(drain(&mut g), vec![(GRANTED, b)]);
    assert_eq!((g.active(), g.queued()), (1, 0));
    // The settled ticket is stale now.
    assert_eq!(g.release(6.0, a, OK, 0.0), release::UNKNOWN_TICKET);

    assert_eq!(g.release(7.0, b, OK, 0.0), release::COMPLETED);
    assert!(drain(&mut g).is_empty());
    assert_eq!((g.active(), g.available()), (0, 1));
    assert_invariants(&g);
}

#[wasm_bindgen_test]
fn waiters_are_granted_in_arrival_order() {
    let mut g = gate(&[
        ("maxConnections", n(2.0)),
        ("queueTimeoutMs", n(f64::INFINITY)),
    ]);
    let mut holders = vec![granted(&mut g, 0.0), granted(&mut g, 0.0)];
    let waiters: Vec<f64> = (1..=5).map(|i| queued(&mut g, f64::from(i))).collect();
    // Nothing to time out: queue timeout is Infinity and there is no operation timeout.
    assert_eq!(g.poll_timeout(), f64::INFINITY);

    let mut order = Vec::new();
    let mut now = 10.0;
    while let Some(t) = holders.pop() {
        now += 1.0;
        assert_eq!(g.release(now, t, OK, 0.0), release::COMPLETED);
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
    let mut g = gate_of(1.0);
    let a = granted(&mut g, 0.0);
    let b = queued(&mut g, 1.0);
    g.set_max_connections(2.0, 2.0).expect("2 is valid");
    // Growing the pool grants the waiter at once.
    assert_eq!(drain(&mut g), vec![(GRANTED, b)]);
    assert_eq!(g.max_connections(), 2);
    assert_eq!(g.effective_limit(), 2);
    // Both slots are taken, so a newcomer waits.
    let c = queued(&mut g, 3.0);
    assert_eq!(g.release(4.0, a, OK, 0.0), release::COMPLETED);
    assert_eq!(drain(&mut g), vec![(GRANTED, c)]);
    assert_invariants(&g);
}

#[wasm_bindgen_test]
fn a_grant_says_whether_it_carries_a_deadline() {
    // No operation timeout and no retry deadline: nothing can settle the caller but the
    // operation, so the driver may skip tracking it.
    let mut g = gate_of(3.0);
    granted_as(&mut g, 0.0, submitted_kind::GRANTED_NO_DEADLINE);
    // A per-call timeout, or a retry policy's overall deadline, is a deadline.
    assert_eq!(
        submit_with(&mut g, 0.0, 50.0, 0, false).0,
        submitted_kind::GRANTED
    );
    let p = policy(&mut g, &[("deadlineMs", n(1000.0))]);
    assert_eq!(
        submit_with(&mut g, 0.0, f64::INFINITY, p, false).0,
        submitted_kind::GRANTED
    );
    // A pool-wide operation timeout makes every grant timed.
    let mut timed = gate(&[("operationTimeoutMs", n(100.0))]);
    granted_as(&mut timed, 0.0, submitted_kind::GRANTED);
    assert_invariants(&g);
    assert_invariants(&timed);
}

// ---- timeouts -----------------------------------------------------------------------------

#[wasm_bindgen_test]
fn queue_timeout_fires_once_and_the_waiter_is_never_granted() {
    let mut g = gate(&[("maxConnections", n(1.0)), ("queueTimeoutMs", n(100.0))]);
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
    assert_eq!(g.release(130.0, a, OK, 0.0), release::COMPLETED);
    assert!(drain(&mut g).is_empty());
    assert_eq!((g.active(), g.available()), (0, 1));
    assert_eq!(
        g.cancel(131.0, b),
        cancel::UNKNOWN_TICKET,
        "a timed-out ticket is stale"
    );

    let m = metrics(&g);
    assert_eq!(field(&m, "queueTimeouts"), 1.0);
    assert_invariants(&g);
}

#[wasm_bindgen_test]
fn a_release_after_the_deadline_does_not_grant_the_expired_waiter() {
    let mut g = gate(&[("maxConnections", n(1.0)), ("queueTimeoutMs", n(100.0))]);
    let a = granted(&mut g, 0.0);
    let b = queued(&mut g, 0.5);
    let c = queued(&mut g, 60.0);
    // The driver's timer has not fired yet, but the release comes after b's deadline.
    assert_eq!(g.release(120.0, a, OK, 0.0), release::COMPLETED);
    assert_eq!(drain(&mut g), vec![(QUEUE_TIMEOUT, b), (GRANTED, c)]);
    assert_eq!(g.last_waited_ms(), 119.5);
    assert_eq!(g.active(), 1);
    assert_invariants(&g);
}

#[wasm_bindgen_test]
fn operation_timeout_keeps_the_slot_until_the_zombie_is_released() {
    let mut g = gate_of(1.0);
    let (kind, a) = submit_with(&mut g, 0.0, 50.0, 0, false);
    assert_eq!(
        kind,
        submitted_kind::GRANTED,
        "granted at once, with a deadline"
    );
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
    assert_eq!(
        g.release(80.0, a, class(ErrorClass::Permanent), 0.0),
        release::ZOMBIE_ENDED
    );
    assert_eq!(drain(&mut g), vec![(GRANTED, b)]);
    assert_eq!(g.active(), 1);
    assert_eq!(field(&metrics(&g), "zombies"), 0.0);
    assert_eq!(field(&metrics(&g), "failed"), 1.0);
    assert_invariants(&g);
}

#[wasm_bindgen_test]
fn submit_with_nan_uses_the_pool_timeout_and_infinity_none() {
    let mut g = gate(&[("maxConnections", n(2.0)), ("operationTimeoutMs", n(30.0))]);
    let (kind_a, a) = submit_with(&mut g, 0.0, f64::NAN, 0, false);
    let (kind_b, b) = submit_with(&mut g, 0.0, f64::INFINITY, 0, false);
    assert_eq!(kind_a, submitted_kind::GRANTED);
    assert_eq!(kind_b, submitted_kind::GRANTED_NO_DEADLINE);
    assert_eq!(g.poll_timeout(), 30.0);
    g.handle_timeout(1e6);
    assert_eq!(drain(&mut g), vec![(OPERATION_TIMEOUT, a)]);
    assert_eq!(g.poll_timeout(), f64::INFINITY);
    assert_eq!(g.release(1e6, b, OK, 0.0), release::COMPLETED);
    assert_eq!(g.release(1e6, a, OK, 0.0), release::ZOMBIE_ENDED);
    assert_eq!(g.active(), 0);
    assert_invariants(&g);
}

#[wasm_bindgen_test]
fn release_on_timeout_frees_the_slot_at_the_deadline() {
    let mut g = gate(&[
        ("maxConnections", n(1.0)),
        ("operationTimeoutMs", n(50.0)),
        ("releaseOnTimeout", b(true)),
    ]);
    let a = granted_as(&mut g, 0.0, submitted_kind::GRANTED);
    let w = queued(&mut g, 1.0);
    g.handle_timeout(50.0);
    assert_eq!(drain(&mut g), vec![(OPERATION_TIMEOUT, a), (GRANTED, w)]);
    assert_eq!(g.active(), 1);
    assert_eq!(
        g.release(60.0, a, OK, 0.0),
        release::ALREADY_FREED,
        "slot already freed"
    );
    assert_eq!(g.active(), 1, "releasing a detached ticket frees nothing");
    assert_eq!(g.release(61.0, w, OK, 0.0), release::COMPLETED);
    assert_eq!(g.active(), 0);
    assert_invariants(&g);
}

/// A caller that may not wait at all (`queueTimeoutMs: 0`) is refused when no slot is free;
/// a retry policy's overall deadline bounds the queue wait below the queue timeout.
#[wasm_bindgen_test]
fn a_caller_that_cannot_wait_is_refused_and_the_overall_deadline_bounds_the_wait() {
    let mut g = gate(&[("maxConnections", n(1.0)), ("queueTimeoutMs", n(0.0))]);
    granted(&mut g, 0.0);
    assert_eq!(g.submit(10.0), refused(refusal::NO_WAIT));
    assert_eq!(
        g.submit_with(10.0, f64::NAN, 0, false).expect("valid"),
        refused(refusal::NO_WAIT)
    );
    assert_eq!(g.queued(), 0);
    assert_eq!(field(&metrics(&g), "queueTimeouts"), 2.0);
    assert_invariants(&g);

    let mut g = gate_of(1.0);
    granted(&mut g, 0.0);
    let p = policy(&mut g, &[("deadlineMs", n(5.0))]);
    let (kind, w) = submit_with(&mut g, 10.0, f64::NAN, p, false);
    assert_eq!(kind, submitted_kind::QUEUED);
    assert_eq!(
        g.poll_timeout(),
        15.0,
        "deadlineMs, not the 10 s queue timeout"
    );
    g.handle_timeout(15.0);
    assert_eq!(drain(&mut g), vec![(QUEUE_TIMEOUT, w)]);
    assert_eq!(g.last_waited_ms(), 5.0);
    assert_invariants(&g);
}

// ---- cancel, retry, close -----------------------------------------------------------------

#[wasm_bindgen_test]
fn a_cancelled_waiter_is_never_granted() {
    let mut g = gate_of(1.0);
    let a = granted(&mut g, 0.0);
    let w = queued(&mut g, 1.0);
    let c = queued(&mut g, 2.0);
    assert_eq!(g.cancel(3.0, w), cancel::REMOVED);
    assert_eq!(g.queued(), 1);
    assert!(drain(&mut g).is_empty());
    assert_eq!(
        g.cancel(3.5, w),
        cancel::UNKNOWN_TICKET,
        "cancelled ticket is stale"
    );
    assert_eq!(g.release(4.0, w, OK, 0.0), release::UNKNOWN_TICKET);

    assert_eq!(g.release(5.0, a, OK, 0.0), release::COMPLETED);
    assert_eq!(drain(&mut g), vec![(GRANTED, c)]);
    // Cancelling a running operation leaves a zombie holding the slot.
    assert_eq!(g.cancel(6.0, c), cancel::NOW_ZOMBIE);
    assert_eq!(g.cancel(6.5, c), cancel::ALREADY_SETTLED);
    assert_eq!((g.active(), field(&metrics(&g), "zombies")), (1, 1.0));
    assert_eq!(g.release(7.0, c, OK, 0.0), release::ZOMBIE_ENDED);
    assert_eq!(g.active(), 0);
    assert!(drain(&mut g).is_empty());
    assert_invariants(&g);
}

/// A failed attempt with a retry policy is kept by the core: `release` answers `RETRYING`, the
/// ticket sleeps its back-off without a slot, then queues again like a newcomer and comes back
/// as a `GRANTED` event for the same ticket.
#[wasm_bindgen_test]
fn a_retry_backs_off_without_a_slot_then_is_granted_again() {
    let mut g = gate_of(1.0);
    let p = policy(&mut g, &[("delay", n(1000.0))]);
    let (kind, t) = submit_with(&mut g, 0.0, f64::INFINITY, p, false);
    assert_eq!(kind, submitted_kind::GRANTED_NO_DEADLINE);
    assert_eq!(
        g.release(0.0, t, class(ErrorClass::NotSent), 0.0),
        release::RETRYING
    );
    assert!(
        drain(&mut g).is_empty(),
        "nothing to start during the back-off"
    );
    assert_eq!((g.active(), g.available()), (0, 1));
    assert_eq!(g.poll_timeout(), 1000.0);
    assert_eq!(field(&metrics(&g), "sleeping"), 1.0);
    assert_eq!(field(&metrics(&g), "retries"), 1.0);
    assert_eq!(
        g.release(1.0, t, OK, 0.0),
        release::NOT_HELD,
        "a back-off holds no slot"
    );

    // The free slot serves a newcomer meanwhile.
    let other = granted(&mut g, 2.0);
    g.handle_timeout(999.0);
    assert!(drain(&mut g).is_empty());
    // The back-off ends while the slot is taken: the retry queues behind nobody.
    g.handle_timeout(1000.0);
    assert!(drain(&mut g).is_empty());
    assert_eq!((g.queued(), field(&metrics(&g), "sleeping")), (1, 0.0));
    assert_eq!(g.release(1001.0, other, OK, 0.0), release::COMPLETED);
    assert_eq!(drain(&mut g), vec![(GRANTED, t)]);
    // The second attempt succeeds: the caller is settled with it.
    assert_eq!(g.release(1002.0, t, OK, 0.0), release::COMPLETED);
    assert_eq!(g.release(1003.0, t, OK, 0.0), release::UNKNOWN_TICKET);
    let m = metrics(&g);
    assert_eq!(field(&m, "retries"), 1.0);
    assert_eq!(field(&m, "failed"), 1.0);
    assert_eq!(field(&m, "succeeded"), 2.0);
    assert_eq!(g.active(), 0);
    assert_invariants(&g);
}

#[wasm_bindgen_test]
fn a_retry_back_off_can_be_cancelled() {
    let mut g = gate_of(1.0);
    let p = policy(&mut g, &[]);
    let (_, t) = submit_with(&mut g, 0.0, f64::INFINITY, p, false);
    assert_eq!(
        g.release(0.0, t, class(ErrorClass::NotSent), 0.0),
        release::RETRYING
    );
    assert_eq!(g.cancel(10.0, t), cancel::REMOVED);
    assert_eq!(field(&metrics(&g), "sleeping"), 0.0);
    assert_eq!(g.poll_timeout(), f64::INFINITY);
    g.handle_timeout(5000.0);
    assert!(drain(&mut g).is_empty(), "a cancelled back-off never wakes");
    assert_eq!(g.cancel(5001.0, t), cancel::UNKNOWN_TICKET);
    assert_invariants(&g);
}

#[wasm_bindgen_test]
fn close_rejects_every_waiter_and_back_off_and_refuses_new_work() {
    let mut g = gate_of(2.0);
    let p = policy(&mut g, &[("delay", n(500.0))]);
    let (_, s) = submit_with(&mut g, 0.0, f64::INFINITY, p, false);
    let (_, a) = submit_with(&mut g, 0.0, f64::INFINITY, p, false);
    let w = queued(&mut g, 1.0);
    let c = queued(&mut g, 2.0);
    let d = queued(&mut g, 2.0);
    // `s` fails and backs off; its slot goes to the oldest waiter.
    assert_eq!(
        g.release(2.5, s, class(ErrorClass::NotSent), 0.0),
        release::RETRYING
    );
    assert_eq!(drain(&mut g), vec![(GRANTED, w)]);
    g.close(3.0);
    assert_eq!(drain(&mut g), vec![(CLOSED, c), (CLOSED, d), (CLOSED, s)]);
    assert_eq!(g.queued(), 0);
    assert_eq!(g.submit(4.0), refused(refusal::CLOSED));
    assert_eq!(
        g.submit_with(4.0, f64::NAN, p, true).expect("valid"),
        refused(refusal::CLOSED)
    );
    // Running operations finish normally; a failure is no longer retried.
    assert_eq!(
        g.release(5.0, a, class(ErrorClass::NotSent), 0.0),
        release::GAVE_UP_CLOSED
    );
    assert_eq!(g.release(5.0, w, OK, 0.0), release::COMPLETED);
    assert_eq!(g.active(), 0);
    assert!(drain(&mut g).is_empty());
    // Closing twice is harmless.
    g.close(6.0);
    assert!(drain(&mut g).is_empty());
    let m = metrics(&g);
    assert_eq!(raw_field(&m, "closed"), JsValue::TRUE);
    assert_eq!(field(&m, "sleeping"), 0.0);
    assert_eq!(field(&m, "rejectedClosed"), 5.0);
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
    let mut g = gate(&[
        ("maxConnections", n(1.0)),
        ("maxQueue", n(3.0)),
        ("queueTimeoutMs", n(1000.0)),
    ]);
    // Use slot 0 once so that no live ticket has the all-zero bit pattern (see
    // `bogus_ticket_numbers_never_alias_a_live_ticket` for the case where one does).
    let first = granted(&mut g, 0.0);
    assert_eq!(g.release(0.0, first, OK, 0.0), release::COMPLETED);

    let a = granted(&mut g, 1.0);
    let w = queued(&mut g, 2.0);
    for bogus in BOGUS_TICKETS {
        for class_code in [OK, class(ErrorClass::Permanent), class(ErrorClass::NotSent)] {
            let r = g.release(3.0, bogus, class_code, f64::NAN);
            assert!(r < 0, "release({bogus}, {class_code}) = {r}");
        }
        assert!(g.cancel(3.0, bogus) < 0, "cancel({bogus})");
    }
    assert_eq!((g.active(), g.queued()), (1, 1));
    assert!(drain(&mut g).is_empty());
    assert_invariants(&g);

    // Broken clocks below the current time: no panic, and the clock never runs backwards.
    for now in [f64::NAN, f64::NEG_INFINITY, -1.0] {
        let r = g.submit(now);
        assert!(
            r == refused(refusal::QUEUE_FULL) || decode(r).0 == submitted_kind::QUEUED,
            "submit({now}) = {r}"
        );
        assert!(drain(&mut g).is_empty());
        // Every waiter's deadline is at 1000 ms after the gate's clock (3 ms at most).
        assert_eq!(g.poll_timeout(), 1002.0);
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
        assert_eq!(g.release(5.0, t, OK, 0.0), release::COMPLETED);
        for (kind, ticket) in drain(&mut g) {
            assert_eq!(kind, GRANTED);
            grants.push(ticket);
            to_release.push(ticket);
        }
    }
    assert_eq!(grants.first(), Some(&w), "{grants:?}");
    assert_eq!((g.active(), g.queued()), (0, 0));
    let c = granted(&mut g, 7.0);
    assert_eq!(g.release(8.0, c, OK, 0.0), release::COMPLETED);
    assert_eq!(g.active(), 0);
    assert_eq!(g.check_invariants(), None);
}

/// A retry released with a broken clock backs off from the gate's own clock (it never runs
/// backwards), and a broken random sample does not trap.
#[wasm_bindgen_test]
fn a_retry_released_at_a_broken_clock_wakes_at_the_gates_clock() {
    let mut g = gate_of(1.0);
    let p = policy(&mut g, &[("delay", n(0.0)), ("maxRetries", n(10.0))]);
    let (_, t) = submit_with(&mut g, 3.0, f64::INFINITY, p, false);
    for now in [f64::NAN, f64::NEG_INFINITY, -1.0] {
        for random in [f64::NAN, -1.0, 7.0] {
            assert_eq!(
                g.release(now, t, class(ErrorClass::NotSent), random),
                release::RETRYING,
                "release at {now} with random {random}"
            );
            assert_eq!(g.active(), 0);
            assert_eq!(g.poll_timeout(), 3.0);
            g.handle_timeout(now);
            assert_eq!(drain(&mut g), vec![(GRANTED, t)]);
            assert_invariants(&g);
        }
    }
    assert_eq!(field(&metrics(&g), "retries"), 9.0);
    assert_eq!(g.release(4.0, t, OK, 0.0), release::COMPLETED);
    assert_eq!(g.active(), 0);
    assert_invariants(&g);
}

/// An error class the core does not know is a permanent failure (never retried, counted as
/// failed), whatever its size: it is never taken for a success.
#[wasm_bindgen_test]
fn unknown_error_classes_are_permanent_failures() {
    let mut g = gate_of(1.0);
    let p = policy(&mut g, &[]);
    let unknown = [5, 200, 255, 256, 1000, i32::MAX];
    for (i, code) in unknown.into_iter().enumerate() {
        let (_, t) = submit_with(&mut g, 0.0, f64::INFINITY, p, true);
        assert_eq!(
            g.release(0.0, t, code, 0.0),
            release::GAVE_UP_NOT_RETRYABLE,
            "errorClass {code}"
        );
        let m = metrics(&g);
        assert_eq!(field(&m, "failed"), (i + 1) as f64, "errorClass {code}");
        assert_eq!(field(&m, "succeeded"), 0.0, "errorClass {code}");
    }
    assert_eq!(field(&metrics(&g), "retries"), 0.0);
    assert_invariants(&g);
}

/// A fresh gate's first ticket is the number 0, and the second is 1. Numbers that were never
/// issued (NaN, negatives, 2^53, fractions) must not be taken for them.
#[wasm_bindgen_test]
fn bogus_ticket_numbers_never_alias_a_live_ticket() {
    let mut g = gate_of(2.0);
    let a = granted(&mut g, 0.0);
    let b = granted(&mut g, 0.0);
    assert_eq!((a, b), (0.0, 1.0), "first tickets of a fresh gate");
    for bogus in [f64::NAN, -1.0, -0.5, 9_007_199_254_740_992.0, 0.5] {
        assert!(
            g.release(1.0, bogus, OK, 0.0) < 0,
            "release({bogus}) freed ticket 0"
        );
        assert!(g.cancel(1.0, bogus) < 0, "cancel({bogus}) hit ticket 0");
    }
    assert!(
        g.release(1.0, 1.5, OK, 0.0) < 0,
        "release(1.5) freed ticket 1"
    );
    assert_eq!(g.active(), 2);
    assert_eq!(field(&metrics(&g), "zombies"), 0.0);
    assert_eq!(g.check_invariants(), None);
}

/// `now = Infinity` (or any absurdly large time) from a broken clock must not stop the gate
/// from ever granting again.
#[wasm_bindgen_test]
fn an_infinite_now_does_not_brick_the_gate() {
    let mut g = gate_of(1.0);
    let a = granted(&mut g, 0.0);
    g.handle_timeout(f64::INFINITY);
    let r = g.submit(f64::INFINITY);
    assert!(r.is_finite());
    let _ = drain(&mut g);
    assert_eq!(g.check_invariants(), None);

    assert_eq!(g.release(10.0, a, OK, 0.0), release::COMPLETED);
    // The submission made at `Infinity` was queued like any other and now holds the slot.
    let granted_waiters = drain(&mut g);
    assert_eq!(granted_waiters.len(), 1, "{granted_waiters:?}");
    assert_eq!(granted_waiters[0].0, GRANTED);
    assert_eq!(
        g.release(10.5, granted_waiters[0].1, OK, 0.0),
        release::COMPLETED
    );
    let r = g.submit(11.0);
    assert!(r >= 0.0, "submit after now=Infinity refused with {r}");
    let (kind, c) = decode(r);
    assert_eq!(kind, submitted_kind::GRANTED_NO_DEADLINE);
    assert_eq!(g.release(12.0, c, OK, 0.0), release::COMPLETED);
    assert_eq!(g.check_invariants(), None);
}

// ---- retry policy and classification ------------------------------------------------------

/// Fails attempt after attempt of `t` at `now`, expecting a retry each time after the given
/// back-offs (ms), then a `GRANTED` event at the end of each; returns the time of the last
/// grant.
fn retry_through(g: &mut WasmGate, t: f64, mut now: f64, error: ErrorClass, waits: &[f64]) -> f64 {
    for (i, wait) in waits.iter().enumerate() {
        let r = g.release(now, t, class(error), 0.5);
        assert_eq!(r, release::RETRYING, "failure {} of {t}", i + 1);
        assert_eq!(
            g.poll_timeout(),
            now + wait,
            "back-off after failure {}",
            i + 1
        );
        g.handle_timeout(now + wait - 1.0);
        assert!(drain(g).is_empty(), "woke before its back-off ended");
        now += wait;
        g.handle_timeout(now);
        assert_eq!(drain(g), vec![(GRANTED, t)]);
        assert_invariants(g);
    }
    now
}

#[wasm_bindgen_test]
fn default_retry_policy_backs_off_linearly_then_gives_up() {
    let mut g = gate_of(4.0);
    let p = g
        .register_retry_policy(&JsValue::UNDEFINED)
        .expect("defaults are valid");
    assert_ne!(p, 0);
    assert_eq!(g.register_retry_policy(&object(&[])).ok(), Some(p));

    // Three retries, 1 s, 2 s, 3 s apart (default jitter 0: the random sample changes
    // nothing), for any class that proves nothing ran, and for a maybe-sent idempotent read.
    let (_, t) = submit_with(&mut g, 5000.0, f64::INFINITY, p, true);
    let now = retry_through(&mut g, t, 5000.0, ErrorClass::NotSent, &[1000.0, 2000.0]);
    assert_eq!(now, 8000.0);
    let now = retry_through(&mut g, t, now, ErrorClass::MaybeSent, &[3000.0]);
    assert_eq!(
        g.release(now, t, class(ErrorClass::NotSent), 0.0),
        release::GAVE_UP_EXHAUSTED
    );
    assert_eq!(
        g.release(now, t, OK, 0.0),
        release::UNKNOWN_TICKET,
        "given up: the ticket is settled"
    );
    assert_eq!(field(&metrics(&g), "retries"), 3.0);

    // A query error; a write that may have run; an unknown class.
    let (_, t) = submit_with(&mut g, now, f64::INFINITY, p, true);
    assert_eq!(
        g.release(now, t, class(ErrorClass::Permanent), 0.0),
        release::GAVE_UP_NOT_RETRYABLE
    );
    let (_, t) = submit_with(&mut g, now, f64::INFINITY, p, false);
    assert_eq!(
        g.release(now, t, class(ErrorClass::MaybeSent), 0.0),
        release::GAVE_UP_MAYBE_EXECUTED
    );
    let (_, t) = submit_with(&mut g, now, f64::INFINITY, p, true);
    assert_eq!(g.release(now, t, 255, 0.0), release::GAVE_UP_NOT_RETRYABLE);

    // The next attempt would start after the overall deadline.
    let soon = policy(&mut g, &[("deadlineMs", n(999.0))]);
    assert_ne!(soon, p);
    let (_, t) = submit_with(&mut g, now, f64::INFINITY, soon, false);
    assert_eq!(
        g.release(now, t, class(ErrorClass::NotSent), 0.0),
        release::GAVE_UP_DEADLINE
    );

    // Without a policy (0, or an id never registered) a failure just completes: the caller
    // gets the error.
    for id in [0, 77] {
        let (_, t) = submit_with(&mut g, now, f64::INFINITY, id, true);
        assert_eq!(
            g.release(now, t, class(ErrorClass::NotSent), 0.0),
            release::COMPLETED,
            "policy id {id}"
        );
    }
    assert_eq!(field(&metrics(&g), "retries"), 3.0);

    // Hostile numbers do not trap: no retry allowed, NaN clock and random.
    let none = policy(&mut g, &[("maxRetries", n(0.0))]);
    let (_, t) = submit_with(&mut g, now, f64::INFINITY, none, true);
    assert_eq!(
        g.release(f64::NAN, t, class(ErrorClass::NotSent), f64::NAN),
        release::GAVE_UP_EXHAUSTED
    );
    assert_eq!(g.active(), 0);
    assert_invariants(&g);
}

#[wasm_bindgen_test]
fn retry_policy_options_are_validated() {
    let mut g = gate_of(1.0);
    let msg = policy_error(&mut g, &[("maxRetries", n(-1.0))]);
    assert!(msg.starts_with("maxRetries "), "{msg}");
    assert!(msg.ends_with("got -1"), "{msg}");
    for (key, bad) in [
        ("delay", f64::INFINITY),
        ("jitter", 2.0),
        ("deadlineMs", 0.5),
        ("loginLockoutMs", f64::INFINITY),
        ("maxDelayMs", -1.0),
    ] {
        let msg = policy_error(&mut g, &[(key, n(bad))]);
        assert!(msg.starts_with(&format!("{key} ")), "{msg}");
    }
    // Refused options registered nothing: the first valid one gets id 1.
    let p = policy(
        &mut g,
        &[
            ("maxRetries", n(5.0)),
            ("delay", n(100.0)),
            ("maxDelayMs", n(250.0)),
            ("jitter", n(0.0)),
        ],
    );
    assert_eq!(p, 1);
    // Back-offs of 100, 200, then capped at 250; the sixth failure gives up.
    let (_, t) = submit_with(&mut g, 0.0, f64::INFINITY, p, false);
    let now = retry_through(
        &mut g,
        t,
        0.0,
        ErrorClass::NotSent,
        &[100.0, 200.0, 250.0, 250.0, 250.0],
    );
    assert_eq!(
        g.release(now, t, class(ErrorClass::NotSent), 0.0),
        release::GAVE_UP_EXHAUSTED
    );
    assert_invariants(&g);
}

/// `loginLockoutMs` stretches the back-offs after a pooler's login lockout so the retries span
/// it; other classes keep the linear schedule.
#[wasm_bindgen_test]
fn a_login_lockout_spreads_the_retries_over_it() {
    let mut g = gate_of(1.0);
    let p = policy(&mut g, &[("loginLockoutMs", n(15_000.0))]);
    let (_, t) = submit_with(&mut g, 0.0, f64::INFINITY, p, false);
    // 3 retries over 15 s: at least 5 s each.
    let now = retry_through(&mut g, t, 0.0, ErrorClass::LoginLockout, &[5000.0, 5000.0]);
    let now = retry_through(&mut g, t, now, ErrorClass::NotSent, &[3000.0]);
    assert_eq!(now, 13_000.0);
    assert_eq!(g.release(now, t, OK, 0.0), release::COMPLETED);
    // Without the option, a lockout is an ordinary not-sent failure.
    let plain = policy(&mut g, &[]);
    assert_ne!(plain, p);
    let (_, t) = submit_with(&mut g, now, f64::INFINITY, plain, false);
    retry_through(&mut g, t, now, ErrorClass::LoginLockout, &[1000.0]);
    assert_invariants(&g);
}

#[wasm_bindgen_test]
fn errors_are_classified() {
    let code = |c| protocol::error_class_code(c);
    assert_eq!(
        classify_error(strings(&["P1001"]), vec![]),
        code(ErrorClass::NotSent)
    );
    assert_eq!(
        classify_error(strings(&["P2002"]), vec![]),
        code(ErrorClass::Permanent)
    );
    assert_eq!(
        classify_error(vec![], strings(&["Connection terminated unexpectedly"])),
        code(ErrorClass::MaybeSent)
    );
    assert_eq!(classify_error(vec![], vec![]), code(ErrorClass::Permanent));
    // A query error wins over a message that mentions a connection.
    assert_eq!(
        classify_error(
            strings(&["P2002"]),
            strings(&["duplicate key in connection_logs: connection terminated"])
        ),
        code(ErrorClass::Permanent)
    );
    assert_eq!(
        classify_error(
            strings(&["P2037", "53300"]),
            strings(&["sorry, too many clients already"])
        ),
        code(ErrorClass::TooManyConnections)
    );
    assert_eq!(
        classify_error(
            strings(&["08P01"]),
            strings(&["server login has been failing, try again later (server_login_retry)"])
        ),
        code(ErrorClass::LoginLockout)
    );
}

// ---- adaptive limit and early rejection ---------------------------------------------------

#[wasm_bindgen_test]
fn too_many_connections_cuts_the_effective_limit_then_it_grows_back() {
    let mut g = gate(&[
        ("maxConnections", n(8.0)),
        ("adaptive", object(&[("min", n(2.0))])),
    ]);
    assert!(
        !g.clock_free_eligible(),
        "the adaptive limit needs every grant's time"
    );
    assert!(!g.try_acquire());
    let held: Vec<f64> = (0..8)
        .map(|_| granted_as(&mut g, 0.0, submitted_kind::GRANTED_NO_DEADLINE))
        .collect();
    let too_many = class(ErrorClass::TooManyConnections);
    assert_eq!(g.release(1.0, held[0], too_many, 0.0), release::COMPLETED);
    assert_eq!(g.effective_limit(), 4);
    // Failures of operations granted before the cut are the same overload: no second cut.
    assert_eq!(g.release(2.0, held[1], too_many, 0.0), release::COMPLETED);
    assert_eq!(g.effective_limit(), 4);
    assert_eq!(g.available(), 0, "6 running, limit 4");
    let w = queued(&mut g, 3.0);
    for t in &held[2..4] {
        assert_eq!(g.release(4.0, *t, OK, 0.0), release::COMPLETED);
    }
    assert!(drain(&mut g).is_empty(), "4 still running at limit 4");
    assert_eq!(g.release(5.0, held[4], OK, 0.0), release::COMPLETED);
    assert_eq!(drain(&mut g), vec![(GRANTED, w)]);
    // An operation granted after the cut that fails the same way cuts again, down to the
    // floor and no further.
    assert_eq!(g.release(6.0, w, too_many, 0.0), release::COMPLETED);
    assert_eq!(g.effective_limit(), 2);
    let m = metrics(&g);
    assert_eq!(field(&m, "limitCuts"), 2.0);
    assert_eq!(field(&m, "tooManyConnections"), 3.0);
    assert_eq!(field(&m, "effectiveLimit"), 2.0);
    for t in &held[5..8] {
        assert_eq!(g.release(7.0, *t, OK, 0.0), release::COMPLETED);
    }
    // Clean operations raise it by one per window of `limit` clean operations.
    let mut now = 10.0;
    for _ in 0..40 {
        let t = granted(&mut g, now);
        now += 1.0;
        assert_eq!(g.release(now, t, OK, 0.0), release::COMPLETED);
    }
    assert_eq!(
        g.effective_limit(),
        8,
        "back to maxConnections, never above"
    );
    assert_invariants(&g);

    // `adaptive: true` is a floor of 1.
    let mut g = gate(&[("maxConnections", n(2.0)), ("adaptive", b(true))]);
    let t = granted(&mut g, 0.0);
    assert_eq!(g.release(1.0, t, too_many, 0.0), release::COMPLETED);
    assert_eq!(g.effective_limit(), 1);
    let t = granted(&mut g, 2.0);
    assert_eq!(g.release(3.0, t, too_many, 0.0), release::COMPLETED);
    assert_eq!(g.effective_limit(), 1);
    assert_invariants(&g);

    // Without `adaptive`, the limit never moves.
    let mut g = gate_of(2.0);
    let t = granted(&mut g, 0.0);
    assert_eq!(g.release(1.0, t, too_many, 0.0), release::COMPLETED);
    assert_eq!(g.effective_limit(), 2);
    assert_eq!(field(&metrics(&g), "limitCuts"), 0.0);
}

#[wasm_bindgen_test]
fn a_caller_that_would_time_out_is_rejected_early() {
    let mut g = gate(&[
        ("maxConnections", n(1.0)),
        ("queueTimeoutMs", n(100.0)),
        ("rejectEarly", b(true)),
    ]);
    // Twenty operations that each hold the slot 40 ms teach the gate its hold time.
    let mut now = 0.0;
    for _ in 0..20 {
        let t = granted(&mut g, now);
        now += 40.0;
        assert_eq!(g.release(now, t, OK, 0.0), release::COMPLETED);
    }
    let predicted = field(&metrics(&g), "predictedWaitMs");
    assert!((38.0..=42.0).contains(&predicted), "{predicted}");
    let a = granted(&mut g, now);
    // Positions 1 and 2 expect about 40 and 80 ms, within the 100 ms queue timeout.
    queued(&mut g, now);
    queued(&mut g, now);
    // Position 3 expects about 120 ms: refused at once.
    assert_eq!(g.submit(now), refused(refusal::WOULD_TIME_OUT));
    let early = g.last_predicted_ms();
    assert!((114.0..=126.0).contains(&early), "{early}");
    assert_eq!(g.queued(), 2, "a caller refused early never queued");
    let m = metrics(&g);
    assert_eq!(field(&m, "rejectedEarly"), 1.0);
    assert_eq!(field(&m, "queueTimeouts"), 0.0);
    // The gate keeps working: the slot passes on to the queue.
    assert_eq!(g.release(now + 40.0, a, OK, 0.0), release::COMPLETED);
    assert_eq!(drain(&mut g).len(), 1);
    assert_invariants(&g);

    // Without `rejectEarly` the same caller queues.
    let mut g = gate(&[("maxConnections", n(1.0)), ("queueTimeoutMs", n(100.0))]);
    for i in 0..20 {
        let t = granted(&mut g, f64::from(i) * 40.0);
        assert_eq!(
            g.release(f64::from(i + 1) * 40.0, t, OK, 0.0),
            release::COMPLETED
        );
    }
    granted(&mut g, 800.0);
    for _ in 0..3 {
        queued(&mut g, 800.0);
    }
    assert_eq!(field(&metrics(&g), "rejectedEarly"), 0.0);
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
    let mut g = gate_of(1.0);
    let a = granted(&mut g, 0.0);
    let w = queued(&mut g, 1.0);
    let tick = js_sys::Promise::resolve(&JsValue::UNDEFINED);
    wasm_bindgen_futures::JsFuture::from(tick)
        .await
        .expect("resolves");
    assert_eq!(g.release(2.0, a, OK, 0.0), release::COMPLETED);
    assert_eq!(drain(&mut g), vec![(GRANTED, w)]);
}

// ---- the clock-free fast path -----------------------------------------------------------------

#[wasm_bindgen_test]
fn clock_free_slots_count_against_the_limit_and_hand_over_in_order() {
    let mut g = gate(&[("maxConnections", n(2.0)), ("queueTimeoutMs", n(50.0))]);
    assert!(g.clock_free_eligible());
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
    assert!(g.release_clock_free(1.0, true));
    assert_eq!(decode(g.poll_event()), (GRANTED, waiter));
    assert_eq!(g.poll_event(), 0.0);
    assert!(g.try_release(false), "nobody waits now");
    assert!(!g.try_release(true), "no clock-free slot is left");
    assert!(!g.release_clock_free(2.0, true));
    assert_eq!(g.release(3.0, waiter, OK, 0.0), release::COMPLETED);
    assert_eq!((g.active(), g.queued(), g.available()), (0, 0, 2));
    let m = metrics(&g);
    assert_eq!((field(&m, "succeeded"), field(&m, "failed")), (2.0, 1.0));
    assert_eq!(g.check_invariants(), None);
}

#[wasm_bindgen_test]
fn clock_free_path_is_refused_with_a_default_operation_timeout_or_after_close() {
    let mut timed = gate(&[("maxConnections", n(2.0)), ("operationTimeoutMs", n(100.0))]);
    assert!(!timed.clock_free_eligible());
    assert!(!timed.try_acquire(), "every grant needs a deadline");
    let mut g = gate_of(2.0);
    assert!(g.try_acquire());
    g.close(0.0);
    assert!(!g.try_acquire());
    assert!(
        g.try_release(true),
        "a running operation is released after close()"
    );
    assert_eq!(g.check_invariants(), None);
}
