//! The runtime: one engine, the store and cache, a linker per grant set, and
//! the epoch ticker that lets a deadline stop a guest.

use crate::bindings::Endpoint;
use crate::bindings::exports::ente::core::{
    brain, device_events, handler, lifecycle, mediator, snapshot, supervisor, timer_events,
};
use crate::cache::{CacheError, PrecompileCache};
use crate::cas::Cas;
use crate::grants::{self, Grants, LinkError, WasiImports};
use crate::instance::{Exports, Fault};
use crate::state::EnteState;
use ente_card::Digest;
use std::collections::HashMap;
use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use wasmtime::Engine;
use wasmtime::component::{Component, InstancePre, Linker};

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

/// What an Ente's body is made from: its component, linked and checked.
/// Entes of one component with the same grants and endpoints may share one.
pub struct Blueprint {
    /// The Ente it was first prepared for (errors of `prepare` name it).
    pub ente: String,
    pub grants: Grants,
    pub(crate) pre: InstancePre<EnteState>,
    /// The interfaces of the WASI baseline the component imports.
    pub(crate) wasi: WasiImports,
    pub(crate) lifecycle: Option<lifecycle::GuestIndices>,
    pub(crate) handler: Option<handler::GuestIndices>,
    pub(crate) mediator: Option<mediator::GuestIndices>,
    pub(crate) device_events: Option<device_events::GuestIndices>,
    pub(crate) timer_events: Option<timer_events::GuestIndices>,
    pub(crate) supervisor: Option<supervisor::GuestIndices>,
    pub(crate) snapshot: Option<snapshot::GuestIndices>,
    pub(crate) brain: Option<brain::GuestIndices>,
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
            grants::SNAPSHOT_EXPORT => e.snapshot,
            grants::BRAIN_EXPORT => e.brain,
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
            snapshot: self.snapshot.is_some(),
            brain: self.brain.is_some(),
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

/// One linker per (grants, WASI interfaces imported).
type Linkers = HashMap<(Grants, WasiImports), Arc<Linker<EnteState>>>;

/// Each component loaded once per host: many Entes of one component share
/// it, and two that start at once wait for one load rather than compiling
/// twice.
type Loaded = HashMap<Digest, Arc<Mutex<Option<Component>>>>;

pub struct Runtime {
    pub(crate) engine: Engine,
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
    /// profile `ENTE_ENGINE` selects, for a few Entes (a pool of
    /// [`crate::engine::SMALL_POOL`]); a host takes [`Runtime::open_sized`].
    pub fn open(home: &Path) -> Result<Runtime, RuntimeError> {
        Runtime::open_with(home, crate::engine::Profile::from_env())
    }

    /// A runtime whose store and cache live under `home`.
    pub fn open_with(
        home: &Path,
        profile: crate::engine::Profile,
    ) -> Result<Runtime, RuntimeError> {
        Runtime::open_sized(home, profile, crate::engine::SMALL_POOL)
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
        self.load_checked(digest, &|_| Ok(()))
    }

    /// [`Runtime::load`] for the Ente `ente` with `grants`: a component not
    /// yet compiled is first read for its imports (in milliseconds), and one
    /// that imports what `grants` do not give is refused before it is
    /// compiled, and never cached. (A component already loaded or cached is
    /// checked by [`Runtime::prepare`], against the same map.)
    pub fn load_for(
        &self,
        ente: &str,
        digest: &Digest,
        grants: &Grants,
    ) -> Result<Component, RuntimeError> {
        self.load_checked(digest, &|bytes| {
            // Bytes that do not parse are left to the compiler, whose error
            // names the offset and the rule they break.
            let Ok(outline) = crate::inspect::outline(bytes) else {
                return Ok(());
            };
            grants::check_names(ente, outline.imports.iter().map(String::as_str), grants)?;
            Ok(())
        })
    }

    fn load_checked(
        &self,
        digest: &Digest,
        precheck: crate::cache::Precheck<'_>,
    ) -> Result<Component, RuntimeError> {
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
        let component = self.cache.load(&self.engine, &self.cas, digest, precheck)?;
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
            snapshot: snapshot::GuestIndices::new(&pre).ok(),
            brain: brain::GuestIndices::new(&pre).ok(),
            pre,
            wasi,
        })
    }
}

impl Drop for Runtime {
    fn drop(&mut self) {
        self.ticking.store(false, Ordering::Relaxed);
    }
}
