//! Making a body: a store with its WASI context (stdio into the journal,
//! the card's argv and envp, FilesystemRoot's one preopen), its limiter,
//! its deadline and kill switch, and the component instantiated in it under
//! the same deadline as any call.

use crate::bindings::Level;
use crate::cpu::CpuCounter;
use crate::grants;
use crate::host::{JournalGate, JournalStream};
use crate::instance::{Fault, Guests, Instance};
use crate::interrupt::{Clock, Interrupt};
use crate::limits::EnteLimiter;
use crate::runtime::{Blueprint, Runtime, RuntimeError};
use crate::state::{
    BusPort, EnteState, GraphPort, GraphView, Identity, JournalSink, ProcessPort, TimerPort, Timers,
};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::AtomicU64;
use std::time::Duration;
use wasmtime::{Store, UpdateDeadline};
use wasmtime_wasi::WasiCtxBuilder;

/// What an instance's store reaches outside itself.
#[derive(Clone)]
pub struct Ports {
    pub journal: Arc<dyn JournalSink>,
    pub bus: Option<Arc<dyn BusPort>>,
    pub graph: Option<Arc<dyn GraphPort>>,
    pub graph_view: Option<Arc<dyn GraphView>>,
    pub timers: Option<Arc<dyn TimerPort>>,
    /// The native shim's process tree (`ente:native/process`).
    pub process: Option<Arc<dyn ProcessPort>>,
}

impl Ports {
    /// Journal lines to `journal`, and nothing else.
    pub fn journal_only(journal: Arc<dyn JournalSink>) -> Ports {
        Ports {
            journal,
            bus: None,
            graph: None,
            graph_view: None,
            timers: None,
            process: None,
        }
    }
}

/// The per-instance settings from the card, and what the host keeps of an
/// Ente across its bodies.
#[derive(Debug, Clone)]
pub struct Incarnation {
    pub argv: Vec<String>,
    pub envp: Vec<(String, String)>,
    /// Linear memory in all (see [`crate::limits::memory_limit`]).
    pub memory_limit: u64,
    /// The one directory FilesystemRoot preopens, as `/` (see
    /// [`Runtime::ente_root`]); nothing is preopened without it.
    pub root: Option<PathBuf>,
    /// The deadline of each call, and of instantiation.
    pub deadline: Duration,
    /// Running time, charged over every body of the Ente.
    pub cpu: CpuCounter,
    /// Journal lines dropped over the rate, over every body of the Ente.
    pub journal_dropped: Arc<AtomicU64>,
    /// Linear memory held, over every live body of the Ente.
    pub linear_bytes: Arc<AtomicU64>,
}

impl Default for Incarnation {
    fn default() -> Incarnation {
        Incarnation {
            argv: Vec::new(),
            envp: Vec::new(),
            memory_limit: crate::limits::DEFAULT_MEMORY_LIMIT,
            root: None,
            deadline: crate::instance::DEFAULT_DEADLINE,
            cpu: CpuCounter::default(),
            journal_dropped: Arc::default(),
            linear_bytes: Arc::default(),
        }
    }
}

impl std::fmt::Debug for Ports {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ports")
            .field("bus", &self.bus.is_some())
            .field("graph_view", &self.graph_view.is_some())
            .finish_non_exhaustive()
    }
}

impl Runtime {
    /// A new instance of `blueprint` for the Ente `identity`. The
    /// component's start functions run under `incarnation.deadline` and its
    /// memory limit, like any call.
    pub fn instantiate(
        &self,
        blueprint: &Blueprint,
        identity: Identity,
        ports: Ports,
        incarnation: &Incarnation,
    ) -> Result<Instance, RuntimeError> {
        // A blueprint may be shared by many Entes of one component: errors
        // name the Ente being made.
        let ente = identity.label.clone();
        let gate = Arc::new(JournalGate::new(
            identity.clone(),
            ports.journal.clone(),
            incarnation.journal_dropped.clone(),
        ));
        // An Ente that imports no WASI (the system Entes) gets no WASI
        // context: its linker defines none, so nothing could reach one.
        let wasi = if blueprint.wasi.is_empty() && !blueprint.grants.filesystem {
            None
        } else {
            let mut wasi = WasiCtxBuilder::new();
            wasi.stdout(JournalStream::new(Level::Info, gate.clone()))
                .stderr(JournalStream::new(Level::Warn, gate.clone()))
                .args(&incarnation.argv)
                .envs(&incarnation.envp);
            if blueprint.grants.filesystem {
                // One directory, opened once; cap-std keeps every path the
                // guest resolves inside it (no `..`, no absolute path, no
                // symlink out).
                let root = incarnation
                    .root
                    .as_deref()
                    .ok_or_else(|| RuntimeError::Wasmtime {
                        ente: ente.clone(),
                        what: "FilesystemRoot",
                        message: "granted, but no root directory was given to preopen".into(),
                    })?;
                wasi.preopened_dir(root, "/", wasmtime_wasi::FsPerms::ReadWrite)
                    .map_err(|e| RuntimeError::Wasmtime {
                        ente: ente.clone(),
                        what: "FilesystemRoot",
                        message: format!("preopen {}: {e:#}", root.display()),
                    })?;
            }
            Some(wasi.build())
        };
        let state = EnteState {
            identity,
            wasi,
            table: Default::default(),
            journal: gate,
            bus: ports.bus,
            graph: ports.graph,
            graph_view: ports.graph_view,
            process: ports.process,
            timers: Timers {
                port: ports.timers,
                pending: Default::default(),
            },
            limiter: EnteLimiter::new(incarnation.memory_limit)
                .counted_in(incarnation.linear_bytes.clone()),
            clock: Clock::start("instantiate", incarnation.deadline),
            interrupt: Interrupt::new(),
            insecure_seed: None,
        };
        let mut store = Store::new(&self.engine, state);
        store.limiter(|s| &mut s.limiter);
        // At every epoch tick a running guest checks its call's deadline
        // and whether the host killed it.
        store.epoch_deadline_callback(|cx| {
            let s = cx.data();
            crate::interrupt::check(&s.clock, &s.interrupt).map(|()| UpdateDeadline::Continue(1))
        });
        store.set_epoch_deadline(1);
        let wt = |what, e: wasmtime::Error| RuntimeError::Wasmtime {
            ente: ente.clone(),
            what,
            message: format!("{e:#}"),
        };
        let instance = {
            let _running = crate::cpu::enter(&incarnation.cpu);
            blueprint.pre.instantiate(&mut store)
        };
        let instance = instance.map_err(|e| {
            if is_fault(&e) {
                RuntimeError::Instantiate {
                    ente: ente.clone(),
                    fault: Fault::of("instantiate", &e),
                }
            } else if e
                .downcast_ref::<wasmtime::PoolConcurrencyLimitError>()
                .is_some()
            {
                RuntimeError::PoolFull {
                    ente: ente.clone(),
                    message: format!("{e:#}"),
                }
            } else {
                wt("instantiate", e)
            }
        })?;
        store.data_mut().clock = Clock::idle();
        // An export found by name whose functions are not of the types
        // here: a component built against another version of wit/.
        macro_rules! load {
            ($field:ident, $export:expr) => {
                blueprint
                    .$field
                    .as_ref()
                    .map(|i| i.load(&mut store, &instance))
                    .transpose()
                    .map_err(|e| RuntimeError::Wasmtime {
                        ente: ente.clone(),
                        what: "its exports",
                        message: format!(
                            "it exports `{}`, but not of the shape this host's wit/ gives it (built against another wit/?): {e:#}",
                            $export
                        ),
                    })?
            };
        }
        let guests = Guests {
            lifecycle: load!(lifecycle, grants::LIFECYCLE_EXPORT),
            handler: load!(handler, grants::HANDLER_EXPORT),
            mediator: load!(mediator, grants::MEDIATOR_EXPORT),
            device_events: load!(device_events, grants::DEVICE_EVENTS_EXPORT),
            timer_events: load!(timer_events, grants::TIMER_EVENTS_EXPORT),
            supervisor: load!(supervisor, grants::SUPERVISOR_EXPORT),
            snapshot: load!(snapshot, grants::SNAPSHOT_EXPORT),
            brain: load!(brain, grants::BRAIN_EXPORT),
        };
        Ok(Instance::new(
            store,
            guests,
            incarnation.deadline,
            incarnation.cpu.clone(),
        ))
    }
}

/// Whether an instantiation error is a fault of the guest (its start
/// functions trapped, ran out of time or memory), rather than of the host.
fn is_fault(e: &wasmtime::Error) -> bool {
    e.downcast_ref::<wasmtime::Trap>().is_some()
        || e.downcast_ref::<crate::limits::MemoryLimitReached>()
            .is_some()
        || e.downcast_ref::<crate::limits::TableLimitReached>()
            .is_some()
        || e.downcast_ref::<crate::interrupt::DeadlineReached>()
            .is_some()
        || e.downcast_ref::<crate::interrupt::Killed>().is_some()
}
