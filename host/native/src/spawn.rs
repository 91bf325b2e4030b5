//! Start a native Ente's program under its soma.
//!
//! `clone3` gives the child's pidfd from the start (so a reused pid is never
//! mistaken for it) and puts it straight into its cgroup v2 leaf. The child
//! waits on a pipe until the parent has placed it in its v1 leaves and
//! written its user namespace's id maps, then takes its soma and executes
//! the program ([`crate::child`]). A failure before `execve` comes back as
//! the step and the errno; the program's environment is the card's `envp`
//! and what the host adds, nothing inherited.

use crate::cgroup::Leaf;
use crate::child::{ChildPlan, Step};
use ente_card::{Namespaces, Rlimits};
use std::ffi::CString;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::path::Path;

/// How the host learns that the program is ready.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Readiness {
    /// Once `execve` succeeded (a OneShot).
    Exec,
    /// A line written to fd 3 (`ENTE_READY_FD`), as s6's notification fd.
    Fd,
    /// `READY=1` on `NOTIFY_SOCKET` (sd_notify), served by the caller.
    Notify,
}

/// The fd number the readiness pipe has in the program.
pub const READY_FD: i32 = 3;

/// The PATH a program gets when its card sets none (systemd's default).
pub const DEFAULT_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// What to start, and under which soma.
#[derive(Debug, Clone)]
pub struct Launch<'a> {
    pub exec: &'a str,
    /// After argv[0], which is `exec`.
    pub argv: &'a [String],
    /// The card's envp and what the host adds.
    pub envp: Vec<(String, String)>,
    pub namespaces: Namespaces,
    pub rlimits: Rlimits,
    pub cpu_affinity: Option<&'a [u16]>,
    /// (uid, gid) to run as; `None` keeps the host's.
    pub ids: Option<(u32, u32)>,
    pub cwd: &'a Path,
    pub leaf: Option<&'a Leaf>,
    pub readiness: Readiness,
}

/// A started program.
#[derive(Debug)]
pub struct Spawned {
    pub pid: i32,
    pub pidfd: OwnedFd,
    /// The readiness pipe's read end ([`Readiness::Fd`]).
    pub ready: Option<OwnedFd>,
    pub stdout: OwnedFd,
    pub stderr: OwnedFd,
    /// What of the soma was applied, and what was not (with why).
    pub applied: Vec<String>,
    pub not_applied: Vec<String>,
}

/// Why a program did not start.
#[derive(Debug, thiserror::Error)]
pub enum SpawnError {
    #[error("payload.{field} {value:?} holds a NUL byte, which no program can be given")]
    Nul { field: &'static str, value: String },
    #[error("cannot {what}: {source}")]
    Host {
        what: &'static str,
        source: io::Error,
    },
    #[error(transparent)]
    Cgroup(#[from] crate::cgroup::CgroupError),
    #[error("payload.exec `{exec}`: the child could not {what}: {source}")]
    Child {
        exec: String,
        what: &'static str,
        source: io::Error,
    },
}

const CLONE_INTO_CGROUP: u64 = 0x2_0000_0000;

/// The kernel's `struct clone_args` (version 2, 88 bytes).
#[repr(C)]
#[derive(Default)]
struct CloneArgs {
    flags: u64,
    pidfd: u64,
    child_tid: u64,
    parent_tid: u64,
    exit_signal: u64,
    stack: u64,
    stack_size: u64,
    tls: u64,
    set_tid: u64,
    set_tid_size: u64,
    cgroup: u64,
}

fn cstring(field: &'static str, s: &str) -> Result<CString, SpawnError> {
    CString::new(s).map_err(|_| SpawnError::Nul {
        field,
        value: s.to_owned(),
    })
}

fn pipe() -> Result<(OwnedFd, OwnedFd), SpawnError> {
    let mut fds = [0; 2];
    // SAFETY: pipe2 writes two descriptors into the array.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } < 0 {
        return Err(SpawnError::Host {
            what: "make a pipe",
            source: io::Error::last_os_error(),
        });
    }
    // SAFETY: both are new descriptors this function alone owns.
    Ok(unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) })
}

fn namespace_flags(ns: &Namespaces) -> (u64, Vec<&'static str>) {
    let mut flags = 0u64;
    let mut names = Vec::new();
    for (wanted, flag, name) in [
        (ns.user, libc::CLONE_NEWUSER, "user"),
        (ns.mount, libc::CLONE_NEWNS, "mount"),
        (ns.pid, libc::CLONE_NEWPID, "pid"),
        (ns.net, libc::CLONE_NEWNET, "net"),
        (ns.uts, libc::CLONE_NEWUTS, "uts"),
        (ns.ipc, libc::CLONE_NEWIPC, "ipc"),
        (ns.cgroup, libc::CLONE_NEWCGROUP, "cgroup"),
    ] {
        if wanted {
            flags |= flag as u64;
            names.push(name);
        }
    }
    (flags, names)
}

/// The cpus of `wanted` this process may run on; `None` if it names none.
fn affinity(wanted: &[u16]) -> Option<(libc::cpu_set_t, Vec<u16>)> {
    // SAFETY: an all-zero cpu_set_t is the empty set.
    let mut allowed: libc::cpu_set_t = unsafe { std::mem::zeroed() };
    // SAFETY: fills the set of this thread's allowed cpus.
    if unsafe { libc::sched_getaffinity(0, size_of::<libc::cpu_set_t>(), &mut allowed) } < 0 {
        return None;
    }
    // SAFETY: as above.
    let mut set: libc::cpu_set_t = unsafe { std::mem::zeroed() };
    let mut kept = Vec::new();
    for &cpu in wanted {
        let cpu_n = usize::from(cpu);
        // SAFETY: CPU_ISSET/CPU_SET bound the index by the set's size.
        if cpu_n < 8 * size_of::<libc::cpu_set_t>() && unsafe { libc::CPU_ISSET(cpu_n, &allowed) } {
            // SAFETY: as above.
            unsafe { libc::CPU_SET(cpu_n, &mut set) };
            kept.push(cpu);
        }
    }
    (!kept.is_empty()).then_some((set, kept))
}

/// Start `launch.exec` under its soma. `on_pid` is told the pid once the
/// process exists and before it may run the program (so that the host can
/// map the pid to its Ente before the pid can end).
pub fn spawn(launch: &Launch<'_>, on_pid: &mut dyn FnMut(i32)) -> Result<Spawned, SpawnError> {
    let mut applied = Vec::new();
    let mut not_applied = Vec::new();
    let exec = cstring("exec", launch.exec)?;
    let mut strings = vec![exec.clone()];
    for a in launch.argv {
        strings.push(cstring("argv", a)?);
    }
    let argc = strings.len();
    let mut env = launch.envp.clone();
    if !env.iter().any(|(k, _)| k == "PATH") {
        env.push(("PATH".into(), DEFAULT_PATH.into()));
    }
    if launch.readiness == Readiness::Fd {
        env.push(("ENTE_READY_FD".into(), READY_FD.to_string()));
    }
    for (k, v) in &env {
        strings.push(cstring("envp", &format!("{k}={v}"))?);
    }
    let mut argv_ptrs: Vec<*const libc::c_char> =
        strings[..argc].iter().map(|s| s.as_ptr()).collect();
    argv_ptrs.push(std::ptr::null());
    let mut envp_ptrs: Vec<*const libc::c_char> =
        strings[argc..].iter().map(|s| s.as_ptr()).collect();
    envp_ptrs.push(std::ptr::null());

    let mut rlimits = Vec::new();
    let r = &launch.rlimits;
    if let Some(n) = r.nproc {
        rlimits.push((libc::RLIMIT_NPROC as libc::c_int, u64::from(n)));
        applied.push(format!("RLIMIT_NPROC={n}"));
    }
    if let Some(n) = r.nofile {
        rlimits.push((libc::RLIMIT_NOFILE as libc::c_int, u64::from(n)));
        applied.push(format!("RLIMIT_NOFILE={n}"));
    }
    if let Some(b) = r.mem_bytes {
        rlimits.push((libc::RLIMIT_DATA as libc::c_int, b));
        applied.push(format!("RLIMIT_DATA={b}"));
    }
    if r.energy_budget_mw.is_some() {
        not_applied.push("energy_budget_mw (this host meters no energy)".to_owned());
    }
    let cpus = match launch.cpu_affinity {
        Some(wanted) => match affinity(wanted) {
            Some((set, kept)) => {
                applied.push(format!("cpu_affinity={kept:?}"));
                Some(set)
            }
            None => {
                not_applied.push(format!(
                    "cpu_affinity={wanted:?} (names no cpu this host may use)"
                ));
                None
            }
        },
        None => None,
    };
    if let Some(leaf) = launch.leaf {
        applied.extend(leaf.applied.iter().cloned());
        not_applied.extend(leaf.not_applied.iter().cloned());
    }

    let (go_r, go_w) = pipe()?;
    let (err_r, err_w) = pipe()?;
    let (out_r, out_w) = pipe()?;
    let (errout_r, errout_w) = pipe()?;
    let ready = match launch.readiness {
        Readiness::Fd => Some(pipe()?),
        _ => None,
    };
    let stdin = std::fs::File::open("/dev/null").map_err(|source| SpawnError::Host {
        what: "open /dev/null",
        source,
    })?;
    let (ns_flags, ns_names) = namespace_flags(&launch.namespaces);
    let user_ns = launch.namespaces.user;
    let plan = |with_user_ns: bool| ChildPlan {
        go: go_r.as_raw_fd(),
        err: err_w.as_raw_fd(),
        stdin: stdin.as_raw_fd(),
        stdout: out_w.as_raw_fd(),
        stderr: errout_w.as_raw_fd(),
        ready: ready.as_ref().map(|(_, w)| w.as_raw_fd()),
        exec: exec.clone(),
        argv_ptrs: argv_ptrs.clone(),
        envp_ptrs: envp_ptrs.clone(),
        cwd: CString::new(launch.cwd.as_os_str().as_encoded_bytes())
            .unwrap_or_else(|_| c"/".into()),
        rlimits: rlimits.clone(),
        affinity: cpus,
        // Inside its own user namespace the program is that namespace's
        // root, mapped to `ids` outside.
        ids: if with_user_ns {
            Some((0, 0))
        } else {
            launch.ids
        },
        drop_groups: !with_user_ns,
        private_mounts: launch.namespaces.mount,
    };
    let mut pidfd: libc::c_int = -1;
    let mut args = CloneArgs {
        flags: libc::CLONE_PIDFD as u64 | ns_flags,
        pidfd: (&raw mut pidfd) as u64,
        exit_signal: libc::SIGCHLD as u64,
        ..CloneArgs::default()
    };
    if let Some(fd) = launch.leaf.and_then(Leaf::v2_fd) {
        args.flags |= CLONE_INTO_CGROUP;
        args.cgroup = fd as u64;
    }
    let mut child_plan = plan(user_ns);
    let mut pid = clone3(&mut args, &child_plan);
    if pid < 0 && ns_flags != 0 {
        let e = io::Error::last_os_error();
        not_applied.push(format!("namespaces {} ({e})", ns_names.join(", ")));
        args.flags &= !ns_flags;
        child_plan = plan(false);
        pid = clone3(&mut args, &child_plan);
    } else if ns_flags != 0 {
        applied.push(format!("namespaces {}", ns_names.join(", ")));
    }
    if pid < 0 {
        return Err(SpawnError::Host {
            what: "clone3 the program's process",
            source: io::Error::last_os_error(),
        });
    }
    let pid = pid as i32;
    // SAFETY: clone3 wrote the child's new pidfd, which only we hold.
    let pidfd = unsafe { OwnedFd::from_raw_fd(pidfd) };
    drop(child_plan);
    let placed = (|| {
        if let Some(leaf) = launch.leaf {
            leaf.place_v1(pid)?;
        }
        if args.flags & libc::CLONE_NEWUSER as u64 != 0 {
            let (uid, gid) = launch.ids.unwrap_or_else(|| {
                // SAFETY: getuid/getgid read the caller's ids.
                unsafe { (libc::geteuid(), libc::getegid()) }
            });
            let proc = format!("/proc/{pid}");
            let write = |file: &str, text: String| {
                std::fs::write(format!("{proc}/{file}"), text).map_err(|source| SpawnError::Host {
                    what: "write the user namespace's id maps",
                    source,
                })
            };
            write("setgroups", "deny".into())?;
            write("uid_map", format!("0 {uid} 1"))?;
            write("gid_map", format!("0 {gid} 1"))?;
        }
        Ok::<(), SpawnError>(())
    })();
    if let Err(e) = placed {
        let _ = crate::pidfd_signal(std::os::fd::AsFd::as_fd(&pidfd), libc::SIGKILL);
        return Err(e);
    }
    if let Some((uid, gid)) = launch.ids {
        applied.push(format!("uid {uid} gid {gid}"));
    }
    applied.push("no_new_privs".to_owned());
    on_pid(pid);
    drop((go_r, err_w, out_w, errout_w, stdin));
    let ready = ready.map(|(r, w)| {
        drop(w);
        r
    });
    write_all(&go_w, b"g");
    drop(go_w);
    let mut msg = [0u8; 8];
    let n = read_full(&err_r, &mut msg);
    if n == msg.len() {
        let step = u32::from_le_bytes([msg[0], msg[1], msg[2], msg[3]]);
        let errno = i32::from_le_bytes([msg[4], msg[5], msg[6], msg[7]]);
        return Err(SpawnError::Child {
            exec: launch.exec.to_owned(),
            what: Step::from_code(step).map_or("start", Step::what),
            source: io::Error::from_raw_os_error(errno),
        });
    }
    Ok(Spawned {
        pid,
        pidfd,
        ready,
        stdout: out_r,
        stderr: errout_r,
        applied,
        not_applied,
    })
}

/// `clone3`; in the child, [`crate::child::run`] and never a return.
fn clone3(args: &mut CloneArgs, plan: &ChildPlan) -> libc::c_long {
    // SAFETY: clone3 reads `args` (its size passed) and, with CLONE_PIDFD,
    // writes the pidfd where `args.pidfd` points; without CLONE_VM the child
    // gets a copy of this address space, and its stack, so this frame.
    let pid = unsafe {
        libc::syscall(
            libc::SYS_clone3,
            args as *mut CloneArgs,
            size_of::<CloneArgs>(),
        )
    };
    if pid == 0 {
        // SAFETY: this is the child of clone3, and `plan` was made valid by
        // the parent before the call.
        unsafe { crate::child::run(plan) }
    }
    pid
}

fn write_all(fd: &OwnedFd, bytes: &[u8]) {
    // SAFETY: writes from a live slice to a descriptor we own.
    unsafe { libc::write(fd.as_raw_fd(), bytes.as_ptr().cast(), bytes.len()) };
}

/// Read until `buf` is full or end of file; how many bytes were read.
fn read_full(fd: &OwnedFd, buf: &mut [u8]) -> usize {
    let mut got = 0;
    while got < buf.len() {
        // SAFETY: reads into the unfilled tail of a live buffer.
        let n = unsafe {
            libc::read(
                fd.as_raw_fd(),
                buf[got..].as_mut_ptr().cast(),
                buf.len() - got,
            )
        };
        if n > 0 {
            got += n as usize;
        } else if n == 0 || io::Error::last_os_error().kind() != io::ErrorKind::Interrupted {
            break;
        }
    }
    got
}
