//! The core drives bodies only through the runner seam: here a runner of
//! scripted bodies (no wasmtime at all) is started in dependency order,
//! restarted with backoff when a body breaks in a call, failed at the start
//! limit, and stopped in reverse order, as a Wasm or native runner would be.

use ente_bus::{Decision, Unserved};
use ente_card::{Card, Endpoint};
use ente_core::{
    Body, Cause, Config, Core, Event, Exports, Failure, KillSwitch, Kind, Next, Phase, Prepared,
    Runner, Signal, Spec, State, Verdict, Wiring,
};
use std::any::Any;
use std::sync::Arc;
use std::time::{Duration, Instant};
use ulid::Ulid;

const MEDIATOR: &str = "656e74652d6d65646961746f722d7631";
const SERVICE: &str = "73657276696365000000000000000000";

#[derive(Debug)]
struct Scripted;

impl Prepared for Scripted {
    fn exports(&self) -> Exports {
        Exports {
            lifecycle: true,
            handler: true,
            mediator: true,
            ..Exports::default()
        }
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}

#[derive(Debug)]
struct NoKill;

impl KillSwitch for NoKill {
    fn kill(&self, _why: &str) {}
}

/// A body that does what its card's label says: `refuses` refuses to
/// start; `breaks` breaks on every call; the mediator allows every call to
/// the provider of SERVICE; anything else echoes.
struct ScriptBody {
    label: String,
    generation: u64,
    provider: Ulid,
    broken: Option<Cause>,
}

impl Body for ScriptBody {
    fn generation(&self) -> u64 {
        self.generation
    }

    fn kill_switch(&self) -> Arc<dyn KillSwitch> {
        Arc::new(NoKill)
    }

    fn broken(&self) -> Option<Cause> {
        self.broken.clone()
    }

    fn start(&mut self) -> Result<(), Cause> {
        if self.label == "refuses" {
            return Err(Cause::Refused {
                reason: "scripted".into(),
            });
        }
        Ok(())
    }

    fn stop(&mut self) -> Result<(), Cause> {
        Ok(())
    }

    fn handle(&mut self, _: Ulid, _: &Endpoint, body: &[u8]) -> Result<Vec<u8>, Unserved<Cause>> {
        if self.label == "breaks" {
            let cause = Cause::Trap {
                call: "handle".into(),
                code: None,
                message: "scripted".into(),
            };
            self.broken = Some(cause.clone());
            return Err(Unserved::Broke(cause));
        }
        Ok(body.to_vec())
    }

    fn decide(&mut self, _: Ulid, _: &Endpoint) -> Result<Decision, Cause> {
        Ok(Decision::Allow {
            provider: self.provider,
            ttl: Duration::from_secs(60),
        })
    }

    fn on_uevent(&mut self, _: &ente_kernel::uevent::Uevent) -> Result<(), Cause> {
        Ok(())
    }

    fn on_timer(&mut self, _: u64) -> Result<(), Cause> {
        Ok(())
    }

    fn on_child_exit(&mut self, _: Ulid, _: &Cause) -> Result<Verdict, Cause> {
        Ok(Verdict::Stop)
    }
}

struct ScriptRunner {
    provider: Ulid,
}

impl Runner for ScriptRunner {
    fn prepare(&self, _: &Spec) -> Result<Arc<dyn Prepared>, Cause> {
        Ok(Arc::new(Scripted))
    }

    fn incarnate(
        &self,
        spec: &Spec,
        _: &Arc<dyn Prepared>,
        generation: u64,
    ) -> Result<Box<dyn Body>, Cause> {
        Ok(Box::new(ScriptBody {
            label: spec.card.label.clone(),
            generation,
            provider: self.provider,
            broken: None,
        }))
    }
}

fn id(n: u8) -> Ulid {
    Ulid::from(u128::from(n) + (1 << 100))
}

fn card(n: u8, label: &str, provides: &str, requires: &str) -> serde_json::Value {
    let ep = |i: &str| serde_json::json!([{"kind": "Endpoint", "endpoint_interface": i, "endpoint_version": 1}]);
    serde_json::json!({
        "id": id(n).to_string(), "lineage": id(0).to_string(), "label": label,
        "provides": if provides.is_empty() { serde_json::json!([]) } else { ep(provides) },
        "requires": if requires.is_empty() { serde_json::json!([]) } else { ep(requires) },
        "soma": {},
        "payload": {"kind": "Wasm", "module_blake3": "0".repeat(64), "entry": "ente:core/lifecycle"},
        "supervision": {"kind": "Restart", "initial_ms": 10, "max_ms": 40}
    })
}

fn seed() -> Card {
    let json = serde_json::json!({
        "id": id(0).to_string(), "label": "seed",
        "provides": [{"kind": "Endpoint", "endpoint_interface": MEDIATOR, "endpoint_version": 1}],
        "soma": {}, "payload": {"kind": "Virtual"}, "supervision": {"kind": "OneShot"},
        "genesis": [
            card(1, "mediator", MEDIATOR, ""),
            card(3, "client", "", SERVICE),
            card(2, "breaks", SERVICE, ""),
            card(4, "refuses", "", ""),
        ]
    });
    ente_card::parse(
        &serde_json::to_vec(&json).expect("json"),
        std::path::Path::new("seed"),
    )
    .expect("card")
}

struct Running {
    handles: ente_core::Handles,
    events: ente_core::Subscription,
    seen: Vec<Arc<ente_core::Occurrence>>,
    thread: Option<std::thread::JoinHandle<ente_core::Ending>>,
}

impl Running {
    fn start() -> Running {
        let config = Config {
            spine_ring: 1 << 14,
            ..Config::default()
        };
        let wiring = Wiring::new(&config);
        let handles = wiring.handles.clone();
        let events = handles.spine.subscribe();
        let core = Core::new(
            config,
            seed(),
            Arc::new(ScriptRunner { provider: id(2) }),
            wiring,
        )
        .expect("core");
        let thread = std::thread::spawn(move || {
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime")
                .block_on(core.run())
        });
        Running {
            handles,
            events,
            seen: Vec::new(),
            thread: Some(thread),
        }
    }

    fn until(
        &mut self,
        pred: impl Fn(&ente_core::Occurrence) -> bool,
    ) -> Arc<ente_core::Occurrence> {
        let t0 = Instant::now();
        loop {
            while let Some(Next::Event(e)) = self.events.try_next() {
                self.seen.push(e);
            }
            if let Some(e) = self.seen.iter().find(|e| pred(e)) {
                return e.clone();
            }
            assert!(
                t0.elapsed() < Duration::from_secs(20),
                "never: {:#?}",
                self.seen
            );
            std::thread::sleep(Duration::from_millis(1));
        }
    }

    fn of(&self, n: u8, phase: Phase) -> Vec<u64> {
        self.seen
            .iter()
            .filter(|e| {
                e.ente.as_ref().is_some_and(|(i, _)| *i == id(n))
                    && matches!(e.kind, Kind::State { to, .. } if to == phase)
            })
            .map(|e| e.seq)
            .collect()
    }

    fn state(&self, n: u8) -> Option<State> {
        self.handles.read().get(id(n)).map(|r| r.state.clone())
    }
}

#[test]
fn scripted_bodies_start_in_order_restart_fail_at_the_limit_and_stop_in_reverse() {
    let mut r = Running::start();
    r.until(|e| matches!(e.kind, Kind::Settled { .. }));
    // The client waited for the mediator and for its provider.
    let client_ready = r.of(3, Phase::Ready)[0];
    assert!(r.of(1, Phase::Ready)[0] < client_ready);
    assert!(r.of(2, Phase::Ready)[0] < client_ready);
    // A start refused five times within 10 s: failed, with its cause.
    r.until(|e| {
        e.ente.as_ref().is_some_and(|(i, _)| *i == id(4))
            && matches!(
                e.kind,
                Kind::State {
                    to: Phase::Failed,
                    ..
                }
            )
    });
    assert!(
        matches!(
            r.state(4),
            Some(State::Failed {
                cause: Cause::Refused { .. },
                why: Failure::StartLimit { burst: 5, .. }
            })
        ),
        "{:?}",
        r.state(4)
    );
    // A body that breaks in a call leaves the bus and is started again.
    let service = Endpoint {
        interface: SERVICE.into(),
        version: 1,
    };
    let err = r
        .handles
        .bus
        .invoke(id(3), &service, b"x")
        .expect_err("breaks");
    assert!(err.to_string().contains("scripted"), "{err}");
    r.until(|e| {
        e.ente.as_ref().is_some_and(|(i, _)| *i == id(2)) && matches!(e.kind, Kind::Died { .. })
    });
    r.until(|e| {
        e.ente.as_ref().is_some_and(|(i, _)| *i == id(2))
            && matches!(&e.kind, Kind::State { to: Phase::BackingOff, detail, .. } if detail.starts_with("backing off: restart 1 in"))
    });
    let t0 = Instant::now();
    while r.of(2, Phase::Ready).len() < 2 {
        r.until(|_| true);
        assert!(t0.elapsed() < Duration::from_secs(10));
        std::thread::sleep(Duration::from_millis(1));
    }
    // Stop: the client before its provider, the mediator last of all.
    let _ = r
        .handles
        .inbox
        .blocking_send(Event::Signal(Signal::Stop("test")));
    if let Some(t) = r.thread.take() {
        t.join().expect("loop");
    }
    while let Some(Next::Event(e)) = r.events.try_next() {
        r.seen.push(e);
    }
    let (client, provider, mediator) = (
        r.of(3, Phase::Stopped),
        r.of(2, Phase::Stopped),
        r.of(1, Phase::Stopped),
    );
    assert!(
        client[0] < provider[0] && provider[0] < mediator[0],
        "{client:?} {provider:?} {mediator:?}"
    );
}
