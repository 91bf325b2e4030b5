//! The control socket carried over a virtio console port named
//! [`PORT_NAME`]: whoever holds the machine's end of that port (QEMU's
//! `-chardev socket` behind `-device virtserialport,name=dev.ente.ctl`)
//! is the machine's owner, and reaches `ente ctl` with no network in the
//! guest. `ente ctl --socket HOST-END ...` speaks to it unchanged.
//!
//! The port is one byte stream that outlives each host-side connection,
//! so PID 1 relays: it finds the next session in the port (its marker,
//! then a request frame; whatever comes before a marker is dropped), makes
//! it a connection to its own control socket (as root, which the socket
//! serves), and copies the answer back (the same marker, then frames),
//! ending it with [`Reply::End`] (the socket's hang-up after a refusal is
//! not seen through the port). A host end gone for [`GONE_AFTER`], or a
//! next session arriving, ends the relay (a follower's `-f` that was
//! interrupted); what the port still held of that answer is skipped by
//! the next client, which reads from its own session's marker on. A
//! request longer than a frame is refused in its session, and the port
//! read on for the next marker.
//!
//! Deliberately blocking, on a thread of its own: a virtio port's
//! "host not connected" is a `POLLHUP` that stays until the host comes,
//! and is not an edge that an async reactor can wait on.

use super::say;
use ente_ctl::{MAX_FRAME, Reply, read_frame, write_frame};
use nix::errno::Errno;
use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
use std::fs::File;
use std::io::{Read, Write};
use std::os::fd::AsFd;
use std::os::unix::fs::OpenOptionsExt;
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// The port's name, as the machine's owner gives it.
pub const PORT_NAME: &str = "dev.ente.ctl";
/// How long the port may take to appear once the surface settled (its
/// driver is loaded by coldplug).
const FIND_WITHIN: Duration = Duration::from_secs(10);
/// A host end absent this long is gone. The port says "absent" for a
/// moment after a host connects, too (its open travels on another queue
/// than its first bytes).
const GONE_AFTER: Duration = Duration::from_millis(500);
/// One wait on the port, in ms.
const STEP_MS: u8 = 100;
/// How long the control socket may take with one reply frame.
const FRAME_WITHIN: Duration = Duration::from_secs(15);

/// Find the port and relay it to `socket` on a thread of its own; a
/// machine without the port has no console control, and is told so.
pub fn start(socket: PathBuf) {
    let spawned = std::thread::Builder::new()
        .name("ctl-port".into())
        .spawn(move || {
            let Some(dev) = find() else {
                say!("no control port: this machine has no virtio port named {PORT_NAME}");
                return;
            };
            let file = match std::fs::OpenOptions::new()
                .read(true)
                .write(true)
                .custom_flags(libc::O_NONBLOCK | libc::O_CLOEXEC)
                .open(&dev)
            {
                Ok(f) => f,
                Err(e) => {
                    super::alarm!("no control port: {}: {e}", dev.display());
                    return;
                }
            };
            say!("control port: {} ({PORT_NAME})", dev.display());
            Port { file, absent: None }.serve(&socket);
        });
    if let Err(e) = spawned {
        super::alarm!("no control port: no thread for it: {e}");
    }
}

/// `/dev/vportNpM` whose sysfs name is [`PORT_NAME`], once its node exists.
fn find() -> Option<PathBuf> {
    let deadline = Instant::now() + FIND_WITHIN;
    loop {
        let named = std::fs::read_dir("/sys/class/virtio-ports")
            .into_iter()
            .flatten()
            .flatten()
            .find(|e| {
                std::fs::read_to_string(e.path().join("name"))
                    .is_ok_and(|n| n.trim_end() == PORT_NAME)
            })
            .map(|e| Path::new("/dev").join(e.file_name()));
        if let Some(dev) = named.filter(|d| d.exists()) {
            return Some(dev);
        }
        if Instant::now() >= deadline {
            return None;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// What the bytes read from the port hold.
#[derive(Debug, PartialEq, Eq)]
enum Found {
    /// A whole session of this many bytes (its marker and its request).
    Whole { nonce: u64, len: usize },
    /// Nothing whole yet.
    Partial,
    /// A session whose request claims more than a frame may hold.
    TooLarge { nonce: u64, len: usize },
}

/// Drop what comes before the first session marker in `buf` (the rest of
/// a session abandoned, or bytes that are not one), then say what it holds.
fn found(buf: &mut Vec<u8>) -> Found {
    let magic = &ente_ctl::SESSION;
    match buf.windows(magic.len()).position(|w| w == magic) {
        Some(at) => drop(buf.drain(..at)),
        None => {
            // A marker's first bytes may have arrived without the rest.
            let keep = buf.len().min(magic.len() - 1);
            buf.drain(..buf.len() - keep);
            return Found::Partial;
        }
    }
    let (Some(nonce), Some(len)) = (buf.get(8..16), buf.get(16..20)) else {
        return Found::Partial;
    };
    let nonce = u64::from_le_bytes(nonce.try_into().unwrap_or_default());
    let len = u32::from_le_bytes(len.try_into().unwrap_or_default()) as usize;
    if len > MAX_FRAME {
        Found::TooLarge { nonce, len }
    } else if buf.len() >= 20 + len {
        Found::Whole {
            nonce,
            len: 20 + len,
        }
    } else {
        Found::Partial
    }
}

struct Port {
    file: File,
    /// Since when the host end has been absent, if it is.
    absent: Option<Instant>,
}

/// The host end went away.
struct Gone;

impl Port {
    /// Wait one step for `want`; what the port said.
    fn wait(&mut self, want: PollFlags) -> PollFlags {
        let mut fds = [PollFd::new(self.file.as_fd(), want)];
        match poll(&mut fds, PollTimeout::from(STEP_MS)) {
            Ok(_) => fds[0].revents().unwrap_or(PollFlags::empty()),
            Err(_) => PollFlags::empty(),
        }
    }

    /// Note what the port said of its host end; whether it is gone. (With
    /// no host end the port is readable too: its read gives 0.)
    fn gone(&mut self, seen: PollFlags) -> bool {
        if seen.contains(PollFlags::POLLHUP) {
            let since = *self.absent.get_or_insert_with(Instant::now);
            since.elapsed() >= GONE_AFTER
        } else {
            self.absent = None;
            false
        }
    }

    fn serve(mut self, socket: &Path) {
        let mut buf = Vec::new();
        loop {
            match found(&mut buf) {
                Found::Whole { nonce, len } => {
                    let session: Vec<u8> = buf.drain(..len).collect();
                    if self.relay(nonce, &session, socket).is_err() {
                        buf.clear();
                    }
                    continue;
                }
                Found::TooLarge { nonce, len } => {
                    let why = format!(
                        "a request of {len} bytes, more than the {MAX_FRAME} a frame may hold"
                    );
                    // Past its marker: what follows is no session.
                    buf.drain(..ente_ctl::SESSION.len());
                    let _ = self.refuse(nonce, why);
                    continue;
                }
                Found::Partial => {}
            }
            let seen = self.wait(PollFlags::POLLIN);
            if self.gone(seen) {
                buf.clear();
            }
            let mut chunk = [0u8; 4096];
            let read = if seen.contains(PollFlags::POLLIN) {
                self.file.read(&mut chunk)
            } else {
                Ok(0)
            };
            match read {
                Ok(n) if n > 0 => buf.extend_from_slice(&chunk[..n]),
                // No host end (the port polls readable and hung up, and
                // reads nothing), or a failed read: poll does not wait then.
                _ if seen.contains(PollFlags::POLLHUP) || read.is_err() => {
                    std::thread::sleep(Duration::from_millis(u64::from(STEP_MS)));
                }
                _ => {}
            }
        }
    }

    /// One request to the control socket, its answer to the port.
    fn relay(&mut self, nonce: u64, session: &[u8], socket: &Path) -> Result<(), Gone> {
        let mut conn = match UnixStream::connect(socket) {
            Ok(c) => c,
            Err(e) => {
                let why = format!("the host's control socket {}: {e}", socket.display());
                return self.refuse(nonce, why);
            }
        };
        let _ = conn.set_write_timeout(Some(FRAME_WITHIN));
        let _ = conn.set_read_timeout(Some(FRAME_WITHIN));
        // A request refused unread is answered all the same: read below.
        let _ = conn.write_all(session);
        let mut marker = [0u8; 16];
        if let Err(e) = conn.read_exact(&mut marker) {
            return self.refuse(
                nonce,
                format!("the host's control socket answered nothing: {e}"),
            );
        }
        self.put(&marker)?;
        loop {
            // The socket's next frame, while watching the host end (a
            // follower waits here for as long as the host stays).
            let ready = {
                let mut fds = [
                    PollFd::new(conn.as_fd(), PollFlags::POLLIN),
                    PollFd::new(self.file.as_fd(), PollFlags::POLLIN),
                ];
                match poll(&mut fds, PollTimeout::from(STEP_MS)) {
                    Ok(_) => (
                        fds[0].revents().unwrap_or(PollFlags::empty()),
                        fds[1].revents().unwrap_or(PollFlags::empty()),
                    ),
                    Err(Errno::EINTR) => continue,
                    Err(_) => (PollFlags::empty(), PollFlags::empty()),
                }
            };
            if self.gone(ready.1) {
                return Err(Gone);
            }
            // Bytes from a host end that is there (with no host end the
            // port polls readable too, and the wait above ends the relay).
            if ready.1.contains(PollFlags::POLLIN) && !ready.1.contains(PollFlags::POLLHUP) {
                // The next request: its sender is the host end now (the
                // one this answer was for left, unseen). Its answer is
                // found by its own session marker.
                return Ok(());
            }
            if ready.0.is_empty() {
                continue;
            }
            let reply: Reply = match read_frame(&mut conn) {
                Ok(r) => r,
                // Closed (after a refusal, or the host stopping), or a
                // frame that did not come whole in time.
                Err(_) => return self.answer(&Reply::End),
            };
            self.answer(&reply)?;
            if reply == Reply::End {
                return Ok(());
            }
        }
    }

    /// An answer of the bridge's own: a refusal, in its session.
    fn refuse(&mut self, nonce: u64, why: String) -> Result<(), Gone> {
        self.put(&ente_ctl::session_marker(nonce))?;
        self.answer(&Reply::Refused(why))?;
        self.answer(&Reply::End)
    }

    /// Write one frame to the port.
    fn answer(&mut self, reply: &Reply) -> Result<(), Gone> {
        let mut bytes = Vec::new();
        if write_frame(&mut bytes, reply).is_err() {
            return Ok(());
        }
        self.put(&bytes)
    }

    /// Write bytes to the port, waiting while it is full.
    fn put(&mut self, bytes: &[u8]) -> Result<(), Gone> {
        let mut at = 0;
        while at < bytes.len() {
            match self.file.write(&bytes[at..]) {
                Ok(n) => at += n,
                Err(e) if e.raw_os_error() == Some(libc::EAGAIN) => {
                    let seen = self.wait(PollFlags::POLLOUT);
                    if self.gone(seen) {
                        return Err(Gone);
                    }
                    if seen.contains(PollFlags::POLLHUP) {
                        std::thread::sleep(Duration::from_millis(50));
                    }
                }
                Err(_) => return Err(Gone),
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn session(nonce: u64, body: &[u8]) -> Vec<u8> {
        let mut s = ente_ctl::session_marker(nonce).to_vec();
        s.extend_from_slice(&(body.len() as u32).to_le_bytes());
        s.extend_from_slice(body);
        s
    }

    #[test]
    fn a_session_is_cut_from_the_stream_after_whatever_came_before() {
        let mut buf = b"the tail of an abandoned one".to_vec();
        buf.extend_from_slice(&session(7, b"req"));
        buf.extend_from_slice(&session(8, b"next")[..10]);
        assert_eq!(found(&mut buf), Found::Whole { nonce: 7, len: 23 });
        buf.drain(..23);
        assert_eq!(found(&mut buf), Found::Partial);
        assert_eq!(buf.len(), 10, "a partial session is kept");
    }

    #[test]
    fn bytes_without_a_marker_are_dropped_but_for_a_marker_begun() {
        let mut buf = vec![0u8; 100];
        buf.extend_from_slice(&ente_ctl::SESSION[..3]);
        assert_eq!(found(&mut buf), Found::Partial);
        assert_eq!(buf.len(), 7);
        assert!(buf.ends_with(&ente_ctl::SESSION[..3]));
        buf.extend_from_slice(&ente_ctl::SESSION[3..]);
        buf.extend_from_slice(&9u64.to_le_bytes());
        buf.extend_from_slice(&u32::MAX.to_le_bytes());
        assert_eq!(
            found(&mut buf),
            Found::TooLarge {
                nonce: 9,
                len: u32::MAX as usize
            }
        );
    }
}
