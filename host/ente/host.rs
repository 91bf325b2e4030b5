//! What both front ends build from a seed card: the runtime, the shared
//! handles, the Wasm runner and the core. `ente up` and PID 1 then run the
//! same loop and show what it emits.

use crate::native::{NativeHost, NativeOptions};
use crate::wasm::WasmRunner;
use ente_card::Card;
use ente_core::{Config, Core, Handles, Wiring};
use ente_runtime::{Profile, Runtime};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

// The core holds spawned children to the memory the Wasm runner gives.
const _: () = assert!(ente_runtime::limits::DEFAULT_MEMORY_LIMIT == ente_core::DEFAULT_MEMORY);

/// The host's settings a person may change (`ente up` flags).
#[derive(Debug, Clone, Default, clap::Args)]
pub struct HostOptions {
    /// Deadline of every call into an Ente (and of its instantiation and
    /// `lifecycle.stop`), e.g. `5s`, `250ms`.
    #[arg(long, value_name = "DURATION", value_parser = humantime::parse_duration)]
    pub call_deadline: Option<Duration>,
    /// How long a stop waits for a call in progress before it kills the body.
    #[arg(long, value_name = "DURATION", value_parser = humantime::parse_duration)]
    pub stop_grace: Option<Duration>,
    /// Starts within the start-limit interval after which a crash loop ends
    /// as failed (default 5).
    #[arg(long, value_name = "N")]
    pub start_limit_burst: Option<u32>,
    /// The start limit's interval (default 10s).
    #[arg(long, value_name = "DURATION", value_parser = humantime::parse_duration)]
    pub start_limit_interval: Option<Duration>,
    /// How long an Ente must stay ready for its backoff to start over (default 10s).
    #[arg(long, value_name = "DURATION", value_parser = humantime::parse_duration)]
    pub backoff_reset: Option<Duration>,
    /// Live children an Ente may spawn when its card sets no nproc (default 64).
    #[arg(long, value_name = "N")]
    pub children: Option<u32>,
    /// Entes this host holds at most (default 4096; at most 12288, as each
    /// reserves about 8 GiB of address space).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=i64::from(ente_runtime::MAX_POOL)))]
    pub capacity: Option<u32>,
    /// Threads that run guest code (default: twice the cores, at least 4).
    #[arg(long, value_name = "N")]
    pub workers: Option<usize>,
    /// The cgroup native Entes' leaves go under, below ente's own (default
    /// `ente-<pid>`; `ente` for PID 1).
    #[arg(long, value_name = "NAME", value_parser = cgroup_name)]
    pub cgroup_parent: Option<String>,
}

fn cgroup_name(s: &str) -> Result<String, String> {
    if s.is_empty() || s.contains(['/', '\0']) || s == "." || s == ".." {
        Err(format!("`{s}` cannot name one cgroup directory"))
    } else {
        Ok(s.to_owned())
    }
}

impl HostOptions {
    /// What native Entes share, as these options set it.
    pub fn native(&self) -> Arc<NativeHost> {
        let mut o = NativeOptions::default();
        if let Some(p) = &self.cgroup_parent {
            o.cgroup_parent = p.clone();
        }
        Arc::new(NativeHost::new(o))
    }

    pub fn config(&self) -> Config {
        let mut c = Config::default();
        if let Some(d) = self.call_deadline {
            c.call_deadline = d;
        }
        if let Some(d) = self.stop_grace {
            c.stop_grace = d;
        }
        if let Some(n) = self.start_limit_burst {
            c.start_limit.burst = n;
        }
        if let Some(d) = self.start_limit_interval {
            c.start_limit.interval = d;
        }
        if let Some(d) = self.backoff_reset {
            c.backoff_reset = d;
        }
        if let Some(n) = self.children {
            c.children = n;
        }
        if let Some(n) = self.capacity {
            c.capacity = n as usize;
        }
        if let Some(n) = self.workers {
            c.workers = n;
        }
        c
    }
}

/// The core of the graph `seed` roots, ready to run.
pub fn build(
    home: &Path,
    seed: &Path,
    card: Card,
    config: Config,
    profile: Profile,
) -> Result<(Core, Handles), String> {
    let native = Arc::new(NativeHost::new(NativeOptions::default()));
    build_with(home, seed, card, config, profile, native, None)
}

/// [`build`], its native bodies sharing `native`, every authority decision
/// appended to `audit` (the spine's durable consumer) when given.
pub fn build_with(
    home: &Path,
    seed: &Path,
    card: Card,
    config: Config,
    profile: Profile,
    native: Arc<NativeHost>,
    audit: Option<Arc<ente_audit::Log>>,
) -> Result<(Core, Handles), String> {
    let capacity = u32::try_from(config.capacity).unwrap_or(u32::MAX);
    let runtime = Runtime::open_sized(home, profile, capacity).map_err(|e| e.to_string())?;
    let wiring = Wiring::new(&config);
    if let Some(log) = audit {
        wiring
            .handles
            .spine
            .attach(Box::new(crate::audit::AuditConsumer(log)));
    }
    let handles = wiring.handles.clone();
    let runner = Arc::new(WasmRunner::with_native(
        Arc::new(runtime),
        handles.clone(),
        native,
    ));
    let core =
        Core::new(config, card, runner, wiring).map_err(|e| format!("{}: {e}", seed.display()))?;
    Ok((core, handles))
}
