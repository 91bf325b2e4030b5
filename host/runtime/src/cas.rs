//! The content-addressed store: blobs named by their blake3 digest.
//!
//! Every write goes to a temporary file, is synced, then renamed into place,
//! so a crash leaves either the whole blob or none. Every read re-hashes the
//! bytes: a blob whose content no longer matches its name is refused.

use ente_card::Digest;
use std::io::Write;
use std::path::{Path, PathBuf};

/// The largest blob the store accepts: 256 MiB.
pub const MAX_BLOB_BYTES: u64 = 256 << 20;

#[derive(Debug, thiserror::Error)]
pub enum CasError {
    #[error("store {dir}: {source}")]
    Io {
        dir: PathBuf,
        source: std::io::Error,
    },
    #[error("{file}: cannot read: {source}")]
    Read {
        file: PathBuf,
        source: std::io::Error,
    },
    #[error("component {digest} is not in the store {dir} (add it with `ente cas add FILE`)")]
    Missing { digest: Digest, dir: PathBuf },
    #[error(
        "store blob {path} is corrupt or tampered: its content hashes to {actual}, not {digest}; refused"
    )]
    Tampered {
        digest: Digest,
        actual: Digest,
        path: PathBuf,
    },
    #[error("{path}: {size} bytes is larger than the store accepts ({max} bytes)")]
    TooLarge { path: PathBuf, size: u64, max: u64 },
}

/// A blake3 digest as ente's card type.
pub fn digest_of(bytes: &[u8]) -> Digest {
    Digest(*blake3::hash(bytes).as_bytes())
}

/// Write `bytes` to `path` so that a crash leaves the old file or the new
/// one, never a torn one: temporary file, fsync, rename, fsync the folder.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir)?;
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    // Unique per write: two threads (or hosts) may write the same file at once.
    static WRITES: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = WRITES.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let tmp = dir.join(format!(".{name}.{}.{n}.tmp", std::process::id()));
    let mut f = std::fs::File::create(&tmp)?;
    f.write_all(bytes)?;
    f.sync_all()?;
    drop(f);
    std::fs::rename(&tmp, path)?;
    std::fs::File::open(dir)?.sync_all()
}

/// The blobs under `<home>/cas`.
#[derive(Debug, Clone)]
pub struct Cas {
    dir: PathBuf,
}

impl Cas {
    pub fn new(home: &Path) -> Cas {
        Cas {
            dir: home.join("cas"),
        }
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Where the blob named `digest` lives.
    pub fn path(&self, digest: &Digest) -> PathBuf {
        self.dir.join(digest.to_string())
    }

    pub fn contains(&self, digest: &Digest) -> bool {
        self.path(digest).is_file()
    }

    /// Store `bytes`; returns their digest, and whether a blob stored under
    /// it held other bytes (corrupt or tampered) and was replaced. Storing
    /// the same bytes twice writes nothing the second time.
    pub fn add(&self, bytes: &[u8]) -> Result<(Digest, bool), CasError> {
        let digest = digest_of(bytes);
        let path = self.path(&digest);
        let repaired = match std::fs::read(&path) {
            Ok(held) if digest_of(&held) == digest => return Ok((digest, false)),
            Ok(_) => true,
            Err(_) => false,
        };
        write_atomic(&path, bytes).map_err(|source| CasError::Io {
            dir: self.dir.clone(),
            source,
        })?;
        Ok((digest, repaired))
    }

    /// Store the file at `file` (see [`Cas::add`]).
    pub fn add_file(&self, file: &Path) -> Result<(Digest, bool), CasError> {
        let bytes = read_capped(file)?;
        self.add(&bytes)
    }

    /// The blob named `digest`, after checking that its content still hashes to its name.
    pub fn get(&self, digest: &Digest) -> Result<Vec<u8>, CasError> {
        let path = self.path(digest);
        if !path.exists() {
            return Err(CasError::Missing {
                digest: *digest,
                dir: self.dir.clone(),
            });
        }
        let bytes = read_capped(&path)?;
        let actual = digest_of(&bytes);
        if actual != *digest {
            return Err(CasError::Tampered {
                digest: *digest,
                actual,
                path,
            });
        }
        Ok(bytes)
    }
}

fn read_capped(path: &Path) -> Result<Vec<u8>, CasError> {
    use std::io::Read;
    let io = |source| CasError::Read {
        file: path.to_owned(),
        source,
    };
    let f = std::fs::File::open(path).map_err(io)?;
    let mut bytes = Vec::new();
    f.take(MAX_BLOB_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(io)?;
    let size = u64::try_from(bytes.len()).unwrap_or(u64::MAX);
    if size > MAX_BLOB_BYTES {
        return Err(CasError::TooLarge {
            path: path.to_owned(),
            size,
            max: MAX_BLOB_BYTES,
        });
    }
    Ok(bytes)
}
