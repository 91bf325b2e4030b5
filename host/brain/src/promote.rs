//! Promotion on the brain's own: every crystal not yet a rule becomes one.

use crate::crystal::{Params, crystallise};
use crate::observer::Observer;
use crate::rules::{Action, Rule, Rules};
use alloc::string::{String, ToString};
use alloc::vec::Vec;

/// Put in force a rule for each crystal passing `params` that has none
/// (by name), at most `max` of them (the rest on a later call), its action
/// what `action` gives for (a, b); the JSON of each rule put in force, for
/// the host's record. Stops when the rules are full.
pub fn autopromote(
    observer: &Observer,
    rules: &mut Rules,
    params: &Params,
    max: usize,
    action: impl Fn(&str, &str) -> Action,
) -> Vec<String> {
    let mut promoted = Vec::new();
    for c in crystallise(observer, params) {
        if promoted.len() >= max {
            break;
        }
        let rule = Rule::from_crystal(&c, action(&c.a, &c.b));
        if rules.iter().any(|(r, _)| r.name == rule.name) {
            continue;
        }
        let json = rule.to_json().to_string();
        // A rule the host could not read back (a label past the grammar's
        // bounds) is not put in force: the record would lack it.
        if Rule::parse_one(&json).is_err() {
            continue;
        }
        if rules.put(rule).is_err() {
            break;
        }
        promoted.push(json);
    }
    promoted
}
