//! A batch of events as it crosses into the brain: each string once, end
//! to end in the batch's names, and each event's strings as indices into
//! them, so that the per-event cost of the crossing is a few integers. The brain
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

/// A batch's strings, end to end, and where each ends.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Names {
    pub text: String,
    pub ends: Vec<u32>,
}

impl Names {
    pub fn view(&self) -> NamesRef<'_> {
        NamesRef {
            text: &self.text,
            ends: &self.ends,
        }
    }
}

/// A batch's names as they crossed: `text` end to end, name `j` ending at
/// byte `ends[j]`. Read in place; a name whose bounds do not hold (past
/// the text, before its start, inside a character) names nothing.
#[derive(Debug, Clone, Copy)]
pub struct NamesRef<'a> {
    pub text: &'a str,
    pub ends: &'a [u32],
}

impl<'a> NamesRef<'a> {
    pub fn get(&self, i: u32) -> Option<&'a str> {
        let i = i as usize;
        let end = *self.ends.get(i)? as usize;
        let start = match i {
            0 => 0,
            _ => self.ends[i - 1] as usize,
        };
        self.text.get(start..end)
    }
}

/// Events as a batch: their distinct strings, and the events.
pub fn compact(events: &[Event]) -> (Names, Vec<Compact>) {
    fn of<'a>(s: Option<&'a str>, index: &mut HashMap<&'a str, u32>, names: &mut Names) -> u32 {
        let Some(s) = s else { return NONE };
        *index.entry(s).or_insert_with(|| {
            names.text.push_str(s);
            // Past 4 GiB of names an end would not fit: none is kept.
            let end = u32::try_from(names.text.len()).unwrap_or(u32::MAX);
            names.ends.push(end);
            (names.ends.len() - 1) as u32
        })
    }
    let mut names = Names::default();
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
/// An index past `names` reads as none. The events are taken as they come
/// (the brain reads them off its batch's columns, copying none).
pub fn observe_batch(
    observer: &mut Observer,
    rules: &mut Rules,
    names: NamesRef<'_>,
    events: impl IntoIterator<Item = Compact>,
    fired: &mut Vec<Fired>,
) -> u64 {
    let name = |i: u32| names.get(i);
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_read_in_place_and_a_name_whose_bounds_do_not_hold_names_nothing() {
        let text = "diedflakyé";
        // "died", "flaky", one that ends before it starts, one that ends
        // inside `é`, one past the text, one that starts past it.
        let ends = [4, 9, 2, 10, 99, 11];
        let names = NamesRef { text, ends: &ends };
        assert_eq!(names.get(0), Some("died"));
        assert_eq!(names.get(1), Some("flaky"));
        assert_eq!(names.get(2), None, "ends before it starts");
        assert_eq!(names.get(3), None, "ends inside `é`");
        assert_eq!(names.get(4), None, "past the text");
        assert_eq!(names.get(5), None, "starts past the text");
        assert_eq!(names.get(6), None, "no such name");
        assert_eq!(names.get(NONE), None);
    }

    #[test]
    fn a_compacted_batch_names_each_string_once() {
        let e = |kind: &str, label: &str| Event {
            seq: 1,
            at_ms: 1,
            kind: kind.into(),
            ente: None,
            label: Some(label.into()),
            cause: None,
        };
        let (names, events) = compact(&[e("died", "a"), e("died", "b"), e("ready", "a")]);
        assert_eq!(names.text, "diedabready");
        assert_eq!(names.ends, [4, 5, 6, 11]);
        let v = names.view();
        let read: Vec<_> = events
            .iter()
            .map(|c| (v.get(c.kind), v.get(c.label), v.get(c.ente)))
            .collect();
        assert_eq!(
            read,
            [
                (Some("died"), Some("a"), None),
                (Some("died"), Some("b"), None),
                (Some("ready"), Some("a"), None)
            ]
        );
    }
}
