//! A writer of uncompressed newc cpio archives, the initramfs format.

use std::io::Write;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;

const S_IFDIR: u32 = 0o040000;
const S_IFREG: u32 = 0o100000;
const S_IFLNK: u32 = 0o120000;
const S_IFCHR: u32 = 0o020000;

/// A node the staging tree cannot hold without privileges (a device node).
#[derive(Debug, Clone)]
pub struct CharDevice {
    pub path: &'static str,
    pub mode: u32,
    pub major: u32,
    pub minor: u32,
}

/// The nodes every initramfs needs before devtmpfs is mounted: the kernel
/// opens /dev/console for init's stdin, stdout and stderr.
pub const CONSOLE: &[CharDevice] = &[
    CharDevice {
        path: "dev/console",
        mode: 0o600,
        major: 5,
        minor: 1,
    },
    CharDevice {
        path: "dev/null",
        mode: 0o666,
        major: 1,
        minor: 3,
    },
];

struct Writer<W: Write> {
    out: W,
    ino: u32,
    written: u64,
}

impl<W: Write> Writer<W> {
    fn entry(
        &mut self,
        name: &str,
        mode: u32,
        rdev: (u32, u32),
        data: &[u8],
    ) -> std::io::Result<()> {
        self.ino += 1;
        let nlink = if mode & S_IFDIR != 0 { 2 } else { 1 };
        let size = u32::try_from(data.len())
            .map_err(|_| std::io::Error::other(format!("{name}: larger than 4 GiB")))?;
        let header = format!(
            "070701{:08x}{:08x}{:08x}{:08x}{:08x}{:08x}{:08x}{:08x}{:08x}{:08x}{:08x}{:08x}{:08x}",
            self.ino,
            mode,
            0,
            0,
            nlink,
            0,
            size,
            0,
            0,
            rdev.0,
            rdev.1,
            name.len() + 1,
            0
        );
        self.put(header.as_bytes())?;
        self.put(name.as_bytes())?;
        self.put(&[0])?;
        self.pad()?;
        self.put(data)?;
        self.pad()
    }

    fn put(&mut self, b: &[u8]) -> std::io::Result<()> {
        self.out.write_all(b)?;
        self.written += b.len() as u64;
        Ok(())
    }

    fn pad(&mut self) -> std::io::Result<()> {
        let n = (4 - (self.written % 4) as usize) % 4;
        self.put(&[0u8; 3][..n])
    }
}

/// Archive the tree under `root` (sorted, owner root, time 0) plus `extra`
/// device nodes into `out`.
pub fn write_tree(root: &Path, extra: &[CharDevice], out: impl Write) -> std::io::Result<()> {
    let mut w = Writer {
        out,
        ino: 0,
        written: 0,
    };
    let mut paths = Vec::new();
    collect(root, root, &mut paths)?;
    paths.sort();
    let mut dirs_done = std::collections::BTreeSet::new();
    for rel in &paths {
        let full = root.join(rel);
        let meta = std::fs::symlink_metadata(&full)?;
        let name = rel.to_string_lossy();
        let perm = meta.permissions().mode() & 0o7777;
        if meta.file_type().is_symlink() {
            let target = std::fs::read_link(&full)?;
            w.entry(
                &name,
                S_IFLNK | 0o777,
                (0, 0),
                target.to_string_lossy().as_bytes(),
            )?;
        } else if meta.is_dir() {
            dirs_done.insert(name.to_string());
            w.entry(&name, S_IFDIR | perm, (0, 0), &[])?;
        } else if meta.is_file() {
            let data = std::fs::read(&full)?;
            w.entry(&name, S_IFREG | perm, (0, 0), &data)?;
        } else {
            return Err(std::io::Error::other(format!(
                "{}: unsupported file type (mode {:o})",
                full.display(),
                meta.mode()
            )));
        }
    }
    for dev in extra {
        if let Some((parent, _)) = dev.path.rsplit_once('/')
            && dirs_done.insert(parent.to_owned())
        {
            w.entry(parent, S_IFDIR | 0o755, (0, 0), &[])?;
        }
        w.entry(dev.path, S_IFCHR | dev.mode, (dev.major, dev.minor), &[])?;
    }
    w.entry("TRAILER!!!", 0, (0, 0), &[])?;
    w.out.flush()
}

fn collect(root: &Path, dir: &Path, out: &mut Vec<std::path::PathBuf>) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let path = entry.path();
        let rel = path
            .strip_prefix(root)
            .map_err(std::io::Error::other)?
            .to_owned();
        out.push(rel);
        if entry.file_type()?.is_dir() {
            collect(root, &path, out)?;
        }
    }
    Ok(())
}
