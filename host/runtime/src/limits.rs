//! What one Ente's store may hold: linear memory in all (from its card's
//! `soma.rlimits.mem_bytes`), table elements, and how many core instances,
//! tables and memories its component may create. A component over any of
//! these is refused at instantiation, and a guest that grows past its memory
//! traps with [`MemoryLimitReached`], a fault the host reports as such.

use std::sync::atomic::{AtomicU64, Ordering};
use wasmtime::{ResourceLimiter, Result};

/// Linear memory an Ente may use, in all its memories, unless its card says
/// otherwise.
pub const DEFAULT_MEMORY_LIMIT: u64 = 128 << 20;
/// The most linear memory a Wasm Ente can have: the size of one slot of the
/// pooling allocator. A card that asks for more is refused, not capped.
pub const MAX_MEMORY_LIMIT: u64 = crate::engine::MAX_MEMORY as u64;
/// Core instances one component may create (a Rust component has two or
/// three; a Python one built by componentize-py a few dozen).
pub const MAX_CORE_INSTANCES: u32 = 100;
/// Linear memories one component may define.
pub const MAX_MEMORIES: u32 = 4;
/// Tables one component may define.
pub const MAX_TABLES: u32 = 32;
/// Elements of one table.
pub const MAX_TABLE_ELEMENTS: usize = 20_000;

/// A store asked for more linear memory than its Ente may have.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("memory limit of {limit} bytes reached: the Ente asked for {wanted} bytes in all")]
pub struct MemoryLimitReached {
    pub limit: u64,
    pub wanted: u64,
}

/// A table asked for more elements than an Ente's table may have.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("table limit of {limit} elements reached: a table asked for {wanted}")]
pub struct TableLimitReached {
    pub limit: usize,
    pub wanted: usize,
}

/// The limiter of one store.
#[derive(Debug)]
pub struct EnteLimiter {
    memory_limit: u64,
    /// Bytes of linear memory in use, over all the store's memories.
    memory_used: u64,
    /// The last growth allowed, to undo if the memory then failed to grow.
    last: Option<(u64, u64)>,
    /// Where the store's use is added to its Ente's (over its live bodies):
    /// what the metrics and `ente ctl status` show.
    shared: Option<std::sync::Arc<AtomicU64>>,
}

impl EnteLimiter {
    pub fn new(memory_limit: u64) -> EnteLimiter {
        EnteLimiter {
            memory_limit,
            memory_used: 0,
            last: None,
            shared: None,
        }
    }

    /// Add this store's use to `shared` while it lives.
    pub fn counted_in(mut self, shared: std::sync::Arc<AtomicU64>) -> EnteLimiter {
        self.shared = Some(shared);
        self
    }

    fn set_used(&mut self, used: u64) {
        if let Some(shared) = &self.shared {
            if used >= self.memory_used {
                shared.fetch_add(used - self.memory_used, Ordering::Relaxed);
            } else {
                shared.fetch_sub(self.memory_used - used, Ordering::Relaxed);
            }
        }
        self.memory_used = used;
    }

    pub fn memory_limit(&self) -> u64 {
        self.memory_limit
    }

    /// Bytes of linear memory the store holds.
    pub fn memory_used(&self) -> u64 {
        self.memory_used
    }
}

impl Drop for EnteLimiter {
    /// The store is gone: its memory no longer counts.
    fn drop(&mut self) {
        self.set_used(0);
    }
}

impl ResourceLimiter for EnteLimiter {
    fn memory_growing(
        &mut self,
        current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> Result<bool> {
        let (current, desired) = (current as u64, desired as u64);
        let wanted = self
            .memory_used
            .saturating_sub(current)
            .saturating_add(desired);
        if wanted > self.memory_limit {
            return Err(wasmtime::Error::new(MemoryLimitReached {
                limit: self.memory_limit,
                wanted,
            }));
        }
        self.last = Some((current, desired));
        self.set_used(wanted);
        Ok(true)
    }

    /// A growth within the limit that failed anyway (past the memory's own
    /// maximum) is not counted, and `memory.grow` returns -1 as the
    /// specification says.
    fn memory_grow_failed(&mut self, _error: wasmtime::Error) -> Result<()> {
        if let Some((current, desired)) = self.last.take() {
            let used = self
                .memory_used
                .saturating_sub(desired)
                .saturating_add(current);
            self.set_used(used);
        }
        Ok(())
    }

    fn table_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> Result<bool> {
        if desired > MAX_TABLE_ELEMENTS {
            return Err(wasmtime::Error::new(TableLimitReached {
                limit: MAX_TABLE_ELEMENTS,
                wanted: desired,
            }));
        }
        Ok(true)
    }

    fn instances(&self) -> usize {
        MAX_CORE_INSTANCES as usize
    }

    fn tables(&self) -> usize {
        MAX_TABLES as usize
    }

    fn memories(&self) -> usize {
        MAX_MEMORIES as usize
    }
}

/// The memory limit of a card's `mem_bytes`: the default when absent, and
/// an error naming the field and the rule when it is more than a Wasm Ente
/// can have.
pub fn memory_limit(mem_bytes: Option<u64>) -> Result<u64, MemoryOverCap> {
    match mem_bytes {
        None => Ok(DEFAULT_MEMORY_LIMIT),
        Some(m) if m <= MAX_MEMORY_LIMIT => Ok(m),
        Some(m) => Err(MemoryOverCap { asked: m }),
    }
}

/// A card asked for more memory than a Wasm Ente can have.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("soma.rlimits.mem_bytes = {asked}: {}", MemoryOverCap::RULE)]
pub struct MemoryOverCap {
    pub asked: u64,
}

impl MemoryOverCap {
    /// The rule, in words.
    pub const RULE: &str = "a Wasm Ente can have at most 1073741824 bytes (1 GiB) of linear memory; refused rather than capped";
}

const _: () = assert!(
    MAX_MEMORY_LIMIT == 1 << 30,
    "MemoryOverCap::RULE names the limit"
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_entes_memory_is_the_sum_of_its_live_stores() {
        let shared = std::sync::Arc::new(AtomicU64::new(0));
        let mut a = EnteLimiter::new(1 << 20).counted_in(shared.clone());
        let mut b = EnteLimiter::new(1 << 20).counted_in(shared.clone());
        assert!(a.memory_growing(0, 65536, None).expect("within"));
        assert!(b.memory_growing(0, 131072, None).expect("within"));
        assert_eq!(shared.load(Ordering::Relaxed), 196608);
        // A growth allowed that then failed is taken back.
        assert!(a.memory_growing(65536, 131072, None).expect("within"));
        a.memory_grow_failed(wasmtime::Error::msg("past its maximum"))
            .expect("noted");
        assert_eq!(shared.load(Ordering::Relaxed), 196608);
        // Refused: nothing counted.
        assert!(b.memory_growing(131072, 2 << 20, None).is_err());
        assert_eq!(shared.load(Ordering::Relaxed), 196608);
        drop(b);
        assert_eq!(shared.load(Ordering::Relaxed), 65536);
        drop(a);
        assert_eq!(shared.load(Ordering::Relaxed), 0);
    }

    #[test]
    fn growth_counts_every_memory_of_the_store() {
        let mut l = EnteLimiter::new(3 << 16);
        assert!(l.memory_growing(0, 1 << 16, None).expect("first"));
        assert!(l.memory_growing(0, 2 << 16, None).expect("second"));
        let err = l
            .memory_growing(1 << 16, 2 << 16, None)
            .expect_err("over the limit in all");
        let reached = err.downcast_ref::<MemoryLimitReached>().expect("typed");
        assert_eq!(reached.wanted, 4 << 16);
        assert_eq!(l.memory_used(), 3 << 16);
    }

    #[test]
    fn a_failed_growth_is_not_counted() {
        let mut l = EnteLimiter::new(10 << 16);
        assert!(l.memory_growing(0, 2 << 16, None).expect("allowed"));
        let _ = l.memory_grow_failed(wasmtime::Error::msg("no"));
        assert_eq!(l.memory_used(), 0);
    }

    #[test]
    fn a_card_over_the_slot_is_refused_not_capped() {
        assert_eq!(memory_limit(None), Ok(DEFAULT_MEMORY_LIMIT));
        assert_eq!(memory_limit(Some(1 << 30)), Ok(1 << 30));
        let err = memory_limit(Some(2 << 30)).expect_err("over");
        assert!(
            err.to_string()
                .contains("soma.rlimits.mem_bytes = 2147483648")
        );
    }
}
