//! The audit chain in the host: the spine's durable consumer that turns
//! every authority decision into an entry (`ente-audit`), and the `ente
//! audit verify` and `ente audit tail` commands.

use ente_audit::{Decision, DiskStore, Entry, Log, Store, store, walk};
use ente_bus::LeaseEvent;
use ente_core::{Durable, Kind, Occurrence, Phase};
use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

/// Appends the decisions among the spine's events to the chain. Runs under
/// the spine's lock: it only hands the entry to the chain's writer.
#[derive(Debug)]
pub struct AuditConsumer(pub Arc<Log>);

fn endpoint(e: &ente_card::Endpoint) -> String {
    format!("{}@{}", e.interface, e.version)
}

/// The decision an event records, if it records one.
pub fn decision_of(e: &Occurrence) -> Option<Decision> {
    let (ente, label) = e
        .ente
        .as_ref()
        .map(|(id, l)| (id.to_string(), l.clone()))
        .unwrap_or_default();
    Some(match &e.kind {
        Kind::Lease(l) => match l {
            LeaseEvent::Granted {
                caller,
                endpoint: ep,
                provider,
                ttl,
            } => Decision::LeaseGranted {
                caller: caller.to_string(),
                endpoint: endpoint(ep),
                provider: provider.to_string(),
                ttl_ms: ttl.as_millis() as u64,
            },
            LeaseEvent::Denied {
                caller,
                endpoint: ep,
                reason,
            } => Decision::LeaseDenied {
                caller: caller.to_string(),
                endpoint: endpoint(ep),
                reason: reason.clone(),
            },
            LeaseEvent::Renewed {
                caller,
                endpoint: ep,
                provider,
            } => Decision::LeaseRenewed {
                caller: caller.to_string(),
                endpoint: endpoint(ep),
                provider: provider.to_string(),
            },
            LeaseEvent::Expired {
                caller,
                endpoint: ep,
                provider,
            } => Decision::LeaseExpired {
                caller: caller.to_string(),
                endpoint: endpoint(ep),
                provider: provider.to_string(),
            },
            LeaseEvent::Dropped { ente, count } => Decision::LeasesDropped {
                ente: ente.to_string(),
                count: *count as u64,
            },
        },
        Kind::Spawned { by } => Decision::Spawned {
            ente,
            label,
            by: by.to_string(),
        },
        Kind::Refused { by, request, why } => Decision::RequestRefused {
            by: by.to_string(),
            request: request.clone(),
            why: why.clone(),
        },
        Kind::StartFailed { cause, .. } => Decision::StartRefused {
            ente,
            label,
            cause: cause.to_string(),
        },
        Kind::Died { cause, .. } => Decision::Died {
            ente,
            label,
            cause: cause.to_string(),
        },
        Kind::State {
            to: Phase::BackingOff,
            detail,
            ..
        } => Decision::Restarting {
            ente,
            label,
            detail: detail.clone(),
        },
        Kind::State {
            to: Phase::Stopped, ..
        } => Decision::Stopped { ente, label },
        Kind::State {
            to: Phase::Failed,
            detail,
            ..
        } => Decision::Failed {
            ente,
            label,
            why: detail.clone(),
        },
        Kind::Operator {
            uid,
            request,
            outcome,
        } => Decision::Operator {
            uid: *uid,
            request: request.clone(),
            refused: outcome.clone().err(),
        },
        Kind::ControlRefused { uid, pid } => Decision::ControlRefused {
            uid: *uid,
            pid: *pid,
        },
        Kind::RuleFired {
            rule,
            action,
            subject,
            seq,
            outcome,
        } => Decision::RuleFired {
            brain: ente,
            rule: rule.clone(),
            action: action.clone(),
            subject: subject.map(|s| s.to_string()),
            seq: *seq,
            refused: outcome.clone().err(),
        },
        Kind::RulePromoted { rule, by, json } => Decision::RulePromoted {
            brain: ente,
            rule: rule.clone(),
            by: by.clone(),
            json: json.clone(),
        },
        Kind::RuleRemoved { rule, by } => Decision::RuleRemoved {
            brain: ente,
            rule: rule.clone(),
            by: by.clone(),
        },
        _ => return None,
    })
}

impl Durable for AuditConsumer {
    fn append(&mut self, event: &Occurrence) {
        if let Some(d) = decision_of(event) {
            self.0.append(d);
        }
    }
}

/// Open the chain under `home` for a host; a break found is said, and the
/// new chain records it.
pub fn open(home: &Path) -> Result<Arc<Log>, String> {
    let (log, fault) = Log::open(home).map_err(|e| format!("the audit chain: {e}"))?;
    if let Some(fault) = fault {
        tracing::error!(
            "the audit chain under {} is broken: {fault}; a new chain begins, its first entry records the break (nothing was repaired)",
            home.display()
        );
    }
    Ok(Arc::new(log))
}

/// Where `ente audit verify` and `tail` read a chain: a home, or a state
/// disk (or its image), opened read-only.
#[derive(Debug, Clone)]
pub enum Chain {
    Home(std::path::PathBuf),
    Disk(std::path::PathBuf),
}

impl Chain {
    pub fn of(home: std::path::PathBuf, disk: Option<std::path::PathBuf>) -> Chain {
        disk.map_or(Chain::Home(home), Chain::Disk)
    }

    fn name(&self) -> String {
        match self {
            Chain::Home(h) => format!("under {}", h.display()),
            Chain::Disk(d) => format!("on {}", d.display()),
        }
    }

    /// The store, opened now (a disk's records are found as it opens).
    pub fn open(&self) -> Result<Box<dyn Store>, String> {
        match self {
            Chain::Home(h) => Ok(Box::new(ente_audit::Home(h.clone()))),
            Chain::Disk(path) => {
                let shown = path.display();
                let dev = std::fs::File::open(path).map_err(|e| format!("{shown}: {e}"))?;
                let log = dev.try_clone().map_err(|e| format!("{shown}: {e}"))?;
                let label = ente_state::slots::StateDisk::inspect(dev)
                    .map_err(|e| format!("{shown}: {e}"))?
                    .label();
                let store = DiskStore::open(log, label.log_at, label.log_len, &shown.to_string())
                    .map_err(|e| format!("{shown}: {e}"))?;
                Ok(Box::new(store))
            }
        }
    }
}

fn key_for(
    store: &dyn Store,
    public_key: Option<&str>,
) -> Result<ente_audit::VerifyingKey, String> {
    match public_key {
        Some(hex) => store::parse_public_key(hex)
            .ok_or_else(|| format!("--public-key {hex}: not 64 hex characters of an ed25519 key")),
        None => store.public_key().map_err(|e| e.to_string()),
    }
}

/// `ente audit verify`.
pub fn verify(chain: &Chain, public_key: Option<&str>) -> ExitCode {
    let checked = chain.open().and_then(|store| {
        if let Ok(None) = store.head() {
            return Err(format!(
                "no audit chain {} yet: no decision has been committed there",
                chain.name()
            ));
        }
        let key = key_for(store.as_ref(), public_key)?;
        Ok((walk(store.as_ref(), &key), key))
    });
    let (walked, key) = match checked {
        Ok(w) => w,
        Err(e) => {
            eprintln!("ente audit verify: {e}");
            return ExitCode::FAILURE;
        }
    };
    match walked {
        Ok(w) => {
            println!(
                "audit chain {}: verified: {} entries (seq 1..{}) in {} segments, the head signed by {}{}",
                chain.name(),
                w.entries.len(),
                w.head.seq,
                w.segments,
                ente_audit::hex(key.as_bytes()),
                if public_key.is_some() {
                    " (the key given)"
                } else {
                    " (the key stored beside the chain: pass --public-key to hold it to one kept elsewhere)"
                }
            );
            if let Some(why) = w.began_after_break() {
                println!("this chain began after the previous one was found broken: {why}");
            }
            ExitCode::SUCCESS
        }
        Err(fault) => {
            eprintln!("audit chain {}: BROKEN: {fault}", chain.name());
            ExitCode::FAILURE
        }
    }
}

fn show(e: &Entry, json: bool) {
    if json {
        let line = serde_json::json!({"seq": e.seq, "wall_ms": e.wall_ms, "decision": e.decision});
        crate::console::line(&line.to_string());
    } else {
        let text = ente_runtime::host::clean(&e.decision.to_string(), 4096);
        crate::console::line(&format!("{:>8}  {}  {text}", e.seq, e.wall_ms));
    }
}

/// `ente audit tail`: the last `n` entries, then (`follow`) new ones.
/// Every entry of the chain, verified from its signed head down.
pub fn entries(chain: &Chain) -> Result<Vec<Entry>, String> {
    let store = chain.open()?;
    let key = key_for(store.as_ref(), None)?;
    walk(store.as_ref(), &key)
        .map(|w| w.entries)
        .map_err(|fault| format!("the chain {} is broken: {fault}", chain.name()))
}

pub fn tail(chain: &Chain, n: usize, follow: bool, json: bool) -> ExitCode {
    let key = match chain.open().and_then(|store| key_for(store.as_ref(), None)) {
        Ok(k) => k,
        Err(e) => {
            eprintln!("ente audit tail: {e}");
            return ExitCode::FAILURE;
        }
    };
    let mut seen: Option<ente_audit::Head> = None;
    loop {
        // Opened again each time: a disk's new records are found at open.
        let store = match chain.open() {
            Ok(s) => s,
            Err(e) => {
                eprintln!("ente audit tail: {e}");
                return ExitCode::FAILURE;
            }
        };
        let read = match &seen {
            None => walk(store.as_ref(), &key),
            Some(head) => ente_audit::walk_since(store.as_ref(), &key, head),
        };
        match read {
            Ok(w) => {
                let skip = if seen.is_none() {
                    w.entries.len().saturating_sub(n)
                } else {
                    0
                };
                for e in w.entries.iter().skip(skip) {
                    show(e, json);
                }
                seen = Some(w.head);
            }
            Err(ente_audit::ChainFault::NoHead) if follow => {}
            Err(fault) => {
                eprintln!(
                    "ente audit tail: the chain {} is broken: {fault}",
                    chain.name()
                );
                return ExitCode::FAILURE;
            }
        }
        if !follow {
            return ExitCode::SUCCESS;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}
