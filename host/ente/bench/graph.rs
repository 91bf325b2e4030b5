//! The benchmarks of the living graph, on the real core, runner and bus:
//! a seed of N Entes from the loaded card to all ready, a restart from a
//! trap to ready again, and calls per second with every core busy.

use ente_core::{Config, Ending, Event, Handles, Kind, Next, Phase, Signal, Subscription};
use serde_json::{Value, json};
use std::path::Path;
use std::time::{Duration, Instant};
use ulid::Ulid;

pub const MEDIATOR: &str = "656e74652d6d65646961746f722d7631";

/// A running core, its loop on a thread of its own.
pub struct Running {
    pub handles: Handles,
    pub events: Subscription,
    waiter: tokio::runtime::Runtime,
    thread: Option<std::thread::JoinHandle<Ending>>,
}

impl Running {
    /// Build the core of `seed` and run it; returns when the loop runs, and
    /// the instant the card was handed over (loaded, before any check).
    pub fn start(home: &Path, seed: &Value, config: Config) -> Result<(Running, Instant), String> {
        Running::begin(home, seed, config, false)
    }

    /// [`Running::start`], its loop also reaping every exited child on
    /// SIGCHLD (native Entes), as `ente up` does.
    pub fn start_reaping(
        home: &Path,
        seed: &Value,
        config: Config,
    ) -> Result<(Running, Instant), String> {
        Running::begin(home, seed, config, true)
    }

    fn begin(
        home: &Path,
        seed: &Value,
        config: Config,
        reaping: bool,
    ) -> Result<(Running, Instant), String> {
        let bytes = serde_json::to_vec(seed).map_err(|e| e.to_string())?;
        let card = ente_card::parse(&bytes, Path::new("bench.json")).map_err(|e| e.to_string())?;
        let t0 = Instant::now();
        let (core, handles) = ente::host::build(
            home,
            Path::new("bench.json"),
            card,
            config,
            ente_runtime::Profile::Native,
        )?;
        let events = handles.spine.subscribe();
        let inbox = handles.inbox.clone();
        let thread = std::thread::spawn(move || {
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map(|rt| {
                    rt.block_on(async {
                        if reaping {
                            tokio::spawn(reap(inbox));
                        }
                        core.run().await
                    })
                })
                .unwrap_or(Ending::Stopped)
        });
        let waiter = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .map_err(|e| e.to_string())?;
        Ok((
            Running {
                handles,
                events,
                waiter,
                thread: Some(thread),
            },
            t0,
        ))
    }

    /// The next event `pred` accepts (waiting up to `limit`, asleep: a
    /// spinning bench would take a core from the host it measures).
    pub fn until(
        &mut self,
        limit: Duration,
        pred: impl Fn(&ente_core::Occurrence) -> bool,
    ) -> Result<std::sync::Arc<ente_core::Occurrence>, String> {
        let events = &mut self.events;
        self.waiter.block_on(async {
            tokio::time::timeout(limit, async {
                loop {
                    match events.next().await {
                        Next::Event(e) if pred(&e) => return Ok(e),
                        Next::Event(e) => {
                            if std::env::var_os("ENTE_BENCH_TRACE").is_some() {
                                eprintln!("bench event: {:?} {:?}", e.ente, e.kind);
                            }
                        }
                        Next::Missed(n) => return Err(format!("the bench missed {n} events")),
                        Next::Closed => return Err("the host stopped".to_owned()),
                    }
                }
            })
            .await
            .unwrap_or_else(|_| Err("timed out waiting for an event".into()))
        })
    }
}

/// Reap on SIGCHLD and hand the core each exit, as the front ends do.
async fn reap(inbox: tokio::sync::mpsc::Sender<Event>) {
    use tokio::signal::unix::{SignalKind, signal};
    let Ok(mut chld) = signal(SignalKind::child()) else {
        return;
    };
    while chld.recv().await.is_some() {
        for r in ente_kernel::reaper::reap_all() {
            if inbox.send(Event::Reaped(r)).await.is_err() {
                return;
            }
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self
            .handles
            .inbox
            .blocking_send(Event::Signal(Signal::Stop("bench done")));
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

pub fn id(n: u128) -> Ulid {
    Ulid::from(0x0100_0000_0000_0000_0000_0000_0000_0000u128 + n)
}

pub fn endpoint(n: u32) -> String {
    format!(
        "{:032x}",
        0xbe7c_0000_0000_0000_0000_0000_0000_0000u128 + u128::from(n)
    )
}

pub fn wasm(
    n: u128,
    label: &str,
    digest: &str,
    provides: Value,
    requires: Value,
    envp: Value,
    sup: Value,
) -> Value {
    json!({
        "id": id(n).to_string(), "lineage": id(0).to_string(), "label": label,
        "provides": provides, "requires": requires, "soma": {},
        "payload": {"kind": "Wasm", "module_blake3": digest, "entry": "ente:core/lifecycle", "envp": envp},
        "supervision": sup
    })
}

pub fn seed(genesis: Vec<Value>) -> Value {
    json!({
        "id": id(0).to_string(), "label": "bench",
        "provides": [{"kind": "Journal"}, {"kind": "Endpoint", "endpoint_interface": MEDIATOR, "endpoint_version": 1}],
        "soma": {}, "payload": {"kind": "Virtual"}, "supervision": {"kind": "OneShot"},
        "genesis": genesis
    })
}

pub fn mediator(digest: &str) -> Value {
    let mut m = wasm(
        1,
        "mediator",
        digest,
        json!([{"kind": "Endpoint", "endpoint_interface": MEDIATOR, "endpoint_version": 1}]),
        json!([]),
        json!([]),
        json!({"kind": "Restart", "initial_ms": 10, "max_ms": 100}),
    );
    m["payload"]["entry"] = json!("ente:core/mediator");
    m
}

/// A seed of `n` echo Entes (and the mediator) from the loaded card to
/// every one ready; returns milliseconds, and the host's RSS per Ente.
pub fn graph_ready(home: &Path, n: usize, echo: &str, med: &str) -> Result<(f64, u64), String> {
    let mut genesis = vec![mediator(med)];
    for i in 0..n {
        genesis.push(wasm(
            10 + i as u128,
            &format!("echo-{i}"),
            echo,
            json!([]),
            json!([{"kind": "Journal"}]),
            json!([]),
            json!({"kind": "OneShot"}),
        ));
    }
    let seed = seed(genesis);
    let config = Config {
        capacity: n + 16,
        spine_ring: 4 * n + 64,
        ..Config::default()
    };
    let before = crate::rss_bytes();
    let (mut running, t0) = Running::start(home, &seed, config)?;
    let settled = running.until(Duration::from_secs(120), |e| {
        matches!(e.kind, Kind::Settled { .. })
    })?;
    let ms = t0.elapsed().as_secs_f64() * 1000.0;
    match settled.kind {
        Kind::Settled { ready, bodies } if ready == bodies && ready == n + 1 => {}
        ref k => return Err(format!("not every Ente became ready: {k:?}")),
    }
    let per_ente = crate::rss_bytes().saturating_sub(before) / n as u64;
    Ok((ms, per_ente))
}

/// From a trap to ready again (no backoff), over `rounds` restarts: the
/// median in nanoseconds.
pub fn restart_to_ready(
    home: &Path,
    rounds: usize,
    trap: &str,
    med: &str,
    caller: &str,
) -> Result<f64, String> {
    let flaky = endpoint(1);
    let seed = seed(vec![
        mediator(med),
        wasm(
            2,
            "flaky",
            trap,
            json!([{"kind": "Endpoint", "endpoint_interface": flaky, "endpoint_version": 1}]),
            json!([{"kind": "Journal"}]),
            json!([{"EVERY": "1"}]),
            json!({"kind": "Restart", "initial_ms": 0, "max_ms": 0}),
        ),
        wasm(
            3,
            "caller",
            caller,
            json!([]),
            json!([{"kind": "Journal"}, {"kind": "Endpoint", "endpoint_interface": flaky, "endpoint_version": 1}]),
            json!([{"TARGET": format!("{flaky}@1")}]),
            json!({"kind": "OneShot"}),
        ),
    ]);
    let config = Config {
        start_limit: ente_core::StartLimit {
            burst: u32::MAX,
            interval: Duration::from_secs(1),
        },
        spine_ring: 1 << 16,
        ..Config::default()
    };
    let (mut running, _) = Running::start(home, &seed, config)?;
    running.until(Duration::from_secs(60), |e| {
        matches!(e.kind, Kind::Settled { .. })
    })?;
    let ep = ente_card::Endpoint {
        interface: flaky,
        version: 1,
    };
    let mut took = Vec::with_capacity(rounds);
    for _ in 0..rounds {
        // The call traps; the restart follows.
        let _ = running.handles.bus.invoke(id(3), &ep, b"x");
        let died = running.until(Duration::from_secs(10), |e| {
            e.ente.as_ref().is_some_and(|(i, _)| *i == id(2)) && matches!(e.kind, Kind::Died { .. })
        })?;
        let ready = running.until(Duration::from_secs(10), |e| {
            e.ente.as_ref().is_some_and(|(i, _)| *i == id(2))
                && matches!(
                    e.kind,
                    Kind::State {
                        to: Phase::Ready,
                        ..
                    }
                )
        })?;
        took.push(ready.at.saturating_sub(died.at).as_nanos() as f64);
    }
    Ok(crate::median(took))
}

/// Calls per second through the bus: `threads` callers, each calling its
/// own echo over `window`.
pub fn invoke_throughput(
    home: &Path,
    threads: usize,
    window: Duration,
    echo: &str,
    med: &str,
    caller: &str,
) -> Result<f64, String> {
    let mut genesis = vec![mediator(med)];
    for t in 0..threads as u32 {
        let ep = endpoint(100 + t);
        genesis.push(wasm(
            100 + u128::from(t),
            &format!("echo-{t}"),
            echo,
            json!([{"kind": "Endpoint", "endpoint_interface": ep, "endpoint_version": 1}]),
            json!([{"kind": "Journal"}]),
            json!([]),
            json!({"kind": "OneShot"}),
        ));
        genesis.push(wasm(
            200 + u128::from(t),
            &format!("caller-{t}"),
            caller,
            json!([]),
            json!([{"kind": "Journal"}, {"kind": "Endpoint", "endpoint_interface": ep, "endpoint_version": 1}]),
            json!([{"TARGET": format!("{ep}@1")}]),
            json!({"kind": "OneShot"}),
        ));
    }
    let (mut running, _) = Running::start(home, &seed(genesis), Config::default())?;
    running.until(Duration::from_secs(60), |e| {
        matches!(e.kind, Kind::Settled { .. })
    })?;
    let start = std::sync::Arc::new(std::sync::Barrier::new(threads));
    let workers: Vec<_> = (0..threads as u32)
        .map(|t| {
            let (bus, start) = (running.handles.bus.clone(), start.clone());
            std::thread::spawn(move || {
                let ep = ente_card::Endpoint {
                    interface: endpoint(100 + t),
                    version: 1,
                };
                let me = id(200 + u128::from(t));
                let body = [7u8; 64];
                let _ = bus.invoke(me, &ep, &body);
                start.wait();
                let t0 = Instant::now();
                let mut calls = 0u64;
                while t0.elapsed() < window {
                    for _ in 0..100 {
                        if bus.invoke(me, &ep, &body).is_ok() {
                            calls += 1;
                        }
                    }
                }
                calls as f64 / t0.elapsed().as_secs_f64()
            })
        })
        .collect();
    Ok(workers.into_iter().map(|w| w.join().unwrap_or(0.0)).sum())
}
