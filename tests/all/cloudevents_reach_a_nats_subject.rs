//! CloudEvents to NATS (feature `nats`), against a real nats-server
//! (Debian's; `just setup` installs it): a running host's events arrive on
//! `<prefix>.<type>`, each valid against the CloudEvents schema; a burst of
//! 100,000 reaches a subscriber whole or its losses are counted; a server
//! that goes away mid-run never holds the host's end; an unreachable
//! server and a bad subject are refused at start, by name.

use crate::cards::{Ente, seed};
use crate::cloudevents_are_valid_and_never_silently_lost::verdicts;
use crate::support::{Up, ente_in, text};
use ente_core::{Kind, Level, Spine};
use std::sync::mpsc::{Receiver, channel};
use std::time::Duration;

/// A nats-server of this test's own, on a free port; killed when dropped.
struct Server {
    child: std::process::Child,
    url: String,
}

impl Server {
    fn start() -> Server {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        // Debian's is in /usr/sbin, which a user's PATH may lack.
        let program = ["/usr/sbin/nats-server", "/usr/bin/nats-server"]
            .into_iter()
            .find(|p| std::path::Path::new(p).exists())
            .unwrap_or("nats-server");
        let child = std::process::Command::new(program)
            .args(["-a", "127.0.0.1", "-p", &port.to_string()])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("nats-server (`just setup` installs Debian's nats-server)");
        let t0 = std::time::Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                t0.elapsed() < Duration::from_secs(20),
                "nats-server never listened"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        Server {
            child,
            url: format!("nats://127.0.0.1:{port}"),
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Subscribe to `subject` (subscribed once this returns); each message as
/// (subject, payload) until the channel has been quiet for `quiet`.
fn subscribe(url: &str, subject: &str, quiet: Duration) -> Receiver<(String, String)> {
    let (tx, rx) = channel();
    let (ready_tx, ready) = channel();
    let (url, subject) = (url.to_owned(), subject.to_owned());
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        rt.block_on(async move {
            use futures_util::StreamExt;
            let client = async_nats::ConnectOptions::new()
                .subscription_capacity(1 << 18)
                .connect(&url)
                .await
                .expect("subscriber connects");
            let mut sub = client.subscribe(subject).await.expect("subscribe");
            client.flush().await.expect("the SUB reached the server");
            let _ = ready_tx.send(());
            while let Ok(Some(m)) = tokio::time::timeout(quiet, sub.next()).await {
                let payload = String::from_utf8_lossy(&m.payload).into_owned();
                if tx.send((m.subject.to_string(), payload)).is_err() {
                    return;
                }
            }
        });
    });
    ready.recv().expect("the subscriber is ready");
    rx
}

#[test]
fn a_running_host_publishes_valid_cloudevents_on_a_subject_per_type() {
    let server = Server::start();
    let got = subscribe(&server.url, "ente.t1.>", Duration::from_secs(3));
    let home = tempfile::tempdir().expect("home");
    let card = seed(&[
        Ente::new("hello", "chatty"),
        Ente::new("crasher", "hostile_trap")
            .env("TRAP", "start")
            .restart(20, 40),
    ]);
    let seed_path = home.path().join("seed.json");
    std::fs::write(&seed_path, serde_json::to_vec(&card).expect("json")).expect("seed");
    let args = [
        "--cloudevents-nats",
        &server.url,
        "--cloudevents-subject",
        "ente.t1",
    ];
    let mut up = Up::start_with(home.path(), &seed_path, &args);
    up.wait_for("crasher: failed");
    let (code, lines) = up.terminate();
    assert_eq!(code, Some(0), "{}", lines.join("\n"));
    let messages: Vec<(String, String)> = got.iter().collect();
    assert!(messages.len() > 10, "{} events", messages.len());
    for (subject, payload) in &messages {
        let event: serde_json::Value = serde_json::from_str(payload).expect("JSON");
        let ty = event["type"].as_str().expect("a type");
        assert_eq!(subject, &format!("ente.t1.{ty}"), "published on its type");
    }
    let file = home.path().join("from-nats.jsonl");
    let all: String = messages.iter().map(|(_, p)| format!("{p}\n")).collect();
    std::fs::write(&file, &all).expect("write");
    let (n, valid, errors) = verdicts(&file);
    assert_eq!(n, messages.len() as u64);
    assert_eq!(valid, n, "{errors}");
    for t in [
        "dev.ente.ente.ready.v1",
        "dev.ente.ente.failed.v1",
        "dev.ente.journal.line.v1",
        "dev.ente.host.shutdown_done.v1",
    ] {
        assert!(all.contains(&format!("\"type\":\"{t}\"")), "no {t}");
    }
}

/// `n` journal events through a NATS sink; (written, dropped as said).
fn emit(sink: ente::cloudevents::Sink, n: u64, from: u64) -> Spine {
    let spine = Spine::new(1024);
    spine.attach(Box::new(sink));
    let id = ulid::Ulid::from(9u128);
    for i in from..from + n {
        spine.emit(
            Some((id, "burst")),
            Kind::Journal {
                level: Level::Info,
                text: format!("line {i}"),
            },
        );
    }
    spine
}

fn nats_target(url: &str, subject: &str) -> ente::cloudevents::Target {
    ente::cloudevents::Target::Nats {
        url: url.to_owned(),
        subject: subject.to_owned(),
    }
}

#[test]
fn a_burst_of_100000_reaches_a_subscriber_whole_or_its_losses_are_counted() {
    const BURST: u64 = 100_000;
    let server = Server::start();
    let got = subscribe(&server.url, "ente.burst.>", Duration::from_secs(5));
    let (sink, writer) = ente::cloudevents::open(
        &nats_target(&server.url, "ente.burst"),
        "01J00000000000000000000R00",
    )
    .expect("sink");
    let _spine = emit(sink, BURST, 0);
    let written = writer.finish().expect("written");
    let (mut lines, mut said_dropped) = (0u64, 0u64);
    for (subject, payload) in got.iter() {
        if subject == "ente.burst.dev.ente.sink.dropped.v1" {
            let v: serde_json::Value = serde_json::from_str(&payload).expect("json");
            said_dropped += v["data"]["dropped"].as_u64().expect("a count");
        } else {
            lines += 1;
        }
    }
    assert_eq!(
        lines, written,
        "every line the sink wrote reached the subscriber"
    );
    assert_eq!(
        written + said_dropped,
        BURST,
        "written, or counted and said"
    );
    println!("NATS burst of {BURST}: {written} published, {said_dropped} dropped and said");
}

#[test]
fn a_nats_server_gone_mid_run_never_holds_the_hosts_end() {
    let mut server = Server::start();
    let (sink, writer) = ente::cloudevents::open(
        &nats_target(&server.url, "ente.gone"),
        "01J00000000000000000000R00",
    )
    .expect("sink");
    let spine = emit(sink, 100, 0);
    let _ = server.child.kill();
    let _ = server.child.wait();
    for i in 0..1000 {
        spine.emit(
            None,
            Kind::Journal {
                level: Level::Info,
                text: format!("after {i}"),
            },
        );
    }
    let (tx, rx) = channel();
    std::thread::spawn(move || {
        let _ = tx.send(writer.finish());
    });
    let finished = rx
        .recv_timeout(Duration::from_secs(60))
        .expect("the writer's end does not wait for a server that is gone");
    let written = finished.expect("a lost server is a count, not a failure");
    assert!(
        written < 1100,
        "what the server never took is not counted as written: {written}"
    );
}

#[test]
fn an_unreachable_server_and_a_bad_subject_are_refused_at_start() {
    let home = tempfile::tempdir().expect("home");
    let seed_path = home.path().join("seed.json");
    let card = seed(&[Ente::new("hello", "chatty")]);
    std::fs::write(&seed_path, serde_json::to_vec(&card).expect("json")).expect("seed");
    let seed_arg = seed_path.to_str().expect("utf-8");
    let out = ente_in(
        home.path(),
        &["up", seed_arg, "--cloudevents-nats", "nats://127.0.0.1:1"],
    );
    assert!(!out.status.success());
    let err = text(&out.stderr);
    assert!(
        err.contains("--cloudevents-nats nats://127.0.0.1:1"),
        "{err}"
    );
    let out = ente_in(
        home.path(),
        &[
            "up",
            seed_arg,
            "--cloudevents-nats",
            "nats://127.0.0.1:1",
            "--cloudevents-subject",
            "ente.*",
        ],
    );
    assert_eq!(out.status.code(), Some(2), "a usage error");
    let err = text(&out.stderr);
    assert!(
        err.contains("`ente.*` is not a subject to publish under"),
        "{err}"
    );
}
