//! Capabilities become imports: what the linker defines for an Ente, and the
//! check, before instantiation, that its component imports nothing more.

use ente_card::{Capability, Card};
use wasmtime::Engine;
use wasmtime::component::Component;

/// The interfaces the linker defines for an Ente besides the WASI baseline.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct Grants {
    /// `ente:core/journal`, for Journal.
    pub journal: bool,
    /// `ente:core/bus`, for an Endpoint in requires.
    pub bus: bool,
    /// `ente:core/graph`, for Spawn.
    pub graph: bool,
    /// `wasi:filesystem/{types,preopens}`, for FilesystemRoot.
    pub filesystem: bool,
    /// `ente:core/graph-view`, for the Ente that serves as mediator.
    pub graph_view: bool,
    /// `ente:core/devices`, for Device{class} or KernelNetlink{Uevent}.
    pub devices: bool,
    /// `ente:native/process`: the native shim alone, never a card.
    pub native_process: bool,
}

impl Grants {
    /// What `caps` (a card's requires) grant.
    pub fn from_capabilities<'c>(caps: impl IntoIterator<Item = &'c Capability>) -> Grants {
        let mut g = Grants::default();
        for cap in caps {
            match cap {
                Capability::Journal => g.journal = true,
                Capability::Endpoint { .. } => g.bus = true,
                Capability::Spawn => g.graph = true,
                Capability::FilesystemRoot => g.filesystem = true,
                Capability::Device { .. }
                | Capability::KernelNetlink {
                    netlink_family: ente_card::NetlinkFamily::Uevent,
                } => {
                    g.devices = true;
                }
                // Other netlink families and logind have no interface yet:
                // a component cannot import what does not exist.
                Capability::KernelNetlink { .. } | Capability::LegacyLogind => {}
            }
        }
        g
    }

    /// What a card's requires grant.
    pub fn of_card(card: &Card) -> Grants {
        Grants::from_capabilities(&card.requires)
    }

    /// Whether the linker defines `name` (an interface without version).
    pub fn allows(&self, name: &str) -> bool {
        BASELINE.contains(&name)
            || EVERY_ENTE.contains(&name)
            || (self.journal && name == "ente:core/journal")
            || (self.bus && name == "ente:core/bus")
            || (self.graph && name == "ente:core/graph")
            || (self.graph_view && name == "ente:core/graph-view")
            || (self.devices && name == "ente:core/devices")
            || (self.native_process && name == NATIVE_PROCESS)
            || (self.filesystem && FILESYSTEM.contains(&name))
    }
}

/// The WASI every Ente gets (at 0.2.x): what Rust's std imports even in a
/// guest that never prints, plus clocks and random.
pub const BASELINE: &[&str] = &[
    "wasi:io/error",
    "wasi:io/poll",
    "wasi:io/streams",
    "wasi:cli/environment",
    "wasi:cli/exit",
    "wasi:cli/stdin",
    "wasi:cli/stdout",
    "wasi:cli/stderr",
    "wasi:cli/terminal-input",
    "wasi:cli/terminal-output",
    "wasi:cli/terminal-stdin",
    "wasi:cli/terminal-stdout",
    "wasi:cli/terminal-stderr",
    "wasi:clocks/monotonic-clock",
    "wasi:clocks/wall-clock",
    "wasi:random/random",
    "wasi:random/insecure",
    "wasi:random/insecure-seed",
];

/// The `ente:core` interfaces every Ente may import: the shared types, and
/// its own wake-ups (bounded per Ente, reaching nothing outside it).
pub const EVERY_ENTE: &[&str] = &["ente:core/types", "ente:core/timer"];

/// Which interfaces of [`BASELINE`] a component imports (a bit per entry).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct WasiImports(u32);

impl WasiImports {
    /// Note `name` (an interface without version) if it is in the baseline.
    pub fn note(&mut self, name: &str) {
        if let Some(i) = BASELINE.iter().position(|b| *b == name) {
            self.0 |= 1 << i;
        }
    }

    /// Whether the component imports no interface of the baseline.
    pub fn is_empty(&self) -> bool {
        self.0 == 0
    }

    pub fn contains(&self, name: &str) -> bool {
        BASELINE
            .iter()
            .position(|b| *b == name)
            .is_some_and(|i| self.0 & (1 << i) != 0)
    }
}

// A bit per baseline interface.
const _: () = assert!(BASELINE.len() <= 32);

/// The WASI filesystem, for FilesystemRoot.
pub const FILESYSTEM: &[&str] = &["wasi:filesystem/types", "wasi:filesystem/preopens"];

/// The native shim's host interface.
pub const NATIVE_PROCESS: &str = "ente:native/process";

/// The capability that would grant the interface `name`, in words.
pub fn granted_by(name: &str) -> &'static str {
    match name {
        "ente:core/journal" => "the Journal capability",
        "ente:core/bus" => "an Endpoint capability in requires",
        "ente:core/graph" => "the Spawn capability",
        "ente:core/graph-view" => "the mediator role (only the graph's mediator sees the graph)",
        "ente:core/devices" => "a Device or KernelNetlink{Uevent} capability",
        NATIVE_PROCESS => {
            "no capability: only the native shim, the body of a Native or Legacy payload, is linked with it"
        }
        n if FILESYSTEM.contains(&n) => {
            "the FilesystemRoot capability, or `ente pack` to deny it inside the component"
        }
        n if n.starts_with("wasi:sockets/") => {
            "no capability: ente grants no sockets; `ente pack` denies them inside the component"
        }
        n if n.starts_with("wasi:http/") => {
            "no capability: ente grants no http; `ente pack` denies it inside the component"
        }
        n if n.starts_with("wasi:") => {
            "no capability: ente does not provide this interface; `ente pack` denies it inside the component"
        }
        _ => "no capability: ente does not provide this interface",
    }
}

/// One import a component may not have.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ImportFault {
    #[error("imports `{import}`, which its card does not grant (needs {needs})")]
    Ungranted { import: String, needs: &'static str },
    #[error("imports `{import}` at a version ente does not link (it links {supported})")]
    Version {
        import: String,
        supported: &'static str,
    },
}

/// Why a component may not run as an Ente.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LinkError {
    #[error("Ente `{ente}` refused before it runs: its component {}", .faults.iter().map(ToString::to_string).collect::<Vec<_>>().join("; and "))]
    Imports {
        ente: String,
        faults: Vec<ImportFault>,
    },
    #[error(
        "Ente `{ente}` provides {endpoint} but its component does not export `{export}`: a provider must serve its endpoint"
    )]
    MissingExport {
        ente: String,
        endpoint: String,
        export: &'static str,
    },
}

/// The interface name and version of an import such as `wasi:io/streams@0.2.6`.
fn split_version(import: &str) -> (&str, Option<&str>) {
    match import.split_once('@') {
        Some((name, version)) => (name, Some(version)),
        None => (import, None),
    }
}

fn supported_version(name: &str, version: Option<&str>) -> Result<(), &'static str> {
    let (prefix, supported) = if name.starts_with("wasi:") {
        ("0.2.", "WASI 0.2.x")
    } else {
        ("0.1.", "ente:core 0.1.x")
    };
    match version {
        Some(v) if v.starts_with(prefix) => Ok(()),
        _ => Err(supported),
    }
}

/// Check every import of `component` against `grants`; all faults at once.
/// Returns the interfaces of the WASI baseline it imports: the linker
/// defines those and no others.
pub fn check_imports(
    ente: &str,
    engine: &Engine,
    component: &Component,
    grants: &Grants,
) -> Result<WasiImports, LinkError> {
    let ty = component.component_type();
    check_names(ente, ty.imports(engine).map(|(name, _)| name), grants)
}

/// Check import names (as [`crate::inspect::outline`] reads them from the
/// bytes, before anything is compiled) against `grants`; all faults at once.
pub fn check_names<'n>(
    ente: &str,
    imports: impl IntoIterator<Item = &'n str>,
    grants: &Grants,
) -> Result<WasiImports, LinkError> {
    let mut faults = Vec::new();
    let mut wasi = WasiImports::default();
    for import in imports {
        let (name, version) = split_version(import);
        wasi.note(name);
        if !grants.allows(name) {
            faults.push(ImportFault::Ungranted {
                import: import.to_owned(),
                needs: granted_by(name),
            });
        } else if let Err(supported) = supported_version(name, version) {
            faults.push(ImportFault::Version {
                import: import.to_owned(),
                supported,
            });
        }
    }
    if faults.is_empty() {
        Ok(wasi)
    } else {
        Err(LinkError::Imports {
            ente: ente.to_owned(),
            faults,
        })
    }
}

/// The export a provider must have.
pub const HANDLER_EXPORT: &str = "ente:core/handler@0.1.0";
/// The export a service must have to be started.
pub const LIFECYCLE_EXPORT: &str = "ente:core/lifecycle@0.1.0";
/// The export of the mediator.
pub const MEDIATOR_EXPORT: &str = "ente:core/mediator@0.1.0";
/// The export through which a device holder receives uevents.
pub const DEVICE_EVENTS_EXPORT: &str = "ente:core/device-events@0.1.0";
/// The export through which an Ente receives its wake-ups.
pub const TIMER_EVENTS_EXPORT: &str = "ente:core/timer-events@0.1.0";
/// The export of a parent that decides its `Delegate` children's restarts.
pub const SUPERVISOR_EXPORT: &str = "ente:core/supervisor@0.1.0";
/// The export of an Ente that keeps state across restarts of the host.
pub const SNAPSHOT_EXPORT: &str = "ente:core/snapshot@0.1.0";
/// The export of the graph's brain.
pub const BRAIN_EXPORT: &str = "ente:core/brain@0.1.0";
