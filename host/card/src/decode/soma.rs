//! `SomaSpec`: namespaces, rlimits, cgroup and CPU affinity.

use super::Decoder;
use crate::fault::{JsonPath, Rule};
use crate::model::{Cgroup, Namespaces, Rlimits, Soma};
use serde_json::Value;

const SOMA_FIELDS: &[&str] = &["namespaces", "rlimits", "cgroup", "cpu_affinity"];
const NAMESPACE_FIELDS: &[&str] = &["mount", "pid", "net", "uts", "ipc", "user", "cgroup"];
const RLIMIT_FIELDS: &[&str] = &["mem_bytes", "nproc", "nofile", "energy_budget_mw"];
const CGROUP_FIELDS: &[&str] = &["path", "cpu_weight", "io_weight"];

/// The largest `mem_bytes` a card may ask for: 1 TiB.
pub const MAX_MEM_BYTES: i64 = 1 << 40;
/// CPU numbers a card may pin to: `0..MAX_CPUS`.
pub const MAX_CPUS: i64 = 1024;

/// A cgroup path relative to ente's slice: parts of `[A-Za-z0-9_.@-]`,
/// none of them empty, `.` or `..`. Empty means "the Ente's default leaf".
pub(crate) fn is_cgroup_path(s: &str) -> bool {
    s.is_empty()
        || s.split('/').all(|part| {
            !part.is_empty()
                && part != "."
                && part != ".."
                && part
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"_.@-".contains(&b))
        })
}

impl Decoder {
    pub(super) fn soma(&mut self, v: &Value, path: &JsonPath) -> Option<Soma> {
        let o = self.object(v, path, "SomaSpec", SOMA_FIELDS)?;
        let namespaces = self
            .sub_object(&o, "namespaces", "NamespaceSet", NAMESPACE_FIELDS)
            .and_then(|ns| match ns {
                None => Some(Namespaces::default()),
                Some(ns) => Some(Namespaces {
                    mount: self.opt_bool(&ns, "mount")?,
                    pid: self.opt_bool(&ns, "pid")?,
                    net: self.opt_bool(&ns, "net")?,
                    uts: self.opt_bool(&ns, "uts")?,
                    ipc: self.opt_bool(&ns, "ipc")?,
                    user: self.opt_bool(&ns, "user")?,
                    cgroup: self.opt_bool(&ns, "cgroup")?,
                }),
            });
        let rlimits = self
            .sub_object(&o, "rlimits", "ResourceLimits", RLIMIT_FIELDS)
            .and_then(|rl| match rl {
                None => Some(Rlimits::default()),
                Some(rl) => {
                    let mem = self.opt_int(&rl, "mem_bytes", 1, MAX_MEM_BYTES);
                    let nproc = self.opt_int(&rl, "nproc", 1, 65_535);
                    let nofile = self.opt_int(&rl, "nofile", 1, 1_048_576);
                    let energy = self.opt_int(&rl, "energy_budget_mw", 1, i64::MAX);
                    Some(Rlimits {
                        mem_bytes: mem?.map(|n| n.unsigned_abs()),
                        nproc: nproc?.and_then(|n| u32::try_from(n).ok()),
                        nofile: nofile?.and_then(|n| u32::try_from(n).ok()),
                        energy_budget_mw: energy?.map(|n| n.unsigned_abs()),
                    })
                }
            });
        let cgroup = self
            .sub_object(&o, "cgroup", "CgroupSpec", CGROUP_FIELDS)
            .and_then(|cg| {
                let Some(cg) = cg else {
                    return Some(Cgroup::default());
                };
                let path = self.opt_string(&cg, "path").and_then(|p| match p {
                    Some(p) if !is_cgroup_path(p) => {
                        self.fault(cg.at("path"), cg.get("path"), Rule::CgroupPath);
                        None
                    }
                    p => Some(p.unwrap_or_default().to_owned()),
                });
                let cpu = self.opt_int(&cg, "cpu_weight", 1, 10_000);
                let io = self.opt_int(&cg, "io_weight", 1, 10_000);
                Some(Cgroup {
                    path: path?,
                    cpu_weight: cpu?.and_then(|n| u16::try_from(n).ok()),
                    io_weight: io?.and_then(|n| u16::try_from(n).ok()),
                })
            });
        let cpu_affinity = match o.get("cpu_affinity") {
            None => Some(None),
            Some(_) => self
                .list(&o, "cpu_affinity", |d, v, path| {
                    d.int(v, path, 0, MAX_CPUS - 1)
                })
                .map(|cpus| {
                    Some(
                        cpus.into_iter()
                            .filter_map(|c| u16::try_from(c).ok())
                            .collect(),
                    )
                }),
        };
        Some(Soma {
            namespaces: namespaces?,
            rlimits: rlimits?,
            cgroup: cgroup?,
            cpu_affinity: cpu_affinity?,
        })
    }
}
