//! The snapshot taken from a stopped table: counters of every Ente that
//! has them, the saved states up to the budget (an Ente past it is named,
//! and the rest is still written), and each spawned card whole, its
//! genesis included, in the order it was spawned.

use ente_core::{Record, STATES_BUDGET, Table, take_snapshot};
use std::sync::Arc;

fn card(
    id: &str,
    lineage: Option<&str>,
    label: &str,
    genesis: Vec<serde_json::Value>,
) -> serde_json::Value {
    let mut c = serde_json::json!({
        "id": id, "label": label, "provides": [], "requires": [{"kind": "Journal"}], "soma": {},
        "payload": {"kind": "Wasm", "module_blake3": "ab".repeat(32), "entry": "ente:core/lifecycle"},
        "supervision": {"kind": "OneShot"}, "genesis": genesis
    });
    if let Some(l) = lineage {
        c["lineage"] = serde_json::json!(l);
    }
    c
}

const SEED: &str = "01J00000000000000000000R00";

fn parse(v: &serde_json::Value) -> Arc<ente_card::Card> {
    Arc::new(ente_card::from_value(v).unwrap_or_else(|f| panic!("{f:#?}")))
}

#[test]
fn states_past_the_budget_are_left_out_by_name_and_spawned_trees_are_kept_whole() {
    let seed_json = serde_json::json!({
        "id": SEED, "label": "seed", "provides": [{"kind": "Journal"}], "soma": {},
        "payload": {"kind": "Virtual"}, "supervision": {"kind": "OneShot"},
        "genesis": [
            card("01J00000000000000000000A01", Some(SEED), "big-one", vec![]),
            card("01J00000000000000000000A02", Some(SEED), "big-two", vec![]),
            card("01J00000000000000000000A03", Some(SEED), "small", vec![]),
        ]
    });
    let seed = parse(&seed_json);
    let mut table = Table::default();
    table.insert(Record::new(seed.clone(), None, false));
    let sizes = [20 << 20, 20 << 20, 1024];
    for (child, size) in seed.genesis.iter().zip(sizes) {
        let mut r = Record::new(Arc::new(child.clone()), Some(seed.id), false);
        r.saved = Some(vec![1; size]);
        r.restarts = 2;
        table.insert(r);
    }
    // A spawned tree: its top card holds a child of its own.
    let spawned_json = card(
        "01J00000000000000000000S01",
        Some("01J00000000000000000000A03"),
        "spawned",
        vec![card(
            "01J00000000000000000000S02",
            Some("01J00000000000000000000S01"),
            "grandchild",
            vec![],
        )],
    );
    let spawned = parse(&spawned_json);
    let mut top = Record::new(
        spawned.clone(),
        Some(spawned.lineage.expect("lineage")),
        true,
    );
    top.spawned_card = Some(spawned.clone());
    table.insert(top);

    let taken = take_snapshot(&table, &seed, None);
    assert_eq!(taken.states_left_out, vec!["big-two".to_owned()]);
    let kept: Vec<(String, Option<usize>)> = taken
        .snapshot
        .entes
        .iter()
        .map(|e| (e.id.clone(), e.state.as_ref().map(Vec::len)))
        .collect();
    assert_eq!(
        kept,
        vec![
            ("01J00000000000000000000A01".to_owned(), Some(20 << 20)),
            ("01J00000000000000000000A02".to_owned(), None),
            ("01J00000000000000000000A03".to_owned(), Some(1024)),
        ],
        "the counters of the one left out are kept"
    );
    assert!(kept.iter().filter_map(|(_, s)| *s).sum::<usize>() <= STATES_BUDGET);
    assert_eq!(taken.snapshot.spawned.len(), 1);
    let back: serde_json::Value =
        serde_json::from_str(&taken.snapshot.spawned[0].card).expect("json");
    assert_eq!(back["genesis"][0]["label"], "grandchild", "{back}");
    assert_eq!(
        taken.snapshot.spawned[0].parent,
        "01J00000000000000000000A03"
    );
    assert!(
        ente_state::encode(&taken.snapshot).is_ok(),
        "it fits a snapshot"
    );
}
