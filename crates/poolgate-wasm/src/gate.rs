//! The gate as a JavaScript class.

use crate::codes::{
    deadline_of, event_to_f64, instant_of, rejected_to_f64, submitted_to_f64, ticket_from_f64,
    ticket_to_f64,
};
use crate::errors::range_error;
use crate::metrics::metrics_to_js;
use poolgate_core::config::millis_option;
use poolgate_core::{
    Cancelled, Event, Gate, Instant, OperationTimeout, RawConfig, Released, Request, TicketError,
};
use wasm_bindgen::prelude::*;

/// A pool gate. Every method that takes `now` expects milliseconds from one monotonic clock
/// (`performance.now()`). After each such call, drain `pollEvent()` and re-arm one timer at
/// `pollTimeout()`.
#[wasm_bindgen(js_name = Gate)]
pub struct WasmGate {
    pub(crate) inner: Gate,
    /// Wait time of the last `QueueTimeout` event returned by `pollEvent`.
    last_waited_ms: f64,
}

#[wasm_bindgen(js_class = Gate)]
impl WasmGate {
    /// Validates the options (`undefined` keeps a default) and builds a gate; throws a
    /// `RangeError` naming the first bad option.
    #[wasm_bindgen(constructor)]
    pub fn new(
        max_connections: Option<f64>,
        max_queue: Option<f64>,
        queue_timeout_ms: Option<f64>,
        operation_timeout_ms: Option<f64>,
        release_on_timeout: Option<bool>,
    ) -> Result<WasmGate, JsValue> {
        let raw = RawConfig {
            max_connections,
            max_queue,
            queue_timeout_ms,
            operation_timeout_ms,
            release_on_timeout,
        };
        let inner = Gate::from_raw(&raw).map_err(range_error)?;
        Ok(WasmGate {
            inner,
            last_waited_ms: 0.0,
        })
    }

    /// Asks for a slot with the pool's defaults. Returns the ticket when granted at once,
    /// `ticket + 2^48` when queued, or a negative refusal code (-1 full, -2 cannot wait,
    /// -3 closed).
    pub fn submit(&mut self, now: f64) -> f64 {
        submitted_to_f64(self.inner.submit(instant_of(now), Request::default()))
    }

    /// Like `submit`, with a per-call operation timeout (`NaN` for the pool's, `Infinity` for
    /// none) and an overall deadline (`Infinity` for none). Throws a `RangeError` for a bad
    /// timeout.
    #[wasm_bindgen(js_name = submitWith)]
    pub fn submit_with(
        &mut self,
        now: f64,
        timeout_ms: f64,
        deadline: f64,
    ) -> Result<f64, JsValue> {
        let operation_timeout = if timeout_ms.is_nan() {
            OperationTimeout::PoolDefault
        } else {
            match millis_option("timeoutMs", timeout_ms, 1.0).map_err(range_error)? {
                Some(d) => OperationTimeout::After(d),
                None => OperationTimeout::Never,
            }
        };
        let deadline = deadline_of(deadline);
        let request = Request {
            operation_timeout,
            deadline,
        };
        Ok(submitted_to_f64(
            self.inner.submit(instant_of(now), request),
        ))
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
    /// deadline change); `false`, nothing changed, when someone waits: call `releaseUntimed`.
    #[wasm_bindgen(js_name = tryRelease)]
    pub fn try_release(&mut self, ok: bool) -> bool {
        self.inner.try_release(ok)
    }

    /// Gives back a `tryAcquire` slot at `now`, handing it to the oldest waiter; drain events
    /// and re-arm afterwards. `false` when no such slot is held.
    #[wasm_bindgen(js_name = releaseUntimed)]
    pub fn release_untimed(&mut self, now: f64, ok: bool) -> bool {
        self.inner.release_untimed(instant_of(now), ok)
    }

    /// Reports that a granted operation settled. Returns 0 (caller still waiting), 1 (it was a
    /// zombie), 2 (slot already freed at its timeout), -1 (unknown ticket), -2 (not holding).
    pub fn release(&mut self, now: f64, ticket: f64, ok: bool) -> i32 {
        match self
            .inner
            .release(instant_of(now), ticket_from_f64(ticket), ok)
        {
            Ok(Released::Completed) => 0,
            Ok(Released::Zombie) => 1,
            Ok(Released::Detached) => 2,
            Err(TicketError::Unknown) => -1,
            Err(TicketError::NotHeld) => -2,
        }
    }

    /// The caller gave up. Returns 0 (removed from the queue or back-off), 1 (was running: now
    /// a zombie until released), 2 (already settled), -1 (unknown ticket).
    pub fn cancel(&mut self, now: f64, ticket: f64) -> i32 {
        match self.inner.cancel(instant_of(now), ticket_from_f64(ticket)) {
            Ok(Cancelled::Removed) => 0,
            Ok(Cancelled::Detached) => 1,
            Ok(Cancelled::AlreadySettled) => 2,
            Err(_) => -1,
        }
    }

    /// Registers a retry back-off ending at `wakeAt` (ms). Returns its ticket, or -3 when closed.
    #[wasm_bindgen(js_name = scheduleRetry)]
    pub fn schedule_retry(&mut self, now: f64, wake_at: f64) -> f64 {
        match self
            .inner
            .schedule_retry(instant_of(now), instant_of(wake_at))
        {
            Ok(t) => ticket_to_f64(t),
            Err(e) => rejected_to_f64(e),
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

    /// The next event as `kind * 2^48 + ticket` (kinds: 1 granted, 2 queue timeout,
    /// 3 operation timeout, 4 woken, 5 closed), or 0 when there is none.
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

    /// The current limit.
    #[wasm_bindgen(getter, js_name = maxConnections)]
    pub fn max_connections(&self) -> u32 {
        self.inner.stats().max_connections
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
        self.inner.config().max_queue
    }

    /// Whether operations have a timeout by default (`operationTimeoutMs` finite). Without one
    /// an uncontended call can take the clock-free `tryAcquire` path.
    #[wasm_bindgen(getter, js_name = hasOperationTimeout)]
    pub fn has_operation_timeout(&self) -> bool {
        self.inner.config().operation_timeout.is_some()
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
