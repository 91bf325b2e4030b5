//! `ente ctl brain ...` at the host: each question goes to the brain's
//! worker through the loop (the brain's code never runs on the socket's
//! tasks), and each change (promote, load, remove) is an operator's action:
//! an event and an audit entry naming the uid, beside the brain's own
//! record of the rule.

use super::server::{Served, ask_loop, committed, said};
use ente_core::{BrainAnswer, BrainAsk, Event};
use ente_ctl::{BrainVerb, CrystalRow, Reply};

pub(super) async fn answer(s: &Served, uid: u32, verb: BrainVerb) -> Vec<Reply> {
    let (ask, request) = match verb {
        BrainVerb::Crystals {
            min_support,
            min_p,
            min_pmi,
        } => (
            BrainAsk::Crystals(ente_brain::Params {
                min_support,
                min_conditional_prob: min_p,
                min_pmi,
            }),
            None,
        ),
        BrainVerb::Rules => (BrainAsk::Rules, None),
        BrainVerb::Promote { a, b, action } => {
            let request = format!("brain promote `{a}` then `{b}`");
            (BrainAsk::Promote { a, b, action }, Some(request))
        }
        BrainVerb::Load { file } => {
            // Read here first: every fault with its path, before the brain.
            if let Err(errors) = ente_brain::RuleFile::parse(&file) {
                let why = errors
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join("; ");
                return vec![said(s, uid, "brain load".into(), Err(why))];
            }
            (BrainAsk::Load(file), Some("brain load".to_owned()))
        }
        BrainVerb::Remove { name } => {
            let request = format!("brain remove `{name}`");
            (BrainAsk::Remove(name), Some(request))
        }
    };
    let answer = ask_loop(s, |reply| Event::AskBrain { ask, reply }).await;
    let answer = match (answer, request) {
        (Err(why), Some(request)) => return vec![said(s, uid, request, Err(why))],
        (Err(why), None) => return vec![Reply::Refused(why)],
        (Ok(a), request) => (a, request),
    };
    if answer.1.is_some() {
        // A change: acknowledged once the chain holds it.
        committed(s).await;
    }
    match answer {
        (BrainAnswer::Crystals(list), _) => vec![Reply::Crystals(
            list.into_iter()
                .map(|c| CrystalRow {
                    gap_mean_ms: c.gaps.mean_ms(),
                    gap_stddev_ms: c.gaps.stddev_ms(),
                    gaps: c.gaps.count,
                    gap_max_ms: c.gaps.max_ms,
                    a: c.a,
                    b: c.b,
                    support: c.support,
                    p_b_given_a: c.p_b_given_a,
                    pmi: c.pmi,
                })
                .collect(),
        )],
        (BrainAnswer::Rules(json), _) => vec![Reply::Rules(json)],
        (BrainAnswer::Promoted(result), Some(request)) => {
            let rule = result.clone().ok();
            let mut replies = vec![said(s, uid, request, result.map(|_| ()))];
            if let Some(json) = rule {
                replies.push(Reply::Rules(json));
            }
            replies
        }
        (BrainAnswer::Loaded(result), Some(request)) => {
            let n = result.as_ref().ok().copied();
            let request = match n {
                Some(n) => format!("{request}: {n} rules"),
                None => request,
            };
            vec![said(s, uid, request, result.map(|_| ()))]
        }
        (BrainAnswer::Removed(found), Some(request)) => vec![said(
            s,
            uid,
            request,
            if found {
                Ok(())
            } else {
                Err("the brain has no rule of that name".into())
            },
        )],
        (_, _) => vec![Reply::Refused("the brain answered another question".into())],
    }
}
