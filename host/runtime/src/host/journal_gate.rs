//! Where every journal line of an Ente passes, from `ente:core/journal` and
//! from its stdout and stderr: made safe to print, cut to length, and held
//! to a rate.
//!
//! - Control characters (newlines, escapes, C1 controls) and the Unicode
//!   marks that reorder text are shown escaped (`\n`, `\u{1b}`), so that an
//!   Ente cannot print a line that looks like another Ente's, or a status
//!   row, or move the cursor.
//! - A line is cut at [`MAX_LINE`] bytes; what was cut is said.
//! - An Ente may write [`BURST`] lines at once and [`RATE`] a second after
//!   that; lines past the rate are counted, not kept, and the count is
//!   journalled when lines flow again.

use crate::bindings::Level;
use crate::state::{Identity, JournalSink};
use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

/// The longest journal line kept, in bytes (after escaping).
pub const MAX_LINE: usize = 4096;
/// Lines an Ente may write at once.
pub const BURST: f64 = 1000.0;
/// Lines a second an Ente may write after its burst.
pub const RATE: f64 = 200.0;

struct Bucket {
    tokens: f64,
    at: Instant,
    /// Lines dropped since the last one kept.
    dropped: u64,
}

/// The journal of one incarnation of an Ente.
pub(crate) struct JournalGate {
    ente: Identity,
    sink: Arc<dyn JournalSink>,
    bucket: Mutex<Bucket>,
    /// Lines dropped over the Ente's life (shared with the host's record).
    dropped_total: Arc<AtomicU64>,
}

impl JournalGate {
    pub(crate) fn new(
        ente: Identity,
        sink: Arc<dyn JournalSink>,
        dropped_total: Arc<AtomicU64>,
    ) -> JournalGate {
        JournalGate {
            ente,
            sink,
            bucket: Mutex::new(Bucket {
                tokens: BURST,
                at: Instant::now(),
                dropped: 0,
            }),
            dropped_total,
        }
    }

    /// Journal one line, if its level is kept and the rate allows.
    pub(crate) fn line(&self, level: Level, raw: &str) {
        if !self.sink.admits(&self.ente, level) {
            return;
        }
        let dropped = {
            let mut b = self.bucket.lock().unwrap_or_else(|p| p.into_inner());
            let now = Instant::now();
            let refill = now.saturating_duration_since(b.at).as_secs_f64() * RATE;
            b.tokens = (b.tokens + refill).min(BURST);
            b.at = now;
            if b.tokens < 1.0 {
                b.dropped += 1;
                self.dropped_total.fetch_add(1, Ordering::Relaxed);
                return;
            }
            b.tokens -= 1.0;
            std::mem::take(&mut b.dropped)
        };
        if dropped > 0 {
            self.sink.line(
                &self.ente,
                Level::Warn,
                &format!(
                    "({dropped} journal lines dropped: more than {RATE} a second after a burst of {BURST})"
                ),
            );
        }
        self.sink.line(&self.ente, level, &clean(raw, MAX_LINE));
    }
}

/// Whether `c` is shown escaped: controls, and the marks that reorder text.
fn escaped(c: char) -> bool {
    c.is_control()
        || matches!(c, '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

/// `raw` made safe to print on one line, at most about `max` bytes.
pub fn clean(raw: &str, max: usize) -> String {
    let mut out = String::with_capacity(raw.len().min(max) + 24);
    for (at, c) in raw.char_indices() {
        if out.len() >= max {
            let _ = write!(out, " [{} bytes cut]", raw.len() - at);
            break;
        }
        match c {
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push(' '),
            c if escaped(c) => {
                let _ = write!(out, "\\u{{{:x}}}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_line_cannot_forge_another_line_or_move_the_cursor() {
        assert_eq!(
            clean("ok\n[echo] error: forged\x1b[2J", 100),
            "ok\\n[echo] error: forged\\u{1b}[2J"
        );
        assert_eq!(clean("a\u{202e}b\u{85}c", 100), "a\\u{202e}b\\u{85}c");
    }

    #[test]
    fn a_long_line_is_cut_and_says_so() {
        let long = "x".repeat(10_000);
        let kept = clean(&long, 4096);
        assert!(kept.starts_with(&"x".repeat(4096)));
        assert!(kept.ends_with(" [5904 bytes cut]"), "{}", &kept[4090..]);
    }

    struct Count(Mutex<Vec<String>>);
    impl JournalSink for Count {
        fn line(&self, _: &Identity, _: Level, text: &str) {
            self.0.lock().expect("lines").push(text.to_owned());
        }
    }

    #[test]
    fn lines_past_the_rate_are_counted_and_the_count_is_said() {
        let sink = Arc::new(Count(Mutex::new(Vec::new())));
        let total = Arc::new(AtomicU64::new(0));
        let ente = Identity {
            id: "x".into(),
            label: "spam".into(),
        };
        let gate = JournalGate::new(ente, sink.clone(), total.clone());
        for i in 0..5000 {
            gate.line(Level::Info, &format!("line {i}"));
        }
        let kept = sink.0.lock().expect("lines").len();
        // The burst, and the little the rate refilled while the loop ran.
        assert!((1000..1100).contains(&kept), "{kept}");
        assert_eq!(total.load(Ordering::Relaxed) as usize, 5000 - kept);
        std::thread::sleep(std::time::Duration::from_millis(20));
        gate.line(Level::Info, "after");
        let lines = sink.0.lock().expect("lines");
        assert!(
            lines[lines.len() - 2].contains("journal lines dropped"),
            "{:?}",
            &lines[lines.len() - 2..]
        );
        assert_eq!(lines[lines.len() - 1], "after");
    }
}
