//! Walking a chain from its signed head back to its first entry.

use crate::ChainFault;
use crate::entry::{Decision, Entry, Hash, Head};
use crate::store::{Store, get_segment, read_head};
use ed25519_dalek::VerifyingKey;

/// A whole chain, checked.
#[derive(Debug, Clone)]
pub struct Walk {
    pub head: Head,
    /// Oldest first.
    pub entries: Vec<Entry>,
    pub segments: u64,
}

impl Walk {
    /// The break this chain began after, if it did.
    pub fn began_after_break(&self) -> Option<&str> {
        match self.entries.first().map(|e| &e.decision) {
            Some(Decision::ChainBreak { why }) => Some(why),
            _ => None,
        }
    }
}

/// Check the chain in `store` against `key`: the head's signature, every
/// segment against its digest, every entry's link and sequence number, down
/// to entry 1. The first fault found, from the newest end, is returned.
pub fn walk(store: &dyn Store, key: &VerifyingKey) -> Result<Walk, ChainFault> {
    walk_back(store, key, None, true)
}

/// [`walk`], keeping none of the entries (`entries` stays empty): what
/// opening a chain checks, in memory of one segment at a time.
pub fn check(store: &dyn Store, key: &VerifyingKey) -> Result<Walk, ChainFault> {
    walk_back(store, key, None, false)
}

/// The entries committed after `seen`, a head read before: the walk stops
/// at `seen`'s segment and checks that the new entries link to its entry,
/// so following a chain costs what is new, not the whole chain. A chain
/// that no longer holds `seen` is a fault ([`ChainFault::Diverged`]).
pub fn walk_since(store: &dyn Store, key: &VerifyingKey, seen: &Head) -> Result<Walk, ChainFault> {
    walk_back(store, key, Some(seen), true)
}

fn walk_back(
    store: &dyn Store,
    key: &VerifyingKey,
    seen: Option<&Head>,
    keep: bool,
) -> Result<Walk, ChainFault> {
    let head = read_head(store, key)?;
    if let Some(seen) = seen
        && (head.seq < seen.seq || (head.seq == seen.seq && head.entry != seen.entry))
    {
        return Err(ChainFault::Diverged { seq: seen.seq });
    }
    let mut newest_first = Vec::new();
    let mut digest = Some(head.segment);
    let mut want_hash: Hash = head.entry;
    let mut want_seq = head.seq;
    let mut segments = 0;
    while let Some(d) = digest {
        if let Some(seen) = seen.filter(|s| s.segment == d) {
            if want_seq != seen.seq || want_hash != seen.entry {
                return Err(ChainFault::Diverged { seq: seen.seq });
            }
            newest_first.reverse();
            return Ok(Walk {
                head,
                entries: newest_first,
                segments,
            });
        }
        let segment = get_segment(store, &d, want_seq + 1)?;
        segments += 1;
        for e in segment.entries.into_iter().rev() {
            if e.seq != want_seq {
                return Err(ChainFault::Gap {
                    seq: want_seq,
                    found: e.seq,
                });
            }
            if e.hash() != want_hash {
                return Err(ChainFault::Link { seq: e.seq });
            }
            want_hash = e.prev;
            want_seq = want_seq.saturating_sub(1);
            if keep {
                newest_first.push(e);
            }
        }
        digest = segment.prev_segment;
    }
    if let Some(seen) = seen {
        return Err(ChainFault::Diverged { seq: seen.seq });
    }
    if want_seq != 0 || want_hash != [0; 32] {
        return Err(ChainFault::Gap {
            seq: want_seq,
            found: want_seq + 1,
        });
    }
    newest_first.reverse();
    Ok(Walk {
        head,
        entries: newest_first,
        segments,
    })
}
