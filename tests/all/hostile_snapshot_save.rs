//! Hostile `ente:core/snapshot`: an Ente whose `save` returns more than an
//! Ente's state may hold, one whose `save` never returns, and saved bytes
//! an Ente refuses at restore. The host stays up and stops in time, the
//! snapshot is still written with the other Entes' state, and each is an
//! event naming its cause.

use crate::cards::{Ente, digest_of_guest, seed};
use crate::support::Up;
use ente_state::{Saved, file};

fn keeper(label: &str, child_id: &str, save: &str) -> Ente {
    let k = Ente::new(label, "keeper")
        .requires_cap(serde_json::json!({"kind": "Spawn"}))
        .restart(50, 500);
    k.clone()
        .env("SELF", &k.id.to_string())
        .env("CHILD", &digest_of_guest("chatty"))
        .env("CHILD_ID", child_id)
        .env("SAVE", save)
}

/// A seed of three keepers, one plain, one whose `save` returns too much,
/// one whose `save` never returns; its path.
fn three_keepers(home: &std::path::Path) -> std::path::PathBuf {
    let seed_card = seed(&[
        keeper("plain", "01J0000000000000000000KC01", "plain"),
        keeper("huge", "01J0000000000000000000KC02", "huge"),
        keeper("looper", "01J0000000000000000000KC03", "loop"),
    ]);
    let seed_path = home.join("seed.json");
    std::fs::write(&seed_path, serde_json::to_vec(&seed_card).expect("json")).expect("seed");
    seed_path
}

#[test]
fn a_hostile_save_or_restore_is_an_event_and_the_rest_is_kept() {
    let home = tempfile::tempdir().expect("home");
    let seed_path = three_keepers(home.path());

    let mut up = Up::start_with(home.path(), &seed_path, &["--call-deadline", "1s"]);
    up.wait_for("[plain] info: start 1");
    up.wait_for("[huge] info: start 1");
    up.wait_for("[looper] info: start 1");
    up.wait_for("graph settled");
    let t0 = std::time::Instant::now();
    let (code, lines) = up.terminate();
    let stopped_in = t0.elapsed();
    let all = lines.join("\n");
    assert_eq!(code, Some(0), "{all}");
    assert!(
        all.contains("huge: its state NOT saved: snapshot.save returned 2097152 bytes, more than an Ente's state may hold (1048576)"),
        "{all}"
    );
    assert!(
        all.contains("looper: its state NOT saved: snapshot.save broke:"),
        "{all}"
    );
    assert!(all.contains("plain: its state saved (21 bytes)"), "{all}");
    assert!(all.contains("snapshot written:"), "{all}");
    println!("contained: a save that never returns stopped with the host in {stopped_in:?}");

    let snapshot = file::read(home.path()).expect("readable").expect("written");
    let state_of = |label: &str| {
        let id = crate::cards::id_of(label).to_string();
        snapshot
            .entes
            .iter()
            .find(|e: &&Saved| e.id == id)
            .and_then(|e| e.state.clone())
    };
    assert_eq!(
        state_of("plain").as_deref(),
        Some(&b"starts=1 spawned=true"[..])
    );
    assert_eq!(state_of("huge"), None);
    assert_eq!(state_of("looper"), None);

    // Bytes the Ente does not know: it refuses them and starts afresh.
    let mut changed = snapshot.clone();
    let plain = crate::cards::id_of("plain").to_string();
    for e in &mut changed.entes {
        if e.id == plain {
            e.state = Some(b"garbage".to_vec());
        }
    }
    file::write(home.path(), &changed).expect("write");
    let mut up = Up::start_with(home.path(), &seed_path, &["--restore", "--no-snapshot"]);
    up.wait_for("plain: refused its saved state, starts afresh: not a keeper's state: `garbage`");
    up.wait_for("[plain] info: start 1");
    let (code, lines) = up.terminate();
    assert_eq!(code, Some(0), "{}", lines.join("\n"));
}

#[test]
fn a_hostile_save_asked_for_while_running_is_an_event_and_the_graph_goes_on() {
    let home = tempfile::tempdir().expect("home");
    let seed_path = three_keepers(home.path());
    let mut up = Up::start_with(home.path(), &seed_path, &["--call-deadline", "1s"]);
    up.wait_for("graph settled");
    let mark = up.mark();
    up.signal(nix::sys::signal::Signal::SIGUSR1);
    up.wait_after(mark, "a snapshot asked for (SIGUSR1): 3 Entes");
    up.wait_after(mark, "plain: its state saved (21 bytes)");
    up.wait_after(
        mark,
        "huge: its state NOT saved: snapshot.save returned 2097152 bytes",
    );
    // Ended at the call deadline: a death, and its supervision restarts it.
    up.wait_after(mark, "looper: its state NOT saved: snapshot.save broke:");
    up.wait_after(mark, "the snapshot's states are in");
    up.wait_after(mark, "snapshot written:");
    // It starts again (a fresh body: what it had not saved is gone).
    up.wait_after(mark, "looper: backing off: restart 1");
    up.wait_after(mark, "looper: ready");
    let snapshot = file::read(home.path()).expect("readable").expect("written");
    let plain = crate::cards::id_of("plain").to_string();
    assert!(
        snapshot
            .entes
            .iter()
            .any(|e| e.id == plain && e.state.as_deref() == Some(&b"starts=1 spawned=true"[..]))
    );
    let (code, lines) = up.terminate();
    assert_eq!(code, Some(0), "{}", lines.join("\n"));
}
