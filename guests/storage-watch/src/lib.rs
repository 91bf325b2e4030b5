//! `storage-watch`: holds Device{Block}; journals every block device the
//! kernel adds or removes.

#![no_std]

extern crate alloc;
use alloc::format;
use alloc::string::String;
use ente_guest as _;

wit_bindgen::generate!({ path: "../../wit", world: "ente:core/device-watcher" });

use ente::core::journal::{self, Level};
use exports::ente::core::device_events::{Guest as DeviceEvents, Uevent};
use exports::ente::core::lifecycle::Guest as Lifecycle;

struct StorageWatch;

impl Lifecycle for StorageWatch {
    fn start() -> Result<(), String> {
        journal::log(Level::Info, "watching block devices");
        Ok(())
    }

    fn stop() {}
}

impl DeviceEvents for StorageWatch {
    fn on_uevent(event: Uevent) {
        if event.subsystem.as_deref() != Some("block") {
            return;
        }
        let name = event.devname.as_deref().unwrap_or(&event.devpath);
        let size = event
            .env
            .iter()
            .find(|(k, _)| k == "DISKSEQ")
            .map(|(_, v)| format!(" (diskseq {v})"))
            .unwrap_or_default();
        journal::log(
            Level::Info,
            &format!("block device {name}: {}{size}", event.action),
        );
    }
}

export!(StorageWatch);
