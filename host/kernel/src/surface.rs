//! The kernel surface PID 1 sets up: filesystems, cgroup2, hostname,
//! subreaper, and Ctrl-Alt-Del delivered as SIGINT.

use nix::mount::{MsFlags, mount};
use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum SurfaceError {
    #[error("mount {fstype} on {target}: {source}")]
    Mount {
        target: PathBuf,
        fstype: &'static str,
        source: nix::Error,
    },
    #[error("mkdir {path}: {source}")]
    Mkdir {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cgroup2 controllers: writing `{wanted}` to {file}: {source}")]
    Controllers {
        file: PathBuf,
        wanted: String,
        source: std::io::Error,
    },
    #[error("sethostname `{name}`: {source}")]
    Hostname { name: String, source: nix::Error },
    #[error("{what}: {source}")]
    Prctl {
        what: &'static str,
        source: nix::Error,
    },
}

/// When a filesystem of the surface is mounted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// Before the graph starts: /proc (the kernel command line), /sys and
    /// /dev.
    Boot,
    /// Once the graph is ready: what only native bodies and later services
    /// use (/dev/pts, /dev/shm, /run, /tmp, cgroup2). Every mount costs
    /// boot time under emulation, and Wasm Entes touch none of these.
    Settle,
}

struct Fs {
    phase: Phase,
    target: &'static str,
    fstype: &'static str,
    flags: MsFlags,
    data: &'static str,
}

const NOSUID_NODEV: MsFlags = MsFlags::MS_NOSUID.union(MsFlags::MS_NODEV);

/// In mount order: /dev/pts and /dev/shm need /dev; cgroup2 needs /sys.
/// Every [`Phase::Boot`] entry comes before the [`Phase::Settle`] ones.
const SURFACE: &[Fs] = &[
    Fs {
        phase: Phase::Boot,
        target: "/proc",
        fstype: "proc",
        flags: NOSUID_NODEV.union(MsFlags::MS_NOEXEC),
        data: "",
    },
    Fs {
        phase: Phase::Boot,
        target: "/sys",
        fstype: "sysfs",
        flags: NOSUID_NODEV.union(MsFlags::MS_NOEXEC),
        data: "",
    },
    Fs {
        phase: Phase::Boot,
        target: "/dev",
        fstype: "devtmpfs",
        flags: MsFlags::MS_NOSUID,
        data: "mode=0755",
    },
    Fs {
        phase: Phase::Settle,
        target: "/dev/pts",
        fstype: "devpts",
        flags: MsFlags::MS_NOSUID.union(MsFlags::MS_NOEXEC),
        data: "gid=5,mode=0620,ptmxmode=0666",
    },
    Fs {
        phase: Phase::Settle,
        target: "/dev/shm",
        fstype: "tmpfs",
        flags: NOSUID_NODEV,
        data: "mode=1777",
    },
    Fs {
        phase: Phase::Settle,
        target: "/run",
        fstype: "tmpfs",
        flags: NOSUID_NODEV,
        data: "mode=0755",
    },
    Fs {
        phase: Phase::Settle,
        target: "/tmp",
        fstype: "tmpfs",
        flags: NOSUID_NODEV,
        data: "mode=1777",
    },
    Fs {
        phase: Phase::Settle,
        target: "/sys/fs/cgroup",
        fstype: "cgroup2",
        flags: NOSUID_NODEV.union(MsFlags::MS_NOEXEC),
        data: "nsdelegate",
    },
];

/// Mount the filesystems of the surface for `phase`; an already mounted one
/// is fine. Returns the failures; the rest is mounted regardless.
pub fn mount_all(phase: Phase) -> Vec<SurfaceError> {
    let mut errors = Vec::new();
    for fs in SURFACE.iter().filter(|fs| fs.phase == phase) {
        let target = Path::new(fs.target);
        if let Err(source) = std::fs::create_dir_all(target) {
            errors.push(SurfaceError::Mkdir {
                path: target.to_owned(),
                source,
            });
            continue;
        }
        // Mounted already (an earlier phase took it early): not again, which
        // would hide what is under it.
        if is_mount_point(target) {
            continue;
        }
        let data = (!fs.data.is_empty()).then_some(fs.data);
        match mount(Some(fs.fstype), target, Some(fs.fstype), fs.flags, data) {
            Ok(()) | Err(nix::Error::EBUSY) => {}
            Err(source) => errors.push(SurfaceError::Mount {
                target: target.to_owned(),
                fstype: fs.fstype,
                source,
            }),
        }
    }
    errors
}

/// Whether `path` is the root of a mount (its device differs from its
/// parent's).
fn is_mount_point(path: &Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    let (Some(parent), Ok(me)) = (path.parent(), std::fs::metadata(path)) else {
        return false;
    };
    std::fs::metadata(parent).is_ok_and(|p| p.dev() != me.dev())
}

/// Enable every controller cgroup2 offers for the cgroups below the root.
/// Returns the controllers enabled.
pub fn enable_controllers(root: &Path) -> Result<Vec<String>, SurfaceError> {
    let available = root.join("cgroup.controllers");
    let offered =
        std::fs::read_to_string(&available).map_err(|source| SurfaceError::Controllers {
            file: available.clone(),
            wanted: String::new(),
            source,
        })?;
    let controllers: Vec<String> = offered.split_whitespace().map(str::to_owned).collect();
    let wanted: Vec<String> = controllers.iter().map(|c| format!("+{c}")).collect();
    let wanted = wanted.join(" ");
    let file = root.join("cgroup.subtree_control");
    std::fs::write(&file, &wanted).map_err(|source| SurfaceError::Controllers {
        file,
        wanted,
        source,
    })?;
    Ok(controllers)
}

pub fn set_hostname(name: &str) -> Result<(), SurfaceError> {
    nix::unistd::sethostname(name).map_err(|source| SurfaceError::Hostname {
        name: name.to_owned(),
        source,
    })
}

/// Become the child subreaper: orphans of our children are reparented to us.
pub fn become_subreaper() -> Result<(), SurfaceError> {
    nix::sys::prctl::set_child_subreaper(true).map_err(|source| SurfaceError::Prctl {
        what: "PR_SET_CHILD_SUBREAPER",
        source,
    })
}

/// Ctrl-Alt-Del reaches PID 1 as SIGINT instead of rebooting at once.
pub fn cad_as_signal() -> Result<(), SurfaceError> {
    nix::sys::reboot::set_cad_enabled(false).map_err(|source| SurfaceError::Prctl {
        what: "reboot(CAD_OFF)",
        source,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn boot_mounts_come_first_and_settle_mounts_need_only_them() {
        let first_settle = SURFACE.iter().position(|fs| fs.phase == Phase::Settle);
        let last_boot = SURFACE.iter().rposition(|fs| fs.phase == Phase::Boot);
        assert!(
            last_boot < first_settle,
            "every Boot mount precedes the Settle ones"
        );
        let boot: Vec<&str> = SURFACE
            .iter()
            .filter(|fs| fs.phase == Phase::Boot)
            .map(|fs| fs.target)
            .collect();
        assert_eq!(boot, ["/proc", "/sys", "/dev"]);
        for fs in SURFACE.iter().filter(|fs| fs.phase == Phase::Settle) {
            let parent = Path::new(fs.target).parent().and_then(Path::to_str);
            assert!(
                matches!(parent, Some("/")) || boot.iter().any(|b| fs.target.starts_with(b)),
                "{} must sit on / or on a Boot mount",
                fs.target
            );
        }
    }
}
