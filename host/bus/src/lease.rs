//! The lease cache: the mediator's answers, kept so that the hot path of a
//! call is one lookup.

use ente_card::Endpoint;
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};
use ulid::Ulid;

/// The lease a grant carries unless the mediator says otherwise.
pub const DEFAULT_TTL: Duration = Duration::from_secs(60);

/// Allowed: calls from a caller to an endpoint go to `provider` until `expires`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Lease {
    pub provider: Ulid,
    pub ttl: Duration,
    pub expires: Instant,
}

/// `at + d`, or a century after `at` when `d` is too long for the clock (a
/// mediator may grant a lease of `u64::MAX` ms).
pub(crate) fn saturating(at: Instant, d: Duration) -> Instant {
    at.checked_add(d)
        .or_else(|| at.checked_add(Duration::from_secs(100 * 365 * 86_400)))
        .unwrap_or(at)
}

/// What using a lease found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LeaseUse {
    /// A live lease; `renewed` when this use extended it.
    Live { provider: Ulid, renewed: bool },
    /// The lease had expired: it is dropped.
    Expired { provider: Ulid },
    /// No lease for the pair.
    None,
}

/// Leases by caller, then endpoint.
#[derive(Debug, Default)]
pub struct LeaseCache {
    by_caller: Mutex<HashMap<Ulid, HashMap<Endpoint, Lease>>>,
}

impl LeaseCache {
    fn map(&self) -> std::sync::MutexGuard<'_, HashMap<Ulid, HashMap<Endpoint, Lease>>> {
        self.by_caller.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The live lease of (caller, endpoint), renewed by this use when less
    /// than half of its time is left. An expired lease is dropped.
    pub fn use_lease(&self, caller: Ulid, endpoint: &Endpoint, now: Instant) -> LeaseUse {
        let mut map = self.map();
        let Some(leases) = map.get_mut(&caller) else {
            return LeaseUse::None;
        };
        let Some(lease) = leases.get_mut(endpoint) else {
            return LeaseUse::None;
        };
        let provider = lease.provider;
        if lease.expires <= now {
            leases.remove(endpoint);
            return LeaseUse::Expired { provider };
        }
        let renewed = lease.expires.saturating_duration_since(now) < lease.ttl / 2;
        if renewed {
            lease.expires = saturating(now, lease.ttl);
        }
        LeaseUse::Live { provider, renewed }
    }

    pub fn insert(
        &self,
        caller: Ulid,
        endpoint: Endpoint,
        provider: Ulid,
        ttl: Duration,
        now: Instant,
    ) {
        let lease = Lease {
            provider,
            ttl,
            expires: saturating(now, ttl),
        };
        self.map()
            .entry(caller)
            .or_default()
            .insert(endpoint, lease);
    }

    /// The lease of (caller, endpoint), if any, without using it.
    pub fn get(&self, caller: Ulid, endpoint: &Endpoint) -> Option<Lease> {
        self.map().get(&caller)?.get(endpoint).copied()
    }

    /// Drop every expired lease; returns them as (caller, endpoint, provider).
    pub fn purge_expired(&self, now: Instant) -> Vec<(Ulid, Endpoint, Ulid)> {
        let mut map = self.map();
        let mut purged = Vec::new();
        map.retain(|caller, leases| {
            leases.retain(|endpoint, l| {
                let live = l.expires > now;
                if !live {
                    purged.push((*caller, endpoint.clone(), l.provider));
                }
                live
            });
            !leases.is_empty()
        });
        purged
    }

    /// Drop every lease held by or granted to `ente` (it died); returns how many.
    pub fn drop_ente(&self, ente: Ulid) -> usize {
        let mut map = self.map();
        let mut dropped = map.remove(&ente).map_or(0, |l| l.len());
        for leases in map.values_mut() {
            let before = leases.len();
            leases.retain(|_, l| l.provider != ente);
            dropped += before - leases.len();
        }
        map.retain(|_, l| !l.is_empty());
        dropped
    }

    /// Every live lease at `now`: (caller, endpoint, provider, time left).
    pub fn list(&self, now: Instant) -> Vec<(Ulid, Endpoint, Ulid, Duration)> {
        let map = self.map();
        let mut out = Vec::with_capacity(map.len());
        for (caller, leases) in map.iter() {
            for (endpoint, l) in leases {
                if l.expires > now {
                    out.push((*caller, endpoint.clone(), l.provider, l.expires - now));
                }
            }
        }
        out
    }

    pub fn len(&self) -> usize {
        self.map().values().map(HashMap::len).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}
