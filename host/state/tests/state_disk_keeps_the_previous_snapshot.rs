//! The state disk: a blank disk is labelled, a foreign one refused and left
//! as it was; snapshots alternate between the two slots; a write cut in
//! the middle (the disk's bytes copied at that moment, as a power cut
//! leaves them) or a damaged slot leaves the previous snapshot restorable.

use ente_state::slots::{DiskError, MIN_DISK, SlotFault, StateDisk};
use ente_state::{Saved, Snapshot};
use std::fs::{File, OpenOptions};
use std::path::Path;

fn disk(dir: &Path, name: &str, len: u64) -> std::path::PathBuf {
    let path = dir.join(name);
    let f = File::create(&path).expect("create");
    f.set_len(len).expect("size");
    path
}

fn open(path: &Path) -> Result<(StateDisk, bool), DiskError> {
    StateDisk::open(
        OpenOptions::new()
            .read(true)
            .write(true)
            .open(path)
            .expect("open"),
    )
}

fn snapshot(counter: u32, state_len: usize) -> Snapshot {
    Snapshot {
        seed: "01JA0000000000000000000000".into(),
        taken_ms: u64::from(counter),
        entes: vec![Saved {
            id: "01JA0000000000000000000001".into(),
            restarts: counter,
            failures: 0,
            state: Some(vec![counter as u8; state_len]),
        }],
        ..Snapshot::default()
    }
}

#[test]
fn a_blank_disk_is_labelled_and_snapshots_alternate_slots() {
    let dir = tempfile::tempdir().expect("dir");
    let path = disk(dir.path(), "vda", 8 << 20);
    let (mut d, formatted) = open(&path).expect("open blank");
    assert!(formatted);
    let found = d.read().expect("read");
    assert!(found.newest.is_none());
    assert_eq!(
        found.faults,
        vec![(0, SlotFault::Blank), (1, SlotFault::Blank)]
    );
    assert_eq!(d.write(&snapshot(1, 10)).expect("write"), 1);
    assert_eq!(d.write(&snapshot(2, 10)).expect("write"), 2);
    assert_eq!(d.write(&snapshot(3, 10)).expect("write"), 3);
    drop(d);
    let (mut d, formatted) = open(&path).expect("open labelled");
    assert!(!formatted);
    let found = d.read().expect("read");
    let (generation, slot, s) = found.newest.expect("a snapshot");
    assert_eq!((generation, slot), (3, 0));
    assert_eq!(s, snapshot(3, 10));
    assert!(found.faults.is_empty(), "{:?}", found.faults);
}

#[test]
fn a_foreign_disk_is_refused_and_left_as_it_was() {
    let dir = tempfile::tempdir().expect("dir");
    let path = disk(dir.path(), "ext4", 8 << 20);
    let mut bytes = std::fs::read(&path).expect("read");
    bytes[1080] = 0x53; // ext4's magic, 0xEF53, at 1080
    bytes[1081] = 0xef;
    bytes[0] = 0xeb; // and a boot jump
    std::fs::write(&path, &bytes).expect("write");
    let err = open(&path).expect_err("refused");
    assert!(matches!(err, DiskError::Foreign { .. }), "{err}");
    assert!(err.to_string().contains("never written"), "{err}");
    assert_eq!(
        std::fs::read(&path).expect("read"),
        bytes,
        "not one byte changed"
    );

    let small = disk(dir.path(), "small", MIN_DISK - 1);
    assert!(matches!(open(&small), Err(DiskError::TooSmall { .. })));
}

#[test]
fn a_damaged_label_is_refused() {
    let dir = tempfile::tempdir().expect("dir");
    let path = disk(dir.path(), "vda", 8 << 20);
    drop(open(&path).expect("label"));
    let mut bytes = std::fs::read(&path).expect("read");
    bytes[13] ^= 0x10;
    std::fs::write(&path, &bytes).expect("write");
    let err = open(&path).expect_err("refused");
    assert!(matches!(err, DiskError::BadLabel { .. }), "{err}");
}

#[test]
fn a_write_cut_in_the_middle_leaves_the_previous_snapshot() {
    let dir = tempfile::tempdir().expect("dir");
    let path = disk(dir.path(), "vda", 8 << 20);
    let (mut d, _) = open(&path).expect("open");
    d.write(&snapshot(1, 300_000)).expect("first");
    let cut = dir.path().join("cut");
    let mut copied = false;
    d.write_paced(&snapshot(2, 300_000), |written| {
        if !copied && written >= 128 << 10 {
            std::fs::copy(&path, &cut).expect("the disk as the power cut left it");
            copied = true;
        }
    })
    .expect("second");
    assert!(copied);
    let (mut after_cut, _) = open(&cut).expect("open the cut disk");
    let found = after_cut.read().expect("read");
    let (generation, _, s) = found.newest.expect("the previous snapshot");
    assert_eq!(generation, 1);
    assert_eq!(s, snapshot(1, 300_000));
    assert_eq!(found.faults.len(), 1, "{:?}", found.faults);
    // The next write after the cut goes on from the previous generation,
    // into the slot the cut write left.
    assert_eq!(after_cut.write(&snapshot(3, 10)).expect("write"), 2);
    let (_, _, s) = after_cut.read().expect("read").newest.expect("newest");
    assert_eq!(s, snapshot(3, 10));
}

#[test]
fn a_damaged_newest_slot_falls_back_to_the_other() {
    let dir = tempfile::tempdir().expect("dir");
    let path = disk(dir.path(), "vda", 8 << 20);
    let (mut d, _) = open(&path).expect("open");
    d.write(&snapshot(1, 1000)).expect("first");
    d.write(&snapshot(2, 1000)).expect("second");
    let slot1 = 4096 + d.label().slot_len;
    drop(d);
    let mut bytes = std::fs::read(&path).expect("read");
    bytes[(slot1 + 64 + 500) as usize] ^= 0x01;
    std::fs::write(&path, &bytes).expect("write");
    let (mut d, _) = open(&path).expect("open");
    let found = d.read().expect("read");
    assert_eq!(found.newest.map(|(g, _, _)| g), Some(1));
    assert_eq!(found.faults, vec![(1, SlotFault::Checksum)]);
}

#[test]
fn a_snapshot_larger_than_a_slot_is_refused_and_nothing_written() {
    let dir = tempfile::tempdir().expect("dir");
    let path = disk(dir.path(), "vda", MIN_DISK);
    let (mut d, _) = open(&path).expect("open");
    d.write(&snapshot(1, 100)).expect("fits");
    let err = d.write(&snapshot(2, 200_000)).expect_err("too large");
    assert!(matches!(err, DiskError::TooLargeForSlot { .. }), "{err}");
    let (_, _, s) = d.read().expect("read").newest.expect("kept");
    assert_eq!(s, snapshot(1, 100));
}
