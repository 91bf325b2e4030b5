//! `ente up` on the demo graph: the mediator, echo and client start in
//! dependency order, the client's call reaches echo through the mediator,
//! the status shows it, and SIGTERM stops every Ente in reverse order with
//! exit 0.

mod support;

#[test]
fn the_demo_graph_starts_serves_and_stops_cleanly_on_sigterm() {
    let home = tempfile::tempdir().expect("home");
    let mut up = support::Up::start(home.path(), &support::repo("cards/demo.json"));
    up.wait_for("mediator: ready");
    up.wait_for("echo: ready");
    up.wait_for("[client] info: reply: hello from the demo");
    up.wait_for("client: ready");
    let served = up.wait_for("served      1");
    assert!(
        served.starts_with("echo"),
        "echo served the client's call: {served}"
    );
    let (code, lines) = up.terminate();
    assert_eq!(code, Some(0), "{}", lines.join("\n"));
    let order: Vec<&String> = lines
        .iter()
        .filter(|l| l.starts_with("stopped `"))
        .collect();
    assert_eq!(
        order,
        ["stopped `client`", "stopped `echo`", "stopped `mediator`"],
        "{}",
        lines.join("\n")
    );
    assert!(
        lines
            .iter()
            .any(|l| l.contains("[echo] info: echo stopping")),
        "{}",
        lines.join("\n")
    );
}
