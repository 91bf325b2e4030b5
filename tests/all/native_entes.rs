//! Native Entes under `ente up`: a shell script runs behind the shim under
//! its soma (its own uid, rlimits, cgroup leaves), is ready when it writes
//! its readiness fd, is restarted with backoff when killed by hand, and at
//! stop leaves nothing: no process, no cgroup, said by its teardown report.

use crate::fixture::ROOT;
use crate::support::{Up, seed_with, wasm_card};
use serde_json::{Value, json};

/// A native card running `/bin/sh -c SCRIPT`.
pub fn native_card(id: &str, label: &str, script: &str, soma: Value, supervision: Value) -> Value {
    json!({
        "id": id, "lineage": ROOT, "label": label,
        "provides": [], "requires": [{"kind": "Journal"}], "soma": soma,
        "payload": {"kind": "Native", "exec": "/bin/sh", "argv": ["-c", script]},
        "supervision": supervision
    })
}

pub fn restart(initial_ms: u64) -> Value {
    json!({"kind": "Restart", "initial_ms": initial_ms, "max_ms": 2000})
}

/// The pid in a `LABEL: pid N started; soma applied: ...` line.
pub fn started_pid(line: &str) -> i32 {
    line.split("pid ")
        .nth(1)
        .and_then(|rest| rest.split(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no pid in {line:?}"))
}

/// The uid a process runs as (`/proc/PID/status`).
fn uid_of(pid: i32) -> Option<u32> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("Uid:"))
        .and_then(|ids| ids.split_whitespace().next())
        .and_then(|u| u.parse().ok())
}

/// The cgroup paths a teardown report says it removed.
pub fn removed_cgroups(report: &str) -> Vec<String> {
    report
        .split("cgroups removed: ")
        .nth(1)
        .map(|paths| paths.split(", ").map(|p| p.trim().to_owned()).collect())
        .unwrap_or_default()
}

/// In namespaces of its own: pid 1, root of its user namespace, only a
/// loopback interface. As its pid namespace's init it gets only the
/// signals it handles: it handles SIGTERM.
const BOXED: &str = "trap 'exit 0' TERM; echo \"boxed: pid $$, uid $(id -u), $(tail -n +3 /proc/net/dev | cut -d: -f1 | tr -d ' ' | tr '\\n' ' ')\"; echo >&3; while :; do sleep 1 & wait $!; done";

pub fn is_root() -> bool {
    nix::unistd::geteuid().is_root()
}

#[test]
fn a_native_ente_runs_under_its_soma_restarts_when_killed_and_leaves_nothing_at_stop() {
    let home = tempfile::tempdir().expect("home");
    let script = "echo \"hello from $ENTE_LABEL as $(id -u), $(grep NoNewPrivs /proc/self/status | tr -d '\\t')\"; echo >&3; while :; do sleep 1; done";
    let seed = seed_with(
        ROOT,
        vec![
            wasm_card(
                "01J000000000000000000000C1",
                ROOT,
                "chatty",
                "chatty",
                json!([]),
                json!([{"kind": "Journal"}]),
                json!([]),
            ),
            native_card(
                "01J00000000000000000000NA1",
                "looper",
                script,
                json!({"rlimits": {"nproc": 16, "nofile": 64}, "cpu_affinity": [0]}),
                restart(100),
            ),
            native_card(
                "01J00000000000000000000NB1",
                "boxed",
                BOXED,
                json!({"namespaces": {"user": true, "mount": true, "pid": true, "net": true, "uts": true, "ipc": true}}),
                restart(100),
            ),
        ],
    );
    let file = home.path().join("seed.json");
    std::fs::write(&file, serde_json::to_vec(&seed).expect("json")).expect("write");
    let mut up = Up::start(home.path(), &file);
    let soma = up.wait_for("looper: pid ");
    let pid = started_pid(&soma);
    assert!(
        soma.contains("RLIMIT_NPROC=16") && soma.contains("RLIMIT_NOFILE=64"),
        "{soma}"
    );
    assert!(soma.contains("cpu_affinity=[0]"), "{soma}");
    let hello = up.wait_for("[looper] info: hello from looper as");
    // No setuid program can raise it: no_new_privs is set.
    assert!(hello.contains("NoNewPrivs:1"), "{hello}");
    assert!(soma.contains("no_new_privs"), "{soma}");
    up.wait_for("looper: ready");
    let boxed = up.wait_for("boxed: pid ");
    assert!(
        boxed.contains("namespaces user, mount, pid, net, uts, ipc"),
        "the namespaces it asked for were applied: {boxed}"
    );
    let inside = up.wait_for("[boxed] info: boxed:");
    assert!(inside.contains("boxed: pid 1, uid 0, lo"), "{inside}");
    up.wait_for("boxed: ready");
    if is_root() {
        // Root ignores RLIMIT_NPROC: a native Ente runs as a uid of its own.
        let uid = uid_of(pid).expect("the program runs");
        assert!((61184..=65519).contains(&uid), "runs as uid {uid}");
        assert!(soma.contains(&format!("uid {uid} gid {uid}")), "{soma}");
        assert!(
            soma.contains("pids.max=16"),
            "the pids cgroup takes nproc: {soma}"
        );
    }

    // Killed by hand: a death with its signal, a restart with its backoff.
    let mark = up.mark();
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(pid),
        nix::sys::signal::Signal::SIGKILL,
    )
    .expect("kill the program");
    let died = up.wait_after(mark, "looper: its body ended");
    assert!(died.contains("was killed by SIGKILL"), "{died}");
    let backoff = up.wait_after(mark, "looper: backing off: restart 1 in");
    assert!(backoff.contains("SIGKILL"), "{backoff}");
    let torn = up.wait_after(mark, "looper: teardown:");
    assert!(torn.contains("no process left"), "{torn}");
    let again = up.wait_after(mark, "looper: pid ");
    assert_ne!(started_pid(&again), pid, "a new process");
    up.wait_after(mark, "looper: ready");

    let (code, lines) = up.terminate();
    assert_eq!(code, Some(0), "{}", lines.join("\n"));
    let reports: Vec<&String> = lines
        .iter()
        .filter(|l| l.contains("looper: teardown:"))
        .collect();
    let last = reports.last().expect("a teardown report at stop");
    assert!(
        last.contains("SIGTERM") && last.contains("no process left"),
        "{last}"
    );
    assert!(
        !lines.iter().any(|l| l.contains("RESIDUE")),
        "{}",
        lines.join("\n")
    );
    for path in removed_cgroups(last) {
        assert!(!std::path::Path::new(&path).exists(), "{path} was left");
    }
    if is_root() {
        assert!(
            !removed_cgroups(last).is_empty(),
            "root gets cgroup leaves: {last}"
        );
    }
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("chatty") && l.contains("ready")),
        "the Wasm Ente ran beside it: {}",
        lines.join("\n")
    );
}

#[test]
fn only_the_shim_is_linked_with_the_process_interface_a_card_cannot_grant_it() {
    use crate::support::{ente_in, guest, text};
    let home = tempfile::tempdir().expect("home");
    // The shim's own component, pinned as a Wasm card's payload.
    let mut card = wasm_card(
        "01J00000000000000000000SH1",
        ROOT,
        "posing",
        "shim",
        json!([]),
        json!([{"kind": "Journal"}, {"kind": "Spawn"}, {"kind": "FilesystemRoot"}]),
        json!([]),
    );
    card["supervision"] = json!({"kind": "OneShot"});
    let seed = seed_with(ROOT, vec![card]);
    let file = home.path().join("seed.json");
    std::fs::write(&file, serde_json::to_vec(&seed).expect("json")).expect("write");
    let shim = guest("shim");
    let shim = shim.to_str().expect("path");
    let added = ente_in(home.path(), &["cas", "add", shim]);
    assert!(added.status.success(), "{}", text(&added.stderr));
    let file_arg = file.to_str().expect("path");
    let checked = ente_in(home.path(), &["check", "--graph", file_arg]);
    let out = text(&checked.stdout) + &text(&checked.stderr);
    assert!(!checked.status.success(), "{out}");
    assert!(out.contains("ente:native/process@0.1.0"), "{out}");
    assert!(out.contains("only the native shim"), "{out}");
    // The same from the command line, with every grant there is.
    let run = ente_in(
        home.path(),
        &[
            "run",
            shim,
            "--grant",
            "Journal",
            "--grant",
            "Spawn",
            "--grant",
            "FilesystemRoot",
        ],
    );
    let out = text(&run.stdout) + &text(&run.stderr);
    assert!(!run.status.success(), "{out}");
    assert!(
        out.contains("ente:native/process@0.1.0") && out.contains("only the native shim"),
        "{out}"
    );
}
