//! The event spine: every state change, lease decision, spawn, stop,
//! restart, death and uevent delivered, as data, numbered and stamped.
//!
//! Two kinds of consumer:
//! - a *durable* one (the audit chain, later) is handed each event in order,
//!   under the spine's lock, before the event is published or the effect it
//!   records is acknowledged, so it can never miss one;
//! - any number of *live* ones (the status, metrics, the rule engine, the
//!   control socket) read a bounded ring. One that falls behind is told how
//!   many events it missed and reads on from the oldest kept; none can block
//!   the core or hold more memory than the ring.

use crate::cause::Cause;
use crate::state::Phase;
use ente_bus::LeaseEvent;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};
use tokio::sync::broadcast;
use ulid::Ulid;

/// The level of a journal line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Level {
    Trace,
    Debug,
    Info,
    Warn,
    Error,
}

impl Level {
    /// The level of a name (`trace`, `debug`, `info`, `warn`, `error`).
    pub fn from_name(name: &str) -> Option<Level> {
        Some(match name {
            "trace" => Level::Trace,
            "debug" => Level::Debug,
            "info" => Level::Info,
            "warn" => Level::Warn,
            "error" => Level::Error,
            _ => return None,
        })
    }

    pub fn name(self) -> &'static str {
        match self {
            Level::Trace => "trace",
            Level::Debug => "debug",
            Level::Info => "info",
            Level::Warn => "warn",
            Level::Error => "error",
        }
    }
}

/// What happened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Kind {
    /// A line of an Ente's journal (`ente:core/journal`, its stdout and
    /// stderr), already safe to print, cut to length and held to its rate.
    Journal {
        level: Level,
        text: String,
    },
    /// An Ente changed state; `detail` is the new state in words.
    State {
        from: Phase,
        to: Phase,
        detail: String,
    },
    /// A body ended.
    Died {
        generation: u64,
        cause: Cause,
    },
    /// A body could not be made or started (a start refused).
    StartFailed {
        generation: u64,
        cause: Cause,
    },
    /// An Ente was spawned at run time by `by`.
    Spawned {
        by: Ulid,
    },
    /// A spawned Ente, stopped, left the table.
    Left,
    /// A request of `graph` (spawn, stop, restart) was refused.
    Refused {
        by: Ulid,
        request: String,
        why: String,
    },
    Lease(LeaseEvent),
    /// A kernel uevent, and how many Entes it was handed to.
    Uevent {
        action: String,
        devpath: String,
        delivered: usize,
    },
    /// Deliveries to an Ente dropped: its queue was full.
    Dropped {
        what: &'static str,
        count: u64,
    },
    /// A child process reaped: a native Ente's main process (the event
    /// names the Ente), or an orphan the host adopted.
    Reaped {
        pid: i32,
        how: String,
    },
    /// A native body's process tree was taken down: `clean` when no
    /// process and no cgroup of it is left; `report` says what was done.
    Teardown {
        generation: u64,
        clean: bool,
        report: String,
    },
    /// The native bus closed or refused a connection (`pid` 0: unknown).
    NativeBus {
        pid: i32,
        why: String,
    },
    /// What of a native Ente's soma was applied when its program started,
    /// and what was not (with why).
    Soma {
        generation: u64,
        pid: i32,
        applied: Vec<String>,
        not_applied: Vec<String>,
    },
    Signal {
        name: String,
    },
    /// Every Ente of the seed's graph that could start has (ready or not).
    Settled {
        ready: usize,
        bodies: usize,
    },
    ShutdownBegun {
        why: String,
    },
    ShutdownDone,
    /// A connection to the control socket was refused: its peer is
    /// neither the host's own user nor root.
    ControlRefused {
        uid: u32,
        pid: i32,
    },
    /// An operator's request over the control socket, done or refused.
    Operator {
        uid: u32,
        request: String,
        outcome: Result<(), String>,
    },
    /// A snapshot was asked for while the graph runs (SIGUSR1): `entes`
    /// that keep state are asked to save it.
    SnapshotAsked {
        by: String,
        entes: usize,
    },
    /// The states of a snapshot on request are in: the front end takes it
    /// now. `late`: the Entes that did not answer within the call deadline
    /// (the snapshot holds the state each saved last).
    SnapshotReady {
        by: String,
        late: Vec<String>,
    },
    /// An Ente's `snapshot.save` (at a shutdown, or on request): the bytes
    /// kept, or why none were.
    StateSaved {
        saved: Result<usize, String>,
    },
    /// An Ente's saved state handed back before its start: the bytes, or
    /// its refusal (it started afresh).
    StateRestored {
        restored: Result<usize, String>,
    },
    /// The graph was restored from a snapshot taken at `taken_ms` (wall,
    /// ms): its spawned Entes again, and its counters and states.
    Restored {
        taken_ms: u64,
        spawned: usize,
        states: usize,
    },
    /// A rule of the brain fired on the event `seq`: its action in words,
    /// the Ente the event was about, and what came of the action (run by
    /// the brain's authority; refused, it was not run).
    RuleFired {
        rule: String,
        action: String,
        subject: Option<Ulid>,
        seq: u64,
        outcome: Result<(), String>,
    },
    /// A rule put in force, by whom (`the brain` on its own, or an
    /// operator), with its JSON (a replay of the audit chain rebuilds the
    /// rules from these).
    RulePromoted {
        rule: String,
        by: String,
        json: String,
    },
    /// A rule taken out of force, by whom.
    RuleRemoved {
        rule: String,
        by: String,
    },
}

/// One event of the spine.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Occurrence {
    /// 1, 2, 3, ... in the order the events happened.
    pub seq: u64,
    /// Since the host started (monotonic).
    pub at: Duration,
    pub wall: SystemTime,
    /// The Ente it is about, and its label.
    pub ente: Option<(Ulid, String)>,
    pub kind: Kind,
}

/// A consumer that may never miss an event.
pub trait Durable: Send {
    fn append(&mut self, event: &Occurrence);
}

struct Inner {
    seq: u64,
    durable: Vec<Box<dyn Durable>>,
}

pub struct Spine {
    inner: Mutex<Inner>,
    ring: broadcast::Sender<Arc<Occurrence>>,
    started: Instant,
}

impl std::fmt::Debug for Spine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Spine").finish_non_exhaustive()
    }
}

/// A live consumer's place in the ring.
#[derive(Debug)]
pub struct Subscription(broadcast::Receiver<Arc<Occurrence>>);

/// What a live consumer reads next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Next {
    Event(Arc<Occurrence>),
    /// It fell behind: this many events were dropped before the next one.
    Missed(u64),
    /// The spine is gone (the host stopped).
    Closed,
}

impl Subscription {
    pub async fn next(&mut self) -> Next {
        match self.0.recv().await {
            Ok(e) => Next::Event(e),
            Err(broadcast::error::RecvError::Lagged(n)) => Next::Missed(n),
            Err(broadcast::error::RecvError::Closed) => Next::Closed,
        }
    }

    /// The next event if one is there, without waiting.
    pub fn try_next(&mut self) -> Option<Next> {
        match self.0.try_recv() {
            Ok(e) => Some(Next::Event(e)),
            Err(broadcast::error::TryRecvError::Lagged(n)) => Some(Next::Missed(n)),
            Err(broadcast::error::TryRecvError::Closed) => Some(Next::Closed),
            Err(broadcast::error::TryRecvError::Empty) => None,
        }
    }
}

impl Spine {
    /// A spine whose ring keeps `ring` events.
    pub fn new(ring: usize) -> Spine {
        let (ring, _) = broadcast::channel(ring.max(1));
        Spine {
            inner: Mutex::new(Inner {
                seq: 0,
                durable: Vec::new(),
            }),
            ring,
            started: Instant::now(),
        }
    }

    /// Hand every event from now on to `consumer`, in order.
    pub fn attach(&self, consumer: Box<dyn Durable>) {
        self.lock().durable.push(consumer);
    }

    pub fn subscribe(&self) -> Subscription {
        Subscription(self.ring.subscribe())
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Record an event; returns its sequence number.
    pub fn emit(&self, ente: Option<(Ulid, &str)>, kind: Kind) -> u64 {
        let mut inner = self.lock();
        inner.seq += 1;
        let event = Arc::new(Occurrence {
            seq: inner.seq,
            at: self.started.elapsed(),
            wall: SystemTime::now(),
            ente: ente.map(|(id, label)| (id, label.to_owned())),
            kind,
        });
        for d in &mut inner.durable {
            d.append(&event);
        }
        // Under the lock, so the ring holds events in sequence order. No
        // receiver is not an error: nobody is watching.
        let _ = self.ring.send(event);
        inner.seq
    }
}

/// A variant's name in snake case: `BackingOff` -> `backing_off` (event
/// kinds as the brain and CloudEvents name them).
pub fn snake(name: &str) -> String {
    let mut out = String::with_capacity(name.len() + 4);
    for (i, c) in name.chars().enumerate() {
        if c.is_ascii_uppercase() && i > 0 {
            out.push('_');
        }
        out.push(c.to_ascii_lowercase());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Keep(Arc<Mutex<Vec<u64>>>);
    impl Durable for Keep {
        fn append(&mut self, e: &Occurrence) {
            self.0.lock().expect("kept").push(e.seq);
        }
    }

    fn signal(n: u64) -> Kind {
        Kind::Signal {
            name: format!("s{n}"),
        }
    }

    #[test]
    fn a_durable_consumer_sees_every_event_in_order_a_slow_one_is_told_what_it_missed() {
        let spine = Arc::new(Spine::new(8));
        let kept = Arc::new(Mutex::new(Vec::new()));
        spine.attach(Box::new(Keep(kept.clone())));
        let mut slow = spine.subscribe();
        let threads: Vec<_> = (0..4)
            .map(|_| {
                let spine = spine.clone();
                std::thread::spawn(move || {
                    for n in 0..250 {
                        spine.emit(None, signal(n));
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().expect("emitter");
        }
        let kept = kept.lock().expect("kept").clone();
        assert_eq!(kept, (1..=1000).collect::<Vec<u64>>());
        // The slow consumer read nothing while 1,000 events passed: it is
        // told it missed 992 and then reads the last 8, in order.
        assert_eq!(slow.try_next(), Some(Next::Missed(992)));
        let rest: Vec<u64> = std::iter::from_fn(|| match slow.try_next() {
            Some(Next::Event(e)) => Some(e.seq),
            _ => None,
        })
        .collect();
        assert_eq!(rest, (993..=1000).collect::<Vec<u64>>());
    }
}
