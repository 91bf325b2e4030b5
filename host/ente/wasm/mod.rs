//! The Wasm runner: the core's [`Runner`] over `ente-runtime`. A body is
//! one component instance; what it is made from is the component, checked
//! against its card's grants and linked, once per Ente.

mod body;
mod links;

use body::WasmBody;
pub use body::cause_of;

pub use links::{SpineJournal, cap_to_wit, from_wit, to_wit, uevent_to_wit};

use crate::native::NativeHost;
use crate::native::port::{NativeProcess, Parts};
use ente_card::{Capability, Payload};
use ente_core::{Body, Cause, Exports, Handles, Prepared, Runner, Spec};
use ente_runtime::{
    Blueprint, Grants, Identity, Incarnation, JournalSink, Ports, Runtime, RuntimeError,
};
use std::any::Any;
use std::collections::HashMap;
use std::sync::Arc;

/// Makes Wasm bodies on `runtime`, their ports reaching the host's handles;
/// their journal lines go onto the spine. Entes of one component with the
/// same grants, endpoints and entry share one blueprint: checked and linked
/// once.
pub struct WasmRunner {
    runtime: Arc<Runtime>,
    handles: Handles,
    /// What native bodies (the shim and a process tree) share.
    native: Arc<NativeHost>,
    journal: Arc<dyn JournalSink>,
    blueprints: std::sync::Mutex<HashMap<BlueprintKey, Arc<Blueprint>>>,
}

/// What makes two Entes' blueprints the same (which endpoints an Ente
/// serves does not: only whether it serves any, which needs the handler).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct BlueprintKey {
    digest: ente_card::Digest,
    grants: Grants,
    serves: bool,
    entry: String,
}

impl std::fmt::Debug for WasmRunner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WasmRunner").finish_non_exhaustive()
    }
}

impl WasmRunner {
    pub fn new(runtime: Arc<Runtime>, handles: Handles) -> WasmRunner {
        WasmRunner::with_native(
            runtime,
            handles,
            Arc::new(NativeHost::new(Default::default())),
        )
    }

    /// A runner whose native bodies share `native`.
    pub fn with_native(
        runtime: Arc<Runtime>,
        handles: Handles,
        native: Arc<NativeHost>,
    ) -> WasmRunner {
        WasmRunner {
            native,
            runtime,
            journal: Arc::new(SpineJournal(handles.clone())),
            handles,
            blueprints: std::sync::Mutex::new(HashMap::new()),
        }
    }
}

/// A component checked against its card and linked.
struct WasmPrepared {
    blueprint: Arc<Blueprint>,
    memory_limit: u64,
    /// The shim of a Native or Legacy card.
    native: bool,
}

impl std::fmt::Debug for WasmPrepared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WasmPrepared")
            .field("blueprint", &self.blueprint)
            .finish_non_exhaustive()
    }
}

impl Prepared for WasmPrepared {
    fn exports(&self) -> Exports {
        exports(self.blueprint.export_set())
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}

fn exports(e: ente_runtime::Exports) -> Exports {
    Exports {
        lifecycle: e.lifecycle,
        handler: e.handler,
        mediator: e.mediator,
        device_events: e.device_events,
        timer_events: e.timer_events,
        supervisor: e.supervisor,
        snapshot: e.snapshot,
        brain: e.brain,
    }
}

fn unbuildable(e: impl ToString) -> Cause {
    Cause::Unbuildable {
        message: e.to_string(),
    }
}

/// The grants of a card: what its requires map to (every one routed, the
/// graph checks passed), and graph-view for the mediator.
pub fn grants_of(spec: &Spec) -> Grants {
    let mut grants = Grants::from_capabilities(&spec.card.requires);
    grants.graph_view = spec.mediator;
    grants
}

impl Runner for WasmRunner {
    fn prepare(&self, spec: &Spec) -> Result<Arc<dyn Prepared>, Cause> {
        let card = &spec.card;
        let shim = crate::native::shim_digest();
        let (module_blake3, entry, native) = match &card.payload {
            Payload::Wasm {
                module_blake3,
                entry,
                ..
            } => (module_blake3, entry.as_str(), false),
            Payload::Native { .. } | Payload::Legacy { .. } => {
                let digest = shim.as_ref().ok_or_else(|| {
                    unbuildable(
                        "this build of ente pins no shim component (guests/components.lock)",
                    )
                })?;
                (digest, "ente:core/lifecycle", true)
            }
            Payload::Virtual => return Err(unbuildable("a Virtual card has no body")),
        };
        // A native card's mem_bytes holds its process tree, not the shim.
        let memory_limit = ente_runtime::memory_limit(if native {
            None
        } else {
            card.soma.rlimits.mem_bytes
        })
        .map_err(unbuildable)?;
        let served: Vec<ente_runtime::Endpoint> = card
            .provides
            .iter()
            .filter_map(|c| match c {
                // A seat's endpoint is never served over the bus: the
                // mediator and the brain export their own interfaces.
                Capability::Endpoint { endpoint } if ente_card::Seat::of(c).is_none() => {
                    Some(to_wit(endpoint))
                }
                _ => None,
            })
            .collect();
        let mut grants = grants_of(spec);
        grants.native_process = native;
        let key = BlueprintKey {
            digest: *module_blake3,
            grants,
            serves: !served.is_empty(),
            entry: entry.to_owned(),
        };
        let known = self
            .blueprints
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(&key)
            .cloned();
        let blueprint = match known {
            Some(b) => b,
            None => {
                let component = self
                    .runtime
                    .load_for(&card.label, module_blake3, &key.grants)
                    .map_err(unbuildable)?;
                let blueprint = self
                    .runtime
                    .prepare(&card.label, &component, key.grants, &served)
                    .map_err(unbuildable)?;
                let export = format!("{entry}@0.1.0");
                if !blueprint.exports(&export) {
                    return Err(unbuildable(format!(
                        "payload.entry is `{entry}`, but its component does not export `{export}` with the type ente drives"
                    )));
                }
                let blueprint = Arc::new(blueprint);
                self.blueprints
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .insert(key, blueprint.clone());
                blueprint
            }
        };
        if spec.brain && !blueprint.exports(ente_runtime::grants::BRAIN_EXPORT) {
            return Err(unbuildable(format!(
                "it holds the brain's seat (provides), but its component does not export `{}`",
                ente_runtime::grants::BRAIN_EXPORT
            )));
        }
        Ok(Arc::new(WasmPrepared {
            blueprint,
            memory_limit,
            native,
        }))
    }

    fn incarnate(
        &self,
        spec: &Spec,
        prepared: &Arc<dyn Prepared>,
        generation: u64,
    ) -> Result<Box<dyn Body>, Cause> {
        let p = prepared
            .as_any()
            .downcast_ref::<WasmPrepared>()
            .ok_or_else(|| Cause::Host {
                message: "its body was prepared by another runner".into(),
            })?;
        let grants = p.blueprint.grants;
        let card = &spec.card;
        let (argv, envp) = match &card.payload {
            Payload::Wasm { argv, envp, .. } => (argv.clone(), envp.clone()),
            _ => (Vec::new(), Vec::new()),
        };
        let ports = Ports {
            journal: self.journal.clone(),
            bus: grants.bus.then(|| {
                Arc::new(links::BusLink {
                    handles: self.handles.clone(),
                    caller: spec.id,
                }) as _
            }),
            graph: grants
                .graph
                .then(|| Arc::new(links::GraphLink(self.handles.clone())) as _),
            graph_view: spec
                .mediator
                .then(|| Arc::new(links::ViewLink(self.handles.clone())) as _),
            timers: Some(Arc::new(links::TimerLink(self.handles.clone()))),
            process: None,
        };
        // The Ente's own directory: the Wasm body's preopened root, or the
        // native program's directory (the shim itself reaches no files).
        let own_dir = if grants.filesystem {
            Some(
                self.runtime
                    .ente_root(&spec.id.to_string())
                    .map_err(unbuildable)?,
            )
        } else {
            None
        };
        let mut ports = ports;
        let root = if p.native {
            ports.process = Some(Arc::new(NativeProcess::new(Parts {
                ente: spec.id,
                generation,
                card: card.clone(),
                host: self.native.clone(),
                handles: self.handles.clone(),
                journal: self.journal.clone(),
                dropped_lines: spec.counters.journal_dropped.clone(),
                cgroup: spec.counters.cgroup.clone(),
                state_dir: own_dir,
            })));
            None
        } else {
            own_dir
        };
        let incarnation = Incarnation {
            argv,
            envp,
            memory_limit: p.memory_limit,
            root,
            deadline: spec.deadline,
            cpu: spec.counters.cpu_ns.clone(),
            journal_dropped: spec.counters.journal_dropped.clone(),
            linear_bytes: spec.counters.linear_bytes.clone(),
        };
        let identity = Identity {
            id: spec.id.to_string(),
            label: card.label.clone(),
        };
        let instance = self
            .runtime
            .instantiate(&p.blueprint, identity, ports, &incarnation)
            .map_err(|e| match e {
                RuntimeError::Instantiate { fault, .. } => cause_of(&fault),
                e @ RuntimeError::PoolFull { .. } => Cause::Host {
                    message: e.to_string(),
                },
                e => unbuildable(e),
            })?;
        Ok(Box::new(WasmBody::new(instance, generation)))
    }
}
