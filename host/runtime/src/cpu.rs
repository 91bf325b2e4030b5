//! Time each Ente spends running, on the thread that runs it.
//!
//! A call into an Ente charges the time until it returns to that Ente,
//! minus the calls it makes to other Entes over the bus (charged to them)
//! and minus the time it waits in a host call that blocks (`wasi:io/poll`).
//! It is measured with the monotonic clock (about 25 ns a reading here,
//! against about 290 ns for a thread's CPU clock), so it is CPU time as long
//! as the host's threads do not outnumber its cores; on a loaded machine it
//! also counts time the thread waited for a core.

use std::cell::RefCell;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

/// An Ente's running time in nanoseconds, kept across its restarts.
pub type CpuCounter = Arc<AtomicU64>;

thread_local! {
    /// The Entes this thread is inside, innermost last, and since when the
    /// innermost one has been charged.
    static STACK: RefCell<Vec<(CpuCounter, Instant)>> = const { RefCell::new(Vec::new()) };
}

fn charge(counter: &AtomicU64, since: Instant, now: Instant) {
    let ns = u64::try_from(now.saturating_duration_since(since).as_nanos()).unwrap_or(u64::MAX);
    counter.fetch_add(ns, Ordering::Relaxed);
}

/// Charged to `counter` from now until dropped.
#[must_use]
pub(crate) struct Running(());

pub(crate) fn enter(counter: &CpuCounter) -> Running {
    enter_at(Instant::now(), counter)
}

/// [`enter`], from `now`.
pub(crate) fn enter_at(now: Instant, counter: &CpuCounter) -> Running {
    STACK.with(|s| {
        let mut s = s.borrow_mut();
        if let Some((outer, since)) = s.last() {
            charge(outer, *since, now);
        }
        s.push((counter.clone(), now));
    });
    Running(())
}

impl Drop for Running {
    fn drop(&mut self) {
        let now = Instant::now();
        STACK.with(|s| {
            let mut s = s.borrow_mut();
            if let Some((inner, since)) = s.pop() {
                charge(&inner, since, now);
            }
            if let Some((_, since)) = s.last_mut() {
                *since = now;
            }
        });
    }
}

/// Not charged to anyone until dropped (a host call that waits).
#[must_use]
pub(crate) struct Paused(());

pub(crate) fn pause() -> Paused {
    let now = Instant::now();
    STACK.with(|s| {
        if let Some((inner, since)) = s.borrow().last() {
            charge(inner, *since, now);
        }
    });
    Paused(())
}

impl Drop for Paused {
    fn drop(&mut self) {
        let now = Instant::now();
        STACK.with(|s| {
            if let Some((_, since)) = s.borrow_mut().last_mut() {
                *since = now;
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn ns(c: &CpuCounter) -> u64 {
        c.load(Ordering::Relaxed)
    }

    #[test]
    fn a_nested_call_is_charged_to_the_callee_not_the_caller() {
        let (outer, inner) = (CpuCounter::default(), CpuCounter::default());
        {
            let _a = enter(&outer);
            std::thread::sleep(Duration::from_millis(20));
            {
                let _b = enter(&inner);
                std::thread::sleep(Duration::from_millis(60));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        assert!(ns(&inner) >= 60_000_000, "{}", ns(&inner));
        // The caller's own 40 ms, and none of the callee's 60.
        assert!(ns(&outer) >= 40_000_000, "{}", ns(&outer));
        // Had the callee's 60 ms been charged too, it would be 100 or more.
        assert!(ns(&outer) < 100_000_000, "{}", ns(&outer));
    }

    #[test]
    fn a_pause_is_charged_to_nobody() {
        let c = CpuCounter::default();
        {
            let _a = enter(&c);
            let _p = pause();
            std::thread::sleep(Duration::from_millis(50));
        }
        assert!(ns(&c) < 50_000_000, "{}", ns(&c));
    }
}
