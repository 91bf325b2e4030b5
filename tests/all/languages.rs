//! The language kit: an echo Ente in Python, JavaScript and C (each built
//! by its own toolchain in `just guests` and packed to import only
//! Journal) passes its test file under `ente test`, then serves calls in a
//! graph under `ente up`, next to the Rust one.

use crate::fixture::{MEDIATOR, ROOT, digest_of_guest};
use crate::support::{Up, ente_in, text};

/// (guest, its endpoint's interface, its test file)
const ECHOES: &[(&str, &str, &str)] = &[
    (
        "echo_python",
        "6563686f2d707974686f6e2d30303031",
        "guests/echo-python/echo.test.json",
    ),
    (
        "echo_js",
        "6563686f2d6a732d3030303030303031",
        "guests/echo-js/echo.test.json",
    ),
    (
        "echo_c",
        "6563686f2d632d303030303030303031",
        "guests/echo-c/echo.test.json",
    ),
    (
        "echo",
        "6563686f2d656e64706f696e742d7631",
        "guests/echo/echo.test.json",
    ),
];

/// The test files of the language kit: `languages` runs them, in one home,
/// so that each component is compiled once.
pub fn test_files() -> Vec<&'static str> {
    ECHOES.iter().map(|(_, _, file)| *file).collect()
}

fn endpoint(interface: &str) -> serde_json::Value {
    serde_json::json!({"kind": "Endpoint", "endpoint_interface": interface, "endpoint_version": 1})
}

#[test]
fn each_languages_echo_passes_its_tests_then_serves_in_a_graph() {
    let home = tempfile::tempdir().expect("home");
    let mut args = vec!["test"];
    args.extend(test_files());
    let t0 = std::time::Instant::now();
    let out = ente_in(home.path(), &args);
    let said = text(&out.stdout);
    println!("{said}");
    println!(
        "ente test of {} echoes (compiling each): {} ms",
        ECHOES.len(),
        t0.elapsed().as_millis()
    );
    assert_eq!(out.status.code(), Some(0), "{said}{}", text(&out.stderr));
    assert!(
        said.contains(&format!(
            "{n} test files: {n} passed, 0 failed",
            n = ECHOES.len()
        )),
        "{said}"
    );

    // The same components in one graph, each called by a client of its own.
    let mut genesis = vec![serde_json::json!({
        "id": "01J0000000000000000000MED0", "lineage": ROOT, "label": "mediator",
        "provides": [endpoint(MEDIATOR)], "requires": [], "soma": {},
        "payload": {"kind": "Wasm", "module_blake3": digest_of_guest("mediator"), "entry": "ente:core/mediator"},
        "supervision": {"kind": "Restart", "initial_ms": 50, "max_ms": 1000}
    })];
    for (i, (guest, interface, _)) in ECHOES.iter().enumerate() {
        genesis.push(serde_json::json!({
            "id": format!("01J0000000000000000000ECH{i}"), "lineage": ROOT, "label": guest,
            "provides": [endpoint(interface)], "requires": [{"kind": "Journal"}], "soma": {},
            "payload": {"kind": "Wasm", "module_blake3": digest_of_guest(guest), "entry": "ente:core/lifecycle"},
            "supervision": {"kind": "Restart", "initial_ms": 100, "max_ms": 1000}
        }));
        genesis.push(serde_json::json!({
            "id": format!("01J0000000000000000000CAA{i}"), "lineage": ROOT, "label": format!("to-{guest}"),
            "provides": [], "requires": [{"kind": "Journal"}, endpoint(interface)], "soma": {},
            "payload": {"kind": "Wasm", "module_blake3": digest_of_guest("client"), "entry": "ente:core/lifecycle",
                "envp": [{"TARGET": format!("{interface}@1")}, {"GREETING": format!("hello {guest}")}]},
            "supervision": {"kind": "OneShot"}
        }));
    }
    let n = genesis.len();
    let seed = serde_json::json!({
        "id": ROOT, "label": "languages",
        "provides": [{"kind": "Journal"}, endpoint(MEDIATOR)],
        "soma": {}, "payload": {"kind": "Virtual"}, "supervision": {"kind": "OneShot"},
        "genesis": genesis
    });
    let file = home.path().join("seed.json");
    std::fs::write(&file, serde_json::to_vec(&seed).expect("json")).expect("write");
    let check = ente_in(home.path(), &["check", "--graph", &file.to_string_lossy()]);
    assert_eq!(
        check.status.code(),
        Some(0),
        "{}{}",
        text(&check.stdout),
        text(&check.stderr)
    );
    let mut up = Up::start(home.path(), &file);
    for (guest, _, _) in ECHOES {
        up.wait_for(&format!("[to-{guest}] info: reply: hello {guest}"));
    }
    up.wait_for(&format!("graph settled: {n} of {n} Entes ready"));
    let (code, lines) = up.terminate();
    assert_eq!(code, Some(0), "{}", lines.join("\n"));
}
