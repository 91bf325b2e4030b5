//! `ente-audit`: the audit chain, ente's tamper-evident memory of every
//! authority decision (leases granted, denied, renewed, expired; spawns,
//! refusals, deaths, restarts, stops, failures).
//!
//! - Each [`Entry`] holds the blake3 hash of the one before; a group commit
//!   writes the entries gathered in its window as one [`Segment`] into the
//!   content-addressed store (`cas/<blake3>`), linked to the segment before.
//! - The [`Head`] (newest sequence number, entry hash and segment) is
//!   written atomically and signed with an ed25519 key made at first start
//!   (`audit/key`, owner-only; its public half in `audit/key.pub`). A
//!   verifier that holds the public key tells a rewritten chain from the
//!   real one, not only a broken one from a whole one.
//! - [`Log::append`] never waits on a disk: the writer thread commits every
//!   [`WINDOW`]. A crash loses at most the entries of the window in flight.
//! - [`walk`] checks the chain from its head back to its first entry and
//!   names the sequence number of the first fault it finds.
//!
//! Nothing is repaired: a chain found broken at [`Log::open`] is left as
//! it is, and a new chain starts whose first entry records the break. (On
//! a state disk the new chain's heads take the head slots, and a damaged
//! key block is replaced by a new key: what the break entry names is what
//! is kept of them.)

mod disk;
mod entry;
mod log;
pub mod store;
pub mod walk;

pub use disk::{DiskStore, RECORDS_AT};
pub use ed25519_dalek::VerifyingKey;
pub use entry::{Decision, Entry, Hash, Head, Segment, VERSION, from_hex, hex};
pub use log::{Log, MAX_PENDING, WINDOW};
pub use store::{Home, Store};
pub use walk::{Walk, walk, walk_since};

/// What is wrong with a chain, naming where.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ChainFault {
    #[error("no audit chain was started here (no audit/head)")]
    NoHead,
    #[error("the head is missing (audit/head), but a chain was started here")]
    HeadMissing,
    #[error("the head cannot be read: {why}")]
    HeadUnreadable { why: String },
    #[error("the head is truncated or garbled ({len} bytes)")]
    HeadTruncated { len: usize },
    #[error(
        "the head (at seq {seq}) is not signed by the chain's key: it was replaced or the chain rewritten"
    )]
    HeadSignature { seq: u64 },
    #[error("the {what} is of format version {version}, not {VERSION}")]
    Version { what: &'static str, version: u16 },
    #[error(
        "the entries before seq {before_seq} are missing: segment {digest} is not in the store"
    )]
    SegmentMissing { before_seq: u64, digest: String },
    #[error(
        "the entries before seq {before_seq} were changed: segment {digest} does not hash to its name"
    )]
    SegmentTampered { before_seq: u64, digest: String },
    #[error("entry {seq} does not hash to what the entry after it (or the head) records")]
    Link { seq: u64 },
    #[error("entry {seq} is missing (the chain goes on at {found})")]
    Gap { seq: u64, found: u64 },
    #[error(
        "the chain no longer holds entry {seq} as it was read before: it was rewritten or begun again"
    )]
    Diverged { seq: u64 },
    #[error("the signing key {path}: {why}")]
    Key { path: String, why: String },
    #[error("cannot write the chain: {why}")]
    Io { why: String },
}
