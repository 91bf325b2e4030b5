//! No input can panic the card parser: arbitrary bytes, arbitrary JSON, and
//! valid cards with one field replaced by arbitrary JSON. Whatever it accepts
//! survives its own serialisation unchanged.

mod support;

use proptest::prelude::*;
use serde_json::Value;
use std::path::Path;

fn json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<f64>().prop_map(Value::from),
        "\\PC{0,12}".prop_map(Value::String),
        prop::sample::select(vec![
            "Wasm",
            "Native",
            "Virtual",
            "Legacy",
            "Endpoint",
            "Journal",
            "Restart",
            "OneShot",
            "01J0000000000000000000000Z",
            "",
        ])
        .prop_map(Value::from),
    ];
    leaf.prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::btree_map(
                prop::sample::select(vec![
                    "id",
                    "label",
                    "kind",
                    "soma",
                    "payload",
                    "supervision",
                    "genesis",
                    "requires",
                    "provides",
                    "lineage",
                    "rlimits",
                    "nproc",
                    "envp",
                    "x",
                ])
                .prop_map(str::to_owned),
                inner,
                0..6
            )
            .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// Accepted cards are stable: serialise, parse again, same card.
fn check_round_trip(value: &Value) {
    if let Ok(card) = ente_card::from_value(value) {
        let again = serde_json::to_value(&card).expect("serialise");
        assert_eq!(ente_card::from_value(&again).as_ref(), Ok(&card));
    }
}

fn examples() -> Vec<Value> {
    support::json_files("cards")
        .iter()
        .map(|f| serde_json::from_slice(&std::fs::read(f).expect("read")).expect("json"))
        .collect()
}

/// Every (pointer) place in `v`, for replacement.
fn pointers(v: &Value, at: String, out: &mut Vec<String>) {
    out.push(at.clone());
    match v {
        Value::Object(m) => m
            .iter()
            .for_each(|(k, v)| pointers(v, format!("{at}/{k}"), out)),
        Value::Array(a) => a
            .iter()
            .enumerate()
            .for_each(|(i, v)| pointers(v, format!("{at}/{i}"), out)),
        _ => {}
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
        let _ = ente_card::parse(&bytes, Path::new("fuzz.json"));
    }

    #[test]
    fn arbitrary_json_never_panics(value in json()) {
        let text = value.to_string();
        let _ = ente_card::parse(text.as_bytes(), Path::new("fuzz.json"));
        check_round_trip(&value);
    }

    #[test]
    fn a_mutated_example_never_panics(pick in any::<prop::sample::Index>(), spot in any::<prop::sample::Index>(), new in json()) {
        let all = examples();
        let mut card = all[pick.index(all.len())].clone();
        let mut places = Vec::new();
        pointers(&card, String::new(), &mut places);
        let place = places[spot.index(places.len())].clone();
        if let Some(slot) = card.pointer_mut(&place) {
            *slot = new;
        }
        check_round_trip(&card);
    }
}
