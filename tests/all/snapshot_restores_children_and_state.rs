//! `ente up` writes a snapshot at its orderly stop, and `ente up --restore`
//! brings the graph back: the child an Ente spawned at run time is there
//! again (its parent does not spawn it twice), an Ente's own state goes on
//! from where it was (`ente:core/snapshot`), restart counters go on, and
//! the audit chain records both runs and verifies. A damaged snapshot is
//! refused whole with its reason, and the graph starts from its seed. A
//! snapshot asked for on SIGUSR1, while the graph runs, survives the host
//! killed outright.

use crate::cards::{Ente, digest_of_guest, seed};
use crate::support::{Up, ente_in, text};
use std::path::Path;

const CHILD_ID: &str = "01J0000000000000000000KC01";

fn seed_file(home: &Path) -> std::path::PathBuf {
    let keeper = Ente::new("keeper", "keeper")
        .requires_cap(serde_json::json!({"kind": "Spawn"}))
        .restart(50, 500);
    let keeper = keeper
        .clone()
        .env("SELF", &keeper.id.to_string())
        .env("CHILD", &digest_of_guest("chatty"))
        .env("CHILD_ID", CHILD_ID);
    let crasher = Ente::new("crasher", "hostile_trap")
        .env("TRAP", "start")
        .restart(20, 40);
    let file = home.join("seed.json");
    let card = seed(&[keeper, crasher]);
    std::fs::write(&file, serde_json::to_vec(&card).expect("json")).expect("write seed");
    file
}

fn crasher_restarts(home: &Path) -> u32 {
    let snapshot = ente_state::file::read(home)
        .expect("a readable snapshot")
        .expect("a snapshot");
    let crasher = crate::cards::id_of("crasher").to_string();
    snapshot
        .entes
        .iter()
        .find(|e| e.id == crasher)
        .map_or(0, |e| e.restarts)
}

#[test]
fn a_restored_graph_has_its_spawned_child_its_state_and_its_counters() {
    let home = tempfile::tempdir().expect("home");
    let seed = seed_file(home.path());

    // First run: the keeper starts once and spawns its child.
    let mut up = Up::start(home.path(), &seed);
    up.wait_for("[keeper] info: start 1");
    up.wait_for("[keeper] info: spawned the child");
    up.wait_for("[kept-child]");
    up.wait_for("crasher: failed");
    let (code, lines) = up.terminate();
    assert_eq!(code, Some(0), "{}", lines.join("\n"));
    let all = lines.join("\n");
    assert!(all.contains("keeper: its state saved (21 bytes)"), "{all}");
    assert!(all.contains("snapshot written:"), "{all}");
    let first = crasher_restarts(home.path());
    assert!(first > 0, "the crasher was restarted:\n{all}");

    // Second run, restored: the count goes on, the child is back without
    // a second spawn, the crasher's restarts go on from the first run's.
    let mut up = Up::start_with(home.path(), &seed, &["--restore"]);
    up.wait_for("restored ");
    up.wait_for("[keeper] info: restored: 1 starts before");
    up.wait_for("keeper: its saved state handed back (21 bytes)");
    up.wait_for("[keeper] info: start 2");
    up.wait_for("[kept-child]");
    up.wait_for("crasher: failed");
    let (code, lines) = up.terminate();
    let all = lines.join("\n");
    assert_eq!(code, Some(0), "{all}");
    assert!(
        !all.contains("spawned the child"),
        "the keeper spawned again:\n{all}"
    );
    assert!(
        all.contains("kept-child: spawned"),
        "the child was not brought back:\n{all}"
    );
    assert!(
        crasher_restarts(home.path()) > first,
        "restarts did not go on from {first}:\n{all}"
    );

    // The audit chain holds both runs and the restore, and verifies.
    let out = ente_in(home.path(), &["audit", "verify"]);
    assert!(
        out.status.success(),
        "{}{}",
        text(&out.stdout),
        text(&out.stderr)
    );
    let out = ente_in(home.path(), &["audit", "tail", "-n", "100000", "--json"]);
    let tail = text(&out.stdout);
    let count = |kind: &str| {
        tail.lines()
            .filter(|l| l.contains(&format!("\"{kind}\"")))
            .count()
    };
    assert_eq!(count("SnapshotTaken"), 2, "{tail}");
    assert_eq!(count("Restored"), 1, "{tail}");

    // A flipped byte: refused whole, with its reason; a fresh start.
    let path = ente_state::file::path(home.path());
    let mut bytes = std::fs::read(&path).expect("snapshot");
    let last = bytes.len() - 1;
    bytes[last] ^= 0x40;
    std::fs::write(&path, &bytes).expect("damage");
    let mut up = Up::start_with(home.path(), &seed, &["--restore", "--no-snapshot"]);
    let refused = up.wait_for("the snapshot is refused");
    assert!(refused.contains("checksum"), "{refused}");
    up.wait_for("[keeper] info: start 1");
    up.wait_for("[keeper] info: spawned the child");
    let (code, lines) = up.terminate();
    assert_eq!(code, Some(0), "{}", lines.join("\n"));
    assert_eq!(
        std::fs::read(&path).expect("kept"),
        bytes,
        "--no-snapshot wrote one"
    );
    let out = ente_in(home.path(), &["audit", "tail", "-n", "100000", "--json"]);
    assert!(text(&out.stdout).contains("RestoreRefused"));
}

#[test]
fn a_snapshot_asked_for_while_running_survives_the_host_killed() {
    let home = tempfile::tempdir().expect("home");
    let seed = seed_file(home.path());
    let mut up = Up::start(home.path(), &seed);
    up.wait_for("[keeper] info: start 1");
    up.wait_for("[keeper] info: spawned the child");
    up.wait_for("[kept-child]");
    up.wait_for("crasher: failed");
    assert!(
        !ente_state::file::path(home.path()).exists(),
        "no snapshot before it is asked for"
    );
    let mark = up.mark();
    up.signal(nix::sys::signal::Signal::SIGUSR1);
    up.wait_after(
        mark,
        "a snapshot asked for (SIGUSR1): 1 Entes that keep state",
    );
    up.wait_after(mark, "keeper: its state saved (21 bytes)");
    up.wait_after(mark, "the snapshot's states are in");
    up.wait_after(mark, "snapshot written:");
    // The host is then killed: no orderly stop.
    drop(up);
    let kept = ente_state::file::read(home.path())
        .expect("readable")
        .expect("the snapshot asked for");
    assert_eq!(kept.spawned.len(), 1, "the child's card is in it");

    let mut up = Up::start_with(home.path(), &seed, &["--restore", "--no-snapshot"]);
    up.wait_for("restored ");
    up.wait_for("[keeper] info: restored: 1 starts before");
    up.wait_for("[keeper] info: start 2");
    up.wait_for("[kept-child]");
    let (code, lines) = up.terminate();
    let all = lines.join("\n");
    assert_eq!(code, Some(0), "{all}");
    assert!(!all.contains("spawned the child"), "spawned again:\n{all}");
    let out = ente_in(home.path(), &["audit", "verify"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
}

/// A snapshot whose spawned card passes its parent's checks but not the
/// graph's (a Virtual card whose child asks for what it lacks) is refused
/// before anything of it enters the table: the child never starts, not
/// even for a moment, though its parent being Virtual would let it. (Its
/// component, `diary`, would make its directory and write in it at once.)
#[test]
fn a_snapshot_card_the_graph_refuses_never_starts() {
    let home = tempfile::tempdir().expect("home");
    let seed = seed_file(home.path());
    let keeper = crate::cards::id_of("keeper").to_string();
    let group = "01J0000000000000000000GR01";
    let sneaky = serde_json::json!({
        "id": group, "lineage": keeper, "label": "group",
        "provides": [], "requires": [{"kind": "Journal"}], "soma": {},
        "payload": {"kind": "Virtual"}, "supervision": {"kind": "OneShot"},
        "genesis": [{
            "id": "01J0000000000000000000GR02", "lineage": group, "label": "sneaky",
            "provides": [], "requires": [{"kind": "Journal"}, {"kind": "FilesystemRoot"}, {"kind": "Spawn"}], "soma": {},
            "payload": {"kind": "Wasm", "module_blake3": digest_of_guest("diary"), "entry": "ente:core/lifecycle"},
            "supervision": {"kind": "OneShot"}
        }]
    });
    let snapshot = ente_state::Snapshot {
        seed: crate::cards::ROOT.into(),
        taken_ms: 1,
        spawned: vec![ente_state::Spawned {
            parent: keeper,
            card: sneaky.to_string(),
        }],
        ..ente_state::Snapshot::default()
    };
    ente_state::file::write(home.path(), &snapshot).expect("write");
    let mut up = Up::start_with(home.path(), &seed, &["--restore", "--no-snapshot"]);
    let refused = up.wait_for("the snapshot is refused");
    assert!(refused.contains("do not fit the graph"), "{refused}");
    up.wait_for("[keeper] info: start 1");
    up.wait_for("[kept-child]");
    let (code, lines) = up.terminate();
    let all = lines.join("\n");
    assert_eq!(code, Some(0), "{all}");
    let ran: Vec<&String> = lines
        .iter()
        .filter(|l| l.contains("sneaky") && !l.contains("the snapshot is refused"))
        .collect();
    assert!(ran.is_empty(), "the refused card's Ente was there:\n{all}");
    let its_dir = home.path().join("state").join("01J0000000000000000000GR02");
    assert!(!its_dir.exists(), "the refused Ente was incarnated");
}
