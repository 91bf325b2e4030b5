//! The SystemdNotify fake of a Legacy Ente: a `NOTIFY_SOCKET` of its own,
//! read on a thread of its own. Each datagram's sender is known from its
//! credentials (`SO_PASSCRED`) and must be a process of the Ente's own tree;
//! anything else is ignored, with an event.
//!
//! - `READY=1` makes the Ente ready (its shim's `await-ready` returns);
//! - `STOPPING=1` is noted in its journal;
//! - `WATCHDOG=1` feeds the watchdog its card sets (`WATCHDOG_USEC` in its
//!   envp, as systemd hands it): a missed one is a death with its cause;
//! - `MAINPID=` is checked against the tree and noted, never followed
//!   (the main process is the one ente started);
//! - `STATUS=` goes to the journal; other variables are ignored.
//!
//! `ente notify` (systemd-notify's part) sends over the native bus instead,
//! which knows its sender while it waits for the answer: a datagram from a
//! process that has already exited cannot be told to be of the tree.

use super::bus::NativeBus;
use ente_core::{Cause, Event, Handles, Kind, Level};
use std::os::fd::AsRawFd;
use std::os::unix::net::UnixDatagram;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use ulid::Ulid;

/// One Ente's notify socket, and its watchdog.
#[derive(Debug)]
pub struct Notify {
    pub path: PathBuf,
    stop: Arc<AtomicBool>,
}

/// What the reader needs to know of its Ente.
pub struct Listener {
    pub ente: Ulid,
    pub label: String,
    pub generation: u64,
    pub handles: Handles,
    pub bus: Arc<super::bus::NativeBus>,
    /// Set on `READY=1`.
    pub ready: Arc<AtomicBool>,
    /// The card's `WATCHDOG_USEC`.
    pub watchdog: Option<Duration>,
    /// Called when the watchdog is missed (takes the tree down).
    pub on_missed: Box<dyn Fn() + Send>,
}

impl std::fmt::Debug for Listener {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Listener")
            .field("ente", &self.ente)
            .field("generation", &self.generation)
            .finish_non_exhaustive()
    }
}

/// The watchdog interval a card's envp sets, if any.
pub fn watchdog_of(envp: &[(String, String)]) -> Option<Duration> {
    envp.iter()
        .find(|(k, _)| k == "WATCHDOG_USEC")
        .and_then(|(_, v)| v.parse::<u64>().ok())
        .filter(|us| *us > 0)
        .map(Duration::from_micros)
}

impl Notify {
    /// Bind `dir/notify-ID.sock` and read it until dropped.
    pub fn start(dir: &Path, l: Listener) -> Result<Notify, String> {
        let path = dir.join(format!("notify-{}.sock", l.ente));
        let _ = std::fs::remove_file(&path);
        let sock = UnixDatagram::bind(&path)
            .map_err(|e| format!("cannot bind NOTIFY_SOCKET {}: {e}", path.display()))?;
        use std::os::unix::fs::PermissionsExt;
        let _ = std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o666));
        let on: libc::c_int = 1;
        // SAFETY: setsockopt reads one int.
        unsafe {
            libc::setsockopt(
                sock.as_raw_fd(),
                libc::SOL_SOCKET,
                libc::SO_PASSCRED,
                (&raw const on).cast(),
                size_of::<libc::c_int>() as libc::socklen_t,
            )
        };
        let _ = sock.set_read_timeout(Some(Duration::from_millis(50)));
        let stop = Arc::new(AtomicBool::new(false));
        let stopped = stop.clone();
        let reading = path.clone();
        let state = Arc::new(NotifyState {
            ente: l.ente,
            label: l.label.clone(),
            handles: l.handles.clone(),
            bus: l.bus.clone(),
            ready: l.ready.clone(),
            last_pet: Mutex::new(None),
        });
        l.bus.notifier(l.ente, l.generation, Some(state.clone()));
        let (ente, generation, bus) = (l.ente, l.generation, l.bus.clone());
        std::thread::Builder::new()
            .name("ente-notify".into())
            .spawn(move || {
                read(&sock, &l, &state, &stopped);
                bus.notifier(ente, generation, None);
                let _ = std::fs::remove_file(&reading);
            })
            .map_err(|e| format!("cannot start the NOTIFY_SOCKET reader: {e}"))?;
        Ok(Notify { path, stop })
    }
}

impl Drop for Notify {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Release);
    }
}

/// What `READY=1`, `WATCHDOG=1` and the rest change, shared by the
/// socket's reader and the native bus (`ente notify`).
#[derive(Debug)]
pub struct NotifyState {
    ente: Ulid,
    label: String,
    handles: Handles,
    bus: Arc<NativeBus>,
    ready: Arc<AtomicBool>,
    last_pet: Mutex<Option<Instant>>,
}

impl NotifyState {
    fn say(&self, level: Level, text: String) {
        self.handles.spine.emit(
            Some((self.ente, &self.label)),
            Kind::Journal {
                level,
                text: ente_runtime::host::clean(&text, ente_runtime::host::MAX_LINE),
            },
        );
    }

    /// One message's variables, a line each.
    pub fn apply(&self, text: &str) {
        for line in text.lines() {
            let Some((key, value)) = line.split_once('=') else {
                continue;
            };
            match key {
                "READY" if value == "1" => {
                    self.ready.store(true, Ordering::Release);
                    // The watchdog runs from readiness on.
                    *self.last_pet.lock().unwrap_or_else(|p| p.into_inner()) = Some(Instant::now());
                }
                "STOPPING" if value == "1" => self.say(Level::Info, "sd_notify: STOPPING=1".into()),
                "WATCHDOG" if value == "1" => {
                    *self.last_pet.lock().unwrap_or_else(|p| p.into_inner()) = Some(Instant::now());
                }
                "MAINPID" => match value.parse::<i32>() {
                    Ok(main) if belongs(&self.bus, main, self.ente) => self.say(
                        Level::Info,
                        format!(
                            "sd_notify: MAINPID={main} (noted; ente keeps its own main process)"
                        ),
                    ),
                    _ => self.say(
                        Level::Warn,
                        format!(
                            "sd_notify: MAINPID={value} refused: not a process of its own tree"
                        ),
                    ),
                },
                "STATUS" => self.say(Level::Info, format!("status: {value}")),
                _ => {}
            }
        }
    }
}

fn read(sock: &UnixDatagram, l: &Listener, state: &NotifyState, stop: &AtomicBool) {
    let mut buf = vec![0u8; 4096];
    while !stop.load(Ordering::Acquire) {
        let last = *state.last_pet.lock().unwrap_or_else(|p| p.into_inner());
        if let (Some(every), Some(at)) = (l.watchdog, last)
            && at.elapsed() > every
        {
            let _ = l.handles.inbox.blocking_send(Event::Died {
                ente: l.ente,
                generation: l.generation,
                cause: Cause::Watchdog { interval: every },
            });
            (l.on_missed)();
            return;
        }
        let Some((n, pid)) = recv_with_pid(sock, &mut buf) else {
            continue;
        };
        if !belongs(&l.bus, pid, l.ente) {
            l.bus.event(
                &l.handles,
                Some((l.ente, &l.label)),
                pid,
                &format!("NOTIFY_SOCKET: a message from pid {pid}, outside its tree, ignored"),
            );
            continue;
        }
        state.apply(&String::from_utf8_lossy(&buf[..n]));
    }
}

/// Whether `pid` is in `ente`'s tree.
fn belongs(bus: &NativeBus, pid: i32, ente: Ulid) -> bool {
    bus.ente_of(pid).is_some_and(|(id, _)| id == ente)
}

/// One datagram and its sender's pid (from `SCM_CREDENTIALS`).
fn recv_with_pid(sock: &UnixDatagram, buf: &mut [u8]) -> Option<(usize, i32)> {
    let mut iov = libc::iovec {
        iov_base: buf.as_mut_ptr().cast(),
        iov_len: buf.len(),
    };
    // Room for one ucred control message, aligned.
    let mut control = [0u64; 8];
    // SAFETY: an all-zero msghdr is valid; its pointers are set below.
    let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
    msg.msg_iov = &raw mut iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control.as_mut_ptr().cast();
    msg.msg_controllen = size_of_val(&control) as _;
    // SAFETY: recvmsg writes into the buffers msg describes.
    let n = unsafe { libc::recvmsg(sock.as_raw_fd(), &raw mut msg, 0) };
    if n < 0 {
        return None;
    }
    // SAFETY: CMSG_FIRSTHDR/NXTHDR walk the control buffer recvmsg filled.
    let mut c = unsafe { libc::CMSG_FIRSTHDR(&raw const msg) };
    while !c.is_null() {
        // SAFETY: `c` points at a control header inside `control`.
        let h = unsafe { &*c };
        if h.cmsg_level == libc::SOL_SOCKET && h.cmsg_type == libc::SCM_CREDENTIALS {
            // SAFETY: SCM_CREDENTIALS carries one ucred, maybe unaligned.
            let cred: libc::ucred = unsafe { std::ptr::read_unaligned(libc::CMSG_DATA(c).cast()) };
            return Some((n as usize, cred.pid));
        }
        // SAFETY: as above.
        c = unsafe { libc::CMSG_NXTHDR(&raw const msg, c) };
    }
    None
}
