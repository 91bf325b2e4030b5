//! `ente ctl` against a running `ente up`, every verb: status (the table,
//! one Ente, JSON), tree, logs, events (kept, and followed live), stop,
//! start, restart, spawn; a name no Ente has, a bad frame and no host at
//! all are clear errors with their exit codes; another user is refused
//! (by the socket's mode, and by SO_PEERCRED when the mode is loosened)
//! and the refusal is an event. Each operator's action is in the audit
//! chain.

use crate::cards::{ECHO, Ente, ROOT, seed};
use crate::support::{Up, ente_in, text};
use std::io::{BufRead, Read, Write};
use std::path::Path;
use std::time::{Duration, Instant};

fn ctl(home: &Path, args: &[&str]) -> (i32, String, String) {
    let mut all = vec!["ctl"];
    all.extend_from_slice(args);
    let out = ente_in(home, &all);
    (
        out.status.code().unwrap_or(-1),
        text(&out.stdout),
        text(&out.stderr),
    )
}

/// Ask `ctl status NAME` until its state line says `state` (or panic).
fn until_state(home: &Path, name: &str, state: &str) {
    let t0 = Instant::now();
    loop {
        let (_, out, _) = ctl(home, &["status", name]);
        if out.contains(&format!("state:     {state}")) {
            return;
        }
        assert!(
            t0.elapsed() < Duration::from_secs(30),
            "{name} never {state}: {out}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn every_verb_works_against_a_running_host() {
    let home = tempfile::tempdir().expect("home");
    let card = seed(&[
        Ente::new("hello", "chatty"),
        Ente::new("echo", "echo").provides(ECHO),
        Ente::new("caller", "client").requires(ECHO),
    ]);
    let seed_path = home.path().join("seed.json");
    std::fs::write(&seed_path, serde_json::to_vec(&card).expect("json")).expect("seed");
    let mut up = Up::start_with(home.path(), &seed_path, &["--metrics", "127.0.0.1:0"]);
    up.wait_for("graph settled");
    let h = home.path();

    let mode = std::os::unix::fs::PermissionsExt::mode(
        &std::fs::metadata(h.join("ctl.sock"))
            .expect("socket")
            .permissions(),
    );
    assert_eq!(mode & 0o777, 0o600, "the socket is the host user's alone");
    let (code, out, err) = ctl(h, &["status"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("hello") && out.contains("ready"), "{out}");
    let (code, out, _) = ctl(h, &["--json", "status", "hello"]);
    assert_eq!(code, 0);
    let row: serde_json::Value = serde_json::from_str(out.trim()).expect("one JSON row");
    assert_eq!(row["label"], "hello");
    assert_eq!(row["state"], "ready");
    let (_, out, _) = ctl(h, &["status", "hello"]);
    assert!(out.contains("  leases:    "), "{out}");
    let (_, out, _) = ctl(h, &["tree"]);
    assert!(
        out.starts_with("test-seed") && out.contains("\n  hello ("),
        "{out}"
    );
    let (_, out, _) = ctl(h, &["logs", "-n", "5", "hello"]);
    assert!(out.contains("[hello] info: hello on stdout"), "{out}");

    // Followed live: a restart's lines arrive while `events -f` runs.
    let mut follower = std::process::Command::new(env!("CARGO_BIN_EXE_ente"))
        .args(["ctl", "events", "-f"])
        .env("ENTE_HOME", h)
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("follower");
    let lines = std::io::BufReader::new(follower.stdout.take().expect("stdout"));
    let (code, out, err) = ctl(h, &["restart", "hello"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("done: restart hello"), "{out}");
    // Read on a thread: a follower that never shows the line fails the
    // test at its deadline instead of hanging it.
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in lines.lines().map_while(Result::ok) {
            let done = line.contains("operator (uid") && line.contains("restart hello");
            if tx.send(line).is_err() || done {
                return;
            }
        }
    });
    let mut seen = Vec::new();
    while let Ok(line) = rx.recv_timeout(Duration::from_secs(30)) {
        let done = line.contains("operator (uid") && line.contains("restart hello");
        seen.push(line);
        if done {
            break;
        }
    }
    let _ = follower.kill();
    let _ = follower.wait();
    assert!(
        seen.iter().any(|l| l.contains("restart hello")),
        "{seen:#?}"
    );

    // The restart's decisions are in the chain (its first commit, and its
    // key, follow within the commit's window).
    let t0 = Instant::now();
    loop {
        let (code, out, err) = ctl(h, &["audit", "verify"]);
        if code == 0 {
            assert!(out.contains("verified:"), "{out}");
            break;
        }
        assert!(t0.elapsed() < Duration::from_secs(10), "{err}");
        std::thread::sleep(Duration::from_millis(50));
    }
    let (code, _, err) = ctl(h, &["stop", "hello"]);
    assert_eq!(code, 0, "{err}");
    until_state(h, "hello", "stopped");
    let (code, _, err) = ctl(h, &["start", "hello"]);
    assert_eq!(code, 0, "{err}");
    until_state(h, "hello", "ready");
    let (code, _, err) = ctl(h, &["start", "hello"]);
    assert_eq!(code, 1);
    assert!(err.contains("is not stopped"), "{err}");

    let child = home.path().join("child.json");
    let spawned = serde_json::json!({
        "id": "01J0000000000000000000CT01", "label": "from-ctl",
        "provides": [], "requires": [{"kind": "Journal"}], "soma": {},
        "payload": {"kind": "Wasm", "module_blake3": crate::cards::digest_of_guest("chatty"), "entry": "ente:core/lifecycle"},
        "supervision": {"kind": "OneShot"}
    });
    std::fs::write(&child, spawned.to_string()).expect("card");
    let (code, out, err) = ctl(h, &["spawn", child.to_str().expect("utf-8")]);
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("spawn from-ctl 01J0000000000000000000CT01"),
        "{out}"
    );
    let (_, out, _) = ctl(h, &["status", "from-ctl"]);
    assert!(out.contains(&format!("parent:    {ROOT}")), "{out}");

    // A label an Ente chose reaches the operator's terminal escaped: no
    // escape sequence, no forged row.
    let evil = home.path().join("evil.json");
    let mut card = spawned.clone();
    card["id"] = "01J0000000000000000000CT02".into();
    card["label"] = "evil\u{1b}[2J\nforged-row ready".into();
    std::fs::write(&evil, card.to_string()).expect("card");
    let (code, _, err) = ctl(h, &["spawn", evil.to_str().expect("utf-8")]);
    assert_eq!(code, 0, "{err}");
    for args in [&["status"][..], &["tree"][..], &["events"][..]] {
        let (_, out, _) = ctl(h, args);
        assert!(!out.contains('\u{1b}'), "{args:?}: {out:?}");
        assert!(
            !out.lines().any(|l| l.starts_with("forged-row")),
            "{args:?}: {out}"
        );
    }
    let (_, out, _) = ctl(h, &["stop", "01J0000000000000000000CT02"]);
    assert!(out.contains("stopped and removed"), "{out}");

    let (code, _, err) = ctl(h, &["stop", "nosuch"]);
    assert_eq!(code, 1);
    assert!(
        err.contains("no Ente of this host has the id or label `nosuch`"),
        "{err}"
    );

    // A frame that claims 4 GiB: that connection is refused, the host
    // serves the next.
    let mut raw = std::os::unix::net::UnixStream::connect(h.join("ctl.sock")).expect("socket");
    raw.write_all(&ente_ctl::session_marker(5)).expect("write");
    raw.write_all(&u32::MAX.to_le_bytes()).expect("write");
    let mut answer = Vec::new();
    let _ = raw.read_to_end(&mut answer);
    assert!(
        answer.starts_with(&ente_ctl::session_marker(5)),
        "answered in its session: {answer:?}"
    );
    assert!(text(&answer).contains("more than"), "{answer:?}");
    // Bytes that are not a session at all: refused, unread.
    let mut raw = std::os::unix::net::UnixStream::connect(h.join("ctl.sock")).expect("socket");
    raw.write_all(b"GET / HTTP/1.1\r\n\r\n").expect("write");
    let mut answer = Vec::new();
    let _ = raw.read_to_end(&mut answer);
    assert!(
        answer.starts_with(&ente_ctl::session_marker(ente_ctl::UNREAD)),
        "{answer:?}"
    );
    assert!(text(&answer).contains("session marker"), "{answer:?}");
    let (code, _, _) = ctl(h, &["status"]);
    assert_eq!(code, 0, "the host serves on");

    let (code, _, err) = ctl(h, &["--socket", "/nonexistent/ctl.sock", "status"]);
    assert_eq!(code, 3);
    assert!(err.contains("no host answers"), "{err}");

    metrics_pass_promtool(h, &mut up);

    refused_to_others(h);

    let (code, lines) = up.terminate();
    assert_eq!(code, Some(0), "{}", lines.join("\n"));
    let out = ente_in(h, &["audit", "tail", "-n", "100000", "--json"]);
    let tail = text(&out.stdout);
    assert!(
        tail.contains("\"Operator\"") && tail.contains("restart hello"),
        "{tail}"
    );
    assert!(tail.contains("spawn from-ctl"), "{tail}");
}

/// Another user: the socket's mode refuses them; with the mode loosened,
/// SO_PEERCRED does, and the refusal is an event. Only as root (the test
/// must become another user).
fn refused_to_others(h: &Path) {
    // SAFETY: geteuid takes nothing and cannot fail.
    if unsafe { libc::geteuid() } != 0 {
        println!("not root: the refusal of another user is not tried here");
        return;
    }
    let socket = h.join("ctl.sock");
    let as_nobody = |socket: &Path| {
        std::process::Command::new("setpriv")
            .args(["--reuid=65534", "--regid=65534", "--clear-groups"])
            .arg(env!("CARGO_BIN_EXE_ente"))
            .args(["ctl", "--socket"])
            .arg(socket)
            .arg("status")
            .output()
            .expect("setpriv")
    };
    let out = as_nobody(&socket);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("is not yours"),
        "{}",
        text(&out.stderr)
    );
    std::fs::set_permissions(&socket, std::os::unix::fs::PermissionsExt::from_mode(0o666))
        .expect("loosen");
    // The home is root's: the socket must be reachable through it.
    std::fs::set_permissions(h, std::os::unix::fs::PermissionsExt::from_mode(0o755)).expect("home");
    let out = as_nobody(&socket);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("uid 65534 is neither this host's user"),
        "{}",
        text(&out.stderr)
    );
    let (_, events, _) = ctl(h, &["events"]);
    assert!(
        events.contains("the control socket refused pid"),
        "{events}"
    );
}

/// `promtool check metrics` on `text`: its complaints, if any.
fn promtool(text: &str) -> String {
    let mut child = std::process::Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("promtool (`just setup` installs Debian's prometheus, which ships it)");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(text.as_bytes())
        .expect("feed");
    let out = child.wait_with_output().expect("promtool");
    if out.status.success() {
        String::new()
    } else {
        text_of(&out)
    }
}

fn text_of(out: &std::process::Output) -> String {
    text(&out.stdout) + &text(&out.stderr)
}

/// The metrics, from `ente ctl metrics` and from the HTTP endpoint, name
/// the host's Entes and pass promtool.
fn metrics_pass_promtool(h: &Path, up: &mut Up) {
    let (code, text, err) = ctl(h, &["metrics"]);
    assert_eq!(code, 0, "{err}");
    assert!(text.contains("ente_state{ente="), "{text}");
    assert!(text.contains("label=\"hello\""), "{text}");
    assert!(text.contains("ente_leases_active"), "{text}");
    assert!(text.contains("ente_audit_entries"), "{text}");
    assert_eq!(promtool(&text), "", "{text}");
    // The caller's call to echo, in echo's latency histogram: in +Inf and
    // in the count, as many as echo served and failed.
    let echo_id = {
        let (_, out, _) = ctl(h, &["--json", "status", "echo"]);
        let row: serde_json::Value = serde_json::from_str(out.trim()).expect("echo's row");
        assert!(row["served"].as_u64() >= Some(1), "{row}");
        assert!(
            row["mem_bytes"].as_u64() >= Some(64 * 1024),
            "echo holds at least a page of linear memory: {row}"
        );
        let calls = row["served"].as_u64().unwrap_or(0) + row["failed"].as_u64().unwrap_or(0);
        (row["id"].as_str().unwrap_or_default().to_owned(), calls)
    };
    let sample = |name: &str| -> Option<f64> {
        text.lines()
            .find(|l| l.starts_with(name) && l.contains(&format!("ente=\"{}\"", echo_id.0)))
            .and_then(|l| l.rsplit(' ').next())
            .and_then(|v| v.parse().ok())
    };
    assert_eq!(
        sample("ente_call_duration_seconds_count"),
        Some(echo_id.1 as f64),
        "{text}"
    );
    assert!(
        text.lines()
            .any(|l| l.starts_with("ente_call_duration_seconds_bucket")
                && l.contains(&format!("ente=\"{}\"", echo_id.0))
                && l.contains("le=\"+Inf\"")
                && l.ends_with(&format!(" {}", echo_id.1))),
        "{text}"
    );
    assert!(
        sample("ente_memory_bytes").is_some_and(|b| b >= 65536.0),
        "{text}"
    );

    let line = up.wait_for("metrics: http://");
    let addr = line
        .split("http://")
        .nth(1)
        .and_then(|r| r.strip_suffix("/metrics"))
        .expect("the address");
    let mut conn = std::net::TcpStream::connect(addr).expect("connect");
    conn.write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
        .expect("ask");
    let mut answer = String::new();
    conn.read_to_string(&mut answer).expect("read");
    let (head, body) = answer.split_once("\r\n\r\n").expect("a head and a body");
    assert!(head.starts_with("HTTP/1.1 200 OK"), "{head}");
    assert!(body.contains("ente_calls_served_total"), "{body}");
    assert_eq!(promtool(body), "", "{body}");
    let mut conn = std::net::TcpStream::connect(addr).expect("connect");
    conn.write_all(b"GET /other HTTP/1.1\r\n\r\n").expect("ask");
    let mut answer = String::new();
    conn.read_to_string(&mut answer).expect("read");
    assert!(answer.starts_with("HTTP/1.1 404"), "{answer}");
}
