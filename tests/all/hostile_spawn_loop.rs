//! A spawn loop is held to the spawner's live children (its card's
//! `soma.rlimits.nproc`, else the host's default): past it, spawn is
//! refused with the reason, the refusal is on the spine, and the host and
//! the other Entes go on.

use crate::fixture::{ECHO, Ente, Host, config, contained, digest_of_guest, endpoint, seed};
use ente_core::Kind;
use std::time::{Duration, Instant};

#[test]
fn a_spawn_loop_is_held_to_the_live_children_limit() {
    let sp = endpoint("spawner");
    let spawner = Ente::new("spawner", "spawner")
        .provides(&sp)
        .requires_cap(serde_json::json!({"kind": "Spawn"}))
        .nproc(16);
    let spawner = spawner
        .clone()
        .env("SELF", &spawner.id.to_string())
        .env("CHILD", &digest_of_guest("echo"));
    let caller = Ente::new("caller", "client").requires(ECHO).requires(&sp);
    let mut cfg = config();
    cfg.call_deadline = Duration::from_secs(20);
    let mut host = Host::start(
        seed(&[Ente::new("echo", "echo").provides(ECHO), spawner, caller]),
        cfg,
    );
    host.settled();
    let t0 = Instant::now();
    let answer = host.call_as("caller", &sp, b"spawn:1000").expect("answers");
    contained("spawn loop of 1,000", t0.elapsed());
    let answer = String::from_utf8_lossy(&answer).into_owned();
    assert!(answer.starts_with("spawned 16 of 1000"), "{answer}");
    assert!(
        answer.contains("the caller already has 16 children, its limit"),
        "{answer}"
    );
    let refusals = host
        .events_of("spawner")
        .iter()
        .filter(|e| matches!(e.kind, Kind::Refused { .. }))
        .count();
    assert_eq!(refusals, 984);
    assert_eq!(
        host.handles.read().len(),
        5 + 16,
        "the seed, its four Entes and 16 children"
    );
    assert_eq!(host.call_as("caller", ECHO, b"ok"), Ok(b"ok".to_vec()));
}
