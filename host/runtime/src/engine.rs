//! The one wasmtime `Engine` of a host, and its fingerprint.
//!
//! A build with the `compiler` feature (the default) carries Cranelift and
//! writes machine code. The appliance's /init is built without it: it only
//! loads artifacts that a portable engine wrote when the image was made, so
//! nothing on the appliance can turn bytes into code.

use wasmtime::{Config, Engine, InstanceAllocationStrategy, PoolingAllocationConfig};

/// Bytes of each memory and table slot kept resident between Entes.
pub const KEEP_RESIDENT: usize = 256 << 10;

/// How many Entes one host can hold at once unless told otherwise
/// (component instances in the pool).
pub const MAX_ENTES: u32 = 4096;

/// The largest pool an engine is made with: each Ente reserves about
/// 8.1 GiB of address space (two memory slots, see `MEMORY_RESERVATION`),
/// so this many take about 97 TiB of the 128 TiB a process has.
pub const MAX_POOL: u32 = 12_288;

/// The pool of a runtime that runs a few Entes: `ente run`, `ente test`,
/// and tests in one process.
pub const SMALL_POOL: u32 = 64;

/// Address space reserved for each linear memory, and the guard after it.
/// 4 GiB is every address a 32-bit memory can name: with the guard past
/// it, Cranelift drops the bounds check (and its Spectre mask) from every
/// load and store. Measured on the brain's observer: 2.35x native with a
/// 1 GiB reservation, 1.86x with this one. The cost is address space only:
/// a pool of [`MAX_ENTES`] reserves about 33 TiB of the 128 TiB a process
/// has, so a process holds at most three such pools at once; runtimes for
/// a plugin or a test take a [`SMALL_POOL`].
const MEMORY_RESERVATION: u64 = 4 << 30;
const MEMORY_GUARD: u64 = 32 << 20;
/// The most a linear memory can grow to.
pub(crate) const MAX_MEMORY: usize = 1 << 30;

/// Which machine code the engine writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Profile {
    /// Tuned to this CPU's features (dev mode, benchmarks).
    #[default]
    Native,
    /// The baseline of this architecture, no CPU feature inferred: what an
    /// image precompiles on one machine and the appliance loads on another.
    /// An engine without a compiler is always portable.
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
#[cfg(feature = "compiler")]
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
///
/// `entes` is how many Entes the pool holds. Each component is held to the
/// limits in [`crate::limits`] (core instances, memories, tables), so that
/// one Ente cannot take the slots of the others.
pub fn new_engine(profile: Profile, entes: u32) -> wasmtime::Result<Engine> {
    use crate::limits::{MAX_CORE_INSTANCES, MAX_MEMORIES, MAX_TABLE_ELEMENTS, MAX_TABLES};
    if entes > MAX_POOL {
        wasmtime::bail!(
            "a pool of {entes} Entes: at most {MAX_POOL} (each reserves about 8 GiB of address space, of the 128 TiB a process has)"
        );
    }
    let mut pool = PoolingAllocationConfig::new();
    pool.total_component_instances(entes)
        // A Rust component holds a few core instances (its module and the
        // adapter shims), one memory and a few tables; the totals leave
        // room for Entes with more, and the per-component limits keep any
        // one of them from taking the rest.
        .total_core_instances(entes.saturating_mul(4))
        .total_memories(entes.saturating_mul(2))
        .total_tables(entes.saturating_mul(4))
        .max_core_instances_per_component(MAX_CORE_INSTANCES)
        .max_memories_per_component(MAX_MEMORIES)
        .max_tables_per_component(MAX_TABLES)
        .table_elements(MAX_TABLE_ELEMENTS)
        // Fiber stacks serve only async calls, which ente never makes; a pool
        // of them costs one guard-page mprotect per slot at start-up.
        .total_stacks(0)
        .max_memory_size(MAX_MEMORY)
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
        // 4 GiB per memory and a 32 MiB guard: no bounds checks (see
        // MEMORY_RESERVATION); RSS only grows with use.
        .memory_reservation(MEMORY_RESERVATION)
        .memory_guard_size(MEMORY_GUARD)
        .allocation_strategy(InstanceAllocationStrategy::Pooling(pool));
    // Native unwind tables serve only outside unwinders (a debugger, perf);
    // wasm backtraces and traps do without them. Leaving them out shrinks
    // every artifact and spares each load registering them.
    config.native_unwind_info(false);
    // Copy-on-write memory images cost a memfd per module when a component
    // loads and an mmap per instance. The data segments of ente's Entes are a
    // few KiB, which a copy at instantiation handles for less; idle RSS per
    // Ente is unchanged (12.9 KiB at 1,000), and under emulation the boot is
    // spared the memfd and shmem paths of the kernel.
    config.memory_init_cow(false);
    // `perf` names the guests' functions with ENTE_PERFMAP=1 (it writes
    // /tmp/perf-PID.map); it changes no generated code.
    if std::env::var_os("ENTE_PERFMAP").is_some() {
        config.profiler(wasmtime::ProfilingStrategy::PerfMap);
    }
    #[cfg(feature = "compiler")]
    if profile == Profile::Portable {
        // An explicit target turns off CPU feature inference.
        config.target(&host_triple())?;
    }
    // A loading-only engine infers nothing: every profile is portable.
    #[cfg(not(feature = "compiler"))]
    let _ = profile;
    Engine::new(&config)
}

/// The profile an engine built for `profile` actually has.
pub fn effective(profile: Profile) -> Profile {
    if cfg!(feature = "compiler") {
        profile
    } else {
        Profile::Portable
    }
}

/// Whether this build can compile components (the `compiler` feature).
pub const CAN_COMPILE: bool = cfg!(feature = "compiler");

/// The wasmtime release this host is pinned to (`=` in the workspace manifest).
pub const WASMTIME_VERSION: &str = "48.0.8";

/// A blake3 digest of what makes a precompiled artifact loadable by an
/// engine of `profile`: the wasmtime release, the architecture and OS, the
/// engine settings above and, for a native engine, the CPU features it
/// inferred. A compiling engine and a loading-only one of the same portable
/// profile agree on it, which lets an image precompile for the appliance.
/// wasmtime checks the artifact's own settings again when it loads it.
pub fn fingerprint(engine: &Engine, profile: Profile) -> [u8; 32] {
    let profile = effective(profile);
    let mut h = blake3::Hasher::new();
    // The tag moves when what ente checks before it compiles changes (2: the
    // strings' encoding), so that artifacts compiled before are not taken.
    h.update(b"ente-engine/2\0")
        .update(WASMTIME_VERSION.as_bytes())
        .update(b"\0")
        .update(std::env::consts::ARCH.as_bytes())
        .update(b"\0")
        .update(std::env::consts::OS.as_bytes())
        .update(b"\0")
        .update(settings().as_bytes());
    match profile {
        Profile::Portable => {
            h.update(b"\0portable");
        }
        Profile::Native => {
            h.update(b"\0native\0");
            native_features(engine, &mut h);
        }
    }
    *h.finalize().as_bytes()
}

/// The engine settings that shape generated code, as text.
fn settings() -> String {
    format!(
        "components epochs pooling reservation={MEMORY_RESERVATION} guard={MEMORY_GUARD} \
         max_memory={MAX_MEMORY} unwind=none"
    )
}

#[cfg(feature = "compiler")]
fn native_features(engine: &Engine, h: &mut blake3::Hasher) {
    use std::hash::Hash;
    let mut hasher = Blake3Hasher(h);
    engine.precompile_compatibility_hash().hash(&mut hasher);
}

#[cfg(not(feature = "compiler"))]
fn native_features(_: &Engine, _: &mut blake3::Hasher) {
    // `effective` makes every engine of this build portable.
}

#[cfg(feature = "compiler")]
struct Blake3Hasher<'a>(&'a mut blake3::Hasher);

#[cfg(feature = "compiler")]
impl std::hash::Hasher for Blake3Hasher<'_> {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_pinned_wasmtime_is_the_one_in_the_manifest() {
        let manifest = include_str!("../../../Cargo.toml");
        let pin = format!("wasmtime = {{ version = \"={WASMTIME_VERSION}\"");
        assert!(
            manifest.contains(&pin),
            "Cargo.toml does not pin `{pin}`: update WASMTIME_VERSION with the pin"
        );
    }

    /// wasmtime's own hash of what a portable engine compiles with, when
    /// `settings()` was last written for it.
    #[cfg(feature = "compiler")]
    const PORTABLE_COMPILE_ENV: &str =
        "839deda85a9deb767677ec790af536e4cbd68da1df4173d1503ac2b8585b0a9e";

    #[cfg(feature = "compiler")]
    #[test]
    fn the_portable_fingerprint_follows_every_setting_wasmtime_compiles_with() {
        // A loading-only engine cannot compute wasmtime's hash, so the
        // portable fingerprint is written by hand (`settings()`). When any
        // setting that shapes the code changes, wasmtime's hash changes and
        // this fails: change `settings()` (or the tag) with it, so that old
        // artifacts are not taken for new ones.
        use std::hash::Hash;
        let engine = new_engine(Profile::Portable, SMALL_POOL).expect("portable engine");
        let mut h = blake3::Hasher::new();
        engine
            .precompile_compatibility_hash()
            .hash(&mut Blake3Hasher(&mut h));
        assert_eq!(
            h.finalize().to_hex().as_str(),
            PORTABLE_COMPILE_ENV,
            "the portable engine's compile settings changed: update settings() and this value"
        );
    }

    #[cfg(feature = "compiler")]
    #[test]
    fn a_native_fingerprint_follows_what_the_engine_inferred_from_the_cpu() {
        // The same profile, engines that generate different code: a native
        // engine infers this CPU's features, a portable one assumes none.
        let native = new_engine(Profile::Native, SMALL_POOL).expect("native engine");
        let portable = new_engine(Profile::Portable, SMALL_POOL).expect("portable engine");
        assert_ne!(
            fingerprint(&native, Profile::Native),
            fingerprint(&portable, Profile::Native)
        );
    }
}
