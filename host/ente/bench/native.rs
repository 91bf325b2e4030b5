//! The native half of `just bench`, each against a raw baseline measured in
//! the same run:
//!
//! - native_spawn_to_ready: a native Ente restarted, from `starting` to
//!   `ready` (the shim made, the program started under its soma in its own
//!   cgroup leaf, its line read from fd 3), against `std::process::Command`
//!   starting the same program and reading the same line (goal: at most 2);
//! - reap_and_account: exited processes reaped and mapped to their Entes,
//!   a second, against a bare `waitpid` loop (goal: at least 200,000/s);
//! - native_invoke: a call to a native Ente (the bus, the shim, the native
//!   bus's socket, the program's answer) against the same frames to a
//!   process over a Unix socket pair.

use crate::graph::{Running, id, mediator, seed, wasm};
use ente_client::{Down, Up, read_frame, write_frame};
use ente_core::{Config, ExitSink, Kind, Phase, Proc, Procs};
use serde_json::json;
use std::io::Read;
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

const ROUNDS: usize = 41;

/// `ente-bench --raw-echo`: the raw baseline's other end, on fd 3.
pub fn raw_echo() -> std::process::ExitCode {
    use std::os::fd::FromRawFd;
    // SAFETY: fd 3 is the socket the bench gave this process, owned here.
    let mut s = unsafe { UnixStream::from_raw_fd(3) };
    while let Ok(Down::Deliver { id, body, .. }) = read_frame::<Down>(&mut s) {
        if write_frame(
            &mut s,
            &Up::Answer {
                id,
                result: Ok(body),
            },
        )
        .is_err()
        {
            break;
        }
    }
    std::process::ExitCode::SUCCESS
}

/// `ente-bench --native-echo`: the program of the native_invoke Ente.
pub fn serve_echo() -> std::process::ExitCode {
    let served = ente_client::Client::connect().and_then(|c| {
        c.serve(
            || {
                // SAFETY: one byte from a static buffer to the readiness fd.
                unsafe { libc::write(3, b"\n".as_ptr().cast(), 1) };
            },
            |r| Ok(r.body),
        )
    });
    match served {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("ente-bench --native-echo: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}

fn native(
    n: u128,
    label: &str,
    exec: &str,
    argv: &[&str],
    provides: serde_json::Value,
) -> serde_json::Value {
    json!({
        "id": id(n).to_string(), "lineage": id(0).to_string(), "label": label,
        "provides": provides, "requires": [{"kind": "Journal"}], "soma": {"rlimits": {"nproc": 64}},
        "payload": {"kind": "Native", "exec": exec, "argv": argv},
        "supervision": {"kind": "Restart", "initial_ms": 0, "max_ms": 0}
    })
}

fn config() -> Config {
    Config {
        start_limit: ente_core::StartLimit {
            burst: u32::MAX,
            interval: Duration::from_secs(1),
        },
        spine_ring: 1 << 16,
        ..Config::default()
    }
}

const SCRIPT: &str = "echo >&3; exec sleep 1000";

pub fn run(
    home: &Path,
    med: &str,
    client: &str,
    results: &mut serde_json::Map<String, serde_json::Value>,
) -> Result<(), Box<dyn std::error::Error>> {
    // A native Ente's body is the shim.
    ente_runtime::Cas::new(home).add_file(Path::new("target/guests/shim.wasm"))?;
    // native_spawn_to_ready
    let s = seed(vec![
        mediator(med),
        native(2, "sleeper", "/bin/sh", &["-c", SCRIPT], json!([])),
    ]);
    let (mut running, _) = Running::start_reaping(home, &s, config())?;
    let soma = running
        .until(Duration::from_secs(60), |e| {
            matches!(e.kind, Kind::Soma { .. })
        })
        .map_err(|e| format!("native_spawn_to_ready, the first start: {e}"))?;
    let mut pid = match soma.kind {
        Kind::Soma { pid, .. } => pid,
        _ => 0,
    };
    running.until(Duration::from_secs(30), |e| ready(e, 2))?;
    let (mut ente, mut raw) = (Vec::new(), Vec::new());
    for _ in 0..ROUNDS {
        // SAFETY: kill(2) of the program this bench's host started.
        unsafe { libc::kill(pid, libc::SIGKILL) };
        let starting = running
            .until(Duration::from_secs(10), |e| {
                is(e, 2)
                    && matches!(
                        e.kind,
                        Kind::State {
                            to: Phase::Starting,
                            ..
                        }
                    )
            })
            .map_err(|e| format!("native_spawn_to_ready, a restart: {e}"))?;
        let soma = running.until(Duration::from_secs(10), |e| {
            is(e, 2) && matches!(e.kind, Kind::Soma { .. })
        })?;
        if let Kind::Soma { pid: p, .. } = soma.kind {
            pid = p;
        }
        let ready = running.until(Duration::from_secs(10), |e| ready(e, 2))?;
        ente.push(ready.at.saturating_sub(starting.at).as_nanos() as f64);
        raw.push(raw_spawn_to_ready()?);
    }
    drop(running);
    let (e, r) = (crate::median(ente), crate::median(raw));
    report(results, "native_spawn_to_ready", e, r, "goal at most 2");

    // reap_and_account
    let (ente_rate, raw_rate) = reap_and_account(1000, 5)?;
    println!(
        "{:<26} {ente_rate:>10.0}/s {raw_rate:>10.0}/s {:>7.2}  (reaped and mapped to Entes, against bare waitpid; goal at least 200000/s)",
        "reap_and_account",
        ente_rate / raw_rate
    );
    results.insert(
        "reap_and_account".into(),
        json!({"per_s": ente_rate.round(), "raw_per_s": raw_rate.round(), "ratio": (ente_rate / raw_rate * 1000.0).round() / 1000.0, "goal_per_s": 200_000}),
    );

    // native_invoke
    let exe = std::env::current_exe()?;
    let exe = exe.to_str().ok_or("the bench's path is not UTF-8")?;
    let ep = crate::graph::endpoint(7);
    let mut echo = native(
        4,
        "native-echo",
        exe,
        &["--native-echo"],
        json!([{"kind": "Endpoint", "endpoint_interface": ep, "endpoint_version": 1}]),
    );
    echo["soma"]["cpu_affinity"] = json!([0]);
    let s = seed(vec![
        mediator(med),
        echo,
        wasm(
            5,
            "caller",
            client,
            json!([]),
            json!([{"kind": "Journal"}, {"kind": "Endpoint", "endpoint_interface": ep, "endpoint_version": 1}]),
            json!([{"TARGET": format!("{ep}@1")}]),
            json!({"kind": "OneShot"}),
        ),
    ]);
    let (mut running, _) = Running::start_reaping(home, &s, config())?;
    running
        .until(Duration::from_secs(60), |e| {
            matches!(e.kind, Kind::Settled { .. })
        })
        .map_err(|e| format!("native_invoke, the graph: {e}"))?;
    let target = ente_card::Endpoint {
        interface: ep,
        version: 1,
    };
    let body = [7u8; 64];
    let bus = running.handles.bus.clone();
    let reply = bus
        .invoke(id(5), &target, &body)
        .map_err(|e| format!("native_invoke: {e}"))?;
    if reply != body {
        return Err(format!(
            "native_invoke: the echo answered {} bytes, not the 64 sent",
            reply.len()
        )
        .into());
    }
    // Both echoes and the calling thread share cpu 0: a wake-up on another
    // core costs this VM tens of microseconds, and would decide the ratio.
    pin_to_cpu0();
    // The raw echo: this binary again, a process at the other end of a
    // socket pair, answering the same frames.
    let (a, mut b) = UnixStream::pair()?;
    let a_fd = std::os::fd::AsRawFd::as_raw_fd(&a);
    let mut cmd = std::process::Command::new(exe);
    cmd.arg("--raw-echo");
    // SAFETY: dup2 and sched_setaffinity are async-signal-safe; the closure
    // allocates nothing.
    unsafe {
        std::os::unix::process::CommandExt::pre_exec(&mut cmd, move || {
            if libc::dup2(a_fd, 3) < 0 {
                return Err(std::io::Error::last_os_error());
            }
            pin_to_cpu0();
            Ok(())
        });
    }
    // Not waited: the host's reaper takes it when it ends.
    drop(cmd.spawn()?);
    drop(a);
    let (e, r) = crate::compare(
        || {
            let reply = bus.invoke(id(5), &target, &body).expect("native call");
            assert_eq!(reply.len(), body.len());
        },
        || {
            write_frame(
                &mut b,
                &Down::Deliver {
                    id: 1,
                    from: id(5).to_string(),
                    interface: target.interface.clone(),
                    version: 1,
                    body: body.to_vec(),
                },
            )
            .expect("raw write");
            let _: Up = read_frame(&mut b).expect("raw read");
        },
    );
    drop(b);
    drop(running);
    report(
        results,
        "native_invoke",
        e,
        r,
        "against the same frames to a process over a socket pair",
    );
    Ok(())
}

/// Run the calling thread on cpu 0 only.
fn pin_to_cpu0() {
    // SAFETY: an all-zero cpu_set_t is the empty set; CPU_SET bounds its
    // index; sched_setaffinity reads the set.
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        libc::CPU_SET(0, &mut set);
        libc::sched_setaffinity(0, size_of::<libc::cpu_set_t>(), &set);
    }
}

fn is(e: &ente_core::Occurrence, n: u128) -> bool {
    e.ente.as_ref().is_some_and(|(i, _)| *i == id(n))
}

fn ready(e: &ente_core::Occurrence, n: u128) -> bool {
    is(e, n)
        && matches!(
            e.kind,
            Kind::State {
                to: Phase::Ready,
                ..
            }
        )
}

fn report(
    results: &mut serde_json::Map<String, serde_json::Value>,
    name: &str,
    e: f64,
    r: f64,
    note: &str,
) {
    println!(
        "{name:<26} {e:>10.0}ns {r:>10.0}ns {:>7.2}  ({note})",
        e / r
    );
    results.insert(
        name.into(),
        json!({"ente_ns": e.round(), "raw_ns": r.round(), "ratio": (e / r * 1000.0).round() / 1000.0}),
    );
}

/// `std::process::Command` starting the same program with the same
/// readiness fd, until its line: nanoseconds. The bench's reaper reaps it.
fn raw_spawn_to_ready() -> Result<f64, Box<dyn std::error::Error>> {
    use std::os::unix::process::CommandExt;
    let (mut r, w) = UnixStream::pair()?;
    let w_fd = std::os::fd::AsRawFd::as_raw_fd(&w);
    let t = Instant::now();
    let mut cmd = std::process::Command::new("/bin/sh");
    cmd.args(["-c", SCRIPT]);
    // SAFETY: dup2 is async-signal-safe; the closure allocates nothing.
    unsafe {
        cmd.pre_exec(move || {
            if libc::dup2(w_fd, 3) < 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let child = cmd.spawn()?;
    drop(w);
    let mut byte = [0u8; 1];
    r.read_exact(&mut byte)?;
    let took = t.elapsed().as_nanos() as f64;
    // SAFETY: kill(2) of the child just started.
    unsafe { libc::kill(child.id() as i32, libc::SIGKILL) };
    // Not waited here: the bench's one reaper takes it.
    drop(child);
    Ok(took)
}

struct NoSink;
impl ExitSink for NoSink {
    fn ended(&self, _: &ente_kernel::reaper::Reaped) {}
}

/// `n` exited children, `rounds` times each way: reaped by the host's
/// reaper and mapped through its registry, and by a bare waitpid loop.
fn reap_and_account(n: usize, rounds: usize) -> Result<(f64, f64), Box<dyn std::error::Error>> {
    let procs = Procs::default();
    let sink: Arc<dyn ExitSink> = Arc::new(NoSink);
    let (mut ente, mut raw) = (Vec::new(), Vec::new());
    for _ in 0..rounds {
        let pids = zombies(n)?;
        for (k, pid) in pids.iter().enumerate() {
            procs.register(
                *pid,
                Proc {
                    ente: id(1000 + k as u128),
                    generation: 1,
                    sink: sink.clone(),
                },
            );
        }
        let t = Instant::now();
        let mut mapped = 0;
        for r in ente_kernel::reaper::reap_all() {
            if procs.reaped(&r).is_some() {
                mapped += 1;
            }
        }
        let took = t.elapsed().as_secs_f64();
        if mapped != n {
            return Err(format!("reap_and_account: {mapped} of {n} exits mapped").into());
        }
        ente.push(n as f64 / took);
        zombies(n)?;
        let t = Instant::now();
        let mut reaped = 0;
        loop {
            let mut status = 0;
            // SAFETY: waitpid(-1, WNOHANG) writes one status into a local.
            // (The raw baseline; the host's own reaping is ente_kernel's.)
            let pid = unsafe { libc::waitpid(-1, &mut status, libc::WNOHANG) };
            if pid <= 0 {
                break;
            }
            reaped += 1;
        }
        let took = t.elapsed().as_secs_f64();
        if reaped != n {
            return Err(format!("reap_and_account: the raw loop reaped {reaped} of {n}").into());
        }
        raw.push(n as f64 / took);
    }
    Ok((crate::median(ente), crate::median(raw)))
}

/// Start `n` processes that exit at once, and wait until all have.
fn zombies(n: usize) -> Result<Vec<i32>, Box<dyn std::error::Error>> {
    let mut pidfds = Vec::with_capacity(n);
    let mut pids = Vec::with_capacity(n);
    for _ in 0..n {
        let child = std::process::Command::new("/bin/true").spawn()?;
        let pid = child.id() as i32;
        // Never waited by std: dropped, it stays a zombie until reaped.
        drop(child);
        // SAFETY: pidfd_open of a child of ours that is not reaped yet.
        let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) };
        if fd >= 0 {
            // SAFETY: a new descriptor only this function holds.
            pidfds.push(unsafe {
                <std::os::fd::OwnedFd as std::os::fd::FromRawFd>::from_raw_fd(fd as i32)
            });
        }
        pids.push(pid);
    }
    for fd in &pidfds {
        while !ente_native::pidfd_ended(std::os::fd::AsFd::as_fd(fd), 1000) {}
    }
    Ok(pids)
}
