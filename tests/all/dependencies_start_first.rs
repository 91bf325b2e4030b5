//! Start in dependency order: an Ente starts only after its parent and the
//! providers of everything it requires are ready; one whose provider never
//! becomes ready keeps waiting, and says what for.

use crate::fixture::{ECHO, Ente, Host, config, endpoint, seed};
use ente_core::{Kind, Phase};

#[test]
fn a_client_starts_after_its_provider_is_ready() {
    let caller = Ente::new("caller", "client").requires(ECHO);
    // The caller comes first in the card; the provider still starts first.
    let mut host = Host::start(
        seed(&[caller, Ente::new("echo", "echo").provides(ECHO)]),
        config(),
    );
    host.settled();
    let ready_order: Vec<String> = host
        .seen
        .iter()
        .filter_map(|e| match (&e.kind, &e.ente) {
            (
                Kind::State {
                    to: Phase::Ready, ..
                },
                Some((_, label)),
            ) => Some(label.clone()),
            _ => None,
        })
        .collect();
    let pos = |l: &str| ready_order.iter().position(|x| x == l);
    assert!(pos("echo") < pos("caller"), "{ready_order:?}");
    assert!(pos("mediator") < pos("caller"), "{ready_order:?}");
    assert_eq!(host.journal("caller"), ["reply: hello"]);
}

#[test]
fn an_ente_whose_provider_failed_keeps_waiting() {
    let broken_ep = endpoint("broken");
    let mut broken = Ente::of_digest("broken", &"0".repeat(64)).provides(&broken_ep);
    broken.card["requires"] = serde_json::json!([]);
    let caller = Ente::new("caller", "client").requires(&broken_ep);
    let mut host = Host::start(seed(&[broken, caller]), config());
    host.settled();
    host.wait_phase("broken", Phase::Failed);
    assert_eq!(
        host.state("caller").map(|s| s.phase()),
        Some(Phase::Waiting)
    );
}
