//! The one reaper. Only this module calls `waitpid`, and only with -1: on
//! SIGCHLD it reaps every child and orphan that has exited.

use nix::errno::Errno;
use nix::sys::wait::{WaitPidFlag, WaitStatus, waitpid};

/// How a reaped process ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ending {
    Exited(i32),
    Signaled { signal: i32, core_dumped: bool },
}

/// One reaped process.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Reaped {
    pub pid: i32,
    pub ending: Ending,
}

impl std::fmt::Display for Reaped {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.ending {
            Ending::Exited(code) => write!(f, "pid {} exited with {code}", self.pid),
            Ending::Signaled { .. } => write!(f, "pid {} {}", self.pid, self.ending),
        }
    }
}

impl std::fmt::Display for Ending {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match *self {
            Ending::Exited(code) => write!(f, "exited with {code}"),
            Ending::Signaled {
                signal,
                core_dumped,
            } => write!(
                f,
                "killed by {}{}",
                signal_name(signal),
                if core_dumped { " (core dumped)" } else { "" }
            ),
        }
    }
}

/// A signal's name (`SIGTERM`), or `signal N` for one without a name.
pub fn signal_name(signal: i32) -> String {
    match nix::sys::signal::Signal::try_from(signal) {
        Ok(s) => s.as_str().to_owned(),
        Err(_) => format!("signal {signal}"),
    }
}

/// Reap every process that has exited, without blocking.
pub fn reap_all() -> Vec<Reaped> {
    let mut reaped = Vec::new();
    loop {
        match waitpid(None, Some(WaitPidFlag::WNOHANG)) {
            Ok(WaitStatus::Exited(pid, code)) => reaped.push(Reaped {
                pid: pid.as_raw(),
                ending: Ending::Exited(code),
            }),
            Ok(WaitStatus::Signaled(pid, signal, core_dumped)) => reaped.push(Reaped {
                pid: pid.as_raw(),
                ending: Ending::Signaled {
                    signal: signal as i32,
                    core_dumped,
                },
            }),
            Ok(WaitStatus::StillAlive) | Err(Errno::ECHILD) => return reaped,
            Ok(_) | Err(Errno::EINTR) => continue,
            Err(_) => return reaped,
        }
    }
}
