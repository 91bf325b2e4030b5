//! The routing core: leases, the fast path, mailboxes and cycle detection.

use crate::lease::LeaseCache;
use crate::slot::Slot;
use crate::{Body, BusError, Decision, Mediator};
use ente_card::Endpoint;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, RwLock};
use std::thread::ThreadId;
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
    pub max_body: usize,
}

impl Default for BusConfig {
    fn default() -> BusConfig {
        BusConfig {
            mailbox: 64,
            wait: Duration::from_secs(5),
            max_body: 4 << 20,
        }
    }
}

/// The bus of one host.
pub struct Bus<B> {
    slots: RwLock<HashMap<Ulid, Arc<Slot<B>>>>,
    leases: LeaseCache,
    mediator: RwLock<Option<Arc<dyn Mediator>>>,
    /// Which slot each blocked thread waits for: the wait-for graph.
    waits: Mutex<HashMap<ThreadId, Ulid>>,
    config: BusConfig,
}

impl<B> std::fmt::Debug for Bus<B> {
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

impl<B: Body> Bus<B> {
    pub fn new(config: BusConfig) -> Bus<B> {
        Bus {
            slots: RwLock::new(HashMap::new()),
            leases: LeaseCache::default(),
            mediator: RwLock::new(None),
            waits: Mutex::new(HashMap::new()),
            config,
        }
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

    /// Put `body` on the bus as the Ente `id`; it takes calls from now on.
    pub fn install(&self, id: Ulid, label: &str, body: B) -> Arc<Slot<B>> {
        let slot = {
            let mut slots = self.slots.write().unwrap_or_else(|p| p.into_inner());
            slots
                .entry(id)
                .or_insert_with(|| Arc::new(Slot::new(id, label.to_owned())))
                .clone()
        };
        let mut state = slot.lock();
        state.body = Some(body);
        state.gone = false;
        drop(state);
        slot.freed.notify_all();
        slot
    }

    /// Take the Ente `id` off the bus (it stopped or died): waits for a call
    /// in progress, wakes every waiter with an error, drops its leases, and
    /// returns its body.
    pub fn remove(&self, id: Ulid) -> Option<B> {
        let slot = self.slot(id)?;
        let mut state = slot.lock();
        state.gone = true;
        slot.freed.notify_all();
        let deadline = Instant::now() + self.config.wait;
        while state.held_by.is_some() && Instant::now() < deadline {
            let left = deadline.saturating_duration_since(Instant::now());
            state = slot
                .freed
                .wait_timeout(state, left)
                .map(|(s, _)| s)
                .unwrap_or_else(|p| p.into_inner().0);
        }
        let body = state.body.take();
        drop(state);
        self.leases.drop_ente(id);
        body
    }

    /// Run `f` on the body of `id` as the current thread's call chain (the
    /// host uses this for lifecycle calls, so that a call back into the
    /// Ente during them is seen as a cycle).
    pub fn enter<R>(&self, id: Ulid, f: impl FnOnce(&mut B) -> R) -> Result<R, BusError> {
        let slot = self
            .slot(id)
            .ok_or_else(|| BusError::NoProvider(id.to_string()))?;
        let mut body = self.take(&slot)?;
        let result = f(&mut body);
        self.give_back(&slot, body);
        Ok(result)
    }

    /// Call `target` as `caller` (stamped by the host) with `body`.
    pub fn invoke(
        &self,
        caller: Ulid,
        target: &Endpoint,
        body: &[u8],
    ) -> Result<Vec<u8>, BusError> {
        if body.len() > self.config.max_body {
            return Err(BusError::TooLarge {
                size: body.len() as u64,
                max: self.config.max_body as u64,
            });
        }
        let provider = self.route(caller, target)?;
        let slot = self
            .slot(provider)
            .ok_or_else(|| BusError::NoProvider(target.to_string()))?;
        let mut taken = match self.take(&slot) {
            Ok(b) => b,
            Err(e) => {
                if matches!(e, BusError::NoProvider(_)) {
                    self.leases.drop_ente(provider);
                }
                return Err(e);
            }
        };
        let result = taken.handle(caller, target, body);
        let failed = taken.failed();
        slot.count(result.is_ok());
        if failed {
            // The body trapped: it leaves the bus; the host sees the slot empty.
            let mut state = slot.lock();
            state.held_by = None;
            state.gone = true;
            drop(state);
            slot.freed.notify_all();
            self.leases.drop_ente(provider);
            drop(taken);
        } else {
            self.give_back(&slot, taken);
        }
        result.map_err(|message| BusError::ProviderFailed {
            provider: slot.label.clone(),
            message,
        })
    }

    /// The provider of (caller, target): a live lease, else the mediator.
    fn route(&self, caller: Ulid, target: &Endpoint) -> Result<Ulid, BusError> {
        let now = Instant::now();
        if let Some(provider) = self.leases.use_lease(caller, target, now) {
            return Ok(provider);
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
                self.leases
                    .insert(caller, target.clone(), provider, ttl, now);
                Ok(provider)
            }
            Decision::Deny(reason) => Err(BusError::Denied(reason)),
        }
    }

    /// Take the body out of `slot` for this thread, waiting in its mailbox
    /// while another chain holds it.
    fn take(&self, slot: &Slot<B>) -> Result<B, BusError> {
        let me = std::thread::current().id();
        let mut state = slot.lock();
        let deadline = Instant::now() + self.config.wait;
        loop {
            if state.gone {
                return Err(BusError::NoProvider(format!(
                    "`{}` (it is not running)",
                    slot.label
                )));
            }
            if let Some(body) = state.body.take() {
                state.held_by = Some(me);
                return Ok(body);
            }
            match state.held_by {
                Some(holder) if holder == me => {
                    return Err(BusError::Cycle(format!(
                        "`{}` is already in this call chain",
                        slot.label
                    )));
                }
                Some(holder) => {
                    if self.waits_on(holder, me) {
                        return Err(BusError::Cycle(format!(
                            "`{}` is held by a call chain that waits on this one",
                            slot.label
                        )));
                    }
                }
                None => {
                    return Err(BusError::NoProvider(format!(
                        "`{}` (it is not running)",
                        slot.label
                    )));
                }
            }
            if state.waiting >= self.config.mailbox {
                return Err(BusError::Busy(slot.label.clone()));
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(BusError::Busy(slot.label.clone()));
            }
            state.waiting += 1;
            self.lock_waits().insert(me, slot.id);
            let (s, _) = slot
                .freed
                .wait_timeout(state, left.min(Duration::from_millis(50)))
                .unwrap_or_else(|p| p.into_inner());
            state = s;
            self.lock_waits().remove(&me);
            state.waiting -= 1;
        }
    }

    fn give_back(&self, slot: &Slot<B>, body: B) {
        let mut state = slot.lock();
        state.held_by = None;
        if !state.gone {
            state.body = Some(body);
        }
        drop(state);
        slot.freed.notify_one();
    }

    fn lock_waits(&self) -> std::sync::MutexGuard<'_, HashMap<ThreadId, Ulid>> {
        self.waits.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Whether the chain of `holder` is (transitively) waiting on a slot held by `me`.
    fn waits_on(&self, mut holder: ThreadId, me: ThreadId) -> bool {
        let waits = self.lock_waits().clone();
        for _ in 0..waits.len() + 1 {
            let Some(slot_id) = waits.get(&holder) else {
                return false;
            };
            let Some(slot) = self.slot(*slot_id) else {
                return false;
            };
            let Some(next) = slot.lock().held_by else {
                return false;
            };
            if next == me {
                return true;
            }
            holder = next;
        }
        false
    }

    /// Drop expired leases; returns how many.
    pub fn purge_expired(&self) -> usize {
        self.leases.purge_expired(Instant::now())
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
