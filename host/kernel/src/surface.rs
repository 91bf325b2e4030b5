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

struct Fs {
    target: &'static str,
    fstype: &'static str,
    flags: MsFlags,
    data: &'static str,
}

const NOSUID_NODEV: MsFlags = MsFlags::MS_NOSUID.union(MsFlags::MS_NODEV);

/// In mount order: /dev/pts and /dev/shm need /dev; cgroup2 needs /sys.
const SURFACE: &[Fs] = &[
    Fs {
        target: "/proc",
        fstype: "proc",
        flags: NOSUID_NODEV.union(MsFlags::MS_NOEXEC),
        data: "",
    },
    Fs {
        target: "/sys",
        fstype: "sysfs",
        flags: NOSUID_NODEV.union(MsFlags::MS_NOEXEC),
        data: "",
    },
    Fs {
        target: "/dev",
        fstype: "devtmpfs",
        flags: MsFlags::MS_NOSUID,
        data: "mode=0755",
    },
    Fs {
        target: "/dev/pts",
        fstype: "devpts",
        flags: MsFlags::MS_NOSUID.union(MsFlags::MS_NOEXEC),
        data: "gid=5,mode=0620,ptmxmode=0666",
    },
    Fs {
        target: "/dev/shm",
        fstype: "tmpfs",
        flags: NOSUID_NODEV,
        data: "mode=1777",
    },
    Fs {
        target: "/run",
        fstype: "tmpfs",
        flags: NOSUID_NODEV,
        data: "mode=0755",
    },
    Fs {
        target: "/tmp",
        fstype: "tmpfs",
        flags: NOSUID_NODEV,
        data: "mode=1777",
    },
    Fs {
        target: "/sys/fs/cgroup",
        fstype: "cgroup2",
        flags: NOSUID_NODEV.union(MsFlags::MS_NOEXEC),
        data: "nsdelegate",
    },
];

/// Mount every filesystem of the surface; an already mounted one is fine.
/// Returns the failures; the rest is mounted regardless.
pub fn mount_all() -> Vec<SurfaceError> {
    let mut errors = Vec::new();
    for fs in SURFACE {
        let target = Path::new(fs.target);
        if let Err(source) = std::fs::create_dir_all(target) {
            errors.push(SurfaceError::Mkdir {
                path: target.to_owned(),
                source,
            });
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
