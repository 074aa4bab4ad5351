//! The gate as a JavaScript class.

use crate::codes::{event_to_f64, instant_of, submitted_to_f64, ticket_from_f64};
use crate::errors::range_error;
use crate::metrics::metrics_to_js;
use crate::options::{raw_config, raw_retry_policy};
use poolgate_core::config::millis_option;
use poolgate_core::protocol::{self, release};
use poolgate_core::{
    Event, Gate, Instant, OperationTimeout, Outcome, Rejected, Request, RetryPolicy, RetryPolicyId,
};
use wasm_bindgen::prelude::*;

/// A pool gate. Every method that takes `now` expects milliseconds from one monotonic clock
/// (`performance.now()`). After each such call, drain `pollEvent()` and re-arm one timer at
/// `pollTimeout()`. Numeric answers are the codes of `protocol.js`.
#[wasm_bindgen(js_name = Gate)]
pub struct WasmGate {
    pub(crate) inner: Gate,
    /// Wait time of the last `QueueTimeout` event returned by `pollEvent`.
    last_waited_ms: f64,
    /// Predicted wait of the last early rejection.
    last_predicted_ms: f64,
}

#[wasm_bindgen(js_class = Gate)]
impl WasmGate {
    /// Builds a gate from the pool options object (`undefined` keeps every default); throws a
    /// `RangeError` naming the first bad option.
    #[wasm_bindgen(constructor)]
    pub fn new(options: &JsValue) -> Result<WasmGate, JsValue> {
        let inner = Gate::from_raw(&raw_config(options)).map_err(range_error)?;
        Ok(WasmGate {
            inner,
            last_waited_ms: 0.0,
            last_predicted_ms: 0.0,
        })
    }

    /// Validates retry options (`{ maxRetries, delay, maxDelayMs, jitter, deadlineMs,
    /// loginLockoutMs }`, `undefined` keeps each default) and registers them; returns the id to
    /// pass to `submitWith`. Equal settings get the same id. Throws a `RangeError`.
    #[wasm_bindgen(js_name = registerRetryPolicy)]
    pub fn register_retry_policy(&mut self, options: &JsValue) -> Result<u16, JsValue> {
        let policy = RetryPolicy::from_raw(&raw_retry_policy(options)).map_err(range_error)?;
        self.inner
            .register_retry_policy(policy)
            .map(RetryPolicyId::to_u16)
            .map_err(range_error)
    }

    /// Asks for a slot with the pool's defaults. Returns `kind * 2^48 + ticket` (`SUBMITTED`
    /// kinds) or a negative `REFUSED` code.
    pub fn submit(&mut self, now: f64) -> f64 {
        let r = self.inner.submit(instant_of(now), Request::default());
        self.answer(r)
    }

    /// Like `submit`, with a per-call operation timeout (`NaN` for the pool's, `Infinity` for
    /// none), a retry policy id from `registerRetryPolicy` (0 for none) and whether the
    /// operation is idempotent. Throws a `RangeError` for a bad timeout.
    #[wasm_bindgen(js_name = submitWith)]
    pub fn submit_with(
        &mut self,
        now: f64,
        timeout_ms: f64,
        retry_policy: u16,
        idempotent: bool,
    ) -> Result<f64, JsValue> {
        let operation_timeout = if timeout_ms.is_nan() {
            OperationTimeout::PoolDefault
        } else {
            match millis_option("timeoutMs", timeout_ms, 1.0).map_err(range_error)? {
                Some(d) => OperationTimeout::After(d),
                None => OperationTimeout::Never,
            }
        };
        let request = Request {
            operation_timeout,
            deadline: None,
            retry: (retry_policy != 0).then(|| RetryPolicyId::from_u16(retry_policy)),
            idempotent,
        };
        let r = self.inner.submit(instant_of(now), request);
        Ok(self.answer(r))
    }

    fn answer(&mut self, r: Result<poolgate_core::Submitted, Rejected>) -> f64 {
        if let Err(Rejected::WouldTimeOut { predicted }) = r {
            self.last_predicted_ms = predicted.as_millis_f64();
        }
        submitted_to_f64(r)
    }

    /// The wait predicted for the last caller refused early, in ms.
    #[wasm_bindgen(js_name = lastPredictedMs)]
    pub fn last_predicted_ms(&self) -> f64 {
        self.last_predicted_ms
    }

    /// The clock-free fast path: takes a slot at once with no clock reading and returns `true`,
    /// or returns `false` (nothing changed) when the timed `submit` must be used: someone waits,
    /// no slot is free, the pool is closed, or it has a default operation timeout. The slot has
    /// no ticket, no deadline and no event; give it back with `tryRelease`.
    #[wasm_bindgen(js_name = tryAcquire)]
    pub fn try_acquire(&mut self) -> bool {
        self.inner.try_acquire()
    }

    /// Gives back a `tryAcquire` slot with no clock reading: `true` when done (no event, no
    /// deadline change); `false`, nothing changed, when someone waits: call `releaseClockFree`.
    #[wasm_bindgen(js_name = tryRelease)]
    pub fn try_release(&mut self, ok: bool) -> bool {
        self.inner.try_release(ok)
    }

    /// Gives back a `tryAcquire` slot at `now`, handing it to the oldest waiter; drain events
    /// and re-arm afterwards. `false` when no such slot is held.
    #[wasm_bindgen(js_name = releaseClockFree)]
    pub fn release_clock_free(&mut self, now: f64, ok: bool) -> bool {
        self.inner.release_clock_free(instant_of(now), ok)
    }

    /// Reports that a granted operation settled: `errorClass` is -1 for success, else an
    /// `ERROR_CLASS` code; `random` a sample in [0, 1) for the retry's jitter. Returns a
    /// `RELEASE` code: settle the caller, keep it (`RETRYING`: a `GRANTED` event restarts the
    /// operation), or reject it with the error (`GAVE_UP_*`).
    pub fn release(&mut self, now: f64, ticket: f64, error_class: i32, random: f64) -> i32 {
        // Negative is success; any other number is a failure, of an unknown (so permanent)
        // class when it is not an `ERROR_CLASS` code, however large.
        let outcome = if error_class < 0 {
            Outcome::Ok
        } else {
            Outcome::Failed(protocol::error_class_of(
                u8::try_from(error_class).unwrap_or(u8::MAX),
            ))
        };
        match self
            .inner
            .release_with(instant_of(now), ticket_from_f64(ticket), outcome, random)
        {
            Ok(r) => protocol::release_code(&r),
            Err(poolgate_core::TicketError::Unknown) => release::UNKNOWN_TICKET,
            Err(poolgate_core::TicketError::NotHeld) => release::NOT_HELD,
        }
    }

    /// The caller gave up. Returns a `CANCEL` code.
    pub fn cancel(&mut self, now: f64, ticket: f64) -> i32 {
        match self.inner.cancel(instant_of(now), ticket_from_f64(ticket)) {
            Ok(c) => protocol::cancel_code(&c),
            Err(_) => protocol::cancel::UNKNOWN_TICKET,
        }
    }

    /// Fires the deadlines that have passed.
    #[wasm_bindgen(js_name = handleTimeout)]
    pub fn handle_timeout(&mut self, now: f64) {
        self.inner.handle_timeout(instant_of(now));
    }

    /// When to call `handleTimeout` next, in ms; `Infinity` when nothing is pending.
    #[wasm_bindgen(js_name = pollTimeout)]
    pub fn poll_timeout(&mut self) -> f64 {
        self.inner
            .poll_timeout()
            .map_or(f64::INFINITY, Instant::as_millis_f64)
    }

    /// The next event as `kind * 2^48 + ticket` (`EVENT` kinds), or 0 when there is none.
    #[wasm_bindgen(js_name = pollEvent)]
    pub fn poll_event(&mut self) -> f64 {
        let event = self.inner.poll_event();
        if let Some(Event::QueueTimeout { waited, .. }) = event {
            self.last_waited_ms = waited.as_millis_f64();
        }
        event_to_f64(event)
    }

    /// How long the waiter of the last queue-timeout event waited, in ms.
    #[wasm_bindgen(js_name = lastWaitedMs)]
    pub fn last_waited_ms(&self) -> f64 {
        self.last_waited_ms
    }

    /// Changes `maxConnections`; throws a `RangeError` for a bad value (the pool is unchanged).
    #[wasm_bindgen(js_name = setMaxConnections)]
    pub fn set_max_connections(&mut self, now: f64, value: f64) -> Result<(), JsValue> {
        self.inner
            .set_max_connections(instant_of(now), value)
            .map_err(range_error)
    }

    /// Rejects every waiter and back-off (as events) and refuses new work.
    pub fn close(&mut self, now: f64) {
        self.inner.close(instant_of(now));
    }

    /// Slots held, zombies included.
    #[wasm_bindgen(getter)]
    pub fn active(&self) -> u32 {
        self.inner.stats().active_connections
    }

    /// `maxConnections` in force.
    #[wasm_bindgen(getter, js_name = maxConnections)]
    pub fn max_connections(&self) -> u32 {
        self.inner.stats().max_connections
    }

    /// The limit in force: `maxConnections`, or less while the adaptive limit is cut.
    #[wasm_bindgen(getter, js_name = effectiveLimit)]
    pub fn effective_limit(&self) -> u32 {
        self.inner.effective_limit()
    }

    /// Waiters in the queue.
    #[wasm_bindgen(getter)]
    pub fn queued(&self) -> u32 {
        self.inner.stats().queued_connections
    }

    /// Free slots.
    #[wasm_bindgen(getter)]
    pub fn available(&self) -> u32 {
        self.inner.stats().available_connections
    }

    /// The queue bound in force (`maxQueue`).
    #[wasm_bindgen(getter, js_name = maxQueue)]
    pub fn max_queue(&self) -> u32 {
        self.inner.config().max_queue()
    }

    /// Whether uncontended calls can take the clock-free `tryAcquire` path (the core's
    /// `clock_free_eligible`; `tryAcquire` refuses otherwise).
    #[wasm_bindgen(getter, js_name = clockFreeEligible)]
    pub fn clock_free_eligible(&self) -> bool {
        self.inner.clock_free_eligible()
    }

    /// Every total, gauge and percentile, as a plain object (times in ms).
    pub fn metrics(&self) -> Result<JsValue, JsValue> {
        metrics_to_js(&self.inner.metrics())
    }
}

/// Not exported to JavaScript: the invariant check formats the whole gate state, and that
/// formatting code would add several KB to every user's `.wasm`. The bindings' own tests call it.
impl WasmGate {
    /// Checks the gate's internal invariants; returns a description of the first one broken.
    pub fn check_invariants(&self) -> Option<String> {
        self.inner.check_invariants().err()
    }
}
