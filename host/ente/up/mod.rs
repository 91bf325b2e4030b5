//! `ente up`: run a seed card's graph in dev mode, show it live, and stop
//! it in order on Ctrl-C or SIGTERM. A front end of the core: it feeds the
//! loop signals and shows the spine.

pub(crate) mod persist;
pub mod status;

use crate::host::{self, HostOptions};
use ente_core::{Event, Signal};
pub use status::Status;
use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

/// How often the status table is drawn.
const DRAW_EVERY: Duration = Duration::from_millis(500);

/// What `ente up` keeps between its runs.
#[derive(Debug, Clone, Copy, Default, clap::Args)]
pub struct Keep {
    /// Restore the graph from $ENTE_HOME/snapshot, written at the last
    /// orderly stop: its spawned Entes, restart counters and the state each
    /// Ente saved. A snapshot that is corrupt, truncated, of another
    /// version or of another seed is refused with its reason, and the graph
    /// starts from its seed. Without this flag the snapshot is not read.
    #[arg(long)]
    pub restore: bool,
    /// Write no snapshot at the stop (by default one is written).
    #[arg(long)]
    pub no_snapshot: bool,
}

/// What `ente up` serves besides its control socket.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct Surface {
    /// Serve Prometheus metrics at http://ADDR/metrics (off unless asked;
    /// `ente ctl metrics` answers them either way).
    #[arg(long, value_name = "ADDR")]
    pub metrics: Option<std::net::SocketAddr>,
    /// Append the host's events to FILE as CloudEvents v1.0, one JSON
    /// object per line.
    #[arg(long, value_name = "FILE")]
    pub cloudevents: Option<std::path::PathBuf>,
    /// Publish the host's events as CloudEvents v1.0 to the NATS server at
    /// URL (nats://HOST:PORT), each on SUBJECT.<its type>; needs an ente
    /// built with the `nats` feature.
    #[arg(long, value_name = "URL")]
    pub cloudevents_nats: Option<String>,
    /// The subject prefix of --cloudevents-nats [default: ente.events].
    #[arg(long, value_name = "SUBJECT", value_parser = nats_subject, requires = "cloudevents_nats")]
    pub cloudevents_subject: Option<String>,
}

/// A NATS subject to publish under: dot-separated tokens, each non-empty,
/// without whitespace or the wildcards `*` and `>`.
fn nats_subject(s: &str) -> Result<String, String> {
    let bad = s.split('.').find(|t| {
        t.is_empty()
            || t.chars()
                .any(|c| c.is_whitespace() || c.is_control() || c == '*' || c == '>')
    });
    match bad {
        Some(t) => Err(format!(
            "`{s}` is not a subject to publish under: its token `{t}` is empty or holds whitespace, `*` or `>`"
        )),
        None => Ok(s.to_owned()),
    }
}

impl Surface {
    /// The CloudEvents targets asked for.
    fn cloudevents_targets(&self) -> Vec<crate::cloudevents::Target> {
        use crate::cloudevents::Target;
        let mut targets: Vec<Target> = self.cloudevents.iter().cloned().map(Target::File).collect();
        if let Some(url) = &self.cloudevents_nats {
            targets.push(Target::Nats {
                url: url.clone(),
                subject: self
                    .cloudevents_subject
                    .clone()
                    .unwrap_or_else(|| "ente.events".into()),
            });
        }
        targets
    }
}

pub fn run(
    home: &Path,
    seed: &Path,
    options: &HostOptions,
    keep: Keep,
    surface: Surface,
) -> ExitCode {
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("ente up: cannot start the event loop: {e}");
            return ExitCode::FAILURE;
        }
    };
    rt.block_on(async {
        // Signals are watched before anything starts, so that a SIGTERM
        // during boot still stops the graph in order.
        let signals = match Signals::watch() {
            Ok(s) => s,
            Err(e) => {
                eprintln!("ente up: cannot watch SIGINT and SIGTERM: {e}");
                return ExitCode::FAILURE;
            }
        };
        let card = match ente_card::load(seed) {
            Ok(card) => card,
            Err(e) => {
                eprintln!("ente up: {e}");
                return ExitCode::FAILURE;
            }
        };
        let tty = std::io::IsTerminal::is_terminal(&std::io::stdout());
        let status = Arc::new(Status::new(tty));
        // Orphans of native Entes' trees come to this process, which reaps
        // them: it is the one caller of waitpid.
        // SAFETY: prctl(PR_SET_CHILD_SUBREAPER) takes integers only.
        unsafe { libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) };
        let native = options.native();
        // Every authority decision, hash-chained under the home.
        let audit = match crate::audit::open(home) {
            Ok(log) => log,
            Err(message) => {
                eprintln!("ente up: {message}");
                return ExitCode::FAILURE;
            }
        };
        let build = || {
            host::build_with(
                home,
                seed,
                card.clone(),
                options.config(),
                ente_runtime::Profile::from_env(),
                native.clone(),
                None,
            )
        };
        let (mut core, mut handles) = match build() {
            Ok(built) => built,
            Err(message) => {
                eprintln!("ente up: {message}");
                return ExitCode::FAILURE;
            }
        };
        // Subscribed before a restore, so that what it brings back is shown.
        let mut events = handles.spine.subscribe();
        if keep.restore
            && let Err(why) = persist::restore(&mut core, home, &audit)
        {
            crate::console::line(&format!(
                "ente up: the snapshot is refused, nothing of it is restored, and the graph starts from its seed: {why}"
            ));
            audit.append(ente_audit::Decision::RestoreRefused { why });
            // The half-restored core is dropped whole.
            drop(core);
            (core, handles) = match build() {
                Ok(built) => built,
                Err(message) => {
                    eprintln!("ente up: {message}");
                    return ExitCode::FAILURE;
                }
            };
            events = handles.spine.subscribe();
        }
        // The chain follows the graph from here: a refused restore's
        // spawns, in a core that never ran, are not decisions of this host
        // (the chain records the restore, or its refusal, as one entry).
        handles
            .spine
            .attach(Box::new(crate::audit::AuditConsumer(audit.clone())));
        let mut cloudevents = Vec::new();
        for target in surface.cloudevents_targets() {
            match crate::cloudevents::open(&target, &card.id.to_string()) {
                Ok((sink, writer)) => {
                    handles.spine.attach(Box::new(sink));
                    cloudevents.push(writer);
                }
                Err(e) => {
                    eprintln!("ente up: {e}");
                    return ExitCode::FAILURE;
                }
            }
        }
        let rules_out = crate::rules_file::start(&handles, home);
        // The operator's surface: metrics, and `ente ctl` over
        // $ENTE_HOME/ctl.sock.
        let (metrics, counting) =
            crate::metrics::Metrics::start(handles.clone(), Some(audit.clone()));
        let scraped = match surface.metrics {
            Some(addr) => match crate::metrics::serve_http(addr, metrics.clone()).await {
                Ok((bound, task)) => {
                    crate::console::line(&format!("metrics: http://{bound}/metrics"));
                    Some(task)
                }
                Err(e) => {
                    eprintln!("ente up: {e}");
                    return ExitCode::FAILURE;
                }
            },
            None => None,
        };
        let ctl = match crate::ctl::serve(
            handles.clone(),
            card.id,
            &crate::ctl::socket_in(home),
            Some(metrics),
            crate::ctl::History::keep(&handles),
        ) {
            Ok(serving) => Some(serving),
            Err(e) => {
                crate::console::line(&format!("ente up: no control socket: {e}"));
                None
            }
        };
        let shown = {
            let status = status.clone();
            tokio::spawn(async move { status.follow(events).await })
        };
        tokio::spawn(signals.forward(handles.inbox.clone()));
        // A snapshot on request (SIGUSR1): written once the core says the
        // states are in. One write at a time: the stop's waits for it.
        let writing = Arc::new(std::sync::Mutex::new(()));
        let mut on_request = None;
        if !keep.no_snapshot {
            let (handles, card, home, audit, writing) = (
                handles.clone(),
                card.clone(),
                home.to_path_buf(),
                audit.clone(),
                writing.clone(),
            );
            on_request = Some(tokio::spawn(persist::on_request(handles, move |handles| {
                let _one = writing.lock().unwrap_or_else(|p| p.into_inner());
                persist::write(handles, &card, &home, &audit);
            })));
        }
        let drawing = {
            let (status, handles) = (status.clone(), handles.clone());
            tokio::spawn(async move {
                let mut tick = tokio::time::interval(DRAW_EVERY);
                loop {
                    tick.tick().await;
                    status.draw(&handles);
                }
            })
        };
        core.run().await;
        native.shutdown();
        // Their hold on the spine ends, so that the last events are shown.
        if let Some(task) = on_request {
            task.abort();
        }
        if let Some(serving) = ctl {
            serving.close();
        }
        counting.abort();
        rules_out.abort();
        if let Some(task) = scraped {
            task.abort();
        }
        if !keep.no_snapshot {
            let _one = writing.lock().unwrap_or_else(|p| p.into_inner());
            persist::write(&handles, &card, home, &audit);
        }
        if let Err(e) = audit.flush(Duration::from_secs(2)) {
            eprintln!("ente up: {e}");
        }
        for writer in cloudevents {
            if let Err(e) = writer.finish() {
                eprintln!("ente up: {e}");
            }
        }
        drawing.abort();
        status.draw(&handles);
        drop(handles);
        // The last events are shown before the process ends.
        let _ = tokio::time::timeout(Duration::from_millis(200), shown).await;
        ExitCode::SUCCESS
    })
}

/// SIGINT (Ctrl-C) and SIGTERM; SIGUSR1, a snapshot now; and SIGCHLD, on
/// which every exited child is reaped (native Entes' processes, and
/// orphans of their trees).
struct Signals {
    int: tokio::signal::unix::Signal,
    term: tokio::signal::unix::Signal,
    usr1: tokio::signal::unix::Signal,
    chld: tokio::signal::unix::Signal,
}

impl Signals {
    fn watch() -> std::io::Result<Signals> {
        use tokio::signal::unix::{SignalKind, signal};
        Ok(Signals {
            int: signal(SignalKind::interrupt())?,
            term: signal(SignalKind::terminate())?,
            usr1: signal(SignalKind::user_defined1())?,
            chld: signal(SignalKind::child())?,
        })
    }

    /// Hand each signal to the core, for as long as it runs.
    async fn forward(mut self, inbox: tokio::sync::mpsc::Sender<Event>) {
        loop {
            let signal = tokio::select! {
                _ = self.int.recv() => Signal::Stop("SIGINT"),
                _ = self.term.recv() => Signal::Stop("SIGTERM"),
                _ = self.usr1.recv() => Signal::Snapshot("SIGUSR1"),
                _ = self.chld.recv() => {
                    for r in ente_kernel::reaper::reap_all() {
                        if inbox.send(Event::Reaped(r)).await.is_err() {
                            return;
                        }
                    }
                    continue;
                }
            };
            if inbox.send(Event::Signal(signal)).await.is_err() {
                return;
            }
        }
    }
}
