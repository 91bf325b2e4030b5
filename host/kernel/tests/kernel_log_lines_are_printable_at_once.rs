//! A line PID 1 writes to the kernel log is a finished record the moment it
//! is written. The kernel keeps an unterminated record open for a
//! continuation, and neither its consoles nor a reader of /dev/kmsg see it
//! until the next record arrives: the appliance's last line before going
//! idle then sat unprinted for seconds. Readers of /dev/kmsg get finished
//! records only, so reading one back from the running kernel proves it.

use ente_kernel::kmsg::{DEVICE, Kmsg, Level};
use std::io::{ErrorKind, Read, Seek, SeekFrom};
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

/// Every record readable now from `reader`, as text.
fn readable_records(reader: &mut std::fs::File) -> Vec<String> {
    let mut records = Vec::new();
    let mut buf = vec![0u8; 8192];
    loop {
        match reader.read(&mut buf) {
            Ok(0) => return records,
            Ok(n) => records.push(String::from_utf8_lossy(&buf[..n]).into_owned()),
            Err(e) if e.kind() == ErrorKind::WouldBlock => return records,
            // Older records overwritten under the reader: read on.
            Err(e) if e.raw_os_error() == Some(nix::libc::EPIPE) => {}
            Err(e) => panic!("reading {DEVICE}: {e}"),
        }
    }
}

#[test]
fn a_written_line_is_a_finished_record_at_once() {
    // The running kernel's log: writable and readable by root only.
    let writer = match Kmsg::open(Path::new(DEVICE)) {
        Ok(k) => k,
        Err(e) => {
            eprintln!("not run: {e} (needs root)");
            return;
        }
    };
    let mut reader = match std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(nix::libc::O_NONBLOCK)
        .open(DEVICE)
    {
        Ok(f) => f,
        Err(e) => {
            eprintln!("not run: cannot read {DEVICE}: {e}");
            return;
        }
    };
    reader
        .seek(SeekFrom::End(0))
        .expect("the kernel log seeks to its end");

    let tag = format!("ente test record {}", ulid::Ulid::new());
    writer
        .lines(Level::Notice, &format!("{tag} first\n{tag} last"))
        .expect("two records are written");

    // Nothing is written after the second record: it must be finished by
    // its own write, not by whatever the kernel says next.
    let records = readable_records(&mut reader);
    for which in ["first", "last"] {
        let wanted = format!("{tag} {which}");
        let found = records
            .iter()
            .find(|r| r.trim_end().ends_with(&wanted))
            .unwrap_or_else(|| panic!("`{wanted}` is not readable yet: {records:?}"));
        // user.notice: facility 1, level 5, as `<13>` asked.
        assert!(found.starts_with("13,"), "{found}");
    }
}
