//! The image writer produces a newc archive the kernel accepts: headers in
//! order, 4-byte alignment, /dev/console as a character device, a trailer.

use ente_image::cpio::{CONSOLE, write_tree};

struct Entry {
    name: String,
    mode: u32,
    rdev: (u32, u32),
    data: Vec<u8>,
}

fn field(h: &[u8], i: usize) -> u32 {
    let s = std::str::from_utf8(&h[6 + i * 8..6 + (i + 1) * 8]).expect("hex");
    u32::from_str_radix(s, 16).expect("hex")
}

fn read(archive: &[u8]) -> Vec<Entry> {
    let (mut at, mut out) = (0usize, Vec::new());
    loop {
        let h = &archive[at..at + 110];
        assert_eq!(&h[..6], b"070701", "magic at {at}");
        let (mode, size, namesize) = (field(h, 1), field(h, 6) as usize, field(h, 11) as usize);
        let rdev = (field(h, 9), field(h, 10));
        let name =
            String::from_utf8(archive[at + 110..at + 110 + namesize - 1].to_vec()).expect("name");
        at = (at + 110 + namesize).next_multiple_of(4);
        let data = archive[at..at + size].to_vec();
        at = (at + size).next_multiple_of(4);
        if name == "TRAILER!!!" {
            assert_eq!(at, archive.len());
            return out;
        }
        out.push(Entry {
            name,
            mode,
            rdev,
            data,
        });
    }
}

#[test]
fn a_tree_with_console_round_trips() {
    let root = tempfile::tempdir().expect("root");
    std::fs::create_dir_all(root.path().join("cards")).expect("mkdir");
    std::fs::write(root.path().join("init"), b"\x7fELF-ish").expect("init");
    std::fs::write(root.path().join("cards/appliance.json"), b"{}\n").expect("card");
    let mut archive = Vec::new();
    write_tree(root.path(), CONSOLE, &mut archive).expect("write");
    let entries = read(&archive);
    let names: Vec<&str> = entries.iter().map(|e| e.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "cards",
            "cards/appliance.json",
            "init",
            "dev",
            "dev/console",
            "dev/null"
        ]
    );
    let console = entries
        .iter()
        .find(|e| e.name == "dev/console")
        .expect("console");
    assert_eq!(console.mode & 0o170000, 0o020000, "a character device");
    assert_eq!(console.rdev, (5, 1));
    let init = entries.iter().find(|e| e.name == "init").expect("init");
    assert_eq!(init.data, b"\x7fELF-ish");
    assert_eq!(init.mode & 0o170000, 0o100000);
}
