//! The one wasmtime `Engine` of a host, and its fingerprint.

use wasmtime::{Config, Engine, InstanceAllocationStrategy, PoolingAllocationConfig};

/// How many Entes one host can hold at once (component instances in the pool).
pub const MAX_ENTES: u32 = 4096;

/// The engine every Ente runs on: the pooling allocator (instantiation in a
/// few microseconds, no mmap per instance) and epoch interruption (a guest in
/// an endless loop is stopped at its deadline).
pub fn new_engine() -> wasmtime::Result<Engine> {
    let mut pool = PoolingAllocationConfig::new();
    pool.total_component_instances(MAX_ENTES)
        // A Rust component holds a few core instances (its module and the
        // adapter shims), one memory and a few tables.
        .total_core_instances(MAX_ENTES * 4)
        .total_memories(MAX_ENTES)
        .total_tables(MAX_ENTES * 4)
        .total_stacks(MAX_ENTES)
        .max_memory_size(1 << 30);
    let mut config = Config::new();
    config
        .wasm_component_model(true)
        .epoch_interruption(true)
        // A 1 GiB reservation per memory with a 32 MiB guard keeps 4096 slots
        // within a few TiB of address space; RSS only grows with use.
        .memory_reservation(1 << 30)
        .memory_guard_size(32 << 20)
        .allocation_strategy(InstanceAllocationStrategy::Pooling(pool));
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
