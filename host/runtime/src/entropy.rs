//! The secure randomness an Ente's `wasi:random/random` reads: the kernel's
//! CSPRNG, asked on every call, blocking until the kernel has seeded it.
//!
//! wasmtime-wasi's default seeds a userspace generator once per store; ente
//! gives guests the kernel's own bytes instead, so that the strength of a
//! guest's secrets never depends on how the host process was seeded (see
//! PID 1's boot-time entropy in `host/ente/pid1/entropy.rs`).

/// Fill `dst` from the kernel's CSPRNG (`getrandom(2)` with no flags, or
/// /dev/random on a kernel without it): blocks until the CSPRNG is seeded.
/// An error when neither can be read: the caller refuses, never guesses.
pub fn kernel_fill(dst: &mut [u8]) -> std::io::Result<()> {
    let mut filled = 0;
    while filled < dst.len() {
        match raw_getrandom(&mut dst[filled..], 0) {
            Ok(n) => filled += n,
            Err(std::io::ErrorKind::Interrupted) => {}
            Err(_) => {
                use std::io::Read;
                return std::fs::File::open("/dev/random")
                    .and_then(|mut f| f.read_exact(&mut dst[filled..]));
            }
        }
    }
    Ok(())
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
