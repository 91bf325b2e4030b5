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

fn nix_getrandom(dst: &mut [u8]) -> Result<usize, std::io::ErrorKind> {
    // SAFETY: `dst` is a valid, writable buffer of `dst.len()` bytes for the
    // duration of the call.
    let r = unsafe { libc_getrandom(dst.as_mut_ptr().cast(), dst.len(), 0) };
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
