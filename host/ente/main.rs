//! `ente`: the host. This file is wiring only: the command line, and which
//! module runs each command.

use clap::{Parser, Subcommand};
use ente::{check, home, host::HostOptions, run, up};

#[cfg(target_env = "musl")]
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Debug, Parser)]
#[command(name = "ente", version, about = "A Wasm-first microkernel host")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Check card files, or every *.json under a folder, against the card grammar.
    Check {
        /// Also check the graph each card roots: unique ids, a provider for
        /// every requirement, no dependency cycle, no child granted more than
        /// its parent holds, the mediator chosen by the seed, what a Wasm
        /// Ente can be given, and that a `Delegate` child's parent exports
        /// the supervisor (read from the store under $ENTE_HOME).
        #[arg(long)]
        graph: bool,
        /// Card files or folders.
        #[arg(required = true, value_name = "PATH")]
        paths: Vec<PathBuf>,
    },
    /// Run one component as a sandboxed plugin with only the capabilities
    /// named here; an import it is not granted refuses it before it runs.
    Run {
        /// The component (.wasm).
        component: PathBuf,
        /// A capability to grant: Journal, Spawn, FilesystemRoot, LegacyLogind,
        /// Endpoint=IFACE@VERSION, Device=CLASS, KernelNetlink=FAMILY.
        #[arg(long = "grant", value_name = "CAP", value_parser = run::parse_capability)]
        grants: Vec<ente_card::Capability>,
        /// Call the component's handler for IFACE@VERSION with BODY and print the reply.
        #[arg(long, num_args = 2, value_names = ["IFACE@VERSION", "BODY"])]
        invoke: Option<Vec<String>>,
        /// Deadline of each call into the component (and of its
        /// instantiation), e.g. `5s`, `250ms`.
        #[arg(long, value_name = "DURATION", default_value = "5s", value_parser = humantime::parse_duration)]
        deadline: std::time::Duration,
    },
    /// Make a component import only what it is granted: each WASI interface
    /// it imports and the grants do not cover (a language runtime's
    /// filesystem, sockets, http) is implemented inside it by denial.
    #[cfg(feature = "pack")]
    Pack {
        /// The component (.wasm).
        component: PathBuf,
        /// A capability it will be granted (as for `ente run`).
        #[arg(long = "grant", value_name = "CAP", value_parser = run::parse_capability)]
        grants: Vec<ente_card::Capability>,
        /// Where the packed component is written.
        #[arg(short, long, value_name = "OUT")]
        output: PathBuf,
    },
    /// Test plugins: run each test file (JSON, schema/ente-test.schema.json)
    /// in a host of its own, with its mocks, and print a line per step.
    Test {
        /// Test files, or folders of them.
        #[arg(required = true, value_name = "FILE")]
        files: Vec<PathBuf>,
        /// Also write the results as JUnit XML here.
        #[arg(long, value_name = "PATH")]
        junit: Option<PathBuf>,
    },
    /// Start the graph a seed card roots (dev mode), show it live, and stop it
    /// in order on Ctrl-C or SIGTERM.
    Up {
        /// The seed card.
        #[arg(default_value = "cards/demo.json")]
        seed: PathBuf,
        #[command(flatten)]
        options: HostOptions,
        #[command(flatten)]
        keep: up::Keep,
        #[command(flatten)]
        surface: up::Surface,
    },
    /// Call an endpoint over the native bus as this process's Ente (for a
    /// native Ente's program: `$ENTE call IFACE@VERSION BODY`); the reply on
    /// stdout. BODY `-` reads stdin.
    Call {
        #[arg(value_name = "IFACE@VERSION")]
        endpoint: String,
        #[arg(value_name = "BODY")]
        body: String,
    },
    /// Answer the calls to this process's Ente's endpoints over the native
    /// bus: each runs COMMAND with the body on stdin; its stdout is the reply.
    Serve {
        /// Write the readiness line to $ENTE_READY_FD once serving.
        #[arg(long)]
        ready: bool,
        #[arg(last = true, required = true, value_name = "COMMAND")]
        command: Vec<String>,
    },
    /// Send sd_notify variables for this process's Legacy Ente (its program:
    /// `$ENTE notify READY=1`), as systemd-notify does.
    Notify {
        #[arg(required = true, value_name = "VAR=VALUE")]
        vars: Vec<String>,
    },
    /// The audit chain under $ENTE_HOME (or --home): every authority decision,
    /// hash-chained, its head signed.
    Audit {
        #[command(subcommand)]
        command: AuditCommand,
    },
    /// Ask a running host (`ente up`, or the appliance's PID 1) over its
    /// control socket: what runs, its journal and events; start, stop,
    /// restart and spawn. Exit codes: 0 done, 1 refused, 2 usage, 3 no host.
    Ctl {
        /// The control socket (default $ENTE_HOME/ctl.sock; the
        /// appliance's is /run/ente/ctl.sock inside it, and the host's end
        /// of its control port outside: `just boot` makes
        /// target/image/ctl.sock).
        #[arg(long, value_name = "PATH", global = true)]
        socket: Option<PathBuf>,
        /// One JSON object per line, for scripts.
        #[arg(long, global = true)]
        json: bool,
        #[command(subcommand)]
        command: CtlCommand,
    },
    /// The graph's snapshot: what `ente up --restore` (or the appliance's
    /// boot) would bring back.
    Snapshot {
        #[command(subcommand)]
        command: SnapshotCommand,
    },
    /// The content-addressed store under $ENTE_HOME.
    Cas {
        #[command(subcommand)]
        command: CasCommand,
    },
}

#[derive(Debug, Subcommand)]
enum AuditCommand {
    /// Walk the chain from its signed head to its first entry; report the
    /// first broken link, missing entry, truncated head or bad signature.
    Verify {
        /// The home whose chain to verify (default $ENTE_HOME).
        #[arg(long, value_name = "DIR", conflicts_with = "disk")]
        home: Option<PathBuf>,
        /// A state disk (the appliance's /dev/vda) or an image of one,
        /// read without writing.
        #[arg(long, value_name = "FILE")]
        disk: Option<PathBuf>,
        /// The chain's public key (64 hex), held apart from the chain: a
        /// chain rewritten under another key is then told apart.
        #[arg(long, value_name = "HEX")]
        public_key: Option<String>,
    },
    /// Print the last entries, and with -f new ones as they come.
    Tail {
        #[arg(long, value_name = "DIR", conflicts_with = "disk")]
        home: Option<PathBuf>,
        /// A state disk or an image of one, read without writing.
        #[arg(long, value_name = "FILE")]
        disk: Option<PathBuf>,
        /// How many of the last entries.
        #[arg(short = 'n', default_value_t = 20)]
        n: usize,
        /// Follow new entries.
        #[arg(short = 'f', long)]
        follow: bool,
        /// One JSON object per line.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Subcommand)]
enum CtlCommand {
    /// Every Ente's state, or one Ente in depth (by id or label).
    Status { ente: Option<String> },
    /// The lineage tree, with each Ente's state.
    Tree,
    /// The journal: the last lines (of one Ente, or all), then with -f
    /// new ones as they come.
    Logs {
        ente: Option<String>,
        /// How many of the last lines.
        #[arg(short = 'n', long = "lines", default_value_t = 20)]
        lines: u32,
        #[arg(short = 'f', long)]
        follow: bool,
    },
    /// The host's events (those it kept), then with -f new ones live.
    Events {
        #[arg(short = 'f', long)]
        follow: bool,
    },
    /// Stop an Ente (and its descendants), by the seed's authority.
    Stop { ente: String },
    /// Stop an Ente and start it again.
    Restart { ente: String },
    /// Start an Ente that stopped, ended or failed.
    Start { ente: String },
    /// Spawn a card below the seed (its lineage, when absent, is the seed's).
    Spawn { card: PathBuf },
    /// Keep only an Ente's journal lines at LEVEL or above (trace, debug,
    /// info, warn, error; trace keeps all again), until the host stops.
    LogLevel { ente: String, level: String },
    /// The host's metrics, in the Prometheus text format.
    Metrics,
    /// The audit chain: what `ente audit` does, here for the operator
    /// (of $ENTE_HOME, or of a state disk with --disk).
    Audit {
        #[command(subcommand)]
        command: CtlAudit,
    },
    /// The graph's brain (its rule engine): crystals, rules, promotion,
    /// and a replay of the audit chain against the rules in force.
    Brain {
        #[command(subcommand)]
        command: CtlBrain,
    },
}

#[derive(Debug, Subcommand)]
enum CtlBrain {
    /// The pairs of event kinds that keep occurring together (`a`, then
    /// `b`) and pass these thresholds.
    Crystals {
        #[arg(long, default_value_t = 2.0)]
        min_support: f64,
        /// P(b|a), from 0 to 1.
        #[arg(long, default_value_t = 0.3)]
        min_p: f64,
        /// Pointwise mutual information, in bits (below 0: less often than
        /// chance).
        #[arg(long, default_value_t = 1.0, allow_negative_numbers = true)]
        min_pmi: f64,
    },
    /// The rules in force, as a rules file.
    Rules,
    /// Promote the pair `A` then `B` (seen at least once; the thresholds
    /// are for the brain's own promotions) to a rule: a Sequence within
    /// mean + 2σ of their gaps once 4 were seen, else a Single on A.
    Promote {
        a: String,
        b: String,
        /// Its action, as a rules file writes one, e.g.
        /// '{"kind": "Stop", "ente": "$subject"}' (default: a named event).
        #[arg(long, value_name = "JSON")]
        action: Option<String>,
    },
    /// Put the rules of a rules file in force (each replaces the rule of
    /// its name).
    Load { file: PathBuf },
    /// Take a rule out of force.
    Remove { name: String },
    /// Rebuild the rules from the audit chain ($ENTE_HOME's) and compare
    /// them with the rules in force.
    Replay,
}

#[derive(Debug, Subcommand)]
enum CtlAudit {
    /// Walk the chain from its signed head to its first entry.
    Verify {
        #[arg(long, value_name = "FILE")]
        disk: Option<PathBuf>,
        #[arg(long, value_name = "HEX")]
        public_key: Option<String>,
    },
    /// The last entries, and with -f new ones as they come.
    Tail {
        #[arg(long, value_name = "FILE")]
        disk: Option<PathBuf>,
        #[arg(short = 'n', default_value_t = 20)]
        n: usize,
        #[arg(short = 'f', long)]
        follow: bool,
    },
}

#[derive(Debug, Subcommand)]
enum SnapshotCommand {
    /// What the snapshot holds, read without writing: from $ENTE_HOME (or
    /// --home), or from a state disk or its image (--disk).
    Show {
        #[arg(long, value_name = "DIR", conflicts_with = "disk")]
        home: Option<PathBuf>,
        /// A state disk (the appliance's /dev/vda) or an image of one.
        #[arg(long, value_name = "FILE")]
        disk: Option<PathBuf>,
    },
}

#[derive(Debug, Subcommand)]
enum CasCommand {
    /// Add a file to the store and print its blake3 digest.
    Add { file: PathBuf },
    /// Compile stored components into the precompile cache (for the engine
    /// `ENTE_ENGINE` selects: `portable` for an image).
    Compile { digests: Vec<String> },
}

fn main() -> ExitCode {
    if ente_kernel::is_pid1() {
        ente::pid1::main();
    }
    ente::diagnostics::init(ente::diagnostics::Sink::Stderr);
    let cli = Cli::parse();
    if !matches!(cli.command, Command::Up { .. }) {
        quiet_on_closed_stdout();
    }
    match cli.command {
        Command::Check { graph, paths } => check::run(&paths, graph, &home::home()),
        Command::Run {
            component,
            grants,
            invoke,
            deadline,
        } => {
            let invoke = match invoke.as_deref() {
                None => None,
                Some([endpoint, body]) => match run::parse_endpoint(endpoint) {
                    Ok(e) => Some((e, body.clone())),
                    Err(message) => {
                        eprintln!("ente run: --invoke {message}");
                        return ExitCode::from(2);
                    }
                },
                Some(_) => None,
            };
            run::run(&home::home(), &component, &grants, invoke, deadline)
        }
        #[cfg(feature = "pack")]
        Command::Pack {
            component,
            grants,
            output,
        } => ente::pack::run(&component, &grants, &output),
        Command::Test { files, junit } => {
            ente::plugin_test::run(&home::home(), &files, junit.as_deref())
        }
        Command::Up {
            seed,
            options,
            keep,
            surface,
        } => up::run(&home::home(), &seed, &options, keep, surface),
        Command::Call { endpoint, body } => ente::native_cli::call(&endpoint, &body),
        Command::Serve { ready, command } => ente::native_cli::serve(ready, &command),
        Command::Notify { vars } => ente::native_cli::notify(&vars),
        Command::Audit {
            command:
                AuditCommand::Verify {
                    home: h,
                    disk,
                    public_key,
                },
        } => ente::audit::verify(
            &ente::audit::Chain::of(h.unwrap_or_else(home::home), disk),
            public_key.as_deref(),
        ),
        Command::Audit {
            command:
                AuditCommand::Tail {
                    home: h,
                    disk,
                    n,
                    follow,
                    json,
                },
        } => ente::audit::tail(
            &ente::audit::Chain::of(h.unwrap_or_else(home::home), disk),
            n,
            follow,
            json,
        ),
        Command::Ctl {
            socket,
            json,
            command,
        } => ctl(socket, json, command),
        Command::Snapshot {
            command: SnapshotCommand::Show { home: h, disk },
        } => ente::snapshot_cli::show(&h.unwrap_or_else(home::home), disk.as_deref()),
        Command::Cas {
            command: CasCommand::Compile { digests },
        } => run::compile(&home::home(), &digests),
        Command::Cas {
            command: CasCommand::Add { file },
        } => match ente_runtime::Cas::new(&home::home()).add_file(&file) {
            Ok((digest, repaired)) => {
                if repaired {
                    eprintln!(
                        "ente cas add: the stored blob {digest} was corrupt or tampered; replaced with these bytes"
                    );
                }
                println!("{digest}");
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("ente cas add: {e}");
                ExitCode::FAILURE
            }
        },
    }
}

/// A command that prints and ends (`check`, `run`, `test`, ...) ends
/// quietly when its reader goes away (`ente check cards | head -1`), as a
/// Unix tool does, instead of panicking on a broken pipe. Not `up`: a
/// running graph is stopped in order, never by its terminal.
fn quiet_on_closed_stdout() {
    use nix::sys::signal::{SigHandler, Signal, signal};
    // SAFETY: SIG_DFL installs no handler of ours, so nothing runs in
    // signal context; it is set once, before any thread is started.
    let _ = unsafe { signal(Signal::SIGPIPE, SigHandler::SigDfl) };
}

fn ctl(socket: Option<PathBuf>, json: bool, command: CtlCommand) -> ExitCode {
    use ente_ctl::Verb;
    let socket = socket.unwrap_or_else(|| ente::ctl::socket_in(&home::home()));
    let tree = matches!(command, CtlCommand::Tree);
    let verb = match command {
        CtlCommand::Status { ente } => Verb::Status { ente },
        CtlCommand::Tree => Verb::Tree,
        CtlCommand::Logs {
            ente,
            lines,
            follow,
        } => Verb::Logs {
            ente,
            lines,
            follow,
        },
        CtlCommand::Events { follow } => Verb::Events { follow },
        CtlCommand::Metrics => Verb::Metrics,
        CtlCommand::Audit {
            command: CtlAudit::Verify { disk, public_key },
        } => {
            return ente::audit::verify(
                &ente::audit::Chain::of(home::home(), disk),
                public_key.as_deref(),
            );
        }
        CtlCommand::Audit {
            command: CtlAudit::Tail { disk, n, follow },
        } => {
            return ente::audit::tail(&ente::audit::Chain::of(home::home(), disk), n, follow, json);
        }
        CtlCommand::Brain { command } => {
            let verb = match command {
                CtlBrain::Crystals {
                    min_support,
                    min_p,
                    min_pmi,
                } => ente_ctl::BrainVerb::Crystals {
                    min_support,
                    min_p,
                    min_pmi,
                },
                CtlBrain::Rules => ente_ctl::BrainVerb::Rules,
                CtlBrain::Promote { a, b, action } => ente_ctl::BrainVerb::Promote { a, b, action },
                CtlBrain::Load { file } => match std::fs::read(&file) {
                    Ok(bytes) if bytes.len() > ente::ctl::RULES_FILE_MAX => {
                        eprintln!(
                            "ente ctl brain load: {}: {} bytes, more than a rules file may be ({})",
                            file.display(),
                            bytes.len(),
                            ente::ctl::RULES_FILE_MAX
                        );
                        return ExitCode::FAILURE;
                    }
                    Ok(bytes) => match String::from_utf8(bytes) {
                        Ok(file) => ente_ctl::BrainVerb::Load { file },
                        Err(_) => {
                            eprintln!("ente ctl brain load: {}: not UTF-8", file.display());
                            return ExitCode::FAILURE;
                        }
                    },
                    Err(e) => {
                        eprintln!("ente ctl brain load: {}: {e}", file.display());
                        return ExitCode::FAILURE;
                    }
                },
                CtlBrain::Remove { name } => ente_ctl::BrainVerb::Remove { name },
                CtlBrain::Replay => {
                    return ente::ctl::replay::run(&socket, &home::home(), json);
                }
            };
            Verb::Brain(verb)
        }
        CtlCommand::Stop { ente } => Verb::Stop { ente },
        CtlCommand::Restart { ente } => Verb::Restart { ente },
        CtlCommand::Start { ente } => Verb::Start { ente },
        CtlCommand::LogLevel { ente, level } => Verb::LogLevel { ente, level },
        CtlCommand::Spawn { card } => match std::fs::read_to_string(&card) {
            Ok(card) => Verb::Spawn { card },
            Err(e) => {
                eprintln!("ente ctl spawn: {}: {e}", card.display());
                return ExitCode::FAILURE;
            }
        },
    };
    ente::ctl::client::run(&socket, verb, ente::ctl::client::Shown { json, tree })
}
