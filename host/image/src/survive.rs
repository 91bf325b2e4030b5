//! The boot check's state scenarios: the appliance keeps its snapshot and
//! its audit chain on its state disk across a power cycle and across a
//! power cut in the middle of a snapshot write.
//!
//! On the disk of the last ordinary boot (its first boot, so generation 1
//! and the keeper's first start):
//!
//! 1. the host verifies the chain on the image (`ente audit verify
//!    --disk`): `n1` entries;
//! 2. a second boot verifies the chain in the guest and finds exactly
//!    `n1` entries, restores generation 1 (the keeper's count goes on to
//!    2, its child comes back without being spawned again), and writes
//!    generation 2 at the power-off; the host verifies more than `n1`;
//! 3. a third boot, with a slowed snapshot writer, is killed in the middle
//!    of writing generation 3;
//! 4. a fourth boot restores generation 2 (the keeper's start 3 again,
//!    not 4), its chain verifies in the guest and on the host;
//! 5. a byte of the chain's first segment is flipped on the image: the
//!    fifth boot says the chain is broken, goes on, and begins a new chain
//!    that records the break (the host's verify says so too).

use crate::{Failure, with_retries};
use ente_image::boot;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The machine and the host's `ente`.
pub struct Setup<'a> {
    pub kernel: &'a Path,
    pub initrd: &'a Path,
    pub append: &'a str,
    pub disk: &'a Path,
    pub sock: &'a Path,
    pub ente: &'a Path,
}

/// What the scenarios measured, for the summary.
pub struct Survived {
    pub entries: Vec<u64>,
}

pub fn check(s: &Setup) -> Result<Survived, String> {
    let n1 = host_verify(s)?;
    let shown = snapshot_show(s)?;
    if !shown.contains("generation 1, the newest") {
        return Err(format!(
            "after the first boot the disk holds no generation 1:\n{shown}"
        ));
    }

    let n2_guest = with_retries("the second boot, on the same disk", || {
        println!("== the appliance again, on the state disk of its first boot");
        let mut run = start(s, "")?;
        let verified = run.wait_for("audit chain on /dev/vda verified:")?;
        let seen = boot::number_after(&verified, "verified:").unwrap_or(-1.0);
        if seen as u64 != n1 {
            return Err(format!(
                "the guest found {seen} entries, the host verified {n1}: the chain did not continue whole: {verified}"
            )
            .into());
        }
        run.wait_for("restored /dev/vda slot 0 (generation 1)")?;
        run.wait_for("[keeper] info: start 2")?;
        power_off(&mut run, s, "snapshot generation 2 on the state disk")?;
        if run.saw("spawned the child") {
            return Err("the keeper spawned its child again: it was not restored".into());
        }
        Ok(seen as u64)
    })?;
    let n2 = host_verify(s)?;
    if n2 <= n2_guest {
        return Err(format!(
            "the second boot added nothing to the chain ({n2} entries, {n2_guest} before it)"
        ));
    }

    with_retries("the power cut", || {
        println!("== the appliance, its power cut in the middle of a snapshot write");
        let mut run = start(s, " ente.test.slow_snapshot_ms=120000")?;
        run.wait_for("[keeper] info: start 3")?;
        run.wait_for("ente: power key watched")?;
        boot::monitor(s.sock, "system_powerdown")?;
        run.wait_for("snapshot write: ")?;
        // The plug pulled: QEMU killed, the write half done.
        run.kill();
        if run.saw("snapshot generation 3") {
            return Err("generation 3 was written whole before the cut".into());
        }
        Ok(())
    })?;
    let shown = snapshot_show(s)?;
    if !shown.contains("generation 2, the newest") {
        return Err(format!(
            "after the cut the disk's newest is not generation 2:\n{shown}"
        ));
    }

    let n4_guest = with_retries("the boot after the power cut", || {
        println!("== the appliance after the power cut");
        let mut run = start(s, "")?;
        let verified = run.wait_for("audit chain on /dev/vda verified:")?;
        let seen = boot::number_after(&verified, "verified:").unwrap_or(-1.0);
        if (seen as u64) < n2 {
            return Err(format!("the guest verified {seen} entries, fewer than {n2}").into());
        }
        run.wait_for("restored /dev/vda slot 1 (generation 2)")?;
        run.wait_for("[keeper] info: start 3")?;
        power_off(&mut run, s, "snapshot generation 3 on the state disk")?;
        if run.saw("[keeper] info: start 4") {
            return Err("the cut snapshot was restored (start 4)".into());
        }
        Ok(seen as u64)
    })?;
    let n4 = host_verify(s)?;
    if n4 <= n4_guest {
        return Err(format!("the last boot added nothing to the chain ({n4})"));
    }

    tamper(s.disk)?;
    with_retries("the boot after tampering", || {
        println!("== the appliance, a byte of its audit chain changed");
        let mut run = start(s, "")?;
        run.wait_for("audit chain on /dev/vda is broken:")?;
        run.wait_for("ente: graph ready")?;
        power_off(&mut run, s, "snapshot generation 4 on the state disk")?;
        Ok(())
    })?;
    let out = ente(s, &["audit", "verify", "--disk"])?;
    println!("  host: {}", out.trim());
    if !out.contains("began after the previous one was found broken") {
        return Err(format!("the new chain does not record the break: {out}"));
    }
    Ok(Survived {
        entries: vec![n1, n2, n4],
    })
}

/// Flip a byte of the entries of the chain's first segment on the image.
fn tamper(disk: &Path) -> Result<(), String> {
    use std::os::unix::fs::FileExt;
    let shown = disk.display();
    let dev = std::fs::File::options()
        .read(true)
        .write(true)
        .open(disk)
        .map_err(|e| format!("{shown}: {e}"))?;
    let label = ente_state::slots::StateDisk::inspect(dev.try_clone().map_err(|e| e.to_string())?)
        .map_err(|e| format!("{shown}: {e}"))?
        .label();
    // Past the first record's 64-byte header, inside its entries.
    let at = label.log_at + ente_audit::RECORDS_AT + 64 + 16;
    let mut b = [0u8; 1];
    dev.read_exact_at(&mut b, at)
        .and_then(|()| dev.write_all_at(&[b[0] ^ 0x20], at))
        .map_err(|e| format!("{shown}: {e}"))?;
    println!("  host: flipped the byte at {at} of {shown} (the chain's first segment)");
    Ok(())
}

fn start(s: &Setup, extra: &str) -> Result<boot::Run, Failure> {
    let _ = std::fs::remove_file(s.sock);
    let machine = boot::Machine {
        kernel: s.kernel.to_owned(),
        initrd: s.initrd.to_owned(),
        append: format!("{}{extra}", s.append),
        state_disk: Some(PathBuf::from(s.disk)),
        monitor: Some(s.sock.to_owned()),
        ctl_port: None,
    };
    let mut run = boot::Run::start(&machine)?;
    run.wait_for("ente: PID 1 up")?;
    Ok(run)
}

/// The power key, the snapshot written (`written`), a clean power-off.
fn power_off(run: &mut boot::Run, s: &Setup, written: &str) -> Result<(), Failure> {
    run.wait_for("ente: power key watched")?;
    boot::monitor(s.sock, "system_powerdown")?;
    run.wait_for(written)?;
    run.wait_for("reboot: Power down")?;
    let status = run.wait_exit()?;
    if run.saw("Kernel panic") {
        return Err("the console shows a kernel panic".into());
    }
    if !status.success() {
        return Err(format!("QEMU exited with {status}").into());
    }
    Ok(())
}

/// `ente audit verify --disk` on the image: the entries it verified.
fn host_verify(s: &Setup) -> Result<u64, String> {
    let out = ente(s, &["audit", "verify", "--disk"])?;
    println!("  host: {}", out.trim());
    boot::number_after(&out, "verified:")
        .map(|n| n as u64)
        .ok_or_else(|| format!("`ente audit verify --disk` said no count: {out}"))
}

fn snapshot_show(s: &Setup) -> Result<String, String> {
    ente(s, &["snapshot", "show", "--disk"])
}

/// `ente ARGS DISK`, its output when it succeeds.
fn ente(s: &Setup, args: &[&str]) -> Result<String, String> {
    let out = Command::new(s.ente)
        .args(args)
        .arg(s.disk)
        .output()
        .map_err(|e| format!("{}: {e}", s.ente.display()))?;
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    if !out.status.success() {
        return Err(format!(
            "`ente {} {}` failed: {text}{}",
            args.join(" "),
            s.disk.display(),
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    Ok(text)
}
