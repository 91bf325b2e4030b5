//! Snapshots in `just bench`: writing and reading back the snapshot of a
//! 1,000-Ente graph (1,000 spawned cards, each Ente's counters and 1 KiB
//! of its own state) to the dev-mode file, against writing and reading the
//! same number of bytes with one fsync (the raw cost of keeping them).

use ente_state::{Saved, Snapshot, Spawned, file};
use std::io::Write;
use std::time::{Duration, Instant};

const ENTES: usize = 1_000;
const ROUNDS: usize = 15;

fn graph() -> Snapshot {
    let seed = "01J00000000000000000000R00";
    let id = |n: usize| format!("01J0000000000000000000{n:04}");
    Snapshot {
        seed: seed.into(),
        taken_ms: 0,
        audit: None,
        spawned: (0..ENTES)
            .map(|n| Spawned {
                parent: seed.into(),
                card: format!(
                    r#"{{"schema_version":1,"id":"{}","lineage":"{seed}","label":"child-{n}","provides":[],"requires":[{{"kind":"Journal"}}],"soma":{{}},"payload":{{"kind":"Wasm","module_blake3":"{}","entry":"ente:core/lifecycle","envp":[]}},"supervision":{{"kind":"Restart","initial_ms":100,"max_ms":10000}},"genesis":[]}}"#,
                    id(n),
                    "ab".repeat(32)
                ),
            })
            .collect(),
        entes: (0..ENTES)
            .map(|n| Saved {
                id: id(n),
                restarts: n as u32,
                failures: 0,
                state: Some(vec![n as u8; 1024]),
            })
            .collect(),
        leases: Vec::new(),
    }
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

pub fn run(
    results: &mut serde_json::Map<String, serde_json::Value>,
) -> Result<(), Box<dyn std::error::Error>> {
    let dir = tempfile::tempdir()?;
    let snapshot = graph();
    let (mut write, mut read, mut raw_write, mut raw_read) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    let mut bytes = 0;
    let raw_path = dir.path().join("raw");
    for _ in 0..ROUNDS {
        let t = Instant::now();
        bytes = file::write(dir.path(), &snapshot)?.bytes;
        write.push(t.elapsed());

        let t = Instant::now();
        let back = file::read(dir.path())?.ok_or("no snapshot")?;
        read.push(t.elapsed());
        if back.entes.len() != ENTES {
            return Err("the snapshot read back is not the one written".into());
        }

        let payload = vec![7u8; bytes];
        let t = Instant::now();
        let mut f = std::fs::File::create(&raw_path)?;
        f.write_all(&payload)?;
        f.sync_all()?;
        raw_write.push(t.elapsed());

        let t = Instant::now();
        let again = std::fs::read(&raw_path)?;
        raw_read.push(t.elapsed());
        if again.len() != bytes {
            return Err("the raw file read back short".into());
        }
    }
    let (w, r, rw, rr) = (
        median(write),
        median(read),
        median(raw_write),
        median(raw_read),
    );
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    println!(
        "{:<26} {:>9.2}ms {:>9.2}ms {:>7.2}  ({ENTES} Entes: spawned cards, counters and 1 KiB of state each, {bytes} bytes; encode, checksum, temp, fsync, rename, against the same bytes and one fsync)",
        "snapshot_write",
        ms(w),
        ms(rw),
        w.as_secs_f64() / rw.as_secs_f64()
    );
    println!(
        "{:<26} {:>9.2}ms {:>9.2}ms {:>7.2}  (read, checksum and decode, against reading the same bytes)",
        "snapshot_read",
        ms(r),
        ms(rr),
        r.as_secs_f64() / rr.as_secs_f64()
    );
    results.insert(
        "snapshot_write".into(),
        serde_json::json!({"ms": ms(w), "raw_ms": ms(rw), "ratio": (w.as_secs_f64() / rw.as_secs_f64() * 1000.0).round() / 1000.0, "bytes": bytes, "entes": ENTES}),
    );
    results.insert(
        "snapshot_read".into(),
        serde_json::json!({"ms": ms(r), "raw_ms": ms(rr), "ratio": (r.as_secs_f64() / rr.as_secs_f64() * 1000.0).round() / 1000.0, "bytes": bytes, "entes": ENTES}),
    );
    Ok(())
}
