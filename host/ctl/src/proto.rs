//! What `ente ctl` asks and what the host answers.

use serde::{Deserialize, Serialize};

/// One request: the protocol's version, then what is asked. (It follows
/// its session's marker, which carries the client's nonce.)
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Request {
    pub version: u16,
    pub verb: Verb,
}

/// What an operator may ask. An Ente is named by its id or its label.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Verb {
    /// Every Ente, or one in depth.
    Status {
        ente: Option<String>,
    },
    /// The lineage tree, with states.
    Tree,
    /// The events the host kept (and with `follow`, those to come).
    Events {
        follow: bool,
    },
    /// The journal: the last `lines` lines (of one Ente, or all), then
    /// with `follow` those to come.
    Logs {
        ente: Option<String>,
        lines: u32,
        follow: bool,
    },
    Stop {
        ente: String,
    },
    Restart {
        ente: String,
    },
    /// Start an Ente that stopped, failed or ended.
    Start {
        ente: String,
    },
    /// Spawn a card below the seed.
    Spawn {
        card: String,
    },
    /// The metrics, in the Prometheus text format.
    Metrics,
    /// The graph's brain.
    Brain(BrainVerb),
    /// Keep only `ente`'s journal lines at `level` or above.
    LogLevel {
        ente: String,
        level: String,
    },
}

/// What an operator asks the brain.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum BrainVerb {
    /// The pairs of kinds that pass these thresholds.
    Crystals {
        min_support: f64,
        min_p: f64,
        min_pmi: f64,
    },
    /// The rules in force, as a rules file.
    Rules,
    /// Promote the crystal `a` then `b` to a rule, with an action (JSON,
    /// as a rules file writes it; none: a named event).
    Promote {
        a: String,
        b: String,
        action: Option<String>,
    },
    /// Put a rules file's rules in force.
    Load {
        file: String,
    },
    Remove {
        name: String,
    },
}

/// A crystal, as `ente ctl brain crystals` shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CrystalRow {
    pub a: String,
    pub b: String,
    pub support: f64,
    pub p_b_given_a: f64,
    pub pmi: f64,
    pub gaps: u64,
    pub gap_mean_ms: f64,
    pub gap_stddev_ms: f64,
    pub gap_max_ms: u64,
}

/// One Ente, as `ente ctl status` shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EnteRow {
    pub id: String,
    pub label: String,
    pub parent: Option<String>,
    /// Its state in words ("ready", "backing off: ...", "failed: ...").
    pub state: String,
    pub kind: String,
    pub restarts: u32,
    pub failures: u32,
    pub served: u64,
    pub failed: u64,
    pub cpu_ms: u64,
    /// Memory held: linear memory and a native tree's cgroup.
    pub mem_bytes: u64,
    /// The mean time of its calls, in microseconds (none served yet: 0).
    pub call_mean_us: u64,
    /// Whether it was spawned at run time (not of the seed).
    pub spawned: bool,
    /// The leases it holds: "endpoint at provider, N s left".
    pub leases: Vec<String>,
    /// The level its journal lines must reach to be kept (set by a rule
    /// or an operator); none: every line.
    pub journal_floor: Option<String>,
}

/// One event of the host's spine, rendered.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EventLine {
    pub seq: u64,
    pub wall_ms: u64,
    pub ente: Option<String>,
    pub label: Option<String>,
    /// The event's kind ("journal", "state", "died", ...).
    pub kind: String,
    pub text: String,
}

/// The host's answer; a stream ends with [`Reply::End`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Reply {
    Status(Vec<EnteRow>),
    Event(EventLine),
    /// Events were dropped before the next (the reader fell behind).
    Missed(u64),
    /// Done, in words.
    Done(String),
    /// The metrics' text.
    Metrics(String),
    /// Refused, with the reason (a name not found, the authority's
    /// refusal, a bad frame).
    Refused(String),
    End,
    /// The brain's crystals.
    Crystals(Vec<CrystalRow>),
    /// The brain's rules, as a rules file (JSON).
    Rules(String),
}
