//! The graph's snapshot: taken from the table once the graph has stopped,
//! and restored into a core before it runs. A restore is whole or not at
//! all: the front end drops a core whose restore failed and boots fresh.

use crate::core::Core;
use crate::spine::Kind;
use crate::table::Table;
use ente_card::Card;
use ente_state::{AuditMark, Lease, Saved, Snapshot, Spawned};
use std::time::SystemTime;
use ulid::Ulid;

/// Why a snapshot cannot be restored into this graph; nothing of it is.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RestoreError {
    #[error("it was taken of the seed {taken}, not of this seed ({seed})")]
    OtherSeed { taken: String, seed: String },
    #[error("spawned card {index}: {why}")]
    Card { index: usize, why: String },
    #[error("spawned card {index} (`{label}`, by {parent}): {why}")]
    Spawn {
        index: usize,
        label: String,
        parent: String,
        why: String,
    },
    #[error("the spawned cards do not fit the graph: {why}")]
    Graph { why: String },
    #[error("the state of `{id}`: {why}")]
    Ente { id: String, why: String },
}

/// What a restore brought back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Restored {
    pub spawned: usize,
    pub states: usize,
    pub counters: usize,
}

/// What all Entes' saved states may hold together in one snapshot: well
/// below what a snapshot may hold, so that the cards, counters and leases
/// are always written, however much the Entes saved.
pub const STATES_BUDGET: usize = 32 << 20;

/// A snapshot taken, and the Entes whose state it could not keep (the
/// states budget was spent), by label.
#[derive(Debug)]
pub struct Taken {
    pub snapshot: Snapshot,
    pub states_left_out: Vec<String>,
}

/// The snapshot of the graph in `table` (read once it stopped): its
/// spawned cards in spawn order, each Ente's counters and saved state (up
/// to [`STATES_BUDGET`] in all, in table order), the leases held when the
/// shutdown began, and the audit head given.
pub fn take(table: &Table, seed: &Card, audit: Option<AuditMark>) -> Taken {
    // The table is in the order Entes were added: a spawner before what it
    // spawned, so a restore in this order always finds the parent.
    let spawned: Vec<Spawned> = table
        .iter()
        .filter_map(|r| {
            let card = r.spawned_card.as_ref()?;
            let parent = r.parent?;
            // A card serialises to the grammar it was read from (the card
            // crate's round-trip tests hold it to that).
            let card = serde_json::to_string(&**card).ok()?;
            Some(Spawned {
                parent: parent.to_string(),
                card,
            })
        })
        .collect();
    // An Ente that did not reach a save this run (it never started, or
    // failed) keeps the state it was handed.
    let (mut budget, mut states_left_out) = (STATES_BUDGET, Vec::new());
    let entes = table
        .iter()
        .filter_map(|r| {
            let mut state = r.saved.clone().or_else(|| r.restore.clone());
            if let Some(bytes) = &state {
                match budget.checked_sub(bytes.len()) {
                    Some(left) => budget = left,
                    None => {
                        states_left_out.push(r.label().to_owned());
                        state = None;
                    }
                }
            }
            (r.restarts > 0 || r.failures > 0 || state.is_some()).then(|| Saved {
                id: r.id.to_string(),
                restarts: r.restarts,
                failures: r.failures,
                state,
            })
        })
        .collect();
    let leases = table
        .leases_at_stop
        .iter()
        .map(|(caller, endpoint, provider, left)| Lease {
            caller: caller.to_string(),
            endpoint: format!("{}@{}", endpoint.interface, endpoint.version),
            provider: provider.to_string(),
            ttl_left_ms: u64::try_from(left.as_millis()).unwrap_or(u64::MAX),
        })
        .collect();
    let snapshot = Snapshot {
        seed: seed.id.to_string(),
        taken_ms: SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX)),
        audit,
        spawned,
        entes,
        leases,
    };
    Taken {
        snapshot,
        states_left_out,
    }
}

impl Core {
    /// Bring `snapshot` back before the graph runs: each spawned card
    /// again, under its parent and by the same checks as a spawn (its
    /// parent must still hold Spawn, its limits still allow it); each
    /// Ente's restart counters, and its saved state to hand its first body.
    /// Leases are not granted again: the mediator decides anew. Every
    /// spawned Ente starts again, as a boot starts the seed's (a OneShot
    /// that had ended included). Nothing starts before the core runs (a
    /// spawned card's parent is a body, still waiting), so the states set
    /// after the spawns reach every first body. On an error this core is
    /// half-restored and must be dropped.
    pub fn restore(&mut self, snapshot: &Snapshot) -> Result<Restored, RestoreError> {
        if snapshot.seed != self.seed.id.to_string() {
            return Err(RestoreError::OtherSeed {
                taken: snapshot.seed.clone(),
                seed: self.seed.id.to_string(),
            });
        }
        let mut cards = Vec::with_capacity(snapshot.spawned.len());
        for (index, s) in snapshot.spawned.iter().enumerate() {
            let card = ente_card::parse(s.card.as_bytes(), std::path::Path::new("snapshot"))
                .map_err(|e| RestoreError::Card {
                    index,
                    why: e.to_string(),
                })?;
            let parent: Ulid = s.parent.parse().map_err(|_| RestoreError::Card {
                index,
                why: format!("its parent `{}` is not an Ente id", s.parent),
            })?;
            cards.push((parent, card));
        }
        // The graph's checks first, of every card at once (unique ids,
        // routing, nothing a parent lacks): nothing enters the table, let
        // alone starts, before all of them pass.
        self.check_restored(&cards)
            .map_err(|why| RestoreError::Graph { why })?;
        let mut added = Vec::new();
        for (index, (parent, card)) in cards.into_iter().enumerate() {
            let label = card.label.clone();
            added.extend(
                self.respawn(parent, card)
                    .map_err(|why| RestoreError::Spawn {
                        index,
                        label,
                        parent: parent.to_string(),
                        why,
                    })?,
            );
        }
        let (mut states, mut counters) = (0, 0);
        {
            let mut t = self.write();
            for saved in &snapshot.entes {
                let record = saved
                    .id
                    .parse::<Ulid>()
                    .ok()
                    .and_then(|id| t.get_mut(id))
                    .ok_or_else(|| RestoreError::Ente {
                        id: saved.id.clone(),
                        why: "no Ente of this graph has that id".into(),
                    })?;
                record.restarts = saved.restarts;
                record.failures = saved.failures;
                counters += 1;
                if let Some(state) = &saved.state {
                    record.restore = Some(state.clone());
                    states += 1;
                }
            }
        }
        // Linked once all are in (a card may wait on one restored after
        // it), and started: each waits for the core to run.
        self.link_deps(&added);
        for a in added {
            self.start_if_ready(a);
        }
        let restored = Restored {
            spawned: snapshot.spawned.len(),
            states,
            counters,
        };
        self.h.spine.emit(
            None,
            Kind::Restored {
                taken_ms: snapshot.taken_ms,
                spawned: restored.spawned,
                states,
            },
        );
        Ok(restored)
    }
}
