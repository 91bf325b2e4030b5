//! A hostile brain: one that traps or spins in `observe`, or answers with
//! more than the host copies of an answer, is an Ente that died (its cause
//! recorded, restarted), and the graph goes on; one that
//! answers each batch with 100,000 firings (spawns of cards that do not
//! parse, stops of the seed) and 10,000 promotions that do not read has at
//! most 256 firings of a batch run, none of them past its authority, the
//! rest counted and said, and none of its promotions recorded as a rule;
//! one built against an earlier wit/ is refused its seat, naming why.

use crate::cards::{ECHO, Ente, seed_with_brain};
use crate::support::{Up, ente_in, text};
use serde_json::json;
use std::path::Path;

fn graph(hazard: &str) -> serde_json::Value {
    let brain = Ente::new("brain", "hostile_brain")
        .requires_cap(json!({"kind": "Spawn"}))
        .env("HAZARD", hazard)
        .mem(128 << 20)
        .restart(20, 100);
    seed_with_brain(
        brain,
        &[
            Ente::new("echo", "echo").provides(ECHO),
            Ente::new("ticker", "client")
                .requires(ECHO)
                .env("EVERY_MS", "100")
                .restart(50, 500),
        ],
    )
}

fn up(home: &Path, hazard: &str) -> Up {
    let seed_path = home.join("seed.json");
    std::fs::write(
        &seed_path,
        serde_json::to_vec(&graph(hazard)).expect("json"),
    )
    .expect("seed");
    Up::start(home, &seed_path)
}

#[test]
fn a_brain_that_traps_or_spins_in_observe_dies_and_the_graph_goes_on() {
    for (hazard, cause) in [
        ("trap", "trapped in `brain.observe`"),
        ("spin", "`brain.observe` ran past its deadline"),
        // More answer than the host copies: the lift stops at the bound
        // (the host does not copy 24 MiB, nor a string once per entry
        // that names it).
        ("huge", "too much data"),
    ] {
        let home = tempfile::tempdir().expect("home");
        let mut up = up(home.path(), hazard);
        let died = up.wait_for("brain: its body ended");
        assert!(died.contains(cause), "{hazard}: {died}");
        up.wait_for("brain: backing off");
        // The graph goes on: the ticker's calls to echo still answer.
        let mark = up.mark();
        up.wait_after(mark, "[ticker] info:");
        let (code, lines) = up.terminate();
        assert_eq!(code, Some(0), "{}", lines.join("\n"));
    }
}

#[test]
fn a_brain_that_floods_its_answers_is_bounded_and_reaches_nothing_past_its_authority() {
    let home = tempfile::tempdir().expect("home");
    let h = home.path();
    let mut up = up(h, "flood");
    let dropped = up.wait_for("past a batch's bound");
    assert!(dropped.contains("brain:"), "{dropped}");
    // Its firings name rules the host never recorded: refused, recorded,
    // never run (its stops of the seed would be past its authority too).
    let refused = up.wait_for("rule `flood-1` fired");
    assert!(
        refused.contains("refused")
            && refused.contains("no rule of that name is recorded in force"),
        "{refused}"
    );
    up.wait_for("the rule it reported does not read");
    let (code, lines) = up.terminate();
    assert_eq!(code, Some(0), "{}", lines.join("\n"));
    // No more than 256 firings a batch were run: each batch's firings are
    // named flood-0.., so none past flood-255 reached the spine.
    assert!(
        !lines.iter().any(|l| l.contains("rule `flood-256` fired")),
        "a firing past the bound ran"
    );
    // The seed is still there to have stopped in order; nothing was promoted.
    let out = ente_in(h, &["audit", "tail", "-n", "1000000"]);
    let tail = text(&out.stdout);
    assert!(!tail.contains("rule promoted"), "{tail}");
    assert!(tail.contains("rule fired: flood-0"), "{tail}");
}

#[test]
fn a_brain_built_against_an_earlier_wit_is_refused_naming_the_mismatch() {
    // It exports `ente:core/brain@0.1.0`, as it was before the batch became
    // columns: the seat is refused, saying so (not that the export is
    // missing), and the graph goes on.
    let home = tempfile::tempdir().expect("home");
    let h = home.path();
    let mut card = graph("");
    card["genesis"][1]["payload"]["module_blake3"] =
        json!(crate::cards::digest_of_guest("stale_brain"));
    let seed_path = h.join("seed.json");
    std::fs::write(&seed_path, serde_json::to_vec(&card).expect("json")).expect("seed");
    let mut up = Up::start(h, &seed_path);
    let refused = up.wait_for("not of the shape this host's wit/ gives it");
    assert!(
        refused.contains("brain: failed")
            && refused.contains("it exports `ente:core/brain@0.1.0`")
            && refused.contains("type mismatch"),
        "{refused}"
    );
    up.wait_for("[ticker] info:");
    let (code, lines) = up.terminate();
    assert_eq!(code, Some(0), "{}", lines.join("\n"));
}
