//! Error classification for JavaScript.

use poolgate_core::{classify, protocol};
use wasm_bindgen::prelude::*;

/// Classifies an error from the codes and messages gathered from it and its causes; returns an
/// `ERROR_CLASS` code of `protocol.js`.
#[wasm_bindgen(js_name = classifyError)]
pub fn classify_error(codes: Vec<String>, messages: Vec<String>) -> u8 {
    protocol::error_class_code(classify(
        codes.iter().map(String::as_str),
        messages.iter().map(String::as_str),
    ))
}
