//! `ente snapshot show`: what a snapshot holds, from a home (dev mode) or
//! from a state disk or its image (the appliance), read without writing.

use ente_state::slots::{SlotFault, StateDisk};
use ente_state::{Snapshot, file};
use std::path::Path;
use std::process::ExitCode;
use std::time::{Duration, SystemTime};

/// A line on stdout, its control characters escaped: a snapshot's cards
/// and ids come from Entes, and a file may have been crafted.
macro_rules! say {
    ($($arg:tt)*) => {
        println!("{}", ente_runtime::host::clean(&format!($($arg)*), 4096))
    };
}

/// `ente snapshot show [--home DIR | --disk FILE]`.
pub fn show(home: &Path, disk: Option<&Path>) -> ExitCode {
    let shown = match disk {
        Some(disk) => show_disk(disk),
        None => show_home(home),
    };
    match shown {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("ente snapshot show: {e}");
            ExitCode::FAILURE
        }
    }
}

fn show_home(home: &Path) -> Result<(), String> {
    match file::read(home).map_err(|e| e.to_string())? {
        Some(s) => {
            say!("{}:", file::path(home).display());
            print_snapshot(&s);
            Ok(())
        }
        None => Err(format!(
            "no snapshot in {} (`ente up` writes one at its orderly stop)",
            home.display()
        )),
    }
}

fn show_disk(path: &Path) -> Result<(), String> {
    let dev = std::fs::File::open(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let mut disk = StateDisk::inspect(dev).map_err(|e| format!("{}: {e}", path.display()))?;
    let label = disk.label();
    let found = disk
        .read()
        .map_err(|e| format!("{}: {e}", path.display()))?;
    say!(
        "{}: an ente state disk: two slots of {} bytes; a log region of {} bytes at {}",
        path.display(),
        label.slot_len,
        label.log_len,
        label.log_at
    );
    for slot in 0..2 {
        let fault = found.faults.iter().find(|(s, _)| *s == slot);
        match (fault, &found.newest) {
            (Some((_, SlotFault::Blank)), _) => say!("  slot {slot}: never written"),
            (Some((_, fault)), _) => say!("  slot {slot}: nothing to restore: {fault}"),
            (None, Some((g, s, _))) if *s == slot => {
                say!("  slot {slot}: generation {g}, the newest")
            }
            (None, _) => say!("  slot {slot}: an older generation, whole"),
        }
    }
    match found.newest {
        Some((generation, slot, s)) => {
            say!("the newest snapshot (generation {generation}, slot {slot}):");
            print_snapshot(&s);
            Ok(())
        }
        None => Err("no slot holds a snapshot to restore".into()),
    }
}

fn print_snapshot(s: &Snapshot) {
    let now = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX));
    let age = now
        .checked_sub(s.taken_ms)
        .map_or("in the future, by this clock".into(), |ms| {
            humantime::format_duration(Duration::from_secs(ms / 1000)).to_string() + " ago"
        });
    say!("  seed {}, taken {age}", s.seed);
    match s.audit {
        Some(mark) => say!(
            "  the audit chain's head then: entry {} ({})",
            mark.seq,
            ente_audit::hex(&mark.entry)
        ),
        None => say!("  no audit chain then"),
    }
    say!("  {} spawned at run time:", s.spawned.len());
    for sp in &s.spawned {
        let label = serde_json::from_str::<serde_json::Value>(&sp.card)
            .ok()
            .and_then(|v| {
                Some(format!(
                    "`{}` {}",
                    v.get("label")?.as_str()?,
                    v.get("id")?.as_str()?
                ))
            })
            .unwrap_or_else(|| "(a card that does not read)".into());
        say!("    {label}, by {}", sp.parent);
    }
    say!("  {} with counters or state:", s.entes.len());
    for e in &s.entes {
        let state = e
            .state
            .as_ref()
            .map_or("no state".into(), |b| format!("{} bytes of state", b.len()));
        say!(
            "    {}: {} restarts, {} failures in a row, {state}",
            e.id,
            e.restarts,
            e.failures
        );
    }
    say!("  {} leases (recorded, not granted again):", s.leases.len());
    for l in &s.leases {
        say!(
            "    {} -> {} at {}, {} ms left",
            l.caller,
            l.endpoint,
            l.provider,
            l.ttl_left_ms
        );
    }
}
