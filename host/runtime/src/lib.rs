//! The wasmtime embedding of ente.
//!
//! - [`cas`]: components in a blake3 content-addressed store, verified on read;
//! - [`cache`]: each component compiled once per (digest, engine) and loaded
//!   from a MAC-checked precompile cache;
//! - [`grants`]: capabilities become imports, and the check that a component
//!   imports nothing it is not granted, before it runs;
//! - [`linker`]: one linker per grant set, defining exactly those interfaces;
//! - [`runtime`] and [`instance`]: preparing, instantiating and calling Entes
//!   under deadlines.

pub mod bindings;
pub mod cache;
pub mod cas;
pub mod engine;
pub mod entropy;
pub mod grants;
mod host;
pub mod instance;
pub mod linker;
pub mod runtime;
pub mod state;

pub use bindings::{
    BusError, Capability, Decision, DeviceClass, Endpoint, Grant, Level, NetlinkFamily,
};
pub use cache::{CacheError, PrecompileCache};
pub use cas::{Cas, CasError, digest_of};
pub use engine::Profile;
pub use grants::{Grants, ImportFault, LinkError};
pub use instance::{CallError, Instance};
pub use runtime::{Blueprint, Incarnation, Ports, Runtime, RuntimeError};
pub use state::{BusPort, GraphView, Identity, JournalSink};

/// The journal's name of a level.
pub fn level_name(level: Level) -> &'static str {
    match level {
        Level::Trace => "trace",
        Level::Debug => "debug",
        Level::Info => "info",
        Level::Warn => "warn",
        Level::Error => "error",
    }
}
