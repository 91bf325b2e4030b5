//! The precompile cache: each component compiled once per (digest, engine
//! fingerprint) and loaded from there afterwards.
//!
//! Deserialising a precompiled artifact runs native code that wasmtime wrote,
//! so bytes from anywhere else must never reach `Component::deserialize`. Each
//! cache file therefore carries a blake3 MAC, keyed with a secret that only
//! this host's home holds, over (component digest, engine fingerprint,
//! artifact). A file whose MAC does not check out is refused, never loaded.

use crate::cas::{Cas, CasError, write_atomic};
use ente_card::Digest;
use std::io::Read;
use std::path::{Path, PathBuf};
use wasmtime::Engine;
use wasmtime::component::Component;

const MAGIC: &[u8; 8] = b"ENTECWA1";
const HEADER: usize = 8 + 32 + 32 + 32;
/// The largest artifact the cache loads: 1 GiB.
const MAX_ARTIFACT_BYTES: u64 = 1 << 30;

#[derive(Debug, thiserror::Error)]
pub enum CacheError {
    #[error(transparent)]
    Cas(#[from] CasError),
    #[error("precompile cache {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(
        "precompiled artifact {path} for component {digest} fails its integrity check ({why}); refused, never loaded. Remove the file to recompile from the store"
    )]
    Tampered {
        digest: Digest,
        path: PathBuf,
        why: &'static str,
    },
    #[error("component {digest} does not compile: {message}")]
    Compile { digest: Digest, message: String },
    #[error("component {digest} is refused before it is compiled: {why}")]
    Refused { digest: Digest, why: String },
    /// It imports what its Ente is not granted: found in its bytes, before
    /// it was compiled; nothing of it is cached.
    #[error(transparent)]
    Imports(#[from] crate::grants::LinkError),
    #[error(
        "component {digest} has no precompiled artifact at {path}{why}, and this build of ente has no compiler; precompile it where the image is made (`ente cas compile`)"
    )]
    NotPrecompiled {
        digest: Digest,
        path: PathBuf,
        /// Why an artifact that is there cannot be used, if one is.
        why: String,
    },
}

/// A check of a component's bytes before they are compiled.
pub type Precheck<'a> = &'a dyn Fn(&[u8]) -> Result<(), CacheError>;

/// Precompiled components under `<home>/cache/<engine fingerprint>/`.
#[derive(Debug, Clone)]
pub struct PrecompileCache {
    dir: PathBuf,
    key: [u8; 32],
    fingerprint: [u8; 32],
}

impl PrecompileCache {
    /// Open the cache of `home` for `engine`, creating the MAC key on first use.
    pub fn open(
        home: &Path,
        engine: &Engine,
        profile: crate::engine::Profile,
    ) -> Result<PrecompileCache, CacheError> {
        let fingerprint = crate::engine::fingerprint(engine, profile);
        let short: String = fingerprint[..8]
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        let key = load_or_create_key(&home.join("cache.key"))?;
        Ok(PrecompileCache {
            dir: home.join("cache").join(short),
            key,
            fingerprint,
        })
    }

    /// Where the artifact of `digest` lives.
    pub fn path(&self, digest: &Digest) -> PathBuf {
        self.dir.join(format!("{digest}.cwasm"))
    }

    fn mac(&self, digest: &Digest, artifact: &[u8]) -> [u8; 32] {
        let mut h = blake3::Hasher::new_keyed(&self.key);
        h.update(&digest.0)
            .update(&self.fingerprint)
            .update(artifact);
        *h.finalize().as_bytes()
    }

    /// The component `digest`, from the cache when a valid artifact is there,
    /// otherwise compiled from the (verified) store blob and cached, if the
    /// blob passes `precheck` first (a refused one is neither compiled nor
    /// cached).
    pub fn load(
        &self,
        engine: &Engine,
        cas: &Cas,
        digest: &Digest,
        precheck: Precheck<'_>,
    ) -> Result<Component, CacheError> {
        let path = self.path(digest);
        let stale = if path.exists() {
            let file = self.read_verified(digest, &path)?;
            let artifact = &file[HEADER..];
            // SAFETY: `artifact` carries a MAC keyed with this home's secret
            // over (digest, engine fingerprint, bytes): it was written by
            // `Component::serialize` for an engine with this fingerprint, and
            // it was read into memory before the check, so nothing can change
            // it between the check and the load.
            match unsafe { Component::deserialize(engine, artifact) } {
                Ok(component) => return Ok(component),
                // Genuine but unloadable (wasmtime's own settings check):
                // compiled again below, where this build can.
                Err(e) => format!(" (it cannot be loaded: {e:#})"),
            }
        } else {
            String::new()
        };
        self.compile(engine, cas, digest, &path, stale, precheck)
    }

    #[cfg(feature = "compiler")]
    fn compile(
        &self,
        engine: &Engine,
        cas: &Cas,
        digest: &Digest,
        path: &Path,
        _stale: String,
        precheck: Precheck<'_>,
    ) -> Result<Component, CacheError> {
        let bytes = cas.get(digest)?;
        crate::inspect::string_encoding(&bytes).map_err(|why| CacheError::Refused {
            digest: *digest,
            why,
        })?;
        precheck(&bytes)?;
        let failed = |e: wasmtime::Error| CacheError::Compile {
            digest: *digest,
            message: format!("{e:#}"),
        };
        let t0 = std::time::Instant::now();
        let component = Component::new(engine, &bytes).map_err(failed)?;
        tracing::info!(%digest, bytes = bytes.len(), took = ?t0.elapsed(), "compiled a component");
        let artifact = component.serialize().map_err(failed)?;
        let mut file = Vec::with_capacity(HEADER + artifact.len());
        file.extend_from_slice(MAGIC);
        file.extend_from_slice(&digest.0);
        file.extend_from_slice(&self.fingerprint);
        file.extend_from_slice(&self.mac(digest, &artifact));
        file.extend_from_slice(&artifact);
        write_atomic(path, &file).map_err(|source| CacheError::Io {
            path: path.to_owned(),
            source,
        })?;
        Ok(component)
    }

    #[cfg(not(feature = "compiler"))]
    fn compile(
        &self,
        _: &Engine,
        _: &Cas,
        digest: &Digest,
        path: &Path,
        why: String,
        _: Precheck<'_>,
    ) -> Result<Component, CacheError> {
        Err(CacheError::NotPrecompiled {
            digest: *digest,
            path: path.to_owned(),
            why,
        })
    }

    /// The whole file (header and artifact) once its header and MAC check out.
    fn read_verified(&self, digest: &Digest, path: &Path) -> Result<Vec<u8>, CacheError> {
        let io = |source| CacheError::Io {
            path: path.to_owned(),
            source,
        };
        let file = std::fs::File::open(path).map_err(io)?;
        let size = file.metadata().map_err(io)?.len();
        let mut bytes = Vec::with_capacity(usize::try_from(size).unwrap_or(0).min(1 << 20));
        file.take(MAX_ARTIFACT_BYTES + HEADER as u64)
            .read_to_end(&mut bytes)
            .map_err(io)?;
        let tampered = |why| CacheError::Tampered {
            digest: *digest,
            path: path.to_owned(),
            why,
        };
        if bytes.len() < HEADER || &bytes[..8] != MAGIC {
            return Err(tampered("bad header"));
        }
        if bytes[8..40] != digest.0 || bytes[40..72] != self.fingerprint {
            return Err(tampered("made for another component or engine"));
        }
        let expected = self.mac(digest, &bytes[HEADER..]);
        // Constant-time comparison through blake3's Hash equality.
        if blake3::Hash::from_bytes(expected)
            != blake3::Hash::from_slice(&bytes[72..HEADER]).map_err(|_| tampered("bad header"))?
        {
            return Err(tampered("MAC mismatch"));
        }
        Ok(bytes)
    }
}

fn load_or_create_key(path: &Path) -> Result<[u8; 32], CacheError> {
    let io = |source| CacheError::Io {
        path: path.to_owned(),
        source,
    };
    match std::fs::read(path) {
        Ok(bytes) => <[u8; 32]>::try_from(bytes.as_slice())
            .map_err(|_| io(std::io::Error::other("the key must be exactly 32 bytes"))),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let mut key = [0u8; 32];
            std::fs::File::open("/dev/urandom")
                .and_then(|mut f| f.read_exact(&mut key))
                .map_err(io)?;
            if let Some(dir) = path.parent() {
                std::fs::create_dir_all(dir).map_err(io)?;
            }
            write_atomic(path, &key).map_err(io)?;
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).map_err(io)?;
            Ok(key)
        }
        Err(e) => Err(io(e)),
    }
}
