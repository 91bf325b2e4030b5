//! The secure randomness an Ente's `wasi:random/random` reads: the kernel's
//! CSPRNG, asked on every call, blocking until the kernel has seeded it.
//!
//! wasmtime-wasi's default seeds a userspace generator once per store; ente
//! gives guests the kernel's own bytes instead, so that the strength of a
//! guest's secrets never depends on how the host process was seeded (see
//! PID 1's boot-time entropy in `host/ente/pid1/entropy.rs`).

use std::convert::Infallible;

/// `getrandom(2)` with no flags: blocks until the kernel CSPRNG is ready.
#[derive(Debug, Clone, Copy, Default)]
pub struct KernelRandom;

impl KernelRandom {
    fn fill(dst: &mut [u8]) {
        let mut filled = 0;
        while filled < dst.len() {
            match nix_getrandom(&mut dst[filled..]) {
                Ok(n) => filled += n,
                Err(std::io::ErrorKind::Interrupted) => {}
                Err(_) => {
                    // Only a kernel without getrandom(2) gets here; /dev/random
                    // blocks the same way until the pool is ready.
                    use std::io::Read;
                    if let Ok(mut f) = std::fs::File::open("/dev/random")
                        && f.read_exact(&mut dst[filled..]).is_ok()
                    {
                        return;
                    }
                }
            }
        }
    }
}

/// `GRND_INSECURE` (Linux 5.6): never blocks, even before the CSPRNG is seeded.
const GRND_INSECURE: u32 = 0x0004;

/// Bytes for `wasi:random/insecure` and `insecure-seed`: what /dev/urandom
/// gives, without waiting for the kernel's CSPRNG to be seeded (under
/// emulation that takes a second of boot). The WASI interfaces say these
/// need not be secure.
pub fn insecure_fill(dst: &mut [u8]) {
    let mut filled = 0;
    while filled < dst.len() {
        match raw_getrandom(&mut dst[filled..], GRND_INSECURE) {
            Ok(n) => filled += n,
            Err(std::io::ErrorKind::Interrupted) => {}
            Err(_) => {
                // An older kernel: /dev/urandom does not block either.
                use std::io::Read;
                let read = std::fs::File::open("/dev/urandom")
                    .and_then(|mut f| f.read_exact(&mut dst[filled..]));
                if read.is_err() {
                    // Nothing left to read from: the clock, stretched.
                    let t = std::time::SystemTime::now()
                        .duration_since(std::time::UNIX_EPOCH)
                        .map_or(0, |d| d.as_nanos());
                    let mut h = blake3::Hasher::new();
                    h.update(&t.to_le_bytes());
                    h.finalize_xof().fill(&mut dst[filled..]);
                }
                return;
            }
        }
    }
}

fn nix_getrandom(dst: &mut [u8]) -> Result<usize, std::io::ErrorKind> {
    raw_getrandom(dst, 0)
}

fn raw_getrandom(dst: &mut [u8], flags: u32) -> Result<usize, std::io::ErrorKind> {
    // SAFETY: `dst` is a valid, writable buffer of `dst.len()` bytes for the
    // duration of the call.
    let r = unsafe { libc_getrandom(dst.as_mut_ptr().cast(), dst.len(), flags) };
    if r < 0 {
        Err(std::io::Error::last_os_error().kind())
    } else {
        Ok(r as usize)
    }
}

unsafe extern "C" {
    #[link_name = "getrandom"]
    fn libc_getrandom(buf: *mut std::ffi::c_void, len: usize, flags: u32) -> isize;
}

impl rand_core::TryRng for KernelRandom {
    type Error = Infallible;

    fn try_next_u32(&mut self) -> Result<u32, Infallible> {
        let mut b = [0u8; 4];
        Self::fill(&mut b);
        Ok(u32::from_ne_bytes(b))
    }

    fn try_next_u64(&mut self) -> Result<u64, Infallible> {
        let mut b = [0u8; 8];
        Self::fill(&mut b);
        Ok(u64::from_ne_bytes(b))
    }

    fn try_fill_bytes(&mut self, dst: &mut [u8]) -> Result<(), Infallible> {
        Self::fill(dst);
        Ok(())
    }
}

impl rand_core::TryCryptoRng for KernelRandom {}
