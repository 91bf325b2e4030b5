//! The native bus under `ente up`: a shell script answers calls through
//! `ente serve` (a Wasm Ente calls it), another calls a Wasm Ente through
//! `ente call`, each as its own Ente; one that does not require the
//! endpoint is denied. Hostile peers: malformed, oversized and truncated
//! frames close their connection and nothing else; an Ente holds 16
//! connections at most; a process that is no Ente's is refused. A Legacy Ente is ready on sd_notify's `READY=1`,
//! ignores a `NOTIFY_SOCKET` message from outside its tree (a flood of them
//! is held to a rate of events, the rest counted), and dies of a
//! missed watchdog, then is restarted.

use crate::fixture::ROOT;
use crate::native_entes::{native_card, restart, started_pid};
use crate::support::{Up, seed_with, wasm_card};
use serde_json::{Value, json};

const ECHO: &str = "6563686f2d656e64706f696e742d7631";
const GREETER: &str = "6772656574696e672d656e64706f2d31";

fn endpoint(iface: &str) -> Value {
    json!({"kind": "Endpoint", "endpoint_interface": iface, "endpoint_version": 1})
}

/// The seed, with the greeter's endpoint among what the root provides.
fn seed(children: Vec<Value>) -> Value {
    let mut seed = seed_with(ROOT, children);
    seed["provides"]
        .as_array_mut()
        .expect("provides")
        .push(endpoint(GREETER));
    seed
}

fn echo_card() -> Value {
    wasm_card(
        "01J000000000000000000000E1",
        ROOT,
        "echo",
        "echo",
        json!([endpoint(ECHO)]),
        json!([{"kind": "Journal"}]),
        json!([]),
    )
}

fn greeter_card() -> Value {
    let mut greeter = native_card(
        "01J00000000000000000000GR1",
        "greeter",
        r#"exec "$ENTE" serve --ready -- /bin/sh -c 'printf "hello, %s (asked by %s)" "$(cat)" "$ENTE_CALLER"'"#,
        json!({}),
        restart(100),
    );
    greeter["provides"] = json!([endpoint(GREETER)]);
    greeter
}

#[test]
fn native_programs_call_and_serve_on_the_bus_as_their_ente() {
    let home = tempfile::tempdir().expect("home");
    let mut ticker = wasm_card(
        "01J000000000000000000000T1",
        ROOT,
        "ticker",
        "client",
        json!([]),
        json!([{"kind": "Journal"}, endpoint(GREETER)]),
        json!([{"TARGET": format!("{GREETER}@1")}, {"EVERY_MS": "300"}, {"GREETING": "wasm"}]),
    );
    ticker["supervision"] = restart(100);
    let call = format!(
        r#"echo >&3; while :; do "$ENTE" call {ECHO}@1 "sh says hi"; echo; sleep 0.3; done"#
    );
    let mut caller = native_card(
        "01J00000000000000000000CA1",
        "caller",
        &call,
        json!({}),
        restart(100),
    );
    caller["requires"] = json!([{"kind": "Journal"}, endpoint(ECHO)]);
    let sneaky = native_card(
        "01J00000000000000000000SN1",
        "sneaky",
        &call,
        json!({}),
        restart(100),
    );
    let seed = seed(vec![echo_card(), greeter_card(), caller, sneaky, ticker]);
    let file = home.path().join("seed.json");
    std::fs::write(&file, serde_json::to_vec(&seed).expect("json")).expect("write");
    let mut up = Up::start(home.path(), &file);
    // Native to Wasm, as the caller's own Ente.
    up.wait_for("[caller] info: sh says hi");
    // Wasm to native: the ticker's call reaches the shell through the shim.
    let reply =
        up.wait_for("[ticker] info: reply: hello, wasm (asked by 01J000000000000000000000T1)");
    assert!(reply.contains("hello, wasm"), "{reply}");
    // A program whose card does not require the endpoint is denied by the
    // mediator, as its Ente: it cannot borrow another's rights.
    let denied = up.wait_for("[sneaky] warn: ente call");
    assert!(denied.contains("denied"), "{denied}");
    let (code, lines) = up.terminate();
    assert_eq!(code, Some(0), "{}", lines.join("\n"));
    assert!(
        !lines.iter().any(|l| l.contains("RESIDUE")),
        "{}",
        lines.join("\n")
    );
}

#[test]
fn hostile_peers_and_notify_messages_are_contained_and_a_missed_watchdog_is_a_death() {
    let home = tempfile::tempdir().expect("home");
    let dir = tempfile::Builder::new()
        .prefix("ente-native-")
        .tempdir()
        .expect("scripts");
    // The programs run as uids of their own: their scripts must be readable.
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).expect("chmod");
    let rogue = dir.path().join("rogue.py");
    std::fs::write(
        &rogue,
        format!(
            r#"import os, socket, struct, subprocess, time
path = os.environ["ENTE_BUS"]
def send(data, wait=0.2):
    s = socket.socket(socket.AF_UNIX)
    s.connect(path)
    s.sendall(data)
    time.sleep(wait)
    s.close()
send(struct.pack("<I", 3) + b"\xff\xff\xff")
send(struct.pack("<I", 0xfffffff0))
send(struct.pack("<I", 100) + b"\0" * 10, 0)
held = []
for i in range(17):
    s = socket.socket(socket.AF_UNIX)
    s.connect(path)
    held.append(s)
time.sleep(0.3)
for s in held:
    s.close()
time.sleep(0.3)
r = subprocess.run([os.environ["ENTE"], "call", "{ECHO}@1", "still here"], capture_output=True)
print("after the bad frames:", r.stdout.decode(), r.stderr.decode().strip(), flush=True)
os.write(3, b"\n")
time.sleep(1000)
"#
        ),
    )
    .expect("rogue");
    let legacy = dir.path().join("legacyd.py");
    std::fs::write(
        &legacy,
        r#"import os, socket, time
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
addr = os.environ["NOTIFY_SOCKET"]
s.sendto(b"STATUS=warming up\nMAINPID=%d" % os.getpid(), addr)
s.sendto(b"MAINPID=1", addr)
time.sleep(0.3)
s.sendto(b"READY=1", addr)
for i in range(10):
    time.sleep(0.1)
    s.sendto(b"WATCHDOG=1", addr)
print("legacyd stops feeding its watchdog", flush=True)
time.sleep(1000)
"#,
    )
    .expect("legacyd");
    for f in [&rogue, &legacy] {
        std::fs::set_permissions(f, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    }
    let mut rogue_card = native_card(
        "01J00000000000000000000RG1",
        "rogue",
        "",
        json!({}),
        restart(100),
    );
    rogue_card["payload"] = json!({"kind": "Native", "exec": "/usr/bin/python3", "argv": [rogue]});
    rogue_card["requires"] = json!([{"kind": "Journal"}, endpoint(ECHO)]);
    let legacy_card = json!({
        "id": "01J00000000000000000000EG1", "lineage": ROOT, "label": "legacyd",
        "provides": [], "requires": [{"kind": "Journal"}], "soma": {},
        "payload": {"kind": "Legacy", "exec": "/usr/bin/python3", "argv": [legacy],
                    "envp": [{"WATCHDOG_USEC": "500000"}], "fakes": ["SystemdNotify", "SystemdLogind"]},
        "supervision": {"kind": "Restart", "initial_ms": 3000, "max_ms": 3000}
    });
    let seed = seed(vec![echo_card(), greeter_card(), rogue_card, legacy_card]);
    let file = home.path().join("seed.json");
    std::fs::write(&file, serde_json::to_vec(&seed).expect("json")).expect("write");
    let mut up = Up::start(home.path(), &file);
    let up_pid = up.child.id();
    let run = std::env::temp_dir().join(format!("ente-{up_pid}"));

    // Each bad frame closes its own connection, with the reason.
    up.wait_for("connection closed: the frame does not decode");
    up.wait_for("connection closed: a frame of 4294967280 bytes is larger than");
    up.wait_for("connection closed: the frame ended after 10 of its 100 bytes");
    // One Ente holds 16 connections at most; the 17th is refused.
    up.wait_for("`rogue` holds 16 connections already, its most");
    // ... and the same program's next connection is served.
    up.wait_for("[rogue] info: after the bad frames: still here");

    // A process that is no Ente's (this test) is refused, by name of pid.
    up.wait_for("greeter: ready");
    let mut outsider = ente_client::Client::connect_to(&run.join("bus.sock")).expect("connect");
    let refused = outsider.call(ECHO, 1, b"let me in").expect_err("refused");
    assert!(
        refused.to_string().contains("no native Ente's process"),
        "{refused}"
    );
    up.wait_for(&format!(
        "native bus: refused pid {}: it is no native Ente's process",
        std::process::id()
    ));

    // A Legacy Ente: ready on READY=1; a message from outside its tree
    // (this test) is ignored; MAINPID outside its tree is refused.
    let soma = up.wait_for("legacyd: pid ");
    assert!(soma.contains("fake SystemdLogind: not served"), "{soma}");
    let legacy_pid = started_pid(&soma);
    let socket = run.join("notify-01J00000000000000000000EG1.sock");
    let s = std::os::unix::net::UnixDatagram::unbound().expect("datagram");
    s.send_to(b"READY=1", &socket).expect("send");
    up.wait_for("NOTIFY_SOCKET: a message from pid");
    // A flood of them is held to the bus's rate of events, and counted.
    for _ in 0..200 {
        let _ = s.send_to(b"READY=1", &socket);
    }
    std::thread::sleep(std::time::Duration::from_millis(600));
    // The socket is made again when legacyd restarts (its watchdog may
    // have ended it meanwhile on a slow machine): send until one lands.
    let t0 = std::time::Instant::now();
    while let Err(e) = s.send_to(b"READY=1", &socket) {
        assert!(t0.elapsed().as_secs() < 10, "send: {e}");
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let counted = up.wait_for("more such events were not shown");
    assert!(counted.contains("NOTIFY_SOCKET"), "{counted}");
    up.wait_for("[legacyd] warn: sd_notify: MAINPID=1 refused");
    up.wait_for("legacyd: ready");
    // It stops feeding its watchdog: a death with that cause, a restart.
    up.wait_for("[legacyd] info: legacyd stops feeding its watchdog");
    let died = up.wait_for("legacyd: its body ended: sent no WATCHDOG=1 within 500ms");
    assert!(died.contains("500ms"), "{died}");
    let backoff = up.wait_for("legacyd: backing off: restart 1");
    assert!(backoff.contains("WATCHDOG"), "{backoff}");
    let torn = up.wait_for("legacyd: teardown:");
    assert!(
        torn.contains(&format!("pid {legacy_pid}")) && torn.contains("no process left"),
        "{torn}"
    );

    // The host and the others answered through it all.
    up.wait_for("greeter: ready");
    let (code, lines) = up.terminate();
    let all = lines.join("\n");
    assert_eq!(code, Some(0), "{all}");
    assert!(!all.contains("RESIDUE"), "{all}");
    assert!(
        !run.exists(),
        "the runtime directory {} was left",
        run.display()
    );
}
