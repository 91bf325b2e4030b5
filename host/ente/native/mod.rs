//! Native and Legacy Entes: each is one instance of the shim component
//! (`guests/shim`, pinned in `guests/components.lock`) plus the process
//! tree of its card's program. The Wasm runner makes the shim's body like
//! any other, with `ente:native/process` linked in and reaching a
//! [`port::NativeProcess`]; this module holds what all native bodies of a
//! host share: the cgroup parent, the uids, the runtime directory.

pub mod bus;
mod notify;
mod output;
pub mod port;

use ente_card::{Card, Digest, Payload, Supervision};
use ente_native::{Cgroups, Readiness};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Condvar, Mutex, OnceLock};
use ulid::Ulid;

/// The pinned digest of the shim, from `guests/components.lock`.
pub fn shim_digest() -> Option<Digest> {
    shim_digest_in(include_str!("../../../guests/components.lock"))
}

fn shim_digest_in(lock: &str) -> Option<Digest> {
    lock.lines().find_map(|l| {
        let mut words = l.split_whitespace();
        (words.next() == Some("shim"))
            .then(|| words.next().and_then(Digest::from_hex))
            .flatten()
    })
}

/// The first uid (and gid) given to native Entes when the host is root:
/// systemd's range for dynamic users.
pub const FIRST_UID: u32 = 61184;
/// The last.
pub const LAST_UID: u32 = 65519;

/// Where the host's native settings come from (`ente up` flags, PID 1).
#[derive(Debug, Clone)]
pub struct NativeOptions {
    /// The cgroup every native Ente's leaf goes under (below the host's own).
    pub cgroup_parent: String,
    /// Run native programs as the host's own uid even when it is root.
    pub keep_root: bool,
}

impl Default for NativeOptions {
    fn default() -> NativeOptions {
        let pid = std::process::id();
        NativeOptions {
            cgroup_parent: if pid == 1 {
                "ente".to_owned()
            } else {
                format!("ente-{pid}")
            },
            keep_root: false,
        }
    }
}

/// What the native bodies of one host share.
#[derive(Debug)]
pub struct NativeHost {
    options: NativeOptions,
    cgroups: OnceLock<Cgroups>,
    uids: Mutex<HashMap<Ulid, u32>>,
    /// Teardowns running on threads of their own, which the host's end
    /// waits for.
    teardowns: Mutex<usize>,
    done: Condvar,
    /// The native bus, listening from the first native start.
    bus: Mutex<Option<Arc<bus::NativeBus>>>,
    /// Cgroup leaves in use, by the body (Ente, generation) holding each:
    /// a new body takes its leaf only once the previous one's tree is gone.
    leaves: Mutex<HashMap<String, (Ulid, u64)>>,
    leaf_freed: Condvar,
}

impl NativeHost {
    pub fn new(options: NativeOptions) -> NativeHost {
        NativeHost {
            options,
            cgroups: OnceLock::new(),
            uids: Mutex::new(HashMap::new()),
            teardowns: Mutex::new(0),
            done: Condvar::new(),
            bus: Mutex::new(None),
            leaves: Mutex::new(HashMap::new()),
            leaf_freed: Condvar::new(),
        }
    }

    /// Take the leaf `name` for `ente`'s body `generation`, waiting up to
    /// `within` for the body that holds it to be taken down.
    pub fn claim_leaf(
        &self,
        name: &str,
        ente: Ulid,
        generation: u64,
        within: std::time::Duration,
    ) -> Result<(), String> {
        let leaves = self.leaves.lock().unwrap_or_else(|p| p.into_inner());
        let (mut leaves, _) = self
            .leaf_freed
            .wait_timeout_while(leaves, within, |l| l.contains_key(name))
            .unwrap_or_else(|p| p.into_inner());
        if let Some((holder, g)) = leaves.get(name) {
            return Err(format!(
                "its cgroup leaf `{name}` is still held by {holder} (body {g}), whose tree is being taken down"
            ));
        }
        leaves.insert(name.to_owned(), (ente, generation));
        Ok(())
    }

    /// Give the leaf `name` back, if this body holds it.
    pub fn release_leaf(&self, name: &str, ente: Ulid, generation: u64) {
        let mut leaves = self.leaves.lock().unwrap_or_else(|p| p.into_inner());
        if leaves.get(name) == Some(&(ente, generation)) {
            leaves.remove(name);
            self.leaf_freed.notify_all();
        }
    }

    /// A teardown begins on a thread of its own.
    pub fn teardown_begun(&self) {
        *self.teardowns.lock().unwrap_or_else(|p| p.into_inner()) += 1;
    }

    /// ... and ended.
    pub fn teardown_ended(&self) {
        let mut n = self.teardowns.lock().unwrap_or_else(|p| p.into_inner());
        *n = n.saturating_sub(1);
        self.done.notify_all();
    }

    /// The host's cgroups, probed on first use; what they cannot give is
    /// said once, here.
    pub fn cgroups(&self) -> &Cgroups {
        self.cgroups.get_or_init(|| {
            let c = Cgroups::probe(&self.options.cgroup_parent);
            tracing::info!(leaves = %c.describe(), "native Entes' cgroups");
            for m in c.missing() {
                tracing::warn!("native Entes get no {m}");
            }
            c
        })
    }

    /// The uid and gid `ente` runs as: its own, unless the host is root,
    /// when each native Ente gets one of its own (root ignores
    /// RLIMIT_NPROC, and one Ente could signal another's processes).
    pub fn ids_of(&self, ente: Ulid) -> Result<Option<(u32, u32)>, String> {
        // SAFETY: geteuid reads this process's effective uid.
        if self.options.keep_root || unsafe { libc::geteuid() } != 0 {
            return Ok(None);
        }
        let mut uids = self.uids.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(&uid) = uids.get(&ente) {
            return Ok(Some((uid, uid)));
        }
        // One no process of this machine runs as (another host's Entes
        // included), and no Ente of this host has.
        let taken: std::collections::HashSet<u32> = uids.values().copied().collect();
        let busy = uids_in_use();
        let uid = (FIRST_UID..=LAST_UID)
            .find(|u| !taken.contains(u) && !busy.contains(u))
            .ok_or_else(|| {
                format!("no unprivileged uid is left for it: {FIRST_UID}-{LAST_UID} are all in use")
            })?;
        uids.insert(ente, uid);
        Ok(Some((uid, uid)))
    }

    /// Where the native bus's socket lives: `/run/ente` for PID 1, else a
    /// directory of this process under the temporary directory (readable
    /// by native Entes' own uids, which a home under a private directory
    /// may not be).
    pub fn run_dir(&self) -> Result<PathBuf, String> {
        let dir = if std::process::id() == 1 {
            PathBuf::from("/run/ente")
        } else {
            std::env::temp_dir().join(format!("ente-{}", std::process::id()))
        };
        use std::os::unix::fs::DirBuilderExt;
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o755)
            .create(&dir)
            .map_err(|e| format!("cannot make {}: {e}", dir.display()))?;
        Ok(dir)
    }

    /// Wait (up to 5 s) for teardowns in progress, then remove the cgroup
    /// parents and the runtime directory.
    pub fn shutdown(&self) {
        let n = self.teardowns.lock().unwrap_or_else(|p| p.into_inner());
        let (n, _) = self
            .done
            .wait_timeout_while(n, std::time::Duration::from_secs(5), |n| *n > 0)
            .unwrap_or_else(|p| p.into_inner());
        if *n > 0 {
            tracing::error!(left = *n, "native teardowns still running as the host ends");
        }
        drop(n);
        if let Some(c) = self.cgroups.get() {
            c.remove_parents();
        }
        let bus = self.bus.lock().unwrap_or_else(|p| p.into_inner()).take();
        if let Some(bus) = bus {
            bus.stop();
            if let Some(dir) = bus.path.parent() {
                let _ = std::fs::remove_dir_all(dir);
            }
        }
    }
}

/// The uids that own a process now.
fn uids_in_use() -> std::collections::HashSet<u32> {
    use std::os::unix::fs::MetadataExt;
    std::fs::read_dir("/proc")
        .into_iter()
        .flatten()
        .flatten()
        .filter(|e| {
            e.file_name()
                .to_string_lossy()
                .bytes()
                .all(|b| b.is_ascii_digit())
        })
        .filter_map(|e| e.metadata().ok())
        .map(|m| m.uid())
        .collect()
}

/// What a native card runs: exec, argv, envp, and how readiness is told.
#[derive(Debug)]
pub struct Program<'c> {
    pub exec: &'c str,
    pub argv: &'c [String],
    pub envp: &'c [(String, String)],
    pub readiness: Readiness,
}

/// The program of a Native or Legacy card.
pub fn program(card: &Card) -> Option<Program<'_>> {
    let readiness = |fakes: &[ente_card::Fake]| {
        if card.supervision == Supervision::OneShot {
            Readiness::Exec
        } else if fakes.contains(&ente_card::Fake::SystemdNotify) {
            Readiness::Notify
        } else {
            Readiness::Fd
        }
    };
    match &card.payload {
        Payload::Native { exec, argv, envp } => Some(Program {
            exec,
            argv,
            envp,
            readiness: readiness(&[]),
        }),
        Payload::Legacy {
            exec,
            argv,
            envp,
            fakes,
        } => Some(Program {
            exec,
            argv,
            envp,
            readiness: readiness(fakes),
        }),
        Payload::Wasm { .. } | Payload::Virtual => None,
    }
}

/// The cgroup leaf's name for `card`: its `soma.cgroup.path` (one level:
/// `/` becomes `.`), else its id.
pub fn leaf_name(card: &Card) -> String {
    let path = card.soma.cgroup.path.trim_matches('/');
    if path.is_empty() {
        card.id.to_string()
    } else {
        path.replace('/', ".")
    }
}

/// The working directory of a native program: its own state directory
/// (made its uid's) when its card grants FilesystemRoot, else `/`.
pub fn working_dir(state: Option<PathBuf>, ids: Option<(u32, u32)>) -> PathBuf {
    match state {
        Some(dir) => {
            if let Some((uid, gid)) = ids {
                let _ = std::os::unix::fs::chown(&dir, Some(uid), Some(gid));
            }
            dir
        }
        None => Path::new("/").to_path_buf(),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_shim_is_found_in_the_lock_by_name() {
        let lock = "# comment\necho ab\nshim 2b5e3b1f2fcd9d4d5cd4b7b8d6cbfc4ae8b2c8d0bd4f9c2a1c2d4b8e6f0a1b2c\n";
        assert!(super::shim_digest_in(lock).is_some());
        assert!(super::shim_digest_in("echo ab\n").is_none());
        assert!(super::shim_digest_in("shim not-hex\n").is_none());
    }
}
