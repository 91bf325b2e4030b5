//! The card as typed data. Values of these types are only built by
//! [`crate::parse`], so every one of them already satisfies the grammar.

use serde::Serialize;
use std::fmt;
use ulid::Ulid;

/// The only card schema version this host understands.
pub const SCHEMA_VERSION: i64 = 1;

/// An Ente's identity card.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Card {
    pub schema_version: i64,
    #[serde(serialize_with = "ser_ulid")]
    pub id: Ulid,
    #[serde(
        serialize_with = "ser_opt_ulid",
        skip_serializing_if = "Option::is_none"
    )]
    pub lineage: Option<Ulid>,
    pub label: String,
    pub provides: Vec<Capability>,
    pub requires: Vec<Capability>,
    pub soma: Soma,
    pub payload: Payload,
    pub supervision: Supervision,
    pub genesis: Vec<Card>,
}

impl Card {
    /// This card and all its genesis descendants, depth first, parents before children.
    pub fn walk(&self) -> impl Iterator<Item = &Card> {
        let mut stack = vec![self];
        std::iter::from_fn(move || {
            let card = stack.pop()?;
            stack.extend(card.genesis.iter().rev());
            Some(card)
        })
    }
}

/// A typed right. Serialised as the grammar's tagged union (`kind` plus the
/// fields of that kind).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
#[serde(tag = "kind")]
pub enum Capability {
    FilesystemRoot,
    KernelNetlink {
        netlink_family: NetlinkFamily,
    },
    Endpoint {
        #[serde(flatten)]
        endpoint: Endpoint,
    },
    LegacyLogind,
    Device {
        device_class: DeviceClass,
    },
    Spawn,
    Journal,
}

impl Capability {
    /// The grammar's name of this capability's kind.
    pub fn kind(&self) -> &'static str {
        match self {
            Capability::FilesystemRoot => "FilesystemRoot",
            Capability::KernelNetlink { .. } => "KernelNetlink",
            Capability::Endpoint { .. } => "Endpoint",
            Capability::LegacyLogind => "LegacyLogind",
            Capability::Device { .. } => "Device",
            Capability::Spawn => "Spawn",
            Capability::Journal => "Journal",
        }
    }
}

impl fmt::Display for Capability {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Capability::KernelNetlink { netlink_family } => {
                write!(f, "KernelNetlink{{{netlink_family:?}}}")
            }
            Capability::Endpoint { endpoint } => write!(f, "Endpoint{{{endpoint}}}"),
            Capability::Device { device_class } => write!(f, "Device{{{device_class:?}}}"),
            other => f.write_str(other.kind()),
        }
    }
}

/// A typed bus address: a 16-byte interface id (32 lowercase hex) and a version.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub struct Endpoint {
    #[serde(rename = "endpoint_interface")]
    pub interface: String,
    #[serde(rename = "endpoint_version")]
    pub version: u32,
}

impl fmt::Display for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}@{}", self.interface, self.version)
    }
}

macro_rules! literal_enum {
    ($(#[$m:meta])* $name:ident { $($variant:ident),+ $(,)? }) => {
        $(#[$m])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
        pub enum $name { $($variant),+ }

        impl $name {
            /// Every literal the grammar allows, in grammar order.
            pub const NAMES: &'static [&'static str] = &[$(stringify!($variant)),+];

            /// The variant spelled `s`, if the grammar has it.
            pub fn from_name(s: &str) -> Option<Self> {
                match s {
                    $(stringify!($variant) => Some($name::$variant),)+
                    _ => None,
                }
            }
        }
    };
}

literal_enum!(
    /// The netlink family of a `KernelNetlink` capability.
    NetlinkFamily { Uevent, Route, Generic, Audit }
);
literal_enum!(
    /// The device class of a `Device` capability.
    DeviceClass { Block, Tty, Input, Drm, Net, Hidraw }
);
literal_enum!(
    /// A systemd interface that a Legacy payload's shim fakes for its process.
    Fake { SystemdLogind, SystemdHostnamed, SystemdNotify }
);

/// The body: isolation and resource limits.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Soma {
    pub namespaces: Namespaces,
    pub rlimits: Rlimits,
    pub cgroup: Cgroup,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cpu_affinity: Option<Vec<u16>>,
}

/// Which Linux namespaces a native body gets of its own.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Namespaces {
    pub mount: bool,
    pub pid: bool,
    pub net: bool,
    pub uts: bool,
    pub ipc: bool,
    pub user: bool,
    pub cgroup: bool,
}

/// Resource limits; `None` leaves the limit as inherited.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Rlimits {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mem_bytes: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub nproc: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub nofile: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub energy_budget_mw: Option<u64>,
}

/// A cgroup v2 leaf, relative to the host's own slice, and its weights.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Cgroup {
    pub path: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cpu_weight: Option<u16>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub io_weight: Option<u16>,
}

/// How the Ente is incarnated.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind")]
pub enum Payload {
    /// A WebAssembly component, pinned by the blake3 digest of its bytes.
    Wasm {
        module_blake3: Digest,
        entry: String,
        argv: Vec<String>,
        #[serde(serialize_with = "ser_env")]
        envp: Vec<(String, String)>,
    },
    /// A native program, run behind the shim component.
    Native {
        exec: String,
        argv: Vec<String>,
        #[serde(serialize_with = "ser_env")]
        envp: Vec<(String, String)>,
    },
    /// A native program that expects systemd; the shim fakes what it names.
    Legacy {
        exec: String,
        argv: Vec<String>,
        #[serde(serialize_with = "ser_env")]
        envp: Vec<(String, String)>,
        fakes: Vec<Fake>,
    },
    /// No body: a grouping node for its genesis children.
    Virtual,
}

/// A blake3 digest, 32 bytes; shown as 64 lowercase hex characters.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Digest(pub [u8; 32]);

impl Digest {
    /// Parse 64 lowercase hex characters.
    pub fn from_hex(s: &str) -> Option<Digest> {
        let bytes = s.as_bytes();
        if bytes.len() != 64 {
            return None;
        }
        let mut out = [0u8; 32];
        for (i, pair) in bytes.chunks_exact(2).enumerate() {
            out[i] = (lower_hex_val(pair[0])? << 4) | lower_hex_val(pair[1])?;
        }
        Some(Digest(out))
    }
}

pub(crate) fn lower_hex_val(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        _ => None,
    }
}

impl fmt::Display for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.iter().try_for_each(|b| write!(f, "{b:02x}"))
    }
}

impl fmt::Debug for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Digest({self})")
    }
}

impl Serialize for Digest {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// What happens after the Ente's body dies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(tag = "kind")]
pub enum Supervision {
    /// Restart with exponential backoff from `initial_ms` up to `max_ms`.
    Restart { initial_ms: u64, max_ms: u64 },
    /// Run once; a death is final.
    OneShot,
    /// The parent Ente decides.
    Delegate,
}

fn ser_ulid<S: serde::Serializer>(id: &Ulid, s: S) -> Result<S::Ok, S::Error> {
    s.collect_str(id)
}

fn ser_opt_ulid<S: serde::Serializer>(id: &Option<Ulid>, s: S) -> Result<S::Ok, S::Error> {
    match id {
        Some(id) => s.collect_str(id),
        None => s.serialize_none(),
    }
}

fn ser_env<S: serde::Serializer>(env: &[(String, String)], s: S) -> Result<S::Ok, S::Error> {
    use serde::ser::SerializeSeq;
    let mut seq = s.serialize_seq(Some(env.len()))?;
    for (k, v) in env {
        seq.serialize_element(&std::collections::BTreeMap::from([(k, v)]))?;
    }
    seq.end()
}
