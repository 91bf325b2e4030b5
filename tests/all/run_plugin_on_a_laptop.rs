//! `ente run` runs one component with only the capabilities given on the
//! command line, calls its handler, prints the reply, and sends its journal
//! lines to stderr.

use crate::support::{ECHO, ente_in, guest, text};

#[test]
fn echo_answers_an_invoke_and_journals_its_start() {
    let home = tempfile::tempdir().expect("home");
    let wasm = guest("echo");
    let out = ente_in(
        home.path(),
        &[
            "run",
            &wasm.to_string_lossy(),
            "--grant",
            "Journal",
            "--invoke",
            ECHO,
            "hello, plugin",
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout).trim_end(), "hello, plugin");
    assert!(
        text(&out.stderr).contains("[echo] info: echo ready"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn the_second_run_loads_the_precompiled_component_from_the_cache() {
    let home = tempfile::tempdir().expect("home");
    let wasm = guest("echo");
    let args = [
        "run",
        &*wasm.to_string_lossy(),
        "--grant",
        "Journal",
        "--invoke",
        ECHO,
        "again",
    ];
    let first = ente_in(home.path(), &args);
    assert_eq!(first.status.code(), Some(0), "{}", text(&first.stderr));
    let cached: Vec<_> = walk(&home.path().join("cache"))
        .into_iter()
        .filter(|p| p.extension().is_some_and(|e| e == "cwasm"))
        .collect();
    assert_eq!(cached.len(), 1, "one artifact: {cached:?}");
    let second = ente_in(home.path(), &args);
    assert_eq!(text(&second.stdout).trim_end(), "again");
}

#[test]
fn a_bad_grant_is_a_usage_error_naming_it() {
    let home = tempfile::tempdir().expect("home");
    let wasm = guest("echo");
    let out = ente_in(
        home.path(),
        &["run", &wasm.to_string_lossy(), "--grant", "Network"],
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("`Network`: not a capability"),
        "{}",
        text(&out.stderr)
    );
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let p = entry.path();
        if p.is_dir() {
            out.extend(walk(&p))
        } else {
            out.push(p)
        }
    }
    out
}

#[test]
fn a_missing_component_is_named_once() {
    let home = tempfile::tempdir().expect("home");
    let out = ente_in(
        home.path(),
        &["run", "target/guests/no-such.wasm", "--grant", "Journal"],
    );
    assert_eq!(out.status.code(), Some(1));
    let err = text(&out.stderr);
    assert!(
        err.contains("target/guests/no-such.wasm: cannot read:"),
        "{err}"
    );
    assert_eq!(err.matches("no-such.wasm").count(), 1, "{err}");
}
