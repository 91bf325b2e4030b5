//! The hostile suite's native half, in one graph under `ente up`: a fork
//! bomb, orphaned grandchildren, a tree that ignores SIGTERM, a program
//! that exits before it is ready, one that is never ready, and a crash
//! loop, beside a Wasm Ente. The host stays up and the Wasm Ente with it;
//! each hazard ends as an event with its cause; every tree is gone at
//! stop, said by its teardown report. Containment times are printed.

use crate::fixture::ROOT;
use crate::native_entes::{is_root, native_card, removed_cgroups, restart};
use crate::support::{Up, seed_with, wasm_card};
use serde_json::json;

/// The `in N ms` of a teardown report.
fn took_ms(report: &str) -> u64 {
    report
        .split(" in ")
        .nth(1)
        .and_then(|rest| rest.split(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no time in {report:?}"))
}

#[test]
fn native_hazards_are_contained_and_the_host_and_its_other_entes_stay_up() {
    let home = tempfile::tempdir().expect("home");
    let bomb = "echo >&3; b() { b & b & sleep 10; }; b";
    let orphans = "(sleep 300 &); (sleep 301 &); echo >&3; exec sleep 302";
    let stubborn = "trap '' TERM; echo >&3; while :; do sleep 0.1; done";
    let early = "exit 3";
    let never = "exec sleep 300";
    let crash = "echo >&3; sleep 0.1; exit 1";
    let seed = seed_with(
        ROOT,
        vec![
            wasm_card(
                "01J000000000000000000000C1",
                ROOT,
                "chatty",
                "chatty",
                json!([]),
                json!([{"kind": "Journal"}]),
                json!([]),
            ),
            native_card(
                "01J00000000000000000000HB1",
                "bomb",
                bomb,
                json!({"rlimits": {"nproc": 20}}),
                restart(100),
            ),
            native_card(
                "01J00000000000000000000H01",
                "orphans",
                orphans,
                json!({}),
                restart(100),
            ),
            native_card(
                "01J00000000000000000000HS1",
                "stubborn",
                stubborn,
                json!({}),
                restart(100),
            ),
            native_card(
                "01J00000000000000000000HE1",
                "early",
                early,
                json!({}),
                restart(20),
            ),
            native_card(
                "01J00000000000000000000HN1",
                "never",
                never,
                json!({}),
                restart(20),
            ),
            native_card(
                "01J00000000000000000000HC1",
                "crash",
                crash,
                json!({}),
                restart(20),
            ),
        ],
    );
    let file = home.path().join("seed.json");
    std::fs::write(&file, serde_json::to_vec(&seed).expect("json")).expect("write");
    let t0 = std::time::Instant::now();
    let mut up = Up::start_with(home.path(), &file, &["--call-deadline", "1s"]);

    // Exit before ready, never ready, a crash loop: each a cause, then the
    // start limit, not a storm.
    let early = up.wait_for("early: failed:");
    assert!(
        early.contains("start limit") && early.contains("exited with 3 before it was ready"),
        "{early}"
    );
    let never = up.wait_for("never: failed:");
    assert!(
        never.contains("was not ready within") && never.contains("fd 3"),
        "{never}"
    );
    let crash = up.wait_for("crash: failed:");
    assert!(
        crash.contains("start limit") && crash.contains("exited with 1"),
        "{crash}"
    );
    println!(
        "contained: exit-before-ready, never-ready and crash loops failed within {:?}",
        t0.elapsed()
    );

    // The fork bomb is held to its pids.max (root: a pids cgroup; root
    // ignores RLIMIT_NPROC, and the bomb runs as a uid of its own anyway).
    let soma = up.wait_for("bomb: pid ");
    up.wait_for("bomb: ready");
    // It hit its limit: its shell says it cannot fork.
    let refused = up.wait_for("[bomb] warn:");
    assert!(refused.to_lowercase().contains("fork"), "{refused}");
    if is_root() {
        assert!(soma.contains("pids.max=20"), "{soma}");
        let up_pid = up.child.id();
        let current = std::fs::read_to_string(format!(
            "/sys/fs/cgroup/pids/ente-{up_pid}/01J00000000000000000000HB1/pids.current"
        ))
        .ok()
        .or_else(|| {
            std::fs::read_to_string(format!(
                "/sys/fs/cgroup/ente-{up_pid}/01J00000000000000000000HB1/pids.current"
            ))
            .ok()
        });
        match current {
            Some(n) => {
                let n: u32 = n.trim().parse().expect("pids.current");
                assert!(n <= 20, "the bomb holds {n} processes");
                println!("contained: the fork bomb holds {n} processes of its 20");
            }
            None => println!("note: no pids cgroup here; the bomb is held by RLIMIT_NPROC only"),
        }
    }
    up.wait_for("orphans: ready");
    up.wait_for("stubborn: ready");
    up.wait_for("graph settled");
    // The host and its Wasm Ente are up through all of it.
    assert!(
        up.child.try_wait().expect("ente up").is_none(),
        "ente up ended"
    );

    let (code, lines) = up.terminate();
    let all = lines.join("\n");
    assert_eq!(code, Some(0), "{all}");
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("chatty") && l.contains("ready")),
        "{all}"
    );
    let report = |label: &str| {
        lines
            .iter()
            .rev()
            .find(|l| l.starts_with(&format!("{label}: teardown:")))
            .unwrap_or_else(|| panic!("no teardown of {label}:\n{all}"))
            .clone()
    };
    let stubborn = report("stubborn");
    assert!(
        stubborn.contains("SIGKILL to the whole tree after"),
        "{stubborn}"
    );
    for label in ["bomb", "orphans", "stubborn"] {
        let r = report(label);
        assert!(r.contains("no process left"), "{r}");
        for path in removed_cgroups(&r) {
            assert!(!std::path::Path::new(&path).exists(), "{path} was left");
        }
        println!("contained: {label} torn down in {} ms: {r}", took_ms(&r));
    }
    // The grandchildren came to the host when their parents went, and were
    // reaped when their tree was taken down.
    let orphans_reaped = lines
        .iter()
        .filter(|l| l.starts_with("reaped orphan pid"))
        .count();
    assert!(orphans_reaped >= 2, "{all}");
    assert!(!all.contains("RESIDUE"), "{all}");
}
