//! The baseline for the boot check: an /init that does nothing but power
//! the machine off. The appliance's boot is measured against it.

fn main() {
    println!("bare init: powering off");
    nix::unistd::sync();
    let _ = nix::sys::reboot::reboot(nix::sys::reboot::RebootMode::RB_POWER_OFF);
}
