//! `ente up` writes every authority decision to the audit chain under its
//! home: leases, deaths, restarts, stops. The chain verifies and continues
//! across runs; a flipped byte is named by `ente audit verify`, and the next
//! `ente up` starts a chain that records the break (nothing repaired).

use crate::support::{Up, ente_in, repo, text};

fn up_once(home: &std::path::Path) {
    let mut up = Up::start(home, &repo("cards/demo.json"));
    up.wait_for("[client] info: reply: hello from the demo");
    up.wait_for("flaky: backing off: restart 1");
    let (code, lines) = up.terminate();
    assert_eq!(code, Some(0), "{}", lines.join("\n"));
}

fn audit(home: &std::path::Path, args: &[&str]) -> (bool, String) {
    let mut all = vec!["audit"];
    all.extend_from_slice(args);
    let out = ente_in(home, &all);
    (out.status.success(), text(&out.stdout) + &text(&out.stderr))
}

#[test]
fn the_audit_chain_records_decisions_verifies_across_runs_and_names_tampering() {
    let home = tempfile::tempdir().expect("home");
    up_once(home.path());
    let (ok, first) = audit(home.path(), &["verify"]);
    assert!(ok, "{first}");
    let (ok, tail) = audit(home.path(), &["tail", "-n", "1000", "--json"]);
    assert!(ok, "{tail}");
    let entries: Vec<serde_json::Value> = tail
        .lines()
        .map(|l| serde_json::from_str(l).expect("a JSON entry"))
        .collect();
    let has = |kind: &str| entries.iter().any(|e| e["decision"].get(kind).is_some());
    for kind in [
        "LeaseGranted",
        "Died",
        "Restarting",
        "Stopped",
        "Failed",
        "StartRefused",
    ] {
        assert!(has(kind), "no {kind} in:\n{tail}");
    }
    let first_seq = entries.last().and_then(|e| e["seq"].as_u64()).expect("seq");

    // A second run continues the same chain.
    up_once(home.path());
    let (ok, second) = audit(home.path(), &["verify"]);
    assert!(ok, "{second}");
    let (_, tail) = audit(home.path(), &["tail", "-n", "1", "--json"]);
    let last: serde_json::Value = serde_json::from_str(tail.trim()).expect("entry");
    assert!(last["seq"].as_u64().expect("seq") > first_seq, "{tail}");

    // Held to its key: the stored public key, given explicitly.
    let key = std::fs::read_to_string(home.path().join("audit/key.pub")).expect("key");
    let (ok, out) = audit(home.path(), &["verify", "--public-key", key.trim()]);
    assert!(ok && out.contains("(the key given)"), "{out}");
    let other = "00".repeat(31) + "01";
    let (ok, out) = audit(home.path(), &["verify", "--public-key", &other]);
    assert!(!ok, "{out}");

    // A flipped byte in the head: named, and the next run records the break.
    let head = home.path().join("audit/head");
    let mut bytes = std::fs::read(&head).expect("head");
    bytes[3] ^= 0x40;
    std::fs::write(&head, &bytes).expect("write");
    let (ok, out) = audit(home.path(), &["verify"]);
    assert!(!ok && out.contains("BROKEN"), "{out}");
    up_once(home.path());
    let (ok, out) = audit(home.path(), &["verify"]);
    assert!(ok, "{out}");
    assert!(
        out.contains("began after the previous one was found broken"),
        "{out}"
    );
}
