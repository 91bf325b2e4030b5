//! The byte layout of a log region's key block, head slots and record
//! headers (see the module above): encoding, and reading back with every
//! field checked.

use super::{
    BLOCK, DiskStore, HEAD_HEADER, HEAD_MAGIC, HEAD_SLOT, KEY_MAGIC, RECORD_HEADER, RECORD_MAGIC,
    RECORDS_AT, VERSION,
};
use crate::ChainFault;
use crate::entry::Hash;
use ed25519_dalek::SigningKey;
use std::io;

/// The key block's contents.
pub(super) struct KeyBlock {
    /// A chain was started here: a head missing now is a fault.
    pub(super) started: bool,
    /// The signing key's seed, once made.
    pub(super) seed: Option<[u8; 32]>,
}

/// A head slot, read.
pub(super) enum HeadSlot {
    Blank,
    Damaged,
    Whole {
        generation: u64,
        end: u64,
        bytes: Vec<u8>,
    },
}

pub(super) fn head_digest(generation: u64, end: u64, bytes: &[u8]) -> [u8; 32] {
    let mut h = blake3::Hasher::new();
    h.update(&generation.to_le_bytes());
    h.update(&end.to_le_bytes());
    h.update(&(bytes.len() as u64).to_le_bytes());
    h.update(bytes);
    *h.finalize().as_bytes()
}

pub(super) fn array<const N: usize>(bytes: &[u8]) -> [u8; N] {
    let mut out = [0u8; N];
    out.copy_from_slice(&bytes[..N]);
    out
}

/// A head slot holding `bytes` (at most `HEAD_SLOT - HEAD_HEADER`), the
/// records ending at `end`.
pub(super) fn head_slot(generation: u64, end: u64, bytes: &[u8]) -> [u8; HEAD_SLOT] {
    let mut buf = [0u8; HEAD_SLOT];
    buf[..8].copy_from_slice(HEAD_MAGIC);
    buf[8..16].copy_from_slice(&generation.to_le_bytes());
    buf[16..24].copy_from_slice(&end.to_le_bytes());
    // Fits: a head is checked against the slot before.
    buf[24..28].copy_from_slice(&(bytes.len() as u32).to_le_bytes());
    buf[32..64].copy_from_slice(&head_digest(generation, end, bytes));
    buf[HEAD_HEADER..HEAD_HEADER + bytes.len()].copy_from_slice(bytes);
    buf
}

/// A record: its header (magic, length, the segment's digest, a check of
/// those), then the segment's bytes (at most `MAX_SEGMENT`).
pub(super) fn record(digest: &Hash, bytes: &[u8]) -> Vec<u8> {
    let mut record = Vec::with_capacity(RECORD_HEADER as usize + bytes.len());
    record.extend_from_slice(RECORD_MAGIC);
    // Fits: a segment is checked against `MAX_SEGMENT` before.
    record.extend_from_slice(&(bytes.len() as u32).to_le_bytes());
    record.extend_from_slice(&[0; 4]);
    record.extend_from_slice(digest);
    let check = blake3::hash(&record[..48]);
    record.extend_from_slice(&check.as_bytes()[..16]);
    record.extend_from_slice(bytes);
    record
}

impl DiskStore {
    pub(super) fn read_head_slot(&self, slot: usize) -> io::Result<HeadSlot> {
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
    pub(super) fn key_block(&self) -> Result<Option<KeyBlock>, ChainFault> {
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

    pub(super) fn put_key_block(&self, started: bool, key: Option<&SigningKey>) -> io::Result<()> {
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

#[cfg(test)]
mod tests {
    //! Hostile regions whose checksums all hold, so that every length,
    //! offset and generation read from them is what the code must bound.

    use super::*;
    use proptest::prelude::*;
    use std::os::unix::fs::FileExt;

    const REGION: u64 = 64 << 10;

    fn key_block(seed: [u8; 32], started: bool) -> [u8; 112] {
        let mut buf = [0u8; 112];
        buf[..8].copy_from_slice(KEY_MAGIC);
        buf[8..10].copy_from_slice(&VERSION.to_le_bytes());
        buf[10] = u8::from(started);
        buf[11] = 1;
        buf[16..48].copy_from_slice(&seed);
        let public = SigningKey::from_bytes(&seed).verifying_key();
        buf[48..80].copy_from_slice(public.as_bytes());
        let digest = blake3::hash(&buf[..80]);
        buf[80..].copy_from_slice(digest.as_bytes());
        buf
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(96))]

        #[test]
        fn well_checksummed_hostile_fields_never_panic(
            seed in any::<[u8; 32]>(),
            heads in proptest::collection::vec(
                (any::<u64>(), any::<u64>(), proptest::collection::vec(any::<u8>(), 0..200)),
                2,
            ),
            records in proptest::collection::vec(
                (any::<[u8; 32]>(), proptest::collection::vec(any::<u8>(), 0..600), 0u64..4),
                0..12,
            ),
            lengths in proptest::collection::vec(any::<u32>(), 12),
        ) {
            let dir = tempfile::tempdir().expect("dir");
            let path = dir.path().join("region");
            let f = std::fs::File::create(&path).expect("create");
            f.set_len(REGION).expect("len");
            f.write_all_at(&key_block(seed, true), 0).expect("key");
            for (slot, (generation, end, bytes)) in heads.iter().enumerate() {
                // Ends near the records half of the time, anywhere else too.
                let end = if end % 2 == 0 { RECORDS_AT + end % 4096 } else { *end };
                let buf = head_slot(*generation, end, bytes);
                f.write_all_at(&buf, BLOCK * (1 + slot as u64)).expect("head");
            }
            let mut off = RECORDS_AT;
            for (i, (digest, body, gap)) in records.iter().enumerate() {
                let mut rec = record(digest, body);
                // A length that lies, with its header's check made to hold.
                if lengths[i] % 3 == 0 {
                    rec[8..12].copy_from_slice(&lengths[i].to_le_bytes());
                    let check = blake3::hash(&rec[..48]);
                    rec[48..64].copy_from_slice(&check.as_bytes()[..16]);
                }
                if off + rec.len() as u64 > REGION {
                    break;
                }
                f.write_all_at(&rec, off).expect("record");
                off = (off + rec.len() as u64 + gap * 8).next_multiple_of(8);
            }
            let dev = std::fs::File::options().read(true).write(true).open(&path).expect("open");
            let store = DiskStore::open(dev, 0, REGION, "region").expect("opens");
            let key = SigningKey::from_bytes(&seed).verifying_key();
            let _ = crate::walk(&store, &key);
            let _ = store.records();
            let _ = crate::Log::open_in(Box::new(store), 16);
        }
    }
}
