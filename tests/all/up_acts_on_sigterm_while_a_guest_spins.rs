//! The loop that handles signals never waits on guest code: a SIGTERM that
//! arrives while a guest spins is acted on at once, not after the guest's
//! deadline, and the spinning body is killed so that the stop completes.

use crate::fixture::{ROOT, digest_of_guest};
use crate::support::Up;
use std::time::{Duration, Instant};

#[test]
fn sigterm_is_acted_on_while_a_guest_spins_in_start() {
    let home = tempfile::tempdir().expect("home");
    let seed = serde_json::json!({
        "id": ROOT, "label": "spin", "provides": [{"kind": "Journal"}],
        "soma": {}, "payload": {"kind": "Virtual"}, "supervision": {"kind": "OneShot"},
        "genesis": [{
            "id": "01J000000000000000000000S1", "lineage": ROOT, "label": "spinner",
            "provides": [], "requires": [], "soma": {},
            "payload": {"kind": "Wasm", "module_blake3": digest_of_guest("hostile_infinite_loop"),
                        "entry": "ente:core/lifecycle", "envp": [{"WHERE": "start"}]},
            "supervision": {"kind": "OneShot"}
        }]
    });
    let file = home.path().join("seed.json");
    std::fs::write(&file, serde_json::to_vec(&seed).expect("json")).expect("write");
    // A minute of deadline: were the loop to wait on the guest, the stop
    // would come a minute late.
    let mut up = Up::start_with(
        home.path(),
        &file,
        &["--call-deadline", "60s", "--stop-grace", "100ms"],
    );
    up.wait_for(&format!("{:<16} starting", "spinner"));
    std::thread::sleep(Duration::from_millis(300));
    let t0 = Instant::now();
    up.signal_term();
    let acted = up.wait_for("SIGTERM: stopping every Ente");
    let acted_after = t0.elapsed();
    let status = up.wait_exit(Duration::from_secs(30));
    let exited_after = t0.elapsed();
    crate::fixture::contained("SIGTERM while a guest spins (acted on)", acted_after);
    crate::fixture::contained("SIGTERM while a guest spins (exited)", exited_after);
    assert!(acted.contains("SIGTERM"));
    assert!(
        status.is_some_and(|s| s.success()),
        "ente up did not exit cleanly long before the guest's 60 s deadline: {status:?}"
    );
}
