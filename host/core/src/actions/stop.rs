//! Stop: children first, in reverse ready order, one Ente after the other.
//! A body is taken off the bus (waiting up to the stop grace for a call in
//! progress, then killing it), asked `lifecycle.stop` under the call
//! deadline, and dropped.

use crate::Cause;
use crate::core::{Core, Plan, Then};
use crate::event::{Done, Ending, Event};
use crate::spine::Kind;
use crate::state::State;
use std::time::Duration;
use ulid::Ulid;

/// After the kill, how long the stop waits for the killed call to unwind.
const AFTER_KILL: Duration = Duration::from_millis(500);

impl Core {
    /// Stop `ids` (and what waits on them) one after the other, in reverse
    /// ready order, then do `then`.
    pub(crate) fn plan_stop(&mut self, ids: Vec<Ulid>, then: Then) {
        let mut ids = ids;
        {
            let t = self.read();
            // Later-ready first; the mediator after every other body (any
            // of them may call through it while it stops); those without a
            // body last, children (added after their parents) before parents.
            let added: std::collections::HashMap<Ulid, usize> = t
                .ids()
                .into_iter()
                .enumerate()
                .map(|(n, id)| (id, n))
                .collect();
            ids.sort_by_key(|id| {
                // One never ready yet (still starting, say) is the newest.
                let (bodiless, mediator, order) = t.get(*id).map_or((true, false, 0), |r| {
                    let order = if r.order == 0 { u64::MAX } else { r.order };
                    (!r.has_body(), r.mediator, order)
                });
                let place = added.get(id).copied().unwrap_or(0);
                (
                    bodiless,
                    mediator,
                    std::cmp::Reverse(order),
                    std::cmp::Reverse(place),
                )
            });
        }
        self.plans.push(Plan {
            queue: ids.into(),
            then,
        });
        self.advance_plans();
    }

    pub(crate) fn begin_shutdown(&mut self, ending: Ending, why: &str) {
        tracing::info!(%why, "stopping every Ente");
        self.shutdown = Some(ending);
        self.h.spine.emit(
            None,
            Kind::ShutdownBegun {
                why: why.to_owned(),
            },
        );
        // For the snapshot: the leases as they stood (stops drop them).
        let leases = self.h.bus.leases().list(std::time::Instant::now());
        self.write().leases_at_stop = leases;
        let all = self.read_ids();
        self.plan_stop(all, Then::Shutdown);
    }

    /// Move every plan on as far as it goes now.
    pub(crate) fn advance_plans(&mut self) {
        let mut i = 0;
        while i < self.plans.len() {
            while let Some(&front) = self.plans[i].queue.front() {
                if !self.begin_stop(front) {
                    break;
                }
                self.plans[i].queue.pop_front();
            }
            if self.plans[i].queue.is_empty() {
                let plan = self.plans.remove(i);
                self.finish(plan.then);
            } else {
                i += 1;
            }
        }
    }

    /// Begin stopping `id`; true when it is stopped already (or has nothing
    /// to stop), false while its stop is under way.
    fn begin_stop(&mut self, id: Ulid) -> bool {
        let mut t = self.write();
        let Some(r) = t.get_mut(id) else { return true };
        r.stop_wanted = true;
        r.start_after = false;
        match r.state {
            State::Ready { .. } => {}
            State::Starting => {
                // Its start may not outlast the stop grace (at once when the
                // whole host stops).
                let (generation, grace) = (r.generation, self.config.stop_grace);
                drop(t);
                if self.shutdown.is_some() {
                    self.kill_start(id, generation);
                } else {
                    self.timers.set(
                        crate::timers::later(grace),
                        crate::timers::Due::KillStart {
                            ente: id,
                            generation,
                        },
                    );
                }
                return false;
            }
            State::Stopping => return false,
            State::Waiting | State::BackingOff { .. } | State::Deciding { .. } | State::Group => {
                // No body: nothing to stop. A pending restart finds the
                // generation moved on and does nothing.
                r.generation += 1;
                self.set_state(&mut t, id, State::Stopped { cause: None });
                return true;
            }
            State::Stopped { .. } | State::Ended { .. } | State::Failed { .. } => return true,
        }
        let generation = r.generation;
        let kill = r.kill.clone();
        // At a shutdown, an Ente that keeps state saves it before its stop.
        let save = self.shutdown.is_some() && r.exports().snapshot;
        self.set_state(&mut t, id, State::Stopping);
        drop(t);
        let bus = self.h.bus.clone();
        let grace = self.config.stop_grace;
        self.submit(id, generation, move || {
            let mut body = bus.remove(id, grace);
            if body.is_none() && bus.in_call(id) {
                kill.kill("stopping: a call outlasted the stop grace");
                body = bus.remove(id, AFTER_KILL);
            }
            let (mut fault, mut saved) = (None, None);
            if let Some(mut b) = body {
                if save {
                    match b.0.save() {
                        Ok(s) => saved = s,
                        Err(cause) => {
                            saved = Some(Err(format!("snapshot.save broke: {cause}")));
                            fault = Some(cause);
                        }
                    }
                }
                if fault.is_none() {
                    fault = b.0.stop().err();
                }
            }
            Event::Done(Done::Stopped {
                ente: id,
                generation,
                fault,
                saved,
            })
        });
        false
    }

    pub(crate) fn on_stopped(
        &mut self,
        id: Ulid,
        generation: u64,
        fault: Option<Cause>,
        saved: Option<Result<Vec<u8>, String>>,
    ) {
        {
            let mut t = self.write();
            let Some(r) = t.get_mut(id) else { return };
            if r.generation != generation {
                return;
            }
            r.deliveries.clear();
            if let Some(saved) = saved {
                let kept = saved.as_ref().map(Vec::len).map_err(Clone::clone);
                r.saved = saved.ok();
                self.h
                    .spine
                    .emit(Some((id, r.label())), Kind::StateSaved { saved: kept });
            }
            if let Some(cause) = fault {
                self.h
                    .spine
                    .emit(Some((id, r.label())), Kind::Died { generation, cause });
            }
            self.set_state(&mut t, id, State::Stopped { cause: None });
        }
        self.timers.cancel_wakes_of(id);
        self.advance_plans();
    }

    /// End the start in progress of `id` at `generation`, if it still runs.
    pub(crate) fn kill_start(&mut self, id: Ulid, generation: u64) {
        if let Some(r) = self.read().get(id)
            && r.generation == generation
            && matches!(r.state, State::Starting)
        {
            r.kill.kill("stopping: its start outlasted the stop grace");
        }
    }

    fn finish(&mut self, then: Then) {
        match then {
            Then::Shutdown => {
                self.h.spine.emit(None, Kind::ShutdownDone);
                self.ending = self.shutdown;
            }
            Then::Nothing => {}
            Then::Restart(id) => {
                let subtree = self.read().subtree(id);
                {
                    let mut t = self.write();
                    for &n in &subtree {
                        let Some(r) = t.get_mut(n) else { continue };
                        if !r.state.is_final() {
                            continue;
                        }
                        r.stop_wanted = false;
                        let again = if r.has_body() {
                            State::Waiting
                        } else {
                            State::Group
                        };
                        self.set_state(&mut t, n, again);
                    }
                }
                for n in subtree {
                    self.start_if_ready(n);
                }
            }
            Then::Remove(ids) => {
                let mut t = self.write();
                for id in &ids {
                    if let Some(r) = t.remove(*id)
                        && let Some(parent) = r.parent
                        && let Some(p) = t.get_mut(parent)
                    {
                        p.children.retain(|c| c != id);
                    }
                }
                drop(t);
                for id in &ids {
                    self.h.bus.forget(*id);
                    self.h.floors.forget(*id);
                    self.waiters.remove(id);
                    self.spawned.retain(|(_, c)| c.id != *id);
                    self.h.spine.emit(Some((*id, "")), Kind::Left);
                }
                for waiting in self.waiters.values_mut() {
                    waiting.retain(|w| !ids.contains(w));
                }
                self.waiters.retain(|_, w| !w.is_empty());
            }
        }
    }
}
