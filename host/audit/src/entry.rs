//! An entry of the audit chain, the segments they are stored in, and the
//! signed head. All postcard; a hash is blake3 of the encoding.

use serde::{Deserialize, Serialize};
use std::fmt;

/// A hash (blake3) or a public key: 32 bytes.
pub type Hash = [u8; 32];

/// The format version of segments and heads.
pub const VERSION: u16 = 1;

/// An authority decision, as the chain records it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Decision {
    LeaseGranted {
        caller: String,
        endpoint: String,
        provider: String,
        ttl_ms: u64,
    },
    LeaseDenied {
        caller: String,
        endpoint: String,
        reason: String,
    },
    LeaseRenewed {
        caller: String,
        endpoint: String,
        provider: String,
    },
    LeaseExpired {
        caller: String,
        endpoint: String,
        provider: String,
    },
    /// Every lease of an Ente dropped (it died or stopped).
    LeasesDropped {
        ente: String,
        count: u64,
    },
    Spawned {
        ente: String,
        label: String,
        by: String,
    },
    /// A request of `ente:core/graph` refused.
    RequestRefused {
        by: String,
        request: String,
        why: String,
    },
    StartRefused {
        ente: String,
        label: String,
        cause: String,
    },
    Died {
        ente: String,
        label: String,
        cause: String,
    },
    /// Backing off before a restart.
    Restarting {
        ente: String,
        label: String,
        detail: String,
    },
    Stopped {
        ente: String,
        label: String,
    },
    Failed {
        ente: String,
        label: String,
        why: String,
    },
    /// This chain began after the previous one was found broken.
    ChainBreak {
        why: String,
    },
    /// Entries dropped while the store could not be written and the
    /// pending queue was full: the chain says how many it does not hold.
    Lost {
        count: u64,
    },
    /// The graph was restored from a snapshot (its blake3).
    Restored {
        snapshot: String,
        taken_ms: u64,
        spawned: u64,
        states: u64,
    },
    /// A snapshot was refused; the host booted fresh from its seed.
    RestoreRefused {
        why: String,
    },
    /// A snapshot was written at a stop (its blake3).
    SnapshotTaken {
        snapshot: String,
        bytes: u64,
        spawned: u64,
        states: u64,
    },
    /// An operator's request over the control socket (`ente ctl`), by
    /// the peer's uid: done, or refused and why. (Last: a chain written
    /// before it still decodes.)
    Operator {
        uid: u32,
        request: String,
        refused: Option<String>,
    },
    /// A connection to the control socket refused: its peer's uid is
    /// neither the host's nor root.
    ControlRefused {
        uid: u32,
        pid: i32,
    },
    /// A rule of the brain fired (on the spine's event `seq`): its action,
    /// for which Ente, and whether it ran or why it was refused.
    RuleFired {
        brain: String,
        rule: String,
        action: String,
        subject: Option<String>,
        seq: u64,
        refused: Option<String>,
    },
    /// A rule put in force, by whom, as its JSON: a replay of the chain
    /// rebuilds the rules from these and [`Decision::RuleRemoved`].
    RulePromoted {
        brain: String,
        rule: String,
        by: String,
        json: String,
    },
    RuleRemoved {
        brain: String,
        rule: String,
        by: String,
    },
}

impl fmt::Display for Decision {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Decision::LeaseGranted {
                caller,
                endpoint,
                provider,
                ttl_ms,
            } => write!(
                f,
                "lease granted: {caller} -> {endpoint} at {provider} for {ttl_ms} ms"
            ),
            Decision::LeaseDenied {
                caller,
                endpoint,
                reason,
            } => write!(f, "lease denied: {caller} -> {endpoint}: {reason}"),
            Decision::LeaseRenewed {
                caller,
                endpoint,
                provider,
            } => write!(f, "lease renewed: {caller} -> {endpoint} at {provider}"),
            Decision::LeaseExpired {
                caller,
                endpoint,
                provider,
            } => write!(f, "lease expired: {caller} -> {endpoint} at {provider}"),
            Decision::LeasesDropped { ente, count } => {
                write!(f, "leases dropped: {count} of {ente}")
            }
            Decision::Spawned { ente, label, by } => write!(f, "spawned: {label} ({ente}) by {by}"),
            Decision::RequestRefused { by, request, why } => {
                write!(f, "request refused: {request} by {by}: {why}")
            }
            Decision::StartRefused { ente, label, cause } => {
                write!(f, "start refused: {label} ({ente}): {cause}")
            }
            Decision::Died { ente, label, cause } => write!(f, "died: {label} ({ente}): {cause}"),
            Decision::Restarting {
                ente,
                label,
                detail,
            } => write!(f, "restarting: {label} ({ente}): {detail}"),
            Decision::Stopped { ente, label } => write!(f, "stopped: {label} ({ente})"),
            Decision::Failed { ente, label, why } => write!(f, "failed: {label} ({ente}): {why}"),
            Decision::ChainBreak { why } => write!(f, "chain break: {why}"),
            Decision::Restored {
                snapshot,
                taken_ms,
                spawned,
                states,
            } => write!(
                f,
                "restored: snapshot {snapshot} taken at {taken_ms}: {spawned} spawned Entes, {states} states"
            ),
            Decision::RestoreRefused { why } => {
                write!(f, "restore refused, booted fresh from the seed: {why}")
            }
            Decision::SnapshotTaken {
                snapshot,
                bytes,
                spawned,
                states,
            } => write!(
                f,
                "snapshot taken: {snapshot} ({bytes} bytes): {spawned} spawned Entes, {states} states"
            ),
            Decision::Lost { count } => {
                write!(f, "lost: {count} entries (the store could not be written)")
            }
            Decision::Operator {
                uid,
                request,
                refused: None,
            } => write!(f, "operator (uid {uid}): {request}"),
            Decision::Operator {
                uid,
                request,
                refused: Some(why),
            } => write!(f, "operator (uid {uid}): {request}: refused: {why}"),
            Decision::ControlRefused { uid, pid } => {
                write!(f, "control socket refused: pid {pid}, uid {uid}")
            }
            Decision::RuleFired {
                brain,
                rule,
                action,
                subject,
                seq,
                refused,
            } => {
                write!(f, "rule fired: {rule} of {brain} on event {seq}: {action}")?;
                if let Some(s) = subject {
                    write!(f, " (about {s})")?;
                }
                match refused {
                    Some(why) => write!(f, ": refused: {why}"),
                    None => Ok(()),
                }
            }
            Decision::RulePromoted {
                brain, rule, by, ..
            } => write!(f, "rule promoted: {rule} in {brain}, by {by}"),
            Decision::RuleRemoved { brain, rule, by } => {
                write!(f, "rule removed: {rule} from {brain}, by {by}")
            }
        }
    }
}

/// One link of the chain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    /// 1, 2, 3, ... in this chain.
    pub seq: u64,
    /// The hash of the entry before (zeros for the first).
    pub prev: Hash,
    /// Wall time, in ms since the Unix epoch.
    pub wall_ms: u64,
    pub decision: Decision,
}

impl Entry {
    pub fn hash(&self) -> Hash {
        *blake3::hash(&encode(self)).as_bytes()
    }
}

/// The entries one group commit wrote, and the segment before it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Segment {
    pub version: u16,
    pub prev_segment: Option<Hash>,
    pub entries: Vec<Entry>,
}

/// What the head says: the newest entry and its segment. Signed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Head {
    pub version: u16,
    pub seq: u64,
    pub entry: Hash,
    pub segment: Hash,
    /// The public key that signs the chain's heads.
    pub key: Hash,
}

pub(crate) fn encode<T: Serialize>(value: &T) -> Vec<u8> {
    // Encoding to a Vec fails only for types postcard cannot express; these
    // are all plain data.
    postcard::to_stdvec(value).unwrap_or_default()
}

/// Lowercase hex of a hash.
pub fn hex(h: &Hash) -> String {
    h.iter().map(|b| format!("{b:02x}")).collect()
}

/// A hash from 64 hex characters.
pub fn from_hex(s: &str) -> Option<Hash> {
    let bytes = s.as_bytes();
    if bytes.len() != 64 {
        return None;
    }
    let mut out = [0u8; 32];
    for (i, pair) in bytes.chunks_exact(2).enumerate() {
        let text = std::str::from_utf8(pair).ok()?;
        out[i] = u8::from_str_radix(text, 16).ok()?;
    }
    Some(out)
}
