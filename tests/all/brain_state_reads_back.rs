//! The brain component's snapshot state reads back: its own (postcard,
//! tagged) into a new instance, with the rules and the counts it learnt;
//! a state saved as JSON by an earlier brain, before postcard; and
//! anything else is refused, naming why, with nothing put in force.

use crate::support::guest;
use ente_brain::{Event, Observer, RuleFile};
use ente_runtime::{
    BrainAnswer, BrainAsk, Grants, Identity, Incarnation, Instance, JournalSink, Level, Ports,
    Runtime,
};
use std::sync::Arc;

struct Quiet;
impl JournalSink for Quiet {
    fn line(&self, _: &Identity, _: Level, _: &str) {}
}

const RULES: &str = r#"{"rules": [{"name": "say-it", "on": {"kind": "died", "ente": "a"},
    "action": {"kind": "Event", "name": "a died"}}]}"#;

/// `a` then `b`, 100 ms apart, `n` times.
fn stream(n: u64) -> Vec<Event> {
    (0..2 * n)
        .map(|i| Event {
            seq: i + 1,
            at_ms: 1_000 + (i / 2) * 1_000 + (i % 2) * 100,
            kind: "died".into(),
            ente: None,
            label: Some(if i % 2 == 0 { "a" } else { "b" }.into()),
            cause: None,
        })
        .collect()
}

fn brain(runtime: &Runtime) -> Instance {
    let digest = runtime.cas().add_file(&guest("brain")).expect("add").0;
    let component = runtime.load(&digest).expect("load");
    let grants = Grants {
        journal: true,
        ..Grants::default()
    };
    let bp = runtime
        .prepare("brain", &component, grants, &[])
        .expect("prepare");
    let id = Identity {
        id: ulid::Ulid::new().to_string(),
        label: "brain".into(),
    };
    runtime
        .instantiate(
            &bp,
            id,
            Ports::journal_only(Arc::new(Quiet)),
            &Incarnation::default(),
        )
        .expect("instantiate")
}

fn rules_of(b: &mut Instance) -> String {
    match b.ask_brain(&BrainAsk::Rules).expect("rules") {
        BrainAnswer::Rules(r) => r,
        other => panic!("{other:?}"),
    }
}

/// The support of `died@a` then `died@b`.
fn support(b: &mut Instance) -> Option<f64> {
    let ask = BrainAsk::Crystals {
        min_support: 0.0,
        min_p: 0.0,
        min_pmi: -1000.0,
    };
    match b.ask_brain(&ask).expect("crystals") {
        BrainAnswer::Crystals(c) => c
            .iter()
            .find(|c| c.a == "died@a" && c.b == "died@b")
            .map(|c| c.support),
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_brains_state_reads_back_its_own_and_an_earlier_brains_and_refuses_the_rest() {
    let home = tempfile::tempdir().expect("home");
    let runtime = Runtime::open(home.path()).expect("runtime");

    // Its own: learnt and loaded, saved, restored into a new instance.
    let mut first = brain(&runtime);
    let loaded = first.ask_brain(&BrainAsk::Load { file: RULES.into() });
    assert!(
        matches!(loaded, Ok(BrainAnswer::Loaded(Ok(1)))),
        "{loaded:?}"
    );
    first
        .observe(&ente::brain::batch(&stream(3)))
        .expect("observe");
    assert_eq!(support(&mut first), Some(3.0));
    let state = first
        .save()
        .expect("save")
        .expect("a state")
        .expect("saved");
    assert!(state.starts_with(b"ente-brain/1\0"), "postcard, tagged");
    let mut second = brain(&runtime);
    assert_eq!(second.restore(&state).expect("restore"), Ok(()));
    assert_eq!(support(&mut second), Some(3.0));
    assert!(rules_of(&mut second).contains("say-it"));

    // An earlier brain's state, in JSON: its observer's counts and its
    // rules file.
    let mut o = Observer::new();
    for e in stream(4) {
        o.observe(&e);
    }
    let rules = RuleFile::parse(RULES).expect("rules").to_json();
    let json = serde_json::json!({"observer": o.save(), "rules": rules});
    let mut third = brain(&runtime);
    let bytes = serde_json::to_vec(&json).expect("json");
    assert_eq!(third.restore(&bytes).expect("restore"), Ok(()));
    assert_eq!(support(&mut third), Some(4.0));
    assert!(rules_of(&mut third).contains("say-it"));

    // Anything else: refused, naming why; nothing put in force.
    let mut fourth = brain(&runtime);
    for bad in [
        &b"ente-brain/1\0garbage"[..],
        b"{\"observer\": 7}",
        b"\x00\x01",
    ] {
        let r = fourth.restore(bad).expect("a refusal, not a fault");
        let why = r.expect_err("refused");
        assert!(why.starts_with("not a brain's state"), "{why}");
    }
    assert!(!rules_of(&mut fourth).contains("say-it"));
    assert_eq!(support(&mut fourth), None);
}
