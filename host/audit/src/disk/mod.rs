//! The chain on the appliance's state disk: its log region (see
//! `ente_state::slots`), a raw byte range that has no filesystem.
//!
//! ```text
//! 0        the key block: "ENTEAKEY", version, started, has-key, the
//!          signing key's seed and public half, blake3 of those 80 bytes
//! 4096     head slot 0: "ENTEHEAD", generation, end of the records,
//!          length, blake3 of those and the head; then the signed head
//! 8192     head slot 1, the same
//! 12288    records, one per segment, back to back (8-byte aligned):
//!          "ENTESEGM", length, the segment's digest, a check of those
//!          48 bytes; then the segment's bytes
//! ```
//!
//! A head goes into the slot that does not hold the newest one, with a
//! generation one higher, in one 512-byte write, after its segment is
//! synced: a power cut leaves the previous head, and at most the segment
//! of the window in flight unreferenced. Records are found by a scan at
//! open; a record whose header is damaged is skipped by searching for the
//! next header (up to where the newest head says the records end), so that
//! the segments after it are still found and never overwritten. The key
//! block is as writable as the rest of the disk: a verifier holds its own
//! copy of the public key.

use crate::ChainFault;
use crate::entry::{Hash, hex};
use crate::store::Store;
use ed25519_dalek::{SigningKey, VerifyingKey};
use std::collections::HashMap;
use std::fs::File;
use std::io;
use std::os::unix::fs::FileExt;
use std::sync::Mutex;

mod layout;
mod scan;

use layout::{HeadSlot, KeyBlock};

const KEY_MAGIC: &[u8; 8] = b"ENTEAKEY";
const HEAD_MAGIC: &[u8; 8] = b"ENTEHEAD";
const RECORD_MAGIC: &[u8; 8] = b"ENTESEGM";
const VERSION: u16 = 1;
const BLOCK: u64 = 4096;
/// A head slot's bytes: one sector, written at once.
const HEAD_SLOT: usize = 512;
const HEAD_HEADER: usize = 64;
const RECORD_HEADER: u64 = 64;
/// Where the records begin, from the start of the log region.
pub const RECORDS_AT: u64 = 3 * BLOCK;
/// How long a new key waits for the kernel's CSPRNG without blocking.
const SEED_PATIENCE: std::time::Duration = std::time::Duration::from_secs(3);
/// The largest segment a record holds: a group commit's batch is far
/// smaller, and a length read from a disk is never trusted past it.
pub const MAX_SEGMENT: u64 = 16 << 20;
/// What one damaged record's search for the next reads at a time.
const SEARCH_CHUNK: usize = 1 << 20;

/// The chain in a state disk's log region.
#[derive(Debug)]
pub struct DiskStore {
    dev: File,
    /// The region: its offset on the device and its length.
    at: u64,
    len: u64,
    name: String,
    inner: Mutex<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    /// Where each segment's bytes are: offset in the region, length.
    index: HashMap<Hash, (u64, u64)>,
    /// Where the next record goes, in the region.
    end: u64,
    /// The newest head slot whose checksum holds: generation, slot.
    newest: Option<(u64, usize)>,
    /// A head slot that is neither blank nor whole.
    damaged: Option<usize>,
}

impl DiskStore {
    /// The region of `len` bytes at `at` on `dev`, named `name` in
    /// messages; its records are found now.
    pub fn open(dev: File, at: u64, len: u64, name: &str) -> io::Result<DiskStore> {
        if len < RECORDS_AT + BLOCK {
            return Err(io::Error::other(format!(
                "{name}: a log region of {len} bytes is too small for the audit chain"
            )));
        }
        let store = DiskStore {
            dev,
            at,
            len,
            name: name.to_owned(),
            inner: Mutex::new(Inner::default()),
        };
        let mut inner = Inner::default();
        let mut head_end = RECORDS_AT;
        let mut blank = None;
        for slot in 0..2 {
            match store.read_head_slot(slot)? {
                HeadSlot::Blank => blank = Some(slot),
                HeadSlot::Damaged => inner.damaged = Some(slot),
                HeadSlot::Whole {
                    generation, end, ..
                } => {
                    head_end = head_end.max(end);
                    if inner.newest.is_none_or(|(g, _)| generation > g) {
                        inner.newest = Some((generation, slot));
                    }
                }
            }
        }
        // Past its second head both slots hold one for good: a blank slot
        // beside a later generation was erased (the newest head with it).
        if let (Some(slot), Some((generation, _))) = (blank, inner.newest)
            && generation >= 2
        {
            inner.damaged = Some(slot);
        }
        store.scan(&mut inner, head_end)?;
        // A cut loses at most the segment written before its head: records
        // past where the newest head says the records end are each a
        // child of a head's segment, never of one another. One that links
        // to another past the head means the head is older than the log
        // (rolled back).
        if let Some((_, slot)) = inner.newest
            && inner.damaged.is_none()
            && let HeadSlot::Whole { end, .. } = store.read_head_slot(slot)?
            && store.chained_past(&inner, end)
        {
            inner.damaged = Some(slot);
        }
        *store.lock() = inner;
        Ok(store)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn read_at(&self, buf: &mut [u8], offset: u64) -> io::Result<()> {
        self.dev.read_exact_at(buf, self.at + offset)
    }

    fn write_at(&self, buf: &[u8], offset: u64) -> io::Result<()> {
        self.dev.write_all_at(buf, self.at + offset)
    }
}

impl Store for DiskStore {
    fn place(&self) -> String {
        format!("on {}", self.name)
    }

    fn signing_key(&self) -> Result<Option<SigningKey>, ChainFault> {
        Ok(self
            .key_block()?
            .and_then(|b| b.seed)
            .map(|seed| SigningKey::from_bytes(&seed)))
    }

    fn keep_key(&self, key: &SigningKey) -> Result<(), ChainFault> {
        let started = self.started();
        self.put_key_block(started, Some(key))
            .map_err(|e| ChainFault::Key {
                path: self.name.clone(),
                why: e.to_string(),
            })
    }

    fn public_key(&self) -> Result<VerifyingKey, ChainFault> {
        let missing = || ChainFault::Key {
            path: self.name.clone(),
            why: "no audit key on this disk".into(),
        };
        let key = self.signing_key()?.ok_or_else(missing)?;
        Ok(key.verifying_key())
    }

    /// Waits until the kernel's CSPRNG is seeded: a key made from what it
    /// gives before could be guessed. Only the writer waits, at its first
    /// commit on a blank disk; appends do not. It polls rather than block
    /// at once: a blocking getrandom(2) makes the kernel spin the CPU for
    /// jitter, which under emulation slows the whole boot; a hardware
    /// source (virtio-rng) or the boot's own interrupts seed it meanwhile.
    /// Only after [`SEED_PATIENCE`] does it block.
    fn seed(&self) -> Result<[u8; 32], String> {
        let mut seed = [0u8; 32];
        let mut filled = 0;
        let t0 = std::time::Instant::now();
        while filled < seed.len() {
            let flags = if t0.elapsed() < SEED_PATIENCE {
                libc::GRND_NONBLOCK
            } else {
                0
            };
            let rest = &mut seed[filled..];
            // SAFETY: `rest` is a valid, writable buffer of `rest.len()`
            // bytes; getrandom(2) writes at most that many.
            let r = unsafe { libc::getrandom(rest.as_mut_ptr().cast(), rest.len(), flags) };
            if r >= 0 {
                filled += r as usize;
                continue;
            }
            let e = io::Error::last_os_error();
            match e.raw_os_error() {
                Some(libc::EINTR) => {}
                Some(libc::EAGAIN) => std::thread::sleep(std::time::Duration::from_millis(20)),
                _ => return Err(e.to_string()),
            }
        }
        Ok(seed)
    }

    fn head(&self) -> Result<Option<Vec<u8>>, ChainFault> {
        let inner = self.lock();
        if let Some(slot) = inner.damaged {
            return Err(ChainFault::HeadUnreadable {
                why: format!(
                    "head slot {slot} on {} is damaged (cut, or changed)",
                    self.name
                ),
            });
        }
        let Some((_, slot)) = inner.newest else {
            return Ok(None);
        };
        drop(inner);
        let unreadable = |why: String| ChainFault::HeadUnreadable { why };
        match self
            .read_head_slot(slot)
            .map_err(|e| unreadable(e.to_string()))?
        {
            HeadSlot::Whole { bytes, .. } => Ok(Some(bytes)),
            HeadSlot::Blank | HeadSlot::Damaged => Err(unreadable(format!(
                "head slot {slot} on {} changed while it was read",
                self.name
            ))),
        }
    }

    fn put_head(&self, bytes: &[u8]) -> io::Result<()> {
        if bytes.len() > HEAD_SLOT - HEAD_HEADER {
            return Err(io::Error::other(format!(
                "a head of {} bytes does not fit a head slot",
                bytes.len()
            )));
        }
        let mut inner = self.lock();
        // A damaged slot is written first: the whole one is kept.
        // (A generation of u64::MAX is refused as damaged when read.)
        let (generation, slot) = match (inner.damaged, inner.newest) {
            (Some(d), newest) => (newest.map_or(1, |(g, _)| g.saturating_add(1)), d),
            (None, Some((g, s))) => (g.saturating_add(1), 1 - s),
            (None, None) => (1, 0),
        };
        let buf = layout::head_slot(generation, inner.end, bytes);
        self.write_at(&buf, BLOCK * (1 + slot as u64))?;
        self.dev.sync_data()?;
        inner.newest = Some((generation, slot));
        inner.damaged = None;
        Ok(())
    }

    fn segment(&self, digest: &Hash) -> Option<Vec<u8>> {
        let (off, len) = *self.lock().index.get(digest)?;
        let mut bytes = vec![0u8; usize::try_from(len).ok()?];
        self.read_at(&mut bytes, off).ok()?;
        Some(bytes)
    }

    fn put_segment(&self, digest: &Hash, bytes: &[u8]) -> io::Result<()> {
        let mut inner = self.lock();
        if inner.index.contains_key(digest) {
            return Ok(());
        }
        let len = bytes.len() as u64;
        let off = inner.end;
        if len > MAX_SEGMENT || off + RECORD_HEADER + len > self.len {
            return Err(io::Error::other(format!(
                "the audit log region of {} is full: a segment of {len} bytes does not fit after {off} of {} bytes",
                self.name, self.len
            )));
        }
        let record = layout::record(digest, bytes);
        self.write_at(&record, off)?;
        self.dev.sync_data()?;
        inner.index.insert(*digest, (off + RECORD_HEADER, len));
        inner.end = (off + RECORD_HEADER + len).next_multiple_of(8);
        Ok(())
    }

    /// Marked in the key block, or evident from records on the disk: a
    /// region whose key block and heads were wiped is a broken chain, not
    /// a new one.
    fn started(&self) -> bool {
        !self.lock().index.is_empty()
            || matches!(self.key_block(), Ok(Some(KeyBlock { started: true, .. })))
    }

    fn mark_started(&self) -> io::Result<()> {
        match self.key_block() {
            Ok(Some(KeyBlock { started: true, .. })) => Ok(()),
            Ok(block) => {
                let key = block
                    .and_then(|b| b.seed)
                    .map(|s| SigningKey::from_bytes(&s));
                self.put_key_block(true, key.as_ref())
            }
            // A damaged key block: the new chain's first entry recorded
            // the break, and a new key is made at its first commit.
            Err(_) => self.put_key_block(true, None),
        }
    }
}

impl DiskStore {
    /// How much of the log region the records use, and its length.
    pub fn used(&self) -> (u64, u64) {
        (self.lock().end, self.len)
    }

    /// The digests of the records found, for a tamper test to pick one.
    pub fn records(&self) -> Vec<(String, u64)> {
        let mut out: Vec<(String, u64)> = self
            .lock()
            .index
            .iter()
            .map(|(d, (off, _))| (hex(d), self.at + off))
            .collect();
        out.sort_by_key(|(_, off)| *off);
        out
    }
}
