//! What the bus carries is bounded: a reply or a request larger than the
//! bus carries is refused `too-large` (the caller lives, the host does not
//! grow), and an endpoint that is not 32 hex characters never reaches the
//! mediator (a 70 MB one used to run it out of memory).

use crate::fixture::{ECHO, Ente, Host, config, contained, endpoint, seed};
use ente_bus::BusError;
use std::time::Instant;

fn host() -> (Host, String, String) {
    let (big_ep, caller_ep) = (endpoint("big"), endpoint("caller"));
    let big = Ente::new("big", "hostile_big_reply").provides(&big_ep);
    let caller = Ente::new("caller", "hostile_caller")
        .provides(&caller_ep)
        .requires(ECHO)
        .requires(&big_ep)
        .env("TARGET", &format!("{ECHO}@1"))
        .mem(256 << 20);
    let tester = Ente::new("tester", "client")
        .requires(&caller_ep)
        .requires(&big_ep)
        .requires(ECHO);
    // Making 64 MiB takes the guests a while in a debug build.
    let mut cfg = config();
    cfg.call_deadline = std::time::Duration::from_secs(30);
    let mut host = Host::start(
        seed(&[
            Ente::new("echo", "echo").provides(ECHO),
            big.mem(256 << 20),
            caller,
            tester,
        ]),
        cfg,
    );
    host.settled();
    (host, big_ep, caller_ep)
}

#[test]
fn a_reply_larger_than_the_bus_carries_is_refused_and_the_caller_lives() {
    let (mut host, big_ep, _) = host();
    let t0 = Instant::now();
    let err = host
        .call_as("tester", &big_ep, (64u64 << 20).to_string().as_bytes())
        .expect_err("too large");
    contained("64 MiB reply", t0.elapsed());
    assert_eq!(
        err,
        BusError::TooLarge {
            what: "reply",
            size: 64 << 20,
            max: 4 << 20
        }
    );
    // A huge error text is cut, not carried whole.
    let err = host
        .call_as("tester", &big_ep, format!("err:{}", 32u64 << 20).as_bytes())
        .expect_err("refused");
    assert!(
        err.to_string().len() < 8192,
        "{} bytes",
        err.to_string().len()
    );
    // The provider was not at fault: it still serves.
    assert_eq!(host.call_as("tester", &big_ep, b"10"), Ok(vec![b'r'; 10]));
    let _ = host.events_of("big");
}

#[test]
fn a_request_larger_than_the_bus_carries_is_refused_before_routing() {
    let (host, _, caller_ep) = host();
    let t0 = Instant::now();
    let answer = host
        .call_as(
            "tester",
            &caller_ep,
            format!("big:{}", 64u64 << 20).as_bytes(),
        )
        .expect("the caller answers");
    contained("64 MiB request", t0.elapsed());
    assert_eq!(
        String::from_utf8_lossy(&answer),
        "BusError::TooLarge(4194304)"
    );
    assert_eq!(host.call_as("tester", ECHO, b"ok"), Ok(b"ok".to_vec()));
}

#[test]
fn a_huge_endpoint_never_reaches_the_mediator() {
    let (mut host, _, caller_ep) = host();
    let t0 = Instant::now();
    let answer = host
        .call_as(
            "tester",
            &caller_ep,
            format!("endpoint:{}", 70_000_000).as_bytes(),
        )
        .expect("the caller answers");
    contained("70 MB endpoint", t0.elapsed());
    let answer = String::from_utf8_lossy(&answer);
    assert!(
        answer.contains("malformed endpoint: the interface is 70000000 bytes"),
        "{answer}"
    );
    // The mediator never saw it: no death, and it still grants.
    let mediator = host.id("mediator");
    assert!(
        !host
            .events_of("mediator")
            .iter()
            .any(|e| matches!(e.kind, ente_core::Kind::Died { .. })),
        "{mediator}"
    );
    assert_eq!(host.call_as("tester", ECHO, b"ok"), Ok(b"ok".to_vec()));
}
