//! The core's alert rules for JavaScript: options in, alert objects out.
//!
//! [`WasmAlerts`] drives [`poolgate_core::alerts::Alerts`] on its own (the driver feeds it grants,
//! releases and queue timeouts); [`alert_object`] turns a decided alert into the object that
//! `pool.on('alert', ...)` listeners receive. Alerts are rare, so building an object per alert
//! costs nothing that matters.

use crate::codes::instant_of;
use poolgate_core::alerts::{Alert, AlertConfigError, AlertKind, Alerts, Outcome, RawAlertConfig};
use poolgate_core::{Duration, Instant};
use wasm_bindgen::prelude::*;

fn set(o: &js_sys::Object, key: &str, value: JsValue) {
    // Setting a plain property on a fresh object cannot fail.
    let _ = js_sys::Reflect::set(o, &JsValue::from_str(key), &value);
}

/// An alert as the object JavaScript listeners receive: `{ name, state, at, since, windowMs,
/// activeConnections, maxConnections, operations, failed, disconnects, queueTimeouts,
/// averageMs, errorRate }` (times in ms on the pool's clock).
pub fn alert_object(a: &Alert, window: Duration) -> JsValue {
    let f = &a.figures;
    let o = js_sys::Object::new();
    set(&o, "name", JsValue::from_str(a.kind.name()));
    set(
        &o,
        "state",
        JsValue::from_str(if a.raised { "raised" } else { "cleared" }),
    );
    set(&o, "at", a.at.as_millis_f64().into());
    set(&o, "since", a.since.as_millis_f64().into());
    set(&o, "windowMs", window.as_millis_f64().into());
    set(&o, "activeConnections", f.active.into());
    set(&o, "maxConnections", f.limit.into());
    set(&o, "operations", (f.operations as f64).into());
    set(&o, "failed", (f.failed as f64).into());
    set(&o, "disconnects", (f.disconnects as f64).into());
    set(&o, "queueTimeouts", (f.queue_timeouts as f64).into());
    set(&o, "averageMs", f.average_hold().as_millis_f64().into());
    let rate = if f.operations == 0 {
        0.0
    } else {
        f.failed as f64 / f.operations as f64
    };
    set(&o, "errorRate", rate.into());
    o.into()
}

/// Alert options as a `RangeError` naming the option. The message is built here, not by the
/// error's `Display`: that one prints numbers with Rust's float formatting, which would add
/// about 15 KB to the `.wasm` (numbers are printed by JavaScript, see `errors.rs`).
pub fn alert_config_error(e: AlertConfigError) -> JsValue {
    match e {
        AlertConfigError::Option(e) => crate::errors::range_error(e),
        AlertConfigError::ClearAboveRaise { clear, raise } => {
            let mut m = String::from(clear);
            m.push_str(" must not be above ");
            m.push_str(raise);
            m.push_str(
                " (the clear threshold sits below the raise threshold, so an alert cannot flap)",
            );
            js_sys::RangeError::new(&m).into()
        }
    }
}

/// The alert rules of a pool, fed by the driver (see the core's `alerts` module).
#[wasm_bindgen(js_name = Alerts)]
pub struct WasmAlerts {
    inner: Alerts,
}

#[wasm_bindgen(js_class = Alerts)]
impl WasmAlerts {
    /// Validates the thresholds (`undefined` keeps a default; see the README's alert table);
    /// throws a `RangeError` naming the first bad one.
    #[wasm_bindgen(constructor)]
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        window_ms: Option<f64>,
        saturated_percent: Option<f64>,
        saturated_for_ms: Option<f64>,
        saturated_clear_percent: Option<f64>,
        slow_ms: Option<f64>,
        slow_clear_ms: Option<f64>,
        error_rate: Option<f64>,
        error_clear_rate: Option<f64>,
        min_operations: Option<f64>,
        disconnects: Option<f64>,
        disconnects_clear: Option<f64>,
        queue_timeouts: Option<f64>,
    ) -> Result<WasmAlerts, JsValue> {
        let config = RawAlertConfig {
            window_ms,
            saturated_percent,
            saturated_for_ms,
            saturated_clear_percent,
            slow_ms,
            slow_clear_ms,
            error_rate,
            error_clear_rate,
            min_operations,
            disconnects,
            disconnects_clear,
            queue_timeouts,
        }
        .validate()
        .map_err(alert_config_error)?;
        Ok(WasmAlerts {
            inner: Alerts::new(config),
        })
    }

    /// A caller was granted a slot: `active` of `limit` are now held.
    #[wasm_bindgen(js_name = onGrant)]
    pub fn on_grant(&mut self, now: f64, active: u32, limit: u32) {
        self.inner.on_grant(instant_of(now), active, limit);
    }

    /// An operation released its slot after `hold_ms`; `outcome` 0 ok, 1 failed, 2 failed with
    /// a connection-class error; `active` of `limit` remain held.
    #[wasm_bindgen(js_name = onRelease)]
    pub fn on_release(&mut self, now: f64, hold_ms: f64, outcome: u8, active: u32, limit: u32) {
        let outcome = match outcome {
            0 => Outcome::Ok,
            2 => Outcome::ConnectionFailed,
            _ => Outcome::Failed,
        };
        self.inner.on_release(
            instant_of(now),
            Duration::from_millis_f64(hold_ms),
            outcome,
            active,
            limit,
        );
    }

    /// A caller waited past its queue timeout.
    #[wasm_bindgen(js_name = onQueueTimeout)]
    pub fn on_queue_timeout(&mut self, now: f64) {
        self.inner.on_queue_timeout(instant_of(now));
    }

    /// The timer armed for `nextDeadline` fired.
    #[wasm_bindgen(js_name = handleTimeout)]
    pub fn handle_timeout(&mut self, now: f64) {
        self.inner.handle_timeout(instant_of(now));
    }

    /// When to call `handleTimeout` next, in ms, or `Infinity` when nothing is pending.
    #[wasm_bindgen(js_name = nextDeadline)]
    pub fn next_deadline(&self) -> f64 {
        self.inner
            .next_deadline()
            .map_or(f64::INFINITY, Instant::as_millis_f64)
    }

    /// The next decided alert as an object, or `undefined`.
    #[wasm_bindgen(js_name = pollAlert)]
    pub fn poll_alert(&mut self) -> JsValue {
        let window = self.inner.config().window;
        self.inner
            .poll_alert()
            .map_or(JsValue::UNDEFINED, |a| alert_object(&a, window))
    }

    /// Whether the alert named `name` is raised now.
    #[wasm_bindgen(js_name = isRaised)]
    pub fn is_raised(&self, name: &str) -> bool {
        AlertKind::ALL
            .iter()
            .any(|k| k.name() == name && self.inner.is_raised(*k))
    }
}
