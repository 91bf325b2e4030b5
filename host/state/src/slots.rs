//! The appliance's state disk: a raw block device (or a file) with a label
//! and two alternating slots. A snapshot goes into the slot that does not
//! hold the newest one, with a generation one higher, so that a power cut
//! in the middle of a write leaves the newest complete snapshot where it
//! was. A blank disk is labelled on first use; a disk that is neither blank
//! nor labelled by ente is refused and never written.
//!
//! ```text
//! 0         the label (64 bytes, a 4 KiB block): "ENTEDISK", version,
//!           zero, the slot length, where the log region begins and its
//!           length, blake3 of those 32 bytes
//! 4096      slot 0: a 64-byte slot header ("ENTESLOT", generation,
//!           length, zero, blake3 of generation, length and payload), then
//!           the payload: a snapshot's bytes (see `codec`)
//! 4096+L    slot 1, the same
//! log_at    the log region, reserved for the audit chain
//! ```

use crate::{Snapshot, SnapshotFault, codec};
use std::fs::File;
use std::io;
use std::os::unix::fs::FileExt;

const LABEL_MAGIC: &[u8; 8] = b"ENTEDISK";
const SLOT_MAGIC: &[u8; 8] = b"ENTESLOT";
/// The label's format version.
pub const DISK_VERSION: u16 = 1;
const BLOCK: u64 = 4096;
const SLOT_HEADER: u64 = 64;
/// The smallest disk ente labels: the label, two slots of 64 KiB, and a
/// log region of 64 KiB.
pub const MIN_DISK: u64 = BLOCK + 3 * (64 << 10);
/// A disk is blank when this much of its start (or all of a smaller one)
/// is zeros: a filesystem or partition table that keeps its first blocks
/// zero (ISO 9660 keeps 32 KiB) is not taken for blank.
const BLANK_SPAN: u64 = 1 << 20;

/// Why a state disk cannot be used, or a write did not happen.
#[derive(Debug, thiserror::Error)]
pub enum DiskError {
    #[error(
        "the state disk is neither blank nor ente's (it begins {found}): refused, never written"
    )]
    Foreign { found: String },
    #[error("the state disk's label is damaged ({why}): refused, never written")]
    BadLabel { why: String },
    #[error("the state disk is blank: it holds no ente state yet")]
    Blank,
    #[error("the state disk holds {len} bytes, fewer than ente needs ({MIN_DISK})")]
    TooSmall { len: u64 },
    #[error("a snapshot of {len} bytes does not fit a slot of {slot} bytes")]
    TooLargeForSlot { len: usize, slot: u64 },
    #[error("the snapshot cannot be encoded: {0}")]
    Encode(SnapshotFault),
    #[error("the state disk: {0}")]
    Io(#[from] io::Error),
}

/// Why one slot holds no snapshot to restore.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SlotFault {
    #[error("never written")]
    Blank,
    #[error("its header is damaged")]
    Header,
    #[error("its length ({len}) runs past the slot")]
    Length { len: u64 },
    #[error("its checksum does not match: a write was cut short, or the disk changed")]
    Checksum,
    #[error("{0}")]
    Snapshot(SnapshotFault),
}

/// The geometry a label records.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Label {
    pub slot_len: u64,
    pub log_at: u64,
    pub log_len: u64,
}

/// What reading both slots found.
#[derive(Debug, Default)]
pub struct Found {
    /// The newest valid snapshot, with its generation and slot.
    pub newest: Option<(u64, usize, Snapshot)>,
    /// The highest generation of a slot whose checksum holds, restorable
    /// or not (one of another format version, say): the next write goes
    /// above it, into the other slot.
    pub highest: Option<(u64, usize)>,
    /// The slots that held nothing to restore, and why (a blank slot is
    /// listed too).
    pub faults: Vec<(usize, SlotFault)>,
}

/// A slot read: its generation when whole, and its snapshot or its fault.
type SlotRead = (Option<u64>, Result<(u64, Snapshot), SlotFault>);

/// A state disk, opened.
#[derive(Debug)]
pub struct StateDisk {
    dev: File,
    label: Label,
    /// The highest whole generation and its slot, once known.
    newest: Option<(u64, usize)>,
}

impl StateDisk {
    /// Open `dev`: a blank disk is labelled (`true`), an
    /// ente disk is checked, anything else refused.
    pub fn open(dev: File) -> Result<(StateDisk, bool), DiskError> {
        let (block, len) = first_block(&dev)?;
        if is_blank(&dev, &block, len)? {
            let label = geometry(len);
            dev.write_all_at(&encode_label(&label), 0)?;
            // Both slot headers blank, whatever was under them.
            let blank = [0u8; SLOT_HEADER as usize];
            dev.write_all_at(&blank, slot_at(&label, 0))?;
            dev.write_all_at(&blank, slot_at(&label, 1))?;
            dev.sync_all()?;
            let disk = StateDisk {
                dev,
                label,
                newest: None,
            };
            return Ok((disk, true));
        }
        Ok((StateDisk::labelled(dev, &block, len)?, false))
    }

    /// Open `dev` to read it only (`ente snapshot show --disk`): nothing is
    /// ever written, and a blank disk is said to be one.
    pub fn inspect(dev: File) -> Result<StateDisk, DiskError> {
        let (block, len) = first_block(&dev)?;
        if is_blank(&dev, &block, len)? {
            return Err(DiskError::Blank);
        }
        StateDisk::labelled(dev, &block, len)
    }

    /// A disk whose first block is `block`: ente's label, checked, or a
    /// refusal.
    fn labelled(dev: File, block: &[u8], len: u64) -> Result<StateDisk, DiskError> {
        if &block[..8] != LABEL_MAGIC {
            return Err(DiskError::Foreign {
                found: describe(&block[..16]),
            });
        }
        let label = decode_label(&block[..64], len)?;
        Ok(StateDisk {
            dev,
            label,
            newest: None,
        })
    }

    pub fn label(&self) -> Label {
        self.label
    }

    /// The device again, for what keeps the log region (the audit chain).
    pub fn device(&self) -> io::Result<File> {
        self.dev.try_clone()
    }

    /// Read both slots: the newest valid snapshot, and what is wrong with
    /// the other.
    pub fn read(&mut self) -> Result<Found, DiskError> {
        let mut found = Found::default();
        for slot in 0..2 {
            let (whole, read) = self.read_slot(slot)?;
            if let Some(generation) = whole
                && found.highest.is_none_or(|(g, _)| generation > g)
            {
                found.highest = Some((generation, slot));
            }
            match read {
                Ok((generation, snapshot)) => {
                    if found
                        .newest
                        .as_ref()
                        .is_none_or(|(g, _, _)| generation > *g)
                    {
                        found.newest = Some((generation, slot, snapshot));
                    }
                }
                Err(fault) => found.faults.push((slot, fault)),
            }
        }
        self.newest = found.highest;
        Ok(found)
    }

    /// Write `snapshot` into the slot that does not hold the newest one;
    /// its generation. The newest is read first when it is not known.
    pub fn write(&mut self, snapshot: &Snapshot) -> Result<u64, DiskError> {
        self.write_paced(snapshot, |_| {})
    }

    /// [`StateDisk::write`], calling `pace` with the bytes written so far
    /// after each 64 KiB of the payload (a test slows the writer with it,
    /// to cut the power in the middle).
    pub fn write_paced(
        &mut self,
        snapshot: &Snapshot,
        pace: impl FnMut(u64),
    ) -> Result<u64, DiskError> {
        let payload = codec::encode(snapshot).map_err(DiskError::Encode)?;
        self.write_encoded(&payload, pace)
    }

    /// [`StateDisk::write_paced`] of a snapshot already encoded (by
    /// [`codec::encode`]: a slot holds what it gives).
    pub fn write_encoded(
        &mut self,
        payload: &[u8],
        mut pace: impl FnMut(u64),
    ) -> Result<u64, DiskError> {
        let room = self.label.slot_len - SLOT_HEADER;
        if payload.len() as u64 > room {
            return Err(DiskError::TooLargeForSlot {
                len: payload.len(),
                slot: room,
            });
        }
        if self.newest.is_none() {
            self.read()?;
        }
        let (generation, slot) = match self.newest {
            Some((g, s)) => (g + 1, 1 - s),
            None => (1, 0),
        };
        let at = slot_at(&self.label, slot);
        // The header first goes blank, so that a cut write is never taken
        // for the slot's older contents.
        self.dev.write_all_at(&[0u8; SLOT_HEADER as usize], at)?;
        self.dev.sync_data()?;
        let mut written = 0u64;
        for chunk in payload.chunks(64 << 10) {
            self.dev.write_all_at(chunk, at + SLOT_HEADER + written)?;
            written += chunk.len() as u64;
            pace(written);
        }
        self.dev.sync_data()?;
        self.dev
            .write_all_at(&slot_header(generation, payload), at)?;
        self.dev.sync_data()?;
        self.newest = Some((generation, slot));
        Ok(generation)
    }

    /// One slot: its generation when its header and checksum hold, and its
    /// snapshot or why there is none.
    fn read_slot(&self, slot: usize) -> Result<SlotRead, DiskError> {
        let at = slot_at(&self.label, slot);
        let mut header = [0u8; SLOT_HEADER as usize];
        self.dev.read_exact_at(&mut header, at)?;
        if header.iter().all(|&b| b == 0) {
            return Ok((None, Err(SlotFault::Blank)));
        }
        if &header[..8] != SLOT_MAGIC || header[20..32].iter().any(|&b| b != 0) {
            return Ok((None, Err(SlotFault::Header)));
        }
        let generation = u64::from_le_bytes(array(&header[8..16]));
        let len = u64::from(u32::from_le_bytes(array(&header[16..20])));
        if len > self.label.slot_len - SLOT_HEADER {
            return Ok((None, Err(SlotFault::Length { len })));
        }
        let mut payload = vec![0u8; len as usize];
        self.dev.read_exact_at(&mut payload, at + SLOT_HEADER)?;
        if slot_digest(generation, &payload) != header[32..64] {
            return Ok((None, Err(SlotFault::Checksum)));
        }
        Ok((
            Some(generation),
            codec::decode(&payload)
                .map(|s| (generation, s))
                .map_err(SlotFault::Snapshot),
        ))
    }
}

/// The disk's first block and its length, once it is large enough.
fn first_block(dev: &File) -> Result<(Vec<u8>, u64), DiskError> {
    let len = device_len(dev)?;
    if len < MIN_DISK {
        return Err(DiskError::TooSmall { len });
    }
    let mut block = vec![0u8; BLOCK as usize];
    dev.read_exact_at(&mut block, 0)?;
    Ok((block, len))
}

/// Whether the disk's first [`BLANK_SPAN`] bytes are all zero (`block`,
/// its first block, read already).
fn is_blank(dev: &File, block: &[u8], len: u64) -> Result<bool, DiskError> {
    if block.iter().any(|&b| b != 0) {
        return Ok(false);
    }
    let mut rest = vec![0u8; (len.min(BLANK_SPAN) - BLOCK) as usize];
    dev.read_exact_at(&mut rest, BLOCK)?;
    Ok(rest.iter().all(|&b| b == 0))
}

fn device_len(dev: &File) -> io::Result<u64> {
    use std::io::{Seek, SeekFrom};
    // A block device's metadata says 0; seeking to its end says its size.
    let mut d = dev;
    let len = d.seek(SeekFrom::End(0))?;
    d.seek(SeekFrom::Start(0))?;
    Ok(len)
}

/// Two slots of an eighth of the disk each (at most what a snapshot may
/// hold, at least 64 KiB), the rest the log region.
fn geometry(len: u64) -> Label {
    let max_slot = codec::MAX_SNAPSHOT as u64 + SLOT_HEADER;
    let slot_len =
        ((len - BLOCK) / 8 / BLOCK * BLOCK).clamp(64 << 10, max_slot.next_multiple_of(BLOCK));
    let log_at = BLOCK + 2 * slot_len;
    Label {
        slot_len,
        log_at,
        log_len: len.saturating_sub(log_at),
    }
}

fn slot_at(label: &Label, slot: usize) -> u64 {
    BLOCK + slot as u64 * label.slot_len
}

fn encode_label(label: &Label) -> [u8; 64] {
    let mut out = [0u8; 64];
    out[..8].copy_from_slice(LABEL_MAGIC);
    out[8..10].copy_from_slice(&DISK_VERSION.to_le_bytes());
    // The slot length fits: it is at most MAX_SNAPSHOT plus a block.
    out[12..16].copy_from_slice(&(label.slot_len as u32).to_le_bytes());
    out[16..24].copy_from_slice(&label.log_at.to_le_bytes());
    out[24..32].copy_from_slice(&label.log_len.to_le_bytes());
    let digest = blake3::hash(&out[..32]);
    out[32..].copy_from_slice(digest.as_bytes());
    out
}

fn decode_label(bytes: &[u8], disk_len: u64) -> Result<Label, DiskError> {
    let bad = |why: String| DiskError::BadLabel { why };
    if blake3::hash(&bytes[..32]).as_bytes() != &bytes[32..64] {
        return Err(bad("its checksum does not match".into()));
    }
    let version = u16::from_le_bytes(array(&bytes[8..10]));
    if version != DISK_VERSION {
        return Err(bad(format!(
            "version {version}, this host reads {DISK_VERSION}"
        )));
    }
    let label = Label {
        slot_len: u64::from(u32::from_le_bytes(array(&bytes[12..16]))),
        log_at: u64::from_le_bytes(array(&bytes[16..24])),
        log_len: u64::from_le_bytes(array(&bytes[24..32])),
    };
    let max_slot = (codec::MAX_SNAPSHOT as u64 + SLOT_HEADER).next_multiple_of(BLOCK);
    let fits = label.slot_len >= 64 << 10
        && label.slot_len <= max_slot
        && label.slot_len.is_multiple_of(BLOCK)
        && label.log_at == BLOCK + 2 * label.slot_len
        && label
            .log_at
            .checked_add(label.log_len)
            .is_some_and(|end| end <= disk_len);
    if !fits {
        return Err(bad(format!(
            "slots of {} bytes and a log of {} at {} do not fit a disk of {disk_len} bytes",
            label.slot_len, label.log_len, label.log_at
        )));
    }
    Ok(label)
}

fn slot_header(generation: u64, payload: &[u8]) -> [u8; SLOT_HEADER as usize] {
    let mut out = [0u8; SLOT_HEADER as usize];
    out[..8].copy_from_slice(SLOT_MAGIC);
    out[8..16].copy_from_slice(&generation.to_le_bytes());
    // Fits: a payload is at most MAX_SNAPSHOT.
    out[16..20].copy_from_slice(&(payload.len() as u32).to_le_bytes());
    out[32..].copy_from_slice(&slot_digest(generation, payload));
    out
}

fn slot_digest(generation: u64, payload: &[u8]) -> [u8; 32] {
    let mut h = blake3::Hasher::new();
    h.update(&generation.to_le_bytes());
    h.update(&(payload.len() as u64).to_le_bytes());
    h.update(payload);
    *h.finalize().as_bytes()
}

fn array<const N: usize>(bytes: &[u8]) -> [u8; N] {
    let mut out = [0u8; N];
    out.copy_from_slice(&bytes[..N]);
    out
}

fn describe(bytes: &[u8]) -> String {
    let text: String = bytes
        .iter()
        .map(|&b| if b.is_ascii_graphic() { b as char } else { '.' })
        .collect();
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    format!("{hex} \"{text}\"")
}
