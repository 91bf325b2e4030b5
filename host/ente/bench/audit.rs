//! The audit chain in `just bench`: appends a second with group commit
//! against writing the same entries' bytes to a file with one fsync (the
//! raw cost of keeping them), and `ente audit verify`'s entries a second.

use ente_audit::{Decision, Log, walk};
use std::io::Write;
use std::time::{Duration, Instant};

const ENTRIES: u64 = 200_000;

fn decision(n: u64) -> Decision {
    Decision::LeaseGranted {
        caller: format!("01J0000000000000000000{n:04}"),
        endpoint: "6563686f2d656e64706f696e742d7631@1".into(),
        provider: "01J000000000000000000000E1".into(),
        ttl_ms: 60_000,
    }
}

pub fn run(
    results: &mut serde_json::Map<String, serde_json::Value>,
) -> Result<(), Box<dyn std::error::Error>> {
    let dir = tempfile::tempdir()?;
    let (log, _) = Log::open(dir.path())?;
    let t = Instant::now();
    for n in 0..ENTRIES {
        log.append(decision(n % 10_000));
    }
    let appended = t.elapsed();
    log.flush(Duration::from_secs(60))?;
    let committed = t.elapsed();
    drop(log);
    let ente_rate = ENTRIES as f64 / committed.as_secs_f64();
    let append_ns = appended.as_nanos() as f64 / ENTRIES as f64;

    // Raw: the same entries encoded and written to one file, fsynced once.
    let raw_dir = tempfile::tempdir()?;
    let t = Instant::now();
    let mut bytes = Vec::new();
    for n in 0..ENTRIES {
        bytes.extend_from_slice(&postcard::to_stdvec(&decision(n % 10_000))?);
    }
    let mut f = std::fs::File::create(raw_dir.path().join("raw"))?;
    f.write_all(&bytes)?;
    f.sync_all()?;
    let raw_rate = ENTRIES as f64 / t.elapsed().as_secs_f64();

    let key = ente_audit::store::stored_public_key(dir.path())?;
    let t = Instant::now();
    let w = walk(&ente_audit::Home(dir.path().to_path_buf()), &key)?;
    let verify_rate = w.entries.len() as f64 / t.elapsed().as_secs_f64();
    println!(
        "{:<26} {ente_rate:>10.0}/s {raw_rate:>10.0}/s {:>7.2}  (committed with group commit, against encoding and one fsync; an append takes {append_ns:.0} ns of its caller; goal at least 100000/s)",
        "audit_append",
        ente_rate / raw_rate
    );
    println!(
        "{:<26} {verify_rate:>10.0}/s  ({} entries in {} segments)",
        "audit_verify",
        w.entries.len(),
        w.segments
    );
    results.insert(
        "audit_append".into(),
        serde_json::json!({"per_s": ente_rate.round(), "raw_per_s": raw_rate.round(), "ratio": (ente_rate / raw_rate * 1000.0).round() / 1000.0, "append_ns": append_ns.round(), "goal_per_s": 100_000}),
    );
    results.insert(
        "audit_verify".into(),
        serde_json::json!({"per_s": verify_rate.round(), "entries": w.entries.len(), "segments": w.segments}),
    );
    Ok(())
}
