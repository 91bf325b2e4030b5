//! Rules over events: a Sequence fires on the second death within its
//! time, only for the same Ente; a rule that fires in a loop is cut and
//! reported; a rule for the event's Ente ignores events that name none; a rules file's faults each name their path (unknown actions,
//! fields, duplicates, a huge or deep file), and a file reads back as it
//! was written.

use ente_brain::{Action, Event, RULES_MAX, RuleFile, Rules, Target};

fn died(seq: u64, at_ms: u64, label: &str) -> Event {
    Event {
        seq,
        at_ms,
        kind: "died".into(),
        ente: Some(format!("ID-{label}")),
        label: Some(label.into()),
        cause: Some("trap: unreachable".into()),
    }
}

const TWICE: &str = r#"{"rules": [{
    "name": "stop-a-flapping-ente",
    "on": {"kind": "died", "cause": "trap"},
    "then": {"kind": "died", "within_ms": 1000},
    "action": {"kind": "Stop", "ente": "$subject"},
    "limit": {"max": 2, "per_ms": 60000}
}]}"#;

fn loaded(text: &str) -> Rules {
    let file = RuleFile::parse(text).expect("valid");
    let mut rules = Rules::new();
    for r in file.rules {
        rules.put(r).expect("room");
    }
    rules
}

#[test]
fn an_ente_that_dies_twice_within_a_second_is_stopped() {
    let mut rules = loaded(TWICE);
    let mut fired = Vec::new();
    rules.on_event(&died(1, 1_000, "flaky"), &mut fired);
    rules.on_event(&died(2, 1_500, "steady"), &mut fired);
    assert!(fired.is_empty(), "one death each: {fired:?}");
    rules.on_event(&died(3, 1_900, "flaky"), &mut fired);
    assert_eq!(fired.len(), 1, "{fired:?}");
    assert_eq!(fired[0].rule, "stop-a-flapping-ente");
    assert_eq!(fired[0].action, Some(Action::Stop(Target::Subject)));
    assert_eq!(fired[0].subject.as_deref(), Some("ID-flaky"));
    assert_eq!(fired[0].seq, 3);
    // Too late: 1.1 s after the last.
    fired.clear();
    rules.on_event(&died(4, 3_000, "flaky"), &mut fired);
    assert!(fired.is_empty(), "{fired:?}");
}

#[test]
fn a_rule_for_the_events_ente_neither_fires_nor_wears_out_on_an_event_that_names_none() {
    // What the host sends for an Ente outside the brain's reach: its label
    // alone. A namesake crash-looping elsewhere must not cut the rule.
    let text = r#"{"rules": [
        {"name": "stop-it", "on": {"kind": "died", "ente": "flaky"},
         "action": {"kind": "Stop", "ente": "$subject"}, "limit": {"max": 1, "per_ms": 60000}},
        {"name": "say-it", "on": {"kind": "died", "ente": "flaky"},
         "action": {"kind": "Event", "name": "flaky died"}}
    ]}"#;
    let mut rules = loaded(text);
    let mut fired = Vec::new();
    for i in 0..5 {
        let mut namesake = died(i, i * 100, "flaky");
        namesake.ente = None;
        rules.on_event(&namesake, &mut fired);
    }
    assert!(
        fired.iter().all(|f| f.rule == "say-it"),
        "only the rule that acts on no Ente: {fired:?}"
    );
    assert_eq!(fired.len(), 5);
    fired.clear();
    rules.on_event(&died(9, 1_000, "flaky"), &mut fired);
    let stop = fired.iter().find(|f| f.rule == "stop-it").expect("fired");
    assert_eq!(stop.action, Some(Action::Stop(Target::Subject)), "not cut");
    assert_eq!(stop.subject.as_deref(), Some("ID-flaky"));
}

#[test]
fn a_rule_that_fires_in_a_loop_is_cut_and_said_once() {
    let mut rules = loaded(TWICE);
    let mut fired = Vec::new();
    for i in 0..50 {
        rules.on_event(&died(i, 1_000 + 10 * i, "flaky"), &mut fired);
    }
    let run: Vec<_> = fired.iter().filter(|f| f.action.is_some()).collect();
    let cut: Vec<_> = fired.iter().filter(|f| f.action.is_none()).collect();
    assert_eq!(run.len(), 2, "its limit: {fired:?}");
    assert_eq!(cut.len(), 1, "cut once, then silent: {fired:?}");
    assert!(rules.iter().all(|(_, was_cut)| was_cut));
}

fn faults(text: &str) -> String {
    match RuleFile::parse(text) {
        Ok(f) => panic!("accepted: {f:?}"),
        Err(errors) => errors
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join("\n"),
    }
}

#[test]
fn every_fault_of_a_rules_file_names_its_path() {
    let bad = r#"{"rules": [
        {"name": "x", "on": {"kind": "died"}, "action": {"kind": "Explode"}},
        {"name": "y", "on": {"kind": "died", "colour": 1}, "action": {"kind": "Stop"}},
        {"name": "x", "on": {"kind": ""}, "then": {"kind": "b"}, "action": {"kind": "Event", "name": "n"}},
        {"name": "z", "on": {"kind": "a"}, "action": {"kind": "Journal", "level": "loud", "text": "t"}, "limit": {"max": 0, "per_ms": 5}}
    ]}"#;
    let all = faults(bad);
    for want in [
        "rules[0].action.kind: `Explode` is not an action",
        "rules[1].on.colour: unknown field",
        "rules[1].action.ente: missing",
        "rules[2].on.kind: must not be empty",
        "rules[2].then.within_ms: missing",
        "rules[3].action.level: `loud` is not a level",
        "rules[3].limit.max: 0 is not a whole number from 1 to 1000",
    ] {
        assert!(all.contains(want), "no `{want}` in:\n{all}");
    }
    // A null field of a limit is missing, not a rule silently dropped.
    let null_max = r#"{"rules": [{"name": "x", "on": {"kind": "a"}, "action": {"kind": "Event", "name": "n"}, "limit": {"max": null, "per_ms": 1000}}]}"#;
    assert!(faults(null_max).contains("rules[0].limit.max: missing"));
    assert!(faults("[]").contains("is not an object"));
    assert!(faults(r#"{"rules": 3}"#).contains("rules: 3 is not a list"));
    assert!(faults(r#"{"rules": [], "more": 1}"#).contains("more: unknown field"));
}

#[test]
fn duplicate_names_a_deep_file_and_too_many_rules_are_refused() {
    let dup = r#"{"rules": [
        {"name": "x", "on": {"kind": "a"}, "action": {"kind": "Event", "name": "n"}},
        {"name": "x", "on": {"kind": "b"}, "action": {"kind": "Event", "name": "n"}}
    ]}"#;
    assert!(faults(dup).contains("rules[1].name: `x` is already the name of rules[0]"));
    let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
    assert!(
        faults(&deep).contains("not JSON"),
        "a deep file is an error, not a crash"
    );
    let many: Vec<String> = (0..=RULES_MAX)
        .map(|i| format!(r#"{{"name": "r{i}", "on": {{"kind": "a"}}, "action": {{"kind": "Event", "name": "n"}}}}"#))
        .collect();
    let text = format!(r#"{{"rules": [{}]}}"#, many.join(","));
    assert!(faults(&text).contains("more than the 256 a brain holds"));
}

#[test]
fn a_rules_file_reads_back_as_it_was_written() {
    let file = RuleFile::parse(TWICE).expect("valid");
    let again = RuleFile::parse(&file.to_json().to_string()).expect("valid");
    assert_eq!(file, again);
}

proptest::proptest! {
    #[test]
    fn any_text_is_a_rules_file_or_faults_never_a_panic(text in ".{0,400}") {
        let _ = RuleFile::parse(&text);
    }
}

#[test]
fn a_load_past_the_brains_room_puts_nothing_in_force() {
    let mut rules = Rules::new();
    let many = |from: usize, n: usize| -> Vec<ente_brain::Rule> {
        let list: Vec<String> = (from..from + n)
            .map(|i| format!(r#"{{"name": "r{i}", "on": {{"kind": "a"}}, "action": {{"kind": "Event", "name": "n"}}}}"#))
            .collect();
        RuleFile::parse(&format!(r#"{{"rules": [{}]}}"#, list.join(",")))
            .expect("valid")
            .rules
    };
    rules.put_all(many(0, 250)).expect("room");
    let err = rules.put_all(many(250, 10)).expect_err("no room");
    assert!(err.contains("none was put in force"), "{err}");
    assert_eq!(rules.len(), 250, "nothing of the refused load is in force");
    // Rules of names in force replace them: room enough.
    rules.put_all(many(0, 10)).expect("replacing");
    assert_eq!(rules.len(), 250);
}
