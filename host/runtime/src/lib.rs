//! The wasmtime embedding of ente.
//!
//! - [`cas`]: components in a blake3 content-addressed store, verified on read;
//! - [`cache`]: each component compiled once per (digest, engine) and loaded
//!   from a MAC-checked precompile cache;
//! - [`grants`]: capabilities become imports, and the check that a component
//!   imports nothing it is not granted, before it runs;
//! - [`linker`]: one linker per grant set, defining exactly those interfaces;
//! - [`runtime`] and [`instance`]: preparing, instantiating and calling Entes;
//! - [`interrupt`], [`limits`], [`cpu`]: every call under a deadline and a
//!   kill switch, every store under its memory and per-component limits,
//!   and each Ente's running time.

pub mod bindings;
pub mod cache;
pub mod cas;
pub mod cpu;
pub mod engine;
pub mod entropy;
pub mod grants;
pub mod host;
pub mod incarnate;
pub mod inspect;
pub mod instance;
pub mod interrupt;
pub mod limits;
pub mod linker;
pub mod runtime;
pub mod state;

pub use bindings::{
    BrainAction, BrainBatch, BrainOutcome, BusError, Capability, Crystal, Decision, DeviceClass,
    Endpoint, ExitCause, Fired, Grant, Level, NetlinkFamily,
};
pub use cache::{CacheError, PrecompileCache};
pub use cas::{Cas, CasError, digest_of};
pub use cpu::CpuCounter;
pub use engine::{MAX_ENTES, MAX_POOL, Profile, SMALL_POOL};
pub use grants::{Grants, ImportFault, LinkError};
pub use incarnate::{Incarnation, Ports};
pub use instance::{
    BrainAnswer, BrainAsk, CallError, Exports, Fault, Instance, SupervisorDecision,
};
pub use interrupt::Interrupt;
pub use limits::{MemoryOverCap, memory_limit};
pub use runtime::{Blueprint, Runtime, RuntimeError};
pub use state::{BusPort, GraphPort, GraphView, Identity, JournalSink, ProcessPort, TimerPort};

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
