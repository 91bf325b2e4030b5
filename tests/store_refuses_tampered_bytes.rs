//! A store blob or a precompiled artifact whose bytes changed is refused with
//! an error naming the digest, and never loaded: deserialising a tampered
//! artifact could run arbitrary code.

mod support;

use ente_runtime::{CacheError, CasError, Runtime, RuntimeError};

fn flip_byte(path: &std::path::Path, at: usize) {
    let mut bytes = std::fs::read(path).expect("read");
    let i = at.min(bytes.len() - 1);
    bytes[i] ^= 0x01;
    std::fs::write(path, bytes).expect("write");
}

#[test]
fn a_tampered_store_blob_is_refused_naming_its_digest() {
    let home = tempfile::tempdir().expect("home");
    let runtime = Runtime::open(home.path()).expect("runtime");
    let digest = runtime
        .cas()
        .add_file(&support::guest("echo"))
        .expect("add");
    flip_byte(&runtime.cas().path(&digest), 1000);
    let err = runtime.load(&digest).expect_err("refused");
    assert!(
        matches!(
            err,
            RuntimeError::Cache(CacheError::Cas(CasError::Tampered { .. }))
        ),
        "{err}"
    );
    let msg = err.to_string();
    assert!(
        msg.contains(&digest.to_string()) && msg.contains("tampered"),
        "{msg}"
    );
}

#[test]
fn a_tampered_or_truncated_cache_artifact_is_refused_naming_its_digest() {
    let home = tempfile::tempdir().expect("home");
    let runtime = Runtime::open(home.path()).expect("runtime");
    let digest = runtime
        .cas()
        .add_file(&support::guest("echo"))
        .expect("add");
    runtime.load(&digest).expect("compiles and caches");
    let artifact = runtime.cache().path(&digest);
    assert!(artifact.exists());
    let pristine = std::fs::read(&artifact).expect("read");

    // One flipped byte deep in the machine code.
    flip_byte(&artifact, pristine.len() / 2);
    let err = runtime.load(&digest).expect_err("refused");
    assert!(
        matches!(err, RuntimeError::Cache(CacheError::Tampered { .. })),
        "{err}"
    );
    assert!(err.to_string().contains(&digest.to_string()), "{err}");

    // Truncated.
    std::fs::write(&artifact, &pristine[..pristine.len() / 3]).expect("write");
    let err = runtime.load(&digest).expect_err("refused");
    assert!(
        matches!(err, RuntimeError::Cache(CacheError::Tampered { .. })),
        "{err}"
    );

    // Restored, it loads again: the check refuses only what changed.
    std::fs::write(&artifact, &pristine).expect("write");
    runtime.load(&digest).expect("loads");
}

#[test]
fn an_artifact_from_another_home_is_refused() {
    let (a, b) = (
        tempfile::tempdir().expect("a"),
        tempfile::tempdir().expect("b"),
    );
    let ra = Runtime::open(a.path()).expect("runtime a");
    let rb = Runtime::open(b.path()).expect("runtime b");
    let digest = ra.cas().add_file(&support::guest("echo")).expect("add");
    rb.cas().add_file(&support::guest("echo")).expect("add");
    ra.load(&digest).expect("compiles in a");
    // Another host's artifact, valid for the same engine, but not MACed with b's key.
    std::fs::create_dir_all(rb.cache().path(&digest).parent().expect("dir")).expect("mkdir");
    std::fs::copy(ra.cache().path(&digest), rb.cache().path(&digest)).expect("copy");
    let err = rb.load(&digest).expect_err("refused");
    assert!(
        matches!(err, RuntimeError::Cache(CacheError::Tampered { .. })),
        "{err}"
    );
}
