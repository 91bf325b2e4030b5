//! Dev mode: the snapshot is one file under `$ENTE_HOME`, replaced
//! atomically (a temporary file, fsync, rename, fsync of the directory):
//! a crash leaves the previous snapshot or the new one, never half.

use crate::{Snapshot, SnapshotFault, codec};
use std::fs;
use std::io::{self, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

/// Why the snapshot file could not be written or read.
#[derive(Debug, thiserror::Error)]
pub enum FileError {
    #[error("{}: {source}", .path.display())]
    Io { path: PathBuf, source: io::Error },
    #[error("{}: {fault}", .path.display())]
    Refused { path: PathBuf, fault: SnapshotFault },
}

/// Where a home keeps its snapshot.
pub fn path(home: &Path) -> PathBuf {
    home.join("snapshot")
}

/// A snapshot written: its size and the blake3 of its bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Written {
    pub bytes: usize,
    pub digest: [u8; 32],
}

/// Replace the home's snapshot with `snapshot`.
pub fn write(home: &Path, snapshot: &Snapshot) -> Result<Written, FileError> {
    let path = path(home);
    let bytes = codec::encode(snapshot).map_err(|fault| FileError::Refused {
        path: path.clone(),
        fault,
    })?;
    write_atomic(&path, &bytes, 0o600).map_err(|source| FileError::Io {
        path: path.clone(),
        source,
    })?;
    Ok(Written {
        bytes: bytes.len(),
        digest: *blake3::hash(&bytes).as_bytes(),
    })
}

/// The home's snapshot, checked; `None` when there is none.
pub fn read(home: &Path) -> Result<Option<Snapshot>, FileError> {
    let path = path(home);
    let bytes = match fs::metadata(&path) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(source) => return Err(FileError::Io { path, source }),
        Ok(m) if m.len() > codec::MAX_SNAPSHOT as u64 => {
            return Err(FileError::Refused {
                path,
                fault: SnapshotFault::TooLarge {
                    len: usize::try_from(m.len()).unwrap_or(usize::MAX),
                },
            });
        }
        Ok(_) => fs::read(&path).map_err(|source| FileError::Io {
            path: path.clone(),
            source,
        })?,
    };
    codec::decode(&bytes)
        .map(Some)
        .map_err(|fault| FileError::Refused { path, fault })
}

/// Write `bytes` to `path` with `mode`, atomically: a temporary file beside
/// it, fsync, rename, fsync of the directory. A crash leaves the old file
/// or the new one, never half of either.
pub fn write_atomic(path: &Path, bytes: &[u8], mode: u32) -> io::Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    fs::create_dir_all(dir)?;
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = dir.join(format!(".{name}.{}.tmp", std::process::id()));
    {
        let mut f = fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(mode)
            .open(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
    }
    fs::rename(&tmp, path)?;
    fs::File::open(dir)?.sync_all()
}
