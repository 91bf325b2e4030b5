//! The control socket: `ente ctl`'s way into a running host. A Unix
//! socket, mode 0600, whose every connection is checked by SO_PEERCRED
//! (the host's own user and root are served; anyone else is refused, and
//! the refusal is an event and an audit entry). One request per
//! connection (`ente_ctl`'s frames); a bad frame ends that connection
//! only. Requests never block the core's loop: reads come from the table
//! and the spine, and actions go through the loop's inbox as the same
//! control requests a guest's `ente:core/graph` makes, by the seed's
//! authority, each an event and an audit entry.

use crate::ctl::render;
use ente_core::{Control, Event, Handles, Kind, Next, Occurrence};
use ente_ctl::{
    Reply, Request, Verb, decode_request, read_raw_async, read_session_async, write_frame_async,
};
use std::collections::VecDeque;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::net::{UnixListener, UnixStream};
use ulid::Ulid;

/// Events kept for `ente ctl events` and `logs` without `-f`.
const HISTORY: usize = 2048;
/// Connections served at once; more are refused with a reason.
const CONNECTIONS: usize = 32;
/// How long a client may take to send its request.
const REQUEST_WITHIN: Duration = Duration::from_secs(5);
/// How long one reply may take to be written: a reader that stopped
/// reading loses its connection, not a slot forever.
const WRITE_WITHIN: Duration = Duration::from_secs(10);
/// Rows of a status in one frame.
const ROWS_PER_FRAME: usize = 256;
/// How long an action waits for the loop's answer.
const ANSWER_WITHIN: Duration = Duration::from_secs(10);

/// The socket's place under a home (dev mode).
pub fn socket_in(home: &Path) -> PathBuf {
    home.join("ctl.sock")
}

/// Where the appliance serves it.
pub const APPLIANCE_SOCKET: &str = "/run/ente/ctl.sock";

/// The events kept for `ente ctl events` and `logs`, from when it was
/// made: PID 1 makes it before the graph starts and serves the socket once
/// the surface settled.
#[derive(Debug)]
pub struct History {
    kept: Arc<Mutex<VecDeque<Arc<Occurrence>>>>,
    task: tokio::task::JoinHandle<()>,
}

impl History {
    /// Keep the spine's events from now on. Call within a tokio runtime.
    pub fn keep(handles: &Handles) -> History {
        let kept: Arc<Mutex<VecDeque<Arc<Occurrence>>>> = Arc::default();
        let events = handles.spine.subscribe();
        let task = tokio::spawn(keep_history(kept.clone(), events));
        History { kept, task }
    }
}

#[derive(Clone)]
pub(super) struct Served {
    handles: Handles,
    /// The seed's id: the authority an operator's actions are taken by.
    seed: Ulid,
    history: Arc<Mutex<VecDeque<Arc<Occurrence>>>>,
    slots: Arc<tokio::sync::Semaphore>,
    metrics: Option<crate::metrics::Metrics>,
}

/// The socket being served: [`Serving::close`] ends it (its tasks hold the
/// spine, which would otherwise outlive the host's end).
#[derive(Debug)]
pub struct Serving {
    path: PathBuf,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Serving {
    pub fn close(self) {
        for t in &self.tasks {
            t.abort();
        }
        let _ = std::fs::remove_file(&self.path);
    }
}

/// Bind `path` (refusing to take it from a host still serving it) and
/// serve it. Call within a tokio runtime.
pub fn serve(
    handles: Handles,
    seed: Ulid,
    path: &Path,
    metrics: Option<crate::metrics::Metrics>,
    history: History,
) -> Result<Serving, String> {
    let shown = path.display();
    if std::os::unix::net::UnixStream::connect(path).is_ok() {
        return Err(format!("{shown}: another host serves this control socket"));
    }
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    }
    match std::fs::symlink_metadata(path) {
        Ok(m) if std::os::unix::fs::FileTypeExt::is_socket(&m.file_type()) => {
            std::fs::remove_file(path).map_err(|e| format!("{shown}: {e}"))?;
        }
        Ok(_) => {
            return Err(format!(
                "{shown}: exists and is not a socket; left as it is"
            ));
        }
        Err(_) => {}
    }
    let listener = UnixListener::bind(path).map_err(|e| format!("{shown}: {e}"))?;
    std::fs::set_permissions(path, std::os::unix::fs::PermissionsExt::from_mode(0o600))
        .map_err(|e| format!("{shown}: {e}"))?;
    let served = Served {
        seed,
        history: history.kept,
        slots: Arc::new(tokio::sync::Semaphore::new(CONNECTIONS)),
        handles,
        metrics,
    };
    Ok(Serving {
        path: path.to_path_buf(),
        tasks: vec![history.task, tokio::spawn(accept(served, listener))],
    })
}

async fn keep_history(
    kept: Arc<Mutex<VecDeque<Arc<Occurrence>>>>,
    mut events: ente_core::Subscription,
) {
    loop {
        match events.next().await {
            Next::Event(e) => {
                let mut h = kept.lock().unwrap_or_else(|p| p.into_inner());
                if h.len() == HISTORY {
                    h.pop_front();
                }
                h.push_back(e);
            }
            Next::Missed(_) => {}
            Next::Closed => return,
        }
    }
}

async fn accept(s: Served, listener: UnixListener) {
    // SAFETY: geteuid takes nothing and cannot fail.
    let me = unsafe { libc::geteuid() };
    let mut refusals: Option<std::time::Instant> = None;
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            // Out of descriptors, say: the next try waits a little.
            tokio::time::sleep(Duration::from_millis(100)).await;
            continue;
        };
        let Ok(peer) = stream.peer_cred() else {
            continue;
        };
        let (uid, pid) = (peer.uid(), peer.pid().unwrap_or(0));
        if uid != me && uid != 0 {
            // One event a second at most for a flood: the chain records the
            // refusals, not a peer's power to fill it.
            let now = std::time::Instant::now();
            if refusals.is_none_or(|at| now.duration_since(at) >= Duration::from_secs(1)) {
                refusals = Some(now);
                s.handles
                    .spine
                    .emit(None, Kind::ControlRefused { uid, pid });
            }
            tokio::spawn(async move {
                let mut stream = stream;
                let why = format!(
                    "uid {uid} is neither this host's user ({me}) nor root: the refusal is recorded"
                );
                if begin(&mut stream, ente_ctl::UNREAD).await.is_ok() {
                    let _ = send(&mut stream, &Reply::Refused(why)).await;
                }
            });
            continue;
        }
        let s = s.clone();
        tokio::spawn(async move {
            let Ok(_slot) = s.slots.clone().try_acquire_owned() else {
                let mut stream = stream;
                let busy = Reply::Refused(format!(
                    "the host serves {CONNECTIONS} control connections at once; try again"
                ));
                if begin(&mut stream, ente_ctl::UNREAD).await.is_ok() {
                    let _ = send(&mut stream, &busy).await;
                }
                return;
            };
            connection(s, stream, uid).await;
        });
    }
}

async fn connection(s: Served, mut stream: UnixStream, uid: u32) {
    let request = tokio::time::timeout(REQUEST_WITHIN, async {
        let nonce = read_session_async(&mut stream).await?;
        let body = read_raw_async(&mut stream).await;
        Ok::<_, ente_ctl::WireError>((nonce, body.and_then(|b| decode_request(&b))))
    })
    .await;
    let (nonce, verb) = match request {
        Ok(Ok((nonce, Ok(Request { verb, .. })))) => (nonce, Ok(verb)),
        Ok(Ok((nonce, Err(e)))) => (nonce, Err(e.to_string())),
        Ok(Err(e)) => (ente_ctl::UNREAD, Err(e.to_string())),
        Err(_) => (
            ente_ctl::UNREAD,
            Err(format!("no request within {REQUEST_WITHIN:?}")),
        ),
    };
    if begin(&mut stream, nonce).await.is_err() {
        return;
    }
    let verb = match verb {
        Ok(verb) => verb,
        Err(why) => {
            let _ = send(&mut stream, &Reply::Refused(why)).await;
            return;
        }
    };
    let replies = match verb {
        Verb::Status { ente } => status(&s, ente.as_deref()),
        Verb::Tree => status(&s, None),
        Verb::Events { follow } => return stream_events(&s, stream, None, None, follow).await,
        Verb::Logs {
            ente,
            lines,
            follow,
        } => {
            let who = match ente.map(|name| render::find(&s.handles, &name)).transpose() {
                Ok(who) => who,
                Err(why) => {
                    let _ = send(&mut stream, &Reply::Refused(why)).await;
                    return;
                }
            };
            return stream_events(&s, stream, Some(lines), Some(who), follow).await;
        }
        Verb::Stop { ente } => vec![act(&s, uid, "stop", &ente).await],
        Verb::Restart { ente } => vec![act(&s, uid, "restart", &ente).await],
        Verb::Start { ente } => vec![act(&s, uid, "start", &ente).await],
        Verb::Spawn { card } => vec![spawn(&s, uid, &card).await],
        Verb::Brain(v) => crate::ctl::brain::answer(&s, uid, v).await,
        Verb::LogLevel { ente, level } => vec![log_level(&s, uid, &ente, &level)],
        Verb::Metrics => vec![match &s.metrics {
            Some(m) => m.render().map_or_else(Reply::Refused, Reply::Metrics),
            None => Reply::Refused("this host keeps no metrics".into()),
        }],
    };
    for r in replies.iter().chain([&Reply::End]) {
        if send(&mut stream, r).await.is_err() {
            return;
        }
    }
}

/// The rows, in frames of at most [`ROWS_PER_FRAME`].
fn status(s: &Served, ente: Option<&str>) -> Vec<Reply> {
    let only = match ente.map(|name| render::find(&s.handles, name)).transpose() {
        Ok(only) => only,
        Err(why) => return vec![Reply::Refused(why)],
    };
    render::rows(&s.handles, only)
        .chunks(ROWS_PER_FRAME)
        .map(|rows| Reply::Status(rows.to_vec()))
        .collect()
}

/// Begin the answer: the session's marker, within [`WRITE_WITHIN`].
async fn begin(stream: &mut (impl tokio::io::AsyncWrite + Unpin), nonce: u64) -> Result<(), ()> {
    use tokio::io::AsyncWriteExt;
    let marker = ente_ctl::session_marker(nonce);
    match tokio::time::timeout(WRITE_WITHIN, stream.write_all(&marker)).await {
        Ok(Ok(())) => Ok(()),
        _ => Err(()),
    }
}

/// Write one reply, within [`WRITE_WITHIN`]; one that cannot be encoded
/// (too large) is answered by a refusal saying so.
async fn send(stream: &mut (impl tokio::io::AsyncWrite + Unpin), reply: &Reply) -> Result<(), ()> {
    let written = tokio::time::timeout(WRITE_WITHIN, write_frame_async(stream, reply)).await;
    match written {
        Ok(Ok(())) => Ok(()),
        Ok(Err(ente_ctl::WireError::TooLarge { len })) => {
            let why = format!("the answer ({len} bytes) is larger than a frame may be");
            let _ = tokio::time::timeout(
                WRITE_WITHIN,
                write_frame_async(stream, &Reply::Refused(why)),
            )
            .await;
            Err(())
        }
        _ => Err(()),
    }
}

/// The events kept, then (`follow`) those to come; journal lines only
/// (`lines` of them, of `who` when it is `Some(Some(id))`) for `logs`.
async fn stream_events(
    s: &Served,
    stream: UnixStream,
    lines: Option<u32>,
    who: Option<Option<Ulid>>,
    follow: bool,
) {
    let logs = lines.is_some();
    let wanted = |e: &Occurrence| {
        (!logs || matches!(e.kind, Kind::Journal { .. }))
            && who
                .flatten()
                .is_none_or(|id| e.ente.as_ref().is_some_and(|(i, _)| *i == id))
    };
    // Subscribed before the history is read: nothing falls between.
    let mut events = s.handles.spine.subscribe();
    let kept: Vec<Arc<Occurrence>> = {
        let h = s.history.lock().unwrap_or_else(|p| p.into_inner());
        let all: Vec<Arc<Occurrence>> = h.iter().filter(|e| wanted(e)).cloned().collect();
        let skip = lines.map_or(0, |n| all.len().saturating_sub(n as usize));
        all.into_iter().skip(skip).collect()
    };
    let (mut rd, mut wr) = stream.into_split();
    let mut last = 0;
    for e in kept {
        last = e.seq;
        if send(&mut wr, &Reply::Event(render::line(&e)))
            .await
            .is_err()
        {
            return;
        }
    }
    if follow {
        let mut probe = [0u8; 1];
        loop {
            let next = tokio::select! {
                next = events.next() => next,
                // The reader hung up (or wrote what it should not).
                _ = tokio::io::AsyncReadExt::read(&mut rd, &mut probe) => return,
            };
            let reply = match next {
                Next::Event(e) if e.seq > last && wanted(&e) => Reply::Event(render::line(&e)),
                Next::Event(_) => continue,
                Next::Missed(n) => Reply::Missed(n),
                Next::Closed => break,
            };
            if send(&mut wr, &reply).await.is_err() {
                return;
            }
        }
    }
    let _ = send(&mut wr, &Reply::End).await;
}

/// Stop, restart or start `name`, by the seed's authority.
async fn act(s: &Served, uid: u32, verb: &str, name: &str) -> Reply {
    let id = match render::find(&s.handles, name) {
        Ok(id) => id,
        Err(why) => return said(s, uid, format!("{verb} {name}"), Err(why)),
    };
    let (running, spawned) = s
        .handles
        .read()
        .get(id)
        .map_or((false, false), |r| (!r.state.is_final(), r.spawned));
    let by = s.seed;
    let outcome = match verb {
        "start" if running => Err(format!("{name} is not stopped; `restart` restarts it")),
        "stop" => {
            ask(s, |reply| Control::Stop {
                by,
                ente: id,
                reply,
            })
            .await
        }
        _ => {
            ask(s, |reply| Control::Restart {
                by,
                ente: id,
                reply,
            })
            .await
        }
    };
    let removed = if verb == "stop" && spawned {
        " (spawned at run time: stopped and removed, as a spawned Ente's stop is)"
    } else {
        ""
    };
    said(s, uid, format!("{verb} {name} ({id}){removed}"), outcome)
}

/// An Ente's journal level, set by the operator (any Ente: the seed's
/// authority); said and audited as any operator's change.
fn log_level(s: &Served, uid: u32, name: &str, level: &str) -> Reply {
    let found = render::find(&s.handles, name);
    let request = match &found {
        Ok(id) => format!("log-level {level} for {name} ({id})"),
        Err(_) => format!("log-level {level} for {name}"),
    };
    let outcome = ente_core::Level::from_name(level)
        .ok_or_else(|| format!("`{level}` is not a level (trace, debug, info, warn, error)"))
        .and_then(|level| found.map(|id| (id, level)))
        .map(|(id, level)| s.handles.floors.set(id, level));
    said(s, uid, request, outcome)
}

async fn spawn(s: &Served, uid: u32, json: &str) -> Reply {
    let mut card = match ente_card::parse(json.as_bytes(), Path::new("(ente ctl spawn)")) {
        Ok(card) => card,
        Err(e) => return said(s, uid, "spawn".into(), Err(e.to_string())),
    };
    // Below the seed unless the card says otherwise (the core then checks
    // that its lineage is the seed's, as for any spawn).
    card.lineage.get_or_insert(s.seed);
    let label = card.label.clone();
    let by = s.seed;
    let outcome = ask(s, |reply| Control::Spawn {
        by,
        card: Box::new(card),
        reply,
    })
    .await;
    let id = outcome
        .as_ref()
        .map(ToString::to_string)
        .unwrap_or_default();
    said(s, uid, format!("spawn {label} {id}"), outcome.map(|_| ()))
}

/// The request's outcome as an event (which the audit chain records) and
/// as the reply.
pub(super) fn said(s: &Served, uid: u32, request: String, outcome: Result<(), String>) -> Reply {
    s.handles.spine.emit(
        None,
        Kind::Operator {
            uid,
            request: request.clone(),
            outcome: outcome.clone(),
        },
    );
    match outcome {
        Ok(()) => Reply::Done(request),
        Err(why) => Reply::Refused(why),
    }
}

/// Wait (off the runtime's threads, 2 s at most) until what the audit
/// chain was handed is committed: an operator's change is acknowledged
/// once its entry is in the chain.
pub(super) async fn committed(s: &Served) {
    let Some(log) = s.metrics.as_ref().and_then(|m| m.audit.clone()) else {
        return;
    };
    let _ = tokio::task::spawn_blocking(move || log.flush(Duration::from_secs(2))).await;
}

/// Hand the loop a control request and wait for its answer, off the loop.
async fn ask<T: Send + 'static>(
    s: &Served,
    make: impl FnOnce(ente_core::Reply<T>) -> Control,
) -> Result<T, String> {
    ask_loop(s, |reply| Event::Control(make(reply))).await
}

/// Send the loop an event that carries a reply, and wait (off the runtime's
/// threads) for the answer.
pub(super) async fn ask_loop<T: Send + 'static>(
    s: &Served,
    make: impl FnOnce(ente_core::Reply<T>) -> Event,
) -> Result<T, String> {
    let (tx, rx) = std::sync::mpsc::sync_channel(1);
    s.handles
        .inbox
        .send(make(tx))
        .await
        .map_err(|_| "the host is stopping".to_owned())?;
    tokio::task::spawn_blocking(move || rx.recv_timeout(ANSWER_WITHIN))
        .await
        .map_err(|e| e.to_string())?
        .map_err(|_| {
            format!(
                "no answer within {ANSWER_WITHIN:?}: the outcome is unknown (the host may still act on it)"
            )
        })?
}
