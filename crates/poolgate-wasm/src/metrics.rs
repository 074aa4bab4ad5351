//! Metrics as a plain JavaScript object, through serde-wasm-bindgen.

use poolgate_core::{Metrics, Percentiles};
use serde::Serialize;
use wasm_bindgen::JsValue;

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct PercentilesJs {
    count: f64,
    p50_ms: f64,
    p95_ms: f64,
    p99_ms: f64,
    max_ms: f64,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct MetricsJs {
    submitted: f64,
    granted: f64,
    succeeded: f64,
    failed: f64,
    rejected_full: f64,
    queue_timeouts: f64,
    operation_timeouts: f64,
    aborted: f64,
    rejected_closed: f64,
    retries: f64,
    rejected_early: f64,
    too_many_connections: f64,
    limit_cuts: f64,
    effective_limit: u32,
    predicted_wait_ms: Option<f64>,
    zombies: u32,
    sleeping: u32,
    peak_active: u32,
    peak_queued: u32,
    closed: bool,
    wait: PercentilesJs,
    hold: PercentilesJs,
}

fn percentiles(p: &Percentiles) -> PercentilesJs {
    PercentilesJs {
        count: p.count as f64,
        p50_ms: p.p50.as_millis_f64(),
        p95_ms: p.p95.as_millis_f64(),
        p99_ms: p.p99.as_millis_f64(),
        max_ms: p.max.as_millis_f64(),
    }
}

/// Converts metrics to an object with camelCase keys; counters become plain numbers.
pub fn metrics_to_js(m: &Metrics) -> Result<JsValue, JsValue> {
    let js = MetricsJs {
        submitted: m.submitted as f64,
        granted: m.granted as f64,
        succeeded: m.succeeded as f64,
        failed: m.failed as f64,
        rejected_full: m.rejected_full as f64,
        queue_timeouts: m.queue_timeouts as f64,
        operation_timeouts: m.operation_timeouts as f64,
        aborted: m.aborted as f64,
        rejected_closed: m.rejected_closed as f64,
        retries: m.retries as f64,
        rejected_early: m.rejected_early as f64,
        too_many_connections: m.too_many_connections as f64,
        limit_cuts: m.limit_cuts as f64,
        effective_limit: m.effective_limit,
        predicted_wait_ms: m.predicted_wait.map(|d| d.as_millis_f64()),
        zombies: m.zombies,
        sleeping: m.sleeping,
        peak_active: m.peak_active,
        peak_queued: m.peak_queued,
        closed: m.closed,
        wait: percentiles(&m.wait),
        hold: percentiles(&m.hold),
    };
    serde_wasm_bindgen::to_value(&js).map_err(JsValue::from)
}
