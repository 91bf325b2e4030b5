//! What a person sees from `ente check`: exit 0 for valid cards, 1 with every
//! fault on stderr otherwise, and a clear word for a path that is not there.

use crate::support::{self, ente, text};

#[test]
fn valid_cards_exit_zero() {
    let out = ente(&["check", "cards/demo.json", "cards/appliance.json"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("2 card files valid"));
}

#[test]
fn a_folder_is_checked_file_by_file_and_any_fault_exits_one() {
    let out = ente(&["check", "cards/invalid"]);
    assert_eq!(out.status.code(), Some(1));
    let err = text(&out.stderr);
    let n = support::json_files("cards/invalid").len();
    assert!(
        err.contains(&format!("{n} of {n} card files refused")),
        "{err}"
    );
    assert!(
        err.contains("cards/invalid/child-nproc-too-large.json: 1 fault:"),
        "{err}"
    );
    assert!(
        err.contains("genesis[0].soma.rlimits.nproc = 70000: must be 1..=65535"),
        "{err}"
    );
}

#[test]
fn a_missing_path_is_named() {
    let out = ente(&["check", "cards/no-such-card.json"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("cards/no-such-card.json: cannot read")
            && text(&out.stderr).contains("1 of 1 card file refused"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn a_bad_argument_is_a_usage_error() {
    let out = ente(&["check"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("PATH"), "{}", text(&out.stderr));
}
#[test]
fn the_cli_reports_every_graph_fault_and_exits_1() {
    let out = ente(&["check", "--graph", "cards/invalid-graph"]);
    assert_eq!(out.status.code(), Some(1));
    let err = text(&out.stderr);
    for file in [
        "duplicate-id",
        "unprovided-endpoint",
        "dependency-cycle",
        "child-exceeds-parent-spawn",
        "mediator-claimed-by-a-grandchild",
        "two-mediators",
        "delegate-under-a-group",
        "calls-without-a-mediator",
        "two-brains",
        "brain-claimed-by-a-grandchild",
    ] {
        assert!(
            err.contains(&format!("cards/invalid-graph/{file}.json: 1 graph fault")),
            "{err}"
        );
    }
    // Without --graph the same cards are valid grammar.
    let out = ente(&["check", "cards/invalid-graph"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
}

#[test]
fn a_wasm_ente_asking_more_memory_than_a_slot_is_refused_by_the_graph_check() {
    let dir = tempfile::tempdir().expect("dir");
    let mut card: serde_json::Value =
        serde_json::from_slice(&std::fs::read(support::repo("cards/demo.json")).expect("demo"))
            .expect("json");
    card["genesis"][1]["soma"] = serde_json::json!({"rlimits": {"mem_bytes": 2u64 << 30}});
    let file = dir.path().join("big.json");
    std::fs::write(&file, serde_json::to_vec(&card).expect("json")).expect("write");
    let file = file.to_string_lossy();
    // The grammar allows it (a native Ente may have that much)...
    assert_eq!(ente(&["check", &file]).status.code(), Some(0));
    // ...but no Wasm Ente can: said, not capped.
    let out = ente(&["check", "--graph", &file]);
    assert_eq!(out.status.code(), Some(1));
    let err = text(&out.stderr);
    assert!(
        err.contains("genesis[1].soma.rlimits.mem_bytes = 2147483648: a Wasm Ente can have at most 1073741824 bytes"),
        "{err}"
    );
}

#[test]
fn a_delegate_childs_parent_must_export_the_supervisor() {
    use crate::fixture::{Ente, seed};
    let home = tempfile::tempdir().expect("home");
    for g in ["echo", "delegating_parent", "mediator", "hostile_trap"] {
        let out = support::ente_in(
            home.path(),
            &["cas", "add", &support::guest(g).to_string_lossy()],
        );
        assert!(out.status.success());
    }
    let child = || Ente::new("child", "hostile_trap").delegate();
    let check = |parent: Ente| {
        let file = home.path().join("seed.json");
        std::fs::write(
            &file,
            serde_json::to_vec(&seed(&[parent.child(child())])).expect("json"),
        )
        .expect("write");
        support::ente_in(home.path(), &["check", "--graph", &file.to_string_lossy()])
    };
    let out = check(Ente::new("parent", "echo"));
    assert_eq!(out.status.code(), Some(1));
    let err = text(&out.stderr);
    assert!(
        err.contains("genesis[1].genesis[0].supervision: `child`")
            && err.contains("does not export ente:core/supervisor@0.1.0"),
        "{err}"
    );
    let out = check(Ente::new("parent", "delegating_parent"));
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
}

#[test]
fn a_reader_that_goes_away_ends_the_command_quietly_not_with_a_panic() {
    use std::os::unix::process::ExitStatusExt;
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_ente"))
        .args(["check", "cards"])
        .current_dir(support::root())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawn");
    drop(child.stdout.take()); // the reader is gone before the first line
    let out = child.wait_with_output().expect("wait");
    let err = text(&out.stderr);
    assert!(!err.contains("panicked"), "{err}");
    assert_eq!(out.status.signal(), Some(13), "{:?}: {err}", out.status);
}

#[test]
fn a_rules_file_is_checked_by_the_rules_grammar_with_every_fault_named() {
    let out = ente(&["check", "cards/rules/stop-a-flapping-ente.json"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).contains("(rules file, 3 rules)")
            && text(&out.stdout).contains("1 rules file valid"),
        "{}",
        text(&out.stdout)
    );
    let out = ente(&["check", "cards/rules/invalid"]);
    assert_eq!(out.status.code(), Some(1));
    let err = text(&out.stderr);
    for want in [
        "unknown-action.json: 1 fault",
        "rules[0].action.kind: `Explode` is not an action",
        "unknown-field.json: 1 fault",
        "rules[0].on.colour: unknown field",
        "rules[1].name: `x` is already the name of rules[0]",
        "rules[0].then.within_ms: missing",
        "rules[0].action.text: does not apply to a Stop action",
        "rules[0].limit.max: 0 is not a whole number from 1 to 1000",
        "rules[0].name: `bad/name`",
        "log-level-without-level.json: 1 fault",
        "rules[0].action.level: missing",
    ] {
        assert!(err.contains(want), "no `{want}` in:\n{err}");
    }
    assert!(err.contains("8 of 8 rules files refused"), "{err}");
}
