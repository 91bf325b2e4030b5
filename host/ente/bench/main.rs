//! `ente-bench` (`just bench`): ente's costs as ratios against raw wasmtime
//! measured in the same run, on the same engine and components.
//!
//! - instantiate_to_ready: an Ente from instantiation to ready (its
//!   `lifecycle.start` returned) against raw `InstancePre` instantiation,
//!   with a WASI context (`raw`) and without (`bare`: the system Entes
//!   import no WASI, so this is the floor);
//! - invoke_64b / invoke_64kib: a guest -> host -> guest call through ente's
//!   bus with the lease cached, against the raw synchronous chain;
//! - idle_ente_rss: resident memory per idle Ente, at 1,000 Entes;
//! - restart_to_ready: on the real core, from a trap in a call to the
//!   restarted Ente ready again (no backoff), against a first
//!   instantiate-to-ready;
//! - graph_1000_ready / graph_10000_ready: a seed of that many echo Entes,
//!   from the loaded card to every one ready (goals: 50 ms and 500 ms);
//! - invoke_throughput: calls a second through the bus with a caller per
//!   core, against one caller (goal: at least 1.6 on 2 cores);
//! - run_echo_*: whole `ente run --invoke` processes of the language kit's
//!   echoes against the Rust one; refuse_ungranted_import: `ente run` of
//!   an 18 MB component it refuses (goal under 50 ms);
//! - native_spawn_to_ready, reap_and_account, native_invoke: native Entes
//!   (see `native.rs`); audit_append, audit_verify: the audit chain
//!   (`audit.rs`); snapshot_write, snapshot_read: a 1,000-Ente graph's
//!   snapshot (`snapshot.rs`); brain_observe, brain_event_to_action: the
//!   rule engine (`brain.rs`).
//!
//! Medians of interleaved batches; writes target/bench/bench.json.

mod audit;
mod brain;
mod graph;
mod languages;
mod native;
mod raw;
mod snapshot;

use ente_bus::{Bus, BusConfig, Decision, Mediator, Unserved};
use ente_card::Endpoint;
use ente_runtime::{Grants, Identity, Incarnation, JournalSink, Level, Ports, Runtime, bindings};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};
use ulid::Ulid;

const ROUNDS: usize = 41;
const BATCH: usize = 200;
const IDLE_ENTES: usize = 1000;

/// An instance as a body on a bare bus.
struct EnteBody(ente_runtime::Instance);

impl ente_bus::Body for EnteBody {
    type Fault = String;

    fn handle(
        &mut self,
        from: Ulid,
        target: &Endpoint,
        body: &[u8],
    ) -> Result<Vec<u8>, Unserved<String>> {
        let target = bindings::Endpoint {
            interface: target.interface.clone(),
            version: target.version,
        };
        match self.0.handle(&from.to_string(), &target, body) {
            Ok(Ok(reply)) => Ok(reply),
            Ok(Err(refusal)) => Err(Unserved::Refused(refusal)),
            Err(e) => Err(Unserved::Broke(e.to_string())),
        }
    }

    fn broken(&self) -> Option<String> {
        self.0.broken().map(ToString::to_string)
    }
}

/// The bare bus as a guest's `ente:core/bus`.
struct BusLink(std::sync::Weak<Bus<EnteBody>>);

impl ente_runtime::BusPort for BusLink {
    fn invoke(
        &self,
        caller: &Identity,
        target: bindings::Endpoint,
        body: Vec<u8>,
    ) -> Result<Vec<u8>, bindings::BusError> {
        let bus = self.0.upgrade().ok_or(bindings::BusError::NoProvider)?;
        let caller = caller
            .id
            .parse()
            .map_err(|_| bindings::BusError::NoProvider)?;
        let target = Endpoint {
            interface: target.interface,
            version: target.version,
        };
        bus.invoke(caller, &target, &body)
            .map_err(|e| bindings::BusError::ProviderFailed(e.to_string()))
    }
}

pub(crate) struct Quiet;
impl JournalSink for Quiet {
    fn line(&self, _: &Identity, _: Level, _: &str) {}
}

/// Routes everything to one provider.
struct One(Ulid);
impl Mediator for One {
    fn decide(&self, _: Ulid, _: &Endpoint) -> Decision {
        Decision::Allow {
            provider: self.0,
            ttl: Duration::from_secs(3600),
        }
    }
}

fn echo_endpoint() -> Endpoint {
    Endpoint {
        interface: "6563686f2d656e64706f696e742d7631".into(),
        version: 1,
    }
}

pub fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// Interleaved batches of `ente` and `raw`; medians of ns per operation.
fn compare(mut ente: impl FnMut(), mut raw: impl FnMut()) -> (f64, f64) {
    let (mut e, mut r) = (Vec::new(), Vec::new());
    for _ in 0..3 {
        ente();
        raw();
    }
    for _ in 0..ROUNDS {
        let t = Instant::now();
        for _ in 0..BATCH {
            ente();
        }
        e.push(t.elapsed().as_nanos() as f64 / BATCH as f64);
        let t = Instant::now();
        for _ in 0..BATCH {
            raw();
        }
        r.push(t.elapsed().as_nanos() as f64 / BATCH as f64);
    }
    (median(e), median(r))
}

pub fn rss_bytes() -> u64 {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap_or_default();
    let pages: u64 = statm
        .split_whitespace()
        .nth(1)
        .and_then(|p| p.parse().ok())
        .unwrap_or(0);
    pages * 4096
}

fn guest(name: &str) -> PathBuf {
    PathBuf::from(format!("target/guests/{name}.wasm"))
}

/// A file of the checkout (the bench runs from its root).
fn repo(rel: &str) -> PathBuf {
    PathBuf::from(rel)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    // The program of the native_invoke Ente is this binary.
    match std::env::args().nth(1).as_deref() {
        Some("--native-echo") => {
            native::serve_echo();
            return Ok(());
        }
        Some("--raw-echo") => {
            native::raw_echo();
            return Ok(());
        }
        _ => {}
    }
    let home = Path::new("target/bench/home");
    std::fs::create_dir_all(home)?;
    // `ente-bench audit`: the audit chain alone.
    if std::env::args().nth(1).as_deref() == Some("audit") {
        audit::run(&mut serde_json::Map::new())?;
        return snapshot::run(&mut serde_json::Map::new());
    }
    // `ente-bench brain`: the rule engine alone.
    if std::env::args().nth(1).as_deref() == Some("brain") {
        let med = ente_runtime::Cas::new(home)
            .add_file(&guest("mediator"))?
            .0
            .to_string();
        return brain::run(home, &med, &mut serde_json::Map::new());
    }
    // `ente-bench native`: the native half alone.
    if std::env::args().nth(1).as_deref() == Some("native") {
        let cas = ente_runtime::Cas::new(home);
        let med = cas.add_file(&guest("mediator"))?.0.to_string();
        let client = cas.add_file(&guest("client"))?.0.to_string();
        let mut results = serde_json::Map::new();
        return native::run(home, &med, &client, &mut results);
    }
    // Hundreds of instances at once, and 1,000 idle Entes: a host's pool.
    let runtime = Runtime::open_sized(
        home,
        ente_runtime::Profile::from_env(),
        ente_runtime::MAX_ENTES,
    )?;
    let engine = runtime.engine().clone();
    let echo = runtime.load(&runtime.cas().add_file(&guest("echo"))?.0)?;
    let client = runtime.load(&runtime.cas().add_file(&guest("client"))?.0)?;
    let journal: Arc<dyn JournalSink> = Arc::new(Quiet);
    let journal_only = Grants {
        journal: true,
        ..Grants::default()
    };
    let ep = bindings::Endpoint {
        interface: echo_endpoint().interface,
        version: 1,
    };
    let echo_bp = runtime.prepare("echo", &echo, journal_only, std::slice::from_ref(&ep))?;
    let raw_echo = raw::prepare(&engine, &echo)?;
    let inc = Incarnation::default();
    let mut results = serde_json::Map::new();
    let mut table = Vec::new();

    // 1. Instantiation to ready.
    let id = Identity {
        id: Ulid::new().to_string(),
        label: "echo".into(),
    };
    let ports = Ports::journal_only(journal.clone());
    let mut keep_e = Vec::with_capacity(BATCH);
    let mut keep_r = Vec::with_capacity(BATCH);
    let (e, r) = compare(
        || {
            let mut i = runtime
                .instantiate(&echo_bp, id.clone(), ports.clone(), &inc)
                .expect("instantiate");
            i.start().expect("start").expect("ready");
            keep_e.push(i);
            if keep_e.len() == BATCH {
                keep_e.clear();
            }
        },
        || {
            keep_r.push(raw::instantiate(&engine, &raw_echo).expect("raw instantiate"));
            if keep_r.len() == BATCH {
                keep_r.clear();
            }
        },
    );
    table.push(("instantiate_to_ready", e, r));
    // The same without `lifecycle.start`: what the store and the linking cost.
    let (e, r) = compare(
        || {
            keep_e.push(
                runtime
                    .instantiate(&echo_bp, id.clone(), ports.clone(), &inc)
                    .expect("instantiate"),
            );
            if keep_e.len() == BATCH {
                keep_e.clear();
            }
        },
        || {
            keep_r.push(raw::instantiate(&engine, &raw_echo).expect("raw instantiate"));
            if keep_r.len() == BATCH {
                keep_r.clear();
            }
        },
    );
    table.push(("instantiate_only", e, r));
    // Against the floor: a store without any WASI context.
    let bare_echo = raw::prepare_bare(&engine, &echo)?;
    let mut keep_b = Vec::with_capacity(BATCH);
    let (e, r) = compare(
        || {
            let mut i = runtime
                .instantiate(&echo_bp, id.clone(), ports.clone(), &inc)
                .expect("instantiate");
            i.start().expect("start").expect("ready");
            keep_e.push(i);
            if keep_e.len() == BATCH {
                keep_e.clear();
            }
        },
        || {
            keep_b.push(raw::instantiate_bare(&engine, &bare_echo).expect("bare instantiate"));
            if keep_b.len() == BATCH {
                keep_b.clear();
            }
        },
    );
    drop((keep_e, keep_r, keep_b));
    let first_ready_ns = e;
    table.push(("instantiate_to_ready_vs_bare", e, r));

    // 2. guest -> host -> guest through the bus, lease cached.
    let bus: Arc<Bus<EnteBody>> = Arc::new(Bus::new(BusConfig::default()));
    let echo_id = Ulid::new();
    let echo_i = runtime.instantiate(
        &echo_bp,
        Identity {
            id: echo_id.to_string(),
            label: "echo".into(),
        },
        ports.clone(),
        &inc,
    )?;
    bus.install(echo_id, "echo", EnteBody(echo_i));
    bus.set_mediator(Arc::new(One(echo_id)));
    let client_grants = Grants {
        journal: true,
        bus: true,
        ..Grants::default()
    };
    let client_bp = runtime.prepare("client", &client, client_grants, std::slice::from_ref(&ep))?;
    let client_ports = Ports {
        bus: Some(Arc::new(BusLink(Arc::downgrade(&bus)))),
        ..Ports::journal_only(journal.clone())
    };
    let client_id = Identity {
        id: Ulid::new().to_string(),
        label: "client".into(),
    };
    let mut client_i = runtime.instantiate(&client_bp, client_id, client_ports, &inc)?;
    let raw_client_pre = raw::prepare(&engine, &client)?;
    let mut raw_client = raw::instantiate(&engine, &raw_client_pre)?;
    raw_client.store.data_mut().peer = Some(raw::instantiate(&engine, &raw_echo)?);
    for (name, size) in [("invoke_64b", 64usize), ("invoke_64kib", 64 << 10)] {
        let body = vec![7u8; size];
        let from = "bench".to_string();
        let (e, r) = compare(
            || {
                let reply = client_i
                    .handle(&from, &ep, &body)
                    .expect("call")
                    .expect("reply");
                assert_eq!(reply.len(), size);
            },
            || {
                let reply = raw_client
                    .handler
                    .call_handle(&mut raw_client.store, &from, &ep, &body)
                    .expect("raw")
                    .expect("reply");
                assert_eq!(reply.len(), size);
            },
        );
        table.push((name, e, r));
    }

    // 3. Resident memory per idle Ente.
    let before = rss_bytes();
    let mut idle = Vec::with_capacity(IDLE_ENTES);
    for n in 0..IDLE_ENTES {
        let id = Identity {
            id: Ulid::new().to_string(),
            label: format!("idle-{n}"),
        };
        let mut i = runtime.instantiate(&echo_bp, id, ports.clone(), &inc)?;
        i.start()?.map_err(|e| format!("start: {e}"))?;
        idle.push(i);
    }
    let per_ente = rss_bytes().saturating_sub(before) / IDLE_ENTES as u64;

    println!(
        "{:<26} {:>12} {:>12} {:>7}",
        "benchmark", "ente", "raw", "ratio"
    );
    for (name, e, r) in &table {
        let ratio = e / r;
        println!("{name:<26} {:>10.0}ns {:>10.0}ns {ratio:>7.2}", e, r);
        results.insert(
            (*name).to_string(),
            serde_json::json!({"ente_ns": e.round(), "raw_ns": r.round(), "ratio": (ratio * 1000.0).round() / 1000.0}),
        );
    }
    println!(
        "idle Ente RSS at {IDLE_ENTES} Entes: {:.1} KiB each",
        per_ente as f64 / 1024.0
    );
    results.insert(
        "idle_ente_rss".into(),
        serde_json::json!({"bytes_per_ente": per_ente, "entes": IDLE_ENTES}),
    );
    drop(idle);
    drop(runtime);

    // 4. The living graph, on the real core.
    let digest = |name: &str| -> Result<String, Box<dyn std::error::Error>> {
        Ok(ente_runtime::Cas::new(home)
            .add_file(&guest(name))?
            .0
            .to_string())
    };
    let (echo_d, med_d, trap_d, client_d) = (
        digest("echo")?,
        digest("mediator")?,
        digest("hostile_trap")?,
        digest("client")?,
    );
    let restart = graph::restart_to_ready(home, 200, &trap_d, &med_d, &client_d)?;
    println!(
        "{:<26} {restart:>10.0}ns {first_ready_ns:>10.0}ns {:>7.2}  (against a first instantiate-to-ready)",
        "restart_to_ready",
        restart / first_ready_ns
    );
    results.insert(
        "restart_to_ready".into(),
        serde_json::json!({"ente_ns": restart.round(), "first_ready_ns": first_ready_ns.round(), "ratio": (restart / first_ready_ns * 1000.0).round() / 1000.0}),
    );
    // Medians of several whole boots: one boot is one sample.
    for (name, n, goal, runs) in [
        ("graph_1000_ready", 1000, 50.0, 5),
        ("graph_10000_ready", 10_000, 500.0, 3),
    ] {
        let mut times = Vec::new();
        let mut rss = 0;
        for _ in 0..runs {
            let (ms, r) = graph::graph_ready(home, n, &echo_d, &med_d)?;
            times.push(ms);
            rss = r;
        }
        let shown: Vec<String> = times.iter().map(|t| format!("{t:.0}")).collect();
        let ms = median(times);
        println!(
            "{name:<26} {ms:>10.1}ms  (goal under {goal} ms; runs {} ms); {:.1} KiB resident per Ente",
            shown.join(", "),
            rss as f64 / 1024.0
        );
        results.insert(
            name.into(),
            serde_json::json!({"ms": (ms * 10.0).round() / 10.0, "goal_ms": goal, "rss_bytes_per_ente": rss, "entes": n}),
        );
    }
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let window = Duration::from_millis(1500);
    let one = graph::invoke_throughput(home, 1, window, &echo_d, &med_d, &client_d)?;
    let all = graph::invoke_throughput(home, cores, window, &echo_d, &med_d, &client_d)?;
    println!(
        "{:<26} {all:>10.0}/s {one:>10.0}/s {:>7.2}  ({cores} callers against 1; goal at least 1.6 on 2 cores)",
        "invoke_throughput",
        all / one
    );
    results.insert(
        "invoke_throughput".into(),
        serde_json::json!({"calls_per_s": all.round(), "one_core_calls_per_s": one.round(), "callers": cores, "ratio": (all / one * 1000.0).round() / 1000.0}),
    );

    languages::run(&mut results)?;
    brain::run(home, &med_d, &mut results)?;
    audit::run(&mut results)?;
    snapshot::run(&mut results)?;
    // Last: its host reaps every child of this process.
    native::run(home, &med_d, &client_d, &mut results)?;

    std::fs::create_dir_all("target/bench")?;
    std::fs::write(
        "target/bench/bench.json",
        serde_json::to_string_pretty(&results)? + "\n",
    )?;
    println!("wrote target/bench/bench.json");
    Ok(())
}
