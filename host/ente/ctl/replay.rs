//! `ente ctl brain replay`: the brain's rules rebuilt from the audit chain
//! alone (each promotion and removal is an entry, with the rule's JSON),
//! compared with the rules in force. Equal, it says so and exits 0; not, it
//! names each rule that differs and exits 1.

use ente_audit::Decision;
use ente_brain::{Rule, RuleFile, Rules};
use ente_ctl::{BrainVerb, Reply, Verb};
use std::path::Path;
use std::process::ExitCode;

/// The rules the entries leave in force (of the brain of the last rule
/// entry), and how many entries made them.
pub fn rebuild(entries: &[ente_audit::Entry]) -> Result<(RuleFile, usize), String> {
    let brain_of = |d: &Decision| match d {
        Decision::RulePromoted { brain, .. } | Decision::RuleRemoved { brain, .. } => {
            Some(brain.clone())
        }
        _ => None,
    };
    let Some(brain) = entries.iter().rev().find_map(|e| brain_of(&e.decision)) else {
        return Ok((RuleFile::default(), 0));
    };
    let mut rules = Rules::new();
    let mut used = 0;
    for e in entries {
        match &e.decision {
            Decision::RulePromoted { brain: b, json, .. } if *b == brain => {
                let rule = Rule::parse_one(json).map_err(|why| {
                    format!("entry {}: a promotion that does not read: {why}", e.seq)
                })?;
                rules.put(rule)?;
                used += 1;
            }
            Decision::RuleRemoved { brain: b, rule, .. } if *b == brain => {
                if rule == "*" {
                    rules = Rules::new();
                } else {
                    rules.remove(rule);
                }
                used += 1;
            }
            _ => {}
        }
    }
    let file = RuleFile {
        rules: rules.iter().map(|(r, _)| r.clone()).collect(),
    };
    Ok((file, used))
}

pub fn run(socket: &Path, home: &Path, json: bool) -> ExitCode {
    let live = match super::client::fetch(socket, Verb::Brain(BrainVerb::Rules)) {
        Ok(replies) => replies.into_iter().find_map(|r| match r {
            Reply::Rules(text) => Some(Ok(text)),
            Reply::Refused(why) => Some(Err(why)),
            _ => None,
        }),
        Err(e) => {
            eprintln!("ente ctl brain replay: {e}");
            return ExitCode::from(3);
        }
    };
    let live = match live {
        Some(Ok(text)) => match RuleFile::parse(&text) {
            Ok(f) => f,
            Err(errors) => {
                eprintln!(
                    "ente ctl brain replay: the brain's rules do not read: {}",
                    errors[0]
                );
                return ExitCode::FAILURE;
            }
        },
        Some(Err(why)) => {
            eprintln!("ente ctl brain replay: refused: {why}");
            return ExitCode::FAILURE;
        }
        None => {
            eprintln!("ente ctl brain replay: the host gave no rules");
            return ExitCode::FAILURE;
        }
    };
    let chain = crate::audit::Chain::of(home.to_path_buf(), None);
    let (replayed, used) = match crate::audit::entries(&chain).and_then(|e| rebuild(&e)) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("ente ctl brain replay: {e}");
            return ExitCode::FAILURE;
        }
    };
    let equal = replayed == live;
    if json {
        println!(
            "{}",
            serde_json::json!({
                "equal": equal,
                "entries": used,
                "replayed": replayed.to_json(),
                "live": live.to_json(),
            })
        );
    } else if equal {
        println!(
            "the audit chain's {used} rule entries rebuild the {} rules in force, equal",
            live.rules.len()
        );
    } else {
        println!("the audit chain's {used} rule entries do NOT rebuild the rules in force:");
        for r in &replayed.rules {
            match live.rules.iter().find(|l| l.name == r.name) {
                None => println!("  `{}`: in the chain, not in force", r.name),
                Some(l) if l != r => println!("  `{}`: differs", r.name),
                Some(_) => {}
            }
        }
        for l in &live.rules {
            if !replayed.rules.iter().any(|r| r.name == l.name) {
                println!("  `{}`: in force, not in the chain", l.name);
            }
        }
        let names =
            |rules: &[ente_brain::Rule]| rules.iter().map(|r| r.name.clone()).collect::<Vec<_>>();
        let (chain, force) = (names(&replayed.rules), names(&live.rules));
        if chain != force {
            println!("  in the chain's order: {}", chain.join(", "));
            println!("  in force, in order:   {}", force.join(", "));
        }
    }
    if equal {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
