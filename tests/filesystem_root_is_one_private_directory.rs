//! FilesystemRoot preopens exactly one directory, the Ente's own under
//! `<home>/state/`, as `/`: what the Ente writes lands there and survives a
//! restart, and no path leads out of it. Without the grant, a component that
//! imports wasi:filesystem is refused before it runs.

mod support;

use support::{ente_in, guest, text};

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
    let kept = std::fs::read_to_string(home.path().join("state/diary/diary.txt"))
        .expect("the diary is in <home>/state/diary");
    assert_eq!(kept, "dear diary\ndear diary\n");
    assert!(
        !home.path().join("state/escaped.txt").exists()
            && !home.path().join("escaped.txt").exists(),
        "nothing was written outside the Ente's directory"
    );
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(home.path().join("state/diary"))
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
        err.contains("which its card does not grant (needs the FilesystemRoot capability)"),
        "{err}"
    );
    assert!(
        !home.path().join("state/diary").exists(),
        "a refused Ente gets no directory"
    );
}
