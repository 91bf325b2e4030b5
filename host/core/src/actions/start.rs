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
        let mut refused = Vec::new();
        if r.brain {
            let label = r.label().to_owned();
            refused = self.brain_started(id, &label, brain);
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
        self.take_back(id, refused);
        self.pump(id);
        self.kick_dependents(id);
    }

    /// What a brain's start did to its rules, into the book and the chain.
    /// A restore or a first start makes the chain say what it holds (all
    /// rules dropped from the record, then each it holds, in order), so
    /// that a replay needs nothing from before; a hand-back adds nothing.
    /// The rules the book did not take: the brain is to drop them.
    fn brain_started(&self, id: Ulid, label: &str, start: Option<BrainStart>) -> Vec<String> {
        let spine = &self.h.spine;
        let mut refused = Vec::new();
        let mut anew = |by: &str, rules: &str, who: &str| {
            self.h.rules.clear();
            spine.emit(
                Some((id, label)),
                Kind::RuleRemoved {
                    rule: "*".into(),
                    by: by.into(),
                },
            );
            for rule in crate::book::rules_in(rules) {
                if !crate::actions::record_rule(spine, &self.h.rules, id, label, &rule, who) {
                    refused.push(rule.name);
                }
            }
        };
        let journal = |level, text: String| {
            spine.emit(Some((id, label)), Kind::Journal { level, text });
        };
        match start {
            Some(BrainStart::Holds(file)) => anew("its saved state", &file, "its saved state"),
            Some(BrainStart::Fresh(file)) => {
                anew("its first start in this host", &file, "its card's RULES");
            }
            Some(BrainStart::HandedBack(Ok(n))) => journal(
                crate::Level::Info,
                format!("started without saved state: the {n} rules the host recorded handed back"),
            ),
            Some(BrainStart::HandedBack(Err(why))) => {
                journal(
                    crate::Level::Warn,
                    format!("the rules the host recorded were not taken back: {why}"),
                );
                anew(
                    "a start without saved state, its rules not taken back",
                    "",
                    "",
                );
            }
            None => anew("a start without saved state", "", ""),
        }
        refused
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

/// The brain's rules at its start: a restored one says what it holds; one
/// that starts over is handed `book` back whole and in order, in place of
/// whatever it started with (its card's `RULES`), so that what it holds is
/// what the chain says; one starting for the first time says what it
/// holds, and takes it back, so that it does not tell it again. Each call
/// has its own deadline, and no call is begun past `budget`.
fn brain_start(
    body: &mut dyn Body,
    restored: bool,
    book: Option<&str>,
    budget: std::time::Duration,
) -> Result<Option<BrainStart>, Cause> {
    let t0 = Instant::now();
    let within = |call: &str| {
        if t0.elapsed() > budget {
            Err(Cause::Deadline {
                call: format!("{call} (its rules handed back)"),
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
        if !crate::book::rules_in(&held).is_empty() {
            within("brain.load")?;
            body.ask_brain(&BrainAsk::Load(held.clone()))?;
        }
        return Ok(Some(BrainStart::Fresh(held)));
    };
    // Every rule it holds goes, so that the book's come back in its order.
    for r in crate::book::rules_in(&held) {
        within("brain.remove")?;
        body.ask_brain(&BrainAsk::Remove(r.name))?;
    }
    let n = crate::book::rules_in(book).len();
    if n == 0 {
        return Ok(Some(BrainStart::HandedBack(Ok(0))));
    }
    within("brain.load")?;
    Ok(Some(BrainStart::HandedBack(
        match body.ask_brain(&BrainAsk::Load(book.to_owned()))? {
            Some(BrainAnswer::Loaded(result)) => result,
            _ => Err("it gave no answer to a load".into()),
        },
    )))
}
