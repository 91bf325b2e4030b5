//! A native program's stdout and stderr, line by line into its journal
//! (stdout at info, stderr at warn): cleaned for printing, cut to the
//! journal's line length and held to its rate, as a Wasm Ente's are.

use ente_runtime::{Identity, JournalSink, Level};
use std::os::fd::{AsRawFd, OwnedFd};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

/// Read both pipes on a thread of their own until both close.
pub fn pump(
    stdout: OwnedFd,
    stderr: OwnedFd,
    identity: Identity,
    journal: Arc<dyn JournalSink>,
    dropped: Arc<AtomicU64>,
) {
    let name = format!("ente-out-{}", identity.label);
    let spawned = std::thread::Builder::new().name(name).spawn(move || {
        let mut streams = [
            Stream::new(stdout, Level::Info),
            Stream::new(stderr, Level::Warn),
        ];
        let mut bucket = Bucket::new();
        loop {
            let mut fds: Vec<libc::pollfd> = streams
                .iter()
                .filter_map(|s| s.fd.as_ref())
                .map(|fd| libc::pollfd {
                    fd: fd.as_raw_fd(),
                    events: libc::POLLIN,
                    revents: 0,
                })
                .collect();
            if fds.is_empty() {
                return;
            }
            // SAFETY: a live array of `fds.len()` pollfds.
            if unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, -1) } < 0 {
                continue;
            }
            for s in &mut streams {
                let ready = s
                    .fd
                    .as_ref()
                    .is_some_and(|fd| fds.iter().any(|p| p.fd == fd.as_raw_fd() && p.revents != 0));
                if ready {
                    s.read(&mut |level, text| {
                        // Under its level: dropped before it counts
                        // against the rate.
                        if !journal.admits(&identity, level) {
                        } else if bucket.take() {
                            journal.line(&identity, level, text);
                        } else {
                            dropped.fetch_add(1, Ordering::Relaxed);
                        }
                    });
                }
            }
        }
    });
    if let Err(e) = spawned {
        tracing::error!(error = %e, "cannot start the thread that reads a native Ente's output");
    }
}

struct Stream {
    fd: Option<OwnedFd>,
    level: Level,
    partial: Vec<u8>,
}

impl Stream {
    fn new(fd: OwnedFd, level: Level) -> Stream {
        Stream {
            fd: Some(fd),
            level,
            partial: Vec::new(),
        }
    }

    fn read(&mut self, emit: &mut dyn FnMut(Level, &str)) {
        let Some(fd) = &self.fd else { return };
        let mut buf = [0u8; 8192];
        // SAFETY: reads into a live local buffer.
        let n = unsafe { libc::read(fd.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len()) };
        if n <= 0 {
            if n == 0 || std::io::Error::last_os_error().kind() != std::io::ErrorKind::Interrupted {
                self.fd = None;
                if !self.partial.is_empty() {
                    let line = std::mem::take(&mut self.partial);
                    self.line(&line, emit);
                }
            }
            return;
        }
        self.partial.extend_from_slice(&buf[..n as usize]);
        while let Some(at) = self.partial.iter().position(|b| *b == b'\n') {
            let line: Vec<u8> = self.partial.drain(..=at).collect();
            self.line(&line[..at], emit);
        }
        // A line longer than the journal keeps is cut, not held.
        if self.partial.len() > ente_runtime::host::MAX_LINE {
            let line = std::mem::take(&mut self.partial);
            self.line(&line, emit);
        }
    }

    fn line(&self, bytes: &[u8], emit: &mut dyn FnMut(Level, &str)) {
        let text = String::from_utf8_lossy(bytes);
        if text.trim().is_empty() {
            return;
        }
        emit(
            self.level,
            &ente_runtime::host::clean(text.trim_end_matches('\r'), ente_runtime::host::MAX_LINE),
        );
    }
}

/// The journal's rate: a burst, then so many lines a second.
struct Bucket {
    tokens: f64,
    at: Instant,
}

impl Bucket {
    fn new() -> Bucket {
        Bucket {
            tokens: ente_runtime::host::BURST,
            at: Instant::now(),
        }
    }

    fn take(&mut self) -> bool {
        let now = Instant::now();
        let refill = now.duration_since(self.at).as_secs_f64() * ente_runtime::host::RATE;
        self.tokens = (self.tokens + refill).min(ente_runtime::host::BURST);
        self.at = now;
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}
