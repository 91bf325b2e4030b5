//! The mediator is a component and the one authority over calls: a call the
//! caller's card does not declare is denied, and the mediator's reason
//! reaches the caller.

use crate::support;

use crate::support::{ECHO, seed_with, wasm_card};
use serde_json::json;

const WHOAMI_IFACE: &str = "77686f616d692d656e64706f696e7431";

#[test]
fn an_undeclared_call_is_denied_and_the_reason_reaches_the_caller() {
    let root = "01J00000000000000000000R00";
    let echo_iface = ECHO.split('@').next().expect("iface");
    // The client requires whoami (so it is linked with the bus) but calls echo.
    let seed = seed_with(
        root,
        vec![
            wasm_card(
                "01J000000000000000000000EC",
                root,
                "echo",
                "echo",
                json!([{"kind": "Endpoint", "endpoint_interface": echo_iface, "endpoint_version": 1}]),
                json!([{"kind": "Journal"}]),
                json!([]),
            ),
            wasm_card(
                "01J000000000000000000000WH",
                root,
                "whoami",
                "whoami",
                json!([{"kind": "Endpoint", "endpoint_interface": WHOAMI_IFACE, "endpoint_version": 1}]),
                json!([]),
                json!([]),
            ),
            wasm_card(
                "01J000000000000000000000C1",
                root,
                "client",
                "client",
                json!([]),
                json!([{"kind": "Journal"}, {"kind": "Endpoint", "endpoint_interface": WHOAMI_IFACE, "endpoint_version": 1}]),
                json!([]),
            ),
        ],
    );
    let dir = tempfile::tempdir().expect("dir");
    let file = dir.path().join("seed.json");
    std::fs::write(&file, serde_json::to_vec_pretty(&seed).expect("json")).expect("write");
    let mut up = support::Up::start(dir.path(), &file);
    let failed = up.wait_for("client: failed");
    assert!(failed.contains("Denied"), "{failed}");
    assert!(
        failed.contains(&format!(
            "`client` does not require Endpoint {ECHO} in its card"
        )),
        "{failed}"
    );
    let (code, lines) = up.terminate();
    assert_eq!(code, Some(0), "{}", lines.join("\n"));
}

#[test]
fn the_host_stamps_the_callers_id() {
    let root = "01J00000000000000000000R01";
    let client_id = "01J000000000000000000000C2";
    let whoami =
        json!([{"kind": "Endpoint", "endpoint_interface": WHOAMI_IFACE, "endpoint_version": 1}]);
    let seed = seed_with(
        root,
        vec![
            wasm_card(
                "01J000000000000000000000W2",
                root,
                "whoami",
                "whoami",
                whoami.clone(),
                json!([]),
                json!([]),
            ),
            wasm_card(
                client_id,
                root,
                "client",
                "client",
                json!([]),
                json!([{"kind": "Journal"}, whoami[0]]),
                json!([{"TARGET": format!("{WHOAMI_IFACE}@1")}, {"GREETING": "I am the mediator"}]),
            ),
        ],
    );
    let dir = tempfile::tempdir().expect("dir");
    let file = dir.path().join("seed.json");
    std::fs::write(&file, serde_json::to_vec_pretty(&seed).expect("json")).expect("write");
    let mut up = support::Up::start(dir.path(), &file);
    // whoami replies with the `from` the host stamped: the client's card id,
    // whatever the client claims in its body.
    up.wait_for(&format!("[client] info: reply: {client_id}"));
    let (code, _) = up.terminate();
    assert_eq!(code, Some(0));
}
