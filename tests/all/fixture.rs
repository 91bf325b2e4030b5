//! An in-process host for end-to-end tests: a seed card built from guest
//! names, the real runtime, runner and core on a thread of their own, the
//! spine read from the test, and calls made as any Ente of the graph.

use ente_core::{Config, Event, Handles, Kind, Next, Occurrence, Phase, Signal, State};
use serde_json::Value;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};
use ulid::Ulid;

pub use crate::cards::*;

/// Settings for tests: short deadlines, a long event ring, and a pool of
/// 256 Entes (each pool reserves 8 GiB of address space an Ente, and tests
/// run side by side in one process).
pub fn config() -> Config {
    Config {
        call_deadline: Duration::from_millis(500),
        stop_grace: Duration::from_millis(300),
        spine_ring: 1 << 16,
        capacity: 256,
        ..Config::default()
    }
}

/// A running host.
pub struct Host {
    /// The store and state of the host, removed with it.
    _home: tempfile::TempDir,
    pub handles: Handles,
    events: ente_core::Subscription,
    pub seen: Vec<Arc<Occurrence>>,
    ids: HashMap<String, Ulid>,
    thread: Option<std::thread::JoinHandle<ente_core::Ending>>,
}

impl Host {
    /// Start the graph of `seed` with `config`, every guest in the store.
    pub fn start(seed: Value, config: Config) -> Host {
        let home = tempfile::tempdir().expect("home");
        let cas = ente_runtime::Cas::new(home.path());
        for entry in std::fs::read_dir(crate::support::repo("target/guests")).expect("guests") {
            let path = entry.expect("entry").path();
            if path.extension().is_some_and(|e| e == "wasm") {
                cas.add_file(&path).expect("add guest");
            }
        }
        Host::start_in(home, seed, config)
    }

    /// As [`Host::start`], with the store already in `home`.
    pub fn start_in(home: tempfile::TempDir, seed: Value, config: Config) -> Host {
        let bytes = serde_json::to_vec(&seed).expect("json");
        let card = ente_card::parse(&bytes, std::path::Path::new("seed.json"))
            .unwrap_or_else(|e| panic!("{e}"));
        let ids = card
            .walk()
            .map(|c| (c.label.clone(), c.id))
            .collect::<HashMap<_, _>>();
        let (core, handles) = ente::host::build(
            home.path(),
            std::path::Path::new("seed.json"),
            card,
            config,
            ente_runtime::Profile::Native,
        )
        .unwrap_or_else(|e| panic!("{e}"));
        let events = handles.spine.subscribe();
        let thread = std::thread::Builder::new()
            .name("ente-core-loop".into())
            .spawn(move || {
                tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .expect("runtime")
                    .block_on(core.run())
            })
            .expect("loop thread");
        Host {
            _home: home,
            handles,
            events,
            seen: Vec::new(),
            ids,
            thread: Some(thread),
        }
    }

    /// The host's home: its store, cache and state.
    pub fn home(&self) -> &std::path::Path {
        self._home.path()
    }

    pub fn id(&self, label: &str) -> Ulid {
        *self
            .ids
            .get(label)
            .unwrap_or_else(|| panic!("no Ente `{label}` in the seed"))
    }

    /// Take every event the spine has now.
    fn drain(&mut self) {
        while let Some(next) = self.events.try_next() {
            match next {
                Next::Event(e) => self.seen.push(e),
                Next::Missed(n) => panic!("the test's subscription missed {n} events"),
                Next::Closed => return,
            }
        }
    }

    /// Wait (up to 30 s) for an event that `pred` accepts, among those seen
    /// so far or to come; returns it and how long the wait took.
    pub fn wait_for(
        &mut self,
        what: &str,
        pred: impl Fn(&Occurrence) -> bool,
    ) -> (Arc<Occurrence>, Duration) {
        let t0 = Instant::now();
        let deadline = t0 + Duration::from_secs(30);
        loop {
            self.drain();
            if let Some(e) = self.seen.iter().find(|e| pred(e)) {
                return (e.clone(), t0.elapsed());
            }
            if Instant::now() > deadline {
                panic!(
                    "{what} never happened; the spine said:\n{}",
                    self.transcript()
                );
            }
            std::thread::sleep(Duration::from_millis(2));
        }
    }

    /// Wait until `label` is in `phase`; returns its state then.
    pub fn wait_phase(&mut self, label: &str, phase: Phase) -> State {
        let id = self.id(label);
        let t0 = Instant::now();
        loop {
            if let Some(s) = self.state(label)
                && s.phase() == phase
            {
                return s;
            }
            assert!(
                t0.elapsed() < Duration::from_secs(30),
                "`{label}` ({id}) never became {}; it is {:?}; the spine said:\n{}",
                phase.name(),
                self.state(label),
                self.transcript()
            );
            std::thread::sleep(Duration::from_millis(2));
        }
    }

    /// Wait for the first wave of starts to end.
    pub fn settled(&mut self) -> (usize, usize) {
        let (e, _) = self.wait_for("the graph settling", |e| {
            matches!(e.kind, Kind::Settled { .. })
        });
        match e.kind {
            Kind::Settled { ready, bodies } => (ready, bodies),
            _ => unreachable!("matched above"),
        }
    }

    pub fn state(&self, label: &str) -> Option<State> {
        self.handles
            .read()
            .get(self.id(label))
            .map(|r| r.state.clone())
    }

    /// Call `target` as the Ente `caller` (the host stamps it, as for a guest).
    pub fn call_as(
        &self,
        caller: &str,
        target: &str,
        body: &[u8],
    ) -> Result<Vec<u8>, ente_bus::BusError> {
        self.handles.bus.invoke(self.id(caller), &ep(target), body)
    }

    /// Every event of `label` of this kind so far.
    pub fn events_of(&mut self, label: &str) -> Vec<Arc<Occurrence>> {
        let id = self.id(label);
        self.events_of_id(id)
    }

    /// Every event of the Ente `id` so far (a spawned one, say).
    pub fn events_of_id(&mut self, id: Ulid) -> Vec<Arc<Occurrence>> {
        self.drain();
        self.seen
            .iter()
            .filter(|e| e.ente.as_ref().is_some_and(|(i, _)| *i == id))
            .cloned()
            .collect()
    }

    /// The journal lines of `label` so far.
    pub fn journal(&mut self, label: &str) -> Vec<String> {
        self.events_of(label)
            .iter()
            .filter_map(|e| match &e.kind {
                Kind::Journal { text, .. } => Some(text.clone()),
                _ => None,
            })
            .collect()
    }

    /// How many bodies of `label` were started.
    pub fn starts(&mut self, label: &str) -> usize {
        self.events_of(label)
            .iter()
            .filter(|e| {
                matches!(
                    e.kind,
                    Kind::State {
                        to: Phase::Starting,
                        ..
                    }
                )
            })
            .count()
    }

    pub fn transcript(&mut self) -> String {
        self.seen
            .iter()
            .map(|e| {
                format!(
                    "  #{} {:?} {}: {:?}",
                    e.seq,
                    e.at,
                    e.ente.as_ref().map_or("", |(_, l)| l.as_str()),
                    e.kind
                )
            })
            .collect::<Vec<_>>()
            .join("\n")
    }

    /// Stop everything in order; returns how long it took. The core's
    /// loop must end by itself, without a panic.
    pub fn stop(mut self) -> Duration {
        let t0 = Instant::now();
        let _ = self
            .handles
            .inbox
            .blocking_send(Event::Signal(Signal::Stop("test")));
        if let Some(t) = self.thread.take() {
            let ending = t.join().expect("the core's loop ended without a panic");
            assert_eq!(ending, ente_core::Ending::Stopped);
        }
        t0.elapsed()
    }
}

impl Drop for Host {
    fn drop(&mut self) {
        if let Some(t) = self.thread.take() {
            let _ = self
                .handles
                .inbox
                .blocking_send(Event::Signal(Signal::Stop("test ended")));
            let _ = t.join();
        }
    }
}

/// A home whose store holds every guest and these components; returns the
/// home and each component's digest.
pub fn home_with(components: &[Vec<u8>]) -> (tempfile::TempDir, Vec<String>) {
    let home = tempfile::tempdir().expect("home");
    let cas = ente_runtime::Cas::new(home.path());
    for entry in std::fs::read_dir(crate::support::repo("target/guests")).expect("guests") {
        let path = entry.expect("entry").path();
        if path.extension().is_some_and(|e| e == "wasm") {
            cas.add_file(&path).expect("add guest");
        }
    }
    let digests = components
        .iter()
        .map(|c| cas.add(c).expect("add").0.to_string())
        .collect();
    (home, digests)
}

/// Print how long containing a hazard took (the hostile suite's record).
pub fn contained(hazard: &str, took: Duration) {
    println!("contained: {hazard}: {} ms", took.as_millis());
}
