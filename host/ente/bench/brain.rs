//! The brain in `just bench`:
//!
//! - brain_observe: events a second the brain component takes in batches
//!   of 1,024 (ente's conversion to the WIT types and the call included),
//!   against the same `ente-brain` code called natively on the same events
//!   (goals: a ratio of at most 1.5, and at least 1,000,000 events a
//!   second);
//! - brain_event_to_action: on the real core, from an event on the spine
//!   to the brain's rule having fired on it (the batch's wait, the worker,
//!   the call, the action), median.

use crate::graph::{Running, id, mediator, seed, wasm};
use ente_brain::{Event, Observer, RuleFile, Rules};
use ente_core::{Config, Kind, Level};
use ente_runtime::{Grants, Identity, Incarnation, Ports, Runtime};
use serde_json::json;
use std::path::Path;
use std::time::{Duration, Instant};

const EVENTS: usize = 200_000;
const BATCH: usize = 1024;
const ROUNDS: usize = 7;
const BRAIN: &str = "656e74652d72756c652d656e67696e65";

/// A graph's worth of events: 32 Entes cycling through a crash loop's
/// kinds, a millisecond or so apart.
fn stream() -> Vec<Event> {
    let kinds = [
        "died",
        "backing_off",
        "waiting",
        "starting",
        "ready",
        "journal.warn",
    ];
    let mut x: u64 = 0x2545_F491_4F6C_DD1D;
    (0..EVENTS)
        .map(|i| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let ente = (x % 32) as usize;
            Event {
                seq: i as u64 + 1,
                at_ms: i as u64 + (x >> 60),
                kind: kinds[i % kinds.len()].to_owned(),
                ente: Some(format!("01J0000000000000000000{ente:04}")),
                label: Some(format!("ente-{ente}")),
                cause: (i % kinds.len() == 0).then(|| "trapped in `handler.handle`".to_owned()),
            }
        })
        .collect()
}

fn rules_file() -> String {
    std::fs::read_to_string(crate::repo("cards/rules/stop-a-flapping-ente.json"))
        .unwrap_or_else(|_| r#"{"rules": []}"#.into())
}

fn native(events: &[Event]) -> Duration {
    use ente_brain::{compact, observe_batch};
    let mut observer = Observer::new();
    let mut rules = Rules::new();
    if let Ok(file) = RuleFile::parse(&rules_file()) {
        for r in file.rules {
            let _ = rules.put(r);
        }
    }
    let mut fired = Vec::new();
    let t = Instant::now();
    for batch in events.chunks(BATCH) {
        // What the host does for the component too: the batch made.
        let (names, events) = compact(batch);
        fired.clear();
        observe_batch(
            &mut observer,
            &mut rules,
            names.view(),
            events.iter().copied(),
            &mut fired,
        );
        std::hint::black_box(&fired);
    }
    t.elapsed()
}

fn component(
    runtime: &Runtime,
    bp: &ente_runtime::Blueprint,
    events: &[Event],
) -> Result<Duration, String> {
    let id = Identity {
        id: ulid::Ulid::new().to_string(),
        label: "brain".into(),
    };
    let ports = Ports::journal_only(std::sync::Arc::new(crate::Quiet));
    let inc = Incarnation {
        memory_limit: 256 << 20,
        ..Incarnation::default()
    };
    let mut brain = runtime
        .instantiate(bp, id, ports, &inc)
        .map_err(|e| e.to_string())?;
    brain
        .ask_brain(&ente_runtime::BrainAsk::Load { file: rules_file() })
        .map_err(|e| e.to_string())?;
    let t = Instant::now();
    for batch in events.chunks(BATCH) {
        // What the body does: the batch made in the WIT types, then the call.
        let wit = ente::brain::batch(batch);
        std::hint::black_box(brain.observe(&wit).map_err(|e| e.to_string())?);
    }
    Ok(t.elapsed())
}

pub fn run(
    home: &Path,
    med: &str,
    results: &mut serde_json::Map<String, serde_json::Value>,
) -> Result<(), Box<dyn std::error::Error>> {
    let runtime = &Runtime::open(home)?;
    let digest = runtime.cas().add_file(&crate::guest("brain"))?.0;
    let component_ = runtime.load(&digest)?;
    let grants = Grants {
        journal: true,
        ..Grants::default()
    };
    let bp = runtime.prepare("brain", &component_, grants, &[])?;
    let events = stream();
    let (mut n, mut c) = (Vec::new(), Vec::new());
    for _ in 0..ROUNDS {
        n.push(native(&events).as_secs_f64());
        c.push(component(runtime, &bp, &events)?.as_secs_f64());
    }
    let (n, c) = (crate::median(n), crate::median(c));
    let (c_rate, n_rate) = (EVENTS as f64 / c, EVENTS as f64 / n);
    println!(
        "{:<26} {c_rate:>10.0}/s {n_rate:>10.0}/s {:>7.2}  (the brain component in batches of {BATCH}, against the same code natively; goals: ratio at most 1.5, at least 1000000/s)",
        "brain_observe",
        c / n
    );
    results.insert(
        "brain_observe".into(),
        json!({"per_s": c_rate.round(), "native_per_s": n_rate.round(), "ratio": (c / n * 1000.0).round() / 1000.0, "batch": BATCH, "goal_ratio": 1.5, "goal_per_s": 1_000_000}),
    );

    // The core below opens a runtime (and its pool) of its own.
    drop(bp);
    drop(component_);
    let latency = event_to_action(home, &digest.to_string(), med)?;
    println!(
        "{:<26} {:>10.2}ms  (an event on the spine to the brain's rule fired on it, median of 50)",
        "brain_event_to_action",
        latency / 1e6
    );
    results.insert(
        "brain_event_to_action".into(),
        json!({"ms": (latency / 1e4).round() / 100.0}),
    );
    Ok(())
}

/// The median nanoseconds from an event to the rule that fires on it.
fn event_to_action(home: &Path, brain: &str, med: &str) -> Result<f64, String> {
    let rules = json!({"rules": [{
        "name": "bench",
        "on": {"kind": "journal.warn", "ente": "poked"},
        "action": {"kind": "Event", "name": "seen"},
        "limit": {"max": 1000, "per_ms": 1}
    }]})
    .to_string();
    let mut b = wasm(
        2,
        "brain",
        brain,
        json!([{"kind": "Endpoint", "endpoint_interface": BRAIN, "endpoint_version": 1}]),
        json!([{"kind": "Journal"}]),
        json!([{"RULES": rules}]),
        json!({"kind": "Restart", "initial_ms": 10, "max_ms": 100}),
    );
    b["payload"]["entry"] = json!("ente:core/lifecycle");
    let mut s = seed(vec![mediator(med), b]);
    if let Some(p) = s["provides"].as_array_mut() {
        p.push(json!({"kind": "Endpoint", "endpoint_interface": BRAIN, "endpoint_version": 1}));
    }
    let config = Config {
        spine_ring: 1 << 16,
        ..Config::default()
    };
    let (mut running, _) = Running::start(home, &s, config)?;
    running.until(Duration::from_secs(60), |e| {
        matches!(e.kind, Kind::Settled { .. })
    })?;
    let poked = id(99);
    let mut took = Vec::new();
    for _ in 0..50 {
        let seq = running.handles.spine.emit(
            Some((poked, "poked")),
            Kind::Journal {
                level: Level::Warn,
                text: "poke".into(),
            },
        );
        let sent = running.until(Duration::from_secs(10), |e| e.seq == seq)?;
        let fired = running.until(
            Duration::from_secs(10),
            |e| matches!(&e.kind, Kind::RuleFired { seq: s, .. } if *s == seq),
        )?;
        took.push(fired.at.saturating_sub(sent.at).as_nanos() as f64);
    }
    Ok(crate::median(took))
}
