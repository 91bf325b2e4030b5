//! `ente-image`: build the appliance image and check that it boots.
//!
//! - `cpio ROOT OUT`: an uncompressed newc archive of ROOT, plus /dev/console;
//! - `modules KDIR STAGE MODULE...`: the modules and their dependencies, with
//!   an index of just those;
//! - `vmlinux BZIMAGE OUT`: the uncompressed kernel;
//! - `boot ...`: boot the appliance on this terminal (`just boot`);
//! - `boot-check ...`: boot, power the machine off with the power key, and
//!   judge the console; then boot the same state disk again, and cut its
//!   power in the middle of a snapshot write (`survive`).

mod survive;

use clap::{Parser, Subcommand};
use ente_image::{boot, clock, cpio, kernel};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

#[derive(Debug, Parser)]
#[command(name = "ente-image", about = "Build and check ente's appliance image")]
struct Cli {
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Debug, Subcommand)]
enum Cmd {
    /// Archive a staging tree as an uncompressed newc cpio.
    Cpio { root: PathBuf, out: PathBuf },
    /// Copy modules and their dependencies, with a matching index.
    Modules {
        kdir: PathBuf,
        stage: PathBuf,
        modules: Vec<String>,
    },
    /// Extract the uncompressed kernel from a bzImage.
    Vmlinux { bzimage: PathBuf, out: PathBuf },
    /// Boot the image on this terminal, the monitor on a socket.
    Boot {
        #[arg(long)]
        kernel: PathBuf,
        #[arg(long)]
        initrd: PathBuf,
        /// The raw state disk (virtio-blk).
        #[arg(long)]
        disk: PathBuf,
        /// The monitor's socket (`system_powerdown` powers off).
        #[arg(long)]
        monitor: PathBuf,
        /// The host's end of the guest's control port:
        /// `ente ctl --socket CTL status`.
        #[arg(long)]
        ctl: PathBuf,
    },
    /// Send one command to a QEMU monitor socket (e.g. system_powerdown).
    Monitor { sock: PathBuf, command: String },
    /// Boot the image, press the power key, and judge the console.
    BootCheck {
        #[arg(long)]
        kernel: PathBuf,
        #[arg(long)]
        initrd: PathBuf,
        /// The baseline: an initramfs whose /init only powers off.
        #[arg(long)]
        bare: PathBuf,
        /// A seed card in the image that must be refused.
        #[arg(long)]
        invalid_seed: String,
        /// Where the state disk and the monitor socket go.
        #[arg(long)]
        work: PathBuf,
        /// The host's `ente`, to verify the state disk's audit chain and
        /// read its snapshot from outside the guest.
        #[arg(long)]
        ente: PathBuf,
    },
}

fn main() -> ExitCode {
    let result = match Cli::parse().command {
        Cmd::Cpio { root, out } => std::fs::File::create(&out)
            .map(std::io::BufWriter::new)
            .and_then(|f| cpio::write_tree(&root, cpio::CONSOLE, f))
            .map_err(|e| format!("{}: {e}", out.display())),
        Cmd::Modules {
            kdir,
            stage,
            modules,
        } => kernel::copy_modules(&kdir, &stage, &modules).map(|all| {
            println!("modules: {}", all.join(" "));
        }),
        Cmd::Vmlinux { bzimage, out } => kernel::extract_vmlinux(&bzimage, &out),
        Cmd::Boot {
            kernel,
            initrd,
            disk,
            monitor,
            ctl,
        } => boot::without_huge_pages().and_then(|()| {
            boot::interactive(&boot::Machine {
                kernel,
                initrd,
                append: append(),
                state_disk: Some(disk),
                monitor: Some(monitor),
                ctl_port: Some(ctl),
            })
        }),
        Cmd::Monitor { sock, command } => boot::monitor(&sock, &command),
        Cmd::BootCheck {
            kernel,
            initrd,
            bare,
            invalid_seed,
            work,
            ente,
        } => boot_check(kernel, initrd, bare, invalid_seed, work, ente),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("ente-image: {e}");
            ExitCode::FAILURE
        }
    }
}

/// The kernel command line the issue gives.
const APPEND: &str = "console=ttyS0 panic=-1";

/// [`APPEND`] and this host's TSC rate (see [`ente_image::clock`]).
fn append() -> String {
    format!("{APPEND}{}", clock::kernel_args())
}

/// Boots of the appliance and of the baseline. The times printed are their
/// medians: on a shared machine one boot varies by a third.
const ROUNDS: usize = 3;

/// The middle value of `values` (the upper one of an even count); `values`
/// is never empty here.
fn median<T: PartialOrd + Copy + Default>(mut values: Vec<T>) -> T {
    values.sort_by(|a, b| a.partial_cmp(b).unwrap_or(std::cmp::Ordering::Equal));
    values.get(values.len() / 2).copied().unwrap_or_default()
}

/// A kernel may stall in emulated timer calibration before /init; such a
/// boot is tried again, anything after /init is not.
const TRIES: usize = 3;

#[derive(Debug)]
enum Failure {
    Missed(boot::Missed),
    Other(String),
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Failure::Missed(m) => write!(f, "{m}"),
            Failure::Other(s) => f.write_str(s),
        }
    }
}

impl From<boot::Missed> for Failure {
    fn from(m: boot::Missed) -> Failure {
        Failure::Missed(m)
    }
}

impl From<String> for Failure {
    fn from(s: String) -> Failure {
        Failure::Other(s)
    }
}

impl From<&str> for Failure {
    fn from(s: &str) -> Failure {
        Failure::Other(s.to_owned())
    }
}

/// Run `scenario` until it passes, or fails for a reason other than a
/// kernel stall before /init.
fn with_retries<T>(
    name: &str,
    mut scenario: impl FnMut() -> Result<T, Failure>,
) -> Result<T, String> {
    for attempt in 1..=TRIES {
        match scenario() {
            Ok(t) => return Ok(t),
            Err(Failure::Missed(boot::Missed::KernelStall)) if attempt < TRIES => {
                println!(
                    "== {name}: the kernel stalled before /init (emulation); booting again ({attempt}/{TRIES})"
                );
            }
            Err(e) => return Err(format!("{name}: {e}")),
        }
    }
    Err(format!(
        "{name}: the kernel stalled before /init {TRIES} times"
    ))
}

struct Appliance {
    init_to_ready: f64,
    /// QEMU's translated blocks between the two console lines, if the
    /// monitor answered.
    blocks: Option<u64>,
    key_to_off: f64,
    wall: Duration,
}

fn boot_check(
    kernel: PathBuf,
    initrd: PathBuf,
    bare: PathBuf,
    invalid_seed: String,
    work: PathBuf,
    ente: PathBuf,
) -> Result<(), String> {
    boot::without_huge_pages()?;
    std::fs::create_dir_all(&work).map_err(|e| e.to_string())?;
    let disk = work.join("state.img");
    let sock = work.join("monitor.sock");
    let append = append();
    println!("kernel command line: {append}");

    let mut bare_walls = Vec::with_capacity(ROUNDS);
    let mut rounds = Vec::with_capacity(ROUNDS);
    for round in 1..=ROUNDS {
        bare_walls.push(with_retries("baseline", || {
            println!("== baseline {round}/{ROUNDS}: a bare /init that only powers off");
            let machine = boot::Machine {
                kernel: kernel.clone(),
                initrd: bare.clone(),
                append: append.clone(),
                state_disk: None,
                monitor: None,
                ctl_port: None,
            };
            let mut run = boot::Run::start(&machine)?;
            run.wait_for("reboot: Power down")?;
            run.wait_exit()?;
            Ok(run.started.elapsed())
        })?);
        rounds.push(with_retries("appliance", || {
            println!("== the appliance {round}/{ROUNDS}, with a fresh state disk");
            appliance(&kernel, &initrd, &append, &work, &ente)
        })?);
    }
    // The last boot's disk, booted again, and cut.
    let survived = survive::check(&survive::Setup {
        kernel: &kernel,
        initrd: &initrd,
        append: &append,
        disk: &disk,
        sock: &sock,
        ente: &ente,
    })?;
    with_retries("invalid seed", || {
        invalid(&kernel, &initrd, &append, &disk, &invalid_seed)
    })?;

    let readies: Vec<f64> = rounds.iter().map(|a| a.init_to_ready).collect();
    let shown: Vec<String> = readies.iter().map(|ms| format!("{ms:.0}")).collect();
    let init_to_ready = median(readies);
    let blocks: Vec<u64> = rounds.iter().filter_map(|a| a.blocks).collect();
    let key_to_off = median(rounds.iter().map(|a| a.key_to_off).collect());
    let wall = median(rounds.iter().map(|a| a.wall).collect());
    let bare_wall = median(bare_walls);

    println!("boot-check passed (medians of {ROUNDS} boots each)");
    println!(
        "  /init to ready (guest monotonic):  {init_to_ready:.0} ms ({})",
        shown.join(", ")
    );
    if !blocks.is_empty() {
        println!(
            "  code translated, /init to ready:   {} QEMU blocks",
            median(blocks)
        );
    }
    println!("  power key to power-off (guest):    {key_to_off:.0} ms");
    let counts: Vec<String> = survived.entries.iter().map(u64::to_string).collect();
    println!(
        "  state disk: restored after a power cycle and after a power cut; audit entries verified on the host after boots 1, 2 and 4: {}",
        counts.join(", ")
    );
    println!(
        "  whole run (wall):                  {} ms",
        wall.as_millis()
    );
    println!(
        "  bare /init power-off (wall):       {} ms",
        bare_wall.as_millis()
    );
    println!(
        "  ratio to bare:                     {:.2}",
        wall.as_secs_f64() / bare_wall.as_secs_f64()
    );
    Ok(())
}

/// Boot, ready, the power key, an orderly power-off.
fn appliance(
    kernel: &Path,
    initrd: &Path,
    append: &str,
    work: &Path,
    ente: &Path,
) -> Result<Appliance, Failure> {
    let (disk, sock, port) = (
        &work.join("state.img"),
        &work.join("monitor.sock"),
        &work.join("ctl.sock"),
    );
    boot::fresh_disk(disk, 64 << 20)?;
    let _ = std::fs::remove_file(sock);
    let _ = std::fs::remove_file(port);
    let machine = boot::Machine {
        kernel: kernel.to_owned(),
        initrd: initrd.to_owned(),
        append: append.to_owned(),
        state_disk: Some(disk.to_owned()),
        monitor: Some(sock.to_owned()),
        ctl_port: Some(port.to_owned()),
    };
    let t0 = Instant::now();
    let mut run = boot::Run::start(&machine)?;
    run.wait_for("Run /init as init process")?;
    // Read as each line arrives, so a little of what follows is counted.
    let blocks_up = boot::translated_blocks(sock);
    run.wait_for("ente: PID 1 up")?;
    let ready = run.wait_for("ente: graph ready")?;
    let blocks_ready = boot::translated_blocks(sock);
    // PID 1 speaks through the kernel log: its lines carry the kernel's stamp.
    if boot::printk_ms(&ready).is_none() {
        return Err(format!("`{ready}` did not come through the kernel log").into());
    }
    run.wait_for("module button loaded")?;
    run.wait_for("module virtio_blk loaded")?;
    run.wait_for("block device /dev/vda present")?;
    // The block device's uevent reached the Ente that holds Device{Block}.
    run.wait_for("[storage-watch] info: block device vda: add")?;
    // The native Entes: busybox under its soma, on cgroup2 with every
    // controller (PID 1 mounted it), and a Legacy one ready on sd_notify.
    let soma = run.wait_for("uptime: pid ")?;
    for applied in [
        "pids.max=8",
        "memory.max=16777216",
        "cpu.weight=50",
        "RLIMIT_NOFILE=32",
        // A uid of its own (61184 and up, in start order): PID 1 is root.
        " uid 6118",
    ] {
        if !soma.contains(applied) {
            return Err(format!("the native Ente's soma lacks {applied}: {soma}").into());
        }
    }
    run.wait_for("uptime: ready")?;
    run.wait_for("[uptime] info: up ")?;
    run.wait_for("legacyd: ready")?;
    run.wait_for("ente: power key watched")?;
    // PID 1 serves the operator's control socket once the surface settled.
    run.wait_for("ente: control socket: /run/ente/ctl.sock")?;
    // The operator asks the appliance what runs, from outside it, through
    // its control port.
    run.wait_for("ente: control port: /dev/vport")?;
    let asking = Instant::now();
    ctl_status(ente, port)?;
    // Not the appliance's time: the wall below leaves it out.
    let asked = asking.elapsed();
    boot::monitor(sock, "system_powerdown")?;
    let pressed = run.wait_for("power key pressed")?;
    run.wait_for("orderly shutdown")?;
    // Stopped, each with its teardown report: nothing of it is left.
    for (label, leaf) in [
        ("uptime", "/sys/fs/cgroup/ente/uptime"),
        ("legacyd", "/sys/fs/cgroup/ente/"),
    ] {
        let report = run.wait_for(&format!("{label}: teardown:"))?;
        if !report.contains("no process left") || !report.contains(leaf) {
            return Err(format!("`{label}` left something at power-off: {report}").into());
        }
    }
    let down = run.wait_for("reboot: Power down")?;
    let status = run.wait_exit()?;
    let wall = t0.elapsed().saturating_sub(asked);
    if run.saw("Kernel panic") {
        return Err("the console shows a kernel panic".into());
    }
    if !status.success() {
        return Err(format!("QEMU exited with {status}").into());
    }
    let init_to_ready =
        boot::number_after(&ready, "Entes in").ok_or("no ready time on the console")?;
    let key_ms = boot::number_after(&pressed, "at").ok_or("no power key time on the console")?;
    let off_ms = boot::printk_ms(&down).ok_or("no printk time on `reboot: Power down`")?;
    let blocks = match (blocks_up, blocks_ready) {
        (Ok(up), Ok(ready)) => Some(ready.saturating_sub(up)),
        (Err(e), _) | (_, Err(e)) => {
            println!("(no translated-block count: {e})");
            None
        }
    };
    Ok(Appliance {
        init_to_ready,
        blocks,
        key_to_off: off_ms - key_ms,
        wall,
    })
}

/// `ente ctl --socket PORT status --json` through the appliance's control
/// port: every Ente the check watched is there, and ready.
fn ctl_status(ente: &Path, port: &Path) -> Result<(), Failure> {
    let out = std::process::Command::new(ente)
        .args(["ctl", "--json", "--socket"])
        .arg(port)
        .arg("status")
        .output()
        .map_err(|e| format!("{}: {e}", ente.display()))?;
    let text = String::from_utf8_lossy(&out.stdout);
    if !out.status.success() {
        return Err(format!(
            "`ente ctl status` through the control port failed ({}): {text}{}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        )
        .into());
    }
    let rows: Vec<serde_json::Value> = text
        .lines()
        .map(serde_json::from_str)
        .collect::<Result<_, _>>()
        .map_err(|e| {
            format!("`ente ctl status --json` printed a line that is not JSON ({e}): {text}")
        })?;
    for label in ["storage-watch", "uptime", "legacyd", "keeper", "brain"] {
        let row = rows.iter().find(|r| r["label"] == label).ok_or_else(|| {
            format!("`ente ctl status` through the control port lacks {label}: {text}")
        })?;
        if row["state"] != "ready" {
            return Err(format!("`ente ctl status` says {label} is not ready: {row}").into());
        }
    }
    // Bytes that are no session, then a session whose request claims 4 GiB:
    // refused in that session, and the port is read on.
    hostile_port(port)?;
    // A follower interrupted (as by Ctrl-C), then a new question: the
    // port's relay lets the first go and answers the second, whatever of
    // the first answer the port still held.
    let mut follower = std::process::Command::new(ente)
        .args(["ctl", "--socket"])
        .arg(port)
        .args(["events", "-f"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .map_err(|e| format!("{}: {e}", ente.display()))?;
    std::thread::sleep(std::time::Duration::from_millis(1500));
    let _ = follower.kill();
    let followed = follower
        .wait_with_output()
        .map_err(|e| format!("`ente ctl events -f`: {e}"))?;
    let events = String::from_utf8_lossy(&followed.stdout);
    // The history begins with the boot, not when the socket was served.
    if !events.contains("graph settled") || !events.contains("keeper: ready") {
        return Err(format!(
            "`ente ctl events -f` through the control port did not show the boot: {events}"
        )
        .into());
    }
    let again = std::process::Command::new(ente)
        .args(["ctl", "--socket"])
        .arg(port)
        .args(["status", "keeper"])
        .output()
        .map_err(|e| format!("{}: {e}", ente.display()))?;
    let keeper = String::from_utf8_lossy(&again.stdout);
    if !again.status.success() || !keeper.contains("state:     ready") {
        return Err(format!(
            "`ente ctl status keeper` after an interrupted follower ({}): {keeper}{}",
            again.status,
            String::from_utf8_lossy(&again.stderr)
        )
        .into());
    }
    println!(
        "  ente ctl through the control port: status of {} Entes, all watched ones ready; events -f interrupted after {} lines, then status again",
        rows.len(),
        events.lines().count()
    );
    Ok(())
}

/// Garbage and an oversized request into the control port, as a client
/// that is not `ente ctl` might send; the answer is a refusal in its own
/// session.
fn hostile_port(port: &Path) -> Result<(), Failure> {
    use std::io::Write;
    let mut conn = std::os::unix::net::UnixStream::connect(port)
        .map_err(|e| format!("{}: {e}", port.display()))?;
    conn.set_read_timeout(Some(std::time::Duration::from_secs(30)))
        .map_err(|e| e.to_string())?;
    let mut hostile = b"GET / HTTP/1.1\r\n\r\n".to_vec();
    hostile.extend_from_slice(&ente_ctl::session_marker(77));
    hostile.extend_from_slice(&u32::MAX.to_le_bytes());
    conn.write_all(&hostile).map_err(|e| e.to_string())?;
    let mut conn = std::io::BufReader::new(conn);
    ente_ctl::await_session(&mut conn, 77)
        .map_err(|e| format!("no answer to an oversized request through the control port: {e}"))?;
    match ente_ctl::read_frame::<ente_ctl::Reply>(&mut conn) {
        Ok(ente_ctl::Reply::Refused(why)) if why.contains("more than") => Ok(()),
        other => Err(format!(
            "an oversized request through the control port was answered {other:?}"
        )
        .into()),
    }
}

/// A seed card that cannot load: explained on the console, then a clean
/// power-off. The console is `quiet`: PID 1's explanation is an error record
/// of the kernel log, which it still shows, and its progress lines are
/// notices, which it hides.
fn invalid(
    kernel: &Path,
    initrd: &Path,
    append: &str,
    disk: &Path,
    seed: &str,
) -> Result<(), Failure> {
    println!("== an invalid seed card, on a quiet console");
    let machine = boot::Machine {
        kernel: kernel.to_owned(),
        initrd: initrd.to_owned(),
        append: format!("{append} quiet ente.seed={seed}"),
        state_disk: Some(disk.to_owned()),
        monitor: None,
        ctl_port: None,
    };
    let mut run = boot::Run::start(&machine)?;
    run.wait_for("the seed card cannot load")?;
    // Every line of the explanation is printed, each its own record.
    run.wait_for("label = \"\": must not be empty")?;
    run.wait_for("reboot: Power down")?;
    let status = run.wait_exit()?;
    if run.saw("Kernel panic") {
        return Err("the invalid-seed boot shows a kernel panic".into());
    }
    if run.saw("ente: PID 1 up") {
        return Err("a quiet console shows PID 1's progress: its lines are not notices".into());
    }
    if !status.success() {
        return Err(format!("QEMU exited with {status} on the invalid seed").into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::median;
    use std::time::Duration;

    #[test]
    fn median_is_the_middle_of_the_sorted_values() {
        assert_eq!(median(vec![180.0, 110.0, 120.0]), 120.0);
        assert_eq!(median(vec![3u64, 1, 2, 4]), 3);
        let walls = vec![Duration::from_millis(2100), Duration::from_millis(1900)];
        assert_eq!(median(walls), Duration::from_millis(2100));
        assert_eq!(median(Vec::<u64>::new()), 0);
    }
}
