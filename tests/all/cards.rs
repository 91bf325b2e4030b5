//! Cards for the end-to-end tests: an Ente of a built guest, with what it
//! provides, requires and is given, and seeds that hold them under the
//! mediator.

use crate::support::guest;
use serde_json::{Value, json};
use ulid::Ulid;

pub const MEDIATOR: &str = "656e74652d6d65646961746f722d7631";
/// "echo-endpoint-v1".
pub const ECHO: &str = "6563686f2d656e64706f696e742d7631";

/// An endpoint of the tests: 16 bytes named by `tag`, as hex.
pub fn endpoint(tag: &str) -> String {
    let mut bytes = [b'.'; 16];
    for (b, t) in bytes.iter_mut().zip(tag.bytes()) {
        *b = t;
    }
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

pub fn ep(interface: &str) -> ente_card::Endpoint {
    ente_card::Endpoint {
        interface: interface.into(),
        version: 1,
    }
}

/// One Ente of a test graph.
#[derive(Debug, Clone)]
pub struct Ente {
    pub id: Ulid,
    pub card: Value,
}

/// A ULID made from `label`, so that a test's ids are stable.
pub fn id_of(label: &str) -> Ulid {
    Ulid::from(blake3_u128(label))
}

fn blake3_u128(s: &str) -> u128 {
    let d = ente_runtime::digest_of(s.as_bytes()).0;
    u128::from_le_bytes(d[..16].try_into().expect("16 bytes"))
}

pub fn digest_of_guest(name: &str) -> String {
    ente_runtime::digest_of(&std::fs::read(guest(name)).expect("read guest")).to_string()
}

impl Ente {
    /// An Ente of the guest `guest` (a file of target/guests), OneShot,
    /// requiring Journal.
    pub fn new(label: &str, guest_name: &str) -> Ente {
        Ente::of_digest(label, &digest_of_guest(guest_name))
    }

    /// An Ente of the component `digest`.
    pub fn of_digest(label: &str, digest: &str) -> Ente {
        let id = id_of(label);
        Ente {
            id,
            card: json!({
                "id": id.to_string(), "label": label,
                "provides": [], "requires": [{"kind": "Journal"}], "soma": {},
                "payload": {"kind": "Wasm", "module_blake3": digest, "entry": "ente:core/lifecycle", "envp": []},
                "supervision": {"kind": "OneShot"}
            }),
        }
    }

    /// A grouping node (`Virtual`): no body, only children.
    pub fn group(label: &str) -> Ente {
        let id = id_of(label);
        Ente {
            id,
            card: json!({
                "id": id.to_string(), "label": label,
                "provides": [], "requires": [], "soma": {},
                "payload": {"kind": "Virtual"}, "supervision": {"kind": "OneShot"}
            }),
        }
    }

    pub fn provides(mut self, interface: &str) -> Ente {
        push(
            &mut self.card["provides"],
            json!({"kind": "Endpoint", "endpoint_interface": interface, "endpoint_version": 1}),
        );
        self
    }

    pub fn requires(mut self, interface: &str) -> Ente {
        push(
            &mut self.card["requires"],
            json!({"kind": "Endpoint", "endpoint_interface": interface, "endpoint_version": 1}),
        );
        self
    }

    pub fn requires_cap(mut self, cap: Value) -> Ente {
        push(&mut self.card["requires"], cap);
        self
    }

    pub fn env(mut self, key: &str, value: &str) -> Ente {
        push(&mut self.card["payload"]["envp"], json!({ key: value }));
        self
    }

    pub fn restart(mut self, initial_ms: u64, max_ms: u64) -> Ente {
        self.card["supervision"] =
            json!({"kind": "Restart", "initial_ms": initial_ms, "max_ms": max_ms});
        self
    }

    pub fn delegate(mut self) -> Ente {
        self.card["supervision"] = json!({"kind": "Delegate"});
        self
    }

    pub fn mem(mut self, bytes: u64) -> Ente {
        self.card["soma"] = json!({"rlimits": {"mem_bytes": bytes}});
        self
    }

    pub fn nproc(mut self, n: u32) -> Ente {
        self.card["soma"] = json!({"rlimits": {"nproc": n}});
        self
    }

    pub fn child(mut self, child: Ente) -> Ente {
        let mut card = child.card;
        card["lineage"] = json!(self.id.to_string());
        push(&mut self.card["genesis"], card);
        self
    }
}

fn push(array: &mut Value, v: Value) {
    if !array.is_array() {
        *array = json!([]);
    }
    if let Some(a) = array.as_array_mut() {
        a.push(v);
    }
}

pub const ROOT: &str = "01J00000000000000000000R00";

/// The graph's mediator, of the guest `guest`.
pub fn mediator(guest_name: &str) -> Ente {
    let mut mediator = Ente::new("mediator", guest_name);
    mediator.card["payload"]["entry"] = json!("ente:core/mediator");
    mediator.card["requires"] = json!([]);
    mediator.card["provides"] =
        json!([{"kind": "Endpoint", "endpoint_interface": MEDIATOR, "endpoint_version": 1}]);
    mediator.card["supervision"] = json!({"kind": "Restart", "initial_ms": 50, "max_ms": 1000});
    mediator
}

/// A seed: a Virtual root that holds Journal, FilesystemRoot, Spawn and the
/// mediator's endpoint, the default mediator, then `entes` in order.
pub fn seed(entes: &[Ente]) -> Value {
    seed_mediated(mediator("mediator"), entes)
}

/// The brain's endpoint: the seat the seed hands out.
pub const BRAIN: &str = "656e74652d72756c652d656e67696e65";

/// A [`seed`] that seats `brain` as the graph's brain (the brain's
/// endpoint in the seed's provides and in the brain's), then `others`.
pub fn seed_with_brain(mut brain: Ente, others: &[Ente]) -> Value {
    let seat = json!({"kind": "Endpoint", "endpoint_interface": BRAIN, "endpoint_version": 1});
    brain.card["provides"] = json!([seat.clone()]);
    let mut all = vec![brain];
    all.extend_from_slice(others);
    let mut card = seed(&all);
    if let Some(p) = card["provides"].as_array_mut() {
        p.push(seat);
    }
    card
}

/// [`seed`] with another mediator.
pub fn seed_mediated(mediator: Ente, entes: &[Ente]) -> Value {
    let mut m = mediator.card;
    m["lineage"] = json!(ROOT);
    let mut genesis = vec![m];
    for e in entes {
        let mut card = e.card.clone();
        card["lineage"] = json!(ROOT);
        genesis.push(card);
    }
    json!({
        "id": ROOT, "label": "test-seed",
        "provides": [
            {"kind": "Journal"}, {"kind": "FilesystemRoot"}, {"kind": "Spawn"},
            {"kind": "Endpoint", "endpoint_interface": MEDIATOR, "endpoint_version": 1}
        ],
        "soma": {}, "payload": {"kind": "Virtual"}, "supervision": {"kind": "OneShot"},
        "genesis": genesis
    })
}
