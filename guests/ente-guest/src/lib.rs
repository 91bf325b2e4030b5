//! The runtime of a `no_std` Ente: linear-memory allocation and panics.
//!
//! An Ente built on Rust's `std` links std's panic machinery, which writes to
//! stderr and reads the environment through WASI, so its component imports
//! wasi:cli and wasi:io whatever it does. The system Entes in this tree
//! (mediator, storage-watch, echo, client) are `no_std` + `alloc` instead:
//! their components import the `ente:core` interfaces their cards grant and
//! only the WASI they use (the client's `wasi:cli/environment`), and are a
//! third of the size. A panic traps, which the host reports as a fault of
//! that Ente.

#![no_std]

#[global_allocator]
static ALLOCATOR: dlmalloc::GlobalDlmalloc = dlmalloc::GlobalDlmalloc;

#[panic_handler]
fn panic(_: &core::panic::PanicInfo<'_>) -> ! {
    core::arch::wasm32::unreachable()
}

extern crate alloc;

use alloc::alloc::Layout;

/// The canonical ABI's allocator export, through which the host hands an Ente
/// its arguments (wasi-libc provides it to `std` Entes). A request that
/// cannot be met traps.
///
/// # Safety
///
/// Called by the host as the canonical ABI specifies: `old_ptr` and
/// `old_len` describe a block this function returned with `align`, or are
/// zero for a new block.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn cabi_realloc(
    old_ptr: *mut u8,
    old_len: usize,
    align: usize,
    new_len: usize,
) -> *mut u8 {
    if new_len == 0 {
        // A dangling, aligned pointer: nothing is read or written through it.
        return align as *mut u8;
    }
    let Ok(layout) = Layout::from_size_align(new_len, align) else {
        core::arch::wasm32::unreachable()
    };
    let ptr = if old_len == 0 {
        // SAFETY: `layout` has a non-zero size.
        unsafe { alloc::alloc::alloc(layout) }
    } else {
        let Ok(old) = Layout::from_size_align(old_len, align) else {
            core::arch::wasm32::unreachable()
        };
        // SAFETY: the caller passes a block this allocator returned with
        // layout `old`; `new_len` is non-zero.
        unsafe { alloc::alloc::realloc(old_ptr, old, new_len) }
    };
    if ptr.is_null() {
        core::arch::wasm32::unreachable()
    }
    ptr
}

/// `memcmp`, which compiled string and slice comparisons call; on this target
/// it would otherwise come from wasi-libc, which a `no_std` Ente does not link.
///
/// # Safety
///
/// `a` and `b` are valid for reads of `n` bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn memcmp(a: *const u8, b: *const u8, n: usize) -> i32 {
    for i in 0..n {
        // SAFETY: `i < n`, and both are valid for `n` bytes.
        let (x, y) = unsafe { (*a.add(i), *b.add(i)) };
        if x != y {
            return i32::from(x) - i32::from(y);
        }
    }
    0
}

/// `bcmp`: equality only, which the compiler may call instead of `memcmp`.
///
/// # Safety
///
/// As for [`memcmp`].
#[unsafe(no_mangle)]
pub unsafe extern "C" fn bcmp(a: *const u8, b: *const u8, n: usize) -> i32 {
    // SAFETY: the caller's guarantee is `memcmp`'s.
    unsafe { memcmp(a, b, n) }
}
