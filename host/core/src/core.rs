//! The core: the table, the loop over [`Event`]s, and the effects each
//! event has. `ente up` and PID 1 run this same loop; they differ only in
//! the sources that feed its inbox and in how they show what it emits.

use crate::Config;
use crate::event::{Done, Ending, Event, Signal};
use crate::executor::{Executor, Job};
use crate::runner::Runner;
use crate::spine::Kind;
use crate::state::State;
use crate::table::Table;
use crate::timers::{Due, Timers, later};
use crate::wiring::{Handles, MediatorLink, Wiring};
use ente_card::{Card, Graph, GraphFault};
use std::collections::HashMap;
use std::sync::{Arc, RwLockWriteGuard};
use std::time::Instant;
use tokio::sync::mpsc;
use ulid::Ulid;

/// The seed's graph cannot start.
#[derive(Debug, thiserror::Error)]
pub enum BootError {
    #[error("the graph cannot start:\n{}", .0.iter().map(|f| format!("  {f}")).collect::<Vec<_>>().join("\n"))]
    Graph(Vec<GraphFault>),
    #[error("the graph has {entes} Entes, more than this host holds ({capacity})")]
    TooMany { entes: usize, capacity: usize },
    #[error("cannot start the executor's threads: {0}")]
    Threads(std::io::Error),
}

/// What a stop plan does once every Ente in it has stopped.
#[derive(Debug)]
pub(crate) enum Then {
    Shutdown,
    Nothing,
    /// Start this Ente again (a `graph.restart`).
    Restart(Ulid),
    /// Take these spawned Entes out of the table and off the bus.
    Remove(Vec<Ulid>),
}

/// Entes to stop one after the other (reverse ready order), then `then`.
#[derive(Debug)]
pub(crate) struct Plan {
    pub(crate) queue: std::collections::VecDeque<Ulid>,
    pub(crate) then: Then,
}

pub struct Core {
    pub(crate) config: Config,
    pub(crate) h: Handles,
    inbox: mpsc::Receiver<Event>,
    pub(crate) runner: Arc<dyn Runner>,
    pub(crate) exec: Executor,
    pub(crate) timers: Timers,
    pub(crate) seed: Arc<Card>,
    /// Cards spawned at run time, with their parents, in spawn order.
    pub(crate) spawned: Vec<(Ulid, Arc<Card>)>,
    pub(crate) mediator: Option<Ulid>,
    /// The graph's rule engine, if the seed seated one.
    pub(crate) brain: Option<Ulid>,
    /// The brain's firings run in the current second: (since, how many).
    pub(crate) brain_budget: (Instant, u32),
    /// Who waits on whom to start: dependents of each Ente.
    pub(crate) waiters: HashMap<Ulid, Vec<Ulid>>,
    /// Records in `Starting`.
    pub(crate) starting: usize,
    pub(crate) settled: bool,
    pub(crate) plans: Vec<Plan>,
    /// Set once a stop of everything began: how the loop will end.
    pub(crate) shutdown: Option<Ending>,
    /// A snapshot on request, while its states are gathered.
    pub(crate) saving: Option<crate::actions::Saving>,
    pub(crate) ending: Option<Ending>,
}

impl std::fmt::Debug for Core {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Core")
            .field("seed", &self.seed.label)
            .finish_non_exhaustive()
    }
}

impl Core {
    /// A core for the graph `seed` roots, after its graph checks passed.
    pub fn new(
        config: Config,
        seed: Card,
        runner: Arc<dyn Runner>,
        wiring: Wiring,
    ) -> Result<Core, BootError> {
        let faults = Graph::new(&seed).check();
        if !faults.is_empty() {
            return Err(BootError::Graph(faults));
        }
        let entes = seed.walk().count();
        if entes > config.capacity {
            return Err(BootError::TooMany {
                entes,
                capacity: config.capacity,
            });
        }
        let exec = Executor::new(config.workers, wiring.handles.inbox.clone())
            .map_err(BootError::Threads)?;
        let seed = Arc::new(seed);
        let mediator = seed
            .genesis
            .iter()
            .find(|c| c.provides.contains(&ente_card::mediator_endpoint()))
            .map(|c| c.id);
        let brain = seed
            .genesis
            .iter()
            .find(|c| c.provides.contains(&ente_card::brain_endpoint()))
            .map(|c| c.id);
        let mut core = Core {
            config,
            h: wiring.handles,
            inbox: wiring.inbox,
            runner,
            exec,
            timers: Timers::default(),
            seed: seed.clone(),
            spawned: Vec::new(),
            mediator,
            brain,
            brain_budget: (Instant::now(), 0),
            waiters: HashMap::new(),
            starting: 0,
            settled: false,
            plans: Vec::new(),
            shutdown: None,
            saving: None,
            ending: None,
        };
        let added = core.insert_tree(&seed, None, false);
        core.link_deps(&added);
        if let Some(m) = mediator {
            core.h.bus.set_mediator(Arc::new(MediatorLink {
                bus: Arc::downgrade(&core.h.bus),
                id: m,
            }));
        }
        Ok(core)
    }

    pub fn handles(&self) -> &Handles {
        &self.h
    }

    /// Start every Ente that can, then take events until the end.
    pub async fn run(mut self) -> Ending {
        if let Some(brain) = self.brain {
            tokio::spawn(crate::actions::feed_brain(
                self.h.spine.subscribe(),
                self.h.inbox.clone(),
                brain,
                self.config.brain_batch,
                self.config.brain_every,
            ));
        }
        self.boot();
        loop {
            if let Some(end) = self.ending {
                return end;
            }
            let next = self.timers.next();
            let event = tokio::select! {
                biased;
                event = self.inbox.recv() => event,
                () = sleep_until(next) => None,
            };
            match event {
                Some(event) => self.handle(event),
                None => self.on_timers(),
            }
        }
    }

    /// The first wave: every Ente whose dependencies are met starts now.
    pub fn boot(&mut self) {
        tracing::info!(
            entes = self.read().len(),
            workers = self.config.workers,
            deadline = ?self.config.call_deadline,
            "starting the graph"
        );
        self.timers
            .set(later(self.config.purge_every), Due::PurgeLeases);
        for id in self.read_ids() {
            self.start_if_ready(id);
        }
        self.check_settled();
    }

    /// One event, and every effect it has.
    pub fn handle(&mut self, event: Event) {
        tracing::trace!(?event, "event");
        match event {
            Event::Signal(signal) => self.on_signal(signal),
            Event::Reaped(r) => self.on_reaped(r),
            Event::Uevent(u) => self.deliver_uevent(u),
            Event::Done(done) => self.on_done(done),
            Event::Died {
                ente,
                generation,
                cause,
            } => self.on_died(ente, generation, cause),
            Event::Wake { ente, token, after } => {
                self.timers.set(later(after), Due::Wake { ente, token });
            }
            Event::Unwake { ente, token } => self.timers.cancel_wake(ente, token),
            Event::Control(c) => self.on_control(c),
            Event::Observed(batch) => self.on_batch(batch),
            Event::AskBrain { ask, reply } => self.ask_brain(ask, reply),
        }
        self.on_timers();
        self.check_settled();
    }

    /// Whatever timers are due now.
    fn on_timers(&mut self) {
        for due in self.timers.take_due(Instant::now()) {
            match due {
                Due::Restart { ente, generation } => self.restart_due(ente, generation),
                Due::KillStart { ente, generation } => self.kill_start(ente, generation),
                Due::Wake { ente, token } => {
                    self.enqueue(ente, crate::table::Delivery::Wake(token));
                }
                Due::PurgeLeases => {
                    self.h.bus.purge_expired();
                    self.timers
                        .set(later(self.config.purge_every), Due::PurgeLeases);
                }
                Due::SnapshotDeadline => self.saving_due(),
            }
        }
    }

    fn on_done(&mut self, done: Done) {
        match done {
            Done::Started {
                ente,
                generation,
                prepared,
                restored,
                brain,
            } => self.on_started(ente, generation, prepared, restored, brain),
            Done::StartFailed {
                ente,
                generation,
                prepared,
                cause,
            } => self.on_start_failed(ente, generation, prepared, cause),
            Done::Stopped {
                ente,
                generation,
                fault,
                saved,
            } => self.on_stopped(ente, generation, fault, saved),
            Done::Delivered { ente } => self.on_delivered(ente),
            Done::Saved {
                ente,
                generation,
                saved,
            } => self.on_saved(ente, generation, saved),
            Done::Observed { brain, outcome } => {
                // What the batch did is recorded before the brain's next
                // delivery (or its waiting restart) is sent: the book and
                // the chain then follow the brain's own order.
                self.on_observed(brain, outcome);
                self.on_delivered(brain);
            }
            Done::Decided {
                parent,
                child,
                verdict,
            } => {
                self.on_delivered(parent);
                self.on_decided(parent, child, verdict);
            }
            Done::Panicked {
                ente,
                generation,
                what,
            } => {
                tracing::error!(%ente, generation, %what, "a job of the host panicked");
                self.on_host_fault(ente, generation, what);
            }
        }
    }

    /// A reaped process: the end of a native body when it was one's main
    /// process, else an orphan the host adopted and reaped.
    fn on_reaped(&mut self, r: ente_kernel::reaper::Reaped) {
        let proc = self.h.procs.reaped(&r);
        let ente = proc.as_ref().and_then(|p| {
            self.read()
                .get(p.ente)
                .map(|rec| (p.ente, rec.label().to_owned()))
        });
        self.h.spine.emit(
            ente.as_ref().map(|(id, label)| (*id, label.as_str())),
            Kind::Reaped {
                pid: r.pid,
                how: r.to_string(),
            },
        );
        if let Some(p) = proc {
            self.on_died(p.ente, p.generation, crate::Cause::of_ending(r.ending));
        }
    }

    fn on_signal(&mut self, signal: Signal) {
        let (name, ending) = match signal {
            Signal::Stop(name) => (name, Ending::Stopped),
            Signal::Reboot => ("SIGRTMIN+5 (reboot)", Ending::Reboot),
            Signal::Snapshot(name) => {
                self.h.spine.emit(
                    None,
                    Kind::Signal {
                        name: name.to_owned(),
                    },
                );
                self.begin_saving(name);
                return;
            }
        };
        self.h.spine.emit(
            None,
            Kind::Signal {
                name: name.to_owned(),
            },
        );
        if self.shutdown.is_some() {
            // Asked again while stopping: end every call in progress now.
            let t = self.read();
            for r in t.iter() {
                r.kill.kill("the host was asked twice to stop");
            }
            return;
        }
        self.begin_shutdown(ending, name);
    }

    /// The table, for writing. Held briefly: readers on workers wait on it.
    pub(crate) fn write(&self) -> RwLockWriteGuard<'_, Table> {
        self.h.table.write().unwrap_or_else(|p| p.into_inner())
    }

    pub(crate) fn read(&self) -> std::sync::RwLockReadGuard<'_, Table> {
        self.h.read()
    }

    pub(crate) fn read_ids(&self) -> Vec<Ulid> {
        self.read().ids()
    }

    /// Change `id`'s state, and say so on the spine.
    pub(crate) fn set_state(&self, t: &mut Table, id: Ulid, state: State) {
        let Some(r) = t.get_mut(id) else {
            return;
        };
        let from = r.state.phase();
        let detail = state.to_string();
        let to = state.phase();
        r.state = state;
        self.h
            .spine
            .emit(Some((id, r.label())), Kind::State { from, to, detail });
    }

    /// Once the first wave is over (nothing starting), say so, once.
    fn check_settled(&mut self) {
        if self.settled || self.starting > 0 {
            return;
        }
        self.settled = true;
        let t = self.read();
        let bodies = t.iter().filter(|r| r.has_body()).count();
        let ready = t
            .iter()
            .filter(|r| matches!(r.state, State::Ready { .. }))
            .count();
        drop(t);
        self.h.spine.emit(None, Kind::Settled { ready, bodies });
    }

    /// Submit a job for `ente`'s body at `generation`.
    pub(crate) fn submit(
        &self,
        ente: Ulid,
        generation: u64,
        run: impl FnOnce() -> Event + Send + 'static,
    ) {
        self.exec.submit(Job {
            ente,
            generation,
            run: Box::new(run),
        });
    }
}

async fn sleep_until(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at.into()).await,
        None => std::future::pending().await,
    }
}
