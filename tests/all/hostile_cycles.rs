//! A call that would wait on itself is answered `cycle`, never a deadlock:
//! an Ente calling its own endpoint, and two Entes calling each other. The
//! default mediator never routes such calls (a caller must declare what it
//! calls, the graph check refuses a dependency cycle, and a call is never
//! routed back to its caller), so a seed that chose an allow-all mediator
//! is the hostile setting here.

use crate::fixture::{ECHO, Ente, Host, config, contained, endpoint, mediator, seed_mediated};
use std::time::Instant;

fn allow_all() -> Ente {
    mediator("hostile_mediator")
}

#[test]
fn a_self_invoke_is_a_cycle() {
    let me = endpoint("self");
    let selfish = Ente::new("selfish", "hostile_caller")
        .provides(&me)
        .requires(ECHO)
        .env("SELF", &format!("{me}@1"));
    let mut host = Host::start(
        seed_mediated(
            allow_all(),
            &[Ente::new("echo", "echo").provides(ECHO), selfish],
        ),
        config(),
    );
    host.settled();
    let t0 = Instant::now();
    let answer = host.call_as("echo", &me, b"self").expect("answered");
    contained("self-invoke", t0.elapsed());
    let answer = String::from_utf8_lossy(&answer);
    assert!(
        answer.contains("Cycle"),
        "the inner call was refused as a cycle: {answer}"
    );
    assert_eq!(host.call_as("selfish", ECHO, b"ok"), Ok(b"ok".to_vec()));
}

#[test]
fn two_entes_calling_each_other_is_a_cycle() {
    let (a_ep, b_ep) = (endpoint("ping"), endpoint("pong"));
    let a = Ente::new("a", "hostile_caller")
        .provides(&a_ep)
        .requires(ECHO)
        .env("TARGET", &format!("{b_ep}@1"));
    let b = Ente::new("b", "hostile_caller")
        .provides(&b_ep)
        .requires(ECHO)
        .env("TARGET", &format!("{a_ep}@1"));
    let mut host = Host::start(
        seed_mediated(
            allow_all(),
            &[Ente::new("echo", "echo").provides(ECHO), a, b],
        ),
        config(),
    );
    host.settled();
    let t0 = Instant::now();
    // echo -> a (relays to b) -> b (relays to a): a is held by this chain.
    let err = host.call_as("echo", &a_ep, b"around").expect_err("a cycle");
    contained("two-Ente cycle", t0.elapsed());
    assert!(err.to_string().contains("Cycle"), "{err}");
    // Both are intact afterwards.
    assert_eq!(host.call_as("a", ECHO, b"ok"), Ok(b"ok".to_vec()));
    assert_eq!(host.call_as("b", ECHO, b"ok"), Ok(b"ok".to_vec()));
}
