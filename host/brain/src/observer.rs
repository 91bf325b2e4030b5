//! The observer: what happened, counted.
//!
//! For each ordered pair of kinds (a, b) it counts two things over the
//! [`FANOUT`] kinds seen last, each at its latest occurrence within
//! [`HORIZON_MS`]:
//!
//! - the occurrences of `a` that a `b` followed (the first `b` after each,
//!   before `a` recurs), with the gaps: the support, and P(b|a) = support /
//!   count(a), a probability;
//! - every `b` that came while `a` was recent, against how many events of
//!   any kind came while `a` was recent (a's exposure): the lift
//!   `n(a→b) · N / (exposure(a) · count(b))`, whose log2 is the pointwise
//!   mutual information, about 0 when `b` comes after `a` no more often
//!   than at any time (self-pairs included).
//!
//! Per event the work is one lookup of its kind and one per kind in the
//! fan-out: no walk over the window.

use crate::pairs::PairTable;
use crate::stats::{Decayed, GapStats};
use alloc::collections::VecDeque;
use alloc::string::String;
use alloc::vec::Vec;
use hashbrown::HashMap;
use serde::{Deserialize, Serialize};

/// Recent events kept (for `recent`, and a rule engine's look back).
pub const WINDOW: usize = 1024;
/// The kinds seen last that a new event may follow.
pub const FANOUT: usize = 8;
/// How long after `a` an event still follows it.
pub const HORIZON_MS: u64 = 10_000;
/// Distinct kinds and pairs tracked at most; past them, new ones are
/// counted as untracked (an Ente that names a new kind per event cannot
/// grow the brain without bound).
pub const MAX_KINDS: usize = 4096;
pub const MAX_PAIRS: usize = 65_536;

/// One event, as the brain sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Event {
    /// The host's sequence number.
    pub seq: u64,
    /// Milliseconds on the host's monotonic clock.
    pub at_ms: u64,
    /// What happened: `died`, `ready`, `failed`, `backing_off`, ...
    pub kind: String,
    /// The Ente it happened to: its id and label.
    pub ente: Option<String>,
    pub label: Option<String>,
    /// Why, in words (a death's cause).
    pub cause: Option<String>,
}

impl Event {
    /// Its kind as observed: `kind@label`, or the kind alone.
    pub fn key(&self) -> String {
        key(&self.kind, self.label.as_deref())
    }

    pub fn as_ref(&self) -> EventRef<'_> {
        EventRef {
            seq: self.seq,
            at_ms: self.at_ms,
            kind: &self.kind,
            ente: self.ente.as_deref(),
            label: self.label.as_deref(),
            cause: self.cause.as_deref(),
        }
    }
}

/// A kind as observed: `kind@label`, or the kind alone.
pub fn key(kind: &str, label: Option<&str>) -> String {
    match label {
        Some(l) => alloc::format!("{kind}@{l}"),
        None => String::from(kind),
    }
}

/// An event whose strings are borrowed (from a batch's names).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EventRef<'a> {
    pub seq: u64,
    pub at_ms: u64,
    pub kind: &'a str,
    pub ente: Option<&'a str>,
    pub label: Option<&'a str>,
    pub cause: Option<&'a str>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct KindStat {
    name: String,
    /// Its occurrences.
    count: Decayed,
    /// Events of any kind that came while it was recent.
    exposure: Decayed,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Pair {
    /// Occurrences of `a` that a `b` followed.
    pub support: Decayed,
    /// Every `b` that came while `a` was recent.
    pub all: Decayed,
    /// From each occurrence of `a` to the first `b` after it.
    pub gaps: GapStats,
}

/// A kind in the fan-out, at its latest occurrence.
#[derive(Debug, Clone, Copy, Default)]
struct Latest {
    kind: u32,
    at_ms: u64,
    /// Which occurrence it is (from 1, in the order they came): a pair
    /// notes the last occurrence of `a` whose first `b` it counted, so
    /// "already followed by b" is one compare, not a walk over a list.
    occurrence: u64,
}

/// The fan-out: fixed slots, and their order newest first (a byte each,
/// packed in a word), so that a kind seen again moves to the front by
/// moving a byte, not an entry. It runs for every event, and compiled to
/// wasm each loop it enters costs an interruption check per turn, so it
/// has none: the slots are compared in a fixed count (unrolled), and the
/// byte is found and moved with word arithmetic.
#[derive(Debug, Clone, Copy, Default)]
struct FanOut {
    slots: [Latest; FANOUT],
    /// Byte `j`: the slot of the `j`-th newest; those past `len` mean
    /// nothing.
    order: u64,
    len: u8,
}

const _: () = assert!(FANOUT == 8, "the order is a byte a slot in a u64");
const BYTES: u64 = 0x0101_0101_0101_0101;

impl FanOut {
    /// The slot of the `j`-th newest.
    fn at(&self, j: usize) -> usize {
        usize::from((self.order >> (8 * j)) as u8)
    }

    /// Put `kind`, seen at `t`, first: its own slot if it has one, else a
    /// free one, else the oldest's.
    fn seen(&mut self, kind: u32, t: u64, occurrence: u64) {
        let len = usize::from(self.len);
        let mut own = FANOUT;
        for (i, l) in self.slots.iter().enumerate() {
            if i < len && l.kind == kind {
                own = i;
            }
        }
        let (pos, slot) = if own < FANOUT {
            // Where its byte is: the lowest byte of `order` equal to it (a
            // zero byte of the xor; a borrow only marks bytes above it).
            let x = self.order ^ (BYTES * own as u64);
            let zero = x.wrapping_sub(BYTES) & !x & (BYTES << 7);
            ((zero.trailing_zeros() / 8) as usize, own)
        } else if len < FANOUT {
            self.len += 1;
            (len, len)
        } else {
            (len - 1, self.at(len - 1))
        };
        // Byte `pos` out, the ones below it up one, `slot` in at 0.
        let below = self.order & ((1u64 << (8 * pos)) - 1);
        let cut = 8 * (pos as u32 + 1);
        let above = self.order.checked_shr(cut).map_or(0, |x| x << cut);
        self.order = above | below << 8 | slot as u64;
        self.slots[slot] = Latest {
            kind,
            at_ms: t,
            occurrence,
        };
    }
}

/// The observer's state, as a snapshot keeps it.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Saved {
    half_life_ms: Option<f64>,
    total: Decayed,
    kinds: Vec<KindStat>,
    pairs: Vec<(u32, u32, Pair)>,
    untracked: u64,
}

impl Saved {
    /// The pairs it holds.
    pub fn pairs(&self) -> usize {
        self.pairs.len()
    }

    /// Only the `n` pairs of most support (those nearest to crystals), for
    /// a state that must fit a size: the rest are learnt again.
    pub fn keep_strongest(&mut self, n: usize) {
        if n < self.pairs.len() {
            // Each support as of one time (the last event), as crystals
            // read it: with a half-life, a pair strong long ago is weak now.
            let now = self.kinds.iter().map(|k| k.count.at_ms).max().unwrap_or(0);
            let h = self.half_life_ms;
            self.pairs.sort_by(|x, y| {
                let (x, y) = (x.2.support.at(now, h), y.2.support.at(now, h));
                y.total_cmp(&x)
            });
            self.pairs.truncate(n);
        }
    }

    /// No counts at all (the half-life kept): what is left when even its
    /// kinds do not fit.
    pub fn forget_counts(&mut self) {
        *self = Saved {
            half_life_ms: self.half_life_ms,
            ..Saved::default()
        };
    }
}

#[derive(Debug, Clone, Default)]
pub struct Observer {
    half_life_ms: Option<f64>,
    /// Occurrences of every kind.
    total: Decayed,
    ids: HashMap<String, u32>,
    kinds: Vec<KindStat>,
    pairs: PairTable,
    latest: FanOut,
    recent: VecDeque<(u32, u64)>,
    now_ms: u64,
    untracked: u64,
    /// Added to each event's time: a restored observer's clock goes on
    /// from where the saved one stopped, though the new host's clock began
    /// again at 0 (set by the first event after a restore).
    offset_ms: u64,
    rebase: bool,
    /// Occurrences seen, for [`Latest::occurrence`].
    occurrences: u64,
}

impl Observer {
    pub fn new() -> Observer {
        Observer::default()
    }

    /// Counts halve every `half_life_ms`.
    pub fn with_half_life(mut self, half_life_ms: f64) -> Observer {
        self.half_life_ms = (half_life_ms > 0.0).then_some(half_life_ms);
        self
    }

    pub fn half_life_ms(&self) -> Option<f64> {
        self.half_life_ms
    }

    /// The time of the last event seen.
    pub fn now_ms(&self) -> u64 {
        self.now_ms
    }

    /// Events whose kind or pair was past the bounds, not counted.
    pub fn untracked(&self) -> u64 {
        self.untracked
    }

    /// The id of kind `key` (made on first sight); `None` past
    /// [`MAX_KINDS`].
    pub fn intern(&mut self, key: &str) -> Option<u32> {
        if let Some(id) = self.ids.get(key) {
            return Some(*id);
        }
        if self.kinds.len() >= MAX_KINDS {
            return None;
        }
        let id = self.kinds.len() as u32;
        self.ids.insert(String::from(key), id);
        self.kinds.push(KindStat {
            name: String::from(key),
            ..KindStat::default()
        });
        Some(id)
    }

    /// Count one event (of kind `key`, at `at_ms`; a time before the last
    /// seen is taken as the last).
    pub fn record(&mut self, key: &str, at_ms: u64) {
        let id = self.intern(key);
        self.record_id(id, at_ms);
    }

    /// Count one event of an interned kind (`None`: past the bounds, counted
    /// as untracked).
    pub fn record_id(&mut self, id: Option<u32>, at_ms: u64) {
        if self.rebase {
            self.rebase = false;
            self.offset_ms = self.now_ms.saturating_sub(at_ms);
        }
        let t = at_ms.saturating_add(self.offset_ms).max(self.now_ms);
        self.now_ms = t;
        let Some(b) = id.filter(|&b| (b as usize) < self.kinds.len()) else {
            self.untracked += 1;
            return;
        };
        let h = self.half_life_ms;
        self.total.add(1.0, t, h);
        self.kinds[b as usize].count.add(1.0, t, h);
        let fan = &mut self.latest;
        for j in 0..usize::from(fan.len) {
            let l = &fan.slots[fan.at(j)];
            if t - l.at_ms > HORIZON_MS {
                // Older ones follow: the fan-out is newest first.
                break;
            }
            self.kinds[l.kind as usize].exposure.add(1.0, t, h);
            let Some(i) = self.pairs.find_or_insert((l.kind, b)) else {
                self.untracked += 1;
                continue;
            };
            let (pair, counted) = self.pairs.at_mut(i);
            pair.all.add(1.0, t, h);
            // The first `b` after this occurrence of `a`. (An occurrence
            // leaves the fan-out before more than FANOUT - 1 other kinds
            // follow it: what it would have to remember is small, and a
            // pair's note of the last occurrence it counted is all of it.)
            if *counted != l.occurrence {
                *counted = l.occurrence;
                pair.support.add(1.0, t, h);
                pair.gaps.add(t - l.at_ms);
            }
        }
        self.occurrences += 1;
        fan.seen(b, t, self.occurrences);
        if self.recent.len() == WINDOW {
            self.recent.pop_front();
        }
        self.recent.push_back((b, t));
    }

    /// Count an event.
    pub fn observe(&mut self, e: &Event) {
        self.record(&e.key(), e.at_ms);
    }

    /// How often `key` occurred (decayed to now).
    pub fn count(&self, key: &str) -> f64 {
        self.ids.get(key).map_or(0.0, |&id| {
            self.kinds[id as usize]
                .count
                .at(self.now_ms, self.half_life_ms)
        })
    }

    /// Every event counted (decayed to now).
    pub fn total(&self) -> f64 {
        self.total.at(self.now_ms, self.half_life_ms)
    }

    /// The pair `a` then `b`, if seen.
    pub fn pair(&self, a: &str, b: &str) -> Option<Pair> {
        let (a, b) = (*self.ids.get(a)?, *self.ids.get(b)?);
        self.pairs.get((a, b)).copied()
    }

    /// Every pair: (a, b, its count now, P(b|a), PMI, its gaps).
    pub fn pairs(&self) -> impl Iterator<Item = (&str, &str, f64, f64, f64, GapStats)> + '_ {
        let (now, h) = (self.now_ms, self.half_life_ms);
        let total = self.total.at(now, h);
        self.pairs.iter().map(move |((a, b), p)| {
            let (ka, kb) = (&self.kinds[a as usize], &self.kinds[b as usize]);
            let support = p.support.at(now, h);
            let count_a = ka.count.at(now, h);
            let p_b_given_a = if count_a > 0.0 {
                (support / count_a).min(1.0)
            } else {
                0.0
            };
            let expected = ka.exposure.at(now, h) * kb.count.at(now, h);
            let seen = p.all.at(now, h) * total;
            let pmi = if seen > 0.0 && expected > 0.0 {
                libm::log2(seen / expected)
            } else {
                f64::NEG_INFINITY
            };
            (
                ka.name.as_str(),
                kb.name.as_str(),
                support,
                p_b_given_a,
                pmi,
                p.gaps,
            )
        })
    }

    /// The last `n` events: (kind, at).
    pub fn recent(&self, n: usize) -> impl Iterator<Item = (&str, u64)> + '_ {
        let skip = self.recent.len().saturating_sub(n);
        self.recent
            .iter()
            .skip(skip)
            .map(|&(k, t)| (self.kinds[k as usize].name.as_str(), t))
    }

    /// What a snapshot keeps: the counts, not the fan-out or the window.
    pub fn save(&self) -> Saved {
        Saved {
            half_life_ms: self.half_life_ms,
            total: self.total,
            kinds: self.kinds.clone(),
            pairs: self.pairs.iter().map(|((a, b), p)| (a, b, *p)).collect(),
            untracked: self.untracked,
        }
    }

    /// An observer from what [`Observer::save`] kept; `None` when it does
    /// not hold together (a pair of a kind it does not have).
    pub fn restore(s: Saved) -> Option<Observer> {
        let n = s.kinds.len() as u32;
        if s.kinds.len() > MAX_KINDS
            || s.pairs.len() > MAX_PAIRS
            || s.pairs.iter().any(|&(a, b, _)| a >= n || b >= n)
        {
            return None;
        }
        let mut o = Observer {
            half_life_ms: s.half_life_ms,
            total: s.total,
            untracked: s.untracked,
            rebase: true,
            ..Observer::default()
        };
        for (i, k) in s.kinds.iter().enumerate() {
            o.ids.insert(k.name.clone(), i as u32);
            o.now_ms = o.now_ms.max(k.count.at_ms);
        }
        if o.ids.len() != s.kinds.len() {
            // A name twice.
            return None;
        }
        o.kinds = s.kinds;
        for (a, b, p) in s.pairs {
            if !o.pairs.insert_new((a, b), p) {
                // A pair twice.
                return None;
            }
        }
        Some(o)
    }
}
