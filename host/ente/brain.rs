//! The brain's WIT types to and from the core's (`ente_brain`'s): what
//! crosses the component boundary is checked and cut here, as any guest's
//! word is.

use ente_brain::{Action, Fired, Target};
use ente_core::{BrainAnswer, BrainAsk, BrainOutcome};
use ente_runtime::host::clean;

/// Rules fired that one batch may report; more are not run, counted and
/// said (a brain cannot flood the host through its answer).
const MAX_FIRED: usize = 256;
/// Rules promoted or removed on its own in one batch, at most.
const MAX_CHANGED: usize = 64;
/// Longest rule the brain may report (a rules file's size).
const PROMOTION_MAX: usize = crate::ctl::RULES_FILE_MAX;
/// Crystals one answer may hold.
const MAX_CRYSTALS: usize = 4096;
/// Longest rule name, target, card or text taken from the brain.
const TEXT_MAX: usize = 64 * 1024;

fn target(t: &str) -> Target {
    if t == "$subject" {
        Target::Subject
    } else {
        Target::Named(clean(t, 256))
    }
}

fn action(a: ente_runtime::BrainAction) -> Action {
    use ente_runtime::BrainAction as W;
    match a {
        W::Restart(t) => Action::Restart(target(&t)),
        W::Stop(t) => Action::Stop(target(&t)),
        W::Spawn(card) => Action::Spawn(card.chars().take(TEXT_MAX).collect()),
        W::Journal((level, text)) => Action::Journal {
            level: clean(&level, 16),
            text: clean(&text, 1024),
        },
        W::Event(name) => Action::Event(clean(&name, 256)),
        W::LogLevel((t, level)) => Action::LogLevel {
            target: target(&t),
            level: clean(&level, 16),
        },
    }
}

/// A batch in the WIT types: its names once, end to end, and its events
/// as columns of indices.
pub fn batch(events: &[ente_brain::Event]) -> ente_runtime::BrainBatch {
    let (names, compact) = ente_brain::compact(events);
    let mut b = ente_runtime::BrainBatch {
        names: names.text,
        name_ends: names.ends,
        seq: Vec::with_capacity(compact.len()),
        at_ms: Vec::with_capacity(compact.len()),
        kind: Vec::with_capacity(compact.len()),
        ente: Vec::with_capacity(compact.len()),
        label: Vec::with_capacity(compact.len()),
        cause: Vec::with_capacity(compact.len()),
    };
    for c in compact {
        b.seq.push(c.seq);
        b.at_ms.push(c.at_ms);
        b.kind.push(c.kind);
        b.ente.push(c.ente);
        b.label.push(c.label);
        b.cause.push(c.cause);
    }
    b
}

pub(crate) fn outcome(o: ente_runtime::BrainOutcome) -> BrainOutcome {
    let past = |n: usize, max: usize| n.saturating_sub(max) as u64;
    let unrun = past(o.fired.len(), MAX_FIRED)
        + past(o.promoted.len(), MAX_CHANGED)
        + past(o.removed.len(), MAX_CHANGED);
    BrainOutcome {
        unrun,
        fired: o
            .fired
            .into_iter()
            .take(MAX_FIRED)
            .map(|f| Fired {
                rule: clean(&f.rule, 128),
                action: f.action.map(action),
                subject: f.subject.map(|s| clean(&s, 64)),
                seq: f.seq,
            })
            .collect(),
        // Whole or not at all: a rule cut short would not read back (the
        // core refuses what does not read, and says so).
        // Read here, on the worker: the loop never parses a brain's JSON.
        promoted: o
            .promoted
            .into_iter()
            .take(MAX_CHANGED)
            .map(|j| {
                if j.len() > PROMOTION_MAX {
                    ente_core::Promotion::Unread {
                        name: None,
                        why: format!("{} bytes, more than {PROMOTION_MAX}", j.len()),
                    }
                } else {
                    ente_core::Promotion::read(&j)
                }
            })
            .collect(),
        removed: o
            .removed
            .into_iter()
            .take(MAX_CHANGED)
            .map(|n| clean(&n, 128))
            .collect(),
    }
}

pub(crate) fn ask(a: &BrainAsk) -> ente_runtime::BrainAsk {
    match a {
        BrainAsk::Crystals(p) => ente_runtime::BrainAsk::Crystals {
            min_support: p.min_support,
            min_p: p.min_conditional_prob,
            min_pmi: p.min_pmi,
        },
        BrainAsk::Rules => ente_runtime::BrainAsk::Rules,
        BrainAsk::Promote { a, b, action } => ente_runtime::BrainAsk::Promote {
            a: a.clone(),
            b: b.clone(),
            action: action.clone(),
        },
        BrainAsk::Load(file) => ente_runtime::BrainAsk::Load { file: file.clone() },
        BrainAsk::Remove(name) => ente_runtime::BrainAsk::Remove { name: name.clone() },
    }
}

pub(crate) fn answer(a: ente_runtime::BrainAnswer) -> BrainAnswer {
    use ente_runtime::BrainAnswer as W;
    match a {
        W::Crystals(list) => BrainAnswer::Crystals(
            list.into_iter()
                .take(MAX_CRYSTALS)
                .map(|c| ente_brain::Crystal {
                    a: clean(&c.a, 256),
                    b: clean(&c.b, 256),
                    support: c.support,
                    p_b_given_a: c.p_b_given_a,
                    pmi: c.pmi,
                    gaps: ente_brain::GapStats {
                        count: c.gaps,
                        sum_ms: c.gap_mean_ms * c.gaps as f64,
                        sum_sq_ms: (c.gap_stddev_ms.powi(2) + c.gap_mean_ms.powi(2))
                            * c.gaps as f64,
                        max_ms: c.gap_max_ms,
                    },
                })
                .collect(),
        ),
        W::Rules(json) => BrainAnswer::Rules(json.chars().take(4 * TEXT_MAX * 16).collect()),
        W::Promoted(r) => BrainAnswer::Promoted(
            r.map(|j| {
                if j.len() > PROMOTION_MAX {
                    String::new()
                } else {
                    j
                }
            })
            .map_err(|e| clean(&e, 1024)),
        ),
        W::Loaded(r) => BrainAnswer::Loaded(r.map_err(|e| clean(&e, 4096))),
        W::Removed(b) => BrainAnswer::Removed(b),
    }
}
