//! Typed bindings for every interface of `wit/`, generated from the
//! `host-view` world (every import and export).

wasmtime::component::bindgen!({
    path: "../../wit",
    world: "ente:core/host-view",
});

pub use ente::core::devices::Uevent;
pub use ente::core::journal::Level;
pub use ente::core::types::{
    BusError, Capability, DeviceClass, Endpoint, ExitCause, NetlinkFamily,
};
pub use exports::ente::core::brain::{
    Action as BrainAction, Batch as BrainBatch, Crystal, Fired, Outcome as BrainOutcome,
};
pub use exports::ente::core::mediator::{Decision, Grant};
