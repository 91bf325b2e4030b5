//! The one wasmtime `Engine` of a host, and its fingerprint.

use wasmtime::{Config, Engine, InstanceAllocationStrategy, PoolingAllocationConfig};

/// Bytes of each memory and table slot kept resident between Entes.
pub const KEEP_RESIDENT: usize = 256 << 10;

/// How many Entes one host can hold at once (component instances in the pool).
pub const MAX_ENTES: u32 = 4096;

/// Which machine code the engine writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Profile {
    /// Tuned to this CPU's features (dev mode, benchmarks).
    #[default]
    Native,
    /// The baseline of this architecture, no CPU feature inferred: what an
    /// image precompiles on one machine and the appliance loads on another.
    Portable,
}

impl Profile {
    /// `ENTE_ENGINE=portable` selects [`Profile::Portable`].
    pub fn from_env() -> Profile {
        match std::env::var("ENTE_ENGINE").as_deref() {
            Ok("portable") => Profile::Portable,
            _ => Profile::Native,
        }
    }
}

/// The target triple this binary runs on.
fn host_triple() -> String {
    let env = if cfg!(target_env = "musl") {
        "musl"
    } else {
        "gnu"
    };
    format!(
        "{}-unknown-{}-{env}",
        std::env::consts::ARCH,
        std::env::consts::OS
    )
}

/// The engine every Ente runs on: the pooling allocator (instantiation in a
/// few microseconds, no mmap per instance) and epoch interruption (a guest in
/// an endless loop is stopped at its deadline).
pub fn new_engine(profile: Profile) -> wasmtime::Result<Engine> {
    let mut pool = PoolingAllocationConfig::new();
    pool.total_component_instances(MAX_ENTES)
        // A Rust component holds a few core instances (its module and the
        // adapter shims), one memory and a few tables.
        .total_core_instances(MAX_ENTES * 4)
        .total_memories(MAX_ENTES)
        .total_tables(MAX_ENTES * 4)
        // Fiber stacks serve only async calls, which ente never makes; a pool
        // of them costs one guard-page mprotect per slot at start-up.
        .total_stacks(0)
        .max_memory_size(1 << 30)
        // A new Ente's first call touches its stack, data and heap pages.
        // Keeping the low part of a slot resident (zeroed with memset on
        // reuse instead of madvise) saves those page faults; the guests in
        // guests/ link a 64 KiB stack so that it falls in this part.
        .linear_memory_keep_resident(KEEP_RESIDENT)
        .table_keep_resident(KEEP_RESIDENT);
    let mut config = Config::new();
    config
        .wasm_component_model(true)
        .epoch_interruption(true)
        // A 1 GiB reservation per memory with a 32 MiB guard keeps 4096 slots
        // within a few TiB of address space; RSS only grows with use.
        .memory_reservation(1 << 30)
        .memory_guard_size(32 << 20)
        .allocation_strategy(InstanceAllocationStrategy::Pooling(pool));
    if profile == Profile::Portable {
        // An explicit target turns off CPU feature inference.
        config.target(&host_triple())?;
    }
    Engine::new(&config)
}

/// A blake3 digest of everything that makes a precompiled artifact loadable
/// by `engine` (wasmtime version, target, and the settings that matter).
pub fn fingerprint(engine: &Engine) -> [u8; 32] {
    use std::hash::Hash;
    let mut hasher = Blake3Hasher(blake3::Hasher::new());
    engine.precompile_compatibility_hash().hash(&mut hasher);
    *hasher.0.finalize().as_bytes()
}

struct Blake3Hasher(blake3::Hasher);

impl std::hash::Hasher for Blake3Hasher {
    fn finish(&self) -> u64 {
        let d = self.0.finalize();
        let mut first = [0u8; 8];
        first.copy_from_slice(&d.as_bytes()[..8]);
        u64::from_le_bytes(first)
    }

    fn write(&mut self, bytes: &[u8]) {
        self.0.update(bytes);
    }
}
