//! The runner seam: how the core makes, starts, calls and stops an Ente's
//! body without knowing what the body is. A Wasm component is the first
//! runner (in the `ente` binary, over `ente-runtime`); the native shim will
//! be the second.
//!
//! Every method here may run guest code or wait on it, so the core calls
//! them only from its executor's workers, never from its loop.

use crate::cause::Cause;
use ente_bus::{Decision, Unserved};
use ente_card::{Card, Endpoint};
use ente_kernel::uevent::Uevent;
use std::any::Any;
use std::sync::Arc;
use std::sync::atomic::AtomicU64;
use std::time::Duration;
use ulid::Ulid;

/// What the host keeps of an Ente across its bodies, shared with each body.
#[derive(Debug, Default)]
pub struct Counters {
    /// Running time, in nanoseconds.
    pub cpu_ns: Arc<AtomicU64>,
    /// Journal lines dropped over the rate.
    pub journal_dropped: Arc<AtomicU64>,
    /// Bytes of linear memory its live stores hold.
    pub linear_bytes: Arc<AtomicU64>,
    /// The cgroup v2 leaf of its native process tree, while one runs.
    pub cgroup: Arc<std::sync::Mutex<Option<std::path::PathBuf>>>,
}

/// Everything a runner needs to make a body of one Ente.
#[derive(Debug, Clone)]
pub struct Spec {
    pub id: Ulid,
    pub card: Arc<Card>,
    /// The graph's mediator (the seed handed it the mediator's endpoint).
    pub mediator: bool,
    /// The graph's brain (the seed handed it the brain's endpoint).
    pub brain: bool,
    /// The deadline of each call into the body, and of making it.
    pub deadline: Duration,
    pub counters: Arc<Counters>,
}

/// Which of the interfaces the host drives a body exports.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Exports {
    pub lifecycle: bool,
    pub handler: bool,
    pub mediator: bool,
    pub device_events: bool,
    pub timer_events: bool,
    pub supervisor: bool,
    /// `ente:core/snapshot`: it keeps state across restarts of the host.
    pub snapshot: bool,
    /// `ente:core/brain`: it can be the graph's rule engine.
    pub brain: bool,
}

/// What a runner makes bodies from (a linked component): made once per
/// Ente, on its first start, and kept in its record for every restart.
pub trait Prepared: Send + Sync + std::fmt::Debug {
    fn exports(&self) -> Exports;
    fn as_any(&self) -> &dyn Any;
}

/// What the core may ask of a parent about a `Delegate` child.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Restart { after: Duration },
    Stop,
}

/// Ends a body's call in progress from another thread.
pub trait KillSwitch: Send + Sync + std::fmt::Debug {
    fn kill(&self, why: &str);
}

/// Where the kill switch of one body is kept, from before the body exists:
/// the core can kill a body still being made or started (a stop, or the
/// host shutting down), and a body armed after the kill is killed at once.
#[derive(Debug, Default)]
pub struct KillSlot(std::sync::Mutex<Armed>);

#[derive(Debug, Default)]
struct Armed {
    switch: Option<Arc<dyn KillSwitch>>,
    killed: Option<String>,
}

impl KillSlot {
    fn lock(&self) -> std::sync::MutexGuard<'_, Armed> {
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The body's switch, once it exists.
    pub fn arm(&self, switch: Arc<dyn KillSwitch>) {
        let mut s = self.lock();
        if let Some(why) = &s.killed {
            switch.kill(why);
        }
        s.switch = Some(switch);
    }

    /// End the body's call in progress, now or as soon as it exists.
    pub fn kill(&self, why: &str) {
        let mut s = self.lock();
        s.killed = Some(why.to_owned());
        if let Some(switch) = &s.switch {
            switch.kill(why);
        }
    }

    /// Whether [`KillSlot::kill`] was called.
    pub fn killed(&self) -> bool {
        self.lock().killed.is_some()
    }
}

/// A body that ended in a call over the bus: which body, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Death {
    pub generation: u64,
    pub cause: Cause,
}

impl std::fmt::Display for Death {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.cause.fmt(f)
    }
}

/// A live body. Once a call returns a fault, every later call returns it
/// again (`broken`).
pub trait Body: Send {
    fn generation(&self) -> u64;
    fn kill_switch(&self) -> Arc<dyn KillSwitch>;
    /// Why the body is broken, if it is.
    fn broken(&self) -> Option<Cause>;
    /// `lifecycle.start`; `Cause::Refused` when the guest refused.
    fn start(&mut self) -> Result<(), Cause>;
    fn stop(&mut self) -> Result<(), Cause>;
    fn handle(
        &mut self,
        from: Ulid,
        target: &Endpoint,
        body: &[u8],
    ) -> Result<Vec<u8>, Unserved<Cause>>;
    fn decide(&mut self, caller: Ulid, target: &Endpoint) -> Result<Decision, Cause>;
    fn on_uevent(&mut self, event: &Uevent) -> Result<(), Cause>;
    fn on_timer(&mut self, token: u64) -> Result<(), Cause>;
    fn on_child_exit(&mut self, child: Ulid, cause: &Cause) -> Result<Verdict, Cause>;
    /// `snapshot.save`: the state it keeps (`None` when it keeps none; the
    /// inner error when what it returned cannot be kept).
    fn save(&mut self) -> Result<Option<Result<Vec<u8>, String>>, Cause> {
        Ok(None)
    }
    /// `snapshot.restore`: its saved state, handed back before `start`;
    /// the inner error is its refusal.
    fn restore(&mut self, state: &[u8]) -> Result<Result<(), String>, Cause> {
        let _ = state;
        Ok(Err("it takes no saved state".into()))
    }
    /// `brain.observe`: a batch of the graph's events; what its rules fired
    /// (`None`: it is no brain).
    fn observe(&mut self, events: &[ente_brain::Event]) -> Result<Option<BrainOutcome>, Cause> {
        let _ = events;
        Ok(None)
    }
    /// An operator's question to the brain (`None`: it is no brain).
    fn ask_brain(&mut self, ask: &BrainAsk) -> Result<Option<BrainAnswer>, Cause> {
        let _ = ask;
        Ok(None)
    }
}

/// What one batch of events did in the brain.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct BrainOutcome {
    pub fired: Vec<ente_brain::Fired>,
    /// Rules it promoted (each read from its JSON on the worker, so that
    /// the loop never parses what a brain wrote) and removed (names) on
    /// its own.
    pub promoted: Vec<Promotion>,
    pub removed: Vec<String>,
    /// What it reported past the host's bounds for one batch: not run,
    /// counted and said.
    pub unrun: u64,
}

/// A rule a brain promoted on its own, as the worker read it.
#[derive(Debug, Clone, PartialEq)]
pub enum Promotion {
    Read(Box<ente_brain::Rule>),
    /// Its JSON does not read as a rule: why, and its name if it has one
    /// (the brain is told to drop it).
    Unread {
        name: Option<String>,
        why: String,
    },
}

impl Promotion {
    /// A rule's JSON, as a brain reported it, read.
    pub fn read(json: &str) -> Promotion {
        match ente_brain::Rule::parse_one(json) {
            Ok(rule) => Promotion::Read(Box::new(rule)),
            Err(why) => Promotion::Unread {
                name: serde_json::from_str::<serde_json::Value>(json)
                    .ok()
                    .and_then(|v| {
                        v.get("name")?
                            .as_str()
                            .map(|n| n.chars().take(256).collect())
                    }),
                why: why.to_string(),
            },
        }
    }
}

/// What an operator asks the brain.
#[derive(Debug, Clone, PartialEq)]
pub enum BrainAsk {
    Crystals(ente_brain::Params),
    Rules,
    /// Promote `a` then `b`, with an action (as a rules file writes it).
    Promote {
        a: String,
        b: String,
        action: Option<String>,
    },
    /// Put a rules file's rules in force.
    Load(String),
    Remove(String),
}

/// The brain's answer.
#[derive(Debug, Clone, PartialEq)]
pub enum BrainAnswer {
    Crystals(Vec<ente_brain::Crystal>),
    /// The rules in force, as a rules file.
    Rules(String),
    /// The promoted rule's JSON, or the refusal.
    Promoted(Result<String, String>),
    Loaded(Result<u32, String>),
    Removed(bool),
}

/// A body on the bus.
pub struct Live(pub Box<dyn Body>);

impl std::fmt::Debug for Live {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Live")
            .field("generation", &self.0.generation())
            .finish_non_exhaustive()
    }
}

impl ente_bus::Body for Live {
    type Fault = Death;

    fn handle(
        &mut self,
        from: Ulid,
        target: &Endpoint,
        body: &[u8],
    ) -> Result<Vec<u8>, Unserved<Death>> {
        let generation = self.0.generation();
        self.0.handle(from, target, body).map_err(|e| match e {
            Unserved::Refused(m) => Unserved::Refused(m),
            Unserved::Broke(cause) => Unserved::Broke(Death { generation, cause }),
        })
    }

    fn broken(&self) -> Option<Death> {
        self.0.broken().map(|cause| Death {
            generation: self.0.generation(),
            cause,
        })
    }
}

/// Makes bodies of one payload kind.
pub trait Runner: Send + Sync {
    /// Make ready what `spec`'s bodies are made from (load, check, link:
    /// slow the first time a component is seen, since it may compile).
    fn prepare(&self, spec: &Spec) -> Result<Arc<dyn Prepared>, Cause>;
    /// A new body of `spec`, made (under `spec.deadline`) but not started.
    fn incarnate(
        &self,
        spec: &Spec,
        prepared: &Arc<dyn Prepared>,
        generation: u64,
    ) -> Result<Box<dyn Body>, Cause>;
}
