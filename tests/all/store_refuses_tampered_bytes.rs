//! A store blob or a precompiled artifact whose bytes changed is refused with
//! an error naming the digest, and never loaded: deserialising a tampered
//! artifact could run arbitrary code.

use crate::support;

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
        .map(|(d, _)| d)
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
        .map(|(d, _)| d)
        .expect("add");
    runtime.load(&digest).expect("compiles and caches");
    let artifact = runtime.cache().path(&digest);
    assert!(artifact.exists());
    let pristine = std::fs::read(&artifact).expect("read");

    // Read from disk, as each new start of the host does (a runtime keeps
    // what it loaded in memory).
    let from_disk = || {
        runtime
            .cache()
            .load(runtime.engine(), runtime.cas(), &digest, &|_| Ok(()))
    };

    // One flipped byte deep in the machine code.
    flip_byte(&artifact, pristine.len() / 2);
    let err = from_disk().expect_err("refused");
    assert!(matches!(err, CacheError::Tampered { .. }), "{err}");
    assert!(err.to_string().contains(&digest.to_string()), "{err}");

    // Truncated.
    std::fs::write(&artifact, &pristine[..pristine.len() / 3]).expect("write");
    let err = from_disk().expect_err("refused");
    assert!(matches!(err, CacheError::Tampered { .. }), "{err}");

    // Restored, it loads again: the check refuses only what changed.
    std::fs::write(&artifact, &pristine).expect("write");
    from_disk().expect("loads");
}

#[test]
fn an_artifact_from_another_home_is_refused() {
    let (a, b) = (
        tempfile::tempdir().expect("a"),
        tempfile::tempdir().expect("b"),
    );
    let ra = Runtime::open(a.path()).expect("runtime a");
    let rb = Runtime::open(b.path()).expect("runtime b");
    let digest = ra.cas().add_file(&support::guest("echo")).expect("add").0;
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

#[test]
fn adding_the_genuine_bytes_again_repairs_a_tampered_blob() {
    let home = tempfile::tempdir().expect("home");
    let wasm = support::guest("echo");
    let out = support::ente_in(home.path(), &["cas", "add", &wasm.to_string_lossy()]);
    let digest = support::text(&out.stdout).trim().to_owned();
    let blob = home.path().join("cas").join(&digest);
    flip_byte(&blob, 1000);
    let out = support::ente_in(home.path(), &["cas", "add", &wasm.to_string_lossy()]);
    assert_eq!(out.status.code(), Some(0));
    assert!(
        support::text(&out.stderr).contains("was corrupt or tampered; replaced with these bytes"),
        "{}",
        support::text(&out.stderr)
    );
    let runtime = Runtime::open(home.path()).expect("runtime");
    let d = ente_card::Digest::from_hex(&digest).expect("digest");
    runtime.load(&d).expect("loads once repaired");
    // Adding it once more changes nothing and says nothing.
    let out = support::ente_in(home.path(), &["cas", "add", &wasm.to_string_lossy()]);
    assert!(support::text(&out.stderr).is_empty());
}
