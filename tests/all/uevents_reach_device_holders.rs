//! A kernel uevent reaches exactly the ready Entes that hold Device{class}
//! for its subsystem (or KernelNetlink{Uevent}), through their
//! `device-events` export; others never see it, and the spine records each
//! delivery with how many received it.

use crate::fixture::{ECHO, Ente, Host, config, seed};
use ente_core::{Event, Kind};
use ente_kernel::uevent::parse;

#[test]
fn a_block_uevent_reaches_the_block_watcher_only() {
    let watcher = Ente::new("storage-watch", "storage_watch")
        .requires_cap(serde_json::json!({"kind": "Device", "device_class": "Block"}));
    let mut seed = seed(&[watcher, Ente::new("echo", "echo").provides(ECHO)]);
    seed["provides"]
        .as_array_mut()
        .expect("array")
        .push(serde_json::json!({"kind": "Device", "device_class": "Block"}));
    let mut host = Host::start(seed, config());
    assert_eq!(host.settled(), (3, 3));
    let vda = parse(
        b"add@/devices/virtual/block/vda\0ACTION=add\0SUBSYSTEM=block\0DEVNAME=vda\0SEQNUM=7\0",
    )
    .expect("uevent");
    let lo = parse(b"add@/devices/virtual/net/lo\0ACTION=add\0SUBSYSTEM=net\0INTERFACE=lo\0")
        .expect("uevent");
    for e in [vda, lo] {
        host.handles
            .inbox
            .blocking_send(Event::Uevent(e))
            .expect("send");
    }
    let (vda, _) = host.wait_for(
        "the vda delivery",
        |e| matches!(&e.kind, Kind::Uevent { devpath, .. } if devpath.ends_with("vda")),
    );
    assert!(
        matches!(vda.kind, Kind::Uevent { delivered: 1, .. }),
        "{vda:?}"
    );
    let (lo, _) = host.wait_for(
        "the lo delivery",
        |e| matches!(&e.kind, Kind::Uevent { devpath, .. } if devpath.ends_with("lo")),
    );
    assert!(
        matches!(lo.kind, Kind::Uevent { delivered: 0, .. }),
        "{lo:?}"
    );
    host.wait_for(
        "storage-watch's journal line",
        |e| matches!(&e.kind, Kind::Journal { text, .. } if text == "block device vda: add"),
    );
    assert_eq!(
        host.journal("storage-watch"),
        ["watching block devices", "block device vda: add"],
        "the block event arrived, the net one did not"
    );
    assert!(host.journal("echo").iter().all(|l| !l.contains("vda")));
}
