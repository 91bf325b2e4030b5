//! What the core waits for: restarts after backoff, Entes' own wake-ups,
//! the lease purge. One ordered map; the loop sleeps until its first entry.

use std::collections::{BTreeMap, HashMap};
use std::time::Instant;
use ulid::Ulid;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Due {
    /// Start `ente` again (its backoff ended), if still at `generation`.
    Restart {
        ente: Ulid,
        generation: u64,
    },
    /// Kill the start of `ente` at `generation` if it still runs (it was
    /// asked to stop, and the stop grace passed).
    KillStart {
        ente: Ulid,
        generation: u64,
    },
    /// Hand `ente` its wake-up `token`.
    Wake {
        ente: Ulid,
        token: u64,
    },
    PurgeLeases,
    /// The answers of a snapshot on request are no longer waited for.
    SnapshotDeadline,
}

type Key = (Instant, u64);

/// `after` from now; a duration too long for the clock (a guest may ask for
/// `u64::MAX` ms) is a century, which never comes in practice.
pub fn later(after: std::time::Duration) -> Instant {
    let now = Instant::now();
    now.checked_add(after)
        .or_else(|| now.checked_add(std::time::Duration::from_secs(100 * 365 * 86_400)))
        .unwrap_or(now)
}

#[derive(Debug, Default)]
pub struct Timers {
    queue: BTreeMap<Key, Due>,
    seq: u64,
    /// Where each wake-up sits, to cancel it.
    wakes: HashMap<(Ulid, u64), Key>,
}

impl Timers {
    pub fn set(&mut self, at: Instant, due: Due) {
        self.seq += 1;
        let key = (at, self.seq);
        if let Due::Wake { ente, token } = due {
            self.wakes.insert((ente, token), key);
        }
        self.queue.insert(key, due);
    }

    pub fn cancel_wake(&mut self, ente: Ulid, token: u64) {
        if let Some(key) = self.wakes.remove(&(ente, token)) {
            self.queue.remove(&key);
        }
    }

    /// Forget every wake-up of `ente` (its body ended).
    pub fn cancel_wakes_of(&mut self, ente: Ulid) {
        let keys: Vec<(Ulid, u64)> = self
            .wakes
            .keys()
            .filter(|(e, _)| *e == ente)
            .copied()
            .collect();
        for k in keys {
            if let Some(key) = self.wakes.remove(&k) {
                self.queue.remove(&key);
            }
        }
    }

    /// When the first entry is due.
    pub fn next(&self) -> Option<Instant> {
        self.queue.keys().next().map(|(at, _)| *at)
    }

    /// Take every entry due by `now`, in order.
    pub fn take_due(&mut self, now: Instant) -> Vec<Due> {
        let mut due = Vec::new();
        while let Some(entry) = self.queue.first_entry() {
            if entry.key().0 > now {
                break;
            }
            let d = entry.remove();
            if let Due::Wake { ente, token } = d {
                self.wakes.remove(&(ente, token));
            }
            due.push(d);
        }
        due
    }
}
