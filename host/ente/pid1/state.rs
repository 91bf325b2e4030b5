//! PID 1's state disk: where the appliance keeps its snapshot and its
//! audit chain across power cycles (`ente_state::slots`,
//! `ente_audit::DiskStore`).
//!
//! The disk is found on a thread of its own while the runtime opens: its
//! two modules are loaded, the device node waited for, the label checked
//! (a blank disk is labelled, a foreign one refused and never written),
//! both slots read and the audit chain walked, all before the graph
//! starts, so that a restore goes through the same spawn path as in dev
//! mode. The snapshot is written at the orderly power-off, after the
//! graph stopped.

use super::{alarm, say};
use ente_audit::{DiskStore, Log, MAX_PENDING};
use ente_kernel::modules::ModuleIndex;
use ente_state::Snapshot;
use ente_state::slots::StateDisk;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The state disk unless `ente.state=` names another (or `none`).
pub const DEFAULT_DISK: &str = "/dev/vda";
/// How long the disk's node may take to appear once its driver loaded.
const APPEAR_WITHIN: Duration = Duration::from_secs(2);
/// How long the graph waits for the disk at most: a disk that hangs is
/// booted without (its thread is left behind).
pub const READ_WITHIN: Duration = Duration::from_secs(10);

/// The state disk, opened, with what it held.
pub struct Kept {
    pub disk: StateDisk,
    pub path: PathBuf,
    /// The newest snapshot: its generation, slot and contents.
    pub newest: Option<(u64, usize, Snapshot)>,
    /// The chain in the disk's log region; `None` when it cannot be kept
    /// (the snapshot still is).
    pub audit: Option<Arc<Log>>,
    /// A test's slowed writer: a pause after each 64 KiB written.
    pub pace: Option<Duration>,
}

/// What the kernel command line says of the state disk.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Wanted {
    pub device: Option<PathBuf>,
    pub pace: Option<Duration>,
    /// A word of ours whose value was not understood, said at boot.
    pub refused: Option<String>,
}

impl Wanted {
    pub fn from_cmdline(cmdline: &str) -> Wanted {
        let mut wanted = Wanted {
            device: Some(PathBuf::from(DEFAULT_DISK)),
            pace: None,
            refused: None,
        };
        for word in cmdline.split_whitespace() {
            if let Some(dev) = word.strip_prefix("ente.state=") {
                wanted.device = (dev != "none").then(|| PathBuf::from(dev));
            } else if let Some(ms) = word.strip_prefix("ente.test.slow_snapshot_ms=") {
                wanted.pace = ms.parse().ok().map(Duration::from_millis);
                if wanted.pace.is_none() {
                    wanted.refused = Some(format!(
                        "`{word}`: not a number of milliseconds; the snapshot writer is not slowed"
                    ));
                }
            }
        }
        wanted
    }
}

/// Find and open the state disk on a thread; its answer is awaited (up to
/// [`READ_WITHIN`]) before the graph starts.
pub fn open_async(wanted: Wanted) -> Option<std::sync::mpsc::Receiver<Option<Kept>>> {
    if let Some(why) = &wanted.refused {
        alarm!("kernel command line: {why}");
    }
    let device = wanted.device?;
    let pace = wanted.pace;
    let (tx, rx) = std::sync::mpsc::sync_channel(1);
    std::thread::Builder::new()
        .name("ente-state".into())
        .spawn(move || {
            let _ = tx.send(open(&device, pace));
        })
        .map_err(|e| alarm!("cannot start the state disk's thread: {e}; nothing is kept"))
        .ok()?;
    Some(rx)
}

/// The state disk's answer, or `None` (said) when it took too long.
pub fn wait(rx: std::sync::mpsc::Receiver<Option<Kept>>) -> Option<Kept> {
    match rx.recv_timeout(READ_WITHIN) {
        Ok(kept) => kept,
        Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {
            alarm!("the state disk did not answer within {READ_WITHIN:?}: this boot keeps nothing");
            None
        }
        Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => None,
    }
}

fn open(device: &Path, pace: Option<Duration>) -> Option<Kept> {
    let t_start = Instant::now();
    load_drivers();
    let t0 = Instant::now();
    while !device.exists() {
        if t0.elapsed() > APPEAR_WITHIN {
            say!(
                "no state disk at {}: nothing is kept across power cycles",
                device.display()
            );
            return None;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    let shown = device.display().to_string();
    let dev = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(device)
        .map_err(|e| alarm!("the state disk {shown}: {e}; nothing is kept"))
        .ok()?;
    let (mut disk, labelled) = StateDisk::open(dev)
        .map_err(|e| alarm!("{shown}: {e}; nothing is kept across power cycles"))
        .ok()?;
    let label = disk.label();
    if labelled {
        say!(
            "state disk {shown} was blank: labelled (two slots of {} bytes, a log region of {} bytes)",
            label.slot_len,
            label.log_len
        );
    }
    let found = disk
        .read()
        .map_err(|e| alarm!("{shown}: {e}; nothing is kept"))
        .ok()?;
    for (slot, fault) in &found.faults {
        if *fault != ente_state::slots::SlotFault::Blank {
            alarm!("{shown}: slot {slot} holds no snapshot to restore: {fault}");
        }
    }
    let audit = open_chain(&disk, &shown);
    say!(
        "state disk {shown} read in {} ms (drivers, label, slots, chain)",
        t_start.elapsed().as_millis()
    );
    Some(Kept {
        disk,
        path: device.to_owned(),
        newest: found.newest,
        audit,
        pace,
    })
}

/// The chain in the disk's log region, walked whole before it is used:
/// the in-guest verification at every boot.
fn open_chain(disk: &StateDisk, shown: &str) -> Option<Arc<Log>> {
    let label = disk.label();
    let store = disk
        .device()
        .and_then(|dev| DiskStore::open(dev, label.log_at, label.log_len, shown))
        .map_err(|e| alarm!("the audit chain on {shown}: {e}; no audit this boot"))
        .ok()?;
    let (used, len) = store.used();
    let (log, fault) = Log::open_in(Box::new(store), MAX_PENDING)
        .map_err(|e| alarm!("the audit chain on {shown}: {e}; no audit this boot"))
        .ok()?;
    match (fault, log.head()) {
        (Some(fault), _) => alarm!(
            "the audit chain on {shown} is broken: {fault}; a new chain begins, its first entry records the break (nothing was repaired)"
        ),
        (None, Some((seq, _))) => say!(
            "audit chain on {shown} verified: {seq} entries, signed head; it continues at {} ({used} of {len} bytes used)",
            seq + 1
        ),
        (None, None) => say!("audit chain on {shown}: a new chain begins"),
    }
    Some(Arc::new(log))
}

/// The state disk's drivers, ahead of coldplug: the bus and the disk.
fn load_drivers() {
    let release = nix::sys::utsname::uname()
        .map(|u| u.release().to_string_lossy().into_owned())
        .unwrap_or_default();
    let mut index = match ModuleIndex::open(&Path::new("/lib/modules").join(&release)) {
        Ok(i) => i,
        Err(e) => {
            alarm!("no module index for the state disk's drivers: {e}");
            return;
        }
    };
    for module in ["virtio_mmio", "virtio_blk"] {
        match index.load(module) {
            Ok(loaded) if loaded.is_empty() => {}
            Ok(loaded) => say!("module {module} loaded (with {})", loaded.join(", ")),
            Err(e) => alarm!("module {module} for the state disk not loaded: {e}"),
        }
    }
}

/// Write the stopped graph's snapshot to the disk (a test's slowed writer
/// says on the console how far it got, so that the power can be cut in
/// the middle).
pub fn save(kept: &mut Kept, handles: &ente_core::Handles, seed: &ente_card::Card) {
    let place = format!("{} (state disk)", kept.path.display());
    let pace = kept.pace;
    let disk = &mut kept.disk;
    crate::up::persist::save(handles, seed, kept.audit.as_deref(), &place, |snapshot| {
        let bytes = ente_state::encode(snapshot).map_err(|e| e.to_string())?;
        let digest = *blake3::hash(&bytes).as_bytes();
        let generation = disk
            .write_encoded(&bytes, |written| {
                if let Some(pause) = pace {
                    say!("snapshot write: {written} bytes written, pausing {pause:?} (test)");
                    std::thread::sleep(pause);
                }
            })
            .map_err(|e| e.to_string())?;
        say!("snapshot generation {generation} on the state disk");
        Ok((bytes.len(), digest))
    });
    if let Some(Err(e)) = kept.audit.as_ref().map(|a| a.flush(Duration::from_secs(2))) {
        alarm!("{e}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_command_line_names_the_disk_or_none_and_a_test_pace() {
        let w = Wanted::from_cmdline("console=ttyS0 panic=-1");
        assert_eq!(w.device, Some(PathBuf::from(DEFAULT_DISK)));
        assert_eq!(w.pace, None);
        let w = Wanted::from_cmdline("ente.state=/dev/vdb ente.test.slow_snapshot_ms=250");
        assert_eq!(w.device, Some(PathBuf::from("/dev/vdb")));
        assert_eq!(w.pace, Some(Duration::from_millis(250)));
        assert_eq!(Wanted::from_cmdline("ente.state=none").device, None);
        let w = Wanted::from_cmdline("ente.test.slow_snapshot_ms=soon");
        assert_eq!(w.pace, None);
        assert!(
            w.refused
                .is_some_and(|why| why.contains("ente.test.slow_snapshot_ms=soon")),
            "a value not understood is said"
        );
    }
}
