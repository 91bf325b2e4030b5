//! A component that imports an interface its grants do not cover is refused
//! before it runs, with an error naming the Ente, the import and the
//! capability that would grant it. Granted, the same component links.

use crate::support;

use crate::support::{ente_in, guest, text};
use ente_card::Capability;
use ente_runtime::{Grants, ImportFault, LinkError, Runtime, RuntimeError};

#[test]
fn ente_run_refuses_an_ungranted_import_naming_it_and_the_capability() {
    let home = tempfile::tempdir().expect("home");
    let wasm = guest("hostile_ungranted_spawn");
    let out = ente_in(
        home.path(),
        &["run", &wasm.to_string_lossy(), "--grant", "Journal"],
    );
    assert_eq!(out.status.code(), Some(1));
    let err = text(&out.stderr);
    assert!(
        err.contains("Ente `hostile_ungranted_spawn` refused before it runs"),
        "{err}"
    );
    assert!(
        err.contains("imports `ente:core/graph@0.1.0`, which its card does not grant (needs the Spawn capability)"),
        "{err}"
    );
}

#[test]
fn the_linker_check_reports_every_ungranted_import() {
    let home = tempfile::tempdir().expect("home");
    let runtime = Runtime::open(home.path()).expect("runtime");
    let digest = runtime.cas().add_file(&guest("client")).expect("add").0;
    let component = runtime.load(&digest).expect("load");
    // The client imports journal and bus; grant neither.
    let err = runtime
        .prepare("client", &component, Grants::default(), &[])
        .expect_err("refused");
    let RuntimeError::Link(LinkError::Imports { ente, faults }) = err else {
        panic!("{err}")
    };
    assert_eq!(ente, "client");
    let ungranted: Vec<(&str, &str)> = faults
        .iter()
        .filter_map(|f| match f {
            ImportFault::Ungranted { import, needs } => Some((import.as_str(), *needs)),
            ImportFault::Version { .. } => None,
        })
        .collect();
    assert!(
        ungranted.contains(&("ente:core/journal@0.1.0", "the Journal capability")),
        "{ungranted:?}"
    );
    assert!(
        ungranted.contains(&("ente:core/bus@0.1.0", "an Endpoint capability in requires")),
        "{ungranted:?}"
    );
    // Granted exactly what it imports, the same component links.
    let echo = ente_card::Endpoint {
        interface: "6563686f2d656e64706f696e742d7631".into(),
        version: 1,
    };
    let grants =
        Grants::from_capabilities(&[Capability::Journal, Capability::Endpoint { endpoint: echo }]);
    runtime
        .prepare("client", &component, grants, &[])
        .expect("links when granted");
}

#[test]
fn a_provider_without_the_handler_export_is_refused() {
    let home = tempfile::tempdir().expect("home");
    let wasm = guest("mediator");
    let out = ente_in(
        home.path(),
        &[
            "run",
            &wasm.to_string_lossy(),
            "--grant",
            "Journal",
            "--invoke",
            support::ECHO,
            "x",
        ],
    );
    assert_eq!(out.status.code(), Some(1));
    let err = text(&out.stderr);
    // The mediator imports graph-view, which no --grant can give.
    assert!(err.contains("ente:core/graph-view@0.1.0"), "{err}");
    assert!(err.contains("the mediator role"), "{err}");
}
