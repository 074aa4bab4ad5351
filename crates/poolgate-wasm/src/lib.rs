//! # poolgate-wasm
//!
//! The wasm-bindgen layer between the JavaScript package and [`poolgate_core`]. It converts
//! numbers and strings in, and packed numbers out, and decides nothing: every rule lives in the
//! core.
//!
//! The interface is shaped for a hot path that crosses the boundary once per event with plain
//! numbers (a call costs a few nanoseconds; an `await` through wasm-bindgen-futures costs
//! microseconds). Times are milliseconds as `performance.now()` gives them. Tickets and events
//! travel as one JavaScript number each; see [`codes`]. Nothing here can panic on any input:
//! a panic would poison the wasm instance for every pool in the process.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod alerts;
pub mod codes;
mod errors;
mod gate;
mod metrics;
mod options;
mod retry;
mod sizing;

pub use gate::WasmGate;
pub use retry::classify_error;
