//! A component's imports are read from its bytes and held to its grants
//! before Cranelift sees it: a refused component is never compiled, never
//! cached, and (`ente run`) never stored; `ente check --graph` holds every
//! pinned component in the store to what `ente up` will.

use crate::fixture::{Ente, Host, config, home_with, seed};
use crate::support::{ente_in, guest, text};
use ente_core::Phase;
use std::path::Path;
use std::time::Instant;

/// Every file under `dir`, recursively (none if it does not exist).
fn files_under(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return out;
    };
    for entry in entries {
        let path = entry.expect("entry").path();
        if path.is_dir() {
            out.extend(files_under(&path));
        } else {
            out.push(path);
        }
    }
    out
}

#[test]
fn ente_run_refuses_an_ungranted_import_and_leaves_nothing_under_the_home() {
    let home = tempfile::tempdir().expect("home");
    let wasm = guest("hostile_ungranted_spawn");
    let t0 = Instant::now();
    let out = ente_in(
        home.path(),
        &["run", &wasm.to_string_lossy(), "--grant", "Journal"],
    );
    let took = t0.elapsed();
    assert_eq!(out.status.code(), Some(1));
    let err = text(&out.stderr);
    assert!(
        err.contains(&format!("{}: Ente `hostile_ungranted_spawn` refused before it runs", wasm.display()))
            && err.contains("imports `ente:core/graph@0.1.0`, which its card does not grant (needs the Spawn capability)"),
        "{err}"
    );
    let stored = files_under(&home.path().join("cas"));
    let cached = files_under(&home.path().join("cache"));
    assert!(stored.is_empty(), "stored: {stored:?}");
    assert!(cached.is_empty(), "cached: {cached:?}");
    println!(
        "refused before compiling (whole process): {} ms",
        took.as_millis()
    );
}

#[test]
fn an_ente_refused_for_its_imports_leaves_no_compiled_artifact() {
    // A component no other Ente uses, so only the refused Ente could have
    // caused it to be compiled.
    let mut bytes = std::fs::read(guest("hostile_ungranted_spawn")).expect("guest");
    bytes.extend_from_slice(&[0, 4, 3, b'p', b'a', b'd']); // a custom section: new digest
    let (home, digests) = home_with(&[bytes]);
    let mut sneaky = Ente::of_digest("sneaky", &digests[0]);
    sneaky.card["requires"] = serde_json::json!([{"kind": "Journal"}]);
    let mut host = Host::start_in(home, seed(&[sneaky]), config());
    let failed = host.wait_phase("sneaky", Phase::Failed);
    let text = failed.to_string();
    assert!(
        text.contains("imports `ente:core/graph@0.1.0`, which its card does not grant"),
        "{text}"
    );
    let artifacts: Vec<_> = files_under(&host.home().join("cache"))
        .into_iter()
        .filter(|p| p.to_string_lossy().contains(&digests[0]))
        .collect();
    assert!(artifacts.is_empty(), "compiled and cached: {artifacts:?}");
}

/// A seed whose one child pins `digest` and is granted `requires`.
fn card_file(dir: &Path, digest: &str, requires: serde_json::Value) -> std::path::PathBuf {
    let mut child = Ente::of_digest("plugin", digest);
    child.card["requires"] = requires;
    let path = dir.join("seed.json");
    std::fs::write(&path, serde_json::to_vec(&seed(&[child])).expect("json")).expect("write");
    path
}

#[test]
fn check_graph_holds_each_stored_component_to_its_grants_and_exports() {
    let sneaky = std::fs::read(guest("hostile_ungranted_spawn")).expect("guest");
    let (home, digests) = home_with(&[sneaky]);
    let card = card_file(
        home.path(),
        &digests[0],
        serde_json::json!([{"kind": "Journal"}]),
    );
    let out = ente_in(home.path(), &["check", "--graph", &card.to_string_lossy()]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stdout));
    let err = text(&out.stderr);
    assert!(
        err.contains("genesis[1].requires: Ente `plugin` refused before it runs: its component imports `ente:core/graph@0.1.0`, which its card does not grant (needs the Spawn capability)"),
        "{err}"
    );

    // Granted Spawn, it passes.
    let card = card_file(
        home.path(),
        &digests[0],
        serde_json::json!([{"kind": "Journal"}, {"kind": "Spawn"}]),
    );
    let out = ente_in(home.path(), &["check", "--graph", &card.to_string_lossy()]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
}

#[test]
fn check_graph_names_a_pinned_component_missing_from_the_store() {
    let home = tempfile::tempdir().expect("home");
    let absent = "ab".repeat(32);
    let card = card_file(
        home.path(),
        &absent,
        serde_json::json!([{"kind": "Journal"}]),
    );
    let out = ente_in(home.path(), &["check", "--graph", &card.to_string_lossy()]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let said = text(&out.stdout);
    assert!(
        said.contains(&format!(
            "note: component {absent} is pinned but not in the store"
        )),
        "{said}"
    );
}
