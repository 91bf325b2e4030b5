//! A batch of events as it crosses into the brain: each string once, in
//! the batch's `names`, and each event's strings as indices into them, so
//! that the per-event cost of the crossing is a few integers. The brain
//! component and the benchmark's native baseline run the same function.

use crate::Event;
use crate::observer::{EventRef, Observer};
use crate::rules::{Fired, Rules};
use alloc::string::String;
use alloc::vec::Vec;
use hashbrown::HashMap;

/// An index that names nothing.
pub const NONE: u32 = u32::MAX;

/// One event of a batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Compact {
    pub seq: u64,
    pub at_ms: u64,
    pub kind: u32,
    pub ente: u32,
    pub label: u32,
    pub cause: u32,
}

/// Events as a batch: their distinct strings, and the events.
pub fn compact(events: &[Event]) -> (Vec<String>, Vec<Compact>) {
    fn of<'a>(
        s: Option<&'a str>,
        index: &mut HashMap<&'a str, u32>,
        names: &mut Vec<String>,
    ) -> u32 {
        let Some(s) = s else { return NONE };
        *index.entry(s).or_insert_with(|| {
            names.push(String::from(s));
            (names.len() - 1) as u32
        })
    }
    let mut names: Vec<String> = Vec::new();
    let mut index: HashMap<&str, u32> = HashMap::new();
    let compact = events
        .iter()
        .map(|e| Compact {
            seq: e.seq,
            at_ms: e.at_ms,
            kind: of(Some(&e.kind), &mut index, &mut names),
            ente: of(e.ente.as_deref(), &mut index, &mut names),
            label: of(e.label.as_deref(), &mut index, &mut names),
            cause: of(e.cause.as_deref(), &mut index, &mut names),
        })
        .collect();
    (names, compact)
}

/// Observe a batch and run the rules over it; the time of its last event.
/// An index past `names` reads as none.
pub fn observe_batch(
    observer: &mut Observer,
    rules: &mut Rules,
    names: &[String],
    events: &[Compact],
    fired: &mut Vec<Fired>,
) -> u64 {
    let name = |i: u32| names.get(i as usize).map(String::as_str);
    // (kind, label) to the observer's kind, once per batch.
    let mut ids: crate::stats::IdMap<(u32, u32), Option<u32>> = Default::default();
    // The key `kind@label` is put together here, in one buffer, rather
    // than formatted anew for each.
    let mut buf = String::new();
    let mut last = 0;
    for c in events {
        let kind = name(c.kind).unwrap_or_default();
        let label = name(c.label);
        let id = *ids.entry((c.kind, c.label)).or_insert_with(|| {
            buf.clear();
            buf.push_str(kind);
            if let Some(l) = label {
                buf.push('@');
                buf.push_str(l);
            }
            observer.intern(&buf)
        });
        observer.record_id(id, c.at_ms);
        let e = EventRef {
            seq: c.seq,
            at_ms: c.at_ms,
            kind,
            ente: name(c.ente),
            label,
            cause: name(c.cause),
        };
        rules.on_event_ref(&e, fired);
        last = c.at_ms;
    }
    last
}
