//! Where the host's lines go: standard output, or, once PID 1 has opened it,
//! the kernel log (see [`ente_kernel::kmsg`]).
//!
//! The console is process-wide, as file descriptor 1 is. A line that cannot
//! be written is dropped: printing never panics, so that PID 1 (whose panic
//! hook prints) cannot fail on a missing or broken console.

use ente_kernel::kmsg::{Kmsg, Level};
use std::io::Write;
use std::sync::OnceLock;

static KERNEL_LOG: OnceLock<Kmsg> = OnceLock::new();

/// Send every line from now on to the kernel log `kmsg`. Returns false if
/// the console was already redirected (the first redirection stays).
pub fn to_kernel_log(kmsg: Kmsg) -> bool {
    KERNEL_LOG.set(kmsg).is_ok()
}

/// Whether lines go to the kernel log.
pub fn is_kernel_log() -> bool {
    KERNEL_LOG.get().is_some()
}

/// Print `text` (one or more lines) on the console.
pub fn line(text: &str) {
    print(Level::Notice, text);
}

/// Print `text` as something gone wrong: in the kernel log at error level,
/// which a `quiet` console still shows; on stdout like any other line, so
/// that the order of lines is kept.
pub fn alarm(text: &str) {
    print(Level::Error, text);
}

fn print(level: Level, text: &str) {
    match KERNEL_LOG.get() {
        Some(kmsg) => {
            let _ = kmsg.lines(level, text);
        }
        None => {
            let mut out = std::io::stdout().lock();
            let _ = writeln!(out, "{text}");
        }
    }
}
