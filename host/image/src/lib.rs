//! The appliance image: a newc cpio writer, the kernel modules and their
//! index, vmlinux out of a bzImage, the guest's clock, and the QEMU boot
//! check. No wasmtime.

pub mod boot;
pub mod clock;
pub mod cpio;
pub mod kernel;
