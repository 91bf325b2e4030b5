//! What each Ente's store holds: its identity, its WASI context, and the host
//! ports its granted interfaces reach.

use crate::bindings::{BusError, Endpoint, Level};
use std::sync::Arc;
use wasmtime::StoreLimits;
use wasmtime::component::ResourceTable;
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};

/// Who an Ente is, as the host knows it. Set by the host, never by the guest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    pub id: String,
    pub label: String,
}

/// Where journal lines go.
pub trait JournalSink: Send + Sync {
    fn line(&self, ente: &Identity, level: Level, text: &str);
}

/// The bus as an Ente reaches it. `caller` comes from the store's identity.
pub trait BusPort: Send + Sync {
    fn invoke(
        &self,
        caller: &Identity,
        target: Endpoint,
        body: Vec<u8>,
    ) -> Result<Vec<u8>, BusError>;
}

/// The graph as the mediator sees it.
pub trait GraphView: Send + Sync {
    fn label(&self, id: &str) -> Option<String>;
    fn requires(&self, id: &str) -> Vec<crate::bindings::Capability>;
    fn providers(&self, target: &Endpoint) -> Vec<String>;
}

/// The data of one Ente's store.
pub struct EnteState {
    pub identity: Identity,
    pub(crate) wasi: WasiCtx,
    pub(crate) table: ResourceTable,
    pub(crate) journal: Arc<dyn JournalSink>,
    pub(crate) bus: Option<Arc<dyn BusPort>>,
    pub(crate) graph_view: Option<Arc<dyn GraphView>>,
    pub(crate) limits: StoreLimits,
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
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}
