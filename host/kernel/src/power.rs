//! The end: flush to disk, then power off or reboot.

use nix::sys::reboot::{RebootMode, reboot};

/// What the machine does after the graph stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Finish {
    PowerOff,
    Reboot,
}

/// Sync, then power off or reboot. Returns only if the kernel refused.
pub fn finish(how: Finish) -> nix::Error {
    nix::unistd::sync();
    let mode = match how {
        Finish::PowerOff => RebootMode::RB_POWER_OFF,
        Finish::Reboot => RebootMode::RB_AUTOBOOT,
    };
    match reboot(mode) {
        Ok(never) => match never {},
        Err(e) => e,
    }
}
