//! A kernel uevent is parsed into action, devpath, subsystem, devname,
//! seqnum, modalias and the rest of its environment; a malformed one is an
//! error, never a panic.

use ente_kernel::uevent::{UeventError, parse};

#[test]
fn a_kernel_uevent_is_parsed_with_its_environment() {
    let msg = b"add@/devices/virtio-mmio-cmdline/virtio-mmio.0/virtio0\0ACTION=add\0DEVPATH=/devices/virtio-mmio-cmdline/virtio-mmio.0/virtio0\0SUBSYSTEM=virtio\0MODALIAS=virtio:d00000002v554D4551\0SEQNUM=1234\0";
    let e = parse(msg).expect("parsed");
    assert_eq!(e.action, "add");
    assert_eq!(
        e.devpath,
        "/devices/virtio-mmio-cmdline/virtio-mmio.0/virtio0"
    );
    assert_eq!(e.subsystem.as_deref(), Some("virtio"));
    assert_eq!(e.modalias.as_deref(), Some("virtio:d00000002v554D4551"));
    assert_eq!(e.seqnum, Some(1234));
    assert_eq!(e.devname, None);
    assert_eq!(e.env.len(), 5);
}

#[test]
fn a_block_device_names_its_node() {
    let e = parse(b"add@/devices/virtual/block/vda\0ACTION=add\0SUBSYSTEM=block\0DEVNAME=vda\0MAJOR=254\0MINOR=0\0").expect("parsed");
    assert_eq!(e.devname.as_deref(), Some("vda"));
    assert_eq!(e.env.get("MAJOR").map(String::as_str), Some("254"));
}

#[test]
fn malformed_messages_are_errors() {
    assert_eq!(parse(b""), Err(UeventError::NoHeader));
    assert_eq!(parse(b"libudev\0\xfe\xed"), Err(UeventError::NoHeader));
    assert!(matches!(
        parse(b"add@/x\0NOEQUALS\0"),
        Err(UeventError::BadField { .. })
    ));
    assert!(matches!(
        parse(b"add@/x\0ACTION=remove\0"),
        Err(UeventError::Mismatch { .. })
    ));
}

#[test]
fn arbitrary_bytes_never_panic() {
    let mut state = 0x2545F4914F6CDD1Du64;
    for len in 0..2000usize {
        let bytes: Vec<u8> = (0..len % 97)
            .map(|_| {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                [b'@', b'=', 0, b'a', (state >> 32) as u8][(state % 5) as usize]
            })
            .collect();
        let _ = parse(&bytes);
    }
}
