//! A cgroup leaf per native Ente, under a parent the host names.
//!
//! cgroup2, where mounted, holds every leaf: it is how the host knows an
//! Ente's processes and kills them all at once (`cgroup.kill`), with or
//! without controllers. Limits go on the v2 controllers delegated to the
//! parent; a limit whose controller v2 lacks goes on a writable v1
//! hierarchy of that controller (`pids`, `memory`, `cpu`) when there is
//! one, as on the hybrid layout of the dev machines. What can be applied
//! neither way is named once, by [`Cgroups::missing`].

use std::fs;
use std::io;
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::path::{Path, PathBuf};

/// The limits a card asks of its cgroup.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Limits {
    pub mem_bytes: Option<u64>,
    pub nproc: Option<u32>,
    pub cpu_weight: Option<u16>,
    pub io_weight: Option<u16>,
}

/// The controllers a limit needs, in v2's names.
const CONTROLLERS: [&str; 4] = ["memory", "pids", "cpu", "io"];

#[derive(Debug)]
struct V2 {
    parent: PathBuf,
    /// Of [`CONTROLLERS`], those enabled for the parent's children.
    enabled: Vec<&'static str>,
}

#[derive(Debug)]
struct V1 {
    controller: &'static str,
    parent: PathBuf,
}

/// The host's cgroups: where leaves go, and which limits reach them.
#[derive(Debug)]
pub struct Cgroups {
    v2: Option<V2>,
    v1: Vec<V1>,
    missing: Vec<String>,
}

/// A cgroup fault, naming the path.
#[derive(Debug, thiserror::Error)]
pub enum CgroupError {
    #[error("cannot create cgroup {path}: {source}")]
    Create { path: PathBuf, source: io::Error },
    #[error("cgroup {path} still holds processes {pids:?}, from an earlier body or another host")]
    InUse { path: PathBuf, pids: Vec<i32> },
    #[error("cannot open cgroup {path}: {source}")]
    Open { path: PathBuf, source: io::Error },
    #[error("cannot move pid {pid} into {path}: {source}")]
    Place {
        pid: i32,
        path: PathBuf,
        source: io::Error,
    },
}

impl Cgroups {
    /// Find the hierarchies and make the parent `name` in each (below the
    /// host's own cgroup). Never fails: what is not there is missing.
    pub fn probe(name: &str) -> Cgroups {
        let mounts = fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
        let own = fs::read_to_string("/proc/self/cgroup").unwrap_or_default();
        Cgroups::probe_in(&mounts, &own, name)
    }

    fn probe_in(mountinfo: &str, own: &str, name: &str) -> Cgroups {
        let mut missing = Vec::new();
        let v2 = mount_of(mountinfo, |fstype, _| fstype == "cgroup2").and_then(|mount| {
            let own_path = own
                .lines()
                .find_map(|l| l.strip_prefix("0::"))
                .unwrap_or("/");
            let own_dir = under(&mount, own_path);
            let parent = own_dir.join(name);
            if let Err(e) = make_dir(&parent) {
                missing.push(format!("cgroup v2 leaves ({}: {e})", parent.display()));
                return None;
            }
            let offered = read_words(&own_dir.join("cgroup.controllers"));
            let mut enabled = Vec::new();
            for c in CONTROLLERS {
                if !offered.iter().any(|o| o == c) {
                    continue;
                }
                // At the root (PID 1) this enables them; in a cgroup that
                // holds processes the kernel refuses, and they stay off.
                let _ = fs::write(own_dir.join("cgroup.subtree_control"), format!("+{c}"));
                if fs::write(parent.join("cgroup.subtree_control"), format!("+{c}")).is_ok() {
                    enabled.push(c);
                }
            }
            Some(V2 { parent, enabled })
        });
        if v2.is_none() && missing.is_empty() {
            missing.push("cgroup2 is not mounted: no cgroup leaves, so a native Ente is tracked and killed by its process group".to_owned());
        }
        let mut v1 = Vec::new();
        for (controller, v1_name) in [("pids", "pids"), ("memory", "memory"), ("cpu", "cpu")] {
            if v2.as_ref().is_some_and(|v| v.enabled.contains(&controller)) {
                continue;
            }
            let found = mount_of(mountinfo, |fstype, opts| {
                fstype == "cgroup" && opts.split(',').any(|o| o == v1_name)
            })
            .and_then(|mount| {
                let own_path = own.lines().find_map(|l| {
                    let mut parts = l.splitn(3, ':');
                    let (_, list, path) = (parts.next()?, parts.next()?, parts.next()?);
                    list.split(',').any(|c| c == v1_name).then_some(path)
                })?;
                let parent = under(&mount, own_path).join(name);
                make_dir(&parent).ok()?;
                Some(parent)
            });
            if let Some(parent) = found {
                v1.push(V1 { controller, parent });
            }
        }
        for (controller, limit) in [
            ("memory", "memory.max (mem_bytes)"),
            ("pids", "pids.max (nproc)"),
            ("cpu", "cpu.weight"),
            ("io", "io.weight"),
        ] {
            let in_v2 = v2.as_ref().is_some_and(|v| v.enabled.contains(&controller));
            let in_v1 = v1.iter().any(|v| v.controller == controller);
            if !in_v2 && !in_v1 {
                missing.push(format!(
                    "{limit}: the {controller} controller is neither delegated to cgroup2 nor a writable v1 hierarchy"
                ));
            }
        }
        Cgroups { v2, v1, missing }
    }

    /// What no leaf of this host can have, one line each (empty when all is there).
    pub fn missing(&self) -> &[String] {
        &self.missing
    }

    /// Where leaves go, in words: `v2 /sys/fs/cgroup/ente (memory pids), v1 pids`.
    pub fn describe(&self) -> String {
        let mut parts = Vec::new();
        if let Some(v2) = &self.v2 {
            parts.push(format!(
                "v2 {} ({})",
                v2.parent.display(),
                if v2.enabled.is_empty() {
                    "no controllers".to_owned()
                } else {
                    v2.enabled.join(" ")
                }
            ));
        }
        for v in &self.v1 {
            parts.push(format!("v1 {}", v.parent.display()));
        }
        if parts.is_empty() {
            "none".to_owned()
        } else {
            parts.join(", ")
        }
    }

    /// A leaf `name` with `limits` applied where they can be.
    pub fn leaf(&self, name: &str, limits: &Limits) -> Result<Leaf, CgroupError> {
        let mut leaf = Leaf::default();
        if let Some(v2) = &self.v2 {
            let path = v2.parent.join(name);
            fresh(&path)?;
            let dir = fs::File::open(&path).map_err(|source| CgroupError::Open {
                path: path.clone(),
                source,
            })?;
            let mut set = |c: &'static str, file: &str, value: Option<String>| {
                if let Some(value) = value
                    && v2.enabled.contains(&c)
                {
                    leaf.note(fs::write(path.join(file), &value), file, &value);
                }
            };
            set(
                "memory",
                "memory.max",
                limits.mem_bytes.map(|b| b.to_string()),
            );
            set("pids", "pids.max", limits.nproc.map(|n| n.to_string()));
            set(
                "cpu",
                "cpu.weight",
                limits.cpu_weight.map(|w| w.to_string()),
            );
            set(
                "io",
                "io.weight",
                limits.io_weight.map(|w| format!("default {w}")),
            );
            leaf.v2 = Some((path, OwnedFd::from(dir)));
        }
        for v in &self.v1 {
            let (file, value) = match v.controller {
                "pids" => ("pids.max", limits.nproc.map(|n| n.to_string())),
                "memory" => (
                    "memory.limit_in_bytes",
                    limits.mem_bytes.map(|b| b.to_string()),
                ),
                _ => (
                    "cpu.shares",
                    limits
                        .cpu_weight
                        .map(|w| (u64::from(w) * 1024 / 100).max(2).to_string()),
                ),
            };
            let Some(value) = value else { continue };
            let path = v.parent.join(name);
            fresh(&path)?;
            leaf.note(fs::write(path.join(file), &value), file, &value);
            leaf.v1.push(path);
        }
        let asked = [
            ("memory", limits.mem_bytes.is_some(), "memory.max"),
            ("pids", limits.nproc.is_some(), "pids.max"),
            ("cpu", limits.cpu_weight.is_some(), "cpu.weight"),
            ("io", limits.io_weight.is_some(), "io.weight"),
        ];
        for (controller, wanted, what) in asked {
            let v2 = self
                .v2
                .as_ref()
                .is_some_and(|v| v.enabled.contains(&controller));
            let v1 = self.v1.iter().any(|v| v.controller == controller);
            if wanted && !v2 && !v1 {
                leaf.not_applied
                    .push(format!("{what} (no {controller} controller here)"));
            }
        }
        Ok(leaf)
    }

    /// Remove the parents (once every leaf is gone; best effort).
    pub fn remove_parents(&self) {
        if let Some(v2) = &self.v2 {
            let _ = fs::remove_dir(&v2.parent);
        }
        for v in &self.v1 {
            let _ = fs::remove_dir(&v.parent);
        }
    }
}

/// One Ente's cgroups: its v2 leaf, and v1 leaves for limits v2 lacks.
#[derive(Debug, Default)]
pub struct Leaf {
    v2: Option<(PathBuf, OwnedFd)>,
    v1: Vec<PathBuf>,
    /// The limits written, as `file=value`.
    pub applied: Vec<String>,
    /// The limits asked for and not written, with why.
    pub not_applied: Vec<String>,
}

impl Leaf {
    fn note(&mut self, r: io::Result<()>, file: &str, value: &str) {
        match r {
            Ok(()) => self.applied.push(format!("{file}={value}")),
            Err(e) => self.not_applied.push(format!("{file}={value} ({e})")),
        }
    }

    /// The v2 leaf's path.
    pub fn v2_path(&self) -> Option<&Path> {
        self.v2.as_ref().map(|(p, _)| p.as_path())
    }

    /// The v2 leaf's directory, for `CLONE_INTO_CGROUP`.
    pub fn v2_fd(&self) -> Option<RawFd> {
        self.v2.as_ref().map(|(_, fd)| fd.as_raw_fd())
    }

    /// Every path of this leaf.
    pub fn paths(&self) -> impl Iterator<Item = &Path> {
        self.v2
            .iter()
            .map(|(p, _)| p.as_path())
            .chain(self.v1.iter().map(PathBuf::as_path))
    }

    /// Move `pid` into the v1 leaves (v2 placed it at clone).
    pub fn place_v1(&self, pid: i32) -> Result<(), CgroupError> {
        for path in &self.v1 {
            fs::write(path.join("cgroup.procs"), pid.to_string()).map_err(|source| {
                CgroupError::Place {
                    pid,
                    path: path.clone(),
                    source,
                }
            })?;
        }
        Ok(())
    }

    /// Whether the leaf tracks processes (it has a v2 or a v1 leaf).
    pub fn tracks(&self) -> bool {
        self.v2.is_some() || !self.v1.is_empty()
    }

    /// The live processes in the leaf.
    pub fn procs(&self) -> Vec<i32> {
        self.paths()
            .next()
            .map(|p| read_pids(&p.join("cgroup.procs")))
            .unwrap_or_default()
    }

    /// SIGKILL every process in the leaf: `cgroup.kill` on v2, else each
    /// pid listed (again until none is left, or `rounds` are done).
    pub fn kill_all(&self) {
        if let Some((path, _)) = &self.v2
            && fs::write(path.join("cgroup.kill"), "1").is_ok()
        {
            return;
        }
        for _ in 0..8 {
            let pids = self.procs();
            if pids.is_empty() {
                return;
            }
            for pid in pids {
                // SAFETY: kill(2) with a pid read from this leaf; it reads
                // no memory.
                unsafe { libc::kill(pid, libc::SIGKILL) };
            }
        }
    }

    /// Signal every process in the leaf.
    pub fn signal_all(&self, signal: i32) {
        for pid in self.procs() {
            // SAFETY: kill(2), as above.
            unsafe { libc::kill(pid, signal) };
        }
    }

    /// Remove every leaf directory; the paths that could not be removed.
    pub fn remove(&self) -> Vec<(PathBuf, io::Error)> {
        let mut left = Vec::new();
        for path in self.paths() {
            let mut last = None;
            // A leaf empties a moment after its last process exits.
            for _ in 0..50 {
                match fs::remove_dir(path) {
                    Ok(()) => {
                        last = None;
                        break;
                    }
                    Err(e) if e.kind() == io::ErrorKind::NotFound => {
                        last = None;
                        break;
                    }
                    Err(e) => last = Some(e),
                }
                std::thread::sleep(std::time::Duration::from_millis(2));
            }
            if let Some(e) = last {
                left.push((path.to_path_buf(), e));
            }
        }
        left
    }
}

fn under(mount: &Path, path: &str) -> PathBuf {
    mount.join(path.trim_start_matches('/'))
}

fn make_dir(path: &Path) -> io::Result<()> {
    match fs::create_dir(path) {
        Err(e) if e.kind() != io::ErrorKind::AlreadyExists => Err(e),
        _ => Ok(()),
    }
}

/// Make the leaf `path`; an existing one must be empty.
fn fresh(path: &Path) -> Result<(), CgroupError> {
    make_dir(path).map_err(|source| CgroupError::Create {
        path: path.to_path_buf(),
        source,
    })?;
    let pids = read_pids(&path.join("cgroup.procs"));
    if pids.is_empty() {
        Ok(())
    } else {
        Err(CgroupError::InUse {
            path: path.to_path_buf(),
            pids,
        })
    }
}

fn read_words(path: &Path) -> Vec<String> {
    fs::read_to_string(path)
        .unwrap_or_default()
        .split_whitespace()
        .map(str::to_owned)
        .collect()
}

fn read_pids(path: &Path) -> Vec<i32> {
    fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| l.trim().parse().ok())
        .collect()
}

/// The mount point of the first mount whose filesystem type and super
/// options satisfy `wanted` (`/proc/self/mountinfo` lines).
fn mount_of(mountinfo: &str, wanted: impl Fn(&str, &str) -> bool) -> Option<PathBuf> {
    mountinfo.lines().find_map(|line| {
        let (before, after) = line.split_once(" - ")?;
        let point = before.split(' ').nth(4)?;
        let mut rest = after.split(' ');
        let fstype = rest.next()?;
        let _source = rest.next()?;
        let opts = rest.next().unwrap_or("");
        wanted(fstype, opts).then(|| PathBuf::from(point))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const HYBRID: &str = "\
35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
39 31 0:36 / /sys/fs/cgroup/pids rw,relatime - cgroup cgroup rw,pids
41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
";

    #[test]
    fn mounts_are_found_by_type_and_controller() {
        assert_eq!(
            mount_of(HYBRID, |t, _| t == "cgroup2"),
            Some(PathBuf::from("/sys/fs/cgroup/unified"))
        );
        assert_eq!(
            mount_of(HYBRID, |t, o| t == "cgroup"
                && o.split(',').any(|c| c == "pids")),
            Some(PathBuf::from("/sys/fs/cgroup/pids"))
        );
        assert_eq!(
            mount_of(HYBRID, |t, o| t == "cgroup" && o.contains("cpu,")),
            None
        );
    }

    #[test]
    fn without_any_cgroup_mount_every_limit_is_named_missing() {
        let c = Cgroups::probe_in("", "0::/\n", "ente-test");
        assert!(c.v2.is_none() && c.v1.is_empty());
        let all = c.missing().join("\n");
        for limit in [
            "memory.max",
            "pids.max",
            "cpu.weight",
            "io.weight",
            "process group",
        ] {
            assert!(all.contains(limit), "{limit} not named in:\n{all}");
        }
        let leaf = c
            .leaf(
                "x",
                &Limits {
                    nproc: Some(8),
                    ..Limits::default()
                },
            )
            .expect("a leaf without hierarchies");
        assert!(!leaf.tracks());
        assert_eq!(leaf.not_applied, ["pids.max (no pids controller here)"]);
    }
}
