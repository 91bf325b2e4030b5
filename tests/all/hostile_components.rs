//! Components that are hostile as bytes: each is refused or stopped with a
//! cause that says why, and the Entes beside it start and answer.
//!
//! - a core start function that loops: instantiation has a deadline too;
//! - 50 memories in nested core instances, or 900 instances: the
//!   per-component limits keep one Ente from taking the pool's slots;
//! - a huge initial memory: over the Ente's memory limit;
//! - an ungranted import: refused before it runs, naming the import;
//! - bytes that are not a component, a component whose strings are
//!   UTF-16, and a stored blob that no longer matches its pinned digest:
//!   never loaded.

use crate::components::{Hazard, component};
use crate::fixture::{ECHO, Ente, Host, config, contained, home_with, seed};
use ente_core::{Cause, Failure, Phase, State};
use std::time::Instant;

fn host_with(component: Vec<u8>, restart: bool) -> Host {
    let (home, digests) = home_with(&[component]);
    let mut hostile = Ente::of_digest("hostile", &digests[0]);
    hostile.card["requires"] = serde_json::json!([]);
    if restart {
        hostile = hostile.restart(10, 50);
    }
    let caller = Ente::new("caller", "client").requires(ECHO);
    Host::start_in(
        home,
        seed(&[Ente::new("echo", "echo").provides(ECHO), hostile, caller]),
        config(),
    )
}

fn others_answer(host: &mut Host) {
    host.wait_phase("caller", Phase::Ready);
    assert_eq!(host.call_as("caller", ECHO, b"ok"), Ok(b"ok".to_vec()));
}

#[test]
fn a_start_function_that_loops_ends_at_the_deadline() {
    let component = component(Hazard {
        spins: true,
        ..Hazard::default()
    });
    assert!(component.len() < 1024, "{} bytes", component.len());
    let mut host = host_with(component, true);
    let t0 = Instant::now();
    let failed = host.wait_phase("hostile", Phase::Failed);
    contained("core start function loop, to failed", t0.elapsed());
    assert!(
        matches!(&failed, State::Failed { cause: Cause::Deadline { call, .. }, why: Failure::StartLimit { .. } } if call == "instantiate"),
        "{failed:?}"
    );
    others_answer(&mut host);
}

fn nested(instances: u32) -> Vec<u8> {
    component(Hazard {
        nested: instances,
        ..Hazard::default()
    })
}

#[test]
fn many_memories_in_one_component_are_refused_and_leave_the_pool_to_others() {
    for (instances, limit) in [
        (
            50,
            "51 Wasm linear memories, which exceeds the configured maximum of 4",
        ),
        (
            900,
            "901 core module instances, which exceeds the configured maximum of 100",
        ),
    ] {
        let component = nested(instances);
        assert!(component.len() < 16 << 10, "{} bytes", component.len());
        let mut host = host_with(component, false);
        let t0 = Instant::now();
        let failed = host.wait_phase("hostile", Phase::Failed);
        contained(
            &format!("{instances} nested memories, refused"),
            t0.elapsed(),
        );
        assert!(
            matches!(
                failed,
                State::Failed {
                    why: Failure::Unbuildable,
                    ..
                }
            ),
            "{failed:?}"
        );
        assert!(failed.to_string().contains(limit), "{failed}");
        others_answer(&mut host);
    }
}

#[test]
fn a_huge_initial_memory_is_refused() {
    let component = component(Hazard {
        pages: 65536,
        ..Hazard::default()
    });
    let mut host = host_with(component, false);
    let t0 = Instant::now();
    let failed = host.wait_phase("hostile", Phase::Failed);
    contained("4 GiB initial memory, refused", t0.elapsed());
    assert!(
        matches!(
            failed,
            State::Failed {
                cause: Cause::MemoryLimit { .. } | Cause::Unbuildable { .. },
                ..
            }
        ),
        "{failed:?}"
    );
    others_answer(&mut host);
}

#[test]
fn an_ungranted_import_is_refused_before_it_runs_naming_it() {
    let mut sneaky = Ente::new("hostile", "hostile_ungranted_spawn");
    sneaky.card["requires"] = serde_json::json!([{"kind": "Journal"}]);
    let caller = Ente::new("caller", "client").requires(ECHO);
    let mut host = Host::start(
        seed(&[Ente::new("echo", "echo").provides(ECHO), sneaky, caller]),
        config(),
    );
    let failed = host.wait_phase("hostile", Phase::Failed);
    assert!(
        matches!(
            &failed,
            State::Failed {
                why: Failure::Unbuildable,
                ..
            }
        ),
        "{failed:?}"
    );
    let text = failed.to_string();
    assert!(
        text.contains("imports `ente:core/graph@0.1.0`, which its card does not grant (needs the Spawn capability)"),
        "{text}"
    );
    assert_eq!(
        host.starts("hostile"),
        1,
        "never retried: it cannot get better"
    );
    others_answer(&mut host);
}

#[test]
fn bytes_that_are_not_a_component_are_refused() {
    let mut host = host_with(
        b"\0asm\x0d\0\x01\0garbage that is no component".to_vec(),
        true,
    );
    let failed = host.wait_phase("hostile", Phase::Failed);
    assert!(
        matches!(
            &failed,
            State::Failed {
                why: Failure::Unbuildable,
                ..
            }
        ),
        "{failed:?}"
    );
    assert!(failed.to_string().contains("does not compile"), "{failed}");
    others_answer(&mut host);
}

#[test]
fn a_component_whose_strings_are_utf16_is_refused_before_it_compiles() {
    let mut host = host_with(
        component(Hazard {
            utf16: true,
            ..Hazard::default()
        }),
        true,
    );
    let failed = host.wait_phase("hostile", Phase::Failed);
    assert!(
        matches!(
            &failed,
            State::Failed {
                why: Failure::Unbuildable,
                ..
            }
        ),
        "{failed:?}"
    );
    let text = failed.to_string();
    assert!(
        text.contains("refused before it is compiled") && text.contains("passes strings as UTF-16"),
        "{text}"
    );
    others_answer(&mut host);
}

#[test]
fn a_blob_that_no_longer_matches_its_digest_is_never_loaded() {
    let echo = std::fs::read(crate::support::guest("echo")).expect("echo");
    let mut twin = echo.clone();
    twin.extend_from_slice(b"\0"); // a different component, stored under its own digest
    let (home, digests) = home_with(&[twin]);
    let blob = home.path().join("cas").join(&digests[0]);
    std::fs::write(&blob, &echo).expect("tamper");
    let mut hostile = Ente::of_digest("hostile", &digests[0]);
    hostile.card["requires"] = serde_json::json!([{"kind": "Journal"}]);
    let caller = Ente::new("caller", "client").requires(ECHO);
    let mut host = Host::start_in(
        home,
        seed(&[Ente::new("echo", "echo").provides(ECHO), hostile, caller]),
        config(),
    );
    let failed = host.wait_phase("hostile", Phase::Failed);
    assert!(
        failed.to_string().contains("is corrupt or tampered"),
        "{failed}"
    );
    others_answer(&mut host);
}
