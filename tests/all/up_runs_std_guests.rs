//! `ente up` runs Entes built on Rust's `std` that print, sleep and open
//! files (they call wasmtime-wasi's synchronous paths, which must never run
//! inside the host's own event loop).

use crate::fixture::{ROOT, digest_of_guest};
use crate::support::{Up, text};

#[test]
fn std_guests_that_print_and_open_files_run_under_ente_up() {
    let home = tempfile::tempdir().expect("home");
    let ente = |id: &str, label: &str, guest: &str, requires: serde_json::Value| {
        serde_json::json!({
            "id": id, "lineage": ROOT, "label": label, "provides": [], "requires": requires, "soma": {},
            "payload": {"kind": "Wasm", "module_blake3": digest_of_guest(guest), "entry": "ente:core/lifecycle"},
            "supervision": {"kind": "OneShot"}
        })
    };
    let seed = serde_json::json!({
        "id": ROOT, "label": "std", "provides": [{"kind": "Journal"}, {"kind": "FilesystemRoot"}],
        "soma": {}, "payload": {"kind": "Virtual"}, "supervision": {"kind": "OneShot"},
        "genesis": [
            ente("01J000000000000000000000C1", "chatty", "chatty", serde_json::json!([{"kind": "Journal"}])),
            ente("01J000000000000000000000D1", "diary", "diary", serde_json::json!([{"kind": "FilesystemRoot"}])),
        ]
    });
    let file = home.path().join("seed.json");
    std::fs::write(&file, serde_json::to_vec(&seed).expect("json")).expect("write");
    let mut up = Up::start(home.path(), &file);
    up.wait_for("[chatty] info: hello on stdout");
    up.wait_for("[chatty] warn: careful on stderr");
    up.wait_for("[diary] info: diary holds 1 line(s)");
    up.wait_for("[diary] info: nothing outside its directory was reachable");
    up.wait_for("graph settled: 2 of 2 Entes ready");
    let (code, lines) = up.terminate();
    assert_eq!(code, Some(0), "{}", lines.join("\n"));
    let _ = text;
}
