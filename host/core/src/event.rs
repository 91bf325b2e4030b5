//! The one closed set of events the core's loop takes. Every source of
//! work (the front end's signals and devices, the executor's finished jobs,
//! the bus's deaths, guests' requests, timers) arrives as one of these.

use crate::cause::Cause;
use crate::runner::{Prepared, Verdict};
use ente_card::Card;
use ente_kernel::reaper::Reaped;
use ente_kernel::uevent::Uevent;
use std::sync::Arc;
use std::time::Duration;
use ulid::Ulid;

/// A signal (or the power key) the front end hands the core.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Signal {
    /// SIGTERM, SIGINT, SIGPWR or the power key: stop everything in order.
    Stop(&'static str),
    /// SIGRTMIN+5: stop everything, then reboot.
    Reboot,
    /// SIGUSR1: take a snapshot now, the graph running on
    /// ([`crate::Kind::SnapshotReady`] says when the states are in).
    Snapshot(&'static str),
}

/// How the loop ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ending {
    /// Stopped on a signal (`ente up`: exit; PID 1: power off).
    Stopped,
    Reboot,
}

#[derive(Debug)]
pub enum Event {
    Signal(Signal),
    Reaped(Reaped),
    Uevent(Uevent),
    /// A job of the executor finished.
    Done(Done),
    /// A body ended in a call over the bus.
    Died {
        ente: Ulid,
        generation: u64,
        cause: Cause,
    },
    /// A guest asked to be woken (`ente:core/timer`).
    Wake {
        ente: Ulid,
        token: u64,
        after: Duration,
    },
    /// A guest forgot a wake-up.
    Unwake {
        ente: Ulid,
        token: u64,
    },
    /// A request of `ente:core/graph`.
    Control(Control),
    /// A batch of the spine's events for the brain.
    Observed(Vec<ente_brain::Event>),
    /// An operator's question to the brain.
    AskBrain {
        ask: crate::runner::BrainAsk,
        reply: Reply<crate::runner::BrainAnswer>,
    },
}

/// The brain's rules at its start: what a restored brain holds (the book
/// takes them), or how handing the book back to a brain that started over
/// without saved state went.
#[derive(Debug)]
pub enum BrainStart {
    /// Restored: the rules file it holds.
    Holds(String),
    /// Its first start in this host's life: the rules it holds (its card's
    /// `RULES`), to be recorded.
    Fresh(String),
    /// How many rules it took back, or why it did not.
    HandedBack(Result<u32, String>),
}

/// A finished job, with what it made.
#[derive(Debug)]
pub enum Done {
    Started {
        ente: Ulid,
        generation: u64,
        prepared: Arc<dyn Prepared>,
        /// Its saved state was handed back first: how many bytes, or why
        /// it refused them.
        restored: Option<Result<usize, String>>,
        /// The brain's rules at its start.
        brain: Option<BrainStart>,
    },
    StartFailed {
        ente: Ulid,
        generation: u64,
        prepared: Option<Arc<dyn Prepared>>,
        cause: Cause,
    },
    Stopped {
        ente: Ulid,
        generation: u64,
        /// A fault of its `lifecycle.stop` (or `snapshot.save`), if it had one.
        fault: Option<Cause>,
        /// What its `snapshot.save` returned at a shutdown, or why it
        /// cannot be kept.
        saved: Option<Result<Vec<u8>, String>>,
    },
    /// A delivery (uevent, wake-up) was handed over, or could not be.
    Delivered { ente: Ulid },
    /// What an Ente's `snapshot.save` returned for a snapshot on request
    /// (`None`: it keeps no state), or why nothing was kept.
    Saved {
        ente: Ulid,
        generation: u64,
        saved: Option<Result<Vec<u8>, String>>,
    },
    /// The brain took a batch of events: what its rules fired.
    Observed {
        brain: Ulid,
        outcome: Result<crate::runner::BrainOutcome, String>,
    },
    /// A parent answered for its `Delegate` child.
    Decided {
        parent: Ulid,
        child: Ulid,
        verdict: Result<Verdict, String>,
    },
    /// A job's host code panicked (a bug of the host); the worker lives on.
    Panicked {
        ente: Ulid,
        generation: u64,
        what: String,
    },
}

/// The answer to a control request, sent back to the waiting guest.
pub type Reply<T> = std::sync::mpsc::SyncSender<Result<T, String>>;

#[derive(Debug)]
pub enum Control {
    Spawn {
        by: Ulid,
        card: Box<Card>,
        reply: Reply<Ulid>,
    },
    Stop {
        by: Ulid,
        ente: Ulid,
        reply: Reply<()>,
    },
    Restart {
        by: Ulid,
        ente: Ulid,
        reply: Reply<()>,
    },
}
