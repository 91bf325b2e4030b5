//! `ente-state`: what survives an ente host.
//!
//! - [`Snapshot`]: the graph's state at an orderly stop (the cards of
//!   Entes spawned at run time, restart counters, the lease table, the
//!   audit head, and each Ente's own saved state), postcard behind a
//!   versioned header and a blake3 checksum ([`codec`]).
//! - Where it is kept: a file under `$ENTE_HOME` in dev mode, written
//!   atomically ([`file`]); a raw state disk of two alternating,
//!   generation-numbered slots on the appliance ([`slots`]), so that a
//!   power cut in the middle of a write keeps the previous snapshot.
//!
//! Nothing here knows cards or the core: a spawned card is kept as the
//! JSON it was checked from, and is checked again when it is restored.

pub mod codec;
pub mod file;
mod model;
pub mod slots;

pub use codec::{HEADER_LEN, MAX_SNAPSHOT, VERSION, decode, encode};
pub use model::{AuditMark, Lease, Saved, Snapshot, Spawned};

/// Why bytes are not a snapshot this host can restore, naming what.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SnapshotFault {
    #[error("not an ente snapshot (it begins {found:?}, not \"ENTESNAP\")")]
    NotASnapshot { found: String },
    #[error("snapshot format version {found}, this host reads version {VERSION}")]
    Version { found: u16 },
    #[error("truncated: {have} bytes, the header says {want}")]
    Truncated { have: usize, want: usize },
    #[error("{len} bytes, more than a snapshot may hold ({MAX_SNAPSHOT})")]
    TooLarge { len: usize },
    #[error("{extra} bytes after the end the header gives")]
    Trailing { extra: usize },
    #[error("the checksum does not match: the snapshot was changed or half written")]
    Checksum,
    #[error("the body does not decode: {why}")]
    Garbled { why: String },
}
