//! The host's own settings: deadlines, supervision, limits. Each has a
//! default stated here; `ente up` takes each as a flag.

use ente_bus::BusConfig;
use std::time::Duration;

/// Linear memory an Ente has when its card sets no `mem_bytes` (the Wasm
/// runner's default; a spawned child never gets more than its spawner).
pub const DEFAULT_MEMORY: u64 = 128 << 20;

/// How many starts in how long end a crash loop (systemd's
/// `StartLimitBurst` and `StartLimitIntervalSec`, with its defaults).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StartLimit {
    pub burst: u32,
    pub interval: Duration,
}

impl Default for StartLimit {
    fn default() -> StartLimit {
        StartLimit {
            burst: 5,
            interval: Duration::from_secs(10),
        }
    }
}

#[derive(Debug, Clone)]
pub struct Config {
    /// Every call into an Ente, its instantiation, and its `lifecycle.stop`.
    pub call_deadline: Duration,
    /// How long a stop waits for a call in progress before it kills the body.
    pub stop_grace: Duration,
    pub start_limit: StartLimit,
    /// An Ente that stayed ready this long starts its backoff over from
    /// `initial_ms` at its next failure.
    pub backoff_reset: Duration,
    /// Live children an Ente may spawn when its card sets no
    /// `soma.rlimits.nproc`.
    pub children: u32,
    /// Entes the host holds at most (the runner's pool).
    pub capacity: usize,
    /// Host deliveries (uevents, wake-ups) waiting for one Ente; one more is
    /// dropped and counted.
    pub deliveries: usize,
    /// Threads that run guest code.
    pub workers: usize,
    /// Events the spine keeps for consumers that fall behind.
    pub spine_ring: usize,
    /// How often expired leases are purged.
    pub purge_every: Duration,
    /// Events handed to the brain in one call, at most.
    pub brain_batch: usize,
    /// How long an event waits for its batch to fill before the batch goes.
    pub brain_every: Duration,
    pub bus: BusConfig,
}

impl Default for Config {
    fn default() -> Config {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        Config {
            call_deadline: Duration::from_secs(5),
            stop_grace: Duration::from_secs(2),
            start_limit: StartLimit::default(),
            backoff_reset: Duration::from_secs(10),
            children: 64,
            capacity: 4096,
            deliveries: 64,
            workers: (cores * 2).max(4),
            spine_ring: 1024,
            purge_every: Duration::from_secs(5),
            brain_batch: 1024,
            brain_every: Duration::from_millis(5),
            bus: BusConfig::default(),
        }
    }
}
