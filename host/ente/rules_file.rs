//! The brain's rules, written out: `$ENTE_HOME/brain/rules.json` holds the
//! rules in force as the host recorded them (its [`ente_core::RuleBook`]),
//! rewritten after each promotion or removal (a temporary file, fsync,
//! rename). An operator reads it, checks it with `ente check`, edits it and
//! puts it back with `ente ctl brain load`. It is the host's record: every
//! promotion and removal the chain holds, and, after a restore, what the
//! brain said it holds.
//!
//! `ente up` writes it. The appliance does not: its home is RAM, and its
//! rules are kept in the snapshot on its state disk (`ente ctl brain
//! rules` prints them through the control port).

use ente_core::{Handles, Kind, Next};
use std::path::{Path, PathBuf};

/// Where the rules go under a home.
pub fn path_in(home: &Path) -> PathBuf {
    home.join("brain").join("rules.json")
}

/// Where the record of the `n`-th run before this one is kept (1: the
/// last), once this host writes its own; [`KEPT`] are kept.
pub fn previous_in(home: &Path, n: u32) -> PathBuf {
    home.join("brain").join(format!("rules.json.{n}"))
}

/// Earlier runs' records kept.
pub const KEPT: u32 = 3;

/// Write the rules out after each change the spine tells of (call within a
/// tokio runtime); the task ends with the spine. The record an earlier
/// host left is moved aside first: this host's brain starts from its card
/// or its snapshot, and would write over what the operator may want to
/// load back.
pub fn start(handles: &Handles, home: &Path) -> tokio::task::JoinHandle<()> {
    let path = path_in(home);
    if path.exists() {
        // The oldest goes; each other moves one back (a run that learnt
        // nothing does not push out the one before it at once).
        for n in (1..KEPT).rev() {
            let _ = std::fs::rename(previous_in(home, n), previous_in(home, n + 1));
        }
        let prev = previous_in(home, 1);
        match std::fs::rename(&path, &prev) {
            Ok(()) => tracing::info!(
                "the brain's rules of the previous run kept in {} (`ente ctl brain load` puts them back)",
                prev.display()
            ),
            Err(e) => tracing::warn!(
                "{}: not moved aside ({e}): this run writes over it",
                path.display()
            ),
        }
    }
    // Only the subscription and the book: the spine closes without it.
    let mut events = handles.spine.subscribe();
    let book = handles.rules.clone();
    tokio::spawn(async move {
        let mut written = 0;
        loop {
            match events.next().await {
                // A change, or a restore (the book then is the brain's word).
                Next::Event(e)
                    if matches!(
                        e.kind,
                        Kind::RulePromoted { .. }
                            | Kind::RuleRemoved { .. }
                            | Kind::StateRestored { .. }
                    ) => {}
                // What it missed may have been a change.
                Next::Missed(_) => {}
                Next::Event(_) => continue,
                Next::Closed => return,
            }
            // One write for a burst of changes: the book as it is now.
            let changes = book.changes();
            if changes == written {
                continue;
            }
            written = changes;
            let (text, path) = (book.pretty(), path.clone());
            let wrote = tokio::task::spawn_blocking(move || {
                ente_state::file::write_atomic(&path, text.as_bytes(), 0o644)
                    .map_err(|e| format!("{}: {e}", path.display()))
            })
            .await;
            if let Ok(Err(why)) = wrote {
                tracing::warn!(%why, "the brain's rules were not written out");
            }
        }
    })
}
