//! The audit chain: appended, committed and walked across reopenings; each
//! tampering (a flipped byte, a deleted segment, a truncated, deleted or
//! replaced head, a chain rewritten under a new key) is found and named,
//! and reopening records the break in a new chain instead of repairing.

use ente_audit::{ChainFault, Decision, Home, Log, Walk, store};
use proptest::prelude::*;
use std::path::Path;
use std::time::Duration;

fn walk(home: &Path, key: &ente_audit::VerifyingKey) -> Result<Walk, ChainFault> {
    ente_audit::walk(&Home(home.to_path_buf()), key)
}

fn walk_since(
    home: &Path,
    key: &ente_audit::VerifyingKey,
    seen: &ente_audit::Head,
) -> Result<Walk, ChainFault> {
    ente_audit::walk_since(&Home(home.to_path_buf()), key, seen)
}

fn decision(n: u64) -> Decision {
    Decision::LeaseGranted {
        caller: format!("caller-{n}"),
        endpoint: "6563686f2d656e64706f696e742d7631@1".into(),
        provider: "echo".into(),
        ttl_ms: 30_000,
    }
}

/// A chain of `n` entries under `home`, committed in several segments.
fn chain(home: &Path, n: u64) {
    let (log, fault) = Log::open(home).expect("open");
    assert_eq!(fault, None);
    for i in 0..n {
        log.append(decision(i));
        if i % 10 == 9 {
            log.flush(Duration::from_secs(5)).expect("flush");
        }
    }
    log.flush(Duration::from_secs(5)).expect("flush");
}

fn key(home: &Path) -> ed25519_dalek::VerifyingKey {
    store::stored_public_key(home).expect("public key")
}

/// The segment files of the chain, newest first.
fn segments(home: &Path) -> Vec<std::path::PathBuf> {
    let w = walk(home, &key(home)).expect("walk");
    let mut out = Vec::new();
    let mut d = Some(w.head.segment);
    while let Some(digest) = d {
        let path = home.join("cas").join(ente_audit::hex(&digest));
        let seg = store::get_segment(&Home(home.to_path_buf()), &digest, 0).expect("segment");
        d = seg.prev_segment;
        out.push(path);
    }
    out
}

#[test]
fn a_chain_continues_across_reopenings_and_walks_whole() {
    let home = tempfile::tempdir().expect("home");
    chain(home.path(), 35);
    chain_again(home.path(), 5);
    let w = walk(home.path(), &key(home.path())).expect("walk");
    assert_eq!(w.head.seq, 40);
    assert_eq!(w.entries.len(), 40);
    assert!(
        w.entries
            .iter()
            .enumerate()
            .all(|(i, e)| e.seq == i as u64 + 1)
    );
    assert!(w.segments >= 4, "{} segments", w.segments);
    assert_eq!(w.began_after_break(), None);
}

fn chain_again(home: &Path, n: u64) {
    let (log, fault) = Log::open(home).expect("reopen");
    assert_eq!(fault, None);
    for i in 0..n {
        log.append(decision(100 + i));
    }
    log.flush(Duration::from_secs(5)).expect("flush");
}

#[test]
fn a_flipped_byte_in_a_segment_is_found_and_the_next_chain_records_the_break() {
    let home = tempfile::tempdir().expect("home");
    chain(home.path(), 30);
    let older = segments(home.path())[1].clone();
    let mut bytes = std::fs::read(&older).expect("read");
    bytes[5] ^= 0x01;
    std::fs::write(&older, &bytes).expect("write");
    let fault = walk(home.path(), &key(home.path())).expect_err("tampered");
    assert!(
        matches!(fault, ChainFault::SegmentTampered { before_seq: 21, .. }),
        "{fault}"
    );
    // Reopened: the break is reported, recorded, and nothing is repaired.
    let (log, found) = Log::open(home.path()).expect("open");
    assert_eq!(found, Some(fault.clone()));
    log.append(decision(1));
    log.flush(Duration::from_secs(5)).expect("flush");
    let w = walk(home.path(), &key(home.path())).expect("the new chain");
    assert_eq!(w.began_after_break(), Some(fault.to_string().as_str()));
    assert_eq!(w.entries.len(), 2);
    assert_eq!(
        std::fs::read(&older).expect("kept"),
        bytes,
        "the broken segment is left as it was"
    );
}

#[test]
fn a_deleted_segment_is_named_by_the_entries_it_held() {
    let home = tempfile::tempdir().expect("home");
    chain(home.path(), 30);
    std::fs::remove_file(&segments(home.path())[2]).expect("delete");
    let fault = walk(home.path(), &key(home.path())).expect_err("missing");
    assert!(
        matches!(fault, ChainFault::SegmentMissing { before_seq: 11, .. }),
        "{fault}"
    );
}

#[test]
fn a_truncated_or_deleted_head_is_found() {
    let home = tempfile::tempdir().expect("home");
    chain(home.path(), 10);
    let head = store::head_path(home.path());
    let bytes = std::fs::read(&head).expect("head");
    std::fs::write(&head, &bytes[..20]).expect("truncate");
    let fault = walk(home.path(), &key(home.path())).expect_err("truncated");
    assert!(
        matches!(fault, ChainFault::HeadTruncated { len: 20 }),
        "{fault}"
    );
    std::fs::remove_file(&head).expect("delete");
    let (_log, found) = Log::open(home.path()).expect("open");
    assert_eq!(found, Some(ChainFault::HeadMissing));
}

#[test]
fn a_head_signed_by_another_key_is_found() {
    let home = tempfile::tempdir().expect("home");
    chain(home.path(), 10);
    let original = key(home.path());
    // Someone rewrites the chain under a key of their own, key files
    // included: the stored key agrees with it, a key held elsewhere does not.
    let forged = tempfile::tempdir().expect("forger");
    chain(forged.path(), 10);
    for name in ["head", "key", "key.pub"] {
        std::fs::copy(
            forged.path().join("audit").join(name),
            home.path().join("audit").join(name),
        )
        .expect("replace");
    }
    for entry in std::fs::read_dir(forged.path().join("cas")).expect("cas") {
        let p = entry.expect("entry").path();
        std::fs::copy(
            &p,
            home.path().join("cas").join(p.file_name().expect("name")),
        )
        .expect("copy");
    }
    walk(home.path(), &key(home.path())).expect("consistent with its own key");
    let fault = walk(home.path(), &original).expect_err("not the real chain");
    assert!(
        matches!(fault, ChainFault::HeadSignature { seq: 10 }),
        "{fault}"
    );
}

proptest! {
    #[test]
    fn no_head_or_segment_bytes_make_the_walk_panic(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
        let home = tempfile::tempdir().expect("home");
        chain(home.path(), 3);
        let k = key(home.path());
        std::fs::write(store::head_path(home.path()), &bytes).expect("head");
        prop_assert!(walk(home.path(), &k).is_err());
    }

    #[test]
    fn every_byte_flip_of_a_segment_is_found(at in 0usize..64, bit in 0u8..8) {
        let home = tempfile::tempdir().expect("home");
        chain(home.path(), 3);
        let seg = segments(home.path())[0].clone();
        let mut bytes = std::fs::read(&seg).expect("read");
        let at = at % bytes.len();
        bytes[at] ^= 1 << bit;
        std::fs::write(&seg, &bytes).expect("write");
        prop_assert!(walk(home.path(), &key(home.path())).is_err());
    }
}

#[test]
fn following_a_chain_reads_only_what_is_new_and_finds_a_rewritten_one() {
    let home = tempfile::tempdir().expect("home");
    chain(home.path(), 12);
    let k = key(home.path());
    let seen = walk(home.path(), &k).expect("walk").head;
    let none = walk_since(home.path(), &k, &seen).expect("nothing new");
    assert!(none.entries.is_empty());
    assert_eq!(none.segments, 0);
    chain_again(home.path(), 7);
    let new = walk_since(home.path(), &k, &seen).expect("new entries");
    let seqs: Vec<u64> = new.entries.iter().map(|e| e.seq).collect();
    assert_eq!(seqs, (13..=19).collect::<Vec<_>>());
    assert_eq!(new.entries[0].prev, seen.entry, "linked to what was seen");

    // The chain begun again under the same key (its files removed): what
    // was seen is no longer in it, and following says so.
    std::fs::remove_dir_all(home.path().join("cas")).expect("rm cas");
    std::fs::remove_file(store::head_path(home.path())).expect("rm head");
    std::fs::remove_file(home.path().join("audit").join("started")).expect("rm marker");
    chain(home.path(), 20);
    let err = walk_since(home.path(), &k, &seen).expect_err("diverged");
    assert_eq!(err, ChainFault::Diverged { seq: 12 });
}

#[test]
fn entries_beyond_the_pending_bound_are_counted_as_lost_and_the_count_recorded() {
    let home = tempfile::tempdir().expect("home");
    let (log, fault) = Log::open_bounded(home.path(), 8).expect("open");
    assert_eq!(fault, None);
    // The store cannot be written: `cas` is a file.
    std::fs::write(home.path().join("cas"), b"in the way").expect("block the store");
    for i in 0..12 {
        log.append(decision(i));
    }
    let err = log
        .flush(Duration::from_millis(300))
        .expect_err("nothing can be committed");
    assert!(err.contains("cannot write the audit chain"), "{err}");
    std::fs::remove_file(home.path().join("cas")).expect("unblock");
    log.flush(Duration::from_secs(5))
        .expect("committed once the store is back");
    drop(log);
    let w = walk(home.path(), &key(home.path())).expect("walk");
    let kept = w
        .entries
        .iter()
        .filter(|e| matches!(e.decision, Decision::LeaseGranted { .. }))
        .count() as u64;
    let lost: u64 = w
        .entries
        .iter()
        .filter_map(|e| match e.decision {
            Decision::Lost { count } => Some(count),
            _ => None,
        })
        .sum();
    assert!(kept <= 8, "{kept} kept beyond the bound of 8");
    assert!(lost >= 4, "{lost} counted lost");
    assert_eq!(kept + lost, 12, "every entry is kept or counted");
    assert!(matches!(
        w.entries.last().map(|e| &e.decision),
        Some(Decision::Lost { .. })
    ));
}
