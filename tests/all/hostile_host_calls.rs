//! Time spent inside a host call counts against the call's deadline: a
//! 20 s sleep and a request for 64 MiB of random bytes end at the deadline
//! (or, for the bytes, are refused at once when more than the Ente's memory
//! could hold), under `ente up` and under `ente run` alike.

use crate::fixture::{ECHO, Ente, Host, config, contained, endpoint, seed};
use crate::support::{ente_in, guest, text};
use ente_core::{Cause, Kind};
use std::time::{Duration, Instant};

#[test]
fn a_long_sleep_ends_at_the_deadline() {
    let z = endpoint("sleeper");
    let sleeper = Ente::new("sleeper", "hostile_sleeper")
        .provides(&z)
        .restart(50, 500);
    let caller = Ente::new("caller", "client").requires(ECHO).requires(&z);
    let mut host = Host::start(
        seed(&[Ente::new("echo", "echo").provides(ECHO), sleeper, caller]),
        config(),
    );
    host.settled();
    let t0 = Instant::now();
    let err = host
        .call_as("caller", &z, b"sleep:20")
        .expect_err("deadline");
    let took = t0.elapsed();
    contained("20 s sleep in a host call", took);
    assert!(took < Duration::from_secs(10), "it slept {took:?}");
    assert!(
        err.to_string().contains("ran past its deadline of 500ms"),
        "{err}"
    );
    let id = host.id("sleeper");
    host.wait_for("the death by deadline", |e| {
        e.ente.as_ref().is_some_and(|(i, _)| *i == id)
            && matches!(
                e.kind,
                Kind::Died {
                    cause: Cause::Deadline { .. },
                    ..
                }
            )
    });
    // The time asleep is not running time.
    let cpu = host
        .handles
        .read()
        .get(id)
        .map(|r| r.counters.cpu_ns.load(std::sync::atomic::Ordering::Relaxed))
        .unwrap_or(u64::MAX);
    assert!(cpu < 400_000_000, "{cpu} ns charged for a sleep");
}

#[test]
fn random_bytes_are_bounded_by_memory_and_fast() {
    let z = endpoint("sleeper");
    let sleeper = Ente::new("sleeper", "hostile_sleeper")
        .provides(&z)
        .mem(256 << 20)
        .restart(50, 500);
    let caller = Ente::new("caller", "client").requires(ECHO).requires(&z);
    let mut cfg = config();
    cfg.call_deadline = Duration::from_secs(5);
    let mut host = Host::start(
        seed(&[Ente::new("echo", "echo").provides(ECHO), sleeper, caller]),
        cfg,
    );
    host.settled();
    let t0 = Instant::now();
    let answer = host
        .call_as("caller", &z, b"random:67108864")
        .expect("fills");
    contained("64 MiB of random bytes", t0.elapsed());
    assert_eq!(answer, b"67108864 random bytes");
    // More than the Ente's memory could ever hold: refused at once.
    let t0 = Instant::now();
    let err = host
        .call_as("caller", &z, b"random:1073741824")
        .expect_err("over its memory");
    contained("1 GiB of random bytes, refused", t0.elapsed());
    assert!(
        err.to_string().contains("memory limit of 268435456 bytes"),
        "{err}"
    );
}

#[test]
fn ente_run_ends_a_long_sleep_at_its_deadline() {
    let home = tempfile::tempdir().expect("home");
    let t0 = Instant::now();
    let out = ente_in(
        home.path(),
        &[
            "run",
            &guest("hostile_sleeper").to_string_lossy(),
            "--deadline",
            "1s",
            "--invoke",
            &format!("{}@1", endpoint("sleeper")),
            "sleep:20",
        ],
    );
    let took = t0.elapsed();
    contained("20 s sleep under ente run", took);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    assert!(took < Duration::from_secs(10), "it took {took:?}");
    assert!(
        text(&out.stderr).contains("ran past its deadline of 1s"),
        "{}",
        text(&out.stderr)
    );
}
