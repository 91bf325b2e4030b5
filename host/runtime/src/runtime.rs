//! The runtime: one engine, the store and cache, a linker per grant set, and
//! the epoch ticker that lets a deadline stop a guest.

use crate::bindings::Endpoint;
use crate::bindings::Level;
use crate::bindings::exports::ente::core::{
    device_events, handler, lifecycle, mediator, supervisor, timer_events,
};
use crate::cache::{CacheError, PrecompileCache};
use crate::cas::Cas;
use crate::cpu::CpuCounter;
use crate::grants::{self, Grants, LinkError, WasiImports};
use crate::host::{JournalGate, JournalStream};
use crate::instance::{Exports, Fault, Guests, Instance};
use crate::interrupt::{Clock, Interrupt};
use crate::limits::EnteLimiter;
use crate::state::{
    BusPort, EnteState, GraphPort, GraphView, Identity, JournalSink, TimerPort, Timers,
};
use ente_card::Digest;
use std::collections::HashMap;
use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use wasmtime::component::{Component, InstancePre, Linker};
use wasmtime::{Engine, Store, UpdateDeadline};
use wasmtime_wasi::WasiCtxBuilder;

/// How often the engine's epoch advances: the granularity of call deadlines.
pub const EPOCH_TICK: Duration = Duration::from_millis(10);

#[derive(Debug, thiserror::Error)]
pub enum RuntimeError {
    #[error(transparent)]
    Cache(#[from] CacheError),
    #[error(transparent)]
    Link(#[from] LinkError),
    /// The component's start functions broke (they ran past the deadline,
    /// trapped, or asked for more memory than the Ente may have).
    #[error("Ente `{ente}` could not be instantiated: {fault}")]
    Instantiate { ente: String, fault: Fault },
    /// Every slot of the pooling allocator is taken: the host holds as many
    /// Entes as it can. Not a fault of this Ente; it may fit later.
    #[error("Ente `{ente}` could not be instantiated: {message}")]
    PoolFull { ente: String, message: String },
    #[error("Ente `{ente}`: {what}: {message}")]
    Wasmtime {
        ente: String,
        what: &'static str,
        message: String,
    },
}

/// What an instance's store reaches outside itself.
#[derive(Clone)]
pub struct Ports {
    pub journal: Arc<dyn JournalSink>,
    pub bus: Option<Arc<dyn BusPort>>,
    pub graph: Option<Arc<dyn GraphPort>>,
    pub graph_view: Option<Arc<dyn GraphView>>,
    pub timers: Option<Arc<dyn TimerPort>>,
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
        }
    }
}

/// What an Ente's body is made from: its component, linked and checked.
/// Entes of one component with the same grants and endpoints may share one.
pub struct Blueprint {
    /// The Ente it was first prepared for (errors of `prepare` name it).
    pub ente: String,
    pub grants: Grants,
    pre: InstancePre<EnteState>,
    lifecycle: Option<lifecycle::GuestIndices>,
    handler: Option<handler::GuestIndices>,
    mediator: Option<mediator::GuestIndices>,
    device_events: Option<device_events::GuestIndices>,
    timer_events: Option<timer_events::GuestIndices>,
    supervisor: Option<supervisor::GuestIndices>,
}

impl Blueprint {
    /// Whether the component exports `export`, one of the interfaces the host
    /// drives, with its type.
    pub fn exports(&self, export: &str) -> bool {
        let e = self.export_set();
        match export {
            grants::LIFECYCLE_EXPORT => e.lifecycle,
            grants::HANDLER_EXPORT => e.handler,
            grants::MEDIATOR_EXPORT => e.mediator,
            grants::DEVICE_EVENTS_EXPORT => e.device_events,
            grants::TIMER_EVENTS_EXPORT => e.timer_events,
            grants::SUPERVISOR_EXPORT => e.supervisor,
            _ => false,
        }
    }

    /// Every interface the host drives that the component exports.
    pub fn export_set(&self) -> Exports {
        Exports {
            lifecycle: self.lifecycle.is_some(),
            handler: self.handler.is_some(),
            mediator: self.mediator.is_some(),
            device_events: self.device_events.is_some(),
            timer_events: self.timer_events.is_some(),
            supervisor: self.supervisor.is_some(),
        }
    }
}

impl std::fmt::Debug for Blueprint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Blueprint")
            .field("ente", &self.ente)
            .field("grants", &self.grants)
            .finish_non_exhaustive()
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
        }
    }
}

/// One linker per (grants, WASI interfaces imported).
type Linkers = HashMap<(Grants, WasiImports), Arc<Linker<EnteState>>>;

/// Each component loaded once per host: many Entes of one component share
/// it, and two that start at once wait for one load rather than compiling
/// twice.
type Loaded = HashMap<Digest, Arc<Mutex<Option<Component>>>>;

pub struct Runtime {
    engine: Engine,
    home: PathBuf,
    cas: Cas,
    cache: PrecompileCache,
    linkers: Mutex<Linkers>,
    loaded: Mutex<Loaded>,
    ticking: Arc<AtomicBool>,
}

impl std::fmt::Debug for Runtime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Runtime")
            .field("cas", &self.cas)
            .finish_non_exhaustive()
    }
}

impl Runtime {
    /// A runtime whose store and cache live under `home`, with the engine
    /// profile `ENTE_ENGINE` selects.
    pub fn open(home: &Path) -> Result<Runtime, RuntimeError> {
        Runtime::open_with(home, crate::engine::Profile::from_env())
    }

    /// A runtime whose store and cache live under `home`.
    pub fn open_with(
        home: &Path,
        profile: crate::engine::Profile,
    ) -> Result<Runtime, RuntimeError> {
        Runtime::open_sized(home, profile, crate::engine::MAX_ENTES)
    }

    /// A runtime whose pool holds `entes` Entes.
    pub fn open_sized(
        home: &Path,
        profile: crate::engine::Profile,
        entes: u32,
    ) -> Result<Runtime, RuntimeError> {
        let engine =
            crate::engine::new_engine(profile, entes).map_err(|e| RuntimeError::Wasmtime {
                ente: "(host)".into(),
                what: "engine",
                message: format!("{e:#}"),
            })?;
        let cache = PrecompileCache::open(home, &engine, profile)?;
        let ticking = Arc::new(AtomicBool::new(true));
        let (weak_engine, flag) = (engine.weak(), ticking.clone());
        std::thread::Builder::new()
            .name("ente-epoch".into())
            .spawn(move || {
                while flag.load(Ordering::Relaxed) {
                    std::thread::sleep(EPOCH_TICK);
                    match weak_engine.upgrade() {
                        Some(engine) => engine.increment_epoch(),
                        None => return,
                    }
                }
            })
            .map_err(|e| RuntimeError::Wasmtime {
                ente: "(host)".into(),
                what: "epoch thread",
                message: e.to_string(),
            })?;
        Ok(Runtime {
            engine,
            home: home.to_owned(),
            cas: Cas::new(home),
            cache,
            linkers: Mutex::new(HashMap::new()),
            loaded: Mutex::new(HashMap::new()),
            ticking,
        })
    }

    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    /// The private directory of the Ente `name` (its id, or a plugin's
    /// label), `<home>/state/<name>`, created owner-only on first use: what
    /// FilesystemRoot preopens for it.
    pub fn ente_root(&self, name: &str) -> Result<PathBuf, RuntimeError> {
        let failed = |message: String| RuntimeError::Wasmtime {
            ente: name.to_owned(),
            what: "FilesystemRoot",
            message,
        };
        if name.is_empty() || name.contains(['/', '\0']) || name == "." || name == ".." {
            return Err(failed(format!("`{name}` cannot name a directory")));
        }
        let dir = self.home.join("state").join(name);
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(&dir)
            .map_err(|e| failed(format!("{}: {e}", dir.display())))?;
        Ok(dir)
    }

    pub fn cas(&self) -> &Cas {
        &self.cas
    }

    pub fn cache(&self) -> &PrecompileCache {
        &self.cache
    }

    /// The component `digest`, verified, from the precompile cache; loaded
    /// once per runtime. A load that fails is not kept: the next one tries
    /// again (the store may have been repaired meanwhile).
    pub fn load(&self, digest: &Digest) -> Result<Component, RuntimeError> {
        let slot = self
            .loaded
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .entry(*digest)
            .or_default()
            .clone();
        // One loader per digest at a time; the others wait for its result.
        let mut slot = slot.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(c) = &*slot {
            return Ok(c.clone());
        }
        let component = self.cache.load(&self.engine, &self.cas, digest)?;
        *slot = Some(component.clone());
        Ok(component)
    }

    fn linker(
        &self,
        grants: &Grants,
        wasi: WasiImports,
    ) -> Result<Arc<Linker<EnteState>>, RuntimeError> {
        let mut linkers = self.linkers.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(l) = linkers.get(&(*grants, wasi)) {
            return Ok(l.clone());
        }
        let linker = crate::linker::build(&self.engine, grants, wasi).map_err(|e| {
            RuntimeError::Wasmtime {
                ente: "(host)".into(),
                what: "linker",
                message: format!("{e:#}"),
            }
        })?;
        let linker = Arc::new(linker);
        linkers.insert((*grants, wasi), linker.clone());
        Ok(linker)
    }

    /// Check `component` against `grants` and prepare it for instantiation.
    /// `provides` lists the endpoints the Ente serves: it must export the handler.
    pub fn prepare(
        &self,
        ente: &str,
        component: &Component,
        grants: Grants,
        provides: &[Endpoint],
    ) -> Result<Blueprint, RuntimeError> {
        let wasi = grants::check_imports(ente, &self.engine, component, &grants)?;
        let linker = self.linker(&grants, wasi)?;
        let wt = |what, e: wasmtime::Error| RuntimeError::Wasmtime {
            ente: ente.to_owned(),
            what,
            message: format!("{e:#}"),
        };
        let pre = linker
            .instantiate_pre(component)
            .map_err(|e| wt("link", e))?;
        // An export the host drives is found (with its type) or absent.
        let handler = handler::GuestIndices::new(&pre).ok();
        if let Some(endpoint) = provides.first()
            && handler.is_none()
        {
            return Err(LinkError::MissingExport {
                ente: ente.to_owned(),
                endpoint: format!("Endpoint {}@{}", endpoint.interface, endpoint.version),
                export: grants::HANDLER_EXPORT,
            }
            .into());
        }
        Ok(Blueprint {
            ente: ente.to_owned(),
            grants,
            lifecycle: lifecycle::GuestIndices::new(&pre).ok(),
            handler,
            mediator: mediator::GuestIndices::new(&pre).ok(),
            device_events: device_events::GuestIndices::new(&pre).ok(),
            timer_events: timer_events::GuestIndices::new(&pre).ok(),
            supervisor: supervisor::GuestIndices::new(&pre).ok(),
            pre,
        })
    }

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
        let mut wasi = WasiCtxBuilder::new();
        wasi.stdout(JournalStream::new(Level::Info, gate.clone()))
            .stderr(JournalStream::new(Level::Warn, gate.clone()))
            .args(&incarnation.argv)
            .envs(&incarnation.envp);
        if blueprint.grants.filesystem {
            // One directory, opened once; cap-std keeps every path the guest
            // resolves inside it (no `..`, no absolute path, no symlink out).
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
        let state = EnteState {
            identity,
            wasi: wasi.build(),
            table: Default::default(),
            journal: gate,
            bus: ports.bus,
            graph: ports.graph,
            graph_view: ports.graph_view,
            timers: Timers {
                port: ports.timers,
                pending: Default::default(),
            },
            limiter: EnteLimiter::new(incarnation.memory_limit),
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
        macro_rules! load {
            ($field:ident, $what:literal) => {
                blueprint
                    .$field
                    .as_ref()
                    .map(|i| i.load(&mut store, &instance))
                    .transpose()
                    .map_err(|e| wt($what, e))?
            };
        }
        let guests = Guests {
            lifecycle: load!(lifecycle, "lifecycle export"),
            handler: load!(handler, "handler export"),
            mediator: load!(mediator, "mediator export"),
            device_events: load!(device_events, "device-events export"),
            timer_events: load!(timer_events, "timer-events export"),
            supervisor: load!(supervisor, "supervisor export"),
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

impl Drop for Runtime {
    fn drop(&mut self) {
        self.ticking.store(false, Ordering::Relaxed);
    }
}
