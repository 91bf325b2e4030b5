//! Supervision policies other than `Restart`: a `OneShot` Ente's end is an
//! event, not a failure; a `Delegate` child's restarts are decided by its
//! parent's `ente:core/supervisor` export; a stop cascades children first.

use crate::fixture::{ECHO, Ente, Host, config, endpoint, seed};
use ente_core::{Cause, Failure, Kind, Phase, State};

#[test]
fn a_oneshot_that_ends_is_ended_not_failed() {
    let once = endpoint("once");
    let flaky = Ente::new("once", "hostile_trap")
        .provides(&once)
        .env("EVERY", "1");
    let caller = Ente::new("caller", "client").requires(ECHO).requires(&once);
    let mut host = Host::start(
        seed(&[Ente::new("echo", "echo").provides(ECHO), flaky, caller]),
        config(),
    );
    host.settled();
    let _ = host.call_as("caller", &once, b"x");
    let ended = host.wait_phase("once", Phase::Ended);
    assert!(
        matches!(
            ended,
            State::Ended {
                cause: Cause::Trap { .. }
            }
        ),
        "{ended:?}"
    );
    assert_eq!(host.starts("once"), 1, "never restarted");
}

#[test]
fn a_delegate_childs_parent_decides_its_restarts() {
    let child = Ente::new("child", "hostile_trap")
        .env("TRAP", "start")
        .delegate();
    let parent = Ente::new("parent", "delegating_parent")
        .env("RESTARTS", "2")
        .child(child);
    let mut host = Host::start(seed(&[parent]), config());
    let stopped = host.wait_phase("child", Phase::Stopped);
    assert!(
        matches!(
            stopped,
            State::Stopped {
                cause: Some(Cause::Trap { .. })
            }
        ),
        "{stopped:?}"
    );
    assert_eq!(host.starts("child"), 3, "the first start and two restarts");
    let decided = host.journal("parent");
    assert_eq!(decided.len(), 3, "{decided:?}");
    assert!(
        decided[0].ends_with("exit 1, Decision::Restart(50)"),
        "{decided:?}"
    );
    assert!(
        decided[2].ends_with("exit 3, Decision::Stop"),
        "{decided:?}"
    );
}

#[test]
fn a_delegate_child_whose_parent_cannot_decide_fails_saying_why() {
    // The parent is a Wasm Ente, but does not export the supervisor.
    let child = Ente::new("child", "hostile_trap")
        .env("TRAP", "start")
        .delegate();
    let parent = Ente::new("parent", "echo").provides(ECHO).child(child);
    let mut host = Host::start(seed(&[parent]), config());
    let failed = host.wait_phase("child", Phase::Failed);
    assert!(
        matches!(&failed, State::Failed { why: Failure::NoDecision { why, .. }, .. } if why.contains("does not export ente:core/supervisor")),
        "{failed:?}"
    );
}

#[test]
fn shutdown_stops_children_before_parents_in_reverse_start_order() {
    let parent = Ente::new("parent", "delegating_parent")
        .child(Ente::new("first", "echo"))
        .child(Ente::new("second", "chatty"));
    let mut host = Host::start(
        seed(&[parent, Ente::new("echo", "echo").provides(ECHO)]),
        config(),
    );
    host.settled();
    let ids: std::collections::HashMap<ulid::Ulid, String> =
        ["parent", "first", "second", "echo", "mediator"]
            .iter()
            .map(|l| (host.id(l), (*l).to_string()))
            .collect();
    let ready: Vec<String> = host
        .seen
        .iter()
        .filter_map(|e| match (&e.kind, &e.ente) {
            (
                Kind::State {
                    to: Phase::Ready, ..
                },
                Some((id, _)),
            ) => ids.get(id).cloned(),
            _ => None,
        })
        .collect();
    let handles = host.handles.clone();
    let mut events = handles.spine.subscribe();
    host.stop();
    let mut stopped = Vec::new();
    while let Some(ente_core::Next::Event(e)) = events.try_next() {
        if let (
            Kind::State {
                to: Phase::Stopped, ..
            },
            Some((id, _)),
        ) = (&e.kind, &e.ente)
            && let Some(l) = ids.get(id)
        {
            stopped.push(l.clone());
        }
    }
    let pos = |v: &[String], l: &str| v.iter().position(|x| x == l).unwrap_or(usize::MAX);
    assert!(
        pos(&stopped, "first") < pos(&stopped, "parent"),
        "{stopped:?}"
    );
    assert!(
        pos(&stopped, "second") < pos(&stopped, "parent"),
        "{stopped:?}"
    );
    assert_eq!(
        stopped.last().map(String::as_str),
        Some("mediator"),
        "{stopped:?}"
    );
    // Among siblings, the later ready stops first.
    let (r1, r2) = (pos(&ready, "first"), pos(&ready, "second"));
    let (s1, s2) = (pos(&stopped, "first"), pos(&stopped, "second"));
    assert_eq!(r1 < r2, s2 < s1, "ready {ready:?}, stopped {stopped:?}");
}
