//! Coldplug: the devices that existed before the uevent socket was open.
//! Every `modalias` file under /sys/devices names what a driver would bind.

use std::path::{Path, PathBuf};

/// Every (device path, modalias) under `sys_devices`, sorted by path.
pub fn modaliases(sys_devices: &Path) -> Vec<(PathBuf, String)> {
    let mut found = Vec::new();
    let mut stack = vec![sys_devices.to_owned()];
    while let Some(dir) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            let Ok(kind) = entry.file_type() else {
                continue;
            };
            let path = entry.path();
            if kind.is_dir() && !kind.is_symlink() {
                stack.push(path);
            } else if kind.is_file()
                && entry.file_name() == "modalias"
                && let Ok(alias) = std::fs::read_to_string(&path)
                && !alias.trim().is_empty()
            {
                found.push((dir.clone(), alias.trim().to_owned()));
            }
        }
    }
    found.sort();
    found
}
