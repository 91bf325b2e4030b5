//! The sink's queue and the thread that empties it into its target: lines
//! the queue cannot take are dropped and counted, and each drained batch
//! ends with the count said as an event of its own, then a flush.

use super::{Line, Sink};
use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};

/// Lines waiting for the writer, at most.
pub const QUEUE: usize = 1 << 16;

/// The queue's sending end, taken away by [`Writer::finish`].
pub(super) type Lines = Arc<std::sync::Mutex<Option<SyncSender<Line>>>>;

/// Where the events go.
#[derive(Debug, Clone)]
pub enum Target {
    /// Appended to a file (made if absent), one JSON object per line.
    File(PathBuf),
    /// Published to NATS at `url`, each on `<subject>.<type>`
    /// (`ente.events.dev.ente.ente.ready.v1`).
    Nats { url: String, subject: String },
}

impl std::fmt::Display for Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Target::File(path) => write!(f, "--cloudevents {}", path.display()),
            Target::Nats { url, .. } => write!(f, "--cloudevents-nats {url}"),
        }
    }
}

/// What a writer writes to.
pub(super) trait Out {
    fn put(&mut self, line: &Line) -> Result<(), String>;
    /// Make what was put reach the target.
    fn flush(&mut self) -> Result<(), String>;
    /// Lines put that the target lost since last asked, and why (a
    /// network target loses some where a file fails outright).
    fn lost(&mut self) -> Option<(u64, String)> {
        None
    }
}

struct FileOut(std::io::BufWriter<std::fs::File>);

impl Out for FileOut {
    fn put(&mut self, line: &Line) -> Result<(), String> {
        writeln!(self.0, "{}", line.json).map_err(|e| e.to_string())
    }

    fn flush(&mut self) -> Result<(), String> {
        self.0.flush().map_err(|e| e.to_string())
    }
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

/// A sink to `target`, for the host of `seed`.
pub fn open(target: &Target, seed: &str) -> Result<(Sink, Writer), String> {
    open_bounded(target, seed, QUEUE)
}

/// [`open`], with at most `queue` lines waiting.
pub fn open_bounded(target: &Target, seed: &str, queue: usize) -> Result<(Sink, Writer), String> {
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
    let said = |e: String| format!("{target}: {e}");
    let out: Box<dyn FnOnce() -> Result<Box<dyn Out>, String> + Send> = match target {
        Target::File(path) => {
            let file = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)
                .map_err(|e| said(e.to_string()))?;
            Box::new(move || {
                Ok(
                    Box::new(FileOut(std::io::BufWriter::with_capacity(1 << 16, file)))
                        as Box<dyn Out>,
                )
            })
        }
        #[cfg(feature = "nats")]
        Target::Nats { url, subject } => {
            let (url, subject) = (url.clone(), subject.clone());
            Box::new(move || {
                Ok(Box::new(super::nats::NatsOut::connect(&url, subject)?) as Box<dyn Out>)
            })
        }
        #[cfg(not(feature = "nats"))]
        Target::Nats { .. } => {
            return Err(said(
                "this ente was built without the `nats` feature (cargo build --features nats)"
                    .into(),
            ));
        }
    };
    // The target is reached on the writer's thread (a NATS client runs on
    // a runtime of its own there); whether it was is known before the
    // host goes on.
    let (ready_tx, ready_rx) = sync_channel(1);
    let thread = std::thread::Builder::new()
        .name("ente-cloudevents".into())
        .spawn(move || {
            let out = match out() {
                Ok(out) => {
                    let _ = ready_tx.send(Ok(()));
                    out
                }
                Err(e) => {
                    let _ = ready_tx.send(Err(e.clone()));
                    return Err(e);
                }
            };
            write_lines(rx, out, &dropped, &source, &run, queue)
        })
        .map_err(|e| format!("cannot start the CloudEvents writer: {e}"))?;
    match ready_rx.recv() {
        Ok(Ok(())) => {}
        Ok(Err(e)) => return Err(said(e)),
        Err(_) => return Err(said("the writer ended before it began".into())),
    }
    Ok((
        sink,
        Writer {
            thread: Some(thread),
            lines,
        },
    ))
}

fn write_lines(
    rx: Receiver<Line>,
    mut out: Box<dyn Out>,
    dropped: &AtomicU64,
    source: &str,
    run: &str,
    queue: usize,
) -> Result<u64, String> {
    let (mut written, mut said) = (0u64, 0u64);
    let io = |e: String| format!("cannot write the CloudEvents sink: {e}");
    let mut closed = false;
    while !closed {
        match rx.recv() {
            Ok(line) => {
                out.put(&line).map_err(io)?;
                written += 1;
                for line in rx.try_iter() {
                    out.put(&line).map_err(io)?;
                    written += 1;
                }
            }
            Err(_) => closed = true,
        }
        // Drained (or closed): say what was dropped meanwhile, and write
        // through, so that a reader is never a batch behind.
        let now = dropped.load(Ordering::Relaxed);
        if now > said {
            let why = format!(
                "the sink's queue was full ({queue} lines): its writer fell behind the host's events"
            );
            out.put(&dropped_event(source, run, now - said, written, &why))
                .map_err(io)?;
            said = now;
        }
        out.flush().map_err(io)?;
        if let Some((lost, why)) = out.lost() {
            written = written.saturating_sub(lost);
            out.put(&dropped_event(source, run, lost, written, &why))
                .map_err(io)?;
            out.flush().map_err(io)?;
        }
    }
    Ok(written)
}

fn dropped_event(source: &str, run: &str, count: u64, after: u64, why: &str) -> Line {
    let ty = "dev.ente.sink.dropped.v1";
    let json = serde_json::json!({
        "specversion": "1.0",
        "id": format!("{run}-dropped-{after}"),
        "source": source,
        "type": ty,
        "time": humantime::format_rfc3339_millis(std::time::SystemTime::now()).to_string(),
        "datacontenttype": "application/json",
        "data": {
            "dropped": count,
            "why": why,
        },
    })
    .to_string();
    Line {
        ty: ty.into(),
        json,
    }
}
