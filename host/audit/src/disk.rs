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

/// The key block's contents.
struct KeyBlock {
    /// A chain was started here: a head missing now is a fault.
    started: bool,
    /// The signing key's seed, once made.
    seed: Option<[u8; 32]>,
}

/// A head slot, read.
enum HeadSlot {
    Blank,
    Damaged,
    Whole {
        generation: u64,
        end: u64,
        bytes: Vec<u8>,
    },
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

    /// Whether a record past `end` is the child of another record past it.
    fn chained_past(&self, inner: &Inner, end: u64) -> bool {
        let past: HashMap<&Hash, &(u64, u64)> = inner
            .index
            .iter()
            .filter(|(_, (off, _))| *off > end)
            .collect();
        past.values().any(|&&(off, len)| {
            let mut bytes = vec![0u8; len as usize];
            self.read_at(&mut bytes, off).is_ok()
                && postcard::from_bytes::<crate::entry::Segment>(&bytes)
                    .ok()
                    .and_then(|s| s.prev_segment)
                    .is_some_and(|prev| past.contains_key(&prev))
        })
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

    /// Index every record; the records end where the scan stops, or where
    /// the newest head says, whichever is further.
    fn scan(&self, inner: &mut Inner, head_end: u64) -> io::Result<()> {
        let mut off = RECORDS_AT;
        let mut header = [0u8; RECORD_HEADER as usize];
        while off + RECORD_HEADER <= self.len {
            self.read_at(&mut header, off)?;
            if let Some((digest, len)) = self.record(&header, off) {
                inner.index.insert(digest, (off + RECORD_HEADER, len));
                off = (off + RECORD_HEADER + len).next_multiple_of(8);
                continue;
            }
            if off >= head_end {
                break;
            }
            // Damaged (or erased) before where the head says the records
            // end: the next whole record is searched for.
            // Not found before it: the scan goes on from there (a segment
            // whose head a cut kept from the disk may lie at it).
            off = self.search(off + 8, head_end)?.unwrap_or(head_end);
        }
        inner.end = off.max(head_end);
        Ok(())
    }

    /// A whole record header at `off`: the segment's digest and length.
    fn record(&self, header: &[u8], off: u64) -> Option<(Hash, u64)> {
        if &header[..8] != RECORD_MAGIC || header[12..16] != [0; 4] {
            return None;
        }
        if blake3::hash(&header[..48]).as_bytes()[..16] != header[48..64] {
            return None;
        }
        let len = u64::from(u32::from_le_bytes(array(&header[8..12])));
        if len > MAX_SEGMENT || off + RECORD_HEADER + len > self.len {
            return None;
        }
        Some((array(&header[16..48]), len))
    }

    /// The first 8-aligned offset in `[from, to)` where a whole record
    /// header is.
    fn search(&self, from: u64, to: u64) -> io::Result<Option<u64>> {
        let mut at = from.next_multiple_of(8);
        let mut chunk = vec![0u8; SEARCH_CHUNK + RECORD_HEADER as usize];
        while at < to {
            let n = ((to - at) as usize + RECORD_HEADER as usize)
                .min(chunk.len())
                .min((self.len - at) as usize);
            if n < RECORD_HEADER as usize {
                return Ok(None);
            }
            self.read_at(&mut chunk[..n], at)?;
            let mut i = 0;
            while i + RECORD_HEADER as usize <= n && at + (i as u64) < to {
                let header = &chunk[i..i + RECORD_HEADER as usize];
                if header[..8] == *RECORD_MAGIC && self.record(header, at + i as u64).is_some() {
                    return Ok(Some(at + i as u64));
                }
                i += 8;
            }
            at += i as u64;
        }
        Ok(None)
    }

    fn read_head_slot(&self, slot: usize) -> io::Result<HeadSlot> {
        let mut buf = [0u8; HEAD_SLOT];
        self.read_at(&mut buf, BLOCK * (1 + slot as u64))?;
        if buf.iter().all(|&b| b == 0) {
            return Ok(HeadSlot::Blank);
        }
        let generation = u64::from_le_bytes(array(&buf[8..16]));
        let end = u64::from_le_bytes(array(&buf[16..24]));
        let len = u32::from_le_bytes(array(&buf[24..28])) as usize;
        if &buf[..8] != HEAD_MAGIC || len > HEAD_SLOT - HEAD_HEADER {
            return Ok(HeadSlot::Damaged);
        }
        let bytes = &buf[HEAD_HEADER..HEAD_HEADER + len];
        if head_digest(generation, end, bytes) != buf[32..64] {
            return Ok(HeadSlot::Damaged);
        }
        // Where the records end: within the region, where a record may be.
        if end < RECORDS_AT || end > self.len || !end.is_multiple_of(8) || generation == u64::MAX {
            return Ok(HeadSlot::Damaged);
        }
        Ok(HeadSlot::Whole {
            generation,
            end,
            bytes: bytes.to_vec(),
        })
    }

    /// The key block; `None` when blank.
    fn key_block(&self) -> Result<Option<KeyBlock>, ChainFault> {
        let mut buf = [0u8; 112];
        self.read_at(&mut buf, 0).map_err(|e| ChainFault::Key {
            path: self.name.clone(),
            why: e.to_string(),
        })?;
        if buf.iter().all(|&b| b == 0) {
            return Ok(None);
        }
        let damaged = &buf[..8] != KEY_MAGIC
            || u16::from_le_bytes(array(&buf[8..10])) != VERSION
            || blake3::hash(&buf[..80]).as_bytes() != &buf[80..112];
        if damaged {
            return Err(ChainFault::Key {
                path: format!("{} (the audit key block)", self.name),
                why: "damaged: its checksum does not hold".into(),
            });
        }
        Ok(Some(KeyBlock {
            started: buf[10] == 1,
            seed: (buf[11] == 1).then(|| array(&buf[16..48])),
        }))
    }

    fn put_key_block(&self, started: bool, key: Option<&SigningKey>) -> io::Result<()> {
        let mut buf = [0u8; 112];
        buf[..8].copy_from_slice(KEY_MAGIC);
        buf[8..10].copy_from_slice(&VERSION.to_le_bytes());
        buf[10] = u8::from(started);
        if let Some(key) = key {
            buf[11] = 1;
            buf[16..48].copy_from_slice(key.as_bytes());
            buf[48..80].copy_from_slice(key.verifying_key().as_bytes());
        }
        let digest = blake3::hash(&buf[..80]);
        buf[80..].copy_from_slice(digest.as_bytes());
        self.write_at(&buf, 0)?;
        self.dev.sync_data()
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
        let mut buf = [0u8; HEAD_SLOT];
        buf[..8].copy_from_slice(HEAD_MAGIC);
        buf[8..16].copy_from_slice(&generation.to_le_bytes());
        buf[16..24].copy_from_slice(&inner.end.to_le_bytes());
        buf[24..28].copy_from_slice(&(bytes.len() as u32).to_le_bytes());
        buf[32..64].copy_from_slice(&head_digest(generation, inner.end, bytes));
        buf[HEAD_HEADER..HEAD_HEADER + bytes.len()].copy_from_slice(bytes);
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
        let mut record = Vec::with_capacity((RECORD_HEADER + len) as usize);
        record.extend_from_slice(RECORD_MAGIC);
        record.extend_from_slice(&(len as u32).to_le_bytes());
        record.extend_from_slice(&[0; 4]);
        record.extend_from_slice(digest);
        let check = blake3::hash(&record[..48]);
        record.extend_from_slice(&check.as_bytes()[..16]);
        record.extend_from_slice(bytes);
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

fn head_digest(generation: u64, end: u64, bytes: &[u8]) -> [u8; 32] {
    let mut h = blake3::Hasher::new();
    h.update(&generation.to_le_bytes());
    h.update(&end.to_le_bytes());
    h.update(&(bytes.len() as u64).to_le_bytes());
    h.update(bytes);
    *h.finalize().as_bytes()
}

fn array<const N: usize>(bytes: &[u8]) -> [u8; N] {
    let mut out = [0u8; N];
    out.copy_from_slice(&bytes[..N]);
    out
}
