//! What a person sees from `ente check`: exit 0 for valid cards, 1 with every
//! fault on stderr otherwise, and a clear word for a path that is not there.

mod support;

use support::{ente, text};

#[test]
fn valid_cards_exit_zero() {
    let out = ente(&["check", "cards/demo.json", "cards/appliance.json"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("2 card files valid"));
}

#[test]
fn a_folder_is_checked_file_by_file_and_any_fault_exits_one() {
    let out = ente(&["check", "cards/invalid"]);
    assert_eq!(out.status.code(), Some(1));
    let err = text(&out.stderr);
    let n = support::json_files("cards/invalid").len();
    assert!(
        err.contains(&format!("{n} of {n} card files refused")),
        "{err}"
    );
    assert!(
        err.contains("cards/invalid/child-nproc-too-large.json: 1 fault:"),
        "{err}"
    );
    assert!(
        err.contains("genesis[0].soma.rlimits.nproc = 70000: must be 1..=65535"),
        "{err}"
    );
}

#[test]
fn a_missing_path_is_named() {
    let out = ente(&["check", "cards/no-such-card.json"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("cards/no-such-card.json: cannot read"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn a_bad_argument_is_a_usage_error() {
    let out = ente(&["check"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("PATH"), "{}", text(&out.stderr));
}
