//! `pkg/src/protocol.js` is generated from `src/protocol.rs`: this test regenerates it and fails
//! when the checked-in copy differs (a code changed on one side only). Run with
//! `POOLGATE_BLESS=1` to rewrite the file after changing the Rust side.

use std::path::PathBuf;

#[test]
fn generated_js_protocol_module_is_up_to_date() {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../pkg/src/protocol.js");
    let expected = poolgate_core::protocol::js_module();
    if std::env::var_os("POOLGATE_BLESS").is_some() {
        std::fs::write(&path, &expected).expect("write pkg/src/protocol.js");
    }
    let actual = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        actual == expected,
        "pkg/src/protocol.js is stale: regenerate it with \
         `POOLGATE_BLESS=1 cargo test -p poolgate-core --test protocol`"
    );
}
