//! Which Ente each native process belongs to. A runner registers the main
//! process of a native body when it starts it; the core, handed every
//! reaped pid by its front end (the one reaper), finds the body here and
//! turns the exit into that body's death. A pid is removed when reaped, so
//! a reused pid is never taken for an earlier body's.

use ente_kernel::reaper::Reaped;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use ulid::Ulid;

/// Told how a registered process ended (the body waiting on it).
pub trait ExitSink: Send + Sync {
    fn ended(&self, reaped: &Reaped);
}

/// A registered main process.
#[derive(Clone)]
pub struct Proc {
    pub ente: Ulid,
    pub generation: u64,
    pub sink: Arc<dyn ExitSink>,
}

impl std::fmt::Debug for Proc {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Proc")
            .field("ente", &self.ente)
            .field("generation", &self.generation)
            .finish_non_exhaustive()
    }
}

/// The registry: main pid to its Ente and body.
#[derive(Debug, Default)]
pub struct Procs(Mutex<HashMap<i32, Proc>>);

impl Procs {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<i32, Proc>> {
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// `pid` is the main process of `ente`'s body `generation`.
    pub fn register(&self, pid: i32, proc: Proc) {
        self.lock().insert(pid, proc);
    }

    /// The body `reaped` was the main process of, told of its end and
    /// forgotten; `None` for any other process (an orphan the host adopted).
    pub fn reaped(&self, reaped: &Reaped) -> Option<Proc> {
        let proc = self.lock().remove(&reaped.pid)?;
        proc.sink.ended(reaped);
        Some(proc)
    }

    /// How many main processes are registered.
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}
