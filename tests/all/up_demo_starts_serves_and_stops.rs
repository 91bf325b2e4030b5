//! `ente up` on the demo graph: the mediator, echo and client start in
//! dependency order and the client's call reaches echo through the
//! mediator; `flaky` traps every third call of `ticker` and is restarted
//! with its backoff shown; `crasher` traps on every start and ends failed
//! after the start limit; the native Entes serve, call and are ready on
//! sd_notify, and one killed by hand is restarted with its backoff;
//! SIGTERM stops every Ente, children first and the mediator last, with
//! exit 0.

use crate::support;

#[test]
fn the_demo_graph_starts_serves_restarts_and_stops_cleanly_on_sigterm() {
    let home = tempfile::tempdir().expect("home");
    let mut up = support::Up::start(home.path(), &support::repo("cards/demo.json"));
    up.wait_for("mediator: ready");
    up.wait_for("echo: ready");
    up.wait_for("[client] info: reply: hello from the demo");
    up.wait_for("client: ready");
    // The status row of echo counts the calls it served (the client's,
    // and the shell script's).
    let mut mark = 0;
    loop {
        let row = up.wait_after(mark, "echo ");
        mark = up.mark();
        if row.starts_with("echo ") && !row.contains("served      0") {
            break;
        }
    }
    // The native Entes: a script that serves, one that calls, and a
    // Legacy one ready on sd_notify.
    up.wait_for("greeter: ready");
    up.wait_for("legacyd: ready");
    up.wait_for("[shell] info: echo says: a shell script");
    up.wait_for("[shell] info: greeter says: hello, shell");
    // Killed by hand: its death, its backoff, its restart, its teardown.
    let soma = up.wait_for("legacyd: pid ");
    let pid = crate::native_entes::started_pid(&soma);
    let mark = up.mark();
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(pid),
        nix::sys::signal::Signal::SIGKILL,
    )
    .expect("kill legacyd");
    up.wait_after(mark, "legacyd: backing off: restart 1 in");
    up.wait_after(mark, "legacyd: teardown:");
    up.wait_after(mark, "legacyd: ready");
    let failed = up.wait_for("crasher: failed:");
    assert!(
        failed.contains("5 starts within 10 s, the start limit; last it trapped in `lifecycle.start` (UnreachableCodeReached)"),
        "{failed}"
    );
    up.wait_for("[ticker] info: reply: call 2");
    let died = up.wait_for("flaky: its body ended: trapped in `handler.handle`");
    assert!(died.contains("UnreachableCodeReached"), "{died}");
    up.wait_for("flaky: backing off: restart 1 in");
    let mark = up.mark();
    up.wait_after(mark, "flaky: ready");
    let (code, lines) = up.terminate();
    assert_eq!(code, Some(0), "{}", lines.join("\n"));
    let order: Vec<&String> = lines
        .iter()
        .filter(|l| l.starts_with("stopped `"))
        .collect();
    let at = |l: &str| order.iter().position(|o| *o == l).unwrap_or(usize::MAX);
    assert!(at("stopped `client`") < at("stopped `echo`"), "{order:?}");
    assert!(at("stopped `ticker`") < at("stopped `flaky`"), "{order:?}");
    assert_eq!(
        &order[order.len() - 2..],
        ["stopped `mediator`", "stopped `demo`"],
        "{order:?}"
    );
    assert!(
        lines
            .iter()
            .any(|l| l.contains("[echo] info: echo stopping")),
        "{}",
        lines.join("\n")
    );
}
