//! Retry policy and error classification for JavaScript.

use crate::codes::{deadline_of, instant_of};
use crate::errors::range_error;
use poolgate_core::{classify, ErrorClass, RetryDecision, RetryPolicy};
use wasm_bindgen::prelude::*;

/// A validated retry policy (linear back-off, optional cap and jitter).
#[wasm_bindgen(js_name = RetryPolicy)]
pub struct WasmRetryPolicy {
    inner: RetryPolicy,
}

#[wasm_bindgen(js_class = RetryPolicy)]
impl WasmRetryPolicy {
    /// Validates the options (`undefined` keeps a default: 3 retries, 1000 ms, no cap, no
    /// jitter); throws a `RangeError` naming the first bad one.
    #[wasm_bindgen(constructor)]
    pub fn new(
        max_retries: Option<f64>,
        delay_ms: Option<f64>,
        max_delay_ms: Option<f64>,
        jitter: Option<f64>,
    ) -> Result<WasmRetryPolicy, JsValue> {
        RetryPolicy::from_raw(max_retries, delay_ms, max_delay_ms, jitter)
            .map(|inner| WasmRetryPolicy { inner })
            .map_err(range_error)
    }

    /// After the `failedAttempts`-th failure of an error of class `errorClass` (from
    /// `classifyError`): the time in ms at which to retry, or a negative give-up code
    /// (-1 not retryable, -2 a write that may have run, -3 retries used up, -4 deadline).
    /// `deadline` is `Infinity` for none; `random` is a sample in [0, 1).
    pub fn decide(
        &self,
        failed_attempts: u32,
        error_class: u8,
        idempotent: bool,
        now: f64,
        deadline: f64,
        random: f64,
    ) -> f64 {
        let class = ErrorClass::from_code(error_class);
        let deadline = deadline_of(deadline);
        let now = instant_of(now);
        match self
            .inner
            .decide(failed_attempts, class, idempotent, now, deadline, random)
        {
            RetryDecision::RetryAt(at) => at.as_millis_f64(),
            RetryDecision::GiveUp(why) => -f64::from(why.code()),
        }
    }

    /// `maxRetries` in force.
    #[wasm_bindgen(getter, js_name = maxRetries)]
    pub fn max_retries(&self) -> u32 {
        self.inner.max_retries
    }
}

/// Classifies an error from the codes and messages gathered from it and its causes:
/// 0 permanent (never retried), 1 connection failure before the statement reached the server,
/// 2 connection failure after it may have.
#[wasm_bindgen(js_name = classifyError)]
pub fn classify_error(codes: Vec<String>, messages: Vec<String>) -> u8 {
    classify(
        codes.iter().map(String::as_str),
        messages.iter().map(String::as_str),
    )
    .code()
}
