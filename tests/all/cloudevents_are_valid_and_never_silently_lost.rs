//! The host's events as CloudEvents v1.0: `ente up --cloudevents FILE`
//! writes one per line, each valid against the CloudEvents JSON schema
//! (checked by jsonschema, formats included) with an id of its own; a
//! burst of 100,000 events reaches the file whole, or the lines dropped
//! are counted in an event that says so.

use crate::cards::{Ente, seed};
use crate::support::{Up, repo, text};
use ente_core::{Kind, Level, Spine};
use std::path::Path;

/// The jsonschema verdict on every line of `file`: (lines, valid, errors).
pub(crate) fn verdicts(file: &Path) -> (u64, u64, String) {
    let out = std::process::Command::new(repo("target/py/bin/python3"))
        .arg(repo("tests/support/cloudevents_verdicts.py"))
        .arg(file)
        .output()
        .expect("python (`just setup` makes target/py)");
    let v: serde_json::Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|_| panic!("{}{}", text(&out.stdout), text(&out.stderr)));
    (
        v["lines"].as_u64().unwrap_or(0),
        v["valid"].as_u64().unwrap_or(0),
        v["errors"].to_string(),
    )
}

#[test]
fn a_running_host_writes_valid_cloudevents() {
    let home = tempfile::tempdir().expect("home");
    let card = seed(&[
        Ente::new("hello", "chatty"),
        Ente::new("crasher", "hostile_trap")
            .env("TRAP", "start")
            .restart(20, 40),
    ]);
    let seed_path = home.path().join("seed.json");
    std::fs::write(&seed_path, serde_json::to_vec(&card).expect("json")).expect("seed");
    let file = home.path().join("events.jsonl");
    let file_arg = file.to_str().expect("utf-8");
    let mut up = Up::start_with(home.path(), &seed_path, &["--cloudevents", file_arg]);
    up.wait_for("crasher: failed");
    let (code, lines) = up.terminate();
    assert_eq!(code, Some(0), "{}", lines.join("\n"));
    let (n, valid, errors) = verdicts(&file);
    assert!(n > 10, "{n} events");
    assert_eq!(valid, n, "{errors}");
    let all = std::fs::read_to_string(&file).expect("read");
    for t in [
        "dev.ente.ente.ready.v1",
        "dev.ente.ente.start_failed.v1",
        "dev.ente.ente.failed.v1",
        "dev.ente.journal.line.v1",
        "dev.ente.host.shutdown_done.v1",
    ] {
        assert!(all.contains(&format!("\"type\":\"{t}\"")), "no {t}:\n{all}");
    }
}

/// `burst` journal events through a sink of `queue` lines; (written,
/// dropped as the sink's own events said), the file's lines all valid.
fn burst(burst: u64, queue: usize) -> (u64, u64) {
    let dir = tempfile::tempdir().expect("dir");
    let file = dir.path().join("burst.jsonl");
    let (sink, writer) = ente::cloudevents::open_bounded(
        &ente::cloudevents::Target::File(file.clone()),
        "01J00000000000000000000R00",
        queue,
    )
    .expect("sink");
    let spine = Spine::new(1024);
    spine.attach(Box::new(sink));
    let id = ulid::Ulid::from(7u128);
    for n in 0..burst {
        spine.emit(
            Some((id, "burst")),
            Kind::Journal {
                level: Level::Info,
                text: format!("line {n}"),
            },
        );
    }
    let written = writer.finish().expect("written");
    let all = std::fs::read_to_string(&file).expect("read");
    let dropped: u64 = all
        .lines()
        .filter(|l| l.contains("dev.ente.sink.dropped.v1"))
        .map(|l| {
            serde_json::from_str::<serde_json::Value>(l).expect("json")["data"]["dropped"]
                .as_u64()
                .expect("a count")
        })
        .sum();
    let (lines, valid, errors) = verdicts(&file);
    assert_eq!(valid, lines, "{errors}");
    (written, dropped)
}

#[test]
fn a_burst_of_100000_events_is_written_whole_or_its_losses_counted() {
    const BURST: u64 = 100_000;
    let (written, dropped) = burst(BURST, ente::cloudevents::QUEUE);
    assert_eq!(written + dropped, BURST, "every event written or counted");
    println!("burst of {BURST}: {written} written, {dropped} dropped and said");
    // A queue of one line: the writer cannot keep up, and what it lost is
    // counted in events of its own, never silently.
    let (written, dropped) = burst(20_000, 1);
    assert_eq!(written + dropped, 20_000, "every event written or counted");
    println!("queue of 1: {written} written, {dropped} dropped and said");
}
