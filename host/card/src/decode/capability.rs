//! `Capability`: the tagged union of typed rights.

use super::Decoder;
use crate::fault::{JsonPath, Rule};
use crate::model::{Capability, DeviceClass, Endpoint, NetlinkFamily, lower_hex_val};
use serde_json::Value;

const CAPABILITY_FIELDS: &[&str] = &[
    "kind",
    "netlink_family",
    "endpoint_interface",
    "endpoint_version",
    "device_class",
];
const CAPABILITY_KINDS: &[&str] = &[
    "FilesystemRoot",
    "KernelNetlink",
    "Endpoint",
    "LegacyLogind",
    "Device",
    "Spawn",
    "Journal",
];

/// 32 lowercase hex characters: one spelling per interface id, so that two
/// cards naming the same endpoint always match.
pub(crate) fn is_interface_id(s: &str) -> bool {
    s.len() == 32 && s.bytes().all(|b| lower_hex_val(b).is_some())
}

impl Decoder {
    pub(super) fn capability(&mut self, v: &Value, path: JsonPath) -> Option<Capability> {
        let o = self.object(v, &path, "Capability", CAPABILITY_FIELDS)?;
        let kind = self.required(&o, "kind").and_then(|v| {
            self.literal(v, o.at("kind"), CAPABILITY_KINDS, |s| {
                CAPABILITY_KINDS.contains(&s).then(|| s.to_owned())
            })
        });
        let family = o.get("netlink_family").map(|v| {
            self.literal(
                v,
                o.at("netlink_family"),
                NetlinkFamily::NAMES,
                NetlinkFamily::from_name,
            )
        });
        let class = o.get("device_class").map(|v| {
            self.literal(
                v,
                o.at("device_class"),
                DeviceClass::NAMES,
                DeviceClass::from_name,
            )
        });
        let interface = self
            .opt_string(&o, "endpoint_interface")
            .and_then(|s| match s {
                Some(s) if !is_interface_id(s) => {
                    self.fault(
                        o.at("endpoint_interface"),
                        o.get("endpoint_interface"),
                        Rule::InterfaceHex,
                    );
                    None
                }
                other => Some(other),
            });
        let version = self.opt_int(&o, "endpoint_version", 0, i64::from(u32::MAX));

        let kind = kind?;
        self.only_for(&o, "netlink_family", &kind, &["KernelNetlink"]);
        self.only_for(&o, "endpoint_interface", &kind, &["Endpoint"]);
        self.only_for(&o, "endpoint_version", &kind, &["Endpoint"]);
        self.only_for(&o, "device_class", &kind, &["Device"]);
        let need = |d: &mut Self, name: &str, present: bool| {
            if !present {
                d.fault(o.at(name), None, Rule::Required);
            }
        };
        match kind.as_str() {
            "FilesystemRoot" => Some(Capability::FilesystemRoot),
            "LegacyLogind" => Some(Capability::LegacyLogind),
            "Spawn" => Some(Capability::Spawn),
            "Journal" => Some(Capability::Journal),
            "KernelNetlink" => {
                need(self, "netlink_family", family.is_some());
                Some(Capability::KernelNetlink {
                    netlink_family: family??,
                })
            }
            "Device" => {
                need(self, "device_class", class.is_some());
                Some(Capability::Device {
                    device_class: class??,
                })
            }
            "Endpoint" => {
                need(self, "endpoint_interface", !matches!(interface, Some(None)));
                need(self, "endpoint_version", !matches!(version, Some(None)));
                let version = u32::try_from(version??).ok()?;
                Some(Capability::Endpoint {
                    endpoint: Endpoint {
                        interface: interface??.to_owned(),
                        version,
                    },
                })
            }
            _ => None,
        }
    }
}
