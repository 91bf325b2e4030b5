//! The snapshot's codec: what it encodes decodes to the same; every byte
//! flip, cut or trailing byte is refused with its reason; arbitrary bytes
//! never panic it.

use ente_state::{AuditMark, Lease, Saved, Snapshot, SnapshotFault, Spawned, decode, encode};
use proptest::prelude::*;

fn sample() -> Snapshot {
    Snapshot {
        seed: "01JA0000000000000000000000".into(),
        taken_ms: 1_790_000_000_000,
        audit: Some(AuditMark {
            seq: 42,
            entry: [7; 32],
        }),
        spawned: vec![Spawned {
            parent: "01JA0000000000000000000001".into(),
            card: r#"{"id":"01JA0000000000000000000002"}"#.into(),
        }],
        entes: vec![Saved {
            id: "01JA0000000000000000000001".into(),
            restarts: 3,
            failures: 1,
            state: Some(b"counter=9".to_vec()),
        }],
        leases: vec![Lease {
            caller: "01JA0000000000000000000001".into(),
            endpoint: "6563686f2d656e64706f696e742d7631@1".into(),
            provider: "01JA0000000000000000000003".into(),
            ttl_left_ms: 12_000,
        }],
    }
}

#[test]
fn a_snapshot_decodes_to_what_was_encoded() {
    let s = sample();
    let bytes = encode(&s).expect("encode");
    assert_eq!(decode(&bytes).expect("decode"), s);
}

#[test]
fn each_kind_of_damage_is_named() {
    let bytes = encode(&sample()).expect("encode");
    assert!(matches!(
        decode(b"PK\x03\x04 a zip file, say, of more than 48 bytes ......"),
        Err(SnapshotFault::NotASnapshot { found }) if found.starts_with("PK")
    ));
    let mut v2 = bytes.clone();
    v2[8] = 2;
    assert_eq!(decode(&v2), Err(SnapshotFault::Version { found: 2 }));
    assert_eq!(
        decode(&bytes[..bytes.len() - 1]),
        Err(SnapshotFault::Truncated {
            have: bytes.len() - 1,
            want: bytes.len()
        })
    );
    assert_eq!(
        decode(&bytes[..20]),
        Err(SnapshotFault::Truncated { have: 20, want: 48 })
    );
    let mut long = bytes.clone();
    long.push(0);
    assert_eq!(decode(&long), Err(SnapshotFault::Trailing { extra: 1 }));
    let mut flipped = bytes.clone();
    let last = flipped.len() - 1;
    flipped[last] ^= 1;
    assert_eq!(decode(&flipped), Err(SnapshotFault::Checksum));
    let mut huge = bytes.clone();
    huge[12..16].copy_from_slice(&u32::MAX.to_le_bytes());
    assert!(matches!(decode(&huge), Err(SnapshotFault::TooLarge { .. })));
}

#[test]
fn a_snapshot_past_the_bound_is_not_encoded() {
    let mut s = sample();
    s.entes[0].state = Some(vec![0; ente_state::MAX_SNAPSHOT]);
    assert!(matches!(encode(&s), Err(SnapshotFault::TooLarge { .. })));
}

proptest! {
    #[test]
    fn every_byte_flip_is_refused(at in any::<prop::sample::Index>(), bit in 0u8..8) {
        let bytes = encode(&sample()).expect("encode");
        let mut bad = bytes.clone();
        let i = at.index(bad.len());
        bad[i] ^= 1 << bit;
        prop_assert!(decode(&bad).is_err(), "flip at {} bit {} accepted", i, bit);
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        let _ = decode(&bytes);
        let mut framed = b"ENTESNAP\x01\x00\x00\x00".to_vec();
        framed.extend_from_slice(&bytes);
        let _ = decode(&framed);
    }

    #[test]
    fn a_well_framed_garbled_body_is_refused_not_panicked(body in proptest::collection::vec(any::<u8>(), 0..256)) {
        let mut framed = b"ENTESNAP\x01\x00\x00\x00".to_vec();
        framed.extend_from_slice(&(body.len() as u32).to_le_bytes());
        framed.extend_from_slice(blake3::hash(&body).as_bytes());
        framed.extend_from_slice(&body);
        // Whatever it decodes to, it never panics; a body that is not a
        // snapshot is Garbled.
        if let Err(e) = decode(&framed) {
            prop_assert!(matches!(e, SnapshotFault::Garbled { .. }), "{e}");
        }
    }
}
