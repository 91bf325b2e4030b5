//! Why an Ente's body ended, or never began: typed, so that supervision
//! branches on the variant and never on a message's text.

use std::time::Duration;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Cause {
    /// The guest trapped; `code` is wasmtime's trap code when the guest's
    /// own code trapped (`UnreachableCodeReached`, `StackOverflow`, ...).
    #[error("trapped in `{call}`{}: {message}", .code.as_deref().map(|c| format!(" ({c})")).unwrap_or_default())]
    Trap {
        call: String,
        code: Option<String>,
        message: String,
    },
    /// A call ran past its deadline (the guest spun, or waited too long in
    /// a host call).
    #[error("`{call}` ran past its deadline of {budget:?}")]
    Deadline { call: String, budget: Duration },
    /// The guest asked for more memory than its card allows.
    #[error("memory limit of {limit} bytes reached in `{call}`")]
    MemoryLimit { call: String, limit: u64 },
    /// The host ended it by force.
    #[error("killed: {why}")]
    Killed { why: String },
    /// Its `lifecycle.start` returned an error.
    #[error("its start was refused: {reason}")]
    Refused { reason: String },
    /// No body can be made from its payload as it is: a missing or tampered
    /// component, an import its card does not grant, an export it lacks, a
    /// limit it asks for that the host cannot give. Trying again does not
    /// help, so it is never restarted.
    #[error("{message}")]
    Unbuildable { message: String },
    /// A native Ente's main process exited (its code, 0 included: a
    /// supervised daemon is not meant to end).
    #[error("exited with {code}")]
    Exited { code: i32 },
    /// A native Ente's main process was killed by a signal.
    #[error("was killed by {name}{}", if *.core_dumped { " (core dumped)" } else { "" })]
    Signaled {
        signal: i32,
        name: String,
        core_dumped: bool,
    },
    /// A native Ente missed its sd_notify watchdog.
    #[error("sent no WATCHDOG=1 within {interval:?}")]
    Watchdog { interval: Duration },
    /// A fault of the host itself while it served the Ente (a bug).
    #[error("the host failed while serving it: {message}")]
    Host { message: String },
}

impl Cause {
    /// How a native Ente's main process ended, as a cause.
    pub fn of_ending(ending: ente_kernel::reaper::Ending) -> Cause {
        match ending {
            ente_kernel::reaper::Ending::Exited(code) => Cause::Exited { code },
            ente_kernel::reaper::Ending::Signaled {
                signal,
                core_dumped,
            } => Cause::Signaled {
                signal,
                name: ente_kernel::reaper::signal_name(signal),
                core_dumped,
            },
        }
    }

    /// Whether starting again cannot help.
    pub fn is_permanent(&self) -> bool {
        matches!(self, Cause::Unbuildable { .. })
    }

    /// A short name of the variant, for events and metrics.
    pub fn kind(&self) -> &'static str {
        match self {
            Cause::Trap { .. } => "trap",
            Cause::Deadline { .. } => "deadline",
            Cause::MemoryLimit { .. } => "memory-limit",
            Cause::Killed { .. } => "killed",
            Cause::Refused { .. } => "refused",
            Cause::Unbuildable { .. } => "unbuildable",
            Cause::Exited { .. } => "exited",
            Cause::Signaled { .. } => "signaled",
            Cause::Watchdog { .. } => "watchdog",
            Cause::Host { .. } => "host",
        }
    }
}
