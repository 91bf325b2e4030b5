//! The native bus: a Unix socket through which native programs call
//! endpoints as their Ente and answer the calls to its endpoints.
//!
//! A peer is known by its credentials (`SO_PEERCRED`, and its pidfd so
//! that a pid reused while it is looked up is not taken for it), mapped to
//! the native Ente whose tree holds it: its cgroup v2 leaf, else its
//! session. Anyone else is refused. Frames are `ente-client`'s: a bad one
//! closes its connection, with an event that says why; the host goes on.

use super::NativeHost;
use super::notify::NotifyState;
use ente_bus::BusError;
use ente_card::Endpoint;
use ente_client::{Down, FrameError, Up, WireError, read_frame, write_frame};
use ente_core::{Handles, Kind};
use std::collections::HashMap;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use ulid::Ulid;

/// Connections open at once, over every Ente.
const MAX_CONNECTIONS: usize = 256;
/// Connections one Ente's processes may hold open at once.
const MAX_PER_ENTE: usize = 16;
/// A connection that sends nothing this long is closed.
const IDLE: Duration = Duration::from_secs(60);

/// Events of refused or closed peers a second, after a burst: a process
/// that connects or sends in a loop cannot flood the spine and the console.
const EVENTS_BURST: f64 = 20.0;
const EVENTS_PER_S: f64 = 5.0;

/// The native bus's own rate of events; what it held back is counted and
/// said with the next one shown.
#[derive(Debug)]
struct Throttle {
    tokens: f64,
    at: std::time::Instant,
    held: u64,
}

impl Throttle {
    fn new() -> Throttle {
        Throttle {
            tokens: EVENTS_BURST,
            at: std::time::Instant::now(),
            held: 0,
        }
    }

    /// `Some(held back so far)` when an event may be shown now.
    fn take(&mut self) -> Option<u64> {
        let now = std::time::Instant::now();
        self.tokens = (self.tokens + now.duration_since(self.at).as_secs_f64() * EVENTS_PER_S)
            .min(EVENTS_BURST);
        self.at = now;
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            Some(std::mem::take(&mut self.held))
        } else {
            self.held += 1;
            None
        }
    }
}

/// A native Ente's tree, as the bus finds its peers in it.
#[derive(Debug, Clone)]
pub struct Member {
    pub generation: u64,
    pub label: String,
    /// Its session (the program started one: the main pid).
    pub session: i32,
    /// Its cgroup v2 leaf.
    pub v2_leaf: Option<PathBuf>,
}

/// The listener and what it knows.
#[derive(Debug)]
pub struct NativeBus {
    pub path: PathBuf,
    members: Mutex<HashMap<Ulid, Member>>,
    /// The connection that answers each Ente's deliveries.
    servers: Mutex<HashMap<Ulid, Arc<Mutex<UnixStream>>>>,
    /// Each Legacy Ente's sd_notify state, by body.
    notifiers: Mutex<HashMap<Ulid, (u64, Arc<NotifyState>)>>,
    open: AtomicUsize,
    /// Connections open, by Ente.
    held: Mutex<HashMap<Ulid, usize>>,
    throttle: Mutex<Throttle>,
    next: std::sync::atomic::AtomicU64,
    /// The host's handles while it runs; taken at its end, so that the
    /// listener holds no spine or inbox open.
    handles: Mutex<Option<Handles>>,
}

impl NativeBus {
    /// Listen at `dir/bus.sock` (made anew) and serve peers for `handles`.
    pub fn start(dir: &Path, handles: Handles) -> Result<Arc<NativeBus>, String> {
        let path = dir.join("bus.sock");
        let _ = std::fs::remove_file(&path);
        let listener = UnixListener::bind(&path)
            .map_err(|e| format!("cannot listen at {}: {e}", path.display()))?;
        // Anyone may connect; who it is decides what it may do.
        use std::os::unix::fs::PermissionsExt;
        let _ = std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o666));
        let bus = Arc::new(NativeBus {
            path,
            members: Mutex::new(HashMap::new()),
            servers: Mutex::new(HashMap::new()),
            notifiers: Mutex::new(HashMap::new()),
            open: AtomicUsize::new(0),
            held: Mutex::new(HashMap::new()),
            throttle: Mutex::new(Throttle::new()),
            next: std::sync::atomic::AtomicU64::new(1),
            handles: Mutex::new(Some(handles)),
        });
        let accepting = bus.clone();
        std::thread::Builder::new()
            .name("ente-native-bus".into())
            .spawn(move || accepting.accept(listener))
            .map_err(|e| format!("cannot start the native bus's thread: {e}"))?;
        Ok(bus)
    }

    /// Say what happened to a peer (or a notify sender) on the spine, held
    /// to the bus's rate of events.
    pub(super) fn event(&self, handles: &Handles, ente: Option<(Ulid, &str)>, pid: i32, why: &str) {
        let Some(held) = lock(&self.throttle).take() else {
            return;
        };
        let mut why = ente_runtime::host::clean(why, 512);
        if held > 0 {
            why.push_str(&format!(" ({held} more such events were not shown)"));
        }
        handles.spine.emit(ente, Kind::NativeBus { pid, why });
    }

    /// `ente`'s body `generation` takes sd_notify messages into `state`
    /// (`None`: no longer).
    pub fn notifier(&self, ente: Ulid, generation: u64, state: Option<Arc<NotifyState>>) {
        let mut n = lock(&self.notifiers);
        match state {
            Some(s) => {
                n.insert(ente, (generation, s));
            }
            None => {
                if n.get(&ente).is_some_and(|(g, _)| *g == generation) {
                    n.remove(&ente);
                }
            }
        }
    }

    pub fn join(&self, ente: Ulid, member: Member) {
        lock(&self.members).insert(ente, member);
    }

    /// `ente`'s body `generation` is gone: so are its connections' rights.
    pub fn leave(&self, ente: Ulid, generation: u64) {
        let mut m = lock(&self.members);
        if m.get(&ente).is_some_and(|m| m.generation == generation) {
            m.remove(&ente);
            drop(m);
            if let Some(s) = lock(&self.servers).remove(&ente) {
                let _ = lock(&s).shutdown(std::net::Shutdown::Both);
            }
        }
    }

    /// The Ente whose tree holds `pid`.
    pub(super) fn ente_of(&self, pid: i32) -> Option<(Ulid, String)> {
        let cgroup = std::fs::read_to_string(format!("/proc/{pid}/cgroup")).ok()?;
        let v2 = cgroup
            .lines()
            .find_map(|l| l.strip_prefix("0::"))
            .map(|p| p.trim_start_matches('/').to_owned());
        let session = session_of(pid);
        lock(&self.members).iter().find_map(|(id, m)| {
            let in_leaf = match (&m.v2_leaf, &v2) {
                (Some(leaf), Some(rel)) if !rel.is_empty() => leaf.ends_with(rel),
                _ => false,
            };
            (in_leaf || session == Some(m.session)).then(|| (*id, m.label.clone()))
        })
    }

    /// Stop listening: the listener lets go of the host's handles.
    pub fn stop(&self) {
        if lock(&self.handles).take().is_some() {
            // Wakes the accept, which then finds no handles and ends.
            let _ = UnixStream::connect(&self.path);
        }
    }

    fn accept(self: Arc<NativeBus>, listener: UnixListener) {
        for stream in listener.incoming() {
            let Ok(stream) = stream else { continue };
            let Some(handles) = lock(&self.handles).clone() else {
                return;
            };
            let bus = self.clone();
            if self.open.fetch_add(1, Ordering::AcqRel) >= MAX_CONNECTIONS {
                self.open.fetch_sub(1, Ordering::AcqRel);
                refuse(
                    &self,
                    stream,
                    &handles,
                    None,
                    "the native bus holds its most connections",
                );
                continue;
            }
            let spawned = std::thread::Builder::new()
                .name("ente-native-peer".into())
                .spawn(move || {
                    bus.connection(stream, &handles);
                    bus.open.fetch_sub(1, Ordering::AcqRel);
                });
            if spawned.is_err() {
                self.open.fetch_sub(1, Ordering::AcqRel);
            }
        }
    }

    fn connection(&self, stream: UnixStream, handles: &Handles) {
        let Some((pid, pidfd)) = peer(&stream) else {
            refuse(
                self,
                stream,
                handles,
                None,
                "its credentials cannot be read",
            );
            return;
        };
        let Some((ente, label)) = self.ente_of(pid) else {
            refuse(
                self,
                stream,
                handles,
                Some(pid),
                "it is no native Ente's process",
            );
            return;
        };
        // Still the process whose credentials were read: not a pid reused
        // while the tree was looked up.
        if pidfd
            .as_ref()
            .is_some_and(|fd| ente_native::pidfd_ended(std::os::fd::AsFd::as_fd(fd), 0))
        {
            return;
        }
        {
            let mut held = lock(&self.held);
            let n = held.entry(ente).or_default();
            if *n >= MAX_PER_ENTE {
                drop(held);
                refuse(
                    self,
                    stream,
                    handles,
                    Some(pid),
                    &format!("`{label}` holds {MAX_PER_ENTE} connections already, its most"),
                );
                return;
            }
            *n += 1;
        }
        self.serve_peer(stream, handles, pid, ente, &label);
        let mut held = lock(&self.held);
        if let Some(n) = held.get_mut(&ente) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                held.remove(&ente);
            }
        }
    }

    /// The frames of one mapped peer, until it closes or errs.
    fn serve_peer(
        &self,
        mut stream: UnixStream,
        handles: &Handles,
        pid: i32,
        ente: Ulid,
        label: &str,
    ) {
        let _ = stream.set_read_timeout(Some(IDLE));
        let said = |why: String| self.event(handles, Some((ente, label)), pid, &why);
        loop {
            match read_frame::<Up>(&mut stream) {
                Ok(Up::Call {
                    id,
                    interface,
                    version,
                    body,
                }) => {
                    let target = Endpoint { interface, version };
                    let result = handles.bus.invoke(ente, &target, &body).map_err(wire);
                    if write_frame(&mut stream, &Down::Reply { id, result }).is_err() {
                        return;
                    }
                }
                Ok(Up::Serve) => {
                    if write_frame(&mut stream, &Down::Serving).is_err() {
                        return;
                    }
                    lock(&self.servers).insert(ente, Arc::new(Mutex::new(stream)));
                    return;
                }
                Ok(Up::Notify { vars }) => {
                    let state = lock(&self.notifiers).get(&ente).map(|(_, s)| s.clone());
                    let result = match state {
                        Some(s) => {
                            s.apply(&vars.join("\n"));
                            Ok(Vec::new())
                        }
                        None => Err(WireError::Denied(
                            "its card asks for no SystemdNotify fake".into(),
                        )),
                    };
                    if write_frame(&mut stream, &Down::Reply { id: 0, result }).is_err() {
                        return;
                    }
                }
                Ok(Up::Answer { .. }) => {
                    said(format!(
                        "native bus: pid {pid}: connection closed: an answer with no delivery"
                    ));
                    return;
                }
                Err(FrameError::Closed) => return,
                Err(FrameError::Io(e))
                    if matches!(
                        e.kind(),
                        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                    ) =>
                {
                    return;
                }
                Err(e) => {
                    said(format!("native bus: pid {pid}: connection closed: {e}"));
                    return;
                }
            }
        }
    }

    /// Hand `ente`'s program a call, and wait `within` for its answer.
    pub fn deliver(
        &self,
        ente: Ulid,
        from: &str,
        target: &ente_runtime::Endpoint,
        body: Vec<u8>,
        within: Duration,
    ) -> Result<Vec<u8>, String> {
        let server = lock(&self.servers).get(&ente).cloned().ok_or_else(|| {
            "its program does not serve on the native bus (it has not sent `serve`)".to_owned()
        })?;
        let mut stream = lock(&server);
        let id = self.next.fetch_add(1, Ordering::Relaxed);
        let failed = |e: FrameError| {
            let _ = stream_shutdown(&server);
            format!("its program's bus connection failed: {e}")
        };
        let _ = stream.set_read_timeout(Some(within.max(Duration::from_millis(1))));
        let sent = write_frame(
            &mut *stream,
            &Down::Deliver {
                id,
                from: from.to_owned(),
                interface: target.interface.clone(),
                version: target.version,
                body,
            },
        );
        if let Err(e) = sent {
            drop(stream);
            lock(&self.servers).remove(&ente);
            return Err(failed(e));
        }
        match read_frame::<Up>(&mut *stream) {
            Ok(Up::Answer { id: got, result }) if got == id => result,
            Ok(other) => {
                drop(stream);
                lock(&self.servers).remove(&ente);
                Err(format!("its program answered out of turn: {other:?}"))
            }
            Err(e) => {
                drop(stream);
                lock(&self.servers).remove(&ente);
                Err(failed(e))
            }
        }
    }
}

fn stream_shutdown(s: &Arc<Mutex<UnixStream>>) -> std::io::Result<()> {
    match s.try_lock() {
        Ok(s) => s.shutdown(std::net::Shutdown::Both),
        Err(_) => Ok(()),
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

fn wire(e: BusError) -> WireError {
    match e {
        BusError::Denied(reason) => WireError::Denied(reason),
        BusError::Malformed(why) => WireError::Denied(format!("malformed endpoint: {why}")),
        BusError::NoProvider(_) => WireError::NoProvider,
        BusError::Busy(_) => WireError::Busy,
        BusError::Cycle(_) => WireError::Cycle,
        BusError::TooLarge { max, .. } => WireError::TooLarge(max),
        e @ (BusError::NotRunning { .. } | BusError::ProviderFailed { .. }) => {
            WireError::ProviderFailed(e.to_string())
        }
    }
}

/// Refuse a peer: tell it why, close, and say so on the spine.
fn refuse(bus: &NativeBus, mut stream: UnixStream, handles: &Handles, pid: Option<i32>, why: &str) {
    let _ = write_frame(
        &mut stream,
        &Down::Refused {
            reason: why.to_owned(),
        },
    );
    let why = match pid {
        Some(pid) => format!("native bus: refused pid {pid}: {why}"),
        None => format!("native bus: refused a connection: {why}"),
    };
    bus.event(handles, None, pid.unwrap_or(0), &why);
}

/// The peer's pid, and a pidfd of it where the kernel gives one.
fn peer(stream: &UnixStream) -> Option<(i32, Option<OwnedFd>)> {
    let mut cred = libc::ucred {
        pid: 0,
        uid: 0,
        gid: 0,
    };
    let mut len = size_of::<libc::ucred>() as libc::socklen_t;
    // SAFETY: getsockopt writes at most `len` bytes into `cred`.
    let r = unsafe {
        libc::getsockopt(
            stream.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_PEERCRED,
            (&raw mut cred).cast(),
            &mut len,
        )
    };
    if r < 0 || cred.pid <= 0 {
        return None;
    }
    // SO_PEERPIDFD (Linux 6.5): the peer as it connected, never a reused pid.
    const SO_PEERPIDFD: libc::c_int = 77;
    let mut fd: libc::c_int = -1;
    let mut len = size_of::<libc::c_int>() as libc::socklen_t;
    // SAFETY: as above, into one int.
    let r = unsafe {
        libc::getsockopt(
            stream.as_raw_fd(),
            libc::SOL_SOCKET,
            SO_PEERPIDFD,
            (&raw mut fd).cast(),
            &mut len,
        )
    };
    // SAFETY: a new descriptor the kernel gave this process alone.
    let pidfd = (r == 0 && fd >= 0).then(|| unsafe { OwnedFd::from_raw_fd(fd) });
    Some((cred.pid, pidfd))
}

/// The session of `pid` (`/proc/PID/stat`, after the command's parentheses).
fn session_of(pid: i32) -> Option<i32> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let after = &stat[stat.rfind(')')? + 1..];
    // state ppid pgrp session
    after.split_whitespace().nth(3)?.parse().ok()
}

impl NativeHost {
    /// The native bus of this host, listening from its first use.
    pub fn bus(&self, handles: &Handles) -> Result<Arc<NativeBus>, String> {
        let mut slot = lock(&self.bus);
        if let Some(b) = &*slot {
            return Ok(b.clone());
        }
        let dir = self.run_dir()?;
        let bus = NativeBus::start(&dir, handles.clone())?;
        *slot = Some(bus.clone());
        Ok(bus)
    }
}
