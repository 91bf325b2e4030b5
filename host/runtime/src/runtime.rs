//! The runtime: one engine, the store and cache, a linker per grant set, and
//! the epoch ticker that lets a deadline stop a guest.

use crate::bindings::exports::ente::core::{device_events, handler, lifecycle, mediator};
use crate::bindings::{Endpoint, Level};
use crate::cache::{CacheError, PrecompileCache};
use crate::cas::Cas;
use crate::grants::{self, Grants, LinkError, WasiImports};
use crate::host::JournalStream;
use crate::instance::Instance;
use crate::state::{BusPort, EnteState, GraphView, Identity, JournalSink};
use ente_card::Digest;
use std::collections::HashMap;
use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use wasmtime::component::{Component, InstancePre, Linker};
use wasmtime::{Engine, Store, StoreLimitsBuilder};
use wasmtime_wasi::WasiCtxBuilder;

/// How often the engine's epoch advances: the granularity of call deadlines.
pub const EPOCH_TICK: Duration = Duration::from_millis(10);
/// Linear memory an Ente may grow to unless its card says otherwise.
pub const DEFAULT_MEMORY_LIMIT: usize = 128 << 20;

#[derive(Debug, thiserror::Error)]
pub enum RuntimeError {
    #[error(transparent)]
    Cache(#[from] CacheError),
    #[error(transparent)]
    Link(#[from] LinkError),
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
    pub graph_view: Option<Arc<dyn GraphView>>,
}

/// What an Ente's body is made from: its component, linked and checked.
pub struct Blueprint {
    pub ente: String,
    pub grants: Grants,
    pre: InstancePre<EnteState>,
    lifecycle: Option<lifecycle::GuestIndices>,
    handler: Option<handler::GuestIndices>,
    mediator: Option<mediator::GuestIndices>,
    device_events: Option<device_events::GuestIndices>,
}

impl Blueprint {
    /// Whether the component exports `export`, one of the interfaces the host
    /// drives (lifecycle, handler, mediator, device-events), with its type.
    pub fn exports(&self, export: &str) -> bool {
        match export {
            grants::LIFECYCLE_EXPORT => self.lifecycle.is_some(),
            grants::HANDLER_EXPORT => self.handler.is_some(),
            grants::MEDIATOR_EXPORT => self.mediator.is_some(),
            grants::DEVICE_EVENTS_EXPORT => self.device_events.is_some(),
            _ => false,
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

/// The per-instance settings from the card.
#[derive(Debug, Clone, Default)]
pub struct Incarnation {
    pub argv: Vec<String>,
    pub envp: Vec<(String, String)>,
    pub memory_limit: Option<usize>,
    /// The one directory FilesystemRoot preopens, as `/` (see
    /// [`Runtime::ente_root`]); nothing is preopened without it.
    pub root: Option<PathBuf>,
}

/// One linker per (grants, WASI interfaces imported).
type Linkers = HashMap<(Grants, WasiImports), Arc<Linker<EnteState>>>;

pub struct Runtime {
    engine: Engine,
    home: PathBuf,
    cas: Cas,
    cache: PrecompileCache,
    linkers: Mutex<Linkers>,
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
        let engine = crate::engine::new_engine(profile).map_err(|e| RuntimeError::Wasmtime {
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

    /// The component `digest`, verified, from the precompile cache.
    pub fn load(&self, digest: &Digest) -> Result<Component, RuntimeError> {
        Ok(self.cache.load(&self.engine, &self.cas, digest)?)
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
            pre,
        })
    }

    /// A new instance of `blueprint` for the Ente `identity`.
    pub fn instantiate(
        &self,
        blueprint: &Blueprint,
        identity: Identity,
        ports: Ports,
        incarnation: &Incarnation,
    ) -> Result<Instance, RuntimeError> {
        let out = JournalStream::new(identity.clone(), Level::Info, ports.journal.clone());
        let err = JournalStream::new(identity.clone(), Level::Warn, ports.journal.clone());
        let mut wasi = WasiCtxBuilder::new();
        wasi.stdout(out)
            .stderr(err)
            .args(&incarnation.argv)
            .envs(&incarnation.envp)
            .secure_random(crate::entropy::KernelRandom);
        if blueprint.grants.filesystem {
            // One directory, opened once; cap-std keeps every path the guest
            // resolves inside it (no `..`, no absolute path, no symlink out).
            let root = incarnation
                .root
                .as_deref()
                .ok_or_else(|| RuntimeError::Wasmtime {
                    ente: blueprint.ente.clone(),
                    what: "FilesystemRoot",
                    message: "granted, but no root directory was given to preopen".into(),
                })?;
            wasi.preopened_dir(root, "/", wasmtime_wasi::FsPerms::ReadWrite)
                .map_err(|e| RuntimeError::Wasmtime {
                    ente: blueprint.ente.clone(),
                    what: "FilesystemRoot",
                    message: format!("preopen {}: {e:#}", root.display()),
                })?;
        }
        let wasi = wasi.build();
        let limits = StoreLimitsBuilder::new()
            .memory_size(incarnation.memory_limit.unwrap_or(DEFAULT_MEMORY_LIMIT))
            .trap_on_grow_failure(true)
            .build();
        let state = EnteState {
            identity,
            wasi,
            table: Default::default(),
            journal: ports.journal,
            bus: ports.bus,
            graph_view: ports.graph_view,
            limits,
        };
        let mut store = Store::new(&self.engine, state);
        store.limiter(|s| &mut s.limits);
        store.epoch_deadline_trap();
        store.set_epoch_deadline(u64::MAX / 2);
        let ente = blueprint.ente.clone();
        let wt = |what, e: wasmtime::Error| RuntimeError::Wasmtime {
            ente: ente.clone(),
            what,
            message: format!("{e:#}"),
        };
        let instance = blueprint
            .pre
            .instantiate(&mut store)
            .map_err(|e| wt("instantiate", e))?;
        let lifecycle = blueprint
            .lifecycle
            .as_ref()
            .map(|i| i.load(&mut store, &instance));
        let lifecycle = lifecycle
            .transpose()
            .map_err(|e| wt("lifecycle export", e))?;
        let handler = blueprint
            .handler
            .as_ref()
            .map(|i| i.load(&mut store, &instance));
        let handler = handler.transpose().map_err(|e| wt("handler export", e))?;
        let mediator = blueprint
            .mediator
            .as_ref()
            .map(|i| i.load(&mut store, &instance));
        let mediator = mediator.transpose().map_err(|e| wt("mediator export", e))?;
        let device_events = blueprint
            .device_events
            .as_ref()
            .map(|i| i.load(&mut store, &instance));
        let device_events = device_events
            .transpose()
            .map_err(|e| wt("device-events export", e))?;
        Ok(Instance::new(
            store,
            lifecycle,
            handler,
            mediator,
            device_events,
        ))
    }
}

impl Drop for Runtime {
    fn drop(&mut self) {
        self.ticking.store(false, Ordering::Relaxed);
    }
}
