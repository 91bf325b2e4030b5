//! `graph.spawn`, `stop` and `restart`: only for holders of Spawn; a child
//! passes the seed's card rules and routing, has the caller as lineage, and
//! holds nothing its parent lacks; stop and restart reach only the caller's
//! descendants; a stopped spawned child leaves the table.

use crate::fixture::{ECHO, Ente, Host, MEDIATOR, config, digest_of_guest, endpoint, seed};
use ente_core::{Kind, Phase};

fn host() -> (Host, String) {
    let sp = endpoint("spawner");
    let spawner = Ente::new("spawner", "spawner")
        .provides(&sp)
        .requires_cap(serde_json::json!({"kind": "Spawn"}));
    let spawner = spawner
        .clone()
        .env("SELF", &spawner.id.to_string())
        .env("CHILD", &digest_of_guest("echo"));
    let caller = Ente::new("caller", "client").requires(ECHO).requires(&sp);
    let other = Ente::new("other", "echo");
    let mut host = Host::start(
        seed(&[
            Ente::new("echo", "echo").provides(ECHO),
            spawner,
            caller,
            other,
        ]),
        config(),
    );
    host.settled();
    (host, sp)
}

fn ask(host: &Host, sp: &str, what: &str) -> String {
    String::from_utf8_lossy(
        &host
            .call_as("caller", sp, what.as_bytes())
            .expect("answers"),
    )
    .into_owned()
}

fn card(host: &Host, label: &str, lineage: &str, extra: serde_json::Value) -> String {
    let mut c = serde_json::json!({
        "id": crate::fixture::id_of(label).to_string(), "lineage": lineage, "label": label,
        "provides": [], "requires": [{"kind": "Journal"}], "soma": {},
        "payload": {"kind": "Wasm", "module_blake3": digest_of_guest("echo"), "entry": "ente:core/lifecycle"},
        "supervision": {"kind": "OneShot"}
    });
    if let (Some(c), Some(extra)) = (c.as_object_mut(), extra.as_object()) {
        for (k, v) in extra {
            c.insert(k.clone(), v.clone());
        }
    }
    let _ = host;
    format!("card:{c}")
}

#[test]
fn a_spawned_child_starts_under_its_spawner_and_stops_and_restarts() {
    let (mut host, sp) = host();
    let me = host.id("spawner").to_string();
    let answer = ask(&host, &sp, &card(&host, "kid", &me, serde_json::json!({})));
    let kid = crate::fixture::id_of("kid");
    assert_eq!(answer, format!("spawned {kid}"));
    host.wait_for("the kid ready", |e| {
        e.ente.as_ref().is_some_and(|(i, _)| *i == kid)
            && matches!(
                e.kind,
                Kind::State {
                    to: Phase::Ready,
                    ..
                }
            )
    });
    assert!(
        host.seen
            .iter()
            .any(|e| matches!(e.kind, Kind::Spawned { by } if by.to_string() == me))
    );
    assert_eq!(ask(&host, &sp, &format!("restart:{kid}")), "Ok(())");
    let t0 = std::time::Instant::now();
    while host
        .events_of_id(kid)
        .iter()
        .filter(|e| {
            matches!(
                e.kind,
                Kind::State {
                    to: Phase::Ready,
                    ..
                }
            )
        })
        .count()
        < 2
    {
        assert!(
            t0.elapsed().as_secs() < 20,
            "the kid never became ready again"
        );
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    assert_eq!(ask(&host, &sp, &format!("stop:{kid}")), "Ok(())");
    host.wait_for("the kid stopped", |e| {
        e.ente.as_ref().is_some_and(|(i, _)| *i == kid)
            && matches!(
                e.kind,
                Kind::State {
                    to: Phase::Stopped,
                    ..
                }
            )
    });
    // Gone from the table once stopped.
    let t0 = std::time::Instant::now();
    while host.handles.read().get(kid).is_some() {
        assert!(t0.elapsed().as_secs() < 10, "the kid never left the table");
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
}

#[test]
fn a_child_is_checked_like_the_seeds_genesis() {
    let (host, sp) = host();
    let me = host.id("spawner").to_string();
    // Its lineage must be the caller.
    let answer = ask(
        &host,
        &sp,
        &card(&host, "stray", crate::fixture::ROOT, serde_json::json!({})),
    );
    assert!(
        answer.contains("lineage must be the caller's id"),
        "{answer}"
    );
    // It may not hold what its parent lacks.
    let answer = ask(
        &host,
        &sp,
        &card(
            &host,
            "greedy",
            &me,
            serde_json::json!({"requires": [{"kind": "FilesystemRoot"}]}),
        ),
    );
    assert!(
        answer.contains("which its parent `spawner`") && answer.contains("does not hold"),
        "{answer}"
    );
    // It may not make itself the mediator.
    let answer = ask(
        &host,
        &sp,
        &card(
            &host,
            "usurper",
            &me,
            serde_json::json!({
                "provides": [{"kind": "Endpoint", "endpoint_interface": MEDIATOR, "endpoint_version": 1}]
            }),
        ),
    );
    assert!(answer.contains("only the seed can hand out"), "{answer}");
    // Its grammar is checked, every fault named.
    let answer = ask(&host, &sp, "card:{\"id\": \"nope\"}");
    assert!(answer.contains("id = \"nope\""), "{answer}");
    // Its id must be new.
    let answer = ask(&host, &sp, &card(&host, "echo", &me, serde_json::json!({})));
    assert!(answer.contains("already the id of `echo`"), "{answer}");
}

#[test]
fn stop_and_restart_reach_only_descendants() {
    let (host, sp) = host();
    let other = host.id("other");
    let answer = ask(&host, &sp, &format!("stop:{other}"));
    assert!(
        answer.contains("is not a descendant of the caller"),
        "{answer}"
    );
    let answer = ask(&host, &sp, &format!("restart:{other}"));
    assert!(
        answer.contains("is not a descendant of the caller"),
        "{answer}"
    );
    assert_eq!(host.state("other").map(|s| s.phase()), Some(Phase::Ready));
}

#[test]
fn without_spawn_the_graph_interface_is_not_linked() {
    let mut sneaky = Ente::new("sneaky", "spawner").provides(&endpoint("sneaky"));
    sneaky.card["requires"] = serde_json::json!([{"kind": "Journal"}]);
    let mut host = Host::start(seed(&[sneaky]), config());
    let failed = host.wait_phase("sneaky", Phase::Failed);
    assert!(
        failed.to_string().contains("needs the Spawn capability"),
        "{failed}"
    );
}

#[test]
fn a_spawned_label_cannot_forge_a_line_of_the_status() {
    use crate::support::Up;
    let home = tempfile::tempdir().expect("home");
    let sp = endpoint("spawner");
    let spawner = Ente::new("spawner", "spawner")
        .provides(&sp)
        .requires_cap(serde_json::json!({"kind": "Spawn"}));
    let me = spawner.id.to_string();
    let kid = serde_json::json!({
        "id": crate::fixture::id_of("kid").to_string(), "lineage": me,
        "label": "kid\n[echo] error: forged\u{1b}[2J",
        "provides": [], "requires": [{"kind": "Journal"}], "soma": {},
        "payload": {"kind": "Wasm", "module_blake3": digest_of_guest("echo"), "entry": "ente:core/lifecycle"},
        "supervision": {"kind": "OneShot"}
    });
    let asker = Ente::new("asker", "client")
        .requires(&sp)
        .env("TARGET", &format!("{sp}@1"))
        .env("GREETING", &format!("card:{kid}"));
    let file = home.path().join("seed.json");
    std::fs::write(
        &file,
        serde_json::to_vec(&seed(&[spawner, asker])).expect("json"),
    )
    .expect("write");
    let mut up = Up::start(home.path(), &file);
    up.wait_for("[asker] info: reply: spawned");
    let line = up.wait_for("[echo] error: forged");
    let (_, lines) = up.terminate();
    assert!(
        line.starts_with("kid\\n[echo] error: forged\\u{1b}[2J"),
        "{line}"
    );
    assert!(
        lines
            .iter()
            .all(|l| !l.starts_with("[echo]") && !l.contains('\u{1b}')),
        "{}",
        lines.join("\n")
    );
}

#[test]
fn a_child_gets_no_more_memory_or_children_than_its_spawner() {
    let (host, sp) = host();
    let me = host.id("spawner").to_string();
    let answer = ask(
        &host,
        &sp,
        &card(
            &host,
            "big",
            &me,
            serde_json::json!({"soma": {"rlimits": {"mem_bytes": 1u64 << 30}}}),
        ),
    );
    assert!(
        answer
            .contains("soma.rlimits.mem_bytes = 1073741824, more than its spawner has (134217728)"),
        "{answer}"
    );
    let answer = ask(
        &host,
        &sp,
        &card(
            &host,
            "breeder",
            &me,
            serde_json::json!({"soma": {"rlimits": {"nproc": 1000}}}),
        ),
    );
    assert!(
        answer.contains("soma.rlimits.nproc = 1000, more than its spawner may have (64)"),
        "{answer}"
    );
}
