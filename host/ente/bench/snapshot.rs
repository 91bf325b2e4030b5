//! Snapshots in `just bench`: writing and reading back the snapshot of a
//! 1,000-Ente graph (1,000 spawned cards, each Ente's counters and 1 KiB
//! of its own state) to the dev-mode file, against writing and reading the
//! same number of bytes with one fsync (the raw cost of keeping them);
//! and restoring such a graph through the core's spawn path (every card
//! checked against the live graph, as a spawn is), against parsing its
//! cards alone.

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
    restore(results)
}

/// Parents that spawned the graph's Entes, a hundred each.
const PARENTS: usize = 10;

/// The seed of the restore bench: parents that hold Spawn.
fn restore_seed() -> serde_json::Value {
    use crate::graph::id;
    let parents: Vec<serde_json::Value> = (0..PARENTS)
        .map(|p| {
            serde_json::json!({
                "id": id(1 + p as u128).to_string(), "lineage": id(0).to_string(),
                "label": format!("parent-{p}"), "provides": [],
                "requires": [{"kind": "Journal"}, {"kind": "Spawn"}], "soma": {},
                "payload": {"kind": "Virtual"}, "supervision": {"kind": "OneShot"}
            })
        })
        .collect();
    serde_json::json!({
        "id": id(0).to_string(), "label": "bench",
        "provides": [{"kind": "Journal"}, {"kind": "Spawn"}], "soma": {},
        "payload": {"kind": "Virtual"}, "supervision": {"kind": "OneShot"},
        "genesis": parents
    })
}

/// What the restore bench's graph left: 1,000 Entes spawned by the
/// parents, each with counters and 1 KiB of state.
fn restore_snapshot() -> Snapshot {
    use crate::graph::id;
    let child = |n: usize| id(1000 + n as u128);
    let parent = |n: usize| id(1 + (n % PARENTS) as u128);
    Snapshot {
        seed: id(0).to_string(),
        taken_ms: 0,
        audit: None,
        spawned: (0..ENTES)
            .map(|n| Spawned {
                parent: parent(n).to_string(),
                card: serde_json::json!({
                    "schema_version": 1, "id": child(n).to_string(),
                    "lineage": parent(n).to_string(), "label": format!("child-{n}"),
                    "provides": [], "requires": [{"kind": "Journal"}], "soma": {},
                    "payload": {"kind": "Wasm", "module_blake3": "ab".repeat(32), "entry": "ente:core/lifecycle"},
                    "supervision": {"kind": "Restart", "initial_ms": 100, "max_ms": 10000}
                })
                .to_string(),
            })
            .collect(),
        entes: (0..ENTES)
            .map(|n| Saved {
                id: child(n).to_string(),
                restarts: n as u32,
                failures: 0,
                state: Some(vec![n as u8; 1024]),
            })
            .collect(),
        leases: Vec::new(),
    }
}

/// `snapshot_restore`: the snapshot brought back into a core that has not
/// run (each round a new core, built outside the time measured).
fn restore(
    results: &mut serde_json::Map<String, serde_json::Value>,
) -> Result<(), Box<dyn std::error::Error>> {
    const RESTORES: usize = 5;
    let home = tempfile::tempdir()?;
    let seed = ente_card::from_value(&restore_seed()).map_err(|f| format!("{f:?}"))?;
    let snapshot = restore_snapshot();
    let config = ente_core::Config {
        children: 128,
        ..ente_core::Config::default()
    };
    let (mut restore, mut parse) = (Vec::new(), Vec::new());
    for _ in 0..RESTORES {
        let (mut core, _handles) = ente::host::build(
            home.path(),
            std::path::Path::new("bench.json"),
            seed.clone(),
            config.clone(),
            ente_runtime::Profile::Native,
        )?;
        let t = Instant::now();
        let restored = core.restore(&snapshot)?;
        restore.push(t.elapsed());
        if restored.spawned != ENTES || restored.states != ENTES {
            return Err("the restore brought back less than the snapshot held".into());
        }
        let t = Instant::now();
        for s in &snapshot.spawned {
            ente_card::parse(s.card.as_bytes(), std::path::Path::new("snapshot"))
                .map_err(|e| e.to_string())?;
        }
        parse.push(t.elapsed());
    }
    let (r, p) = (median(restore), median(parse));
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    println!(
        "{:<26} {:>9.2}ms {:>9.2}ms {:>7.2}  ({ENTES} spawned Entes under {PARENTS} parents, each checked as a spawn, with counters and state; against parsing their cards)",
        "snapshot_restore",
        ms(r),
        ms(p),
        r.as_secs_f64() / p.as_secs_f64()
    );
    results.insert(
        "snapshot_restore".into(),
        serde_json::json!({"ms": ms(r), "raw_ms": ms(p), "ratio": (r.as_secs_f64() / p.as_secs_f64() * 1000.0).round() / 1000.0, "entes": ENTES}),
    );
    Ok(())
}
