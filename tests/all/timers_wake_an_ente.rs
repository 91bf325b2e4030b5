//! `ente:core/timer`: an Ente asks to be woken and is, through its
//! `timer-events` export, as often as it re-arms; wake-ups of a body that
//! died are never delivered to the next one.

use crate::fixture::{ECHO, Ente, Host, config, seed};

#[test]
fn a_client_on_a_timer_calls_every_tick() {
    let ticker = Ente::new("ticker", "client")
        .requires(ECHO)
        .env("EVERY_MS", "50")
        .env("GREETING", "tick");
    let mut host = Host::start(
        seed(&[Ente::new("echo", "echo").provides(ECHO), ticker]),
        config(),
    );
    host.settled();
    let t0 = std::time::Instant::now();
    loop {
        let ticks = host
            .journal("ticker")
            .iter()
            .filter(|l| *l == "reply: tick")
            .count();
        if ticks >= 6 {
            break;
        }
        assert!(t0.elapsed().as_secs() < 20, "only {ticks} ticks");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

#[test]
fn pending_wake_ups_are_bounded() {
    let me = crate::fixture::endpoint("timers");
    let greedy = Ente::new("greedy", "hostile_caller")
        .provides(&me)
        .requires(ECHO);
    let caller = Ente::new("caller", "client").requires(ECHO).requires(&me);
    let mut host = Host::start(
        seed(&[Ente::new("echo", "echo").provides(ECHO), greedy, caller]),
        config(),
    );
    host.settled();
    let answer = host.call_as("caller", &me, b"timers:1000");
    let answer = String::from_utf8_lossy(&answer.expect("answers")).into_owned();
    assert!(
        answer.starts_with("set 64 of 1000; last refusal: 64 wake-ups are already pending"),
        "{answer}"
    );
}

#[test]
fn a_wake_up_further_than_the_clock_reaches_does_not_take_the_host_down() {
    let me = crate::fixture::endpoint("far");
    let far = Ente::new("far", "hostile_caller")
        .provides(&me)
        .requires(ECHO);
    let caller = Ente::new("caller", "client").requires(ECHO).requires(&me);
    let mut host = Host::start(
        seed(&[Ente::new("echo", "echo").provides(ECHO), far, caller]),
        config(),
    );
    host.settled();
    let answer = host.call_as("caller", &me, b"far").expect("answers");
    assert!(
        String::from_utf8_lossy(&answer).starts_with("Ok("),
        "{answer:?}"
    );
    // The loop took it (a century away) and goes on.
    assert_eq!(host.call_as("caller", ECHO, b"ok"), Ok(b"ok".to_vec()));
    assert_eq!(
        host.call_as("caller", &me, b"timers:1")
            .map(|a| !a.is_empty()),
        Ok(true)
    );
    host.stop();
}
