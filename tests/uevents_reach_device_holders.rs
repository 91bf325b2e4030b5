//! A kernel uevent reaches exactly the Entes that hold Device{class} for its
//! subsystem (or KernelNetlink{Uevent}), through their `device-events`
//! export; others never see it.

mod support;

use ente::up::{self, Status};
use ente_kernel::uevent::parse;
use serde_json::json;
use support::{seed_with, wasm_card};

#[test]
fn a_block_uevent_reaches_the_block_watcher_only() {
    let home = tempfile::tempdir().expect("home");
    let root = "01J00000000000000000000R02";
    let echo_iface = support::ECHO.split('@').next().expect("iface");
    let mut seed = seed_with(
        root,
        vec![
            wasm_card(
                "01J000000000000000000000SW",
                root,
                "storage-watch",
                "storage_watch",
                json!([]),
                json!([{"kind": "Journal"}, {"kind": "Device", "device_class": "Block"}]),
                json!([]),
            ),
            wasm_card(
                "01J000000000000000000000E3",
                root,
                "echo",
                "echo",
                json!([{"kind": "Endpoint", "endpoint_interface": echo_iface, "endpoint_version": 1}]),
                json!([{"kind": "Journal"}]),
                json!([]),
            ),
        ],
    );
    seed["provides"] = json!([{"kind": "Journal"}, {"kind": "Device", "device_class": "Block"}]);
    let file = home.path().join("seed.json");
    std::fs::write(&file, serde_json::to_vec_pretty(&seed).expect("json")).expect("write");
    let cas = ente_runtime::Cas::new(home.path());
    for g in ["mediator", "storage_watch", "echo"] {
        cas.add_file(&support::guest(g)).expect("add");
    }

    let host = up::boot(
        home.path(),
        &file,
        Status::new(false),
        ente_runtime::Profile::Native,
    )
    .expect("boot");
    assert_eq!(host.readiness(), (3, 3));
    let vda = parse(
        b"add@/devices/virtual/block/vda\0ACTION=add\0SUBSYSTEM=block\0DEVNAME=vda\0SEQNUM=7\0",
    )
    .expect("uevent");
    assert_eq!(
        host.deliver_uevent(&vda),
        1,
        "only storage-watch holds Device{{Block}}"
    );
    let lo = parse(b"add@/devices/virtual/net/lo\0ACTION=add\0SUBSYSTEM=net\0INTERFACE=lo\0")
        .expect("uevent");
    assert_eq!(host.deliver_uevent(&lo), 0, "nobody holds Device{{Net}}");

    let seen = host.status().journal_of("storage-watch");
    assert_eq!(
        seen,
        [
            "info: watching block devices",
            "info: block device vda: add"
        ],
        "the block event arrived, the net one did not"
    );
    assert!(
        host.status()
            .journal_of("echo")
            .iter()
            .all(|l| !l.contains("vda"))
    );
    up::shutdown(&host);
}
