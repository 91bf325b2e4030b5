//! The raw baseline: plain wasmtime, no ente. A store with a default WASI
//! context, the full WASI p2 linker, and an `ente:core/bus` whose `invoke`
//! calls the peer's handler directly on a store it owns: the shortest
//! synchronous guest -> host -> guest chain wasmtime allows.

use ente_runtime::bindings::ente::core::{bus, journal, timer, types};
use ente_runtime::bindings::exports::ente::core::handler;
use ente_runtime::bindings::{BusError, Endpoint, Level};
use wasmtime::component::{Component, HasSelf, InstancePre, Linker, ResourceTable};
use wasmtime::{Engine, Store};
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};

pub struct RawState {
    wasi: WasiCtx,
    table: ResourceTable,
    pub peer: Option<Peer>,
}

pub struct Peer {
    pub store: Store<RawState>,
    pub handler: handler::Guest,
}

impl RawState {
    pub fn new() -> RawState {
        RawState {
            wasi: WasiCtx::builder().build(),
            table: ResourceTable::new(),
            peer: None,
        }
    }
}

impl WasiView for RawState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

impl types::Host for RawState {}

impl journal::Host for RawState {
    fn log(&mut self, _level: Level, _message: String) {}
}

impl timer::Host for RawState {
    fn after(&mut self, _ms: u64) -> Result<u64, String> {
        Err("no timers in the raw baseline".into())
    }

    fn cancel(&mut self, _token: u64) -> bool {
        false
    }
}

impl bus::Host for RawState {
    fn invoke(&mut self, target: Endpoint, body: Vec<u8>) -> Result<Vec<u8>, BusError> {
        let Some(peer) = self.peer.as_mut() else {
            return Err(BusError::NoProvider);
        };
        match peer
            .handler
            .call_handle(&mut peer.store, &String::new(), &target, &body)
        {
            Ok(Ok(reply)) => Ok(reply),
            Ok(Err(e)) => Err(BusError::ProviderFailed(e)),
            Err(e) => Err(BusError::ProviderFailed(e.to_string())),
        }
    }
}

/// `component` prepared against the raw linker.
pub fn prepare(engine: &Engine, component: &Component) -> wasmtime::Result<InstancePre<RawState>> {
    let mut linker: Linker<RawState> = Linker::new(engine);
    wasmtime_wasi::p2::add_to_linker_sync(&mut linker)?;
    types::add_to_linker::<RawState, HasSelf<RawState>>(&mut linker, |s| s)?;
    journal::add_to_linker::<RawState, HasSelf<RawState>>(&mut linker, |s| s)?;
    bus::add_to_linker::<RawState, HasSelf<RawState>>(&mut linker, |s| s)?;
    timer::add_to_linker::<RawState, HasSelf<RawState>>(&mut linker, |s| s)?;
    linker.instantiate_pre(component)
}

/// A store without any WASI context: what an Ente that imports no WASI
/// (the system Entes) needs at the least.
pub struct BareState;

impl types::Host for BareState {}

impl journal::Host for BareState {
    fn log(&mut self, _level: Level, _message: String) {}
}

/// `component` prepared against a linker without WASI.
pub fn prepare_bare(
    engine: &Engine,
    component: &Component,
) -> wasmtime::Result<InstancePre<BareState>> {
    let mut linker: Linker<BareState> = Linker::new(engine);
    types::add_to_linker::<BareState, HasSelf<BareState>>(&mut linker, |s| s)?;
    journal::add_to_linker::<BareState, HasSelf<BareState>>(&mut linker, |s| s)?;
    linker.instantiate_pre(component)
}

/// A bare instance (no WASI context), kept with its store.
pub fn instantiate_bare(
    engine: &Engine,
    pre: &InstancePre<BareState>,
) -> wasmtime::Result<(Store<BareState>, handler::Guest)> {
    let mut store = Store::new(engine, BareState);
    store.set_epoch_deadline(u64::MAX / 2);
    let instance = pre.instantiate(&mut store)?;
    let handler = handler::GuestIndices::new(pre)?.load(&mut store, &instance)?;
    Ok((store, handler))
}

/// A raw instance with its handler.
pub fn instantiate(engine: &Engine, pre: &InstancePre<RawState>) -> wasmtime::Result<Peer> {
    let mut store = Store::new(engine, RawState::new());
    // The shared engine interrupts on epochs; a raw store must set a deadline.
    store.set_epoch_deadline(u64::MAX / 2);
    let instance = pre.instantiate(&mut store)?;
    let handler = handler::GuestIndices::new(pre)?.load(&mut store, &instance)?;
    Ok(Peer { store, handler })
}
