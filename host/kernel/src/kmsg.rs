//! The kernel log (`/dev/kmsg`) as PID 1's console.
//!
//! Each line written here becomes one record of the kernel log. The kernel
//! prints it on its consoles through the same synchronous path as its own
//! messages, already exercised by the boot, instead of the tty layer, which
//! PID 1 would otherwise be the first to run (under emulation, that first
//! write cost ~8 ms). `dmesg` keeps the records, stamped like the kernel's.
//!
//! The kernel refuses a write longer than one record and rate-limits
//! userspace writers (ten records per five seconds) unless
//! `kernel.printk_devkmsg` is `on`; [`Kmsg::unlimit`] sets it.

use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};

/// Where the kernel log is written.
pub const DEVICE: &str = "/dev/kmsg";
/// The sysctl that turns off the rate limit on userspace records.
pub const RATE_LIMIT_SYSCTL: &str = "/proc/sys/kernel/printk_devkmsg";
/// Bytes of text per record, under the kernel's limit (992 on Linux 6.x,
/// prefix and newline included), at a UTF-8 boundary.
pub const RECORD_TEXT: usize = 960;
/// How urgent a line is. Both are of facility `user`, never mistaken for a
/// kernel message; the prefix is always given, so that a line that begins
/// with `<3>` is printed as it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    /// Something went wrong: shown on the console even under `quiet`.
    Error,
    /// Progress: shown at the default console log level, hidden by `quiet`.
    Notice,
}

impl Level {
    fn prefix(self) -> &'static str {
        match self {
            Level::Error => "<11>",
            Level::Notice => "<13>",
        }
    }
}

/// The longest prefix.
const PREFIX_BYTES: usize = 4;

#[derive(Debug, thiserror::Error)]
pub enum KmsgError {
    #[error("cannot open the kernel log {path}: {source}")]
    Open {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot lift the kernel's rate limit on PID 1's lines ({path} = on): {source}")]
    Unlimit {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// An open kernel log, written one record per line.
#[derive(Debug)]
pub struct Kmsg {
    file: File,
}

impl Kmsg {
    /// Open `path` (normally [`DEVICE`]) for writing.
    pub fn open(path: &Path) -> Result<Kmsg, KmsgError> {
        std::fs::OpenOptions::new()
            .write(true)
            .open(path)
            .map(|file| Kmsg { file })
            .map_err(|source| KmsgError::Open {
                path: path.to_owned(),
                source,
            })
    }

    /// Set `sysctl` (normally [`RATE_LIMIT_SYSCTL`]) to `on`, so that no
    /// line of PID 1 is dropped. The kernel wants the trailing newline.
    pub fn unlimit(sysctl: &Path) -> Result<(), KmsgError> {
        std::fs::write(sysctl, "on\n").map_err(|source| KmsgError::Unlimit {
            path: sysctl.to_owned(),
            source,
        })
    }

    /// Write `text`: every line (and every [`RECORD_TEXT`] bytes of a longer
    /// one) as one record. An error is returned after the records that could
    /// be written were.
    pub fn lines(&self, level: Level, text: &str) -> std::io::Result<()> {
        let mut first_error = None;
        let mut record = String::with_capacity(PREFIX_BYTES + RECORD_TEXT + 1);
        for piece in records(text, RECORD_TEXT) {
            record.clear();
            record.push_str(level.prefix());
            record.push_str(piece);
            // The newline finalizes the record. Without it the kernel keeps
            // the record open for a continuation and no console prints it
            // until the next record arrives: the last line before an idle
            // machine would wait, unseen, for whatever the kernel says next.
            record.push('\n');
            // One write is one record: never split by a buffer.
            if let Err(e) = (&self.file).write_all(record.as_bytes()) {
                first_error.get_or_insert(e);
            }
        }
        first_error.map_or(Ok(()), Err)
    }
}

/// `text` cut into records: one per line, and a line longer than `max` bytes
/// in pieces of at most `max` bytes, each ending at a character boundary.
/// A trailing newline does not make an empty record.
pub fn records(text: &str, max: usize) -> impl Iterator<Item = &str> {
    let max = max.max(4); // room for any one UTF-8 character
    text.strip_suffix('\n')
        .unwrap_or(text)
        .split('\n')
        .flat_map(move |line| Pieces {
            rest: line,
            max,
            first: true,
        })
}

struct Pieces<'a> {
    rest: &'a str,
    max: usize,
    /// An empty line is still one (empty) record.
    first: bool,
}

impl<'a> Iterator for Pieces<'a> {
    type Item = &'a str;

    fn next(&mut self) -> Option<&'a str> {
        if self.rest.is_empty() && !std::mem::take(&mut self.first) {
            return None;
        }
        self.first = false;
        let mut cut = self.rest.len().min(self.max);
        while !self.rest.is_char_boundary(cut) {
            cut -= 1;
        }
        let (piece, rest) = self.rest.split_at(cut);
        self.rest = rest;
        Some(piece)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_record_per_line_and_no_empty_tail() {
        let got: Vec<&str> = records("a\nbc\n\nd\n", 960).collect();
        assert_eq!(got, ["a", "bc", "", "d"]);
    }

    #[test]
    fn a_long_line_is_cut_at_character_boundaries() {
        // 'é' is two bytes: a cut at 5 bytes would fall inside the third.
        let line = "éééééé";
        let got: Vec<&str> = records(line, 5).collect();
        assert_eq!(got, ["éé", "éé", "éé"]);
        assert!(got.iter().all(|p| p.len() <= 5));
        assert_eq!(got.concat(), line);
    }

    #[test]
    fn every_piece_fits_a_record() {
        let text = format!("{}\nshort\n{}", "x".repeat(2500), "y".repeat(960));
        let got: Vec<&str> = records(&text, RECORD_TEXT).collect();
        assert_eq!(got.len(), 3 + 1 + 1);
        assert!(got.iter().all(|p| p.len() <= RECORD_TEXT));
        assert_eq!(got[..3].concat(), "x".repeat(2500));
    }

    #[test]
    fn each_record_is_one_prefixed_write() {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let path = dir.path().join("kmsg");
        std::fs::write(&path, "").expect("an empty stand-in for the log");
        let k = Kmsg::open(&path).expect("the stand-in opens");
        k.lines(Level::Notice, "<3>looks like a level\nsecond\n")
            .expect("records are written");
        k.lines(Level::Error, "broken")
            .expect("records are written");
        let written = std::fs::read_to_string(&path).expect("the stand-in reads back");
        assert_eq!(
            written,
            "<13><3>looks like a level\n<13>second\n<11>broken\n"
        );
    }

    #[test]
    fn a_missing_log_or_sysctl_is_named() {
        let e = Kmsg::open(Path::new("/nonexistent/kmsg")).expect_err("no such log");
        assert!(e.to_string().contains("/nonexistent/kmsg"), "{e}");
        let e =
            Kmsg::unlimit(Path::new("/nonexistent/printk_devkmsg")).expect_err("no such sysctl");
        assert!(e.to_string().contains("/nonexistent/printk_devkmsg"), "{e}");
    }
}
