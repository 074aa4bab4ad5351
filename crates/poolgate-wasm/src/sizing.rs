//! The fleet sizing of `poolgate doctor` for JavaScript (`sizeFleet` in pkg/src/sizing.js).

use crate::errors::range_error;
use poolgate_core::sizing::{size_fleet, RawSizing};
use wasm_bindgen::prelude::*;

/// Sizes a fleet: `[usable, headroom, perInstance, fleetTotal, pgPoolMax, connectTimeoutMs,
/// queueTimeoutMs]`. `undefined` keeps a default. A value out of range, or a fleet that cannot
/// fit, throws a `RangeError` saying why.
#[wasm_bindgen(js_name = sizeFleet)]
pub fn size_fleet_js(
    limit: f64,
    reserved: Option<f64>,
    others: Option<f64>,
    instances: Option<f64>,
    margin_percent: Option<f64>,
    min_headroom: Option<f64>,
    queue_timeout_ms: Option<f64>,
) -> Result<Vec<u32>, JsValue> {
    let input = RawSizing {
        limit,
        reserved,
        others,
        instances,
        margin_percent,
        min_headroom,
        queue_timeout_ms,
    }
    .validate()
    .map_err(range_error)?;
    let s =
        size_fleet(input).map_err(|e| JsValue::from(js_sys::RangeError::new(&e.to_string())))?;
    Ok(vec![
        s.usable,
        s.headroom,
        s.per_instance,
        s.fleet_total,
        s.pg_pool_max,
        s.connect_timeout_ms,
        s.queue_timeout_ms,
    ])
}
