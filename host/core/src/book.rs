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
use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard, RwLock};
use ulid::Ulid;

/// The brain's rules in force as recorded: name to the rule's JSON.
#[derive(Debug, Default)]
pub struct RuleBook {
    rules: Mutex<BTreeMap<String, String>>,
    /// Moves on every change, so a writer can tell it has one to write.
    changes: AtomicU64,
}

impl RuleBook {
    fn lock(&self) -> MutexGuard<'_, BTreeMap<String, String>> {
        self.rules.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn changed(&self) {
        self.changes.fetch_add(1, Ordering::Release);
    }

    /// A rule promoted or loaded (its JSON, which read back as a rule).
    pub(crate) fn put(&self, name: &str, json: &str) {
        self.lock().insert(name.to_owned(), json.to_owned());
        self.changed();
    }

    pub(crate) fn remove(&self, name: &str) {
        self.lock().remove(name);
        self.changed();
    }

    /// Every rule gone (a brain started over without saved state).
    pub(crate) fn clear(&self) {
        self.lock().clear();
        self.changed();
    }

    /// The rules of a rules file (what a restored brain said it holds),
    /// in place of all others; what does not read is left out.
    pub(crate) fn set_file(&self, file: &str) {
        let rules = ente_brain::RuleFile::parse(file)
            .map(|f| {
                f.rules
                    .into_iter()
                    .map(|r| (r.name.clone(), r.to_json().to_string()))
                    .collect()
            })
            .unwrap_or_default();
        *self.lock() = rules;
        self.changed();
    }

    pub fn len(&self) -> usize {
        self.lock().len()
    }

    pub fn is_empty(&self) -> bool {
        self.lock().is_empty()
    }

    /// The names in the book.
    pub fn names(&self) -> Vec<String> {
        self.lock().keys().cloned().collect()
    }

    /// How many changes the book has seen.
    pub fn changes(&self) -> u64 {
        self.changes.load(Ordering::Acquire)
    }

    /// The book as a rules file (JSON, by name), which `ente check` reads
    /// and `ente ctl brain load` puts in force.
    pub fn file(&self) -> String {
        let rules: Vec<serde_json::Value> = self
            .lock()
            .values()
            .filter_map(|j| serde_json::from_str(j).ok())
            .collect();
        let mut text = serde_json::to_string_pretty(&serde_json::json!({ "rules": rules }))
            .unwrap_or_else(|_| String::from("{\"rules\": []}"));
        text.push('\n');
        text
    }
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
        let rule = r#"{"name":"a","on":{"kind":"died"},"action":{"kind":"Event","name":"x"}}"#;
        book.put("a", rule);
        book.put("b", &rule.replace("\"a\"", "\"b\""));
        book.remove("a");
        let file = ente_brain::RuleFile::parse(&book.file()).expect("reads");
        assert_eq!(file.rules.len(), 1);
        assert_eq!(file.rules[0].name, "b");
        book.set_file(&book.file().replace("\"b\"", "\"c\""));
        assert_eq!(book.names(), ["c"]);
        book.clear();
        assert!(book.is_empty());
        assert!(book.changes() >= 5);
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
