//! The handles every part of the host shares: the bus, the table, the
//! spine and the core's inbox; the bus's observer; the mediator as the bus
//! asks it; and what guests' requests (`graph`, `timer`) turn into.

use crate::Config;
use crate::event::{Control, Event};
use crate::runner::{Death, Live};
use crate::spine::{Kind, Spine};
use crate::table::Table;
use ente_bus::{Bus, BusError, Decision, LeaseEvent, Mediator, Observer};
use ente_card::{Capability, Endpoint};
use std::sync::{Arc, RwLock, RwLockReadGuard, Weak};
use std::time::Duration;
use tokio::sync::mpsc;
use ulid::Ulid;

/// Events the inbox holds before a sender waits (a worker; never the loop).
const INBOX: usize = 4096;

/// What every part of the host shares.
#[derive(Clone)]
pub struct Handles {
    pub bus: Arc<Bus<Live>>,
    pub table: Arc<RwLock<Table>>,
    pub spine: Arc<Spine>,
    pub inbox: mpsc::Sender<Event>,
    /// Native main processes and their Entes.
    pub procs: Arc<crate::procs::Procs>,
    /// The brain's rules as recorded.
    pub rules: Arc<crate::book::RuleBook>,
    /// Each Ente's journal level.
    pub floors: Arc<crate::book::JournalFloors>,
}

impl std::fmt::Debug for Handles {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Handles").finish_non_exhaustive()
    }
}

/// The handles, and the core's end of its inbox.
#[derive(Debug)]
pub struct Wiring {
    pub handles: Handles,
    pub(crate) inbox: mpsc::Receiver<Event>,
}

impl Wiring {
    pub fn new(config: &Config) -> Wiring {
        let table = Arc::new(RwLock::new(Table::default()));
        let spine = Arc::new(Spine::new(config.spine_ring));
        let (tx, rx) = mpsc::channel(INBOX);
        let observer = Arc::new(BusObserver {
            table: Arc::downgrade(&table),
            spine: spine.clone(),
            inbox: tx.clone(),
        });
        let bus = Arc::new(Bus::with_observer(config.bus, observer));
        Wiring {
            handles: Handles {
                bus,
                table,
                spine,
                inbox: tx,
                procs: Arc::default(),
                rules: Arc::default(),
                floors: Arc::default(),
            },
            inbox: rx,
        }
    }
}

impl Handles {
    pub fn read(&self) -> RwLockReadGuard<'_, Table> {
        self.table.read().unwrap_or_else(|p| p.into_inner())
    }

    /// The label of `id`, if it is in the table.
    pub fn label(&self, id: Ulid) -> Option<String> {
        self.read().get(id).map(|r| r.label().to_owned())
    }

    /// What `id`'s card requires.
    pub fn requires(&self, id: Ulid) -> Vec<Capability> {
        self.read()
            .get(id)
            .map(|r| r.card.requires.clone())
            .unwrap_or_default()
    }

    /// The Entes whose cards provide `target` and that serve it or will
    /// again without being asked (ready, starting, waiting for their own
    /// providers, backing off, waiting on their parent), in the order they
    /// were added; the mediator's own endpoint is never served.
    pub fn providers(&self, target: &Endpoint) -> Vec<Ulid> {
        let wanted = Capability::Endpoint {
            endpoint: target.clone(),
        };
        if ente_card::Seat::of(&wanted).is_some() {
            return Vec::new();
        }
        self.read()
            .iter()
            .filter(|r| r.card.provides.contains(&wanted) && r.state.is_expected())
            .map(|r| r.id)
            .collect()
    }

    /// The state of `id` in words.
    pub fn describe(&self, id: Ulid) -> String {
        self.read().get(id).map_or_else(
            || "it is not an Ente of this host".into(),
            |r| r.state.to_string(),
        )
    }

    /// Ask the core for a request of `ente:core/graph`, and wait `within`.
    fn ask<T>(
        &self,
        within: Duration,
        make: impl FnOnce(crate::event::Reply<T>) -> Control,
    ) -> Result<T, String> {
        let (tx, rx) = std::sync::mpsc::sync_channel(1);
        self.inbox
            .blocking_send(Event::Control(make(tx)))
            .map_err(|_| "the host is stopping".to_owned())?;
        rx.recv_timeout(within)
            .map_err(|_| "the host did not answer within the call's deadline".to_owned())?
    }

    /// `graph.spawn` by `by`: the card is checked here (its grammar), then
    /// by the core (its place in the graph).
    pub fn spawn(&self, by: Ulid, card_json: &str, within: Duration) -> Result<Ulid, String> {
        let size = card_json.len() as u64;
        if size > ente_card::MAX_CARD_BYTES {
            return Err(format!(
                "the card is {size} bytes, more than a card may be ({} bytes)",
                ente_card::MAX_CARD_BYTES
            ));
        }
        let card = ente_card::parse(card_json.as_bytes(), std::path::Path::new("(spawned card)"))
            .map_err(|e| e.to_string())?;
        self.ask(within, |reply| Control::Spawn {
            by,
            card: Box::new(card),
            reply,
        })
    }

    pub fn stop(&self, by: Ulid, ente: Ulid, within: Duration) -> Result<(), String> {
        self.ask(within, |reply| Control::Stop { by, ente, reply })
    }

    pub fn restart(&self, by: Ulid, ente: Ulid, within: Duration) -> Result<(), String> {
        self.ask(within, |reply| Control::Restart { by, ente, reply })
    }

    /// `timer.after` of `ente`'s body.
    pub fn wake(&self, ente: Ulid, token: u64, after: Duration) {
        let _ = self.inbox.blocking_send(Event::Wake { ente, token, after });
    }

    pub fn unwake(&self, ente: Ulid, token: u64) {
        let _ = self.inbox.blocking_send(Event::Unwake { ente, token });
    }
}

/// What the bus tells the host: deaths to the core, lease changes to the
/// spine, and why a provider has no body, from the table.
struct BusObserver {
    table: Weak<RwLock<Table>>,
    spine: Arc<Spine>,
    inbox: mpsc::Sender<Event>,
}

impl Observer<Death> for BusObserver {
    fn broke(&self, ente: Ulid, death: &Death) {
        // Only workers call the bus, so waiting here never stalls the loop.
        let _ = self.inbox.blocking_send(Event::Died {
            ente,
            generation: death.generation,
            cause: death.cause.clone(),
        });
    }

    fn lease(&self, event: LeaseEvent) {
        self.spine.emit(None, Kind::Lease(event));
    }

    fn absent(&self, ente: Ulid, ended: Option<&str>) -> String {
        let Some(table) = self.table.upgrade() else {
            return "the host is stopping".into();
        };
        let t = table.read().unwrap_or_else(|p| p.into_inner());
        match (t.get(ente).map(|r| &r.state), ended) {
            (None, _) => "it is not an Ente of this host".into(),
            // The bus knows first: the core has not yet acted on the death.
            (Some(crate::State::Ready { .. }), Some(fault)) => {
                format!("its body just ended ({fault}); its supervision decides what follows")
            }
            (Some(state), _) => state.to_string(),
        }
    }
}

/// The mediator Ente, asked through the bus like any call. While it has no
/// body (starting, backing off) every new grant is denied with the reason;
/// leases already granted stay until they expire.
pub(crate) struct MediatorLink {
    pub(crate) bus: Weak<Bus<Live>>,
    pub(crate) id: Ulid,
}

impl Mediator for MediatorLink {
    fn decide(&self, caller: Ulid, target: &Endpoint) -> Decision {
        let Some(bus) = self.bus.upgrade() else {
            return Decision::Deny("the host is stopping".into());
        };
        match bus.enter(self.id, |m| m.0.decide(caller, target)) {
            Ok(Ok(decision)) => decision,
            Ok(Err(cause)) => Decision::Deny(format!(
                "the mediator failed on this call ({cause}); it is restarted, and until then no new lease is granted"
            )),
            Err(BusError::NotRunning { state, .. }) => Decision::Deny(format!(
                "the mediator is not running ({state}); no new lease is granted until it is back"
            )),
            Err(e) => Decision::Deny(format!("the mediator is not available: {e}")),
        }
    }
}
