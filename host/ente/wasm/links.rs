//! What a Wasm Ente's host interfaces reach: the bus, the core's requests
//! (`graph`, `timer`) and, for the mediator, its view of the graph. Each is
//! one of the runtime's port traits over the host's shared handles.

use ente_bus::BusError;
use ente_card::{Capability, DeviceClass, Endpoint, NetlinkFamily};
use ente_core::Handles;
use ente_runtime::{BusPort, GraphPort, GraphView, Identity, JournalSink, TimerPort, bindings};
use std::time::Duration;
use ulid::Ulid;

pub fn to_wit(e: &Endpoint) -> bindings::Endpoint {
    bindings::Endpoint {
        interface: e.interface.clone(),
        version: e.version,
    }
}

pub fn from_wit(e: &bindings::Endpoint) -> Endpoint {
    Endpoint {
        interface: e.interface.clone(),
        version: e.version,
    }
}

/// The caller's id, which the host set in its store.
fn caller(identity: &Identity) -> Result<Ulid, String> {
    identity
        .id
        .parse()
        .map_err(|_| format!("`{}` is not an Ente of this host", identity.label))
}

/// Journal lines onto the spine, where the status and every other consumer
/// read them in order with the host's own events.
#[derive(Debug)]
pub struct SpineJournal(pub Handles);

fn level(level: bindings::Level) -> ente_core::Level {
    use ente_core::Level as L;
    match level {
        bindings::Level::Trace => L::Trace,
        bindings::Level::Debug => L::Debug,
        bindings::Level::Info => L::Info,
        bindings::Level::Warn => L::Warn,
        bindings::Level::Error => L::Error,
    }
}

impl JournalSink for SpineJournal {
    fn line(&self, ente: &Identity, level: bindings::Level, text: &str) {
        let id = ente.id.parse().unwrap_or_default();
        // Under the level set for it (by the brain, or the operator):
        // dropped before the spine, and so every consumer, sees it.
        if !self.0.floors.admits(id, self::level(level)) {
            return;
        }
        self.0.spine.emit(
            Some((id, &ente.label)),
            ente_core::Kind::Journal {
                level: self::level(level),
                text: text.to_owned(),
            },
        );
    }

    fn admits(&self, ente: &Identity, level: bindings::Level) -> bool {
        self.0
            .floors
            .admits(ente.id.parse().unwrap_or_default(), self::level(level))
    }
}

/// `ente:core/bus` of one Ente: calls go out as `caller`, the id the host
/// gave it.
#[derive(Debug)]
pub struct BusLink {
    pub handles: Handles,
    pub caller: Ulid,
}

impl BusPort for BusLink {
    fn invoke(
        &self,
        _caller: &Identity,
        target: bindings::Endpoint,
        body: Vec<u8>,
    ) -> Result<Vec<u8>, bindings::BusError> {
        let target = Endpoint {
            interface: target.interface,
            version: target.version,
        };
        self.handles
            .bus
            .invoke(self.caller, &target, &body)
            .map_err(|e| match e {
                BusError::Denied(reason) => bindings::BusError::Denied(reason),
                BusError::Malformed(why) => {
                    bindings::BusError::Denied(format!("malformed endpoint: {why}"))
                }
                BusError::NoProvider(_) => bindings::BusError::NoProvider,
                BusError::Busy(_) => bindings::BusError::Busy,
                BusError::Cycle(_) => bindings::BusError::Cycle,
                BusError::TooLarge { max, .. } => bindings::BusError::TooLarge(max),
                e @ (BusError::NotRunning { .. } | BusError::ProviderFailed { .. }) => {
                    bindings::BusError::ProviderFailed(e.to_string())
                }
            })
    }

    fn max_request(&self) -> usize {
        self.handles.bus.config().max_request
    }
}

/// `ente:core/graph`: requests the core answers.
#[derive(Debug)]
pub struct GraphLink(pub Handles);

fn target(id: &str) -> Result<Ulid, String> {
    id.parse()
        .map_err(|_| format!("`{}` is not an Ente id", ente_runtime::host::clean(id, 64)))
}

impl GraphPort for GraphLink {
    fn spawn(&self, by: &Identity, card_json: String, within: Duration) -> Result<String, String> {
        self.0
            .spawn(caller(by)?, &card_json, within)
            .map(|id| id.to_string())
    }

    fn stop(&self, by: &Identity, id: String, within: Duration) -> Result<(), String> {
        self.0.stop(caller(by)?, target(&id)?, within)
    }

    fn restart(&self, by: &Identity, id: String, within: Duration) -> Result<(), String> {
        self.0.restart(caller(by)?, target(&id)?, within)
    }
}

/// `ente:core/timer`: wake-ups the core keeps until due.
#[derive(Debug)]
pub struct TimerLink(pub Handles);

impl TimerPort for TimerLink {
    fn set(&self, ente: &Identity, token: u64, after: Duration) {
        if let Ok(id) = caller(ente) {
            self.0.wake(id, token, after);
        }
    }

    fn cancel(&self, ente: &Identity, token: u64) {
        if let Ok(id) = caller(ente) {
            self.0.unwake(id, token);
        }
    }
}

/// `ente:core/graph-view`, the mediator's read-only view of the table.
#[derive(Debug)]
pub struct ViewLink(pub Handles);

impl GraphView for ViewLink {
    fn label(&self, id: &str) -> Option<String> {
        self.0.label(id.parse().ok()?)
    }

    fn requires(&self, id: &str) -> Vec<bindings::Capability> {
        id.parse()
            .map(|id| self.0.requires(id).iter().map(cap_to_wit).collect())
            .unwrap_or_default()
    }

    fn providers(&self, target: &bindings::Endpoint) -> Vec<String> {
        self.0
            .providers(&from_wit(target))
            .into_iter()
            .map(|id| id.to_string())
            .collect()
    }
}

pub fn cap_to_wit(c: &Capability) -> bindings::Capability {
    use bindings::Capability as W;
    match c {
        Capability::FilesystemRoot => W::FilesystemRoot,
        Capability::KernelNetlink { netlink_family } => W::KernelNetlink(match netlink_family {
            NetlinkFamily::Uevent => bindings::NetlinkFamily::Uevent,
            NetlinkFamily::Route => bindings::NetlinkFamily::Route,
            NetlinkFamily::Generic => bindings::NetlinkFamily::Generic,
            NetlinkFamily::Audit => bindings::NetlinkFamily::Audit,
        }),
        Capability::Endpoint { endpoint } => W::Endpoint(to_wit(endpoint)),
        Capability::LegacyLogind => W::LegacyLogind,
        Capability::Device { device_class } => W::Device(match device_class {
            DeviceClass::Block => bindings::DeviceClass::Block,
            DeviceClass::Tty => bindings::DeviceClass::Tty,
            DeviceClass::Input => bindings::DeviceClass::Input,
            DeviceClass::Drm => bindings::DeviceClass::Drm,
            DeviceClass::Net => bindings::DeviceClass::Net,
            DeviceClass::Hidraw => bindings::DeviceClass::Hidraw,
        }),
        Capability::Spawn => W::Spawn,
        Capability::Journal => W::Journal,
    }
}

/// A kernel uevent as `ente:core/devices` carries it.
pub fn uevent_to_wit(e: &ente_kernel::uevent::Uevent) -> bindings::Uevent {
    bindings::Uevent {
        action: e.action.clone(),
        devpath: e.devpath.clone(),
        subsystem: e.subsystem.clone(),
        devname: e.devname.clone(),
        seqnum: e.seqnum,
        modalias: e.modalias.clone(),
        env: e.env.iter().map(|(k, v)| (k.clone(), v.clone())).collect(),
    }
}
