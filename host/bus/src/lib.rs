//! The bus: typed request/response between Entes.
//!
//! - The host stamps the caller's id; a guest never chooses its identity.
//! - The first call of (caller, endpoint) asks the [`Mediator`]; its lease is
//!   cached ([`LeaseCache`]), so a later call is one lookup.
//! - A call runs on the caller's thread against the provider's body
//!   ([`Slot`]); a busy provider queues callers in a bounded mailbox, and a
//!   full one answers [`BusError::Busy`].
//! - A call that would wait on itself (a self-call, or a cycle across
//!   threads) is answered [`BusError::Cycle`], never a deadlock.
//!
//! This crate knows nothing of wasmtime: a body is anything that implements
//! [`Body`].

mod lease;
mod route;
mod slot;

pub use lease::{DEFAULT_TTL, Lease, LeaseCache};
pub use route::{Bus, BusConfig};
pub use slot::Slot;

use ente_card::Endpoint;
use std::time::Duration;
use ulid::Ulid;

/// What serves calls: an Ente's body.
pub trait Body: Send {
    /// Serve one call. `Err` is the provider's failure, in words.
    fn handle(&mut self, from: Ulid, target: &Endpoint, body: &[u8]) -> Result<Vec<u8>, String>;
    /// Whether the body is broken (it trapped): it takes no more calls.
    fn failed(&self) -> bool;
}

/// The mediator's answer to a first call of (caller, target).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    Allow { provider: Ulid, ttl: Duration },
    Deny(String),
}

/// Who decides grants and routes.
pub trait Mediator: Send + Sync {
    fn decide(&self, caller: Ulid, target: &Endpoint) -> Decision;
}

/// Why a call did not reach its provider, or failed there.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BusError {
    #[error("denied by the mediator: {0}")]
    Denied(String),
    #[error("no running Ente provides {0}")]
    NoProvider(String),
    #[error("the provider `{0}` is busy: its mailbox is full")]
    Busy(String),
    #[error("the call would wait on itself: {0}")]
    Cycle(String),
    #[error("the body is {size} bytes, more than the bus carries ({max})")]
    TooLarge { size: u64, max: u64 },
    #[error("the provider `{provider}` failed: {message}")]
    ProviderFailed { provider: String, message: String },
}
