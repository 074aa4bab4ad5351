//! The fleet lease machine as a JavaScript class, and the gate's fleet limit. Converts only:
//! every decision is in [`poolgate_core::fleet`].

use crate::codes::instant_of;
use crate::gate::WasmGate;
use poolgate_core::fleet::{Fleet, FleetConfig, FleetMode, LeaseReply, LeaseRequest};
use poolgate_core::{Duration, Instant};
use wasm_bindgen::prelude::*;

fn range(msg: &str) -> JsValue {
    js_sys::RangeError::new(msg).into()
}

/// A whole number in `[min, 2^32)` for option `name`.
fn count(name: &str, v: f64, min: u32) -> Result<u32, JsValue> {
    if v.is_finite() && v.fract() == 0.0 && v >= f64::from(min) && v <= f64::from(u32::MAX) {
        Ok(v as u32)
    } else {
        Err(range(&format!(
            "fleet.{name} must be a whole number >= {min}"
        )))
    }
}

/// Milliseconds (finite, > 0) for option `name`.
fn millis(name: &str, v: f64) -> Result<Duration, JsValue> {
    if v.is_finite() && v > 0.0 && v <= 86_400_000.0 {
        Ok(Duration::from_millis_f64(v))
    } else {
        Err(range(&format!(
            "fleet.{name} must be a number of milliseconds > 0 (at most a day)"
        )))
    }
}

fn ms_of(at: Option<Instant>) -> f64 {
    at.map_or(f64::INFINITY, Instant::as_millis_f64)
}

/// One instance's side of a fleet lease. Drive it like the gate: after every change of demand
/// call `sync`, send what `pollRequest` returns, feed the answer to `onReply` / `onFailure`,
/// and arm one timer at `pollTimeout()`.
#[wasm_bindgen(js_name = FleetLease)]
pub struct WasmFleet {
    inner: Fleet,
    request: Option<LeaseRequest>,
}

#[wasm_bindgen(js_class = FleetLease)]
impl WasmFleet {
    /// Checks the settings (a `RangeError` names the first bad one) and builds the machine.
    #[wasm_bindgen(constructor)]
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        limit: f64,
        local_max: f64,
        block: f64,
        lease_ms: f64,
        margin_ms: f64,
        poll_ms: f64,
        request_timeout_ms: f64,
        fallback: f64,
        retry_ms: f64,
    ) -> Result<WasmFleet, JsValue> {
        let config = FleetConfig {
            limit: count("limit", limit, 1)?,
            local_max: count("maxConnections", local_max, 1)?,
            block: count("block", block, 1)?,
            lease: millis("leaseMs", lease_ms)?,
            margin: millis("marginMs", margin_ms)?,
            poll: millis("pollMs", poll_ms)?,
            request_timeout: millis("requestTimeoutMs", request_timeout_ms)?,
            fallback: count("fallbackMaxConnections", fallback, 0)?,
            retry: millis("retryMs", retry_ms)?,
        }
        .validate()
        .map_err(|e| range(&e.0))?;
        Ok(WasmFleet {
            inner: Fleet::new(config),
            request: None,
        })
    }

    /// Records the gate's demand and returns the slots the gate may use now.
    pub fn sync(&mut self, now: f64, active: f64, queued: f64) -> f64 {
        let now = instant_of(now);
        self.inner
            .set_demand(now, active.max(0.0) as u32, queued.max(0.0) as u32);
        f64::from(self.inner.usable(now))
    }

    /// Slots the gate may use at `now`.
    pub fn usable(&self, now: f64) -> f64 {
        f64::from(self.inner.usable(instant_of(now)))
    }

    /// Whether a request is due now; if so, read it from `requestSeq`, `requestWant` and
    /// `requestWaiting` and send it.
    #[wasm_bindgen(js_name = pollRequest)]
    pub fn poll_request(&mut self, now: f64) -> bool {
        self.request = self.inner.poll_request(instant_of(now));
        self.request.is_some()
    }

    /// Sequence number of the request returned by the last `pollRequest`.
    #[wasm_bindgen(getter, js_name = requestSeq)]
    pub fn request_seq(&self) -> f64 {
        self.request.map_or(0.0, |r| r.seq as f64)
    }

    /// Slots wanted by the last request.
    #[wasm_bindgen(getter, js_name = requestWant)]
    pub fn request_want(&self) -> f64 {
        self.request.map_or(0.0, |r| f64::from(r.want))
    }

    /// Whether callers wait (the instance queues in the store).
    #[wasm_bindgen(getter, js_name = requestWaiting)]
    pub fn request_waiting(&self) -> bool {
        self.request.is_some_and(|r| r.waiting)
    }

    /// The store's answer to request `seq`, as the script returned it.
    #[wasm_bindgen(js_name = onReply)]
    pub fn on_reply(
        &mut self,
        now: f64,
        seq: f64,
        held: f64,
        ttl_ms: f64,
        others_waiting: f64,
        instances: f64,
    ) {
        let n = |v: f64| {
            if v.is_finite() && v > 0.0 {
                v as u32
            } else {
                0
            }
        };
        let ttl = if ttl_ms.is_finite() && ttl_ms > 0.0 {
            Duration::from_millis_f64(ttl_ms)
        } else {
            Duration::ZERO
        };
        self.inner.on_reply(
            instant_of(now),
            LeaseReply {
                seq: seq.max(0.0) as u64,
                held: n(held),
                ttl,
                others_waiting: n(others_waiting),
                instances: n(instances),
            },
        );
    }

    /// Request `seq` failed (the store threw or could not be reached).
    #[wasm_bindgen(js_name = onFailure)]
    pub fn on_failure(&mut self, now: f64, seq: f64) {
        self.inner.on_failure(instant_of(now), seq.max(0.0) as u64);
    }

    /// Fires what is due (a request timed out, a lease lapsed).
    #[wasm_bindgen(js_name = handleTimeout)]
    pub fn handle_timeout(&mut self, now: f64) {
        self.inner.handle_timeout(instant_of(now));
    }

    /// When to call `handleTimeout` / `pollRequest` next (ms; `Infinity`: no timer).
    #[wasm_bindgen(js_name = pollTimeout)]
    pub fn poll_timeout(&self) -> f64 {
        ms_of(self.inner.poll_timeout())
    }

    /// From now on holds only what running operations need, then nothing.
    pub fn close(&mut self, now: f64) {
        self.inner.close(instant_of(now));
    }

    /// `{ mode, held, usable, requests, failures, fallbacks, othersWaiting, instances }`.
    pub fn stats(&self, now: f64) -> Result<JsValue, JsValue> {
        let s = self.inner.stats(instant_of(now));
        let o = js_sys::Object::new();
        let mode = match s.mode {
            FleetMode::Joining => "joining",
            FleetMode::Leased => "leased",
            FleetMode::Fallback => "fallback",
        };
        let set = |k: &str, v: JsValue| js_sys::Reflect::set(&o, &JsValue::from_str(k), &v);
        set("mode", JsValue::from_str(mode))?;
        set("held", f64::from(s.held).into())?;
        set("usable", f64::from(s.usable).into())?;
        set("requests", (s.requests as f64).into())?;
        set("failures", (s.failures as f64).into())?;
        set("fallbacks", (s.fallbacks as f64).into())?;
        set("othersWaiting", f64::from(s.others_waiting).into())?;
        set("instances", f64::from(s.instances).into())?;
        Ok(o.into())
    }
}

#[wasm_bindgen(js_class = Gate)]
impl WasmGate {
    /// Lets the gate use at most `limit` slots of a fleet lease (`-1`: no fleet limit).
    #[wasm_bindgen(js_name = setFleetLimit)]
    pub fn set_fleet_limit(&mut self, now: f64, limit: f64) {
        let limit = (limit >= 0.0).then(|| limit.min(f64::from(u32::MAX)) as u32);
        self.inner.set_fleet_limit(instant_of(now), limit);
    }
}
