//! The live status: a consumer of the event spine. On a terminal it redraws
//! a table in place (a row per Ente: its state, calls served and failed,
//! running time, restarts, with its latest journal lines); otherwise (a
//! pipe, a log, PID 1's console) it prints each event as a line, journal
//! lines among them, in the spine's order.

use crate::console;
use ente_core::{Handles, Kind, Next, Occurrence, Phase, Subscription};
use std::collections::{HashMap, VecDeque};
use std::io::Write;
use std::sync::Mutex;
use std::sync::atomic::Ordering;

/// Journal lines kept per Ente for the screen.
const KEPT_LINES: usize = 3;

#[derive(Debug)]
pub struct Status {
    tty: bool,
    /// Stamps lines with this clock (PID 1: monotonic ms since boot).
    clock: Option<fn() -> u64>,
    lines: Mutex<HashMap<String, VecDeque<String>>>,
    last: Mutex<String>,
}

impl Status {
    /// `tty`: redraw in place (a terminal) or print changes as lines.
    pub fn new(tty: bool) -> Status {
        Status {
            tty,
            clock: None,
            lines: Mutex::new(HashMap::new()),
            last: Mutex::new(String::new()),
        }
    }

    /// Lines stamped with the time `clock` gives.
    pub fn with_clock(mut self, clock: fn() -> u64) -> Status {
        self.clock = Some(clock);
        self
    }

    fn stamped(&self, text: &str) -> String {
        match self.clock {
            Some(now) => format!("{text} (at {} ms)", now()),
            None => text.to_owned(),
        }
    }

    /// A line about the host itself, shown when a clock is set.
    pub fn note(&self, text: &str) {
        if self.clock.is_some() {
            console::line(&format!("ente: {}", self.stamped(text)));
        }
    }

    /// Show one event of the spine (printed as a line when not on a terminal).
    pub fn show(&self, e: &Occurrence) {
        let label = e.ente.as_ref().map_or("", |(_, l)| l.as_str());
        if let Kind::Journal { level, text } = &e.kind {
            let shown = format!("{}: {text}", level.name());
            if !self.tty {
                console::line(&format!("  [{}] {shown}", safe(label)));
            }
            if let Some((id, _)) = &e.ente {
                let mut lines = self.lines.lock().unwrap_or_else(|p| p.into_inner());
                let kept = lines.entry(id.to_string()).or_default();
                if kept.len() == KEPT_LINES {
                    kept.pop_front();
                }
                kept.push_back(shown);
            }
            return;
        }
        if let (Kind::Left, Some((id, _))) = (&e.kind, &e.ente) {
            self.lines
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .remove(&id.to_string());
            return;
        }
        if self.tty {
            return;
        }
        if let Kind::State {
            to: Phase::Stopped, ..
        } = &e.kind
        {
            console::line(&format!("stopped `{}`", safe(label)));
        }
        if let Some(line) = line_of(e) {
            console::line(&self.stamped(&safe(&line)));
        }
    }

    /// Draw the table: redrawn in place on a terminal, printed when it
    /// changed otherwise.
    pub fn draw(&self, handles: &Handles) {
        let mut out = String::new();
        let rows: Vec<(String, String, String, u64, u32)> = handles
            .read()
            .iter()
            .map(|r| {
                (
                    r.id.to_string(),
                    r.label().to_owned(),
                    r.state.to_string(),
                    r.counters.cpu_ns.load(Ordering::Relaxed),
                    r.restarts,
                )
            })
            .collect();
        let lines = self.lines.lock().unwrap_or_else(|p| p.into_inner());
        for (id, label, state, cpu_ns, restarts) in rows {
            let (served, errors) = id
                .parse()
                .ok()
                .and_then(|id| handles.bus.slot(id))
                .map_or((0, 0), |s| (s.served(), s.errors()));
            out.push_str(&format!(
                "{:<16} {:<28} served {served:>6}  errors {errors:>4}  cpu {:>6} ms  restarts {restarts}\n",
                safe(&label),
                safe(&state),
                cpu_ns / 1_000_000
            ));
            if self.tty {
                for line in lines.get(&id).into_iter().flatten() {
                    out.push_str(&format!("    {line}\n"));
                }
            }
        }
        drop(lines);
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

    /// Show the spine's events as they come, until it closes.
    pub async fn follow(&self, mut events: Subscription) {
        loop {
            match events.next().await {
                Next::Event(e) => self.show(&e),
                Next::Missed(n) => {
                    console::line(&format!("({n} events not shown: the status fell behind)"))
                }
                Next::Closed => return,
            }
        }
    }
}

/// A line as it may be printed: a label comes from a card (a spawned one is
/// an Ente's word) and a state from a guest's refusal, so nothing in them may
/// start a new line or move the cursor.
/// An event as a line of the console (and of `ente ctl events`); `None`
/// for what the console does not print (journal lines are shown apart;
/// lease decisions would flood it).
pub fn line_of(e: &Occurrence) -> Option<String> {
    let label = e.ente.as_ref().map_or("", |(_, l)| l.as_str());
    Some(match &e.kind {
        Kind::Journal { .. } => return None,
        // On the way to ready: the next line says where it got.
        Kind::State {
            to: Phase::Starting | Phase::Waiting,
            ..
        } => return None,
        Kind::State { detail, .. } => format!("{label}: {detail}"),
        Kind::Died { cause, .. } => format!("{label}: its body ended: {cause}"),
        Kind::Refused { request, why, .. } => format!("{label}: {request} refused: {why}"),
        Kind::Spawned { .. } => format!("{label}: spawned"),
        Kind::Teardown { report, .. } => format!("{label}: teardown: {report}"),
        Kind::NativeBus { why, .. } if e.ente.is_some() => format!("{label}: {why}"),
        Kind::NativeBus { why, .. } => why.clone(),
        Kind::Soma {
            pid,
            applied,
            not_applied,
            ..
        } => {
            let mut line = format!("{label}: pid {pid} started; soma applied: ");
            line.push_str(&if applied.is_empty() {
                "nothing asked".to_owned()
            } else {
                applied.join(", ")
            });
            if !not_applied.is_empty() {
                line.push_str(&format!("; NOT applied: {}", not_applied.join(", ")));
            }
            line
        }
        Kind::Reaped { pid, how } if e.ente.is_none() => {
            format!(
                "reaped orphan pid {pid}: {}",
                how.trim_start_matches(&format!("pid {pid} "))
            )
        }
        Kind::Dropped { what, count } => {
            format!("{label}: {what} dropped, its queue full ({count} so far)")
        }
        Kind::ControlRefused { uid, pid } => format!(
            "the control socket refused pid {pid} (uid {uid}): neither this host's user nor root"
        ),
        Kind::Operator {
            uid,
            request,
            outcome: Ok(()),
        } => format!("operator (uid {uid}): {request}"),
        Kind::Operator {
            uid,
            request,
            outcome: Err(why),
        } => format!("operator (uid {uid}): {request} refused: {why}"),
        Kind::Settled { ready, bodies } => {
            format!("graph settled: {ready} of {bodies} Entes ready")
        }
        Kind::ShutdownBegun { why } => {
            format!("{why}: stopping every Ente, children first, in reverse start order")
        }
        Kind::ShutdownDone => "every Ente stopped".to_owned(),
        Kind::SnapshotAsked { by, entes } => {
            format!("a snapshot asked for ({by}): {entes} Entes that keep state asked to save it")
        }
        Kind::SnapshotReady { late, .. } if late.is_empty() => {
            "the snapshot's states are in".to_owned()
        }
        Kind::SnapshotReady { late, .. } => format!(
            "the snapshot's states are in, but for {} (no answer within the call deadline: their last state is kept)",
            late.join(", ")
        ),
        Kind::StateSaved { saved: Ok(n) } => format!("{label}: its state saved ({n} bytes)"),
        Kind::StateSaved { saved: Err(why) } => {
            format!("{label}: its state NOT saved: {why}")
        }
        Kind::StateRestored { restored: Ok(n) } => {
            format!("{label}: its saved state handed back ({n} bytes)")
        }
        Kind::StateRestored { restored: Err(why) } => {
            format!("{label}: refused its saved state, starts afresh: {why}")
        }
        Kind::RuleFired {
            rule,
            action,
            outcome: Ok(()),
            seq,
            ..
        } => format!("{label}: rule `{rule}` fired on event {seq}: {action}"),
        Kind::RuleFired {
            rule,
            action,
            outcome: Err(why),
            seq,
            ..
        } => format!("{label}: rule `{rule}` fired on event {seq}: {action}: refused: {why}"),
        Kind::RulePromoted { rule, by, .. } => {
            format!("{label}: rule `{rule}` put in force by {by}")
        }
        Kind::RuleRemoved { rule, by } if rule == "*" => format!(
            "{label}: the record of its rules starts over ({by}): a replay of the audit chain begins here"
        ),
        Kind::RuleRemoved { rule, by } => format!("{label}: rule `{rule}` removed by {by}"),
        Kind::Restored {
            spawned, states, ..
        } => format!(
            "restored from the snapshot: {spawned} spawned Entes again, {states} Entes' state to hand back"
        ),
        // A denial reaches its caller; a guest that calls in a loop
        // would otherwise flood the console with them.
        Kind::Lease(_)
        | Kind::Left
        | Kind::StartFailed { .. }
        | Kind::Uevent { .. }
        | Kind::Reaped { .. }
        | Kind::Signal { .. } => return None,
    })
}

fn safe(text: &str) -> String {
    ente_runtime::host::clean(text, 8192)
}
