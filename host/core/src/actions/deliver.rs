//! Deliveries: what the host hands an Ente's body (a uevent of its device
//! class, a wake-up it asked for, a question about a Delegate child), one at
//! a time per Ente from a bounded queue. A full queue drops the delivery and
//! counts it; nothing is dropped silently.

use crate::core::Core;
use crate::event::{Done, Event};
use crate::runner::Verdict;
use crate::spine::Kind;
use crate::state::State;
use crate::table::Delivery;
use ente_kernel::uevent::Uevent;
use std::sync::Arc;
use ulid::Ulid;

impl Core {
    /// Hand a kernel uevent to every ready Ente that holds Device{class}
    /// for its subsystem (or KernelNetlink{Uevent}) and exports device-events.
    pub(crate) fn deliver_uevent(&mut self, event: Uevent) {
        let class = event.subsystem.as_deref().and_then(device_class);
        let wanting: Vec<Ulid> = self
            .read()
            .iter()
            .filter(|r| {
                matches!(r.state, State::Ready { .. })
                    && r.wants(class)
                    && r.exports().device_events
            })
            .map(|r| r.id)
            .collect();
        let event = Arc::new(event);
        let mut delivered = 0;
        for id in wanting {
            if self.enqueue(id, Delivery::Uevent(event.clone())) {
                delivered += 1;
            }
        }
        self.h.spine.emit(
            None,
            Kind::Uevent {
                action: event.action.clone(),
                devpath: event.devpath.clone(),
                delivered,
            },
        );
    }

    /// Queue `d` for `id` (ready, or starting: it is handed over once
    /// ready); false when dropped, and then counted and said.
    pub(crate) fn enqueue(&mut self, id: Ulid, d: Delivery) -> bool {
        let cap = self.config.deliveries;
        {
            let mut t = self.write();
            let Some(r) = t.get_mut(id) else { return false };
            if !matches!(r.state, State::Ready { .. } | State::Starting) {
                // Its body ended: what was meant for it goes with it.
                return false;
            }
            // A wake-up is never dropped: the body counts it pending until it
            // is delivered, and has at most 64.
            if r.deliveries.len() >= cap && !matches!(d, Delivery::Wake(_) | Delivery::Save) {
                r.dropped += 1;
                let what = match d {
                    Delivery::Uevent(_) => "uevent",
                    Delivery::Wake(_) | Delivery::Save => "wake-up",
                    Delivery::ChildExit { .. } => "child exit",
                    Delivery::Observe(_) => "batch of events",
                    Delivery::Ask(_, reply) => {
                        let _ =
                            reply.try_send(Err("the brain has too much to do; ask again".into()));
                        "question"
                    }
                };
                self.h.spine.emit(
                    Some((id, r.label())),
                    Kind::Dropped {
                        what,
                        count: r.dropped,
                    },
                );
                return false;
            }
            r.deliveries.push_back(d);
        }
        self.pump(id);
        true
    }

    /// Send `id`'s next delivery to a worker, if it has none running.
    pub(crate) fn pump(&mut self, id: Ulid) {
        let (delivery, generation) = {
            let mut t = self.write();
            let Some(r) = t.get_mut(id) else { return };
            if r.busy || !matches!(r.state, State::Ready { .. }) {
                return;
            }
            let Some(d) = r.deliveries.pop_front() else {
                return;
            };
            r.busy = true;
            (d, r.generation)
        };
        let bus = self.h.bus.clone();
        let spine = self.h.spine.clone();
        let book = self.h.rules.clone();
        self.submit(id, generation, move || {
            let delivered = Event::Done(Done::Delivered { ente: id });
            match delivery {
                // A body that breaks here leaves the bus; the bus reports it.
                Delivery::Uevent(e) => {
                    let _ = bus.enter(id, |b| b.0.on_uevent(&e));
                    delivered
                }
                Delivery::Wake(token) => {
                    let _ = bus.enter(id, |b| b.0.on_timer(token));
                    delivered
                }
                Delivery::Save => Core::save_job(&bus, id, generation),
                Delivery::Observe(batch) => Core::observe_job(&bus, id, &batch),
                Delivery::Ask(ask, reply) => Core::ask_job(&bus, &spine, &book, id, &ask, &reply),
                Delivery::ChildExit { child, cause } => {
                    let verdict = match bus.enter(id, |b| b.0.on_child_exit(child, &cause)) {
                        Ok(Ok(v)) => Ok(v),
                        Ok(Err(fault)) => Err(format!("it failed: {fault}")),
                        Err(e) => Err(e.to_string()),
                    };
                    Event::Done(Done::Decided {
                        parent: id,
                        child,
                        verdict: verdict.map(|v: Verdict| v),
                    })
                }
            }
        });
    }

    pub(crate) fn on_delivered(&mut self, id: Ulid) {
        let start = self.write().get_mut(id).is_some_and(|r| {
            r.busy = false;
            std::mem::take(&mut r.start_after)
        });
        if start {
            self.start_if_ready(id);
        } else {
            self.pump(id);
        }
    }
}

/// The device class of a kernel subsystem, as cards name it.
pub fn device_class(subsystem: &str) -> Option<ente_card::DeviceClass> {
    use ente_card::DeviceClass as D;
    Some(match subsystem {
        "block" => D::Block,
        "tty" => D::Tty,
        "input" => D::Input,
        "drm" => D::Drm,
        "net" => D::Net,
        "hidraw" => D::Hidraw,
        _ => return None,
    })
}
