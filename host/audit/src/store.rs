//! Where the chain lives under a home: segments in the content-addressed
//! store (`cas/<blake3>`), the signed head and the signing key in
//! `audit/`. Every write is a temporary file, fsync, rename, fsync of the
//! directory: a crash leaves the old file or the new one, never half.

use crate::ChainFault;
use crate::entry::{Hash, Head, Segment, VERSION, encode, hex};
use ed25519_dalek::{Signature, Signer, SigningKey, Verifier, VerifyingKey};
use std::fs;
use std::io;
use std::path::{Path, PathBuf};

pub(crate) fn audit_dir(home: &Path) -> PathBuf {
    home.join("audit")
}

pub fn head_path(home: &Path) -> PathBuf {
    audit_dir(home).join("head")
}

pub fn public_key_path(home: &Path) -> PathBuf {
    audit_dir(home).join("key.pub")
}

pub(crate) fn segment_path(home: &Path, digest: &Hash) -> PathBuf {
    home.join("cas").join(hex(digest))
}

pub(crate) use ente_state::file::write_atomic;

/// The home's signing key: made (owner-only) at first use.
pub(crate) fn signing_key(home: &Path) -> Result<SigningKey, ChainFault> {
    let path = audit_dir(home).join("key");
    match fs::read(&path) {
        Ok(bytes) => {
            let seed: [u8; 32] = bytes.as_slice().try_into().map_err(|_| ChainFault::Key {
                path: path.clone(),
                why: format!("{} bytes, not 32", bytes.len()),
            })?;
            Ok(SigningKey::from_bytes(&seed))
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            let mut seed = [0u8; 32];
            getrandom::fill(&mut seed).map_err(|e| ChainFault::Key {
                path: path.clone(),
                why: format!("no randomness for a new key: {e}"),
            })?;
            let key = SigningKey::from_bytes(&seed);
            let io = |e: io::Error| ChainFault::Key {
                path: path.clone(),
                why: e.to_string(),
            };
            write_atomic(&path, &seed, 0o600).map_err(io)?;
            write_atomic(
                &public_key_path(home),
                format!("{}\n", hex(key.verifying_key().as_bytes())).as_bytes(),
                0o644,
            )
            .map_err(io)?;
            Ok(key)
        }
        Err(e) => Err(ChainFault::Key {
            path,
            why: e.to_string(),
        }),
    }
}

/// The public key kept beside the chain (a verifier that holds its own
/// copy passes it instead: this one is as writable as the chain).
pub fn stored_public_key(home: &Path) -> Result<VerifyingKey, ChainFault> {
    let path = public_key_path(home);
    let text = fs::read_to_string(&path).map_err(|e| ChainFault::Key {
        path: path.clone(),
        why: e.to_string(),
    })?;
    parse_public_key(text.trim()).ok_or(ChainFault::Key {
        path,
        why: "not 64 hex characters of an ed25519 public key".into(),
    })
}

pub fn parse_public_key(hex_key: &str) -> Option<VerifyingKey> {
    let bytes = crate::entry::from_hex(hex_key)?;
    VerifyingKey::from_bytes(&bytes).ok()
}

/// Sign and write the head.
pub(crate) fn write_head(home: &Path, head: &Head, key: &SigningKey) -> io::Result<()> {
    let body = encode(head);
    let sig = key.sign(&body);
    let mut bytes = body;
    bytes.extend_from_slice(&sig.to_bytes());
    write_atomic(&head_path(home), &bytes, 0o644)
}

/// Read the head and check its signature against `key`.
pub fn read_head(home: &Path, key: &VerifyingKey) -> Result<Head, ChainFault> {
    let path = head_path(home);
    let bytes = match fs::read(&path) {
        Ok(b) => b,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Err(ChainFault::NoHead),
        Err(e) => {
            return Err(ChainFault::HeadUnreadable { why: e.to_string() });
        }
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
pub(crate) fn put_segment(home: &Path, segment: &Segment) -> io::Result<Hash> {
    let bytes = encode(segment);
    let digest = *blake3::hash(&bytes).as_bytes();
    let path = segment_path(home, &digest);
    if !path.exists() {
        write_atomic(&path, &bytes, 0o644)?;
    }
    Ok(digest)
}

/// Read the segment `digest`, its bytes checked against its name.
/// `newer_seq`: the seq the entry after it has, to name a missing one.
pub fn get_segment(home: &Path, digest: &Hash, newer_seq: u64) -> Result<Segment, ChainFault> {
    let path = segment_path(home, digest);
    let bytes = fs::read(&path).map_err(|_| ChainFault::SegmentMissing {
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
