//! What the host itself keeps of the brain and of journal levels, shared by
//! the loop, its workers and the front ends:
//!
//! - [`RuleBook`]: the brain's rules as the host recorded them, promotion by
//!   promotion and removal by removal (the chain's view, kept live). A
//!   brain that starts again without saved state is handed these back, and
//!   the front end writes them out as a rules file.
//! - [`JournalFloors`]: the level under which an Ente's journal lines are
//!   dropped, set by the brain's `LogLevel` action (none: every line).

use crate::spine::Level;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard, RwLock};
use ulid::Ulid;

/// The most the book holds, its rules' JSON (compact) together: a brain
/// that promotes 256 rules of a megabyte each is refused past it. Well
/// under the 1 MiB a rules file may have (`ente ctl brain load`, `ente
/// check`), so that the book written out is one.
pub const BOOK_MAX: usize = 512 << 10;

/// The longest rules file read from a brain's answer: past it, none of it
/// is read. (The book itself is handed back compact, under [`BOOK_MAX`].)
pub const RULES_READ_MAX: usize = 8 << 20;

/// The longest pretty rules file written out; a longer one (a Spawn card
/// nested deep grows several times when indented) is written compact.
const PRETTY_MAX: usize = 1 << 20;

/// The brain's rules in force as recorded: (name, the rule's JSON), in the
/// order the brain holds them (a rule replaced keeps its place, a new one
/// goes last), so that the rules handed back fire in the same order.
#[derive(Debug, Default)]
pub struct RuleBook {
    rules: Mutex<Book>,
    /// Moves on every change, so a writer can tell it has one to write.
    changes: AtomicU64,
}

#[derive(Debug, Default)]
struct Book {
    rules: Vec<(String, String)>,
    /// Whether the host holds a record at all: from the brain's first
    /// start on (before it, a brain starting is not starting over).
    known: bool,
}

impl RuleBook {
    fn lock(&self) -> MutexGuard<'_, Book> {
        self.rules.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn changed(&self) {
        self.changes.fetch_add(1, Ordering::Release);
    }

    /// A rule promoted or loaded (its JSON, which read back as a rule):
    /// in place of the rule of its name, or last. Refused past
    /// [`ente_brain::RULES_MAX`] rules, as the brain refuses it.
    pub(crate) fn put(&self, name: &str, json: &str) -> Result<(), String> {
        let mut b = self.lock();
        let others: usize = b
            .rules
            .iter()
            .filter(|(n, _)| n != name)
            .map(|(_, j)| j.len())
            .sum();
        if others + json.len() > BOOK_MAX {
            return Err(format!(
                "the host records at most {BOOK_MAX} bytes of a brain's rules"
            ));
        }
        if let Some(r) = b.rules.iter_mut().find(|(n, _)| n == name) {
            r.1 = json.to_owned();
        } else if b.rules.len() >= ente_brain::RULES_MAX {
            return Err(format!(
                "the host records at most {} rules of a brain",
                ente_brain::RULES_MAX
            ));
        } else {
            b.rules.push((name.to_owned(), json.to_owned()));
        }
        drop(b);
        self.changed();
        Ok(())
    }

    /// Whether the book held a rule of `name`, now gone.
    pub(crate) fn remove(&self, name: &str) -> bool {
        let mut b = self.lock();
        let before = b.rules.len();
        b.rules.retain(|(n, _)| n != name);
        let held = b.rules.len() != before;
        drop(b);
        if held {
            self.changed();
        }
        held
    }

    /// Every rule gone (a brain started over without saved state); the
    /// record is kept from here on.
    pub(crate) fn clear(&self) {
        let mut b = self.lock();
        b.rules.clear();
        b.known = true;
        drop(b);
        self.changed();
    }

    /// Whether a rule of `name` is recorded in force.
    pub fn holds(&self, name: &str) -> bool {
        self.lock().rules.iter().any(|(n, _)| n == name)
    }

    /// Whether the host holds a record of the brain's rules (it started
    /// once in this host's life, or was restored).
    pub fn known(&self) -> bool {
        self.lock().known
    }

    /// How many changes the book has seen.
    pub fn changes(&self) -> u64 {
        self.changes.load(Ordering::Acquire)
    }

    /// The book as a rules file (JSON, in order, compact: at most a little
    /// over [`BOOK_MAX`]), what a brain is handed back.
    pub fn file(&self) -> String {
        let b = self.lock();
        let mut text = String::from("{\"rules\":[");
        for (i, (_, json)) in b.rules.iter().enumerate() {
            if i > 0 {
                text.push(',');
            }
            text.push_str(json);
        }
        text.push_str("]}");
        text
    }

    /// The book as a rules file to read (indented, unless that makes it
    /// longer than a rules file may be), which `ente check` reads and
    /// `ente ctl brain load` puts in force.
    pub fn pretty(&self) -> String {
        let compact = self.file();
        let mut text = serde_json::from_str::<serde_json::Value>(&compact)
            .ok()
            .and_then(|v| serde_json::to_string_pretty(&v).ok())
            .filter(|t| t.len() < PRETTY_MAX)
            .unwrap_or(compact);
        text.push('\n');
        text
    }
}

/// The rules of a rules file (a brain's `rules` answer, the book's own
/// file), each read on its own: one that does not read is left out, not
/// the file with it.
pub(crate) fn rules_in(file: &str) -> Vec<ente_brain::Rule> {
    if file.len() > RULES_READ_MAX {
        return Vec::new();
    }
    serde_json::from_str::<serde_json::Value>(file)
        .ok()
        .and_then(|v| v.get("rules").and_then(|r| r.as_array()).cloned())
        .unwrap_or_default()
        .iter()
        .filter_map(|r| ente_brain::Rule::parse_one(&r.to_string()).ok())
        .collect()
}

/// The journal level of each Ente that has one; the rest pass every line.
#[derive(Debug, Default)]
pub struct JournalFloors {
    any: AtomicBool,
    floors: RwLock<HashMap<Ulid, Level>>,
}

impl JournalFloors {
    /// Lines of `ente` under `level` are dropped from now on; `Trace`
    /// passes every line again.
    pub fn set(&self, ente: Ulid, level: Level) {
        let mut f = self.floors.write().unwrap_or_else(|p| p.into_inner());
        if level == Level::Trace {
            f.remove(&ente);
        } else {
            f.insert(ente, level);
        }
        self.any.store(!f.is_empty(), Ordering::Release);
    }

    /// The level `ente`'s lines must reach.
    pub fn floor(&self, ente: Ulid) -> Level {
        if !self.any.load(Ordering::Acquire) {
            return Level::Trace;
        }
        let f = self.floors.read().unwrap_or_else(|p| p.into_inner());
        f.get(&ente).copied().unwrap_or(Level::Trace)
    }

    /// Whether a line of `ente` at `level` is kept.
    pub fn admits(&self, ente: Ulid, level: Level) -> bool {
        level >= self.floor(ente)
    }

    /// An Ente that left forgets its level.
    pub fn forget(&self, ente: Ulid) {
        self.set(ente, Level::Trace);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_book_is_a_rules_file_that_reads_back() {
        let book = RuleBook::default();
        assert!(!book.known());
        let rule = |n: &str| {
            format!(
                r#"{{"name":"{n}","on":{{"kind":"died"}},"action":{{"kind":"Event","name":"x"}}}}"#
            )
        };
        // In the order put, as the brain holds them; a replaced rule keeps
        // its place.
        for n in ["zeta", "alpha", "mid"] {
            book.put(n, &rule(n)).expect("room");
        }
        book.put("alpha", &rule("alpha")).expect("room");
        assert!(book.remove("mid"));
        assert!(!book.remove("mid"), "a name not held is no removal");
        let file = ente_brain::RuleFile::parse(&book.file()).expect("reads");
        let names: Vec<&str> = file.rules.iter().map(|r| r.name.as_str()).collect();
        assert_eq!(names, ["zeta", "alpha"]);
        let file = book.file().replace("\"zeta\"", "\"omega\"");
        let unreadable = file.replace("\"name\":\"alpha\"", "\"name\":\"al/pha\"");
        let read: Vec<String> = rules_in(&unreadable).into_iter().map(|r| r.name).collect();
        assert_eq!(
            read,
            ["omega"],
            "the rule that does not read is left out, not the rest"
        );
        assert!(!book.known(), "puts alone make no record of a start");
        book.clear();
        assert!(rules_in(&book.file()).is_empty() && book.known());
        for i in 0..ente_brain::RULES_MAX {
            book.put(&format!("r{i}"), &rule(&format!("r{i}")))
                .expect("room");
        }
        assert!(book.put("one-more", &rule("one-more")).is_err());
        assert!(
            book.put("r0", &rule("r0")).is_ok(),
            "a replacement needs no room"
        );
        book.clear();
        let big = "x".repeat(BOOK_MAX / 2 + 1);
        assert!(book.put("a", &big).is_ok());
        assert!(book.put("b", &big).is_err(), "past the book's bytes");
        // A file that reads, padded past the bound: not read at all.
        let one = format!("{{\"rules\": [{}]}}", rule("one"));
        assert_eq!(rules_in(&one).len(), 1);
        let padded = format!("{}{one}", " ".repeat(RULES_READ_MAX));
        assert!(rules_in(&padded).is_empty());
    }

    #[test]
    fn a_floor_drops_lower_lines_of_its_ente_only() {
        let floors = JournalFloors::default();
        let (a, b) = (Ulid::new(), Ulid::new());
        assert!(floors.admits(a, Level::Trace));
        floors.set(a, Level::Warn);
        assert!(!floors.admits(a, Level::Info));
        assert!(floors.admits(a, Level::Warn));
        assert!(floors.admits(b, Level::Debug));
        floors.set(a, Level::Trace);
        assert!(floors.admits(a, Level::Trace));
    }
}
