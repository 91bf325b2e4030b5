//! What each Ente's store holds: its identity, its WASI context, the host
//! ports its granted interfaces reach, its limits, and the clock of the call
//! in progress.

use crate::bindings::{BusError, Endpoint, Level};
use crate::host::JournalGate;
use crate::interrupt::{Clock, Interrupt};
use crate::limits::EnteLimiter;
use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;
use wasmtime::component::ResourceTable;
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};

/// Who an Ente is, as the host knows it. Set by the host, never by the guest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    pub id: String,
    pub label: String,
}

/// Where journal lines go, already made safe to print (see
/// [`crate::host::clean`]) and held to the rate.
pub trait JournalSink: Send + Sync {
    fn line(&self, ente: &Identity, level: Level, text: &str);

    /// Whether a line of `ente` at `level` is kept at all: asked before the
    /// line is cleaned or counted against the Ente's rate, so that lines
    /// under its level cost it nothing.
    fn admits(&self, ente: &Identity, level: Level) -> bool {
        let _ = (ente, level);
        true
    }
}

/// The bus as an Ente reaches it. `caller` comes from the store's identity.
pub trait BusPort: Send + Sync {
    fn invoke(
        &self,
        caller: &Identity,
        target: Endpoint,
        body: Vec<u8>,
    ) -> Result<Vec<u8>, BusError>;

    /// The largest request the bus carries: a larger body is refused before
    /// it is read out of the guest.
    fn max_request(&self) -> usize {
        4 << 20
    }
}

/// The live graph, for holders of Spawn (`ente:core/graph`). Each answer
/// must come `within` the time left of the caller's call.
pub trait GraphPort: Send + Sync {
    fn spawn(
        &self,
        caller: &Identity,
        card_json: String,
        within: Duration,
    ) -> Result<String, String>;
    fn stop(&self, caller: &Identity, id: String, within: Duration) -> Result<(), String>;
    fn restart(&self, caller: &Identity, id: String, within: Duration) -> Result<(), String>;
}

/// Where an Ente's wake-ups are kept until due (`ente:core/timer`).
pub trait TimerPort: Send + Sync {
    fn set(&self, ente: &Identity, token: u64, after: Duration);
    fn cancel(&self, ente: &Identity, token: u64);
}

/// The graph as the mediator sees it.
pub trait GraphView: Send + Sync {
    fn label(&self, id: &str) -> Option<String>;
    fn requires(&self, id: &str) -> Vec<crate::bindings::Capability>;
    fn providers(&self, target: &Endpoint) -> Vec<String>;
}

/// The process tree of a native Ente, as its shim reaches it
/// (`ente:native/process`). Each call must end within `within`, or when
/// `killed()` turns true.
pub trait ProcessPort: Send + Sync {
    fn spawn(&self, within: Duration) -> Result<u32, String>;
    fn await_ready(&self, within: Duration, killed: &dyn Fn() -> bool) -> Result<(), String>;
    fn deliver(
        &self,
        from: &str,
        target: &Endpoint,
        body: Vec<u8>,
        within: Duration,
    ) -> Result<Vec<u8>, String>;
    fn stop(&self, within: Duration) -> String;
}

/// Tokens of wake-ups are unique in the host, over every incarnation, so
/// that one from an earlier body is never taken for a new one's.
pub(crate) fn next_timer_token() -> u64 {
    static NEXT: AtomicU64 = AtomicU64::new(1);
    NEXT.fetch_add(1, Ordering::Relaxed)
}

/// An Ente's pending wake-ups.
#[derive(Default)]
pub(crate) struct Timers {
    pub(crate) port: Option<Arc<dyn TimerPort>>,
    pub(crate) pending: HashSet<u64>,
}

/// The data of one Ente's store.
pub struct EnteState {
    pub identity: Identity,
    /// `None` for an Ente that imports no WASI (its linker defines none).
    pub(crate) wasi: Option<WasiCtx>,
    pub(crate) table: ResourceTable,
    pub(crate) journal: Arc<JournalGate>,
    pub(crate) bus: Option<Arc<dyn BusPort>>,
    pub(crate) graph: Option<Arc<dyn GraphPort>>,
    pub(crate) graph_view: Option<Arc<dyn GraphView>>,
    pub(crate) process: Option<Arc<dyn ProcessPort>>,
    pub(crate) timers: Timers,
    pub(crate) limiter: EnteLimiter,
    pub(crate) clock: Clock,
    pub(crate) interrupt: Arc<Interrupt>,
    /// `wasi:random/insecure-seed`, drawn on first use.
    pub(crate) insecure_seed: Option<u128>,
}

impl std::fmt::Debug for EnteState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EnteState")
            .field("identity", &self.identity)
            .finish_non_exhaustive()
    }
}

impl WasiView for EnteState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        // Only a linker with WASI in it calls this, and only an Ente that
        // imports WASI gets such a linker and a context; an empty one stands
        // in should that ever change.
        let ctx = self
            .wasi
            .get_or_insert_with(|| wasmtime_wasi::WasiCtxBuilder::new().build());
        WasiCtxView {
            ctx,
            table: &mut self.table,
        }
    }
}
