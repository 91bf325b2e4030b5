//! What `ente up` keeps across its runs: the snapshot written at an orderly
//! stop (`$ENTE_HOME/snapshot`), and `--restore` bringing it back. A
//! snapshot that cannot be restored is refused whole, with its reason, and
//! the graph boots fresh from the seed; the audit chain records either.

use crate::console;
use ente_audit::{Decision, Log};
use ente_card::Card;
use ente_core::{Core, Handles};
use ente_state::{AuditMark, Snapshot, file};
use std::path::Path;

/// The snapshot under `home` restored into `core` (which has not run);
/// `Ok(false)` when there is none. On an error `core` must be dropped.
pub fn restore(core: &mut Core, home: &Path, audit: &Log) -> Result<bool, String> {
    let Some(snapshot) = file::read(home).map_err(|e| e.to_string())? else {
        console::line(&format!(
            "no snapshot in {}: the graph starts from its seed",
            home.display()
        ));
        return Ok(false);
    };
    check_chain(home, &snapshot);
    restore_snapshot(
        core,
        &snapshot,
        &file::path(home).display().to_string(),
        Some(audit),
    )?;
    Ok(true)
}

/// `snapshot`, read from `place`, restored into `core` (which has not
/// run), and the restore recorded. On an error `core` must be dropped.
pub(crate) fn restore_snapshot(
    core: &mut Core,
    snapshot: &Snapshot,
    place: &str,
    audit: Option<&Log>,
) -> Result<(), String> {
    let restored = core
        .restore(snapshot)
        .map_err(|e| format!("{place}: {e}"))?;
    if let Some(audit) = audit {
        audit.append(Decision::Restored {
            snapshot: digest(snapshot),
            taken_ms: snapshot.taken_ms,
            spawned: restored.spawned as u64,
            states: restored.states as u64,
        });
    }
    console::line(&format!(
        "restored {place} (taken {} ago): {} spawned Entes, the counters of {}, the state of {}; {} leases not granted again (the mediator decides anew)",
        age(snapshot.taken_ms),
        restored.spawned,
        restored.counters,
        restored.states,
        snapshot.leases.len()
    ));
    Ok(())
}

/// Say it when the audit chain no longer holds the entry the snapshot
/// recorded as its head: the chain was reset or rewritten since.
fn check_chain(home: &Path, snapshot: &Snapshot) {
    let Some(mark) = snapshot.audit else { return };
    let held = ente_audit::store::stored_public_key(home)
        .ok()
        .and_then(|key| ente_audit::walk(&ente_audit::Home(home.to_path_buf()), &key).ok())
        .is_some_and(|w| {
            w.entries
                .iter()
                .any(|e| e.seq == mark.seq && e.hash() == mark.entry)
        });
    if !held {
        console::line(&format!(
            "warning: the audit chain does not hold entry {} as the snapshot recorded it: the chain was reset or rewritten since (`ente audit verify` says more)",
            mark.seq
        ));
    }
}

/// How long ago a wall time in ms was, in words.
fn age(taken_ms: u64) -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::SystemTime::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX));
    match now.checked_sub(taken_ms) {
        Some(ms) if ms < 1000 => "under a second".into(),
        Some(ms) => {
            humantime::format_duration(std::time::Duration::from_secs(ms / 1000)).to_string()
        }
        None => "in the future, by this machine's clock".into(),
    }
}

fn digest(snapshot: &Snapshot) -> String {
    ente_state::encode(snapshot)
        .map(|b| blake3::hash(&b).to_hex().to_string())
        .unwrap_or_default()
}

/// Call `write` (on a blocking thread) each time the core says the states
/// of a snapshot on request are in, for as long as the spine runs.
pub(crate) async fn on_request(handles: Handles, write: impl Fn(&Handles) + Send + Sync + 'static) {
    let write = std::sync::Arc::new(write);
    let mut events = handles.spine.subscribe();
    loop {
        match events.next().await {
            ente_core::Next::Event(e) => {
                if matches!(e.kind, ente_core::Kind::SnapshotReady { .. }) {
                    let (write, handles) = (write.clone(), handles.clone());
                    let _ = tokio::task::spawn_blocking(move || write(&handles)).await;
                }
            }
            // Fallen behind, a request may be lost with what was missed;
            // SIGUSR1 again asks again.
            ente_core::Next::Missed(_) => {}
            ente_core::Next::Closed => return,
        }
    }
}

/// Write the graph's snapshot under `home` (stopped, or on request).
pub fn write(handles: &Handles, seed: &Card, home: &Path, audit: &Log) {
    let place = file::path(home).display().to_string();
    save(handles, seed, Some(audit), &place, |snapshot| {
        file::write(home, snapshot)
            .map(|w| (w.bytes, w.digest))
            .map_err(|e| e.to_string())
    });
}

/// Take the stopped graph's snapshot and hand it to `put`, which writes
/// it to `place` and says how many bytes and their digest; the write is
/// recorded in the chain. Said on the console either way.
pub(crate) fn save(
    handles: &Handles,
    seed: &Card,
    audit: Option<&Log>,
    place: &str,
    put: impl FnOnce(&Snapshot) -> Result<(usize, [u8; 32]), String>,
) {
    if let Some(Err(e)) = audit.map(|a| a.flush(std::time::Duration::from_secs(2))) {
        console::line(&format!("ente: {e}"));
    }
    let mark = audit
        .and_then(Log::head)
        .map(|(seq, entry)| AuditMark { seq, entry });
    let ente_core::Taken {
        snapshot,
        states_left_out,
    } = ente_core::take_snapshot(&handles.read(), seed, mark);
    if !states_left_out.is_empty() {
        console::line(&format!(
            "ente: the state of {} Entes is not kept: together the Entes saved more than a snapshot keeps ({} bytes): {}",
            states_left_out.len(),
            ente_core::STATES_BUDGET,
            ente_runtime::host::clean(&states_left_out.join(", "), 2048)
        ));
    }
    let states = snapshot.entes.iter().filter(|e| e.state.is_some()).count();
    match put(&snapshot) {
        Ok((bytes, digest)) => {
            if let Some(audit) = audit {
                audit.append(Decision::SnapshotTaken {
                    snapshot: ente_audit::hex(&digest),
                    bytes: bytes as u64,
                    spawned: snapshot.spawned.len() as u64,
                    states: states as u64,
                });
            }
            console::line(&format!(
                "snapshot written: {place} ({bytes} bytes: {} spawned Entes, {} with counters, {states} states, {} leases)",
                snapshot.spawned.len(),
                snapshot.entes.len(),
                snapshot.leases.len()
            ));
        }
        Err(e) => console::line(&format!(
            "ente: the snapshot was not written to {place}: {e}"
        )),
    }
}
