//! Where a chain is kept. A [`Store`] holds the segments by their blake3
//! digest, the signed head, the signing key and the mark that a chain was
//! started. Two kinds:
//!
//! - [`Home`]: under an `$ENTE_HOME`, segments in the content-addressed
//!   store (`cas/<blake3>`), the head and key in `audit/`. Every write is a
//!   temporary file, fsync, rename, fsync of the directory: a crash leaves
//!   the old file or the new one, never half.
//! - [`crate::DiskStore`]: the log region of the appliance's state disk.

use crate::ChainFault;
use crate::entry::{Hash, Head, Segment, VERSION, encode, hex};
use ed25519_dalek::{Signature, Signer, SigningKey, Verifier, VerifyingKey};
use std::fs;
use std::io;
use std::path::{Path, PathBuf};

pub(crate) use ente_state::file::write_atomic;

/// Where a chain's parts are kept.
pub trait Store: Send + Sync + std::fmt::Debug {
    /// Where this is, for messages ("under /home", "on /dev/vda").
    fn place(&self) -> String;
    /// The signing key kept with the chain, once one was made.
    fn signing_key(&self) -> Result<Option<SigningKey>, ChainFault>;
    /// Keep a new signing key, and its public half beside it.
    fn keep_key(&self, key: &SigningKey) -> Result<(), ChainFault>;
    /// The public key kept beside the chain (a verifier that holds its own
    /// copy passes it instead: this one is as writable as the chain).
    fn public_key(&self) -> Result<VerifyingKey, ChainFault>;
    /// 32 bytes for a new key, from the kernel's CSPRNG.
    fn seed(&self) -> Result<[u8; 32], String> {
        let mut seed = [0u8; 32];
        getrandom::fill(&mut seed).map_err(|e| e.to_string())?;
        Ok(seed)
    }
    /// The head's bytes; `None` when no head was ever written.
    fn head(&self) -> Result<Option<Vec<u8>>, ChainFault>;
    /// Replace the head, atomically and durably.
    fn put_head(&self, bytes: &[u8]) -> io::Result<()>;
    /// The bytes stored under `digest`, unchecked; `None` when absent.
    fn segment(&self, digest: &Hash) -> Option<Vec<u8>>;
    /// Store `bytes` under their digest, durably.
    fn put_segment(&self, digest: &Hash, bytes: &[u8]) -> io::Result<()>;
    /// Whether a chain was ever started here: a head missing then is a
    /// fault, not a first start.
    fn started(&self) -> bool;
    fn mark_started(&self) -> io::Result<()>;
}

/// A chain under an `$ENTE_HOME`.
#[derive(Debug, Clone)]
pub struct Home(pub PathBuf);

pub(crate) fn audit_dir(home: &Path) -> PathBuf {
    home.join("audit")
}

pub fn head_path(home: &Path) -> PathBuf {
    audit_dir(home).join("head")
}

pub fn public_key_path(home: &Path) -> PathBuf {
    audit_dir(home).join("key.pub")
}

fn key_path(home: &Path) -> PathBuf {
    audit_dir(home).join("key")
}

pub(crate) fn segment_path(home: &Path, digest: &Hash) -> PathBuf {
    home.join("cas").join(hex(digest))
}

impl Store for Home {
    fn place(&self) -> String {
        format!("under {}", self.0.display())
    }

    fn signing_key(&self) -> Result<Option<SigningKey>, ChainFault> {
        let path = key_path(&self.0);
        match fs::read(&path) {
            Ok(bytes) => {
                let seed: [u8; 32] = bytes.as_slice().try_into().map_err(|_| ChainFault::Key {
                    path: path.display().to_string(),
                    why: format!("{} bytes, not 32", bytes.len()),
                })?;
                Ok(Some(SigningKey::from_bytes(&seed)))
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(ChainFault::Key {
                path: path.display().to_string(),
                why: e.to_string(),
            }),
        }
    }

    fn keep_key(&self, key: &SigningKey) -> Result<(), ChainFault> {
        let path = key_path(&self.0);
        let io = |e: io::Error| ChainFault::Key {
            path: path.display().to_string(),
            why: e.to_string(),
        };
        write_atomic(&path, key.as_bytes(), 0o600).map_err(io)?;
        write_atomic(
            &public_key_path(&self.0),
            format!("{}\n", hex(key.verifying_key().as_bytes())).as_bytes(),
            0o644,
        )
        .map_err(io)
    }

    fn public_key(&self) -> Result<VerifyingKey, ChainFault> {
        stored_public_key(&self.0)
    }

    fn head(&self) -> Result<Option<Vec<u8>>, ChainFault> {
        match fs::read(head_path(&self.0)) {
            Ok(b) => Ok(Some(b)),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(ChainFault::HeadUnreadable { why: e.to_string() }),
        }
    }

    fn put_head(&self, bytes: &[u8]) -> io::Result<()> {
        write_atomic(&head_path(&self.0), bytes, 0o644)
    }

    fn segment(&self, digest: &Hash) -> Option<Vec<u8>> {
        fs::read(segment_path(&self.0, digest)).ok()
    }

    fn put_segment(&self, digest: &Hash, bytes: &[u8]) -> io::Result<()> {
        let path = segment_path(&self.0, digest);
        if !path.exists() {
            write_atomic(&path, bytes, 0o644)?;
        }
        Ok(())
    }

    fn started(&self) -> bool {
        audit_dir(&self.0).join("started").exists()
    }

    fn mark_started(&self) -> io::Result<()> {
        write_atomic(&audit_dir(&self.0).join("started"), b"", 0o644)
    }
}

/// The public key kept beside the chain under `home`.
pub fn stored_public_key(home: &Path) -> Result<VerifyingKey, ChainFault> {
    let path = public_key_path(home);
    let text = fs::read_to_string(&path).map_err(|e| ChainFault::Key {
        path: path.display().to_string(),
        why: e.to_string(),
    })?;
    parse_public_key(text.trim()).ok_or(ChainFault::Key {
        path: path.display().to_string(),
        why: "not 64 hex characters of an ed25519 public key".into(),
    })
}

pub fn parse_public_key(hex_key: &str) -> Option<VerifyingKey> {
    let bytes = crate::entry::from_hex(hex_key)?;
    VerifyingKey::from_bytes(&bytes).ok()
}

/// Sign and write the head.
pub(crate) fn write_head(store: &dyn Store, head: &Head, key: &SigningKey) -> io::Result<()> {
    let body = encode(head);
    let sig = key.sign(&body);
    let mut bytes = body;
    bytes.extend_from_slice(&sig.to_bytes());
    store.put_head(&bytes)
}

/// Read the head and check its signature against `key`.
pub fn read_head(store: &dyn Store, key: &VerifyingKey) -> Result<Head, ChainFault> {
    let Some(bytes) = store.head()? else {
        return Err(ChainFault::NoHead);
    };
    if bytes.len() < 64 {
        return Err(ChainFault::HeadTruncated { len: bytes.len() });
    }
    let (body, sig) = bytes.split_at(bytes.len() - 64);
    let head: Head =
        postcard::from_bytes(body).map_err(|_| ChainFault::HeadTruncated { len: bytes.len() })?;
    let sig =
        Signature::from_slice(sig).map_err(|_| ChainFault::HeadSignature { seq: head.seq })?;
    if key.verify(body, &sig).is_err() || head.key != *key.as_bytes() {
        return Err(ChainFault::HeadSignature { seq: head.seq });
    }
    if head.version != VERSION {
        return Err(ChainFault::Version {
            what: "head",
            version: head.version,
        });
    }
    Ok(head)
}

/// Store a segment; its digest.
pub(crate) fn put_segment(store: &dyn Store, segment: &Segment) -> io::Result<Hash> {
    let bytes = encode(segment);
    let digest = *blake3::hash(&bytes).as_bytes();
    store.put_segment(&digest, &bytes)?;
    Ok(digest)
}

/// Read the segment `digest` from `store`, its bytes checked against its
/// name. `newer_seq`: the seq the entry after it has, to name a missing one.
pub fn get_segment(
    store: &dyn Store,
    digest: &Hash,
    newer_seq: u64,
) -> Result<Segment, ChainFault> {
    let bytes = store
        .segment(digest)
        .ok_or_else(|| ChainFault::SegmentMissing {
            before_seq: newer_seq,
            digest: hex(digest),
        })?;
    if blake3::hash(&bytes).as_bytes() != digest {
        return Err(ChainFault::SegmentTampered {
            before_seq: newer_seq,
            digest: hex(digest),
        });
    }
    let segment: Segment =
        postcard::from_bytes(&bytes).map_err(|_| ChainFault::SegmentTampered {
            before_seq: newer_seq,
            digest: hex(digest),
        })?;
    if segment.version != VERSION {
        return Err(ChainFault::Version {
            what: "segment",
            version: segment.version,
        });
    }
    Ok(segment)
}
