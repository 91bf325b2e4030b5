//! `ente pack` from the command line: a std guest that imports files and
//! sockets is packed to import only Journal and then runs, each reach an
//! error; an ungranted `ente:core` import is an error naming it and the
//! capability; bytes that are no Wasm are named as such; nothing is
//! written when packing fails.

use crate::support::{ente_in, guest, text};

#[test]
fn a_packed_std_guest_imports_only_its_grants_and_runs() {
    let home = tempfile::tempdir().expect("home");
    let out_file = home.path().join("reach.wasm");
    let out = ente_in(
        home.path(),
        &[
            "pack",
            &guest("wasi_reach").to_string_lossy(),
            "--grant",
            "Journal",
            "-o",
            &out_file.to_string_lossy(),
        ],
    );
    let said = text(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{said}{}", text(&out.stderr));
    assert!(
        said.contains("9 WASI interfaces denied inside it: wasi:filesystem/types@0.2.6"),
        "{said}"
    );
    let bytes = std::fs::read(&out_file).expect("packed");
    let imports = ente_runtime::inspect::outline(&bytes)
        .expect("outline")
        .imports;
    assert!(
        imports
            .iter()
            .all(|i| !i.starts_with("wasi:filesystem") && !i.starts_with("wasi:sockets")),
        "{imports:?}"
    );
    let run = ente_in(
        home.path(),
        &[
            "run",
            &out_file.to_string_lossy(),
            "--grant",
            "Journal",
            "--invoke",
            "6563686f2d656e64706f696e742d7631@1",
            "x",
        ],
    );
    assert_eq!(run.status.code(), Some(0), "{}", text(&run.stderr));
    assert!(
        text(&run.stdout).contains("no socket: Permission denied"),
        "{}",
        text(&run.stdout)
    );
}

#[test]
fn an_ungranted_ente_core_import_is_not_denied_but_named() {
    let home = tempfile::tempdir().expect("home");
    let out_file = home.path().join("client.wasm");
    let out = ente_in(
        home.path(),
        &[
            "pack",
            &guest("client").to_string_lossy(),
            "--grant",
            "Journal",
            "-o",
            &out_file.to_string_lossy(),
        ],
    );
    assert_eq!(out.status.code(), Some(1));
    let err = text(&out.stderr);
    assert!(
        err.contains("imports `ente:core/bus@0.1.0`, which the grants do not cover and which is not WASI: grant an Endpoint capability in requires"),
        "{err}"
    );
    assert!(!out_file.exists(), "written though refused");
}

#[test]
fn bytes_that_are_not_wasm_are_named() {
    let home = tempfile::tempdir().expect("home");
    let input = home.path().join("script.wasm");
    std::fs::write(&input, b"#!/bin/sh\necho hi\n").expect("write");
    let out_file = home.path().join("out.wasm");
    let out = ente_in(
        home.path(),
        &[
            "pack",
            &input.to_string_lossy(),
            "-o",
            &out_file.to_string_lossy(),
        ],
    );
    assert_eq!(out.status.code(), Some(1));
    let err = text(&out.stderr);
    assert!(
        err.contains("script.wasm: not a WebAssembly component: its header is neither a component's nor a core module's"),
        "{err}"
    );
    assert!(!out_file.exists());
}
