//! Randomness inside the host process before the kernel CSPRNG is seeded.
//!
//! Under emulation the kernel needs over a second of jitter before its CSPRNG
//! is ready, and every `rand` generator in the process (wasmtime-wasi seeds
//! two per store) blocks on it. The appliance build therefore routes the
//! `getrandom` crate here (`--cfg getrandom_backend="custom"`): the kernel's
//! bytes when ready, else `GRND_INSECURE` bytes, which is what /dev/urandom
//! gives. That covers only the host's own use (hash seeds, ids, the insecure
//! WASI generators); what a guest asks of `wasi:random/random` is read from
//! the kernel at each call and blocks until it is ready
//! (`ente_runtime::entropy::kernel_fill`).

#[cfg(getrandom_backend = "custom")]
/// # Safety
///
/// Called by the `getrandom` crate (0.3 and 0.4 share this symbol and an
/// identical `Error` layout) with `dest` valid for `len` writable bytes.
#[unsafe(no_mangle)]
unsafe extern "Rust" fn __getrandom_v03_custom(
    dest: *mut u8,
    len: usize,
) -> Result<(), getrandom::Error> {
    // SAFETY: the caller guarantees `dest` is valid for `len` writable bytes.
    let buf = unsafe { std::slice::from_raw_parts_mut(dest, len) };
    let mut filled = 0;
    let mut flags = nix::libc::GRND_NONBLOCK;
    while filled < len {
        let rest = &mut buf[filled..];
        // SAFETY: `rest` is a valid writable buffer of `rest.len()` bytes.
        let r = unsafe { nix::libc::getrandom(rest.as_mut_ptr().cast(), rest.len(), flags) };
        if r >= 0 {
            filled += r as usize;
            continue;
        }
        match std::io::Error::last_os_error().raw_os_error() {
            Some(nix::libc::EINTR) => {}
            Some(nix::libc::EAGAIN) => flags = nix::libc::GRND_INSECURE,
            _ => return Err(getrandom::Error::UNEXPECTED),
        }
    }
    Ok(())
}
