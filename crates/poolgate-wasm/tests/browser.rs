//! The bindings' tests (`tests/node.rs`) run again inside a real browser, Chromium by
//! `wasm-pack test --headless --chrome --chromedriver /usr/bin/chromedriver crates/poolgate-wasm`
//! (`scripts/test-runtimes` runs it). Same cases, compiled into a browser test crate, so the
//! two runs cannot drift apart; under `--node` this crate is skipped and `node.rs` runs.

#![cfg(target_arch = "wasm32")]

wasm_bindgen_test::wasm_bindgen_test_configure!(run_in_browser);

#[path = "node.rs"]
mod node_cases;
