//! What runs in the new process between `clone3` and `execve`.
//!
//! The host is multi-threaded, so the child is a copy of one thread of it:
//! it may not allocate, take a lock or call a libc function that assumes
//! the parent's threads (glibc's and musl's `setuid` family broadcast to
//! every thread they believe exists). Everything is prepared by the parent
//! beforehand ([`ChildPlan`]), and the child makes raw system calls only.
//! A step that fails writes its number and errno to the error pipe, which
//! `execve` would have closed, and exits 127.

use std::ffi::CString;
use std::os::fd::RawFd;

/// The steps the child takes, in order; a failure names one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u32)]
pub(crate) enum Step {
    Go = 0,
    Setsid,
    Mounts,
    Fds,
    Rlimits,
    Affinity,
    Groups,
    Gid,
    Uid,
    DeathSignal,
    NoNewPrivs,
    Chdir,
    Signals,
    Exec,
}

impl Step {
    pub(crate) fn from_code(code: u32) -> Option<Step> {
        const ALL: [Step; 14] = [
            Step::Go,
            Step::Setsid,
            Step::Mounts,
            Step::Fds,
            Step::Rlimits,
            Step::Affinity,
            Step::Groups,
            Step::Gid,
            Step::Uid,
            Step::DeathSignal,
            Step::NoNewPrivs,
            Step::Chdir,
            Step::Signals,
            Step::Exec,
        ];
        ALL.get(code as usize).copied()
    }

    /// What the step does, in words.
    pub(crate) fn what(self) -> &'static str {
        match self {
            Step::Go => "wait for its cgroup and id maps",
            Step::Setsid => "start its own session (setsid)",
            Step::Mounts => "make its mount namespace private",
            Step::Fds => "set up its stdin, stdout, stderr and readiness fd",
            Step::Rlimits => "set its rlimits",
            Step::Affinity => "set its cpu affinity",
            Step::Groups => "drop its supplementary groups",
            Step::Gid => "take its gid",
            Step::Uid => "take its uid",
            Step::DeathSignal => "ask for SIGKILL should the host die",
            Step::NoNewPrivs => "give up gaining privileges (no_new_privs)",
            Step::Chdir => "enter its working directory",
            Step::Signals => "reset its signal dispositions and mask",
            Step::Exec => "execute",
        }
    }
}

/// Everything the child needs, made by the parent before `clone3`.
pub(crate) struct ChildPlan {
    /// Read end: one byte once the parent placed it (cgroups, id maps).
    pub(crate) go: RawFd,
    /// Write end, close-on-exec: a failed step's number and errno.
    pub(crate) err: RawFd,
    pub(crate) stdin: RawFd,
    pub(crate) stdout: RawFd,
    pub(crate) stderr: RawFd,
    /// Becomes fd 3: the readiness pipe's write end.
    pub(crate) ready: Option<RawFd>,
    pub(crate) exec: CString,
    /// Into strings the caller keeps alive until the child has executed.
    pub(crate) argv_ptrs: Vec<*const libc::c_char>,
    pub(crate) envp_ptrs: Vec<*const libc::c_char>,
    pub(crate) cwd: CString,
    /// (resource, limit) for soft and hard.
    pub(crate) rlimits: Vec<(libc::c_int, u64)>,
    pub(crate) affinity: Option<libc::cpu_set_t>,
    /// (uid, gid) to take; inside a user namespace, 0 (its own root).
    pub(crate) ids: Option<(u32, u32)>,
    /// Drop supplementary groups (not inside a user namespace).
    pub(crate) drop_groups: bool,
    pub(crate) private_mounts: bool,
}

/// The child's whole life before `execve`.
///
/// # Safety
///
/// Called only in the child of `clone3` (without `CLONE_VM`), with a plan
/// whose descriptors and pointers the parent made valid.
pub(crate) unsafe fn run(plan: &ChildPlan) -> ! {
    // SAFETY: each call below is a system call on descriptors and memory the
    // plan owns; see the function's contract.
    unsafe {
        let mut byte = 0u8;
        loop {
            let n = libc::read(plan.go, (&raw mut byte).cast(), 1);
            if n == 1 {
                break;
            }
            if n == 0 || errno() != libc::EINTR {
                fail(plan.err, Step::Go);
            }
        }
        if libc::setsid() < 0 {
            fail(plan.err, Step::Setsid);
        }
        if plan.private_mounts {
            let root = c"/";
            if libc::mount(
                std::ptr::null(),
                root.as_ptr(),
                std::ptr::null(),
                libc::MS_REC | libc::MS_PRIVATE,
                std::ptr::null(),
            ) < 0
            {
                fail(plan.err, Step::Mounts);
            }
        }
        // Sources first moved above 10, so that none is overwritten by
        // another's target (the host's own 0-3 may be closed).
        let mut sources = [
            plan.stdin,
            plan.stdout,
            plan.stderr,
            plan.ready.unwrap_or(-1),
        ];
        for fd in &mut sources {
            if *fd >= 0 {
                let high = libc::fcntl(*fd, libc::F_DUPFD_CLOEXEC, 10);
                if high < 0 {
                    fail(plan.err, Step::Fds);
                }
                *fd = high;
            }
        }
        for (target, fd) in sources.iter().enumerate() {
            if *fd >= 0 && libc::dup2(*fd, target as libc::c_int) < 0 {
                fail(plan.err, Step::Fds);
            }
        }
        // Everything else the host holds closes at exec (std opens with
        // O_CLOEXEC already; this covers what a library did not).
        let first_other = if plan.ready.is_some() { 4 } else { 3 };
        libc::syscall(
            libc::SYS_close_range,
            first_other as libc::c_uint,
            libc::c_uint::MAX,
            libc::CLOSE_RANGE_CLOEXEC,
        );
        for &(resource, limit) in &plan.rlimits {
            let lim = libc::rlimit64 {
                rlim_cur: limit,
                rlim_max: limit,
            };
            if libc::syscall(
                libc::SYS_prlimit64,
                0,
                resource,
                &raw const lim,
                std::ptr::null_mut::<libc::rlimit64>(),
            ) < 0
            {
                fail(plan.err, Step::Rlimits);
            }
        }
        if let Some(set) = &plan.affinity
            && libc::syscall(
                libc::SYS_sched_setaffinity,
                0,
                size_of::<libc::cpu_set_t>(),
                set as *const libc::cpu_set_t,
            ) < 0
        {
            fail(plan.err, Step::Affinity);
        }
        if let Some((uid, gid)) = plan.ids {
            if plan.drop_groups
                && libc::syscall(libc::SYS_setgroups, 0, std::ptr::null::<libc::gid_t>()) < 0
            {
                fail(plan.err, Step::Groups);
            }
            if libc::syscall(libc::SYS_setresgid, gid, gid, gid) < 0 {
                fail(plan.err, Step::Gid);
            }
            if libc::syscall(libc::SYS_setresuid, uid, uid, uid) < 0 {
                fail(plan.err, Step::Uid);
            }
        }
        // After the uid change, which clears it.
        if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL, 0, 0, 0) < 0 {
            fail(plan.err, Step::DeathSignal);
        }
        // No setuid or file-capability program can raise it above its uid.
        if libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0 {
            fail(plan.err, Step::NoNewPrivs);
        }
        if libc::chdir(plan.cwd.as_ptr()) < 0 {
            fail(plan.err, Step::Chdir);
        }
        // A handled signal is reset by exec, an ignored one is not (the
        // host ignores SIGPIPE), and the mask is inherited.
        for signal in 1..=64 {
            if signal != libc::SIGKILL && signal != libc::SIGSTOP {
                let mut action: libc::sigaction = std::mem::zeroed();
                action.sa_sigaction = libc::SIG_DFL;
                // Signals libc keeps for itself refuse; that is harmless.
                libc::sigaction(signal, &raw const action, std::ptr::null_mut());
            }
        }
        let mut empty: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&raw mut empty);
        if libc::sigprocmask(libc::SIG_SETMASK, &raw const empty, std::ptr::null_mut()) < 0 {
            fail(plan.err, Step::Signals);
        }
        libc::execve(
            plan.exec.as_ptr(),
            plan.argv_ptrs.as_ptr(),
            plan.envp_ptrs.as_ptr(),
        );
        fail(plan.err, Step::Exec)
    }
}

fn errno() -> libc::c_int {
    std::io::Error::last_os_error().raw_os_error().unwrap_or(0)
}

/// Report `step` and the errno to the parent, and exit.
fn fail(err: RawFd, step: Step) -> ! {
    let code = errno();
    let mut msg = [0u8; 8];
    msg[..4].copy_from_slice(&(step as u32).to_le_bytes());
    msg[4..].copy_from_slice(&code.to_le_bytes());
    // SAFETY: writes 8 bytes of a local buffer to a descriptor of the plan;
    // `_exit` ends the process without running the host's atexit handlers.
    unsafe {
        libc::write(err, msg.as_ptr().cast(), msg.len());
        libc::_exit(127)
    }
}
