//! A guest that takes memory without end is stopped at its card's memory
//! limit (`soma.rlimits.mem_bytes`), with the `MemoryLimit` cause, whether
//! in `start` or in a call; the host and the other Entes go on.

use crate::fixture::{ECHO, Ente, Host, config, contained, endpoint, seed};
use ente_core::{Cause, Kind, Phase, State};
use std::time::Instant;

const LIMIT: u64 = 16 << 20;

#[test]
fn a_memory_bomb_in_a_call_is_stopped_at_the_card_limit() {
    let bomb_ep = endpoint("bomb");
    let bomb = Ente::new("bomb", "hostile_memory_bomb")
        .provides(&bomb_ep)
        .mem(LIMIT)
        .restart(50, 1000);
    let caller = Ente::new("caller", "client")
        .requires(ECHO)
        .requires(&bomb_ep);
    let mut host = Host::start(
        seed(&[Ente::new("echo", "echo").provides(ECHO), caller, bomb]),
        config(),
    );
    host.settled();
    let t0 = Instant::now();
    let err = host.call_as("caller", &bomb_ep, b"go").expect_err("bombs");
    contained("memory bomb in handle", t0.elapsed());
    assert!(
        err.to_string().contains("memory limit of 16777216 bytes"),
        "{err}"
    );
    let id = host.id("bomb");
    host.wait_for("the death, with the memory limit as cause", |e| {
        e.ente.as_ref().is_some_and(|(i, _)| *i == id)
            && matches!(
                e.kind,
                Kind::Died {
                    cause: Cause::MemoryLimit { limit: LIMIT, .. },
                    ..
                }
            )
    });
    assert_eq!(host.call_as("caller", ECHO, b"ok"), Ok(b"ok".to_vec()));
    host.wait_phase("bomb", Phase::Ready);
}

#[test]
fn a_memory_bomb_in_start_never_becomes_ready() {
    let bomb = Ente::new("bomb", "hostile_memory_bomb")
        .env("WHERE", "start")
        .mem(LIMIT)
        .restart(10, 50);
    let mut host = Host::start(
        seed(&[Ente::new("echo", "echo").provides(ECHO), bomb]),
        config(),
    );
    let t0 = Instant::now();
    let failed = host.wait_phase("bomb", Phase::Failed);
    contained("memory bomb in start, to failed", t0.elapsed());
    assert!(
        matches!(&failed, State::Failed { cause: Cause::MemoryLimit { limit: LIMIT, call }, .. } if call == "lifecycle.start"),
        "{failed:?}"
    );
    host.wait_phase("echo", Phase::Ready);
}
