//! The host core of ente.
//!
//! - One [`Table`] of Entes: a [`Record`] per Ente owns its card, what its
//!   bodies are made from, its typed [`State`] and its counters.
//! - One loop ([`Core::run`]) over one closed enum, [`Event`]: signals,
//!   reaped children, uevents, finished jobs, deaths, guests' requests and
//!   timers. `ente up` and PID 1 run the same loop and differ only in the
//!   sources that feed its inbox.
//! - One module per action (`actions/`): start, stop, supervise, spawn,
//!   deliver.
//! - The [`Runner`] seam: the core makes, starts, calls and stops a body
//!   through it, never knowing whether it is a Wasm component or a native
//!   process behind the shim. A reaped pid is mapped to its native body
//!   through [`Procs`].
//! - The [`Spine`]: every change as a numbered, stamped event; a durable
//!   consumer never misses one, live ones read a bounded ring.
//!
//! Guest code never runs on the loop's thread: every job runs on the
//! executor's workers, and the loop only decides and hands out work.
//!
//! This crate knows nothing of wasmtime.

mod actions;
mod book;
mod cause;
mod config;
mod core;
mod event;
mod executor;
mod populate;
mod procs;
mod runner;
mod snapshot;
mod spine;
mod state;
mod table;
mod timers;
mod wiring;

pub use actions::device_class;
pub use book::{JournalFloors, RuleBook};
pub use cause::Cause;
pub use config::{Config, DEFAULT_MEMORY, StartLimit};
pub use core::{BootError, Core};
pub use event::{BrainStart, Control, Done, Ending, Event, Reply, Signal};
pub use procs::{ExitSink, Proc, Procs};
pub use runner::{
    Body, BrainAnswer, BrainAsk, BrainOutcome, Counters, Death, Exports, KillSlot, KillSwitch,
    Live, Prepared, Promotion, Runner, Spec, Verdict,
};
pub use snapshot::{RestoreError, Restored, STATES_BUDGET, Taken, take as take_snapshot};
pub use spine::{Durable, Kind, Level, Next, Occurrence, Spine, Subscription, snake};
pub use state::{Failure, Phase, State};
pub use table::{Delivery, Record, Table};
pub use wiring::{Handles, Wiring};
