//! The WASI calls that can take long, held to the calling Ente's deadline.
//!
//! - `wasi:io/poll` (`poll`, `pollable.block`): a sleep, or a wait on a
//!   stream, ends at the call's deadline or when the host kills the Ente,
//!   with that fault; the time waited is not charged as running time.
//! - `wasi:random/*`: bytes come from the kernel in large reads (wasmtime-
//!   wasi's own makes a call per byte: 64 MiB took 25 s), a request larger
//!   than the Ente's memory limit is refused at once (it could never be
//!   returned), and the deadline is checked between chunks. The secure ones
//!   wait for the kernel's CSPRNG to be seeded; the insecure ones never do.

use crate::entropy::{insecure_fill, kernel_fill};
use crate::interrupt::{Clock, Interrupt, bounded, check};
use crate::limits::MemoryLimitReached;
use crate::state::EnteState;
use wasmtime::component::{HasData, Resource, ResourceTable};
use wasmtime_wasi::p2::bindings::random::{insecure, insecure_seed, random};
use wasmtime_wasi::p2::bindings::sync::io::poll;
use wasmtime_wasi::runtime::in_tokio;
use wasmtime_wasi_io::bindings::wasi::io::poll as async_poll;
use wasmtime_wasi_io::poll::DynPollable;

/// Random bytes are read and the deadline checked this many at a time.
const CHUNK: usize = 1 << 20;

/// What a bounded WASI call sees of its Ente's store.
pub(crate) struct Bounded<'a> {
    table: &'a mut ResourceTable,
    clock: Clock,
    interrupt: &'a Interrupt,
    memory_limit: u64,
    seed: &'a mut Option<u128>,
}

pub(crate) struct BoundedWasi;

impl HasData for BoundedWasi {
    type Data<'a> = Bounded<'a>;
}

pub(crate) fn bounded_view(s: &mut EnteState) -> Bounded<'_> {
    Bounded {
        table: &mut s.table,
        clock: s.clock,
        interrupt: &s.interrupt,
        memory_limit: s.limiter.memory_limit(),
        seed: &mut s.insecure_seed,
    }
}

impl Bounded<'_> {
    fn wait<R>(
        &mut self,
        work: impl AsyncFnOnce(&mut ResourceTable) -> wasmtime::Result<R>,
    ) -> wasmtime::Result<R> {
        let _paused = crate::cpu::pause();
        let (clock, interrupt) = (self.clock, self.interrupt);
        let table = &mut *self.table;
        in_tokio(async move { bounded(clock, interrupt, work(table)).await })
    }

    fn bytes(&self, len: u64, secure: bool) -> wasmtime::Result<Vec<u8>> {
        if len > self.memory_limit {
            return Err(wasmtime::Error::new(MemoryLimitReached {
                limit: self.memory_limit,
                wanted: len,
            }));
        }
        let mut out = vec![0u8; usize::try_from(len)?];
        for chunk in out.chunks_mut(CHUNK) {
            check(&self.clock, self.interrupt)?;
            if secure {
                kernel_fill(chunk).map_err(|e| {
                    wasmtime::Error::msg(format!("the kernel gives no random bytes: {e}"))
                })?;
            } else {
                insecure_fill(chunk);
            }
        }
        Ok(out)
    }
}

impl poll::Host for Bounded<'_> {
    fn poll(&mut self, pollables: Vec<Resource<DynPollable>>) -> wasmtime::Result<Vec<u32>> {
        self.wait(async move |t| async_poll::Host::poll(t, pollables).await)
    }
}

impl poll::HostPollable for Bounded<'_> {
    fn ready(&mut self, pollable: Resource<DynPollable>) -> wasmtime::Result<bool> {
        self.wait(async move |t| async_poll::HostPollable::ready(t, pollable).await)
    }

    fn block(&mut self, pollable: Resource<DynPollable>) -> wasmtime::Result<()> {
        self.wait(async move |t| async_poll::HostPollable::block(t, pollable).await)
    }

    fn drop(&mut self, pollable: Resource<DynPollable>) -> wasmtime::Result<()> {
        async_poll::HostPollable::drop(self.table, pollable)
    }
}

impl random::Host for Bounded<'_> {
    fn get_random_bytes(&mut self, len: u64) -> wasmtime::Result<Vec<u8>> {
        self.bytes(len, true)
    }

    fn get_random_u64(&mut self) -> wasmtime::Result<u64> {
        let mut b = [0u8; 8];
        kernel_fill(&mut b)
            .map_err(|e| wasmtime::Error::msg(format!("the kernel gives no random bytes: {e}")))?;
        Ok(u64::from_ne_bytes(b))
    }
}

impl insecure::Host for Bounded<'_> {
    fn get_insecure_random_bytes(&mut self, len: u64) -> wasmtime::Result<Vec<u8>> {
        self.bytes(len, false)
    }

    fn get_insecure_random_u64(&mut self) -> wasmtime::Result<u64> {
        let mut b = [0u8; 8];
        insecure_fill(&mut b);
        Ok(u64::from_ne_bytes(b))
    }
}

impl insecure_seed::Host for Bounded<'_> {
    fn insecure_seed(&mut self) -> wasmtime::Result<(u64, u64)> {
        let seed = *self.seed.get_or_insert_with(|| {
            let mut b = [0u8; 16];
            insecure_fill(&mut b);
            u128::from_ne_bytes(b)
        });
        Ok((seed as u64, (seed >> 64) as u64))
    }
}
