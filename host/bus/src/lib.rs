//! The bus: typed request/response between Entes.
//!
//! - The host stamps the caller's id; a guest never chooses its identity.
//! - The first call of (caller, endpoint) asks the [`Mediator`]; its lease is
//!   cached ([`LeaseCache`]), so a later call is one lookup.
//! - A call runs on the caller's thread against the provider's body
//!   ([`Slot`]); a busy provider queues callers in a bounded mailbox, served
//!   first come first served, and a full one answers [`BusError::Busy`].
//! - A call that would wait on itself (a self-call, or a cycle across
//!   threads) is answered [`BusError::Cycle`], never a deadlock.
//! - Requests and replies are bounded ([`BusConfig`]); an endpoint that is
//!   not well formed never reaches the mediator.
//! - A body that breaks during a call leaves the bus at once, its leases are
//!   dropped, and the [`Observer`] hears of its death with the fault.
//!
//! This crate knows nothing of wasmtime: a body is anything that implements
//! [`Body`].

mod latency;
mod lease;
mod mailbox;
mod route;
mod slot;

pub use latency::{BOUNDS as LATENCY_BOUNDS, Latency, LatencyRead};
pub use lease::{DEFAULT_TTL, Lease, LeaseCache, LeaseUse};
pub use route::{Bus, BusConfig};
pub use slot::Slot;

use ente_card::Endpoint;
use std::time::Duration;
use ulid::Ulid;

/// How a call to a body did not produce a reply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Unserved<F> {
    /// The provider answered with an error of its own; it is intact.
    Refused(String),
    /// The body broke (it trapped, ran out of time or memory): it takes no
    /// more calls.
    Broke(F),
}

/// What serves calls: an Ente's body.
pub trait Body: Send {
    /// Why a body broke, as the host reports it.
    type Fault: Clone + Send + std::fmt::Display;
    /// Serve one call.
    fn handle(
        &mut self,
        from: Ulid,
        target: &Endpoint,
        body: &[u8],
    ) -> Result<Vec<u8>, Unserved<Self::Fault>>;
    /// Why the body is broken, if it is (a call through [`Bus::enter`] broke it).
    fn broken(&self) -> Option<Self::Fault>;
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

/// A change of the lease table, for the host's record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LeaseEvent {
    Granted {
        caller: Ulid,
        endpoint: Endpoint,
        provider: Ulid,
        ttl: Duration,
    },
    Denied {
        caller: Ulid,
        endpoint: Endpoint,
        reason: String,
    },
    /// Extended by use: it had less than half its time left.
    Renewed {
        caller: Ulid,
        endpoint: Endpoint,
        provider: Ulid,
    },
    Expired {
        caller: Ulid,
        endpoint: Endpoint,
        provider: Ulid,
    },
    /// Every lease held by or granted to `ente` dropped: it died or stopped.
    Dropped { ente: Ulid, count: usize },
}

/// What the bus tells the host. Called on the thread where it happened;
/// an implementation must not call back into the bus.
pub trait Observer<F>: Send + Sync {
    /// The body of `ente` broke in a call and left the bus.
    fn broke(&self, ente: Ulid, fault: &F);
    fn lease(&self, event: LeaseEvent);
    /// Why `ente` has no body on the bus now (starting, backing off,
    /// stopped), in words for its callers; `ended` is the fault of its last
    /// body when that body broke (the host may not have heard of it yet).
    fn absent(&self, ente: Ulid, ended: Option<&str>) -> String;
}

/// Why a call did not reach its provider, or failed there.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BusError {
    #[error("denied by the mediator: {0}")]
    Denied(String),
    #[error("no running Ente provides {0}")]
    NoProvider(String),
    #[error("the provider `{provider}` is not running: {state}")]
    NotRunning { provider: String, state: String },
    #[error("the provider `{0}` is busy: its mailbox is full")]
    Busy(String),
    #[error("the call would wait on itself: {0}")]
    Cycle(String),
    #[error("the {what} is {size} bytes, more than the bus carries ({max})")]
    TooLarge {
        what: &'static str,
        size: u64,
        max: u64,
    },
    #[error("malformed endpoint: {0}")]
    Malformed(String),
    #[error("the provider `{provider}` failed: {message}")]
    ProviderFailed { provider: String, message: String },
}

/// Whether `e` is an endpoint a card could name: 32 lowercase hex characters.
/// Checked before anything else, so that no oversized or malformed interface
/// reaches the mediator.
pub fn check_endpoint(e: &Endpoint) -> Result<(), BusError> {
    let i = e.interface.as_bytes();
    if i.len() == 32 && i.iter().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
        return Ok(());
    }
    let shown = if i.len() > 40 {
        format!("{} bytes", i.len())
    } else {
        format!("`{}`", e.interface.escape_debug())
    };
    Err(BusError::Malformed(format!(
        "the interface is {shown}; an interface is 32 lowercase hex characters"
    )))
}
