//! The live status of `ente up`: a line per Ente with its state, the calls
//! it served and the errors, and its latest journal lines under it.

use crate::console;
use ente_runtime::{Identity, JournalSink, Level};
use std::collections::VecDeque;
use std::io::Write;
use std::sync::Mutex;

/// Journal lines kept per Ente for the screen.
const KEPT_LINES: usize = 3;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum State {
    Starting,
    Ready,
    /// A grouping node: nothing runs.
    Grouping,
    Failed(String),
    Stopped,
}

impl std::fmt::Display for State {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            State::Starting => f.write_str("starting"),
            State::Ready => f.write_str("ready"),
            State::Grouping => f.write_str("group"),
            State::Failed(why) => write!(f, "failed: {why}"),
            State::Stopped => f.write_str("stopped"),
        }
    }
}

#[derive(Debug)]
struct Row {
    id: String,
    label: String,
    state: State,
    served: u64,
    errors: u64,
    lines: VecDeque<String>,
}

/// The screen: rows in start order, and where journal lines go.
#[derive(Debug)]
pub struct Status {
    rows: Mutex<Vec<Row>>,
    tty: bool,
    last: Mutex<String>,
    /// Stamps state changes with this clock (PID 1: monotonic ms since boot).
    clock: Option<fn() -> u64>,
}

impl Status {
    /// `tty`: redraw in place (a terminal) or print changes as lines (a log,
    /// a pipe, PID 1's serial console).
    pub fn new(tty: bool) -> Status {
        Status {
            rows: Mutex::new(Vec::new()),
            tty,
            last: Mutex::new(String::new()),
            clock: None,
        }
    }

    /// A line about the host itself, stamped when a clock is set.
    pub fn note(&self, text: &str) {
        if let Some(now) = self.clock {
            console::line(&format!("ente: {text} (at {} ms)", now()));
        }
    }

    /// State changes printed with the time `clock` gives.
    pub fn with_clock(mut self, clock: fn() -> u64) -> Status {
        self.clock = Some(clock);
        self
    }

    fn rows(&self) -> std::sync::MutexGuard<'_, Vec<Row>> {
        self.rows.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn add(&self, id: String, label: String, state: State) {
        self.rows().push(Row {
            id,
            label,
            state,
            served: 0,
            errors: 0,
            lines: VecDeque::new(),
        });
    }

    pub fn set(&self, id: &str, state: State) {
        if let Some(row) = self.rows().iter_mut().find(|r| r.id == id) {
            if !self.tty && row.state != state {
                console::line(&match self.clock {
                    Some(now) => format!("{}: {state} (at {} ms)", row.label, now()),
                    None => format!("{}: {state}", row.label),
                });
            }
            row.state = state;
        }
    }

    pub fn counts(&self, id: &str, served: u64, errors: u64) {
        if let Some(row) = self.rows().iter_mut().find(|r| r.id == id) {
            row.served = served;
            row.errors = errors;
        }
    }

    /// The latest journal lines of the Ente labelled `label`.
    pub fn journal_of(&self, label: &str) -> Vec<String> {
        self.rows()
            .iter()
            .filter(|r| r.label == label)
            .flat_map(|r| r.lines.iter().cloned())
            .collect()
    }

    /// Draw the table: redrawn in place on a terminal, printed when it
    /// changed otherwise.
    pub fn draw(&self) {
        let mut out = String::new();
        for row in self.rows().iter() {
            out.push_str(&format!(
                "{:<16} {:<28} served {:>6}  errors {:>4}\n",
                row.label,
                row.state.to_string(),
                row.served,
                row.errors
            ));
            if self.tty {
                for line in &row.lines {
                    out.push_str(&format!("    {line}\n"));
                }
            }
        }
        let mut last = self.last.lock().unwrap_or_else(|p| p.into_inner());
        if *last == out {
            return;
        }
        if self.tty {
            let mut stdout = std::io::stdout().lock();
            let _ = write!(
                stdout,
                "\x1b[H\x1b[2J{out}\n(ctrl-c stops every Ente in order)\n"
            );
            let _ = stdout.flush();
        } else {
            console::line(&format!("--- status\n{}", out.trim_end_matches('\n')));
        }
        *last = out;
    }
}

impl JournalSink for Status {
    fn line(&self, ente: &Identity, level: Level, text: &str) {
        let shown = format!("{}: {text}", ente_runtime::level_name(level));
        if !self.tty {
            console::line(&format!("  [{}] {shown}", ente.label));
        }
        if let Some(row) = self.rows().iter_mut().find(|r| r.id == ente.id) {
            if row.lines.len() == KEPT_LINES {
                row.lines.pop_front();
            }
            row.lines.push_back(shown);
        }
    }
}
