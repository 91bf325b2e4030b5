//! `ente snapshot show` reads what a snapshot holds from a home or from a
//! state disk image, and never writes: a blank or foreign disk is said to
//! be one and left as it was; a damaged snapshot is named.

use crate::support::{ente_in, text};
use ente_state::slots::StateDisk;
use ente_state::{Saved, Snapshot, Spawned, file};

fn snapshot(restarts: u32) -> Snapshot {
    Snapshot {
        seed: "01J00000000000000000000R00".into(),
        taken_ms: 1,
        spawned: vec![Spawned {
            parent: "01J00000000000000000000K01".into(),
            card: r#"{"id":"01J0000000000000000000KC01","label":"kept-child"}"#.into(),
        }],
        entes: vec![Saved {
            id: "01J00000000000000000000K01".into(),
            restarts,
            failures: 0,
            state: Some(b"starts=3 spawned=true".to_vec()),
        }],
        ..Snapshot::default()
    }
}

fn show(home: &std::path::Path, args: &[&str]) -> (bool, String) {
    let mut all = vec!["snapshot", "show"];
    all.extend_from_slice(args);
    let out = ente_in(home, &all);
    (out.status.success(), text(&out.stdout) + &text(&out.stderr))
}

#[test]
fn a_home_snapshot_is_shown_and_a_damaged_one_named() {
    let home = tempfile::tempdir().expect("home");
    let (ok, out) = show(home.path(), &[]);
    assert!(!ok && out.contains("no snapshot in"), "{out}");
    file::write(home.path(), &snapshot(4)).expect("write");
    let (ok, out) = show(home.path(), &[]);
    assert!(ok, "{out}");
    assert!(
        out.contains("`kept-child` 01J0000000000000000000KC01"),
        "{out}"
    );
    assert!(
        out.contains("4 restarts, 0 failures in a row, 21 bytes of state"),
        "{out}"
    );
    let path = file::path(home.path());
    let mut bytes = std::fs::read(&path).expect("read");
    bytes.truncate(bytes.len() - 3);
    std::fs::write(&path, &bytes).expect("truncate");
    let (ok, out) = show(home.path(), &[]);
    assert!(!ok && out.contains("truncated"), "{out}");
}

#[test]
fn a_disk_image_is_read_never_written() {
    let dir = tempfile::tempdir().expect("dir");
    let image = dir.path().join("state.img");
    let f = std::fs::File::create(&image).expect("image");
    f.set_len(4 << 20).expect("size");
    drop(f);
    let as_str = image.to_str().expect("utf-8 path");

    // Blank: said, and still blank.
    let (ok, out) = show(dir.path(), &["--disk", as_str]);
    assert!(!ok && out.contains("blank"), "{out}");
    assert!(std::fs::read(&image).expect("read").iter().all(|&b| b == 0));

    // Two snapshots: the newest is shown, with each slot.
    let dev = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(&image)
        .expect("open");
    let (mut disk, formatted) = StateDisk::open(dev).expect("label");
    assert!(formatted);
    disk.write(&snapshot(1)).expect("first");
    disk.write(&snapshot(2)).expect("second");
    drop(disk);
    let before = std::fs::read(&image).expect("read");
    let (ok, out) = show(dir.path(), &["--disk", as_str]);
    assert!(ok, "{out}");
    assert!(out.contains("slot 1: generation 2, the newest"), "{out}");
    assert!(out.contains("slot 0: an older generation, whole"), "{out}");
    assert!(out.contains("2 restarts"), "{out}");
    assert_eq!(
        std::fs::read(&image).expect("read"),
        before,
        "show wrote to the disk"
    );

    // Foreign: refused, untouched.
    let mut foreign = before.clone();
    foreign[..8].copy_from_slice(b"NOTENTE!");
    std::fs::write(&image, &foreign).expect("write");
    let (ok, out) = show(dir.path(), &["--disk", as_str]);
    assert!(!ok && out.contains("neither blank nor ente's"), "{out}");
    assert_eq!(std::fs::read(&image).expect("read"), foreign);
}
