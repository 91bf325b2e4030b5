//! A snapshot's bytes: a fixed header, then the postcard body.
//!
//! ```text
//! 0   8  magic "ENTESNAP"
//! 8   2  format version, little endian
//! 10  2  zero
//! 12  4  body length, little endian
//! 16 32  blake3 of the body
//! 48     the body: postcard of `Snapshot`
//! ```

use crate::{Snapshot, SnapshotFault};

pub const MAGIC: &[u8; 8] = b"ENTESNAP";
/// The format version this host writes and reads.
pub const VERSION: u16 = 1;
pub const HEADER_LEN: usize = 48;
/// The most a snapshot may hold, its header included.
pub const MAX_SNAPSHOT: usize = 64 << 20;

/// The bytes of `snapshot`, or its size when it is more than a snapshot may
/// hold.
pub fn encode(snapshot: &Snapshot) -> Result<Vec<u8>, SnapshotFault> {
    let body =
        postcard::to_stdvec(snapshot).map_err(|e| SnapshotFault::Garbled { why: e.to_string() })?;
    let len = HEADER_LEN + body.len();
    if len > MAX_SNAPSHOT {
        return Err(SnapshotFault::TooLarge { len });
    }
    let mut out = Vec::with_capacity(len);
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&VERSION.to_le_bytes());
    out.extend_from_slice(&[0, 0]);
    // Fits: `len` is at most MAX_SNAPSHOT.
    out.extend_from_slice(&(body.len() as u32).to_le_bytes());
    out.extend_from_slice(blake3::hash(&body).as_bytes());
    out.extend_from_slice(&body);
    Ok(out)
}

/// The length of the snapshot that `bytes` begin with, from its header
/// alone (a slot holds a snapshot and then whatever the slot held before).
pub fn framed_len(bytes: &[u8]) -> Result<usize, SnapshotFault> {
    let header = bytes.get(..HEADER_LEN).ok_or(SnapshotFault::Truncated {
        have: bytes.len(),
        want: HEADER_LEN,
    })?;
    if &header[..8] != MAGIC {
        return Err(SnapshotFault::NotASnapshot {
            found: String::from_utf8_lossy(&header[..8]).into_owned(),
        });
    }
    let version = u16::from_le_bytes([header[8], header[9]]);
    if version != VERSION {
        return Err(SnapshotFault::Version { found: version });
    }
    let body = u32::from_le_bytes([header[12], header[13], header[14], header[15]]) as usize;
    let len = HEADER_LEN.saturating_add(body);
    if len > MAX_SNAPSHOT {
        return Err(SnapshotFault::TooLarge { len });
    }
    if header[10..12] != [0, 0] {
        return Err(SnapshotFault::Garbled {
            why: "the header's reserved bytes are not zero".into(),
        });
    }
    Ok(len)
}

/// The snapshot `bytes` hold, all of them, checked: magic, version, length,
/// checksum, then the body.
pub fn decode(bytes: &[u8]) -> Result<Snapshot, SnapshotFault> {
    let len = framed_len(bytes)?;
    if bytes.len() < len {
        return Err(SnapshotFault::Truncated {
            have: bytes.len(),
            want: len,
        });
    }
    if bytes.len() > len {
        return Err(SnapshotFault::Trailing {
            extra: bytes.len() - len,
        });
    }
    let body = &bytes[HEADER_LEN..];
    if blake3::hash(body).as_bytes() != &bytes[16..HEADER_LEN] {
        return Err(SnapshotFault::Checksum);
    }
    let (snapshot, rest) = postcard::take_from_bytes::<Snapshot>(body)
        .map_err(|e| SnapshotFault::Garbled { why: e.to_string() })?;
    if !rest.is_empty() {
        return Err(SnapshotFault::Garbled {
            why: format!("{} bytes after the snapshot's end", rest.len()),
        });
    }
    Ok(snapshot)
}
