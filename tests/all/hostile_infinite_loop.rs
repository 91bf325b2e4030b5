//! A guest that never returns, in its handler or in its `start`, is stopped
//! at its deadline: the call fails saying so, the spine records the death
//! with the `Deadline` cause, the others keep answering, and supervision
//! restarts it (a handler) or ends the crash loop (a start).

use crate::fixture::{ECHO, Ente, Host, config, contained, endpoint, seed};
use ente_core::{Cause, Failure, Kind, Phase, State};
use std::time::Instant;

fn caller(also: &str) -> Ente {
    Ente::new("caller", "client").requires(ECHO).requires(also)
}

fn echo() -> Ente {
    Ente::new("echo", "echo").provides(ECHO)
}

#[test]
fn an_endless_handler_is_stopped_at_its_deadline_and_restarted() {
    let spin_ep = endpoint("spin");
    let spin = Ente::new("spin", "hostile_infinite_loop")
        .provides(&spin_ep)
        .restart(50, 1000);
    let mut host = Host::start(seed(&[echo(), caller(&spin_ep), spin]), config());
    assert_eq!(host.settled(), (4, 4));
    let t0 = Instant::now();
    let err = host
        .call_as("caller", &spin_ep, b"go")
        .expect_err("it spins");
    contained("infinite loop in handle", t0.elapsed());
    assert!(err.to_string().contains("ran past its deadline"), "{err}");
    let spin_id = host.id("spin");
    host.wait_for("the spine records the death with its cause", |e| {
        e.ente.as_ref().is_some_and(|(id, _)| *id == spin_id)
            && matches!(&e.kind, Kind::Died { cause: Cause::Deadline { call, .. }, .. } if call == "handler.handle")
    });
    assert_eq!(
        host.call_as("caller", ECHO, b"still here"),
        Ok(b"still here".to_vec())
    );
    // Restarted after its backoff, it serves again (and spins again).
    host.wait_phase("spin", Phase::Ready);
    assert!(host.starts("spin") >= 2);
    let cpu = host
        .handles
        .read()
        .get(spin_id)
        .map(|r| r.counters.cpu_ns.load(std::sync::atomic::Ordering::Relaxed));
    assert!(
        cpu.is_some_and(|ns| ns >= 400_000_000),
        "the spin's running time is charged to it: {cpu:?} ns"
    );
}

#[test]
fn an_endless_start_ends_at_its_deadline_and_the_crash_loop_fails() {
    let spin = Ente::new("spin", "hostile_infinite_loop")
        .env("WHERE", "start")
        .restart(20, 100);
    let mut host = Host::start(seed(&[echo(), caller(ECHO), spin]), config());
    let t0 = Instant::now();
    let failed = host.wait_phase("spin", Phase::Failed);
    contained("infinite loop in start, to failed", t0.elapsed());
    assert!(
        matches!(
            &failed,
            State::Failed { cause: Cause::Deadline { call, .. }, why: Failure::StartLimit { burst: 5, .. } } if call == "lifecycle.start"
        ),
        "{failed:?}"
    );
    assert_eq!(host.starts("spin"), 5, "the start limit, and no more");
    assert_eq!(host.call_as("caller", ECHO, b"ok"), Ok(b"ok".to_vec()));
}
