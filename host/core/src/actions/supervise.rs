//! Supervision: what happens when a body ends. `Restart` backs off
//! exponentially from `initial_ms` to `max_ms` and gives up after the start
//! limit; `OneShot` ends; `Delegate` asks the parent. A cause that no
//! restart can help (an unbuildable payload) fails at once.

use crate::Cause;
use crate::core::Core;
use crate::runner::Verdict;
use crate::spine::Kind;
use crate::state::{Failure, State};
use crate::table::Delivery;
use crate::timers::Due;
use ente_card::Supervision;
use std::time::{Duration, Instant};
use ulid::Ulid;

impl Core {
    /// A body of `id` died in a call (reported by the bus).
    pub(crate) fn on_died(&mut self, id: Ulid, generation: u64, cause: Cause) {
        {
            let mut t = self.write();
            let Some(r) = t.get_mut(id) else { return };
            if r.generation != generation {
                return;
            }
            self.h.spine.emit(
                Some((id, r.label())),
                Kind::Died {
                    generation,
                    cause: cause.clone(),
                },
            );
            match r.state {
                State::Ready { .. } => {}
                // On the bus before the core saw it ready: once it does.
                State::Starting => {
                    r.died_starting = Some(cause);
                    return;
                }
                // Stopping: the stop job ends it.
                _ => return,
            }
        }
        self.timers.cancel_wakes_of(id);
        // What was queued was for the body that died.
        self.orphan_decisions(id);
        self.supervise(id, cause, true);
    }

    /// A job's host code panicked: a fault of the host, which the Ente's
    /// supervision handles like any other end of its body.
    pub(crate) fn on_host_fault(&mut self, id: Ulid, generation: u64, what: String) {
        let cause = Cause::Host { message: what };
        let state = {
            let mut t = self.write();
            let Some(r) = t.get_mut(id) else { return };
            if r.generation != generation {
                // A delivery to an earlier body: its job is over all the same.
                r.busy = false;
                return;
            }
            r.state.clone()
        };
        match state {
            State::Starting => self.on_start_failed(id, generation, None, cause),
            State::Stopping => self.on_stopped(id, generation, Some(cause), None),
            _ => self.on_delivered(id),
        }
    }

    /// Decide what follows the end of `id`'s body. `ran`: it had become
    /// ready (the end of a OneShot that ran is not a failure).
    pub(crate) fn supervise(&mut self, id: Ulid, cause: Cause, ran: bool) {
        let (supervision, stop_wanted, parent, since) = {
            let t = self.read();
            let Some(r) = t.get(id) else { return };
            let since = match r.state {
                State::Ready { since } => Some(since),
                _ => None,
            };
            (r.card.supervision, r.stop_wanted, r.parent, since)
        };
        if self.shutdown.is_some() || stop_wanted {
            let mut t = self.write();
            self.set_state(&mut t, id, State::Stopped { cause: None });
            drop(t);
            self.advance_plans();
            return;
        }
        if cause.is_permanent() {
            self.fail(id, cause, Failure::Unbuildable);
            return;
        }
        if let Some(since) = since
            && since.elapsed() >= self.config.backoff_reset
            && let Some(r) = self.write().get_mut(id)
        {
            r.failures = 0;
        }
        match supervision {
            Supervision::OneShot if ran => {
                let mut t = self.write();
                self.set_state(&mut t, id, State::Ended { cause });
            }
            Supervision::OneShot => self.fail(id, cause, Failure::NotStarted),
            Supervision::Restart { initial_ms, max_ms } => {
                let failures = {
                    let mut t = self.write();
                    let Some(r) = t.get_mut(id) else { return };
                    r.failures = r.failures.saturating_add(1);
                    r.failures
                };
                let delay = backoff(initial_ms, max_ms, failures);
                self.restart_after(id, cause, delay);
            }
            Supervision::Delegate => self.ask_parent(id, parent, cause),
        }
    }

    fn fail(&mut self, id: Ulid, cause: Cause, why: Failure) {
        let mut t = self.write();
        self.set_state(&mut t, id, State::Failed { cause, why });
        drop(t);
        self.advance_plans();
    }

    /// Back off for `delay`, unless the start limit is reached.
    fn restart_after(&mut self, id: Ulid, cause: Cause, delay: Duration) {
        let limit = self.config.start_limit;
        let now = Instant::now();
        let mut t = self.write();
        let Some(r) = t.get_mut(id) else { return };
        while r
            .starts
            .front()
            .is_some_and(|s| now.saturating_duration_since(*s) > limit.interval)
        {
            r.starts.pop_front();
        }
        if r.starts.len() >= limit.burst as usize {
            drop(t);
            self.fail(
                id,
                cause,
                Failure::StartLimit {
                    burst: limit.burst,
                    interval: limit.interval,
                },
            );
            return;
        }
        r.restarts = r.restarts.saturating_add(1);
        let attempt = r.restarts;
        let generation = r.generation;
        let until = crate::timers::later(delay);
        self.set_state(
            &mut t,
            id,
            State::BackingOff {
                until,
                attempt,
                cause,
            },
        );
        drop(t);
        self.timers.set(
            until,
            Due::Restart {
                ente: id,
                generation,
            },
        );
    }

    /// The backoff of `id` ended: start it again.
    pub(crate) fn restart_due(&mut self, id: Ulid, generation: u64) {
        let due = {
            let mut t = self.write();
            match t.get_mut(id) {
                Some(r)
                    if r.generation == generation
                        && matches!(r.state, State::BackingOff { .. }) =>
                {
                    self.set_state(&mut t, id, State::Waiting);
                    true
                }
                _ => false,
            }
        };
        if due {
            self.start_if_ready(id);
        }
    }

    /// `Delegate`: hand the parent the question, if it can answer.
    fn ask_parent(&mut self, id: Ulid, parent: Option<Ulid>, cause: Cause) {
        let can = {
            let t = self.read();
            parent.and_then(|p| t.get(p)).map(|p| {
                (
                    p.id,
                    matches!(p.state, State::Ready { .. }),
                    p.exports().supervisor,
                    p.label().to_owned(),
                )
            })
        };
        let why = match can {
            Some((p, true, true, _)) => {
                let mut t = self.write();
                self.set_state(
                    &mut t,
                    id,
                    State::Deciding {
                        cause: cause.clone(),
                    },
                );
                drop(t);
                self.enqueue(p, Delivery::ChildExit { child: id, cause });
                return;
            }
            Some((_, false, _, label)) => format!("`{label}` is not running"),
            Some((_, true, false, label)) => {
                format!("`{label}` does not export ente:core/supervisor")
            }
            None => "it has no parent Ente".to_owned(),
        };
        self.fail(
            id,
            cause,
            Failure::NoDecision {
                parent: parent.unwrap_or_default(),
                why,
            },
        );
    }

    /// A parent answered for its child.
    pub(crate) fn on_decided(
        &mut self,
        parent: Ulid,
        child: Ulid,
        verdict: Result<Verdict, String>,
    ) {
        let cause = {
            let t = self.read();
            match t.get(child).map(|r| &r.state) {
                Some(State::Deciding { cause }) => cause.clone(),
                _ => return,
            }
        };
        match verdict {
            Ok(Verdict::Restart { after }) => self.restart_after(child, cause, after),
            Ok(Verdict::Stop) => {
                let mut t = self.write();
                self.set_state(&mut t, child, State::Stopped { cause: Some(cause) });
            }
            Err(why) => self.fail(child, cause, Failure::NoDecision { parent, why }),
        }
    }

    /// `id`'s body ended with deliveries queued: they are dropped, and
    /// questions about its children fail.
    pub(crate) fn orphan_decisions(&mut self, id: Ulid) {
        let children: Vec<Ulid> = {
            let mut t = self.write();
            let Some(r) = t.get_mut(id) else { return };
            let asked: Vec<Ulid> = r
                .deliveries
                .iter()
                .filter_map(|d| match d {
                    Delivery::ChildExit { child, .. } => Some(*child),
                    _ => None,
                })
                .collect();
            r.deliveries.clear();
            asked
        };
        for child in children {
            self.on_decided(id, child, Err("it died before it answered".into()));
        }
    }
}

/// The delay before restart `n` (1 for the first failure): `initial_ms`
/// doubled each time, at most `max_ms`.
pub fn backoff(initial_ms: u64, max_ms: u64, n: u32) -> Duration {
    let doubled = initial_ms.saturating_mul(1u64 << n.saturating_sub(1).min(62));
    Duration::from_millis(doubled.min(max_ms))
}

#[cfg(test)]
mod tests {
    use super::backoff;
    use std::time::Duration;

    #[test]
    fn backoff_doubles_from_initial_up_to_max() {
        let ms = |n| backoff(100, 1000, n);
        assert_eq!(ms(1), Duration::from_millis(100));
        assert_eq!(ms(2), Duration::from_millis(200));
        assert_eq!(ms(4), Duration::from_millis(800));
        assert_eq!(ms(5), Duration::from_millis(1000));
        assert_eq!(ms(200), Duration::from_millis(1000));
    }
}
