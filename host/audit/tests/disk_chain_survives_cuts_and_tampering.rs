//! The chain in a state disk's log region (`DiskStore`): it continues
//! across reopenings; a power cut between a segment and its head loses at
//! most that segment; a flipped byte, a damaged record header, a damaged
//! head slot and a head signed by another key are each named; the next
//! chain records the break and never overwrites what it found; a full
//! region is an error, not a panic; arbitrary bytes never panic.

use ente_audit::{ChainFault, Decision, DiskStore, Log, RECORDS_AT, Store, walk};
use proptest::prelude::*;
use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::Path;
use std::time::Duration;

const REGION: u64 = 1 << 20;
/// The region starts past a pretend label, as on a state disk.
const AT: u64 = 8192;

fn disk(dir: &Path) -> std::path::PathBuf {
    let path = dir.join("state.img");
    let f = File::create(&path).expect("create");
    f.set_len(AT + REGION).expect("len");
    path
}

fn store(path: &Path) -> DiskStore {
    let f = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(path)
        .expect("open");
    DiskStore::open(f, AT, REGION, "state.img").expect("region")
}

fn decision(n: u64) -> Decision {
    Decision::Stopped {
        ente: format!("01J000000000000000000000{n:02}"),
        label: format!("ente-{n}"),
    }
}

/// Open the chain, append `n` entries in commits of 5, close it; the fault
/// open found.
fn chain(path: &Path, n: u64) -> Option<ChainFault> {
    let (log, fault) = Log::open_in(Box::new(store(path)), 1 << 10).expect("open");
    for i in 0..n {
        log.append(decision(i));
        if i % 5 == 4 {
            log.flush(Duration::from_secs(5)).expect("flush");
        }
    }
    log.flush(Duration::from_secs(5)).expect("flush");
    fault
}

fn verify(path: &Path) -> Result<ente_audit::Walk, ChainFault> {
    let s = store(path);
    let key = s.public_key()?;
    walk(&s, &key)
}

fn flip(path: &Path, at: u64) {
    let f = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(path)
        .expect("open");
    let mut b = [0u8; 1];
    f.read_exact_at(&mut b, at).expect("read");
    b[0] ^= 0x40;
    f.write_all_at(&b, at).expect("write");
}

fn bytes(path: &Path, at: u64, len: usize) -> Vec<u8> {
    let mut out = vec![0u8; len];
    File::open(path)
        .expect("open")
        .read_exact_at(&mut out, at)
        .expect("read");
    out
}

#[test]
fn a_chain_on_a_disk_continues_across_reopenings() {
    let dir = tempfile::tempdir().expect("dir");
    let path = disk(dir.path());
    assert_eq!(chain(&path, 12), None);
    assert_eq!(chain(&path, 8), None);
    let w = verify(&path).expect("verifies");
    assert_eq!(w.head.seq, 20);
    let seqs: Vec<u64> = w.entries.iter().map(|e| e.seq).collect();
    assert_eq!(seqs, (1..=20).collect::<Vec<_>>());
    assert!(w.segments >= 4, "{} segments", w.segments);
    // Nothing outside the region was written.
    assert!(bytes(&path, 0, AT as usize).iter().all(|&b| b == 0));
}

#[test]
fn a_cut_between_a_segment_and_its_head_loses_only_that_segment() {
    let dir = tempfile::tempdir().expect("dir");
    let path = disk(dir.path());
    chain(&path, 6);
    // The segment of the next window reached the disk, its head did not.
    let s = store(&path);
    s.put_segment(&[7; 32], b"a segment whose head was never written")
        .expect("segment");
    drop(s);
    let (log, fault) = Log::open_in(Box::new(store(&path)), 64).expect("open");
    assert_eq!(fault, None, "the head before the cut is whole");
    // Cut again, after the next segment and before its head: two orphans,
    // both children of the same head, still no break.
    let again = store(&path);
    again
        .put_segment(&[6; 32], b"another segment whose head never came")
        .expect("segment");
    drop(again);
    assert!(verify(&path).is_ok(), "two cuts in a row are no break");
    assert_eq!(log.head().map(|(seq, _)| seq), Some(6));
    log.append(decision(99));
    log.flush(Duration::from_secs(5)).expect("flush");
    drop(log);
    let w = verify(&path).expect("verifies");
    assert_eq!(w.head.seq, 7);
    // The orphan was not overwritten: it is still found by its digest.
    assert!(store(&path).segment(&[7; 32]).is_some());
}

#[test]
fn a_flipped_byte_in_a_record_is_named_and_the_next_chain_records_the_break() {
    let dir = tempfile::tempdir().expect("dir");
    let path = disk(dir.path());
    chain(&path, 10);
    let records = store(&path).records();
    assert!(records.len() >= 2, "{records:?}");
    // A byte of the first segment's entries.
    let (_, first) = records[0];
    flip(&path, first + 20);
    let err = verify(&path).expect_err("tampered");
    assert!(matches!(err, ChainFault::SegmentTampered { .. }), "{err:?}");
    let damaged = bytes(&path, first - 64, 512);
    let fault = chain(&path, 3);
    assert!(
        matches!(fault, Some(ChainFault::SegmentTampered { .. })),
        "{fault:?}"
    );
    let w = verify(&path).expect("the new chain verifies");
    assert!(
        w.began_after_break()
            .is_some_and(|why| why.contains("changed"))
    );
    assert_eq!(w.head.seq, 4, "the break, then three entries");
    assert_eq!(
        bytes(&path, first - 64, 512),
        damaged,
        "nothing was repaired"
    );
}

#[test]
fn a_damaged_record_header_loses_that_segment_but_not_those_after_it() {
    let dir = tempfile::tempdir().expect("dir");
    let path = disk(dir.path());
    chain(&path, 15);
    let before = store(&path).records();
    let (_, second) = before[1];
    // The record's magic, 64 bytes before its entries.
    flip(&path, second - 64);
    let after = store(&path).records();
    assert_eq!(after.len(), before.len() - 1, "only that record is lost");
    let err = verify(&path).expect_err("a segment is missing");
    assert!(matches!(err, ChainFault::SegmentMissing { .. }), "{err:?}");
    // The next chain goes after the last record, overwriting none.
    let (used_before, _) = store(&path).used();
    chain(&path, 2);
    let reopened = store(&path);
    for (digest, off) in &after {
        assert!(
            reopened.records().contains(&(digest.clone(), *off)),
            "record {digest} at {off} kept"
        );
    }
    assert!(reopened.used().0 > used_before);
}

#[test]
fn a_damaged_head_slot_is_named_and_the_whole_one_is_kept() {
    let dir = tempfile::tempdir().expect("dir");
    let path = disk(dir.path());
    chain(&path, 10);
    // Both head slots hold a head by now; damage slot 0's.
    flip(&path, AT + 4096 + 70);
    let err = verify(&path).expect_err("damaged head");
    assert!(
        err.to_string().contains("head slot 0") && err.to_string().contains("damaged"),
        "{err}"
    );
    let slot1 = bytes(&path, AT + 8192, 512);
    // The break alone: one commit, one head, into the damaged slot.
    let fault = chain(&path, 0);
    assert!(
        matches!(fault, Some(ChainFault::HeadUnreadable { .. })),
        "{fault:?}"
    );
    assert_eq!(
        bytes(&path, AT + 8192, 512),
        slot1,
        "the whole slot is kept"
    );
    let w = verify(&path).expect("the new chain verifies");
    assert!(w.began_after_break().is_some());
}

#[test]
fn an_erased_head_slot_or_a_wiped_start_is_a_break_not_a_new_chain() {
    let dir = tempfile::tempdir().expect("dir");
    let path = disk(dir.path());
    chain(&path, 20);
    // The newest head erased: the older one must not pass for the chain.
    let newest_is_1 = {
        let s0 = bytes(&path, AT + 4096 + 8, 8);
        let s1 = bytes(&path, AT + 8192 + 8, 8);
        u64::from_le_bytes(s1.try_into().expect("8"))
            > u64::from_le_bytes(s0.try_into().expect("8"))
    };
    let newest = AT + if newest_is_1 { 8192 } else { 4096 };
    File::options()
        .write(true)
        .open(&path)
        .expect("open")
        .write_all_at(&[0u8; 512], newest)
        .expect("erase");
    let err = verify(&path).expect_err("erased");
    assert!(matches!(err, ChainFault::HeadUnreadable { .. }), "{err:?}");

    // The heads put back as they were some commits ago: the records go
    // on past the newest head by more than a cut can leave.
    let third = tempfile::tempdir().expect("dir");
    let path = disk(third.path());
    chain(&path, 5);
    let heads_then = bytes(&path, AT, RECORDS_AT as usize);
    chain(&path, 10);
    File::options()
        .write(true)
        .open(&path)
        .expect("open")
        .write_all_at(&heads_then, AT)
        .expect("roll back");
    let err = verify(&path).expect_err("rolled back");
    assert!(matches!(err, ChainFault::HeadUnreadable { .. }), "{err:?}");

    // The key block and both heads wiped: the records say a chain was here.
    let other = tempfile::tempdir().expect("dir");
    let path = disk(other.path());
    chain(&path, 10);
    File::options()
        .write(true)
        .open(&path)
        .expect("open")
        .write_all_at(&vec![0u8; RECORDS_AT as usize], AT)
        .expect("wipe");
    let fault = chain(&path, 1);
    assert_eq!(
        fault,
        Some(ChainFault::HeadMissing),
        "not a silent new chain"
    );
    let w = verify(&path).expect("the new chain");
    assert!(w.began_after_break().is_some());
}

#[test]
fn a_store_that_cannot_be_written_does_not_hold_the_host_at_its_end() {
    let dir = tempfile::tempdir().expect("dir");
    let path = dir.path().join("small.img");
    let region = RECORDS_AT + 4096;
    File::create(&path)
        .expect("create")
        .set_len(region)
        .expect("len");
    let f = File::options()
        .read(true)
        .write(true)
        .open(&path)
        .expect("open");
    let s = DiskStore::open(f, 0, region, "small.img").expect("region");
    let (log, _) = Log::open_in(Box::new(s), 16).expect("open");
    // One entry larger than the whole region: never written.
    log.append(Decision::ChainBreak {
        why: "x".repeat(8192),
    });
    let err = log
        .flush(Duration::from_millis(300))
        .expect_err("cannot fit");
    assert!(err.contains("full"), "{err}");
    let t0 = std::time::Instant::now();
    drop(log);
    // Bounded by the flush's 5 s and the writer's 2 s, not forever.
    assert!(t0.elapsed() < Duration::from_secs(30), "{:?}", t0.elapsed());
}

#[test]
fn a_head_signed_by_another_key_is_told_apart() {
    let dir = tempfile::tempdir().expect("dir");
    let real = disk(dir.path());
    chain(&real, 4);
    let key = store(&real).public_key().expect("key");
    let other_dir = tempfile::tempdir().expect("dir");
    let forged = disk(other_dir.path());
    chain(&forged, 9);
    // The forger's region, key block and all, copied over the real one.
    let region = bytes(&forged, AT, REGION as usize);
    File::options()
        .write(true)
        .open(&real)
        .expect("open")
        .write_all_at(&region, AT)
        .expect("write");
    let s = store(&real);
    assert!(walk(&s, &s.public_key().expect("stored")).is_ok());
    let err = walk(&s, &key).expect_err("not the real key");
    assert!(matches!(err, ChainFault::HeadSignature { .. }), "{err:?}");
}

#[test]
fn a_full_region_refuses_a_segment_without_writing_past_it() {
    let dir = tempfile::tempdir().expect("dir");
    let path = disk(dir.path());
    let s = store(&path);
    let big = vec![1u8; (REGION - RECORDS_AT) as usize];
    let err = s.put_segment(&[9; 32], &big).expect_err("full");
    assert!(err.to_string().contains("full"), "{err}");
    let fits = vec![2u8; 1000];
    s.put_segment(&[8; 32], &fits).expect("fits");
    assert_eq!(s.segment(&[8; 32]), Some(fits));
    assert_eq!(s.segment(&[9; 32]), None);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// Whatever the region holds, opening it and walking never panic.
    #[test]
    fn arbitrary_bytes_in_the_region_never_panic(
        key in proptest::collection::vec(any::<u8>(), 112),
        head in proptest::collection::vec(any::<u8>(), 512),
        records in proptest::collection::vec(any::<u8>(), 0..4096),
        magic in any::<bool>(),
    ) {
        let dir = tempfile::tempdir().expect("dir");
        let path = disk(dir.path());
        let f = File::options().write(true).open(&path).expect("open");
        f.write_all_at(&key, AT).expect("key");
        f.write_all_at(&head, AT + 4096).expect("head");
        let mut recs = records.clone();
        if magic && recs.len() >= 8 {
            recs[..8].copy_from_slice(b"ENTESEGM");
        }
        f.write_all_at(&recs, AT + RECORDS_AT).expect("records");
        let s = store(&path);
        if let Ok(k) = s.public_key() {
            let _ = walk(&s, &k);
        }
        let _ = Log::open_in(Box::new(s), 16);
    }
}
