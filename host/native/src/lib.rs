//! `ente-native`: the process side of a native Ente. The shim component is
//! the Ente's body; what it asks of the host through `ente:native/process`
//! ends here: the card's program started under its soma, its readiness, its
//! stop and the report that nothing of it is left.
//!
//! - [`spawn`]: `clone3` (a pidfd from the start, straight into its cgroup
//!   v2 leaf where there is one), the soma applied in the child before
//!   `execve` with raw system calls only, and what was applied reported.
//! - [`cgroup`]: a leaf per Ente, v2 where cgroup2 is mounted (the unit of
//!   tracking and of `cgroup.kill`), its limits on the v2 controllers that
//!   are delegated, else on the writable v1 `pids`, `memory` and `cpu`
//!   hierarchies; what cannot be applied is said once.
//! - [`tree`]: the live process tree: readiness, signals, and the stop
//!   (SIGTERM to every process, a deadline, SIGKILL to the whole cgroup or
//!   process group) with its [`tree::Teardown`] report.
//!
//! This crate never calls `waitpid`: the host's one reaper does, and tells
//! a tree how its main process ended. It knows nothing of wasmtime.

pub mod cgroup;
mod child;
pub mod spawn;
pub mod tree;

pub use cgroup::{Cgroups, Leaf};
pub use ente_kernel::reaper::{Ending, signal_name};
pub use spawn::{Launch, Readiness, SpawnError, Spawned, spawn};
pub use tree::{ExitCell, How, NotReady, Teardown, Tree};

use std::os::fd::{AsRawFd, BorrowedFd};

/// Send `signal` to the process behind `pidfd` (never to a reused pid).
pub fn pidfd_signal(pidfd: BorrowedFd<'_>, signal: i32) -> std::io::Result<()> {
    // SAFETY: pidfd_send_signal takes a pid file descriptor, a signal number,
    // a null siginfo and zero flags; it reads no memory of ours.
    let r = unsafe {
        libc::syscall(
            libc::SYS_pidfd_send_signal,
            pidfd.as_raw_fd(),
            signal,
            std::ptr::null::<libc::siginfo_t>(),
            0,
        )
    };
    if r < 0 {
        Err(std::io::Error::last_os_error())
    } else {
        Ok(())
    }
}

/// Whether the process behind `pidfd` has ended (it may not be reaped yet).
pub fn pidfd_ended(pidfd: BorrowedFd<'_>, timeout_ms: i32) -> bool {
    let mut p = libc::pollfd {
        fd: pidfd.as_raw_fd(),
        events: libc::POLLIN,
        revents: 0,
    };
    // SAFETY: one valid pollfd, counted as one.
    let r = unsafe { libc::poll(&mut p, 1, timeout_ms) };
    r > 0 && p.revents & (libc::POLLIN | libc::POLLHUP | libc::POLLERR) != 0
}
