//! Finding a log region's records: a scan from the first, stepping over
//! a damaged header by searching for the next whole one, and the check
//! that the records past the newest head are only what a cut leaves.

use super::layout::array;
use super::{DiskStore, Inner, MAX_SEGMENT, RECORD_HEADER, RECORD_MAGIC, RECORDS_AT, SEARCH_CHUNK};
use crate::entry::Hash;
use std::collections::HashMap;
use std::io;

impl DiskStore {
    /// Index every record; the records end where the scan stops, or where
    /// the newest head says, whichever is further.
    pub(super) fn scan(&self, inner: &mut Inner, head_end: u64) -> io::Result<()> {
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
    pub(super) fn record(&self, header: &[u8], off: u64) -> Option<(Hash, u64)> {
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
    pub(super) fn search(&self, from: u64, to: u64) -> io::Result<Option<u64>> {
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

    /// Whether a record past `end` is the child of another record past it.
    pub(super) fn chained_past(&self, inner: &Inner, end: u64) -> bool {
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
}
