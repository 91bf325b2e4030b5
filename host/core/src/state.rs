//! An Ente's lifecycle state, typed. The record in the table owns it;
//! nothing else keeps a copy.

use crate::cause::Cause;
use std::fmt;
use std::time::{Duration, Instant};
use ulid::Ulid;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum State {
    /// Not started yet: its parent, or a provider of something it
    /// requires, is not ready.
    Waiting,
    Starting,
    Ready {
        since: Instant,
    },
    /// Its body ended; it starts again at `until`.
    BackingOff {
        until: Instant,
        attempt: u32,
        cause: Cause,
    },
    /// Its body ended and its parent is asked what to do (`Delegate`).
    Deciding {
        cause: Cause,
    },
    Stopping,
    /// Stopped on request (or its supervisor said to leave it stopped).
    Stopped {
        cause: Option<Cause>,
    },
    /// A `OneShot` Ente whose body ended after it ran: an end, not a failure.
    Ended {
        cause: Cause,
    },
    Failed {
        cause: Cause,
        why: Failure,
    },
    /// No body: a grouping node (`Virtual`).
    Group,
}

/// Why an Ente is left failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Failure {
    /// It started `burst` times within `interval`: a crash loop.
    StartLimit { burst: u32, interval: Duration },
    /// No body can be made from its payload: trying again cannot help.
    Unbuildable,
    /// A `OneShot` Ente that did not start.
    NotStarted,
    /// Its parent, asked under `Delegate`, could not decide.
    NoDecision { parent: Ulid, why: String },
}

/// A state's name, for events and tools.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Phase {
    Waiting,
    Starting,
    Ready,
    BackingOff,
    Deciding,
    Stopping,
    Stopped,
    Ended,
    Failed,
    Group,
}

impl Phase {
    pub fn name(self) -> &'static str {
        match self {
            Phase::Waiting => "waiting",
            Phase::Starting => "starting",
            Phase::Ready => "ready",
            Phase::BackingOff => "backing-off",
            Phase::Deciding => "deciding",
            Phase::Stopping => "stopping",
            Phase::Stopped => "stopped",
            Phase::Ended => "ended",
            Phase::Failed => "failed",
            Phase::Group => "group",
        }
    }
}

impl State {
    pub fn phase(&self) -> Phase {
        match self {
            State::Waiting => Phase::Waiting,
            State::Starting => Phase::Starting,
            State::Ready { .. } => Phase::Ready,
            State::BackingOff { .. } => Phase::BackingOff,
            State::Deciding { .. } => Phase::Deciding,
            State::Stopping => Phase::Stopping,
            State::Stopped { .. } => Phase::Stopped,
            State::Ended { .. } => Phase::Ended,
            State::Failed { .. } => Phase::Failed,
            State::Group => Phase::Group,
        }
    }

    /// Whether nothing more happens to the Ente unless asked (stopped,
    /// ended, failed).
    pub fn is_final(&self) -> bool {
        matches!(
            self,
            State::Stopped { .. } | State::Ended { .. } | State::Failed { .. }
        )
    }

    /// Whether it serves, or will again without being asked: what the
    /// mediator may route to.
    pub fn is_expected(&self) -> bool {
        matches!(
            self,
            State::Ready { .. }
                | State::Starting
                | State::Waiting
                | State::BackingOff { .. }
                | State::Deciding { .. }
        )
    }
}

fn ms(d: Duration) -> u128 {
    d.as_millis()
}

impl fmt::Display for State {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            State::Waiting => f.write_str("waiting"),
            State::Starting => f.write_str("starting"),
            State::Ready { .. } => f.write_str("ready"),
            State::BackingOff {
                until,
                attempt,
                cause,
            } => write!(
                f,
                "backing off: restart {attempt} in {} ms, after it {}",
                ms(until.saturating_duration_since(Instant::now())),
                Said(cause)
            ),
            State::Deciding { cause } => {
                write!(f, "its parent decides, after it {}", Said(cause))
            }
            State::Stopping => f.write_str("stopping"),
            State::Stopped { cause: None } => f.write_str("stopped"),
            State::Stopped { cause: Some(c) } => {
                write!(f, "stopped (its parent said so), after it {}", Said(c))
            }
            State::Ended { cause } => write!(f, "ended: it {}", Said(cause)),
            State::Failed { cause, why } => match why {
                Failure::StartLimit { burst, interval } => write!(
                    f,
                    "failed: {burst} starts within {} s, the start limit; last it {}",
                    interval.as_secs(),
                    Said(cause)
                ),
                Failure::Unbuildable => write!(f, "failed: {cause}"),
                Failure::NotStarted => write!(f, "failed: it {}", Said(cause)),
                Failure::NoDecision { why, .. } => write!(
                    f,
                    "failed: its parent could not decide ({why}), after it {}",
                    Said(cause)
                ),
            },
            State::Group => f.write_str("group"),
        }
    }
}

/// A cause as the end of a sentence that begins "it ...".
struct Said<'a>(&'a Cause);

impl fmt::Display for Said<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Cause::Refused { reason } => write!(f, "refused to start: {reason}"),
            Cause::Unbuildable { message } => write!(f, "could not be built: {message}"),
            other => write!(f, "{}", Lower(other)),
        }
    }
}

struct Lower<'a>(&'a Cause);

impl fmt::Display for Lower<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Cause::Deadline { call, budget } => {
                write!(f, "ran past the deadline of {budget:?} in `{call}`")
            }
            Cause::MemoryLimit { call, limit } => {
                write!(f, "reached its memory limit of {limit} bytes in `{call}`")
            }
            Cause::Killed { why } => write!(f, "was killed: {why}"),
            Cause::Host { message } => write!(f, "met a fault of the host: {message}"),
            other => write!(f, "{other}"),
        }
    }
}
