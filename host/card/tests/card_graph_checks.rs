//! `ente check --graph` knows before boot what would fail at boot: duplicate
//! ids, a requirement nobody provides, a dependency cycle, and a child granted
//! more than its parent holds. Each card under cards/invalid-graph is valid
//! grammar and breaks one graph rule.

mod support;

use ente_card::{Graph, GraphFault};
use support::repo;

fn faults(file: &str) -> Vec<GraphFault> {
    let card = ente_card::load(&repo(file)).unwrap_or_else(|e| panic!("{e}"));
    Graph::new(&card).check()
}

#[test]
fn duplicate_ids_are_refused_naming_both_entes() {
    let f = faults("cards/invalid-graph/duplicate-id.json");
    assert!(
        matches!(f.as_slice(), [GraphFault::DuplicateId { .. }]),
        "{f:#?}"
    );
    let msg = f[0].to_string();
    assert!(
        msg.starts_with("genesis[1].id:") && msg.contains("`a`") && msg.contains("`b`"),
        "{msg}"
    );
}

#[test]
fn an_endpoint_nobody_provides_is_refused() {
    let f = faults("cards/invalid-graph/unprovided-endpoint.json");
    assert!(
        matches!(f.as_slice(), [GraphFault::Unprovided { .. }]),
        "{f:#?}"
    );
    let msg = f[0].to_string();
    assert!(msg.starts_with("genesis[1].requires[1]:"), "{msg}");
    assert!(msg.contains("6563686f2d656e64706f696e742d7631@1"), "{msg}");
}

#[test]
fn a_dependency_cycle_is_refused_naming_its_members() {
    let f = faults("cards/invalid-graph/dependency-cycle.json");
    assert!(matches!(f.as_slice(), [GraphFault::Cycle { .. }]), "{f:#?}");
    let msg = f[0].to_string();
    assert!(msg.contains("`a`") && msg.contains("`b`"), "{msg}");
}

#[test]
fn a_child_never_gets_spawn_its_parent_lacks() {
    let f = faults("cards/invalid-graph/child-exceeds-parent-spawn.json");
    assert!(
        matches!(f.as_slice(), [GraphFault::Exceeds { .. }]),
        "{f:#?}"
    );
    let msg = f[0].to_string();
    assert!(
        msg.starts_with("genesis[0].genesis[0].requires[1]:"),
        "{msg}"
    );
    assert!(msg.contains("Spawn") && msg.contains("`middle`"), "{msg}");
}

#[test]
fn only_the_seed_hands_out_the_mediators_endpoint() {
    let f = faults("cards/invalid-graph/mediator-claimed-by-a-grandchild.json");
    assert!(
        matches!(
            f.as_slice(),
            [GraphFault::NotFromSeed {
                seat: ente_card::Seat::Mediator,
                ..
            }]
        ),
        "{f:#?}"
    );
    let msg = f[0].to_string();
    assert!(
        msg.starts_with("genesis[1].genesis[0].provides:") && msg.contains("`allow-all`"),
        "{msg}"
    );
}

#[test]
fn only_the_seed_hands_out_the_brains_seat_and_a_graph_has_one_brain() {
    let f = faults("cards/invalid-graph/brain-claimed-by-a-grandchild.json");
    assert!(
        matches!(
            f.as_slice(),
            [GraphFault::NotFromSeed {
                seat: ente_card::Seat::Brain,
                ..
            }]
        ),
        "{f:#?}"
    );
    let msg = f[0].to_string();
    assert!(
        msg.starts_with("genesis[0].genesis[0].provides:")
            && msg.contains("`would-be-brain`")
            && msg.contains("the brain's endpoint"),
        "{msg}"
    );
    let f = faults("cards/invalid-graph/two-brains.json");
    assert!(
        matches!(
            f.as_slice(),
            [GraphFault::SecondInSeat {
                seat: ente_card::Seat::Brain,
                ..
            }]
        ),
        "{f:#?}"
    );
    let msg = f[0].to_string();
    assert!(
        msg.contains("`second-brain`") && msg.contains("a graph has one brain"),
        "{msg}"
    );
}

#[test]
fn a_graph_has_one_mediator() {
    let f = faults("cards/invalid-graph/two-mediators.json");
    assert!(
        matches!(
            f.as_slice(),
            [GraphFault::SecondInSeat {
                seat: ente_card::Seat::Mediator,
                ..
            }]
        ),
        "{f:#?}"
    );
    let msg = f[0].to_string();
    assert!(
        msg.contains("`mediator`") && msg.contains("`allow-all`"),
        "{msg}"
    );
}

#[test]
fn a_delegate_child_needs_a_parent_with_a_wasm_body() {
    let f = faults("cards/invalid-graph/delegate-under-a-group.json");
    assert!(
        matches!(f.as_slice(), [GraphFault::DelegateWithoutSupervisor { .. }]),
        "{f:#?}"
    );
    let msg = f[0].to_string();
    assert!(
        msg.starts_with("genesis[0].genesis[0].supervision:") && msg.contains("`group`"),
        "{msg}"
    );
}

#[test]
fn calls_without_a_mediator_are_refused() {
    let f = faults("cards/invalid-graph/calls-without-a-mediator.json");
    assert!(
        matches!(f.as_slice(), [GraphFault::NoMediator { .. }]),
        "{f:#?}"
    );
    let msg = f[0].to_string();
    assert!(
        msg.contains("`client`") && msg.contains("no Ente mediates"),
        "{msg}"
    );
}
