//! What a snapshot holds.

use serde::{Deserialize, Serialize};

/// The graph's state at one moment.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Snapshot {
    /// The seed card's id: a snapshot restores only the graph it was
    /// taken of.
    pub seed: String,
    /// Wall time it was taken, in ms since the Unix epoch.
    pub taken_ms: u64,
    /// The audit chain's head when it was taken: the chain that goes on
    /// must still hold this entry.
    pub audit: Option<AuditMark>,
    /// Cards spawned at run time, in spawn order (a parent before its
    /// children).
    pub spawned: Vec<Spawned>,
    /// Each Ente's counters and own state.
    pub entes: Vec<Saved>,
    /// The leases held, for the record (they are not granted again: a new
    /// run's mediator decides anew).
    pub leases: Vec<Lease>,
}

/// The audit chain's head at a snapshot.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditMark {
    pub seq: u64,
    pub entry: [u8; 32],
}

/// An Ente spawned at run time.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Spawned {
    /// Its parent's id.
    pub parent: String,
    /// The card, as the JSON it was checked from.
    pub card: String,
}

/// One Ente's counters and the state its component saved.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Saved {
    pub id: String,
    /// Restarts over its life.
    pub restarts: u32,
    /// Failures since it last stayed up for the backoff reset: the next
    /// backoff goes on from here.
    pub failures: u32,
    /// What `ente:core/snapshot.save` returned.
    pub state: Option<Vec<u8>>,
}

/// A lease held when the snapshot was taken.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Lease {
    pub caller: String,
    pub endpoint: String,
    pub provider: String,
    pub ttl_left_ms: u64,
}
