//! FilesystemRoot preopens exactly one directory, the Ente's own under
//! `<home>/state/`, as `/`: what the Ente writes lands there and survives a
//! restart, and no path leads out of it. Without the grant, a component that
//! imports wasi:filesystem is refused before it runs.

use crate::support::{ente_in, guest, text};

/// Where `ente run` keeps the files of the component `wasm`.
fn plugin_dir(home: &std::path::Path, wasm: &std::path::Path) -> std::path::PathBuf {
    let digest = ente_runtime::digest_of(&std::fs::read(wasm).expect("read"));
    home.join("state").join(ente::run::plugin_dir(&digest))
}

/// `wasm` with a custom section appended: the same program, other bytes.
fn other_bytes(wasm: &std::path::Path) -> Vec<u8> {
    let mut bytes = std::fs::read(wasm).expect("read");
    let (name, payload) = (b"impostor", b"same code, another digest");
    let size = 1 + name.len() + payload.len();
    bytes.push(0);
    bytes.push(u8::try_from(size).expect("small"));
    bytes.push(u8::try_from(name.len()).expect("small"));
    bytes.extend_from_slice(name);
    bytes.extend_from_slice(payload);
    bytes
}

#[test]
fn another_component_named_like_a_plugin_does_not_get_its_files() {
    let home = tempfile::tempdir().expect("home");
    let real = guest("diary");
    for _ in 0..2 {
        let out = ente_in(
            home.path(),
            &["run", &real.to_string_lossy(), "--grant", "FilesystemRoot"],
        );
        assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    }
    let elsewhere = tempfile::tempdir().expect("dir");
    let impostor = elsewhere.path().join("diary.wasm");
    std::fs::write(&impostor, other_bytes(&real)).expect("write");
    let out = ente_in(
        home.path(),
        &[
            "run",
            &impostor.to_string_lossy(),
            "--grant",
            "FilesystemRoot",
        ],
    );
    let journal = text(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{journal}");
    assert!(
        journal.contains("diary holds 1 line(s)"),
        "the impostor sees only its own, new directory: {journal}"
    );
    let kept =
        std::fs::read_to_string(plugin_dir(home.path(), &real).join("diary.txt")).expect("kept");
    assert_eq!(
        kept, "dear diary\ndear diary\n",
        "the real diary's file is untouched"
    );
}

#[test]
fn a_granted_ente_keeps_its_files_in_its_own_directory_and_cannot_leave_it() {
    let home = tempfile::tempdir().expect("home");
    let wasm = guest("diary");
    let wasm = wasm.to_string_lossy();
    for run in 1..=2 {
        let out = ente_in(home.path(), &["run", &wasm, "--grant", "FilesystemRoot"]);
        let journal = format!("{}{}", text(&out.stdout), text(&out.stderr));
        assert_eq!(out.status.code(), Some(0), "run {run}: {journal}");
        assert!(
            journal.contains(&format!("diary holds {run} line(s)")),
            "run {run} appends to what the last one kept: {journal}"
        );
        assert!(
            journal.contains("nothing outside its directory was reachable"),
            "{journal}"
        );
    }
    let dir = plugin_dir(home.path(), &guest("diary"));
    let kept = std::fs::read_to_string(dir.join("diary.txt"))
        .expect("the diary is in <home>/state/plugin-<digest>");
    assert_eq!(kept, "dear diary\ndear diary\n");
    assert!(
        !home.path().join("state/escaped.txt").exists()
            && !home.path().join("escaped.txt").exists(),
        "nothing was written outside the Ente's directory"
    );
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(&dir)
        .expect("state dir")
        .permissions()
        .mode();
    assert_eq!(
        mode & 0o777,
        0o700,
        "the directory is the host user's alone"
    );
}

#[test]
fn without_the_grant_the_filesystem_import_is_refused_before_it_runs() {
    let home = tempfile::tempdir().expect("home");
    let out = ente_in(home.path(), &["run", &guest("diary").to_string_lossy()]);
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("which its card does not grant (needs the FilesystemRoot capability, or `ente pack` to deny it inside the component)"),
        "{err}"
    );
    assert!(
        !plugin_dir(home.path(), &guest("diary")).exists(),
        "a refused Ente gets no directory"
    );
}
