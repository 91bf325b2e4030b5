//! PID 1's kernel surface, over `nix`. Nothing here knows wasmtime.
//!
//! - [`surface`]: the mounts, cgroup2 with its controllers, the hostname,
//!   the subreaper, Ctrl-Alt-Del as a signal;
//! - [`reaper`]: the one `waitpid(-1)` loop of the host;
//! - [`uevent`]: NETLINK_KOBJECT_UEVENT, parsed, kernel messages only;
//! - [`modules`]: MODALIAS to module, dependencies first, `finit_module`;
//! - [`coldplug`]: the devices that existed before we listened;
//! - [`input`]: the "Power Button" input device and its KEY_POWER;
//! - [`kmsg`]: the kernel log as PID 1's console, a record per line;
//! - [`power`]: sync, then power off or reboot.
//!
//! Every function returns its errors: PID 1 decides what is fatal (nothing
//! here is), and a failure is an event, never a panic.

pub mod coldplug;
pub mod input;
pub mod kmsg;
pub mod modules;
pub mod power;
pub mod reaper;
pub mod surface;
pub mod uevent;

/// Whether this process is PID 1 (the appliance), not dev mode.
pub fn is_pid1() -> bool {
    std::process::id() == 1
}

/// Monotonic milliseconds since boot (CLOCK_MONOTONIC).
pub fn monotonic_ms() -> u64 {
    nix::time::clock_gettime(nix::time::ClockId::CLOCK_MONOTONIC)
        .map(|t| (t.tv_sec() as u64) * 1000 + (t.tv_nsec() as u64) / 1_000_000)
        .unwrap_or(0)
}
