//! The host's table and spine as `ente ctl` sees them: an Ente found by id
//! or label, its row, an event as a line.

use ente_core::{Handles, Kind, Occurrence};
use ente_ctl::{EnteRow, EventLine};
use std::sync::atomic::Ordering;
use ulid::Ulid;

/// How much of a label, and of a state's words, is shown.
const LABEL_LEN: usize = 256;
const STATE_LEN: usize = 2048;

/// What an Ente chose (its label, its words) as it may reach a terminal:
/// control characters escaped, cut to `max`.
fn shown(text: &str, max: usize) -> String {
    ente_runtime::host::clean(text, max)
}

/// The Ente `name` names: its id, or its label when one Ente has it.
pub fn find(handles: &Handles, name: &str) -> Result<Ulid, String> {
    let t = handles.read();
    if let Ok(id) = name.parse::<Ulid>()
        && t.get(id).is_some()
    {
        return Ok(id);
    }
    let named: Vec<Ulid> = t
        .iter()
        .filter(|r| r.label() == name)
        .map(|r| r.id)
        .collect();
    match named.as_slice() {
        [id] => Ok(*id),
        [] => Err(format!(
            "no Ente of this host has the id or label `{}`",
            ente_runtime::host::clean(name, 200)
        )),
        more => Err(format!(
            "{} Entes are labelled `{}`: name one by its id ({})",
            more.len(),
            ente_runtime::host::clean(name, 200),
            more.iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(", ")
        )),
    }
}

/// Every Ente's row (or `only`'s), in the order the table holds them.
pub fn rows(handles: &Handles, only: Option<Ulid>) -> Vec<EnteRow> {
    let leases = handles.bus.leases().list(std::time::Instant::now());
    let t = handles.read();
    t.iter()
        .filter(|r| only.is_none_or(|id| r.id == id))
        .map(|r| {
            let (served, failed, latency) = handles.bus.slot(r.id).map_or((0, 0, None), |s| {
                (s.served(), s.errors(), Some(s.latency.read()))
            });
            let call_mean_us = latency
                .filter(|l| l.count > 0)
                .map_or(0, |l| (l.sum_seconds * 1e6 / l.count as f64) as u64);
            EnteRow {
                id: r.id.to_string(),
                label: shown(r.label(), LABEL_LEN),
                parent: r.parent.map(|p| p.to_string()),
                state: shown(&r.state.to_string(), STATE_LEN),
                kind: payload_kind(&r.card.payload).to_owned(),
                restarts: r.restarts,
                failures: r.failures,
                served,
                failed,
                cpu_ms: r.counters.cpu_ns.load(Ordering::Relaxed) / 1_000_000,
                mem_bytes: memory_bytes(&r.counters),
                call_mean_us,
                spawned: r.spawned,
                journal_floor: Some(handles.floors.floor(r.id))
                    .filter(|&l| l != ente_core::Level::Trace)
                    .map(|l| l.name().to_owned()),
                leases: leases
                    .iter()
                    .filter(|(caller, ..)| *caller == r.id)
                    .map(|(_, endpoint, provider, left)| {
                        let at = t
                            .get(*provider)
                            .map_or_else(|| provider.to_string(), |p| shown(p.label(), LABEL_LEN));
                        format!(
                            "{}@{} at {at}, {} s left",
                            endpoint.interface,
                            endpoint.version,
                            left.as_secs()
                        )
                    })
                    .collect(),
            }
        })
        .collect()
}

/// A payload's kind in one word, as status rows and metrics name it.
pub(crate) fn payload_kind(p: &ente_card::Payload) -> &'static str {
    match p {
        ente_card::Payload::Wasm { .. } => "wasm",
        ente_card::Payload::Native { .. } => "native",
        ente_card::Payload::Legacy { .. } => "legacy",
        ente_card::Payload::Virtual => "virtual",
    }
}

/// An event in words: a journal line as its level and text, else the
/// console's words, else the audit chain's, else the event itself.
pub(crate) fn text(e: &Occurrence) -> String {
    let label = e.ente.as_ref().map_or("", |(_, l)| l.as_str());
    match &e.kind {
        Kind::Journal { level, text } => format!("{}: {text}", level.name()),
        // What the console leaves out, said all the same.
        Kind::State { detail, .. } => format!("{label}: {detail}"),
        Kind::StartFailed { cause, .. } => format!("{label}: its start failed: {cause}"),
        Kind::Left => format!("{label}: left the table"),
        Kind::Uevent {
            action,
            devpath,
            delivered,
        } => format!("uevent {action} {devpath}: handed to {delivered} Entes"),
        Kind::Reaped { how, .. } if e.ente.is_some() => format!("{label}: reaped: {how}"),
        Kind::Signal { name } => format!("signal {name}"),
        _ => crate::up::status::line_of(e)
            .or_else(|| crate::audit::decision_of(e).map(|d| d.to_string()))
            .unwrap_or_else(|| format!("{:?}", e.kind)),
    }
}

/// An event as a line of `ente ctl events` and `logs`.
pub fn line(e: &Occurrence) -> EventLine {
    let text = text(e);
    let debug = format!("{:?}", e.kind);
    let kind = debug
        .split([' ', '(', '{'])
        .next()
        .unwrap_or_default()
        .to_ascii_lowercase();
    EventLine {
        seq: e.seq,
        wall_ms: e
            .wall
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX)),
        ente: e.ente.as_ref().map(|(id, _)| id.to_string()),
        label: e.ente.as_ref().map(|(_, l)| shown(l, LABEL_LEN)),
        kind,
        text: ente_runtime::host::clean(&text, 8192),
    }
}

/// Memory an Ente holds: the linear memory of its live stores, and its
/// native process tree's cgroup v2 `memory.current` while one runs.
pub(crate) fn memory_bytes(c: &ente_core::Counters) -> u64 {
    let linear = c.linear_bytes.load(std::sync::atomic::Ordering::Relaxed);
    let leaf = c.cgroup.lock().unwrap_or_else(|p| p.into_inner()).clone();
    let tree = leaf
        .and_then(|l| std::fs::read_to_string(l.join("memory.current")).ok())
        .and_then(|s| s.trim().parse::<u64>().ok())
        .unwrap_or(0);
    linear.saturating_add(tree)
}
