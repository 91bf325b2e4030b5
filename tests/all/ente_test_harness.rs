//! `ente test` runs plugin test files, each in a host of its own: the
//! examples' files pass, a failing expectation fails the run naming the
//! step (and the JUnit XML says so), a malformed test file is refused
//! naming the field, and every test file in the tree agrees with
//! schema/ente-test.schema.json.

use crate::support::{ente_in, repo, text};
use std::path::{Path, PathBuf};

/// Every `*.test.json` of the examples and tests/plugins; without the
/// language kit's unless `with_kit` (`crate::languages` runs those,
/// compiling each component once).
fn test_files(with_kit: bool) -> Vec<PathBuf> {
    let kit: Vec<PathBuf> = crate::languages::test_files()
        .into_iter()
        .filter(|_| !with_kit)
        .map(repo)
        .collect();
    let mut files = Vec::new();
    for dir in ["guests", "tests/plugins"] {
        let mut stack = vec![repo(dir)];
        while let Some(d) = stack.pop() {
            for entry in std::fs::read_dir(&d).expect("read dir") {
                let path = entry.expect("entry").path();
                if path.is_dir() && !path.ends_with("target") {
                    stack.push(path);
                } else if path.to_string_lossy().ends_with(".test.json") && !kit.contains(&path) {
                    files.push(path);
                }
            }
        }
    }
    files.sort();
    files
}

fn args(files: &[PathBuf]) -> Vec<String> {
    files
        .iter()
        .map(|f| f.to_string_lossy().into_owned())
        .collect()
}

#[test]
fn the_examples_test_files_pass_and_junit_says_so() {
    let home = tempfile::tempdir().expect("home");
    let files = test_files(false);
    assert!(files.len() >= 6, "{files:?}");
    let junit = home.path().join("junit.xml");
    let mut argv = vec!["test".to_owned()];
    argv.extend(args(&files));
    argv.extend(["--junit".to_owned(), junit.to_string_lossy().into_owned()]);
    let argv: Vec<&str> = argv.iter().map(String::as_str).collect();
    let out = ente_in(home.path(), &argv);
    let said = text(&out.stdout);
    println!("{said}");
    assert_eq!(out.status.code(), Some(0), "{said}{}", text(&out.stderr));
    assert!(
        said.contains(&format!(
            "{} test files: {} passed, 0 failed",
            files.len(),
            files.len()
        )),
        "{said}"
    );
    let xml = std::fs::read_to_string(&junit).expect("junit");
    assert_eq!(xml.matches("<testsuite ").count(), files.len(), "{xml}");
    assert!(!xml.contains("<failure"), "{xml}");
}

/// A test file in `dir` with these steps, for the echo example.
fn echo_test(dir: &Path, steps: serde_json::Value) -> PathBuf {
    let path = dir.join("echo.test.json");
    let file = serde_json::json!({
        "plugin": repo("target/guests/echo.wasm"),
        "grants": ["Journal"],
        "steps": steps,
    });
    std::fs::write(&path, serde_json::to_vec(&file).expect("json")).expect("write");
    path
}

#[test]
fn a_failing_expectation_fails_the_run_naming_the_step() {
    let home = tempfile::tempdir().expect("home");
    let file = echo_test(
        home.path(),
        serde_json::json!([
            {"name": "right", "invoke": {"endpoint": "6563686f2d656e64706f696e742d7631@1", "body": "a"}, "expect": {"reply": "a"}},
            {"name": "wrong reply", "invoke": {"endpoint": "6563686f2d656e64706f696e742d7631@1", "body": "a"}, "expect": {"reply": "b"}},
            {"name": "absent line", "journal": ["no such line"]}
        ]),
    );
    let junit = home.path().join("junit.xml");
    let out = ente_in(
        home.path(),
        &[
            "test",
            &file.to_string_lossy(),
            "--junit",
            &junit.to_string_lossy(),
        ],
    );
    let said = text(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{said}");
    assert!(said.contains("  ok    1 right: replied \"a\""), "{said}");
    assert!(
        said.contains("  FAIL  2 wrong reply: expected the reply \"b\"; it replied \"a\""),
        "{said}"
    );
    assert!(
        said.contains("  FAIL  3 absent line: no journal line contains [\"no such line\"]"),
        "{said}"
    );
    assert!(said.contains("2 of 5 steps failed"), "{said}");
    let xml = std::fs::read_to_string(&junit).expect("junit");
    assert!(xml.contains("failures=\"2\""), "{xml}");
    assert!(
        xml.contains(
            "<failure message=\"expected the reply &quot;b&quot;; it replied &quot;a&quot;\">"
        ),
        "{xml}"
    );
}

#[test]
fn a_malformed_test_file_is_refused_naming_the_field() {
    let home = tempfile::tempdir().expect("home");
    let cases = [
        (
            serde_json::json!([{"invoke": {"endpoint": "6563686f2d656e64706f696e742d7631@1"}, "journal": []}]),
            "steps[0] = [\"invoke\", \"journal\"]: a step needs exactly one of `invoke`, `timer`, `uevent`, `journal`, `calls`",
        ),
        (
            serde_json::json!([{"invoke": {"endpoint": "echo@1"}}]),
            "steps[0].invoke.endpoint = \"echo@1\": `echo@1`: the interface must be 32 lowercase hex characters",
        ),
        (
            serde_json::json!([{"journal": ["x"], "expect": "ok"}]),
            "steps[0].expect = Ok: applies only to `invoke`, `timer` and `uevent` steps",
        ),
        (serde_json::json!([{"invok": {}}]), "unknown field `invok`"),
    ];
    for (steps, fault) in cases {
        let file = echo_test(home.path(), steps);
        let out = ente_in(home.path(), &["test", &file.to_string_lossy()]);
        let said = text(&out.stdout);
        assert_eq!(out.status.code(), Some(1), "{said}");
        assert!(
            said.contains(&format!("FAIL  0 load: {}", file.display())) && said.contains(fault),
            "wanted {fault:?} in:\n{said}"
        );
    }
}

#[test]
fn every_test_file_agrees_with_the_schema() {
    let python = std::env::var_os("ENTE_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo("target/py/bin/python3"));
    assert!(
        python.exists(),
        "{} is missing: run `just setup`",
        python.display()
    );
    let script = r#"
import json, sys, jsonschema
schema = json.load(open(sys.argv[1]))
jsonschema.Draft202012Validator.check_schema(schema)
v = jsonschema.Draft202012Validator(schema)
bad = 0
for f in sys.argv[2:]:
    for e in v.iter_errors(json.load(open(f))):
        print(f"{f}: {e.json_path}: {e.message}"); bad += 1
# The schema refuses what `ente test` refuses.
for doc in [{"plugin": "p", "steps": [{"invoke": {"endpoint": "6563686f2d656e64706f696e742d7631@1"}, "journal": []}]},
            {"plugin": "p", "steps": [{"journal": ["x"], "expect": "ok"}]},
            {"plugin": "p", "grants": ["Network"]},
            {"plugin": "p", "mocks": {"echo@1": {"replies": [{"reply": "x"}]}}}]:
    if v.is_valid(doc):
        print(f"accepted: {doc}"); bad += 1
sys.exit(1 if bad else 0)
"#;
    let out = std::process::Command::new(python)
        .arg("-c")
        .arg(script)
        .arg(repo("schema/ente-test.schema.json"))
        .args(test_files(true))
        .output()
        .expect("python");
    assert!(
        out.status.success(),
        "{}{}",
        text(&out.stdout),
        text(&out.stderr)
    );
}
