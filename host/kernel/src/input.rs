//! The power key: the input device named "Power Button" (ACPI button.ko),
//! read through evdev, and its KEY_POWER presses.

use std::io::Read;
use std::path::{Path, PathBuf};

pub const EV_KEY: u16 = 1;
pub const KEY_POWER: u16 = 116;
/// `struct input_event` on 64-bit Linux: a timeval, type, code, value.
pub const EVENT_SIZE: usize = 24;

/// The name the ACPI power button registers.
pub const POWER_BUTTON: &str = "Power Button";

/// The /dev/input/eventN nodes of input devices named `name`, found through
/// /sys/class/input (`sys_input`) and /dev/input (`dev_input`).
pub fn devices_named(sys_input: &Path, dev_input: &Path, name: &str) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let Ok(entries) = std::fs::read_dir(sys_input) else {
        return found;
    };
    for entry in entries.flatten() {
        let node = entry.file_name().to_string_lossy().into_owned();
        if !node.starts_with("event") {
            continue;
        }
        let named =
            std::fs::read_to_string(entry.path().join("device/name")).map(|n| n.trim() == name);
        if named.unwrap_or(false) {
            found.push(dev_input.join(node));
        }
    }
    found.sort();
    found
}

/// Whether one `input_event` record is a press of KEY_POWER.
pub fn is_power_press(record: &[u8]) -> bool {
    if record.len() < EVENT_SIZE {
        return false;
    }
    let kind = u16::from_ne_bytes([record[16], record[17]]);
    let code = u16::from_ne_bytes([record[18], record[19]]);
    let value = i32::from_ne_bytes([record[20], record[21], record[22], record[23]]);
    kind == EV_KEY && code == KEY_POWER && value == 1
}

/// Block reading `device` until KEY_POWER is pressed.
pub fn wait_for_power_press(device: &Path) -> std::io::Result<()> {
    let mut f = std::fs::File::open(device)?;
    let mut record = [0u8; EVENT_SIZE];
    loop {
        f.read_exact(&mut record)?;
        if is_power_press(&record) {
            return Ok(());
        }
    }
}
