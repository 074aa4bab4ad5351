//! Core errors as the JavaScript errors a user expects: bad values are `RangeError`s whose
//! message names the option, its accepted range and the value given.

use poolgate_core::ConfigError;
use wasm_bindgen::JsValue;

/// A configuration error as a JavaScript `RangeError`. Numbers are printed by JavaScript
/// (`String(value)`), exactly as the user would see them, and Rust's float printing stays out of
/// the `.wasm`.
pub fn range_error(e: ConfigError) -> JsValue {
    js_sys::RangeError::new(&e.message_with(js_number)).into()
}

fn js_number(v: f64) -> String {
    js_sys::Number::from(v)
        .to_string_with_radix(10)
        .map(String::from)
        .unwrap_or_else(|_| String::from("?"))
}
