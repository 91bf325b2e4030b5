//! `ente audit verify --disk` and `ente audit tail --disk` read the chain
//! the appliance keeps in its state disk's log region, from the disk or an
//! image of it, without writing: a whole chain verifies with its count, a
//! changed byte and a foreign key are named, a blank or foreign disk is
//! said to be one and left as it was.

use crate::support::{ente_in, text};
use ente_audit::{Decision, DiskStore, Log};
use ente_state::slots::StateDisk;
use std::os::unix::fs::FileExt;
use std::path::Path;
use std::time::Duration;

/// A state disk image holding a chain of `n` entries.
fn image(dir: &Path, n: u64) -> std::path::PathBuf {
    let path = dir.join("state.img");
    let f = std::fs::File::create(&path).expect("create");
    f.set_len(4 << 20).expect("len");
    let dev = std::fs::File::options()
        .read(true)
        .write(true)
        .open(&path)
        .expect("open");
    let (disk, labelled) = StateDisk::open(dev).expect("a blank disk is labelled");
    assert!(labelled);
    let label = disk.label();
    let store = DiskStore::open(
        disk.device().expect("device"),
        label.log_at,
        label.log_len,
        "state.img",
    )
    .expect("region");
    let (log, fault) = Log::open_in(Box::new(store), 1024).expect("chain");
    assert_eq!(fault, None);
    for i in 0..n {
        log.append(Decision::Spawned {
            ente: format!("01J0000000000000000000SP{i:02}"),
            label: format!("spawned-{i}"),
            by: "01J00000000000000000000R00".into(),
        });
        if i % 4 == 3 {
            log.flush(Duration::from_secs(5)).expect("flush");
        }
    }
    log.flush(Duration::from_secs(5)).expect("flush");
    path
}

fn audit(home: &Path, args: &[&str]) -> (bool, String, String) {
    let mut all = vec!["audit"];
    all.extend_from_slice(args);
    let out = ente_in(home, &all);
    (out.status.success(), text(&out.stdout), text(&out.stderr))
}

#[test]
fn a_state_disk_chain_is_verified_and_tailed_from_its_image() {
    let dir = tempfile::tempdir().expect("dir");
    let img = image(dir.path(), 10);
    let disk = img.to_str().expect("utf-8");
    let before = std::fs::read(&img).expect("read");

    let (ok, out, err) = audit(dir.path(), &["verify", "--disk", disk]);
    assert!(ok, "{out}{err}");
    assert!(out.contains("verified: 10 entries (seq 1..10)"), "{out}");
    let key = out
        .split("signed by ")
        .nth(1)
        .and_then(|r| r.split_whitespace().next())
        .expect("the key in the report")
        .to_owned();
    let (ok, out, err) = audit(
        dir.path(),
        &["verify", "--disk", disk, "--public-key", &key],
    );
    assert!(ok && out.contains("(the key given)"), "{out}{err}");

    let (ok, out, err) = audit(dir.path(), &["tail", "--disk", disk, "-n", "3", "--json"]);
    assert!(ok, "{err}");
    let seqs: Vec<u64> = out
        .lines()
        .map(|l| {
            serde_json::from_str::<serde_json::Value>(l).expect("json")["seq"]
                .as_u64()
                .expect("seq")
        })
        .collect();
    assert_eq!(seqs, vec![8, 9, 10]);
    assert_eq!(std::fs::read(&img).expect("read"), before, "read only");

    // Another chain's key: the head is not signed by it.
    let other_dir = dir.path().join("other");
    std::fs::create_dir_all(&other_dir).expect("mkdir");
    let other = image(&other_dir, 2);
    let (_, other_out, _) = audit(
        dir.path(),
        &["verify", "--disk", other.to_str().expect("utf-8")],
    );
    let other_key = other_out
        .split("signed by ")
        .nth(1)
        .and_then(|r| r.split_whitespace().next())
        .expect("key")
        .to_owned();
    let (ok, _, err) = audit(
        dir.path(),
        &["verify", "--disk", disk, "--public-key", &other_key],
    );
    assert!(
        !ok && err.contains("not signed by the chain's key"),
        "{err}"
    );
}

#[test]
fn a_changed_byte_on_the_disk_is_named() {
    let dir = tempfile::tempdir().expect("dir");
    let img = image(dir.path(), 9);
    let label = StateDisk::inspect(std::fs::File::open(&img).expect("open"))
        .expect("ente's")
        .label();
    // A byte inside the first record's entries.
    let at = label.log_at + ente_audit::RECORDS_AT + 64 + 10;
    let f = std::fs::File::options()
        .read(true)
        .write(true)
        .open(&img)
        .expect("open");
    let mut b = [0u8; 1];
    f.read_exact_at(&mut b, at).expect("read");
    f.write_all_at(&[b[0] ^ 1], at).expect("write");
    let (ok, out, err) = audit(
        dir.path(),
        &["verify", "--disk", img.to_str().expect("utf-8")],
    );
    assert!(!ok, "{out}");
    assert!(
        err.contains("BROKEN") && err.contains("were changed"),
        "{err}"
    );
}

#[test]
fn a_blank_or_foreign_disk_is_said_to_be_one_and_left_as_it_was() {
    let dir = tempfile::tempdir().expect("dir");
    let blank = dir.path().join("blank.img");
    std::fs::File::create(&blank)
        .expect("create")
        .set_len(1 << 20)
        .expect("len");
    let (ok, _, err) = audit(
        dir.path(),
        &["verify", "--disk", blank.to_str().expect("utf-8")],
    );
    assert!(!ok && err.contains("blank"), "{err}");
    let foreign = dir.path().join("foreign.img");
    let mut bytes = vec![0u8; 1 << 20];
    bytes[..4].copy_from_slice(b"\x7fELF");
    std::fs::write(&foreign, &bytes).expect("write");
    let (ok, _, err) = audit(
        dir.path(),
        &["tail", "--disk", foreign.to_str().expect("utf-8")],
    );
    assert!(!ok && err.contains("neither blank nor ente's"), "{err}");
    assert_eq!(std::fs::read(&foreign).expect("read"), bytes);
    assert!(std::fs::read(&blank).expect("read").iter().all(|&b| b == 0));
}
