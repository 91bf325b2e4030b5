//! Unbounded recursion overflows the guest's own stack (the shadow stack in
//! its linear memory, or wasmtime's stack for wasm frames): a trap with its
//! trap code, recorded as such; the host's stack is never the guest's.

use crate::fixture::{ECHO, Ente, Host, config, contained, endpoint, seed};
use ente_core::{Cause, Kind};
use std::time::Instant;

#[test]
fn unbounded_recursion_is_a_stack_overflow_trap_of_the_guest() {
    let deep_ep = endpoint("deep");
    let deep = Ente::new("deep", "hostile_recursion")
        .provides(&deep_ep)
        .restart(50, 1000);
    let caller = Ente::new("caller", "client")
        .requires(ECHO)
        .requires(&deep_ep);
    let mut host = Host::start(
        seed(&[Ente::new("echo", "echo").provides(ECHO), caller, deep]),
        config(),
    );
    host.settled();
    let t0 = Instant::now();
    let err = host
        .call_as("caller", &deep_ep, b"down")
        .expect_err("overflows");
    contained("unbounded recursion", t0.elapsed());
    let overflow = |code: &str| code == "StackOverflow" || code == "MemoryOutOfBounds";
    assert!(
        err.to_string().contains("(StackOverflow)")
            || err.to_string().contains("(MemoryOutOfBounds)"),
        "{err}"
    );
    let id = host.id("deep");
    host.wait_for("the death with the trap code", |e| {
        e.ente.as_ref().is_some_and(|(i, _)| *i == id)
            && matches!(&e.kind, Kind::Died { cause: Cause::Trap { code: Some(c), .. }, .. } if overflow(c))
    });
    assert_eq!(host.call_as("caller", ECHO, b"ok"), Ok(b"ok".to_vec()));
}
