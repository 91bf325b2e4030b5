//! A guest whose handler never returns is stopped at its deadline: the call
//! fails with a trap that says so, the body takes no more calls, and the
//! host goes on.

mod support;

use ente_card::Capability;
use ente_runtime::{CallError, Grants, Identity, Incarnation, JournalSink, Level, Ports, Runtime};
use std::sync::Arc;
use std::time::Duration;

struct Quiet;

impl JournalSink for Quiet {
    fn line(&self, _: &Identity, _: Level, _: &str) {}
}

#[test]
fn an_endless_handler_is_stopped_at_its_deadline() {
    let home = tempfile::tempdir().expect("home");
    let runtime = Runtime::open(home.path()).expect("runtime");
    let digest = runtime
        .cas()
        .add_file(&support::guest("hostile_infinite_loop"))
        .expect("add");
    let component = runtime.load(&digest).expect("load");
    let endpoint = ente_runtime::Endpoint {
        interface: "6c6f6f702d656e64706f696e742d7631".into(),
        version: 1,
    };
    let blueprint = runtime
        .prepare(
            "spin",
            &component,
            Grants::from_capabilities(&[Capability::Journal]),
            std::slice::from_ref(&endpoint),
        )
        .expect("prepare");
    let identity = Identity {
        id: "01J000000000000000000000SP".into(),
        label: "spin".into(),
    };
    let ports = Ports {
        journal: Arc::new(Quiet),
        bus: None,
        graph_view: None,
    };
    let mut spin = runtime
        .instantiate(&blueprint, identity, ports, &Incarnation::default())
        .expect("instantiate");
    spin.set_deadline(Duration::from_millis(200));
    let err = spin
        .handle("01J000000000000000000000CA", &endpoint, b"go")
        .expect_err("stopped");
    assert!(
        matches!(&err, CallError::Trap { message, .. } if message.contains("deadline")),
        "{err}"
    );
    assert!(spin.failed());
    assert!(matches!(
        spin.handle("x", &endpoint, b""),
        Err(CallError::Failed { .. })
    ));
}
