//! The example cards are valid, their graphs pass every static check, and a
//! card read back from its own serialisation is the same card.

mod support;

use ente_card::{Capability, Graph, Payload};

#[test]
fn every_example_card_is_valid_with_its_graph() {
    let files = support::json_files("cards");
    assert!(files.len() >= 4, "examples: {files:?}");
    for file in files {
        let card = ente_card::load(&file).unwrap_or_else(|e| panic!("{e}"));
        let faults = Graph::new(&card).check();
        assert!(faults.is_empty(), "{}: {faults:#?}", file.display());
    }
}

#[test]
fn a_card_round_trips_through_its_json_form() {
    for file in support::json_files("cards") {
        let card = ente_card::load(&file).unwrap_or_else(|e| panic!("{e}"));
        let json = serde_json::to_value(&card).expect("serialise");
        let again = ente_card::from_value(&json).unwrap_or_else(|f| panic!("{f:#?}"));
        assert_eq!(card, again, "{}", file.display());
    }
}

#[test]
fn the_demo_graph_starts_providers_before_their_clients() {
    let card = ente_card::load(&support::repo("cards/demo.json")).expect("demo");
    let graph = Graph::new(&card);
    let order = graph.start_order().expect("order");
    let position = |label: &str| {
        order
            .iter()
            .position(|&n| graph.nodes[n].card.label == label)
            .expect("in order")
    };
    assert!(position("demo") < position("echo"));
    assert!(position("echo") < position("client"));
    let client = graph
        .nodes
        .iter()
        .find(|n| n.card.label == "client")
        .expect("client");
    assert!(
        client
            .card
            .requires
            .iter()
            .any(|c| matches!(c, Capability::Endpoint { .. }))
    );
    assert!(matches!(client.card.payload, Payload::Wasm { .. }));
}
