//! The spine's events as CloudEvents v1.0 (JSON) to a sink chosen at
//! start: a file, one per line (`ente up --cloudevents FILE`), or with the
//! `nats` feature a NATS subject per type (`--cloudevents-nats URL`).
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

#[cfg(feature = "nats")]
mod nats;
mod writer;

use ente_bus::LeaseEvent;
use ente_core::{Durable, Kind, Occurrence, snake};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::TrySendError;

pub use writer::{QUEUE, Target, Writer, open, open_bounded};

/// One event, rendered: its type (a NATS subject's tail) and its JSON.
#[derive(Debug)]
pub struct Line {
    pub ty: String,
    pub json: String,
}

/// The spine's consumer: renders and queues.
#[derive(Debug)]
pub struct Sink {
    lines: writer::Lines,
    dropped: Arc<AtomicU64>,
    /// `source` of every event: this host.
    source: String,
    /// Unique per host run: with the spine's sequence number, an event's id.
    run: String,
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
        let line = Line {
            ty: type_of(&e.kind),
            json: self.render(e),
        };
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
