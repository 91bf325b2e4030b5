//! The routing core: leases, the fast path, mailboxes and cycle detection.

use crate::lease::{LeaseCache, LeaseUse};
use crate::slot::Slot;
use crate::{Body, BusError, Decision, LeaseEvent, Mediator, Observer, Unserved, check_endpoint};
use ente_card::Endpoint;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};
use ulid::Ulid;

/// Limits of the bus.
#[derive(Debug, Clone, Copy)]
pub struct BusConfig {
    /// Callers that may wait for one busy provider; one more gets `busy`.
    pub mailbox: usize,
    /// How long a caller waits in a mailbox before it gets `busy`.
    pub wait: Duration,
    /// The largest request body.
    pub max_request: usize,
    /// The largest reply body.
    pub max_reply: usize,
}

impl Default for BusConfig {
    fn default() -> BusConfig {
        BusConfig {
            mailbox: 64,
            wait: Duration::from_secs(5),
            max_request: 4 << 20,
            max_reply: 4 << 20,
        }
    }
}

/// The bus of one host.
pub struct Bus<B: Body> {
    slots: RwLock<HashMap<Ulid, Arc<Slot<B>>>>,
    leases: LeaseCache,
    mediator: RwLock<Option<Arc<dyn Mediator>>>,
    pub(crate) observer: Option<Arc<dyn Observer<B::Fault>>>,
    /// Who waits for and holds which slot: the wait-for graph.
    pub(crate) waits: Mutex<crate::mailbox::WaitGraph>,
    pub(crate) config: BusConfig,
}

impl<B: Body> std::fmt::Debug for Bus<B> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Bus")
            .field("leases", &self.leases)
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl<B: Body> Default for Bus<B> {
    fn default() -> Self {
        Bus::new(BusConfig::default())
    }
}

/// Why a body could not be taken for a call.
pub(crate) enum Untaken {
    Absent,
    Err(BusError),
}

impl<B: Body> Bus<B> {
    pub fn new(config: BusConfig) -> Bus<B> {
        Bus {
            slots: RwLock::new(HashMap::new()),
            leases: LeaseCache::default(),
            mediator: RwLock::new(None),
            observer: None,
            waits: Mutex::new(Default::default()),
            config,
        }
    }

    /// A bus that reports deaths and lease changes to `observer`.
    pub fn with_observer(config: BusConfig, observer: Arc<dyn Observer<B::Fault>>) -> Bus<B> {
        Bus {
            observer: Some(observer),
            ..Bus::new(config)
        }
    }

    pub fn config(&self) -> &BusConfig {
        &self.config
    }

    pub fn set_mediator(&self, mediator: Arc<dyn Mediator>) {
        *self.mediator.write().unwrap_or_else(|p| p.into_inner()) = Some(mediator);
    }

    pub fn leases(&self) -> &LeaseCache {
        &self.leases
    }

    /// The slot of `id`.
    pub fn slot(&self, id: Ulid) -> Option<Arc<Slot<B>>> {
        self.slots
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .get(&id)
            .cloned()
    }

    /// The slot of `id`, made (empty) if there is none yet.
    pub fn open(&self, id: Ulid, label: &str) -> Arc<Slot<B>> {
        if let Some(slot) = self.slot(id) {
            return slot;
        }
        let mut slots = self.slots.write().unwrap_or_else(|p| p.into_inner());
        slots
            .entry(id)
            .or_insert_with(|| Arc::new(Slot::new(id, label.to_owned())))
            .clone()
    }

    /// Put `body` on the bus as the Ente `id`; it takes calls from now on.
    pub fn install(&self, id: Ulid, label: &str, body: B) -> Arc<Slot<B>> {
        let slot = self.open(id, label);
        let mut state = slot.lock();
        state.body = Some(body);
        state.gone = false;
        state.ended = None;
        drop(state);
        slot.freed.notify_all();
        slot
    }

    /// Take the Ente `id` off the bus (it stops): waits up to `wait` for a
    /// call in progress, wakes every waiter with an error, drops its leases,
    /// and returns its body. `None` when it had none, or when the call in
    /// progress outlasted `wait` (the slot stays closed: the body is dropped
    /// when that call returns).
    pub fn remove(&self, id: Ulid, wait: Duration) -> Option<B> {
        let slot = self.slot(id)?;
        let mut state = slot.lock();
        state.gone = true;
        slot.freed.notify_all();
        let deadline = crate::lease::saturating(Instant::now(), wait);
        while state.held_by.is_some() {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                break;
            }
            state = slot
                .freed
                .wait_timeout(state, left)
                .map(|(s, _)| s)
                .unwrap_or_else(|p| p.into_inner().0);
        }
        let body = state.body.take();
        drop(state);
        self.drop_leases(id);
        body
    }

    /// Forget the slot of `id` altogether (the Ente left the graph); its
    /// counters go with it.
    pub fn forget(&self, id: Ulid) {
        self.remove(id, Duration::ZERO);
        self.slots
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&id);
    }

    /// Whether a call holds the body of `id` now.
    pub fn in_call(&self, id: Ulid) -> bool {
        self.slot(id).is_some_and(|s| s.lock().held_by.is_some())
    }

    /// Run `f` on the body of `id` as the current thread's call chain (the
    /// host uses this for its own calls: uevents, timers, decisions, so that
    /// a call back into the Ente during them is seen as a cycle). A body that
    /// breaks in `f` leaves the bus and its death is reported.
    pub fn enter<R>(&self, id: Ulid, f: impl FnOnce(&mut B) -> R) -> Result<R, BusError> {
        let slot = self
            .slot(id)
            .ok_or_else(|| BusError::NoProvider(id.to_string()))?;
        let mut body = self.take(&slot).map_err(|e| self.untaken(&slot, e))?;
        let result = f(&mut body);
        let broken = body.broken();
        self.give_back(&slot, body, broken);
        Ok(result)
    }

    /// Call `target` as `caller` (stamped by the host) with `body`.
    pub fn invoke(
        &self,
        caller: Ulid,
        target: &Endpoint,
        body: &[u8],
    ) -> Result<Vec<u8>, BusError> {
        check_endpoint(target)?;
        if body.len() > self.config.max_request {
            return Err(BusError::TooLarge {
                what: "request",
                size: body.len() as u64,
                max: self.config.max_request as u64,
            });
        }
        let provider = self.route(caller, target)?;
        let slot = self
            .slot(provider)
            .ok_or_else(|| BusError::NoProvider(target.to_string()))?;
        let mut taken = match self.take(&slot) {
            Ok(b) => b,
            Err(Untaken::Absent) => {
                // Its body died or stopped: the lease is of no use any more.
                self.drop_leases(provider);
                return Err(self.untaken(&slot, Untaken::Absent));
            }
            Err(e) => return Err(self.untaken(&slot, e)),
        };
        let began = Instant::now();
        let result = taken.handle(caller, target, body);
        slot.latency.record(began.elapsed());
        let broken = match &result {
            Err(Unserved::Broke(fault)) => Some(fault.clone()),
            _ => taken.broken(),
        };
        self.give_back(&slot, taken, broken);
        let reply = result.map_err(|e| BusError::ProviderFailed {
            provider: slot.label.clone(),
            message: match e {
                Unserved::Refused(m) => m,
                Unserved::Broke(f) => f.to_string(),
            },
        });
        let reply = match reply {
            Ok(r) if r.len() > self.config.max_reply => Err(BusError::TooLarge {
                what: "reply",
                size: r.len() as u64,
                max: self.config.max_reply as u64,
            }),
            other => other,
        };
        slot.count(reply.is_ok());
        reply
    }

    fn untaken(&self, slot: &Slot<B>, e: Untaken) -> BusError {
        match e {
            Untaken::Err(e) => e,
            Untaken::Absent => BusError::NotRunning {
                provider: slot.label.clone(),
                state: self.describe(slot),
            },
        }
    }

    /// Why `slot` has no body, in words.
    fn describe(&self, slot: &Slot<B>) -> String {
        let ended = slot.lock().ended.clone();
        match &self.observer {
            Some(o) => o.absent(slot.id, ended.as_deref()),
            None => ended.map_or_else(
                || "it has no body".to_owned(),
                |e| format!("its body ended: {e}"),
            ),
        }
    }

    /// The provider of (caller, target): a live lease, else the mediator.
    fn route(&self, caller: Ulid, target: &Endpoint) -> Result<Ulid, BusError> {
        let now = Instant::now();
        match self.leases.use_lease(caller, target, now) {
            LeaseUse::Live { provider, renewed } => {
                if renewed {
                    self.tell(LeaseEvent::Renewed {
                        caller,
                        endpoint: target.clone(),
                        provider,
                    });
                }
                return Ok(provider);
            }
            LeaseUse::Expired { provider } => self.tell(LeaseEvent::Expired {
                caller,
                endpoint: target.clone(),
                provider,
            }),
            LeaseUse::None => {}
        }
        let mediator = self
            .mediator
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        let Some(mediator) = mediator else {
            return Err(BusError::Denied(
                "no mediator is running: every call is denied".into(),
            ));
        };
        match mediator.decide(caller, target) {
            Decision::Allow { provider, ttl } => {
                // A lease is kept only for a provider that can serve it now.
                if !self.slot(provider).is_some_and(|s| s.is_live()) {
                    let (provider, state) = match self.slot(provider) {
                        Some(s) => (s.label.clone(), self.describe(&s)),
                        None => (provider.to_string(), "it is not an Ente here".into()),
                    };
                    return Err(BusError::NotRunning { provider, state });
                }
                self.leases
                    .insert(caller, target.clone(), provider, ttl, now);
                self.tell(LeaseEvent::Granted {
                    caller,
                    endpoint: target.clone(),
                    provider,
                    ttl,
                });
                Ok(provider)
            }
            Decision::Deny(reason) => {
                self.tell(LeaseEvent::Denied {
                    caller,
                    endpoint: target.clone(),
                    reason: reason.clone(),
                });
                Err(BusError::Denied(reason))
            }
        }
    }

    fn tell(&self, event: LeaseEvent) {
        if let Some(o) = &self.observer {
            o.lease(event);
        }
    }

    /// Drop every lease held by or granted to `ente`; returns how many.
    pub fn drop_leases(&self, ente: Ulid) -> usize {
        let count = self.leases.drop_ente(ente);
        if count > 0 {
            self.tell(LeaseEvent::Dropped { ente, count });
        }
        count
    }

    /// Drop expired leases; returns how many.
    pub fn purge_expired(&self) -> usize {
        let purged = self.leases.purge_expired(Instant::now());
        let n = purged.len();
        for (caller, endpoint, provider) in purged {
            self.tell(LeaseEvent::Expired {
                caller,
                endpoint,
                provider,
            });
        }
        n
    }

    /// Every slot, for status.
    pub fn slots(&self) -> Vec<Arc<Slot<B>>> {
        self.slots
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .values()
            .cloned()
            .collect()
    }
}
