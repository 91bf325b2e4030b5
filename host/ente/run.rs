//! `ente run`: one component as a sandboxed plugin, with only the
//! capabilities named on the command line.

use ente_card::{Capability, DeviceClass, Endpoint, NetlinkFamily};
use ente_runtime::{Grants, Identity, Incarnation, JournalSink, Level, Ports, Runtime};
use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

/// Parse a `--grant` value: `Journal`, `Spawn`, `FilesystemRoot`,
/// `LegacyLogind`, `Endpoint=IFACE@VERSION`, `Device=CLASS`,
/// `KernelNetlink=FAMILY`.
pub fn parse_capability(s: &str) -> Result<Capability, String> {
    let (kind, arg) = match s.split_once('=') {
        Some((k, a)) => (k, Some(a)),
        None => (s, None),
    };
    let need = |what: &str| format!("`{s}`: {kind} needs `={what}`");
    match (kind, arg) {
        ("Journal", None) => Ok(Capability::Journal),
        ("Spawn", None) => Ok(Capability::Spawn),
        ("FilesystemRoot", None) => Ok(Capability::FilesystemRoot),
        ("LegacyLogind", None) => Ok(Capability::LegacyLogind),
        ("Endpoint", Some(a)) => {
            parse_endpoint(a).map(|endpoint| Capability::Endpoint { endpoint })
        }
        ("Endpoint", None) => Err(need("IFACE@VERSION")),
        ("Device", Some(a)) => DeviceClass::from_name(a)
            .map(|device_class| Capability::Device { device_class })
            .ok_or_else(|| {
                format!(
                    "`{s}`: device class must be one of {}",
                    DeviceClass::NAMES.join(", ")
                )
            }),
        ("Device", None) => Err(need("CLASS")),
        ("KernelNetlink", Some(a)) => NetlinkFamily::from_name(a)
            .map(|netlink_family| Capability::KernelNetlink { netlink_family })
            .ok_or_else(|| {
                format!(
                    "`{s}`: netlink family must be one of {}",
                    NetlinkFamily::NAMES.join(", ")
                )
            }),
        ("KernelNetlink", None) => Err(need("FAMILY")),
        _ => Err(format!(
            "`{s}`: not a capability; use Journal, Spawn, FilesystemRoot, LegacyLogind, Endpoint=IFACE@VERSION, Device=CLASS or KernelNetlink=FAMILY"
        )),
    }
}

/// Parse `IFACE@VERSION` (32 lowercase hex, a u32).
pub fn parse_endpoint(s: &str) -> Result<Endpoint, String> {
    let (iface, version) = s
        .split_once('@')
        .ok_or_else(|| format!("`{s}`: an endpoint is IFACE@VERSION"))?;
    if iface.len() != 32
        || !iface
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    {
        return Err(format!(
            "`{s}`: the interface must be 32 lowercase hex characters"
        ));
    }
    let version = version
        .parse::<u32>()
        .map_err(|_| format!("`{s}`: the version must be 0..=4294967295"))?;
    Ok(Endpoint {
        interface: iface.to_owned(),
        version,
    })
}

/// Journal lines of a plugin go to stderr, prefixed with its label (each
/// line already made safe to print by the runtime).
struct StderrJournal;

impl JournalSink for StderrJournal {
    fn line(&self, ente: &Identity, level: Level, text: &str) {
        eprintln!(
            "[{}] {}: {text}",
            ente.label,
            ente_runtime::level_name(level)
        );
    }
}

pub fn run(
    home: &Path,
    component: &Path,
    grants: &[Capability],
    invoke: Option<(Endpoint, String)>,
    deadline: Duration,
) -> ExitCode {
    match run_inner(home, component, grants, invoke, deadline) {
        Ok(code) => code,
        Err(message) => {
            eprintln!("ente run: {message}");
            ExitCode::FAILURE
        }
    }
}

fn run_inner(
    home: &Path,
    component: &Path,
    grants: &[Capability],
    invoke: Option<(Endpoint, String)>,
    deadline: Duration,
) -> Result<ExitCode, String> {
    let label = component
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "plugin".into());
    let grants = Grants::from_capabilities(grants);
    let bytes = std::fs::read(component)
        .map_err(|e| format!("{}: cannot read: {e}", component.display()))?;
    // Refused before the store or the compiler sees it: a plugin that
    // imports what it is not granted leaves nothing behind under the home.
    if let Ok(outline) = ente_runtime::inspect::outline(&bytes) {
        ente_runtime::grants::check_names(
            &label,
            outline.imports.iter().map(String::as_str),
            &grants,
        )
        .map_err(|e| format!("{}: {e}", component.display()))?;
    }
    let runtime = Runtime::open(home).map_err(|e| e.to_string())?;
    let digest = runtime.cas().add(&bytes).map_err(|e| e.to_string())?.0;
    drop(bytes);
    let loaded = runtime
        .load_for(&label, &digest, &grants)
        .map_err(|e| e.to_string())?;
    let provides: Vec<ente_runtime::Endpoint> = invoke
        .iter()
        .map(|(e, _)| ente_runtime::Endpoint {
            interface: e.interface.clone(),
            version: e.version,
        })
        .collect();
    let blueprint = runtime
        .prepare(&label, &loaded, grants, &provides)
        .map_err(|e| e.to_string())?;
    // A plugin's one directory is named after its bytes, never after its
    // file name: `<home>/state/plugin-<digest>`. Another component cannot
    // reach it by taking the same name, and no Ente's id (a ULID) has
    // this form.
    let incarnation = Incarnation {
        root: if grants.filesystem {
            Some(
                runtime
                    .ente_root(&plugin_dir(&digest))
                    .map_err(|e| e.to_string())?,
            )
        } else {
            None
        },
        deadline,
        ..Incarnation::default()
    };
    let identity = Identity {
        id: ulid::Ulid::new().to_string(),
        label: label.clone(),
    };
    let ports = Ports::journal_only(Arc::new(StderrJournal));
    let mut instance = runtime
        .instantiate(&blueprint, identity, ports, &incarnation)
        .map_err(|e| e.to_string())?;
    if instance.has_lifecycle() {
        match instance.start().map_err(|e| e.to_string())? {
            Ok(()) => {}
            Err(refusal) => return Err(format!("`{label}` refused to start: {refusal}")),
        }
    }
    if let Some((endpoint, body)) = invoke {
        let target = ente_runtime::Endpoint {
            interface: endpoint.interface,
            version: endpoint.version,
        };
        match instance
            .handle(&String::from("(ente run)"), &target, body.as_bytes())
            .map_err(|e| e.to_string())?
        {
            Ok(reply) => println!("{}", String::from_utf8_lossy(&reply)),
            Err(message) => return Err(format!("`{label}` answered with an error: {message}")),
        }
    }
    instance.stop().map_err(|e| e.to_string())?;
    Ok(ExitCode::SUCCESS)
}

/// The name of a plugin's state directory under `<home>/state`.
pub fn plugin_dir(digest: &ente_card::Digest) -> String {
    format!("plugin-{digest}")
}

/// `ente cas compile`: each digest compiled into the precompile cache.
pub fn compile(home: &Path, digests: &[String]) -> ExitCode {
    let runtime = match Runtime::open(home) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("ente cas compile: {e}");
            return ExitCode::FAILURE;
        }
    };
    let mut failed = false;
    for d in digests {
        let Some(digest) = ente_card::Digest::from_hex(d) else {
            eprintln!("ente cas compile: `{d}` is not a digest (64 lowercase hex characters)");
            failed = true;
            continue;
        };
        match runtime.load(&digest) {
            Ok(_) => println!("{}", runtime.cache().path(&digest).display()),
            Err(e) => {
                eprintln!("ente cas compile: {e}");
                failed = true;
            }
        }
    }
    if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}
