//! `brain`: the graph's rule engine, `ente-brain` behind `ente:core/brain`.
//! The host hands it the graph's events in batches; it counts them (the
//! observer), runs its rules over them and answers with what they fired;
//! the host runs those actions by this Ente's authority. Its observer and
//! rules are its snapshot state, so a reboot keeps what it learnt.
//!
//! Its card's envp: `PARAMS=relaxed|strict` (the thresholds a crystal
//! passes; strict unless said), `HALF_LIFE_MS` (counts decay; none unless
//! said), `AUTOPROMOTE_MS` (every so often, promote every crystal to a rule
//! that emits a named event; off unless said), `RULES` (a rules file, JSON,
//! in force from the start; reported to the host with the first batch, so
//! the audit chain holds them).
//!
//! `no_std` (see ente-guest): it imports `ente:core/journal` and
//! `wasi:cli/environment`, nothing else.

#![no_std]

extern crate alloc;

use alloc::format;
use alloc::string::{String, ToString};
use alloc::vec::Vec;
use core::cell::RefCell;
use ente_brain::{
    Action, Compact, NamesRef, Observer, Params, Rule, RuleFile, Rules, autopromote, crystallise,
    observe_batch,
};
use ente_guest as _;

wit_bindgen::generate!({ path: ["../../wit", "wit"], world: "ente:brain-guest/brain", generate_all });

use ente::core::journal::{self, Level};
use exports::ente::core::brain::{
    Action as WitAction, Batch, Crystal as WitCrystal, Fired as WitFired, Guest as BrainGuest,
    Outcome,
};
use exports::ente::core::lifecycle::Guest as Lifecycle;
use exports::ente::core::snapshot::Guest as Snapshot;

/// Changes the host records from one batch's answer (its bound).
const MAX_TOLD: usize = 64;

struct Brain {
    observer: Observer,
    rules: Rules,
    params: Params,
    autopromote_ms: Option<u64>,
    promoted_at: u64,
    fired: Vec<ente_brain::Fired>,
    /// Rules put in force that the host has not been told of: name, JSON.
    /// A rule replaced or removed by the host's word (a load, a remove) is
    /// no longer to be told.
    untold: Vec<(String, String)>,
}

/// The one brain of this instance.
struct One(RefCell<Option<Brain>>);

// SAFETY: a component instance runs on one thread, and its exports do not
// re-enter (a second borrow would trap, not race).
unsafe impl Sync for One {}

static BRAIN: One = One(RefCell::new(None));

fn var(name: &str) -> Option<String> {
    wasi::cli::environment::get_environment()
        .into_iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v)
}

fn fresh() -> Brain {
    let params = match var("PARAMS").as_deref() {
        Some("relaxed") => Params::RELAXED,
        _ => Params::STRICT,
    };
    let mut observer = Observer::new();
    if let Some(h) = var("HALF_LIFE_MS").and_then(|h| h.parse::<f64>().ok()) {
        observer = observer.with_half_life(h);
    }
    let mut rules = Rules::new();
    let mut untold = Vec::new();
    if let Some(text) = var("RULES") {
        match RuleFile::parse(&text) {
            Ok(file) => {
                let jsons: Vec<(String, String)> = file
                    .rules
                    .iter()
                    .map(|r| (r.name.clone(), r.to_json().to_string()))
                    .collect();
                match rules.put_all(file.rules) {
                    Ok(()) => untold = jsons,
                    Err(e) => journal::log(Level::Error, &format!("RULES: {e}")),
                }
            }
            Err(errors) => {
                for e in errors {
                    journal::log(Level::Error, &format!("RULES: {e}"));
                }
            }
        }
    }
    Brain {
        observer,
        rules,
        untold,
        params,
        autopromote_ms: var("AUTOPROMOTE_MS")
            .and_then(|m| m.parse().ok())
            .filter(|&m| m > 0),
        promoted_at: 0,
        fired: Vec::new(),
    }
}

fn with<R>(f: impl FnOnce(&mut Brain) -> R) -> R {
    let mut b = BRAIN.0.borrow_mut();
    f(b.get_or_insert_with(fresh))
}

fn action_out(a: Action) -> WitAction {
    let target = |t: ente_brain::Target| match t {
        ente_brain::Target::Subject => "$subject".to_string(),
        ente_brain::Target::Named(n) => n,
    };
    match a {
        Action::Restart(t) => WitAction::Restart(target(t)),
        Action::Stop(t) => WitAction::Stop(target(t)),
        Action::Spawn(card) => WitAction::Spawn(card),
        Action::Journal { level, text } => WitAction::Journal((level, text)),
        Action::Event(name) => WitAction::Event(name),
        Action::LogLevel { target: t, level } => WitAction::LogLevel((target(t), level)),
    }
}

/// A crystal's rule: it emits a named event unless an action is given.
fn default_action(a: &str, b: &str) -> Action {
    Action::Event(format!("pattern {a} > {b}"))
}

struct Component;

impl Lifecycle for Component {
    fn start() -> Result<(), String> {
        with(|b| {
            journal::log(
                Level::Info,
                &format!(
                    "brain up: {} rules; crystals need support {}, P(b|a) {}, PMI {}{}",
                    b.rules.len(),
                    b.params.min_support,
                    b.params.min_conditional_prob,
                    b.params.min_pmi,
                    match b.autopromote_ms {
                        Some(ms) => format!("; promoting on its own every {ms} ms"),
                        None => String::new(),
                    }
                ),
            );
        });
        Ok(())
    }

    fn stop() {}
}

impl BrainGuest for Component {
    fn observe(events: Batch) -> Outcome {
        with(|b| {
            b.fired.clear();
            let mut fired = core::mem::take(&mut b.fired);
            // Event `i` is the `i`-th of each column; the shortest ends
            // the batch.
            let compact = events
                .seq
                .iter()
                .zip(&events.at_ms)
                .zip(&events.kind)
                .zip(&events.ente)
                .zip(&events.label)
                .zip(&events.cause)
                .map(
                    |(((((&seq, &at_ms), &kind), &ente), &label), &cause)| Compact {
                        seq,
                        at_ms,
                        kind,
                        ente,
                        label,
                        cause,
                    },
                );
            let names = NamesRef {
                text: &events.names,
                ends: &events.name_ends,
            };
            let last = observe_batch(&mut b.observer, &mut b.rules, names, compact, &mut fired);
            // The host records at most MAX_TOLD changes a batch: the rest
            // are told with the next ones.
            let told = b.untold.len().min(MAX_TOLD);
            let mut promoted: Vec<String> = b.untold.drain(..told).map(|(_, j)| j).collect();
            if let Some(every) = b.autopromote_ms
                && promoted.len() < MAX_TOLD
                && last.saturating_sub(b.promoted_at) >= every
            {
                b.promoted_at = last;
                promoted.extend(autopromote(
                    &b.observer,
                    &mut b.rules,
                    &b.params,
                    MAX_TOLD - promoted.len(),
                    default_action,
                ));
            }
            let out = Outcome {
                fired: fired
                    .drain(..)
                    .map(|f| WitFired {
                        rule: f.rule,
                        action: f.action.map(action_out),
                        subject: f.subject,
                        seq: f.seq,
                    })
                    .collect(),
                promoted,
                removed: Vec::new(),
            };
            b.fired = fired;
            out
        })
    }

    fn crystals(min_support: f64, min_p: f64, min_pmi: f64) -> Vec<WitCrystal> {
        with(|b| {
            let params = Params {
                min_support,
                min_conditional_prob: min_p,
                min_pmi,
            };
            crystallise(&b.observer, &params)
                .into_iter()
                .map(|c| WitCrystal {
                    gaps: c.gaps.count,
                    gap_mean_ms: c.gaps.mean_ms(),
                    gap_stddev_ms: c.gaps.stddev_ms(),
                    gap_max_ms: c.gaps.max_ms,
                    a: c.a,
                    b: c.b,
                    support: c.support,
                    p_b_given_a: c.p_b_given_a,
                    pmi: c.pmi,
                })
                .collect()
        })
    }

    fn rules() -> String {
        with(|b| {
            let file = RuleFile {
                rules: b.rules.iter().map(|(r, _)| r.clone()).collect(),
            };
            file.to_json().to_string()
        })
    }

    fn promote(a: String, b_: String, action: Option<String>) -> Result<String, String> {
        with(|b| {
            // The operator's judgment: any pair seen, whatever the
            // thresholds (those are for the brain's own promotions).
            let any = Params {
                min_support: f64::MIN_POSITIVE,
                min_conditional_prob: 0.0,
                min_pmi: f64::NEG_INFINITY,
            };
            let crystal = crystallise(&b.observer, &any)
                .into_iter()
                .find(|c| c.a == a && c.b == b_)
                .ok_or_else(|| {
                    format!(
                        "`{a}` has never been followed by `{b_}` here (see `ente ctl brain crystals`)"
                    )
                })?;
            let action = match action {
                None => default_action(&a, &b_),
                Some(json) => {
                    // An action is read as a rule's: the file's grammar (its
                    // JSON parsed first, so nothing else rides along).
                    let action: serde_json::Value = serde_json::from_str(&json)
                        .map_err(|e| format!("the action is not JSON: {e}"))?;
                    let rule =
                        serde_json::json!({"name": "x", "on": {"kind": "x"}, "action": action});
                    Rule::parse_one(&rule.to_string())?.action
                }
            };
            let rule = Rule::from_crystal(&crystal, action);
            let json = rule.to_json().to_string();
            // What the host records must read back as this rule.
            Rule::parse_one(&json).map_err(|why| format!("its rule would not read back: {why}"))?;
            b.rules.put(rule)?;
            Ok(json)
        })
    }

    fn load(rules_file: String) -> Result<u32, String> {
        with(|b| {
            let file = RuleFile::parse(&rules_file).map_err(|errors| {
                errors
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join("; ")
            })?;
            let n = file.rules.len() as u32;
            let names: Vec<String> = file.rules.iter().map(|r| r.name.clone()).collect();
            b.rules.put_all(file.rules)?;
            // The host records a load itself: what it replaced is not told.
            b.untold.retain(|(name, _)| !names.contains(name));
            Ok(n)
        })
    }

    fn remove(name: String) -> bool {
        with(|b| {
            b.untold.retain(|(n, _)| *n != name);
            b.rules.remove(&name)
        })
    }
}

/// What begins a brain's state: its counts and rules in postcard (raw
/// floats, no text), which a power-off under emulation writes several
/// times faster than JSON and a boot reads back as fast.
const STATE_TAG: &[u8] = b"ente-brain/1\0";
/// The most its state takes: under the 1 MiB the host keeps of an Ente's
/// state.
const STATE_MAX: usize = 1_000_000;

/// What a snapshot keeps: the observer's counts and the rules (as their
/// rules file: a few, and read back by the grammar).
#[derive(serde::Serialize, serde::Deserialize)]
struct State {
    observer: ente_brain::Saved,
    rules: String,
}

impl Snapshot for Component {
    fn save() -> Vec<u8> {
        with(|b| {
            let rules = RuleFile {
                rules: b.rules.iter().map(|(r, _)| r.clone()).collect(),
            };
            let mut state = State {
                observer: b.observer.save(),
                rules: rules.to_json().to_string(),
            };
            let encode = |s: &State| postcard::to_extend(s, Vec::from(STATE_TAG));
            let mut bytes = match encode(&state) {
                Ok(bytes) => bytes,
                Err(e) => {
                    journal::log(Level::Error, &format!("its state not saved: {e}"));
                    return Vec::new();
                }
            };
            // Past what the host keeps (its whole state would be refused,
            // the rules with it): the weakest pairs go, then if need be
            // every count. The rules are always kept; the host's book
            // holds them to half of this.
            let pairs = state.observer.pairs();
            for _ in 0..8 {
                if bytes.len() <= STATE_MAX {
                    break;
                }
                let n = state.observer.pairs();
                if n == 0 {
                    state.observer.forget_counts();
                } else {
                    let fit = n as u64 * STATE_MAX as u64 / bytes.len() as u64;
                    state.observer.keep_strongest((fit * 9 / 10) as usize);
                }
                match encode(&state) {
                    Ok(b) => bytes = b,
                    Err(_) => return Vec::new(),
                }
            }
            if bytes.len() > STATE_MAX {
                state.observer.forget_counts();
                match encode(&state) {
                    Ok(b) => bytes = b,
                    Err(_) => return Vec::new(),
                }
            }
            if state.observer.pairs() < pairs {
                journal::log(
                    Level::Warn,
                    &format!(
                        "its state kept {} of its {pairs} pairs (those of most support), to fit in {STATE_MAX} bytes",
                        state.observer.pairs()
                    ),
                );
            }
            bytes
        })
    }

    fn restore(state: Vec<u8>) -> Result<(), String> {
        let (observer, rules) = match state.strip_prefix(STATE_TAG) {
            Some(bytes) => {
                let s: State =
                    postcard::from_bytes(bytes).map_err(|e| format!("not a brain's state: {e}"))?;
                let rules = RuleFile::parse(&s.rules)
                    .map_err(|_| "not a brain's state: its rules do not read")?;
                (s.observer, rules)
            }
            // A state saved as JSON (before postcard).
            None => {
                let v: serde_json::Value = serde_json::from_slice(&state)
                    .map_err(|e| format!("not a brain's state: {e}"))?;
                let observer = v
                    .get("observer")
                    .cloned()
                    .and_then(|o| serde_json::from_value(o).ok())
                    .ok_or("not a brain's state: its observer does not read")?;
                let rules = v
                    .get("rules")
                    .map(RuleFile::from_value)
                    .transpose()
                    .map_err(|_| "not a brain's state: its rules do not read")?
                    .unwrap_or_default();
                (observer, rules)
            }
        };
        let observer = Observer::restore(observer)
            .ok_or("not a brain's state: its observer does not hold together")?;
        with(|b| {
            b.observer = observer;
            b.rules = Rules::new();
            // The host records what a restored brain holds (its `rules`).
            b.untold.clear();
            b.rules.put_all(rules.rules)
        })
    }
}

export!(Component);
