//! One native body's process side: what its shim's `ente:native/process`
//! calls reach. It starts the card's program under the soma, registers the
//! main pid with the core (so the one reaper's report becomes this body's
//! death), waits for readiness, and tears the tree down at stop, at the
//! main process's end, or when the body is dropped, each time with a
//! teardown report on the spine.

use super::bus::Member;
use super::notify::{Listener, Notify, watchdog_of};
use super::{NativeHost, leaf_name, output, program, working_dir};
use ente_card::Card;
use ente_core::{ExitSink, Handles, Kind, Proc};
use ente_kernel::reaper::Reaped;
use ente_native::{ExitCell, Launch, Tree};
use ente_runtime::{Identity, JournalSink, ProcessPort};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};
use ulid::Ulid;

/// What the stop keeps of its deadline for itself (the report, the shim's
/// return): SIGKILL comes this much before the shim's call runs out.
const STOP_MARGIN: Duration = Duration::from_millis(500);

/// The process side of one native body.
pub struct NativeProcess {
    shared: Arc<Shared>,
}

struct Shared {
    ente: Ulid,
    generation: u64,
    card: Arc<Card>,
    identity: Identity,
    host: Arc<NativeHost>,
    handles: Handles,
    journal: Arc<dyn JournalSink>,
    dropped_lines: Arc<AtomicU64>,
    cgroup: Arc<Mutex<Option<PathBuf>>>,
    state_dir: Option<PathBuf>,
    tree: Mutex<Option<Tree>>,
    exit: Arc<ExitCell>,
    spawned: AtomicBool,
    /// A Legacy Ente's NOTIFY_SOCKET, read until the teardown.
    notify: Mutex<Option<Notify>>,
}

/// The parts of a native body the port is made from.
#[allow(missing_debug_implementations)]
pub struct Parts {
    pub ente: Ulid,
    pub generation: u64,
    pub card: Arc<Card>,
    pub host: Arc<NativeHost>,
    pub handles: Handles,
    pub journal: Arc<dyn JournalSink>,
    pub dropped_lines: Arc<AtomicU64>,
    /// Where its tree's cgroup v2 leaf is said while the tree runs (its
    /// memory is read there).
    pub cgroup: Arc<Mutex<Option<PathBuf>>>,
    /// Its state directory, when its card grants FilesystemRoot.
    pub state_dir: Option<PathBuf>,
}

impl std::fmt::Debug for NativeProcess {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NativeProcess")
            .field("ente", &self.shared.ente)
            .field("generation", &self.shared.generation)
            .finish_non_exhaustive()
    }
}

impl NativeProcess {
    pub fn new(p: Parts) -> NativeProcess {
        NativeProcess {
            shared: Arc::new(Shared {
                identity: Identity {
                    id: p.ente.to_string(),
                    label: p.card.label.clone(),
                },
                ente: p.ente,
                generation: p.generation,
                card: p.card,
                host: p.host,
                handles: p.handles,
                journal: p.journal,
                dropped_lines: p.dropped_lines,
                cgroup: p.cgroup,
                state_dir: p.state_dir,
                tree: Mutex::new(None),
                exit: Arc::new(ExitCell::default()),
                spawned: AtomicBool::new(false),
                notify: Mutex::new(None),
            }),
        }
    }
}

impl Drop for NativeProcess {
    fn drop(&mut self) {
        // A body may be dropped on the core's thread: the teardown, which
        // waits for the tree to go, runs on its own.
        self.shared.teardown_later();
    }
}

/// Told by the core when the main process was reaped.
struct OnExit {
    exit: Arc<ExitCell>,
    shared: Weak<Shared>,
}

impl ExitSink for OnExit {
    fn ended(&self, reaped: &Reaped) {
        self.exit.set(reaped.ending);
        // What it left behind goes now, not at the next start.
        if let Some(shared) = self.shared.upgrade() {
            shared.teardown_later();
        }
    }
}

impl Shared {
    /// [`Shared::teardown`] without a grace, on a thread of its own; the
    /// host's end waits for it.
    fn teardown_later(self: &Arc<Shared>) {
        self.host.teardown_begun();
        let shared = self.clone();
        let run = std::thread::Builder::new()
            .name("ente-teardown".into())
            .spawn(move || {
                shared.teardown(None);
                shared.host.teardown_ended();
            });
        if run.is_err() {
            self.teardown(None);
            self.host.teardown_ended();
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Option<Tree>> {
        self.tree.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Take the tree down (SIGTERM first when `grace` is given), once, and
    /// put the report on the spine.
    fn teardown(&self, grace: Option<Duration>) -> Option<String> {
        let mut tree = self.lock();
        let t = tree.as_mut().filter(|t| !t.torn_down())?;
        let report = match grace {
            Some(grace) => t.terminate(grace),
            None => t.kill(),
        };
        drop(tree);
        self.cgroup.lock().unwrap_or_else(|p| p.into_inner()).take();
        self.host
            .release_leaf(&leaf_name(&self.card), self.ente, self.generation);
        self.notify.lock().unwrap_or_else(|p| p.into_inner()).take();
        if let Ok(bus) = self.host.bus(&self.handles) {
            bus.leave(self.ente, self.generation);
        }
        let text = report.to_string();
        self.handles.spine.emit(
            Some((self.ente, &self.card.label)),
            Kind::Teardown {
                generation: self.generation,
                clean: report.clean(),
                report: text.clone(),
            },
        );
        Some(text)
    }
}

/// What a Legacy card asks of systemd that ente does not serve, in words.
fn unserved_fakes(card: &Card) -> Vec<String> {
    let mut out = Vec::new();
    if let ente_card::Payload::Legacy { fakes, .. } = &card.payload {
        for fake in fakes {
            match fake {
                ente_card::Fake::SystemdNotify => {}
                ente_card::Fake::SystemdLogind => out.push(
                    "fake SystemdLogind: not served (ente speaks no D-Bus: org.freedesktop.login1 is absent, sessions and inhibitors reach nothing)".to_owned(),
                ),
                ente_card::Fake::SystemdHostnamed => out.push(
                    "fake SystemdHostnamed: not served (no D-Bus; the hostname is the seed's label, read from uname)".to_owned(),
                ),
            }
        }
    }
    if card.requires.contains(&ente_card::Capability::LegacyLogind) {
        out.push("LegacyLogind: grants nothing here (no logind is served)".to_owned());
    }
    out
}

impl ProcessPort for NativeProcess {
    fn spawn(&self, within: Duration) -> Result<u32, String> {
        let s = &self.shared;
        if s.spawned.swap(true, Ordering::AcqRel) {
            return Err("its program was started already: one program per body".into());
        }
        let prog = program(&s.card).ok_or("its card's payload is not a native program")?;
        let ids = s.host.ids_of(s.ente)?;
        let cwd = working_dir(s.state_dir.clone(), ids);
        let soma = &s.card.soma;
        let limits = ente_native::cgroup::Limits {
            mem_bytes: soma.rlimits.mem_bytes,
            nproc: soma.rlimits.nproc,
            cpu_weight: soma.cgroup.cpu_weight,
            io_weight: soma.cgroup.io_weight,
        };
        // Its previous body's tree goes first: the leaf is one per Ente.
        let name = leaf_name(&s.card);
        s.host.claim_leaf(&name, s.ente, s.generation, within)?;
        let leaf = match s.host.cgroups().leaf(&name, &limits) {
            Ok(leaf) => leaf,
            Err(e) => {
                s.host.release_leaf(&name, s.ente, s.generation);
                return Err(e.to_string());
            }
        };
        let bus = s.host.bus(&s.handles)?;
        let mut envp = prog.envp.to_vec();
        envp.push(("ENTE_ID".into(), s.ente.to_string()));
        envp.push(("ENTE_LABEL".into(), s.card.label.clone()));
        envp.push((
            ente_client::BUS_ENV.into(),
            bus.path.to_string_lossy().into_owned(),
        ));
        // The client command (`$ENTE call`, `$ENTE serve`) is ente itself.
        if let Ok(exe) = std::env::current_exe() {
            envp.push(("ENTE".into(), exe.to_string_lossy().into_owned()));
        }
        let ready = Arc::new(AtomicBool::new(false));
        if prog.readiness == ente_native::Readiness::Notify {
            let weak = Arc::downgrade(s);
            let notify = Notify::start(
                &s.host.run_dir()?,
                Listener {
                    ente: s.ente,
                    label: s.card.label.clone(),
                    generation: s.generation,
                    handles: s.handles.clone(),
                    bus: bus.clone(),
                    ready: ready.clone(),
                    watchdog: watchdog_of(prog.envp),
                    on_missed: Box::new(move || {
                        if let Some(s) = weak.upgrade() {
                            s.teardown_later();
                        }
                    }),
                },
            )?;
            envp.push((
                "NOTIFY_SOCKET".into(),
                notify.path.to_string_lossy().into_owned(),
            ));
            *s.notify.lock().unwrap_or_else(|p| p.into_inner()) = Some(notify);
        }
        let launch = Launch {
            exec: prog.exec,
            argv: prog.argv,
            envp,
            namespaces: soma.namespaces,
            rlimits: soma.rlimits,
            cpu_affinity: soma.cpu_affinity.as_deref(),
            ids,
            cwd: &cwd,
            leaf: Some(&leaf),
            readiness: prog.readiness,
        };
        let sink = Arc::new(OnExit {
            exit: s.exit.clone(),
            shared: Arc::downgrade(s),
        });
        let spawned = ente_native::spawn(&launch, &mut |pid| {
            bus.join(
                s.ente,
                Member {
                    generation: s.generation,
                    label: s.card.label.clone(),
                    session: pid,
                    v2_leaf: leaf.v2_path().map(Path::to_path_buf),
                },
            );
            s.handles.procs.register(
                pid,
                Proc {
                    ente: s.ente,
                    generation: s.generation,
                    sink: sink.clone(),
                },
            );
        });
        let spawned = match spawned {
            Ok(sp) => sp,
            Err(e) => {
                bus.leave(s.ente, s.generation);
                let _ = leaf.remove();
                s.host.release_leaf(&name, s.ente, s.generation);
                return Err(e.to_string());
            }
        };
        let pid = spawned.pid;
        *s.cgroup.lock().unwrap_or_else(|p| p.into_inner()) = leaf.v2_path().map(Path::to_path_buf);
        let mut not_applied = spawned.not_applied.clone();
        not_applied.extend(unserved_fakes(&s.card));
        s.handles.spine.emit(
            Some((s.ente, &s.card.label)),
            Kind::Soma {
                generation: s.generation,
                pid,
                applied: spawned.applied.clone(),
                not_applied,
            },
        );
        let (mut tree, stdout, stderr) = Tree::new(spawned, Some(leaf), s.exit.clone());
        if prog.readiness == ente_native::Readiness::Notify {
            tree.ready_when(ready);
        }
        output::pump(
            stdout,
            stderr,
            s.identity.clone(),
            s.journal.clone(),
            s.dropped_lines.clone(),
        );
        *s.lock() = Some(tree);
        Ok(pid as u32)
    }

    fn await_ready(&self, within: Duration, killed: &dyn Fn() -> bool) -> Result<(), String> {
        let mut tree = self.shared.lock();
        let t = tree.as_mut().ok_or("its program was not started")?;
        // Said before the shim's own deadline ends the call.
        let deadline = Instant::now() + within.saturating_sub(Duration::from_millis(50));
        t.await_ready(deadline, killed).map_err(|e| e.to_string())
    }

    fn deliver(
        &self,
        from: &str,
        target: &ente_runtime::Endpoint,
        body: Vec<u8>,
        within: Duration,
    ) -> Result<Vec<u8>, String> {
        let s = &self.shared;
        s.host
            .bus(&s.handles)?
            .deliver(s.ente, from, target, body, within)
    }

    fn stop(&self, within: Duration) -> String {
        let grace = within.saturating_sub(STOP_MARGIN);
        self.shared
            .teardown(Some(grace))
            .unwrap_or_else(|| "its tree was taken down already".to_owned())
    }
}
