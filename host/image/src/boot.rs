//! Boot the appliance under QEMU (microvm, software emulation) and judge the
//! run by its console transcript: QEMU exits 0 after a kernel panic too.

use std::io::{BufRead, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{Receiver, channel};
use std::time::{Duration, Instant};

/// How long the guest may take to reach each point under emulation.
const STEP_LIMIT: Duration = Duration::from_secs(90);
/// A kernel that prints nothing for this long before it runs /init is
/// stuck in QEMU's emulated timer calibration (a known microvm flake).
const KERNEL_STALL: Duration = Duration::from_secs(20);

/// Why a wait ended without the line.
#[derive(Debug)]
pub enum Missed {
    /// The kernel hung before /init (emulation, not ente): worth a retry.
    KernelStall,
    /// The line never came.
    Never(String),
}

impl std::fmt::Display for Missed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Missed::KernelStall => write!(
                f,
                "the kernel stalled before running /init (QEMU timer calibration)"
            ),
            Missed::Never(needle) => write!(f, "the console never showed `{needle}`"),
        }
    }
}

#[derive(Debug)]
pub struct Machine {
    pub kernel: PathBuf,
    pub initrd: PathBuf,
    pub append: String,
    pub state_disk: Option<PathBuf>,
    pub monitor: Option<PathBuf>,
    /// The host's end of the guest's control port (`ente ctl --socket`).
    pub ctl_port: Option<PathBuf>,
}

impl Machine {
    /// The QEMU command line (the one `just boot` runs).
    pub fn command(&self) -> Command {
        let mut c = Command::new("qemu-system-x86_64");
        c.args([
            "-M",
            "microvm,pit=on,pic=on,rtc=on",
            "-m",
            "256",
            "-nographic",
            "-no-reboot",
        ])
        .arg("-kernel")
        .arg(&self.kernel)
        .arg("-initrd")
        .arg(&self.initrd)
        .args(["-append", &self.append]);
        if let Some(disk) = &self.state_disk {
            c.arg("-drive").arg(format!(
                "file={},format=raw,if=none,id=state",
                disk.display()
            ));
            c.args(["-device", "virtio-blk-device,drive=state"]);
        }
        // The host's entropy: the guest's CRNG is seeded once coldplug
        // loads virtio_rng, not after seconds of emulated jitter (the
        // appliance's audit key waits for it at the first boot).
        c.args(["-device", "virtio-rng-device"]);
        // PID 1 relays its control socket over this port (`dev.ente.ctl`):
        // QEMU serves the host's end as a Unix socket.
        if let Some(port) = &self.ctl_port {
            c.args(["-device", "virtio-serial-device"])
                .arg("-chardev")
                .arg(format!(
                    "socket,id=ctl,path={},server=on,wait=off",
                    port.display()
                ))
                .args(["-device", "virtserialport,chardev=ctl,name=dev.ente.ctl"]);
        }
        if let Some(sock) = &self.monitor {
            c.arg("-monitor")
                .arg(format!("unix:{},server,nowait", sock.display()));
        }
        c
    }
}

/// A booting machine and its console, line by line.
#[derive(Debug)]
pub struct Run {
    child: Child,
    lines: Receiver<String>,
    pub transcript: Vec<String>,
    pub started: Instant,
}

impl Run {
    pub fn start(machine: &Machine) -> Result<Run, String> {
        let mut child = machine
            .command()
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .map_err(|e| format!("qemu-system-x86_64: {e}"))?;
        let stdout = child.stdout.take().ok_or("qemu: no stdout")?;
        let (tx, lines) = channel();
        std::thread::spawn(move || {
            for line in std::io::BufReader::new(stdout)
                .split(b'\n')
                .map_while(Result::ok)
            {
                let line = String::from_utf8_lossy(&line)
                    .trim_end_matches('\r')
                    .to_owned();
                if tx.send(line).is_err() {
                    return;
                }
            }
        });
        Ok(Run {
            child,
            lines,
            transcript: Vec::new(),
            started: Instant::now(),
        })
    }

    /// Wait for a console line containing `needle`.
    pub fn wait_for(&mut self, needle: &str) -> Result<String, Missed> {
        let deadline = Instant::now() + STEP_LIMIT;
        if let Some(l) = self.transcript.iter().find(|l| l.contains(needle)) {
            return Ok(l.clone());
        }
        while let Some(left) = deadline.checked_duration_since(Instant::now()) {
            match self.lines.recv_timeout(left.min(KERNEL_STALL)) {
                Ok(line) => {
                    println!("  | {line}");
                    self.transcript.push(line.clone());
                    if line.contains(needle) {
                        return Ok(line);
                    }
                }
                Err(_) if !self.saw("Run /init as init process") => {
                    return Err(Missed::KernelStall);
                }
                Err(_) => {}
            }
        }
        Err(Missed::Never(needle.to_owned()))
    }

    /// Wait for QEMU to exit, reading the rest of the console.
    pub fn wait_exit(&mut self) -> Result<std::process::ExitStatus, String> {
        let deadline = Instant::now() + STEP_LIMIT;
        loop {
            while let Ok(line) = self.lines.try_recv() {
                println!("  | {line}");
                self.transcript.push(line);
            }
            if let Some(status) = self.child.try_wait().map_err(|e| e.to_string())? {
                while let Ok(line) = self.lines.recv_timeout(Duration::from_millis(200)) {
                    println!("  | {line}");
                    self.transcript.push(line);
                }
                return Ok(status);
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                return Err("QEMU did not exit: the machine never powered off".into());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Pull the plug: QEMU killed outright, whatever the guest was doing.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        while let Ok(line) = self.lines.try_recv() {
            println!("  | {line}");
            self.transcript.push(line);
        }
    }

    pub fn saw(&self, needle: &str) -> bool {
        self.transcript.iter().any(|l| l.contains(needle))
    }
}

impl Drop for Run {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Keep transparent huge pages away from the QEMU this process starts (the
/// setting passes through fork and exec). QEMU asks for them on the guest's
/// RAM and its code buffer; where the host grants them, the guest's sparse
/// first touches each clear 2 MiB instead of 4 KiB, and under emulation the
/// guest's clock runs with the host's wall time: the same image's boots
/// split into two modes about 20 ms apart (125 and 148 ms to ready), where
/// without them every boot takes 129-136 ms.
pub fn without_huge_pages() -> Result<(), String> {
    nix::sys::prctl::set_thp_disable(true).map_err(|e| format!("prctl(PR_SET_THP_DISABLE): {e}"))
}

/// Boot `machine` with the console on this terminal until QEMU exits.
pub fn interactive(machine: &Machine) -> Result<(), String> {
    let mut command = machine.command();
    println!("{command:?}");
    let status = command
        .status()
        .map_err(|e| format!("qemu-system-x86_64: {e}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("QEMU exited with {status}"))
    }
}

/// Send one command to QEMU's monitor socket.
pub fn monitor(sock: &Path, command: &str) -> Result<(), String> {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        match UnixStream::connect(sock) {
            Ok(mut s) => {
                s.write_all(format!("{command}\n").as_bytes())
                    .map_err(|e| e.to_string())?;
                std::thread::sleep(Duration::from_millis(100));
                return Ok(());
            }
            Err(e) if Instant::now() > deadline => {
                return Err(format!("monitor {}: {e}", sock.display()));
            }
            Err(_) => std::thread::sleep(Duration::from_millis(50)),
        }
    }
}

/// Ask QEMU's monitor `command` and return its answer: the text between the
/// first prompt and the next, the echoed command included.
pub fn query(sock: &Path, command: &str) -> Result<String, String> {
    use std::io::Read;
    let failed = |e: std::io::Error| format!("monitor {}: {e}", sock.display());
    let mut s = UnixStream::connect(sock).map_err(failed)?;
    s.set_read_timeout(Some(Duration::from_secs(5)))
        .map_err(failed)?;
    let mut seen = Vec::new();
    let mut chunk = [0u8; 4096];
    // The banner ends in the first prompt, the answer in the second.
    let mut prompts = 0;
    let mut sent = false;
    while prompts < 2 {
        let n = s.read(&mut chunk).map_err(failed)?;
        if n == 0 {
            return Err(format!("monitor {}: closed", sock.display()));
        }
        seen.extend_from_slice(&chunk[..n]);
        prompts = String::from_utf8_lossy(&seen).matches("(qemu)").count();
        if prompts >= 1 && !sent {
            s.write_all(format!("{command}\n").as_bytes())
                .map_err(failed)?;
            sent = true;
        }
    }
    let text = String::from_utf8_lossy(&seen).into_owned();
    Ok(text.split("(qemu)").nth(1).unwrap_or_default().to_owned())
}

/// How many blocks of guest code QEMU has translated so far (`info jit`).
/// Under emulation a boot's cost follows this count, which, unlike the
/// time, does not depend on how busy the host is.
pub fn translated_blocks(sock: &Path) -> Result<u64, String> {
    let answer = query(sock, "info jit")?;
    tb_count(&answer).ok_or_else(|| format!("no `TB count` in the monitor's answer: {answer}"))
}

/// The `TB count` of an `info jit` answer.
pub fn tb_count(answer: &str) -> Option<u64> {
    answer
        .lines()
        .find_map(|l| l.trim().strip_prefix("TB count"))
        .and_then(|n| n.trim().parse().ok())
}

/// The number after `key` in `line` (e.g. "in 42 ms" -> 42).
pub fn number_after(line: &str, key: &str) -> Option<f64> {
    let rest = &line[line.find(key)? + key.len()..];
    let digits: String = rest
        .trim_start()
        .chars()
        .take_while(|c| c.is_ascii_digit() || *c == '.')
        .collect();
    digits.parse().ok()
}

/// The printk timestamp of a kernel line, "[    1.234567] ..." -> 1234.567 ms.
pub fn printk_ms(line: &str) -> Option<f64> {
    let inner = line.trim_start().strip_prefix('[')?.split(']').next()?;
    inner.trim().parse::<f64>().ok().map(|s| s * 1000.0)
}

/// Create a fresh raw state disk of `bytes`.
pub fn fresh_disk(path: &Path, bytes: u64) -> Result<(), String> {
    let f = std::fs::File::create(path).map_err(|e| format!("{}: {e}", path.display()))?;
    f.set_len(bytes)
        .map_err(|e| format!("{}: {e}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_block_count_is_read_from_an_info_jit_answer() {
        // As QEMU 7.2 answers on a monitor socket (the echo included).
        let answer = " info jit\r\nTranslation buffer state:\r\n\
                      gen code size       55035875/1073736704\r\n\
                      TB count            96100\r\n\
                      TB avg target size  19 max=2857 bytes\r\n";
        assert_eq!(tb_count(answer), Some(96100));
        assert_eq!(tb_count("unknown command: 'info jit'\r\n"), None);
        assert_eq!(tb_count("TB count  many\r\n"), None);
    }

    #[test]
    fn a_started_program_gets_no_huge_pages() {
        without_huge_pages().expect("the prctl is allowed");
        // Through fork and exec, as QEMU is started.
        let out = std::process::Command::new("cat")
            .arg("/proc/self/status")
            .output()
            .expect("cat runs");
        let status = String::from_utf8_lossy(&out.stdout);
        let thp = status
            .lines()
            .find_map(|l| l.strip_prefix("THP_enabled:"))
            .map(str::trim);
        assert_eq!(thp, Some("0"), "{status}");
    }

    #[test]
    fn numbers_are_read_after_their_key() {
        assert_eq!(
            number_after(
                "ente: graph ready: 4 of 4 Entes in 142 ms since /init",
                "Entes in"
            ),
            Some(142.0)
        );
        assert_eq!(
            printk_ms("[    1.234567] reboot: Power down"),
            Some(1234.567)
        );
        assert_eq!(number_after("no number here", "missing"), None);
    }
}
