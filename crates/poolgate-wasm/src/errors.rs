//! Core errors as the JavaScript errors a user expects: bad values are `RangeError`s whose
//! message names the option, its accepted range and the value given.

use poolgate_core::ConfigError;
use wasm_bindgen::JsValue;

/// A configuration error as a JavaScript `RangeError`.
pub fn range_error(e: ConfigError) -> JsValue {
    js_sys::RangeError::new(&e.to_string()).into()
}
