//! A lease lives until its deadline, is renewed by use when less than half
//! of it is left, is purged once expired, and dies with either Ente.

use ente_bus::{LeaseCache, LeaseUse};
use ente_card::Endpoint;
use std::time::{Duration, Instant};
use ulid::Ulid;

fn endpoint() -> Endpoint {
    Endpoint {
        interface: "6563686f2d656e64706f696e742d7631".into(),
        version: 1,
    }
}

#[test]
fn a_lease_is_renewed_by_use_and_expires_without_it() {
    let cache = LeaseCache::default();
    let (caller, provider) = (Ulid::new(), Ulid::new());
    let t0 = Instant::now();
    let ttl = Duration::from_secs(60);
    cache.insert(caller, endpoint(), provider, ttl, t0);

    // Early use: more than half left, no renewal.
    assert_eq!(
        cache.use_lease(caller, &endpoint(), t0 + Duration::from_secs(10)),
        LeaseUse::Live {
            provider,
            renewed: false
        }
    );
    assert_eq!(
        cache.get(caller, &endpoint()).map(|l| l.expires),
        Some(t0 + ttl)
    );

    // Late use: renewed to a full ttl from now.
    let t40 = t0 + Duration::from_secs(40);
    assert_eq!(
        cache.use_lease(caller, &endpoint(), t40),
        LeaseUse::Live {
            provider,
            renewed: true
        }
    );
    assert_eq!(
        cache.get(caller, &endpoint()).map(|l| l.expires),
        Some(t40 + ttl)
    );

    // Past the original deadline it still holds, because it was renewed
    // (and this use, with 10 s of 60 left, renews it again).
    assert_eq!(
        cache.use_lease(caller, &endpoint(), t0 + Duration::from_secs(90)),
        LeaseUse::Live {
            provider,
            renewed: true
        }
    );

    // Unused past its deadline: gone, and the next call asks the mediator again.
    let late = t0 + Duration::from_secs(90) + ttl + Duration::from_secs(1);
    assert_eq!(
        cache.use_lease(caller, &endpoint(), late),
        LeaseUse::Expired { provider }
    );
    assert!(cache.is_empty());
    assert_eq!(cache.use_lease(caller, &endpoint(), late), LeaseUse::None);
}

#[test]
fn expired_leases_are_purged_and_a_dead_entes_leases_dropped() {
    let cache = LeaseCache::default();
    let t0 = Instant::now();
    let (a, b, c, p) = (Ulid::new(), Ulid::new(), Ulid::new(), Ulid::new());
    cache.insert(a, endpoint(), p, Duration::from_secs(1), t0);
    cache.insert(b, endpoint(), p, Duration::from_secs(100), t0);
    cache.insert(c, endpoint(), b, Duration::from_secs(100), t0);
    assert_eq!(
        cache.purge_expired(t0 + Duration::from_secs(2)),
        [(a, endpoint(), p)]
    );
    assert_eq!(cache.len(), 2);
    // b dies: its own lease and the one granted to it both go.
    assert_eq!(cache.drop_ente(b), 2);
    assert!(cache.is_empty());
}
