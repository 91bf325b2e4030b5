//! Start: an Ente starts once its parent and a provider of each thing it
//! requires are ready. The body is made and started on a worker; it goes on
//! the bus only once `lifecycle.start` returned ok.

use crate::Cause;
use crate::core::Core;
use crate::event::{BrainStart, Done, Event};
use crate::runner::{Body, BrainAnswer, BrainAsk, KillSlot, Live, Prepared, Spec};
use crate::spine::Kind;
use crate::state::State;
use std::sync::Arc;
use std::time::Instant;
use ulid::Ulid;

impl Core {
    /// Start `id` if it waits and its dependencies are ready.
    pub(crate) fn start_if_ready(&mut self, id: Ulid) {
        if self.shutdown.is_some() {
            return;
        }
        let ready = {
            let t = self.read();
            t.get(id)
                .is_some_and(|r| matches!(r.state, State::Waiting) && r.has_body())
                && t.can_start(id)
        };
        if ready {
            self.start(id);
        }
    }

    /// Make and start a new body of `id`.
    pub(crate) fn start(&mut self, id: Ulid) {
        if self.shutdown.is_some() {
            return;
        }
        let mut t = self.write();
        let Some(r) = t.get_mut(id) else { return };
        // Only what waits starts: not what was stopped, nor what runs.
        if !r.has_body() || r.stop_wanted || !matches!(r.state, State::Waiting) {
            return;
        }
        if r.busy {
            // A delivery to the body that died is still running: start
            // when it ends.
            r.start_after = true;
            return;
        }
        r.generation += 1;
        r.busy = true;
        r.died_starting = None;
        r.kill = Arc::new(KillSlot::default());
        let kill = r.kill.clone();
        let now = Instant::now();
        let window = self.config.start_limit.interval;
        while r
            .starts
            .front()
            .is_some_and(|s| now.saturating_duration_since(*s) > window)
        {
            r.starts.pop_front();
        }
        r.starts.push_back(now);
        let generation = r.generation;
        let spec = Spec {
            id,
            card: r.card.clone(),
            mediator: r.mediator,
            brain: r.brain,
            deadline: self.config.call_deadline,
            counters: r.counters.clone(),
        };
        let prepared = r.prepared.clone();
        let label = r.label().to_owned();
        // Handed to each body until one has started with it.
        let restore = r.restore.clone();
        // A brain that starts over without saved state (a restart after a
        // crash, an operator's restart) is handed back the rules the host
        // recorded; one restored says what it holds.
        let brain = r
            .brain
            .then(|| (restore.is_none() && self.h.rules.known()).then(|| self.h.rules.file()));
        let budget = self.config.call_deadline;
        self.set_state(&mut t, id, State::Starting);
        drop(t);
        self.starting += 1;
        let (runner, bus) = (self.runner.clone(), self.h.bus.clone());
        self.submit(id, generation, move || {
            let failed = |prepared, cause| {
                Event::Done(Done::StartFailed {
                    ente: id,
                    generation,
                    prepared,
                    cause,
                })
            };
            let prepared = match prepared {
                Some(p) => p,
                None => match runner.prepare(&spec) {
                    Ok(p) => p,
                    Err(cause) => return failed(None, cause),
                },
            };
            let mut body = match runner.incarnate(&spec, &prepared, generation) {
                Ok(b) => b,
                Err(cause) => return failed(Some(prepared), cause),
            };
            kill.arm(body.kill_switch());
            let restored = match restore {
                None => None,
                Some(state) => match body.restore(&state) {
                    Ok(Ok(())) => Some(Ok(state.len())),
                    Ok(Err(why)) => Some(Err(why)),
                    Err(cause) => return failed(Some(prepared), cause),
                },
            };
            let brain = match brain {
                None => None,
                Some(book) => {
                    let restored = matches!(restored, Some(Ok(_)));
                    match brain_start(body.as_mut(), restored, book.as_deref(), budget) {
                        Ok(b) => b,
                        Err(cause) => return failed(Some(prepared), cause),
                    }
                }
            };
            if prepared.exports().lifecycle
                && let Err(cause) = body.start()
            {
                return failed(Some(prepared), cause);
            }
            bus.install(id, &label, Live(body));
            Event::Done(Done::Started {
                ente: id,
                generation,
                prepared,
                restored,
                brain,
            })
        });
    }

    pub(crate) fn on_started(
        &mut self,
        id: Ulid,
        generation: u64,
        prepared: Arc<dyn Prepared>,
        restored: Option<Result<usize, String>>,
        brain: Option<BrainStart>,
    ) {
        self.starting = self.starting.saturating_sub(1);
        let mut t = self.write();
        let Some(r) = t.get_mut(id) else { return };
        if r.generation != generation {
            return;
        }
        if r.brain {
            match brain {
                Some(BrainStart::Holds(file)) => {
                    self.h.rules.set_file(&file);
                    self.h.spine.emit(
                        Some((id, r.label())),
                        Kind::Journal {
                            level: crate::Level::Info,
                            text: format!(
                                "restored with {} rules, recorded as the host's",
                                self.h.rules.len()
                            ),
                        },
                    );
                }
                Some(BrainStart::Fresh(file)) => {
                    // A new rule set: the chain says so, then records
                    // what it starts with.
                    self.h.rules.clear();
                    self.h.spine.emit(
                        Some((id, r.label())),
                        Kind::RuleRemoved {
                            rule: "*".into(),
                            by: "a start without saved state (every rule)".into(),
                        },
                    );
                    if let Ok(f) = ente_brain::RuleFile::parse(&file) {
                        let label = r.label().to_owned();
                        for rule in &f.rules {
                            crate::actions::record_rule(
                                &self.h.spine,
                                &self.h.rules,
                                id,
                                &label,
                                rule,
                                "its card's RULES",
                            );
                        }
                    }
                }
                Some(BrainStart::HandedBack(Ok(n))) => {
                    self.h.spine.emit(
                        Some((id, r.label())),
                        Kind::Journal {
                            level: crate::Level::Info,
                            text: format!(
                                "started without saved state: the {n} rules the host recorded handed back"
                            ),
                        },
                    );
                }
                // Without its saved state and without the book, a brain
                // has no rules: a replay of the audit chain starts over
                // from here.
                other => {
                    if let Some(BrainStart::HandedBack(Err(why))) = other {
                        self.h.spine.emit(
                            Some((id, r.label())),
                            Kind::Journal {
                                level: crate::Level::Warn,
                                text: format!(
                                    "the rules the host recorded were not taken back: {why}"
                                ),
                            },
                        );
                    }
                    self.h.rules.clear();
                    self.h.spine.emit(
                        Some((id, r.label())),
                        Kind::RuleRemoved {
                            rule: "*".into(),
                            by: "a start without saved state (every rule)".into(),
                        },
                    );
                }
            }
        }
        if let Some(restored) = restored {
            r.restore = None;
            self.h
                .spine
                .emit(Some((id, r.label())), Kind::StateRestored { restored });
        }
        r.busy = false;
        r.prepared = Some(prepared);
        // Its place in the order is where it first became ready: its
        // dependents came after it then, and stop before it, whatever
        // restarts happen later.
        if t.get(id).is_some_and(|r| r.order == 0) {
            let order = t.next_order();
            if let Some(r) = t.get_mut(id) {
                r.order = order;
            }
        }
        self.set_state(
            &mut t,
            id,
            State::Ready {
                since: Instant::now(),
            },
        );
        let stop_now = self.shutdown.is_some() || t.get(id).is_some_and(|r| r.stop_wanted);
        // It died on the bus (or its process ended) before the core saw it
        // ready: that death is handled now.
        let died = t.get_mut(id).and_then(|r| r.died_starting.take());
        drop(t);
        if stop_now {
            self.advance_plans();
            return;
        }
        if let Some(cause) = died {
            self.timers.cancel_wakes_of(id);
            self.orphan_decisions(id);
            self.supervise(id, cause, true);
            return;
        }
        self.pump(id);
        self.kick_dependents(id);
    }

    pub(crate) fn on_start_failed(
        &mut self,
        id: Ulid,
        generation: u64,
        prepared: Option<Arc<dyn Prepared>>,
        cause: Cause,
    ) {
        self.starting = self.starting.saturating_sub(1);
        {
            let mut t = self.write();
            let Some(r) = t.get_mut(id) else { return };
            if r.generation != generation {
                return;
            }
            r.busy = false;
            if prepared.is_some() {
                r.prepared = prepared;
            }
            self.h.spine.emit(
                Some((id, r.label())),
                Kind::StartFailed {
                    generation,
                    cause: cause.clone(),
                },
            );
        }
        self.orphan_decisions(id);
        self.supervise(id, cause, false);
    }

    /// Start what waited on `id`, now that it is ready.
    pub(crate) fn kick_dependents(&mut self, id: Ulid) {
        let waiting = self.waiters.get(&id).cloned().unwrap_or_default();
        for w in waiting {
            self.start_if_ready(w);
        }
    }
}

/// The brain's rules at its start, all within `budget`: a restored one
/// says what it holds; one that starts over is handed `book` back whole
/// and in order, in place of whatever it started with (its card's
/// `RULES`), so that what it holds is what the chain says; one starting
/// for the first time says what it holds, and takes it back, so that it
/// does not tell it again.
fn brain_start(
    body: &mut dyn Body,
    restored: bool,
    book: Option<&str>,
    budget: std::time::Duration,
) -> Result<Option<BrainStart>, Cause> {
    let t0 = Instant::now();
    let within = || {
        if t0.elapsed() > budget {
            Err(Cause::Deadline {
                call: "brain.load (its rules handed back)".into(),
                budget,
            })
        } else {
            Ok(())
        }
    };
    let held = match body.ask_brain(&BrainAsk::Rules)? {
        Some(BrainAnswer::Rules(file)) => file,
        _ => return Ok(None),
    };
    if restored {
        return Ok(Some(BrainStart::Holds(held)));
    }
    let Some(book) = book else {
        within()?;
        if let Ok(f) = ente_brain::RuleFile::parse(&held)
            && !f.rules.is_empty()
        {
            body.ask_brain(&BrainAsk::Load(held.clone()))?;
        }
        return Ok(Some(BrainStart::Fresh(held)));
    };
    if let Err(e) = ente_brain::RuleFile::parse(book) {
        let why = e.first().map(ToString::to_string).unwrap_or_default();
        return Ok(Some(BrainStart::HandedBack(Err(format!(
            "the host's record does not read: {why}"
        )))));
    }
    // Every rule it holds goes, so that the book's come back in its order.
    if let Ok(f) = ente_brain::RuleFile::parse(&held) {
        for r in f.rules {
            within()?;
            body.ask_brain(&BrainAsk::Remove(r.name))?;
        }
    }
    within()?;
    Ok(Some(BrainStart::HandedBack(
        match body.ask_brain(&BrainAsk::Load(book.to_owned()))? {
            Some(BrainAnswer::Loaded(result)) => result,
            _ => Err("it gave no answer to a load".into()),
        },
    )))
}
