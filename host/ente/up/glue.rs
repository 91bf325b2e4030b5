//! Where the runtime meets the bus: an instance as a bus body, the bus as
//! the runtime's port, the mediator Ente as the bus's mediator, and the
//! graph as the mediator sees it.

use ente_bus::{Body, Bus, BusError, Decision, Mediator};
use ente_card::{Capability, DeviceClass, Endpoint, NetlinkFamily};
use ente_runtime::{BusPort, GraphView, Identity, Instance, bindings};
use std::sync::{Arc, Weak};
use std::time::Duration;
use ulid::Ulid;

/// A Wasm Ente's body on the bus.
#[derive(Debug)]
pub struct EnteBody(pub Instance);

impl Body for EnteBody {
    fn handle(&mut self, from: Ulid, target: &Endpoint, body: &[u8]) -> Result<Vec<u8>, String> {
        match self.0.handle(&from.to_string(), &to_wit(target), body) {
            Ok(Ok(reply)) => Ok(reply),
            Ok(Err(refusal)) => Err(refusal),
            Err(fault) => Err(fault.to_string()),
        }
    }

    fn failed(&self) -> bool {
        self.0.failed()
    }
}

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

/// The bus as every Ente's `ente:core/bus` reaches it.
#[derive(Debug)]
pub struct BusLink(pub Weak<Bus<EnteBody>>);

impl BusPort for BusLink {
    fn invoke(
        &self,
        caller: &Identity,
        target: bindings::Endpoint,
        body: Vec<u8>,
    ) -> Result<Vec<u8>, bindings::BusError> {
        let Some(bus) = self.0.upgrade() else {
            return Err(bindings::BusError::NoProvider);
        };
        let Ok(caller) = caller.id.parse::<Ulid>() else {
            return Err(bindings::BusError::Denied(format!(
                "unknown caller `{}`",
                caller.label
            )));
        };
        bus.invoke(caller, &from_wit(&target), &body)
            .map_err(|e| match e {
                BusError::Denied(reason) => bindings::BusError::Denied(reason),
                BusError::NoProvider(_) => bindings::BusError::NoProvider,
                BusError::Busy(_) => bindings::BusError::Busy,
                BusError::Cycle(_) => bindings::BusError::Cycle,
                BusError::TooLarge { max, .. } => bindings::BusError::TooLarge(max),
                e @ BusError::ProviderFailed { .. } => {
                    bindings::BusError::ProviderFailed(e.to_string())
                }
            })
    }
}

/// The mediator Ente, asked through the bus like any call.
#[derive(Debug)]
pub struct MediatorEnte {
    pub bus: Weak<Bus<EnteBody>>,
    pub id: Ulid,
}

impl Mediator for MediatorEnte {
    fn decide(&self, caller: Ulid, target: &Endpoint) -> Decision {
        let Some(bus) = self.bus.upgrade() else {
            return Decision::Deny("the host is stopping".into());
        };
        let answer = bus.enter(self.id, |m| {
            m.0.decide(&caller.to_string(), &to_wit(target))
        });
        match answer {
            Ok(Ok(bindings::Decision::Allow(grant))) => match grant.provider.parse() {
                Ok(provider) => Decision::Allow {
                    provider,
                    ttl: Duration::from_millis(grant.ttl_ms),
                },
                Err(_) => Decision::Deny(format!(
                    "the mediator named a provider that is not an Ente id: {}",
                    grant.provider
                )),
            },
            Ok(Ok(bindings::Decision::Deny(reason))) => Decision::Deny(reason),
            Ok(Err(fault)) => Decision::Deny(format!("the mediator failed: {fault}")),
            Err(e) => Decision::Deny(format!("the mediator is not available: {e}")),
        }
    }
}

/// One Ente as the mediator sees it.
#[derive(Debug, Clone)]
pub struct Seen {
    pub id: Ulid,
    pub label: String,
    pub requires: Vec<Capability>,
    pub provides: Vec<Capability>,
}

/// The graph, read only, in start order; only Entes live on the bus count.
#[derive(Debug)]
pub struct GraphSnapshot {
    pub entes: Vec<Seen>,
    pub bus: Weak<Bus<EnteBody>>,
}

impl GraphSnapshot {
    fn live(&self, id: Ulid) -> bool {
        self.bus
            .upgrade()
            .and_then(|b| b.slot(id))
            .is_some_and(|s| s.is_live())
    }
}

impl GraphView for GraphSnapshot {
    fn label(&self, id: &str) -> Option<String> {
        self.entes
            .iter()
            .find(|e| e.id.to_string() == id)
            .map(|e| e.label.clone())
    }

    fn requires(&self, id: &str) -> Vec<bindings::Capability> {
        self.entes
            .iter()
            .find(|e| e.id.to_string() == id)
            .map(|e| e.requires.iter().map(cap_to_wit).collect())
            .unwrap_or_default()
    }

    fn providers(&self, target: &bindings::Endpoint) -> Vec<String> {
        let wanted = Capability::Endpoint {
            endpoint: from_wit(target),
        };
        self.entes
            .iter()
            .filter(|e| e.provides.contains(&wanted) && self.live(e.id))
            .map(|e| e.id.to_string())
            .collect()
    }
}

fn cap_to_wit(c: &Capability) -> bindings::Capability {
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

/// Keep an `Arc` alive for as long as the returned value.
pub fn weak<T>(a: &Arc<T>) -> Weak<T> {
    Arc::downgrade(a)
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
