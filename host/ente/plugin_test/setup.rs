//! Making a test file's host: the plugin loaded, checked and started with
//! its grants, its mocks made ready (a component mock started too).

use super::mocks::{Captured, MockBus, MockTimers, same};
use super::spec::{Action, Mock, TestFile};
use ente_card::Capability;
use ente_runtime::bindings::Endpoint;
use ente_runtime::{
    CallError, Fault, Grants, Identity, Incarnation, Instance, Ports, Runtime, RuntimeError,
};
use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// How starting went.
pub(super) enum Started {
    Running(Box<Instance>),
    Refused(String),
    Fault(String),
}

pub(super) type Parts = (
    Arc<MockBus>,
    Arc<MockTimers>,
    Grants,
    Option<tempfile::TempDir>,
);

pub(super) use crate::wasm::to_wit;

/// Load, check, link and start the plugin (and its component mocks). The
/// outer error is a fault of the test's setup (a mock that cannot run).
pub(super) fn start(
    runtime: &Runtime,
    spec: &TestFile,
    journal: Arc<Captured>,
) -> Result<(Started, Parts), String> {
    let grants = Grants::from_capabilities(&spec.grants);
    let label = spec.name.clone();
    let none = || {
        (
            Arc::new(empty_bus()),
            Arc::new(MockTimers::default()),
            grants,
            None,
        )
    };
    let bytes = std::fs::read(&spec.plugin)
        .map_err(|e| format!("plugin {}: cannot read: {e}", spec.plugin.display()))?;
    // The same checks, in the same order, as `ente run` and `ente up`.
    if let Ok(outline) = ente_runtime::inspect::outline(&bytes)
        && let Err(e) = ente_runtime::grants::check_names(
            &label,
            outline.imports.iter().map(String::as_str),
            &grants,
        )
    {
        return Ok((Started::Refused(e.to_string()), none()));
    }
    let digest = runtime.cas().add(&bytes).map_err(|e| e.to_string())?.0;
    drop(bytes);
    let provides: Vec<Endpoint> = spec
        .steps
        .iter()
        .filter_map(|s| match &s.action {
            Action::Invoke { endpoint, .. } => Some(to_wit(endpoint)),
            _ => None,
        })
        .fold(Vec::new(), |mut v, e| {
            if !v.iter().any(|x| same(x, &e)) {
                v.push(e);
            }
            v
        });
    let refused = |e: RuntimeError| match e {
        RuntimeError::Instantiate { fault, .. } => {
            Started::Fault(with_code(fault.to_string(), &fault))
        }
        e => Started::Refused(e.to_string()),
    };
    let blueprint = match runtime
        .load_for(&label, &digest, &grants)
        .and_then(|c| runtime.prepare(&label, &c, grants, &provides))
    {
        Ok(b) => b,
        Err(e) => return Ok((refused(e), none())),
    };
    let memory_limit = match ente_runtime::memory_limit(spec.mem_bytes) {
        Ok(m) => m,
        Err(e) => return Ok((Started::Refused(format!("mem_bytes: {e}")), none())),
    };
    let state = if grants.filesystem {
        Some(tempfile::tempdir().map_err(|e| format!("a state directory: {e}"))?)
    } else {
        None
    };
    let bus = Arc::new(mock_bus(runtime, spec, journal.clone())?);
    let timers = Arc::new(MockTimers::default());
    let ports = Ports {
        journal: journal.clone(),
        bus: Some(bus.clone()),
        graph: None,
        graph_view: None,
        timers: Some(timers.clone()),
        process: None,
    };
    let incarnation = Incarnation {
        argv: spec.argv.clone(),
        envp: spec.envp.clone(),
        memory_limit,
        root: state.as_ref().map(|d| d.path().to_owned()),
        deadline: Duration::from_millis(spec.deadline_ms),
        ..Incarnation::default()
    };
    let identity = Identity {
        id: ulid::Ulid::new().to_string(),
        label,
    };
    let parts = (bus, timers, grants, state);
    let mut instance = match runtime.instantiate(&blueprint, identity, ports, &incarnation) {
        Ok(i) => i,
        Err(e) => return Ok((refused(e), parts)),
    };
    if instance.has_lifecycle() {
        match instance.start() {
            Ok(Ok(())) => {}
            Ok(Err(why)) => {
                return Ok((Started::Refused(format!("its start refused: {why}")), parts));
            }
            Err(e) => return Ok((Started::Fault(fault_text(&e)), parts)),
        }
    }
    Ok((Started::Running(Box::new(instance)), parts))
}

fn empty_bus() -> MockBus {
    MockBus {
        granted: Vec::new(),
        providers: HashMap::new(),
        calls: Mutex::new(Vec::new()),
    }
}

/// The bus of the plugin: its granted endpoints, each mock made ready.
fn mock_bus(runtime: &Runtime, spec: &TestFile, journal: Arc<Captured>) -> Result<MockBus, String> {
    let granted = spec
        .grants
        .iter()
        .filter_map(|c| match c {
            Capability::Endpoint { endpoint } => Some(to_wit(endpoint)),
            _ => None,
        })
        .collect();
    let mut providers = HashMap::new();
    for (endpoint, mock) in &spec.mocks {
        let served = to_wit(endpoint);
        let provider = super::mocks::provider(mock, || {
            let Mock::Component { path, grants } = mock else {
                return Err("not a component mock".into());
            };
            mock_component(runtime, path, grants, served.clone(), journal.clone())
        })
        .map_err(|why| format!("mock {}@{}: {why}", endpoint.interface, endpoint.version))?;
        providers.insert((endpoint.interface.clone(), endpoint.version), provider);
    }
    Ok(MockBus {
        granted,
        providers,
        calls: Mutex::new(Vec::new()),
    })
}

/// A component standing in for a provider, started, with its own grants
/// (it reaches the journal and nothing else).
fn mock_component(
    runtime: &Runtime,
    path: &Path,
    grants: &[Capability],
    serves: Endpoint,
    journal: Arc<Captured>,
) -> Result<Instance, String> {
    let label = path
        .file_stem()
        .map(|s| format!("mock:{}", s.to_string_lossy()))
        .unwrap_or_else(|| "mock".into());
    let grants = Grants::from_capabilities(grants);
    let (digest, _) = runtime.cas().add_file(path).map_err(|e| e.to_string())?;
    let blueprint = runtime
        .load_for(&label, &digest, &grants)
        .and_then(|c| runtime.prepare(&label, &c, grants, &[serves]))
        .map_err(|e| e.to_string())?;
    let identity = Identity {
        id: ulid::Ulid::new().to_string(),
        label,
    };
    let mut instance = runtime
        .instantiate(
            &blueprint,
            identity,
            Ports::journal_only(journal),
            &Incarnation::default(),
        )
        .map_err(|e| e.to_string())?;
    if instance.has_lifecycle() {
        match instance.start() {
            Ok(Ok(())) => {}
            Ok(Err(why)) => return Err(format!("its start refused: {why}")),
            Err(e) => return Err(e.to_string()),
        }
    }
    Ok(instance)
}

/// A fault in words, with wasmtime's trap code when it was a trap (so that
/// a step can expect e.g. `UnreachableCodeReached`).
pub(super) fn fault_text(e: &CallError) -> String {
    match e {
        CallError::Broke { fault, .. } => with_code(e.to_string(), fault),
        e => e.to_string(),
    }
}

fn with_code(text: String, fault: &Fault) -> String {
    match fault {
        Fault::Trap {
            code: Some(code), ..
        } => format!("{text} ({code})"),
        _ => text,
    }
}
