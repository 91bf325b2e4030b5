//! The signals PID 1 acts on, held pending while the graph starts.

use ente_core::{Event, Signal};
use ente_kernel::reaper;
use nix::libc;
use tokio::signal::unix::{SignalKind, signal};
use tokio::sync::mpsc;

/// SIGCHLD, SIGTERM, SIGINT, SIGPWR, SIGUSR1 (a snapshot) and SIGRTMIN+5
/// (reboot): what the event loop watches.
fn set() -> std::io::Result<libc::sigset_t> {
    let mut set = std::mem::MaybeUninit::<libc::sigset_t>::uninit();
    // SAFETY: `sigemptyset` initialises the set it is given; it is read only
    // after that call succeeded.
    let mut set = unsafe {
        if libc::sigemptyset(set.as_mut_ptr()) != 0 {
            return Err(std::io::Error::last_os_error());
        }
        set.assume_init()
    };
    for sig in [
        libc::SIGCHLD,
        libc::SIGTERM,
        libc::SIGINT,
        libc::SIGPWR,
        libc::SIGUSR1,
        libc::SIGRTMIN() + 5,
    ] {
        // SAFETY: `set` is an initialised signal set and `sig` a valid signal.
        if unsafe { libc::sigaddset(&mut set, sig) } != 0 {
            return Err(std::io::Error::last_os_error());
        }
    }
    Ok(set)
}

fn mask(how: libc::c_int) -> std::io::Result<()> {
    let set = set()?;
    // SAFETY: `set` is initialised; the old mask is not asked for.
    match unsafe { libc::pthread_sigmask(how, &set, std::ptr::null_mut()) } {
        0 => Ok(()),
        errno => Err(std::io::Error::from_raw_os_error(errno)),
    }
}

/// Block the watched signals in this thread and every thread it starts, so
/// that the kernel keeps them pending instead of discarding them.
pub fn hold() -> std::io::Result<()> {
    mask(libc::SIG_BLOCK)
}

/// Unblock them in this thread, once the event loop has its handlers in place.
/// Threads started meanwhile keep them blocked, so they all reach this one.
pub fn release() -> std::io::Result<()> {
    mask(libc::SIG_UNBLOCK)
}

/// The signals PID 1 acts on.
pub struct Signals {
    chld: tokio::signal::unix::Signal,
    term: tokio::signal::unix::Signal,
    int: tokio::signal::unix::Signal,
    pwr: tokio::signal::unix::Signal,
    reboot: tokio::signal::unix::Signal,
    usr1: tokio::signal::unix::Signal,
}

impl Signals {
    pub fn watch() -> Result<Signals, String> {
        let watch =
            |kind, name: &str| signal(kind).map_err(|e| format!("cannot watch {name}: {e}"));
        Ok(Signals {
            chld: watch(SignalKind::child(), "SIGCHLD")?,
            term: watch(SignalKind::terminate(), "SIGTERM")?,
            int: watch(SignalKind::interrupt(), "SIGINT")?,
            pwr: watch(SignalKind::from_raw(nix::libc::SIGPWR), "SIGPWR")?,
            reboot: watch(
                SignalKind::from_raw(nix::libc::SIGRTMIN() + 5),
                "SIGRTMIN+5",
            )?,
            usr1: watch(SignalKind::user_defined1(), "SIGUSR1")?,
        })
    }

    /// Hand each signal to the core (and reap on SIGCHLD), for as long as it runs.
    pub async fn forward(mut self, inbox: mpsc::Sender<Event>) {
        loop {
            let event = tokio::select! {
                _ = self.chld.recv() => {
                    for r in reaper::reap_all() {
                        if inbox.send(Event::Reaped(r)).await.is_err() {
                            return;
                        }
                    }
                    continue;
                }
                _ = self.term.recv() => Event::Signal(Signal::Stop("SIGTERM")),
                _ = self.int.recv() => Event::Signal(Signal::Stop("SIGINT")),
                _ = self.pwr.recv() => Event::Signal(Signal::Stop("SIGPWR")),
                _ = self.reboot.recv() => Event::Signal(Signal::Reboot),
                _ = self.usr1.recv() => Event::Signal(Signal::Snapshot("SIGUSR1")),
            };
            if inbox.send(event).await.is_err() {
                return;
            }
        }
    }
}
