//! Option records from JavaScript objects.
//!
//! The JavaScript layer has already checked the types (a `TypeError` naming the option); here
//! each known key is read as a number or a boolean, and the core validates the values.

use js_sys::Reflect;
use poolgate_core::{RawConfig, RawRetryPolicy};
use wasm_bindgen::JsValue;

fn get(obj: &JsValue, key: &str) -> JsValue {
    if !obj.is_object() {
        return JsValue::UNDEFINED;
    }
    Reflect::get(obj, &JsValue::from_str(key)).unwrap_or(JsValue::UNDEFINED)
}

fn number(obj: &JsValue, key: &str) -> Option<f64> {
    get(obj, key).as_f64()
}

fn boolean(obj: &JsValue, key: &str) -> Option<bool> {
    get(obj, key).as_bool()
}

/// `{ maxConnections, maxQueue, queueTimeoutMs, operationTimeoutMs, releaseOnTimeout,
/// adaptive, rejectEarly }`, where `adaptive` is `true` (floor 1) or `{ min }`.
pub fn raw_config(options: &JsValue) -> RawConfig {
    let adaptive = get(options, "adaptive");
    let adaptive_min = match adaptive.as_bool() {
        Some(true) => Some(1.0),
        Some(false) => None,
        None if adaptive.is_object() => Some(number(&adaptive, "min").unwrap_or(1.0)),
        None => None,
    };
    RawConfig {
        max_connections: number(options, "maxConnections"),
        max_queue: number(options, "maxQueue"),
        queue_timeout_ms: number(options, "queueTimeoutMs"),
        operation_timeout_ms: number(options, "operationTimeoutMs"),
        release_on_timeout: boolean(options, "releaseOnTimeout"),
        adaptive_min,
        reject_early: boolean(options, "rejectEarly"),
    }
}

/// `{ maxRetries, delay, maxDelayMs, jitter, deadlineMs, loginLockoutMs }`.
pub fn raw_retry_policy(options: &JsValue) -> RawRetryPolicy {
    RawRetryPolicy {
        max_retries: number(options, "maxRetries"),
        delay_ms: number(options, "delay"),
        max_delay_ms: number(options, "maxDelayMs"),
        jitter: number(options, "jitter"),
        deadline_ms: number(options, "deadlineMs"),
        login_lockout_ms: number(options, "loginLockoutMs"),
    }
}
