//! Crashes and supervision: an Ente that traps on every start ends failed
//! after exactly the start limit, with its last cause and no storm; one
//! that traps every few calls is restarted with growing backoff and serves
//! again; while it backs off, its callers are told so.

use crate::fixture::{ECHO, Ente, Host, config, contained, endpoint, seed};
use ente_core::{Cause, Failure, Kind, Phase, State};
use std::time::{Duration, Instant};

#[test]
fn a_trap_on_every_start_ends_failed_within_the_start_limit() {
    let crasher = Ente::new("crasher", "hostile_trap")
        .env("TRAP", "start")
        .restart(10, 100);
    let mut host = Host::start(
        seed(&[Ente::new("echo", "echo").provides(ECHO), crasher]),
        config(),
    );
    let t0 = Instant::now();
    let failed = host.wait_phase("crasher", Phase::Failed);
    contained("trap on every start, to failed", t0.elapsed());
    assert!(
        matches!(
            &failed,
            State::Failed {
                cause: Cause::Trap { code: Some(code), call, .. },
                why: Failure::StartLimit { burst: 5, interval },
            } if code == "UnreachableCodeReached" && call == "lifecycle.start" && *interval == Duration::from_secs(10)
        ),
        "{failed:?}"
    );
    // Five starts and no sixth: the loop ended, the host is quiet.
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(host.starts("crasher"), 5);
    let id = host.id("crasher");
    let backoffs: Vec<String> = host
        .events_of("crasher")
        .iter()
        .filter_map(|e| match &e.kind {
            Kind::State {
                to: Phase::BackingOff,
                detail,
                ..
            } => Some(detail.clone()),
            _ => None,
        })
        .collect();
    assert_eq!(backoffs.len(), 4, "{backoffs:?}");
    assert!(
        backoffs[0].starts_with("backing off: restart 1 in"),
        "{backoffs:?}"
    );
    let _ = id;
    host.wait_phase("echo", Phase::Ready);
}

#[test]
fn a_trap_after_n_calls_is_restarted_and_serves_again() {
    let flaky_ep = endpoint("flaky");
    let flaky = Ente::new("flaky", "hostile_trap")
        .provides(&flaky_ep)
        .env("EVERY", "3")
        .restart(100, 1000);
    let caller = Ente::new("caller", "client")
        .requires(ECHO)
        .requires(&flaky_ep);
    let mut host = Host::start(
        seed(&[Ente::new("echo", "echo").provides(ECHO), caller, flaky]),
        config(),
    );
    host.settled();
    assert_eq!(
        host.call_as("caller", &flaky_ep, b"1"),
        Ok(b"call 1".to_vec())
    );
    assert_eq!(
        host.call_as("caller", &flaky_ep, b"2"),
        Ok(b"call 2".to_vec())
    );
    let t0 = Instant::now();
    let err = host
        .call_as("caller", &flaky_ep, b"3")
        .expect_err("the third traps");
    assert!(err.to_string().contains("UnreachableCodeReached"), "{err}");
    // While it backs off, a caller is told so (its lease was dropped).
    host.wait_phase("flaky", Phase::BackingOff);
    let backing = host
        .call_as("caller", &flaky_ep, b"4")
        .expect_err("backing off");
    assert!(
        backing
            .to_string()
            .contains("is not running: backing off: restart 1 in"),
        "{backing}"
    );
    host.wait_phase("flaky", Phase::Ready);
    contained("trap after 3 calls, to ready again", t0.elapsed());
    assert_eq!(
        host.call_as("caller", &flaky_ep, b"5"),
        Ok(b"call 1".to_vec())
    );
    // The second failure backs off twice as long.
    let _ = host.call_as("caller", &flaky_ep, b"6");
    let _ = host.call_as("caller", &flaky_ep, b"7");
    let second = host.wait_phase("flaky", Phase::BackingOff);
    assert!(
        matches!(second, State::BackingOff { attempt: 2, .. }),
        "{second:?}"
    );
    let delays: Vec<String> = host
        .events_of("flaky")
        .iter()
        .filter_map(|e| match &e.kind {
            Kind::State {
                to: Phase::BackingOff,
                detail,
                ..
            } => Some(detail.clone()),
            _ => None,
        })
        .collect();
    let ms = |d: &str| -> u64 {
        d.split("in ")
            .nth(1)
            .and_then(|t| t.split(' ').next())
            .and_then(|n| n.parse().ok())
            .unwrap_or(0)
    };
    assert!((50..=100).contains(&ms(&delays[0])), "{delays:?}");
    assert!((150..=200).contains(&ms(&delays[1])), "{delays:?}");
    assert_eq!(host.call_as("caller", ECHO, b"ok"), Ok(b"ok".to_vec()));
}
