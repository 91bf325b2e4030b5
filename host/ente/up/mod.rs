//! `ente up`: start a seed card's graph in dev mode, show it live, and stop
//! it in order on Ctrl-C or SIGTERM.

pub mod glue;
pub mod status;

use ente_bus::{Bus, BusConfig};
use ente_card::{Capability, Card, Endpoint, Graph, Payload};
use ente_runtime::{Grants, Identity, Incarnation, Ports, Runtime};
use glue::{BusLink, EnteBody, GraphSnapshot, MediatorEnte, Seen, weak};
pub use status::{State, Status};
use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;
use ulid::Ulid;

/// The endpoint whose provider is the graph's mediator ("ente-mediator-v1").
pub const MEDIATOR_INTERFACE: &str = "656e74652d6d65646961746f722d7631";

/// How often expired leases are purged.
const PURGE_EVERY: Duration = Duration::from_secs(5);

pub fn mediator_endpoint() -> Capability {
    Capability::Endpoint {
        endpoint: Endpoint {
            interface: MEDIATOR_INTERFACE.into(),
            version: 1,
        },
    }
}

/// A running graph.
pub struct Host {
    runtime: Runtime,
    bus: Arc<Bus<EnteBody>>,
    status: Arc<Status>,
    /// Wasm Entes in start order.
    started: Vec<Started>,
}

/// An Ente with a body, as the host remembers it.
#[derive(Debug)]
struct Started {
    id: Ulid,
    label: String,
    /// What its card requires: which device events it receives.
    requires: Vec<Capability>,
}

pub fn run(home: &Path, seed: &Path) -> ExitCode {
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("ente up: cannot start the event loop: {e}");
            return ExitCode::FAILURE;
        }
    };
    rt.block_on(async {
        // Signals are watched before anything starts, so that a SIGTERM
        // during boot still stops the graph in order.
        let stop = match Stop::watch() {
            Ok(stop) => stop,
            Err(e) => {
                eprintln!("ente up: cannot watch SIGINT and SIGTERM: {e}");
                return ExitCode::FAILURE;
            }
        };
        let tty = std::io::IsTerminal::is_terminal(&std::io::stdout());
        let host = match boot(
            home,
            seed,
            Status::new(tty),
            ente_runtime::Profile::from_env(),
        ) {
            Ok(host) => host,
            Err(message) => {
                eprintln!("ente up: {message}");
                return ExitCode::FAILURE;
            }
        };
        host.refresh();
        watch(&host, stop).await;
        shutdown(&host);
        ExitCode::SUCCESS
    })
}

/// SIGINT (Ctrl-C) and SIGTERM.
struct Stop {
    int: tokio::signal::unix::Signal,
    term: tokio::signal::unix::Signal,
}

impl Stop {
    fn watch() -> std::io::Result<Stop> {
        use tokio::signal::unix::{SignalKind, signal};
        Ok(Stop {
            int: signal(SignalKind::interrupt())?,
            term: signal(SignalKind::terminate())?,
        })
    }
}

/// Load the seed card, check its graph and start every Ente in start order.
/// An Ente that fails to start is reported in the status; it does not stop
/// the others.
pub fn boot(
    home: &Path,
    seed: &Path,
    status: Status,
    profile: ente_runtime::Profile,
) -> Result<Host, String> {
    let card = ente_card::load(seed).map_err(|e| e.to_string())?;
    boot_card(home, seed, &card, status, profile)
}

/// [`boot`] with the seed card already loaded from `seed`.
pub fn boot_card(
    home: &Path,
    seed: &Path,
    card: &Card,
    status: Status,
    profile: ente_runtime::Profile,
) -> Result<Host, String> {
    let graph = Graph::new(card);
    let faults = graph.check();
    if !faults.is_empty() {
        let lines: Vec<String> = faults.iter().map(|f| format!("  {f}")).collect();
        return Err(format!(
            "{}: the graph cannot start:\n{}",
            seed.display(),
            lines.join("\n")
        ));
    }
    let mut order = graph.start_order().map_err(|e| e.to_string())?;
    // The mediator first: every other start may already call the bus.
    order.sort_by_key(|&n| !graph.nodes[n].card.provides.contains(&mediator_endpoint()));

    status.note("graph checked");
    let runtime = Runtime::open_with(home, profile).map_err(|e| e.to_string())?;
    status.note("runtime open");
    let bus: Arc<Bus<EnteBody>> = Arc::new(Bus::new(BusConfig::default()));
    let status = Arc::new(status);
    let snapshot = Arc::new(GraphSnapshot {
        entes: order
            .iter()
            .map(|&n| {
                let c = graph.nodes[n].card;
                Seen {
                    id: c.id,
                    label: c.label.clone(),
                    requires: c.requires.clone(),
                    provides: c.provides.clone(),
                }
            })
            .collect(),
        bus: weak(&bus),
    });
    let mut host = Host {
        runtime,
        bus,
        status,
        started: Vec::new(),
    };
    for &n in &order {
        let card = graph.nodes[n].card;
        host.status
            .add(card.id.to_string(), card.label.clone(), State::Starting);
        // Grants come from the same routing function `ente check --graph`
        // used: every requirement it routes (all of them, once the check passed).
        let grants =
            Grants::from_capabilities(card.requires.iter().filter(|c| graph.route(n, c).is_ok()));
        match start(&host, card, grants, &snapshot) {
            Ok(Some(state)) => {
                host.started.push(Started {
                    id: card.id,
                    label: card.label.clone(),
                    requires: card.requires.clone(),
                });
                host.status.set(&card.id.to_string(), state);
            }
            Ok(None) => host.status.set(&card.id.to_string(), State::Grouping),
            Err(why) => {
                // An Ente that did not become ready takes no calls.
                host.bus.remove(card.id);
                host.status.set(&card.id.to_string(), State::Failed(why));
            }
        }
    }
    Ok(host)
}

/// Incarnate one card; `Ok(None)` for a body-less grouping node.
fn start(
    host: &Host,
    card: &Card,
    mut grants: Grants,
    snapshot: &Arc<GraphSnapshot>,
) -> Result<Option<State>, String> {
    let (digest, entry, argv, envp) = match &card.payload {
        Payload::Virtual => return Ok(None),
        Payload::Wasm {
            module_blake3,
            entry,
            argv,
            envp,
        } => (module_blake3, entry, argv, envp),
        Payload::Native { .. } | Payload::Legacy { .. } => {
            return Err(
                "native payloads run behind the shim component, which this host does not have yet"
                    .into(),
            );
        }
    };
    let is_mediator = card.provides.contains(&mediator_endpoint());
    grants.graph_view = is_mediator;
    let served: Vec<ente_runtime::Endpoint> = card
        .provides
        .iter()
        .filter_map(|c| match c {
            Capability::Endpoint { endpoint } if !is_mediator => Some(glue::to_wit(endpoint)),
            _ => None,
        })
        .collect();
    let component = host.runtime.load(digest).map_err(|e| e.to_string())?;
    let blueprint = host
        .runtime
        .prepare(&card.label, &component, grants, &served)
        .map_err(|e| e.to_string())?;
    let export = format!("{entry}@0.1.0");
    if !blueprint.exports(&export) {
        return Err(format!(
            "its card's entry is `{entry}`, but its component does not export `{export}` with the type ente drives"
        ));
    }
    let ports = Ports {
        journal: host.status.clone(),
        bus: grants
            .bus
            .then(|| Arc::new(BusLink(weak(&host.bus))) as Arc<dyn ente_runtime::BusPort>),
        graph_view: is_mediator.then(|| snapshot.clone() as Arc<dyn ente_runtime::GraphView>),
    };
    let incarnation = Incarnation {
        argv: argv.clone(),
        envp: envp.clone(),
        memory_limit: card
            .soma
            .rlimits
            .mem_bytes
            .and_then(|m| usize::try_from(m).ok()),
        root: if grants.filesystem {
            Some(
                host.runtime
                    .ente_root(&card.id.to_string())
                    .map_err(|e| e.to_string())?,
            )
        } else {
            None
        },
    };
    let identity = Identity {
        id: card.id.to_string(),
        label: card.label.clone(),
    };
    let instance = host
        .runtime
        .instantiate(&blueprint, identity, ports, &incarnation)
        .map_err(|e| e.to_string())?;
    let has_lifecycle = instance.has_lifecycle();
    host.bus.install(card.id, &card.label, EnteBody(instance));
    if is_mediator {
        host.bus.set_mediator(Arc::new(MediatorEnte {
            bus: weak(&host.bus),
            id: card.id,
        }));
    }
    if !has_lifecycle {
        return Ok(Some(State::Ready));
    }
    match host.bus.enter(card.id, |b| b.0.start()) {
        Ok(Ok(Ok(()))) => Ok(Some(State::Ready)),
        Ok(Ok(Err(refusal))) => Err(format!("start refused: {refusal}")),
        Ok(Err(fault)) => Err(fault.to_string()),
        Err(e) => Err(e.to_string()),
    }
}

/// Show the graph until Ctrl-C or SIGTERM.
async fn watch(host: &Host, mut stop: Stop) {
    let mut tick = tokio::time::interval(Duration::from_millis(500));
    let mut purge = tokio::time::interval(PURGE_EVERY);
    loop {
        tokio::select! {
            _ = stop.int.recv() => return,
            _ = stop.term.recv() => return,
            _ = tick.tick() => host.refresh(),
            _ = purge.tick() => { host.purge_leases(); }
        }
    }
}

impl std::fmt::Debug for Host {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Host")
            .field("started", &self.started)
            .finish_non_exhaustive()
    }
}

impl Host {
    /// (Entes ready, Entes with a body).
    pub fn readiness(&self) -> (usize, usize) {
        let live = self
            .started
            .iter()
            .filter(|e| self.bus.slot(e.id).is_some_and(|s| s.is_live()))
            .count();
        (live, self.started.len())
    }

    /// Refresh counters and draw the status.
    pub fn refresh(&self) {
        for slot in self.bus.slots() {
            self.status
                .counts(&slot.id.to_string(), slot.served(), slot.errors());
            if !slot.is_live() {
                self.status.set(
                    &slot.id.to_string(),
                    State::Failed("its body trapped".into()),
                );
            }
        }
        self.status.draw();
    }

    pub fn purge_leases(&self) -> usize {
        self.bus.purge_expired()
    }

    pub fn status(&self) -> &Status {
        &self.status
    }

    /// Hand a kernel uevent to every Ente that holds Device{class} for its
    /// subsystem or KernelNetlink{Uevent}; returns how many received it. An
    /// Ente that fails on it is reported, and the others still receive it.
    pub fn deliver_uevent(&self, event: &ente_kernel::uevent::Uevent) -> usize {
        let class = event.subsystem.as_deref().and_then(device_class);
        let wit = glue::uevent_to_wit(event);
        let mut delivered = 0;
        for Started {
            id,
            label,
            requires,
        } in &self.started
        {
            let wanted = requires.iter().any(|c| match c {
                Capability::KernelNetlink { netlink_family } => {
                    *netlink_family == ente_card::NetlinkFamily::Uevent
                }
                Capability::Device { device_class } => Some(*device_class) == class,
                _ => false,
            });
            if !wanted {
                continue;
            }
            match self.bus.enter(*id, |b| b.0.on_uevent(&wit)) {
                Ok(Ok(())) => delivered += 1,
                Ok(Err(fault)) => self
                    .status
                    .set(&id.to_string(), State::Failed(fault.to_string())),
                // Not running or busy: said, not silently dropped.
                Err(e) => crate::console::alarm(&format!(
                    "uevent {} {} not delivered to `{label}`: {e}",
                    wit.action, wit.devpath
                )),
            }
        }
        delivered
    }
}

/// Stop every Ente in reverse start order: `lifecycle.stop`, then off the bus.
pub fn shutdown(host: &Host) {
    crate::console::line(&format!(
        "stopping {} Ente(s) in reverse start order",
        host.started.len()
    ));
    for Started { id, label, .. } in host.started.iter().rev() {
        let stopped = host.bus.enter(*id, |b| b.0.stop());
        host.bus.remove(*id);
        match stopped {
            Ok(Ok(())) | Err(_) => host.status.set(&id.to_string(), State::Stopped),
            Ok(Err(fault)) => host
                .status
                .set(&id.to_string(), State::Failed(fault.to_string())),
        }
        crate::console::line(&format!("stopped `{label}`"));
    }
}

/// The device class of a kernel subsystem, as cards name it.
pub fn device_class(subsystem: &str) -> Option<ente_card::DeviceClass> {
    use ente_card::DeviceClass as D;
    Some(match subsystem {
        "block" => D::Block,
        "tty" => D::Tty,
        "input" => D::Input,
        "drm" => D::Drm,
        "net" => D::Net,
        "hidraw" => D::Hidraw,
        _ => return None,
    })
}
