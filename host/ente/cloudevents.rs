//! The spine's events as CloudEvents v1.0 (JSON), one per line, to a sink
//! chosen at start (`ente up --cloudevents FILE`).
//!
//! The sink is a durable consumer of the spine, so it is handed every event
//! in order; under the spine's lock it only renders the event and queues
//! the line (at most [`QUEUE`]). A thread of its own writes them. When the
//! writer falls that far behind, lines are dropped, counted, and the count
//! is written as an event of its own (`dev.ente.sink.dropped.v1`, saying
//! why): the sink may lose lines under a flood, never silently.
//!
//! Types are `dev.ente.<subject kind>.<what>.v1`: `dev.ente.ente.ready.v1`,
//! `dev.ente.ente.died.v1`, `dev.ente.lease.granted.v1`,
//! `dev.ente.journal.line.v1`, `dev.ente.host.settled.v1`, ...

use ente_bus::LeaseEvent;
use ente_core::{Durable, Kind, Occurrence};
use std::io::Write;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, SyncSender, TrySendError, sync_channel};

/// Lines waiting for the writer, at most.
pub const QUEUE: usize = 1 << 16;

/// The queue's sending end, taken away by [`Writer::finish`].
type Lines = Arc<std::sync::Mutex<Option<SyncSender<String>>>>;

/// The spine's consumer: renders and queues.
#[derive(Debug)]
pub struct Sink {
    lines: Lines,
    dropped: Arc<AtomicU64>,
    /// `source` of every event: this host.
    source: String,
    /// Unique per host run: with the spine's sequence number, an event's id.
    run: String,
}

/// The writer's thread; joined (and what is queued written) by
/// [`Writer::finish`].
#[derive(Debug)]
pub struct Writer {
    thread: Option<std::thread::JoinHandle<Result<u64, String>>>,
    lines: Lines,
}

impl Writer {
    /// Close the queue (the sink takes no more events), wait for every
    /// queued line to be written; how many lines were written.
    pub fn finish(mut self) -> Result<u64, String> {
        self.lines.lock().unwrap_or_else(|p| p.into_inner()).take();
        match self.thread.take().map(std::thread::JoinHandle::join) {
            Some(Ok(written)) => written,
            Some(Err(_)) => Err("the CloudEvents writer panicked".into()),
            None => Ok(0),
        }
    }
}

/// A sink appending to `path` (made if absent), for the host of `seed`.
pub fn open(path: &Path, seed: &str) -> Result<(Sink, Writer), String> {
    open_bounded(path, seed, QUEUE)
}

/// [`open`], with at most `queue` lines waiting.
pub fn open_bounded(path: &Path, seed: &str, queue: usize) -> Result<(Sink, Writer), String> {
    let file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .map_err(|e| format!("--cloudevents {}: {e}", path.display()))?;
    let (tx, rx) = sync_channel(queue.max(1));
    let dropped = Arc::new(AtomicU64::new(0));
    let lines: Lines = Arc::new(std::sync::Mutex::new(Some(tx)));
    let sink = Sink {
        lines: lines.clone(),
        dropped: dropped.clone(),
        source: format!("/ente/{seed}"),
        run: ulid::Ulid::new().to_string(),
    };
    let (source, run) = (sink.source.clone(), sink.run.clone());
    let thread = std::thread::Builder::new()
        .name("ente-cloudevents".into())
        .spawn(move || write_lines(rx, file, &dropped, &source, &run, queue))
        .map_err(|e| format!("cannot start the CloudEvents writer: {e}"))?;
    Ok((
        sink,
        Writer {
            thread: Some(thread),
            lines,
        },
    ))
}

fn write_lines(
    rx: Receiver<String>,
    file: std::fs::File,
    dropped: &AtomicU64,
    source: &str,
    run: &str,
    queue: usize,
) -> Result<u64, String> {
    let mut out = std::io::BufWriter::with_capacity(1 << 16, file);
    let (mut written, mut said) = (0u64, 0u64);
    let io = |e: std::io::Error| format!("cannot write the CloudEvents sink: {e}");
    let mut closed = false;
    while !closed {
        match rx.recv() {
            Ok(line) => {
                writeln!(out, "{line}").map_err(io)?;
                written += 1;
                for line in rx.try_iter() {
                    writeln!(out, "{line}").map_err(io)?;
                    written += 1;
                }
            }
            Err(_) => closed = true,
        }
        // Drained (or closed): say what was dropped meanwhile, and write
        // through, so that a reader of the file is never a batch behind.
        let now = dropped.load(Ordering::Relaxed);
        if now > said {
            let event = dropped_event(source, run, now - said, written, queue);
            writeln!(out, "{event}").map_err(io)?;
            said = now;
        }
        out.flush().map_err(io)?;
    }
    Ok(written)
}

fn dropped_event(source: &str, run: &str, count: u64, after: u64, queue: usize) -> String {
    serde_json::json!({
        "specversion": "1.0",
        "id": format!("{run}-dropped-{after}"),
        "source": source,
        "type": "dev.ente.sink.dropped.v1",
        "time": humantime::format_rfc3339_millis(std::time::SystemTime::now()).to_string(),
        "datacontenttype": "application/json",
        "data": {
            "dropped": count,
            "why": format!("the sink's queue was full ({queue} lines): its writer fell behind the host's events"),
        },
    })
    .to_string()
}

impl Sink {
    /// An event as a CloudEvent's JSON.
    pub fn render(&self, e: &Occurrence) -> String {
        let (subject, label) = match &e.ente {
            Some((id, label)) => (Some(id.to_string()), Some(label.clone())),
            None => (None, None),
        };
        let text = crate::ctl::render::text(e);
        let mut event = serde_json::json!({
            "specversion": "1.0",
            "id": format!("{}-{}", self.run, e.seq),
            "source": self.source,
            "type": type_of(&e.kind),
            "time": humantime::format_rfc3339_millis(e.wall).to_string(),
            "datacontenttype": "application/json",
            "data": {
                "seq": e.seq,
                "label": label,
                "text": text,
            },
        });
        if let Some(subject) = subject {
            event["subject"] = subject.into();
        }
        event.to_string()
    }
}

impl Durable for Sink {
    fn append(&mut self, e: &Occurrence) {
        let line = self.render(e);
        let lines = self.lines.lock().unwrap_or_else(|p| p.into_inner());
        // Closed at the host's end: what follows is not the sink's.
        let Some(tx) = lines.as_ref() else { return };
        match tx.try_send(line) {
            Ok(()) => {}
            Err(TrySendError::Full(_) | TrySendError::Disconnected(_)) => {
                self.dropped.fetch_add(1, Ordering::Relaxed);
            }
        }
    }
}

/// `dev.ente.<subject kind>.<what>.v1`.
pub fn type_of(kind: &Kind) -> String {
    let what = match kind {
        Kind::State { to, .. } => format!("ente.{}", snake(&format!("{to:?}"))),
        Kind::Lease(l) => format!(
            "lease.{}",
            match l {
                LeaseEvent::Granted { .. } => "granted",
                LeaseEvent::Denied { .. } => "denied",
                LeaseEvent::Renewed { .. } => "renewed",
                LeaseEvent::Expired { .. } => "expired",
                LeaseEvent::Dropped { .. } => "dropped",
            }
        ),
        Kind::Journal { .. } => "journal.line".into(),
        other => {
            let debug = format!("{other:?}");
            let name = snake(debug.split([' ', '(', '{']).next().unwrap_or_default());
            match other {
                Kind::Died { .. }
                | Kind::Spawned { .. }
                | Kind::StartFailed { .. }
                | Kind::Refused { .. }
                | Kind::Teardown { .. }
                | Kind::Soma { .. }
                | Kind::StateSaved { .. }
                | Kind::StateRestored { .. }
                | Kind::Left
                | Kind::Dropped { .. } => format!("ente.{name}"),
                _ => format!("host.{name}"),
            }
        }
    };
    format!("dev.ente.{what}.v1")
}

/// `BackingOff` -> `backing_off`.
fn snake(name: &str) -> String {
    let mut out = String::with_capacity(name.len() + 4);
    for (i, c) in name.chars().enumerate() {
        if c.is_ascii_uppercase() && i > 0 {
            out.push('_');
        }
        out.push(c.to_ascii_lowercase());
    }
    out
}
