//! A snapshot on request (SIGUSR1), while the graph runs: each ready Ente
//! that exports `ente:core/snapshot` is asked to `save`, as one more
//! delivery in its queue (so it never runs beside its own uevent or
//! wake-up), and the core says when every answer is in, or when the call
//! deadline passed for those that did not answer
//! ([`Kind::SnapshotReady`]). The front end then takes the snapshot from
//! the table and writes it; an Ente that did not answer keeps the state it
//! saved last.

use crate::core::Core;
use crate::event::{Done, Event};
use crate::spine::Kind;
use crate::state::State;
use crate::table::Delivery;
use crate::timers::{Due, later};
use std::collections::HashSet;
use ulid::Ulid;

/// A snapshot being gathered.
#[derive(Debug)]
pub(crate) struct Saving {
    /// Who asked (the signal's name).
    asked: &'static str,
    /// The Entes whose answer is still awaited.
    left: HashSet<Ulid>,
}

impl Core {
    /// Ask every ready Ente that keeps state for it; one request at a time
    /// (asked again meanwhile, the one in progress answers both).
    pub(crate) fn begin_saving(&mut self, asked: &'static str) {
        if self.shutdown.is_some() || self.saving.is_some() {
            return;
        }
        let keeping: Vec<Ulid> = self
            .read()
            .iter()
            .filter(|r| matches!(r.state, State::Ready { .. }) && r.exports().snapshot)
            .map(|r| r.id)
            .collect();
        self.h.spine.emit(
            None,
            Kind::SnapshotAsked {
                by: asked.to_owned(),
                entes: keeping.len(),
            },
        );
        let mut left = HashSet::new();
        for id in keeping {
            if self.enqueue(id, Delivery::Save) {
                left.insert(id);
            }
        }
        self.saving = Some(Saving { asked, left });
        // Past the call deadline (and its grace), an answer is not waited for.
        let within = self.config.call_deadline + self.config.stop_grace;
        self.timers.set(later(within), Due::SnapshotDeadline);
        self.saving_done_if_answered();
    }

    /// The answer of `id`'s `save`.
    pub(crate) fn on_saved(
        &mut self,
        id: Ulid,
        generation: u64,
        saved: Option<Result<Vec<u8>, String>>,
    ) {
        {
            let mut t = self.write();
            if let Some(r) = t.get_mut(id)
                && r.generation == generation
                && let Some(saved) = saved
            {
                let kept = saved.as_ref().map(Vec::len).map_err(Clone::clone);
                if let Ok(bytes) = saved {
                    r.saved = Some(bytes);
                }
                self.h
                    .spine
                    .emit(Some((id, r.label())), Kind::StateSaved { saved: kept });
            }
        }
        if let Some(s) = &mut self.saving {
            s.left.remove(&id);
        }
        self.on_delivered(id);
        self.saving_done_if_answered();
    }

    /// The deadline passed: what is in is what the snapshot holds.
    pub(crate) fn saving_due(&mut self) {
        if let Some(s) = self.saving.take() {
            self.saving_done(s);
        }
    }

    /// An Ente that left the graph or stopped answers no more.
    fn saving_done_if_answered(&mut self) {
        let answered = self.saving.as_ref().is_some_and(|s| {
            let t = self.read();
            s.left.iter().all(|id| {
                t.get(*id)
                    .is_none_or(|r| !matches!(r.state, State::Ready { .. }))
            })
        });
        if answered && let Some(s) = self.saving.take() {
            self.saving_done(s);
        }
    }

    fn saving_done(&mut self, s: Saving) {
        let t = self.read();
        let late: Vec<String> = s
            .left
            .iter()
            .filter_map(|id| {
                t.get(*id)
                    .filter(|r| matches!(r.state, State::Ready { .. }))
                    .map(|r| r.label().to_owned())
            })
            .collect();
        drop(t);
        self.h.spine.emit(
            None,
            Kind::SnapshotReady {
                by: s.asked.to_owned(),
                late,
            },
        );
    }

    /// The job of a [`Delivery::Save`].
    pub(crate) fn save_job(
        bus: &ente_bus::Bus<crate::runner::Live>,
        id: Ulid,
        generation: u64,
    ) -> Event {
        let saved = match bus.enter(id, |b| b.0.save()) {
            Ok(Ok(saved)) => saved,
            // A body that breaks here leaves the bus; the bus reports it.
            Ok(Err(cause)) => Some(Err(format!("snapshot.save broke: {cause}"))),
            Err(e) => Some(Err(e.to_string())),
        };
        Event::Done(Done::Saved {
            ente: id,
            generation,
            saved,
        })
    }
}
