//! Who mediates is the seed's choice: a card that merely claims the
//! mediator's endpoint is refused. A mediator that traps is restarted like
//! any Ente; while it is down, new grants are denied with the reason (never
//! allowed), and its state says so.

use crate::fixture::{
    ECHO, Ente, Host, MEDIATOR, config, contained, mediator, seed, seed_mediated,
};
use ente_core::{Kind, Phase};
use std::time::Instant;

#[test]
fn a_card_claiming_the_mediators_endpoint_cannot_start_the_graph() {
    let mut allow_all = Ente::new("allow-all", "hostile_mediator");
    allow_all.card["payload"]["entry"] = serde_json::json!("ente:core/mediator");
    allow_all.card["provides"] = serde_json::json!([{"kind": "Endpoint", "endpoint_interface": MEDIATOR, "endpoint_version": 1}]);
    let group = Ente::group("plugins").child(allow_all);
    let card = seed(&[Ente::new("echo", "echo").provides(ECHO), group]);
    let bytes = serde_json::to_vec(&card).expect("json");
    let card = ente_card::parse(&bytes, std::path::Path::new("seed.json")).expect("grammar");
    let home = tempfile::tempdir().expect("home");
    let err = ente::host::build(
        home.path(),
        std::path::Path::new("seed.json"),
        card,
        config(),
        ente_runtime::Profile::Native,
    )
    .expect_err("refused");
    assert!(
        err.contains("`allow-all`") && err.contains("only the seed can hand out"),
        "{err}"
    );
}

#[test]
fn a_mediator_that_traps_is_restarted_and_grants_nothing_while_down() {
    let poison = crate::fixture::endpoint("poison");
    let mut m = mediator("hostile_mediator").env("TRAP_ON", &poison);
    m.card["supervision"] =
        serde_json::json!({"kind": "Restart", "initial_ms": 300, "max_ms": 1000});
    let caller = Ente::new("caller", "client").requires(ECHO);
    let mut host = Host::start(
        seed_mediated(m, &[Ente::new("echo", "echo").provides(ECHO), caller]),
        config(),
    );
    host.settled();
    let t0 = Instant::now();
    let err = host.call_as("caller", &poison, b"x").expect_err("denied");
    assert!(err.to_string().contains("the mediator failed"), "{err}");
    let backing = host.wait_phase("mediator", Phase::BackingOff);
    assert!(backing.to_string().starts_with("backing off"), "{backing}");
    // Down: a call that needs a new lease is denied, with the reason.
    let other = crate::fixture::endpoint("other");
    let err = host.call_as("echo", &other, b"x").expect_err("no grant");
    assert!(
        err.to_string()
            .contains("the mediator is not running (backing off"),
        "{err}"
    );
    host.wait_phase("mediator", Phase::Ready);
    contained("mediator trap, to ready again", t0.elapsed());
    assert_eq!(host.call_as("caller", ECHO, b"ok"), Ok(b"ok".to_vec()));
    assert!(
        host.events_of("mediator")
            .iter()
            .any(|e| matches!(e.kind, Kind::Died { .. })),
        "the mediator's death is on the spine"
    );
}
