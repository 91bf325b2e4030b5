//! Journal spam: lines that try to forge another Ente's line or move the
//! cursor are shown escaped, a 40 MiB line is cut, and past the rate the
//! lines are counted, not kept; the host's memory does not follow.

use crate::fixture::{ECHO, Ente, Host, config, contained, endpoint, seed};
use std::time::{Duration, Instant};

#[test]
fn spam_is_escaped_cut_and_rate_bound() {
    let spam_ep = endpoint("spam");
    let spam = Ente::new("spam", "hostile_journal_spam")
        .provides(&spam_ep)
        .mem(512 << 20);
    let caller = Ente::new("caller", "client")
        .requires(ECHO)
        .requires(&spam_ep);
    let mut cfg = config();
    cfg.call_deadline = Duration::from_secs(30);
    let mut host = Host::start(
        seed(&[Ente::new("echo", "echo").provides(ECHO), spam, caller]),
        cfg,
    );
    host.settled();
    let first = host.journal("spam");
    assert_eq!(
        first,
        ["ok\\n  [echo] error: forged\\u{1b}[2J\\u{1b}[H"],
        "the forged line is one line, escaped"
    );
    let t0 = Instant::now();
    let answer = host
        .call_as("caller", &spam_ep, b"spam:100000")
        .expect("answers");
    contained("journal spam (200,000 lines and 3 of 40 MiB)", t0.elapsed());
    assert_eq!(answer, b"spammed 100000");
    let lines = host.journal("spam");
    // 200,003 lines were written: the burst was kept, the rest counted.
    assert!(lines.len() < 2000, "{} lines kept", lines.len());
    assert!(
        lines
            .iter()
            .all(|l| !l.contains('\n') && !l.contains('\x1b'))
    );
    assert!(
        lines.iter().all(|l| l.len() < 4200),
        "every kept line is cut"
    );
    let dropped = host
        .handles
        .read()
        .get(host.id("spam"))
        .map(|r| {
            r.counters
                .journal_dropped
                .load(std::sync::atomic::Ordering::Relaxed)
        })
        .unwrap_or(0);
    assert!(dropped > 190_000, "{dropped} lines counted as dropped");
    std::thread::sleep(Duration::from_millis(50));
    let _ = host.call_as("caller", &spam_ep, b"spam:0");
    let lines = host.journal("spam");
    assert!(
        lines.iter().any(|l| l.contains("journal lines dropped")),
        "the count is said when lines flow again"
    );
    assert_eq!(host.call_as("caller", ECHO, b"ok"), Ok(b"ok".to_vec()));
}
