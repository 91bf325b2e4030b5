//! How a call into an Ente is made to end: its deadline, and a kill from
//! the host.
//!
//! Every call (and instantiation, which runs a component's start functions)
//! carries a deadline in its store's [`Clock`]. The engine's epoch ticks
//! every [`crate::runtime::EPOCH_TICK`]; at each tick a running guest checks
//! the clock and the store's [`Interrupt`] (wasmtime's epoch callback), and
//! a host call that can wait (`wasi:io/poll`) waits on the same deadline and
//! the same interrupt. So a call ends within a tick of its deadline or of a
//! kill, whether the guest spins or sleeps.

use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// The host's handle to stop whatever an Ente's store is running now, and
/// every later call into it.
#[derive(Debug, Default)]
pub struct Interrupt {
    killed: AtomicBool,
    why: Mutex<String>,
    notify: tokio::sync::Notify,
}

impl Interrupt {
    pub fn new() -> Arc<Interrupt> {
        Arc::new(Interrupt::default())
    }

    /// End the call in progress (within a tick) and refuse every later one.
    pub fn kill(&self, why: &str) {
        *self.why.lock().unwrap_or_else(|p| p.into_inner()) = why.to_owned();
        self.killed.store(true, Ordering::Release);
        self.notify.notify_waiters();
    }

    pub fn is_killed(&self) -> bool {
        self.killed.load(Ordering::Acquire)
    }

    fn why(&self) -> String {
        self.why.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Resolves once [`Interrupt::kill`] was called.
    pub(crate) async fn killed(&self) {
        loop {
            let notified = self.notify.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if self.is_killed() {
                return;
            }
            notified.await;
        }
    }
}

/// The call a store is running, and when it must end.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Clock {
    pub(crate) call: &'static str,
    pub(crate) budget: Duration,
    pub(crate) deadline: Option<Instant>,
}

impl Clock {
    pub(crate) fn idle() -> Clock {
        Clock {
            call: "(no call)",
            budget: Duration::ZERO,
            deadline: None,
        }
    }

    pub(crate) fn start(call: &'static str, budget: Duration) -> Clock {
        Clock::starting_at(Instant::now(), call, budget)
    }

    pub(crate) fn starting_at(now: Instant, call: &'static str, budget: Duration) -> Clock {
        Clock {
            call,
            budget,
            deadline: now.checked_add(budget),
        }
    }

    /// Time left before the deadline.
    pub(crate) fn left(&self) -> Duration {
        self.deadline.map_or(Duration::MAX, |d| {
            d.saturating_duration_since(Instant::now())
        })
    }
}

/// A call ran past its deadline.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("deadline of {budget:?} passed in `{call}`")]
pub struct DeadlineReached {
    pub call: &'static str,
    pub budget: Duration,
}

/// The host killed the Ente during a call.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("killed by the host in `{call}`: {why}")]
pub struct Killed {
    pub call: &'static str,
    pub why: String,
}

/// Whether the call on `clock` must end now, and why.
pub(crate) fn check(clock: &Clock, interrupt: &Interrupt) -> wasmtime::Result<()> {
    if interrupt.is_killed() {
        return Err(wasmtime::Error::new(Killed {
            call: clock.call,
            why: interrupt.why(),
        }));
    }
    if clock.deadline.is_some_and(|d| Instant::now() >= d) {
        return Err(wasmtime::Error::new(DeadlineReached {
            call: clock.call,
            budget: clock.budget,
        }));
    }
    Ok(())
}

/// Run `work` (a host call that may wait) until it finishes, the call's
/// deadline passes or the Ente is killed, whichever comes first.
pub(crate) async fn bounded<R>(
    clock: Clock,
    interrupt: &Interrupt,
    work: impl Future<Output = wasmtime::Result<R>>,
) -> wasmtime::Result<R> {
    check(&clock, interrupt)?;
    let deadline = async {
        match clock.deadline {
            Some(d) => tokio::time::sleep_until(d.into()).await,
            None => std::future::pending().await,
        }
    };
    tokio::select! {
        done = work => done,
        () = deadline => Err(wasmtime::Error::new(DeadlineReached { call: clock.call, budget: clock.budget })),
        () = interrupt.killed() => Err(wasmtime::Error::new(Killed { call: clock.call, why: interrupt.why() })),
    }
}
