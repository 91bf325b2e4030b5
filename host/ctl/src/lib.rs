//! `ente-ctl`: the control protocol between `ente ctl` and a running host
//! (`ente up` or PID 1), over a Unix socket the host authenticates by
//! SO_PEERCRED.
//!
//! A connection carries one session: the client's [`session_marker`] (its
//! nonce) and one [`Request`]; the host answers with the same marker, then
//! one or more [`Reply`] frames (a stream for `events -f` and `logs -f`),
//! the last being [`Reply::End`] unless the host went away. The markers
//! let both sides find a session in a byte stream that outlives
//! connections and may hold the rest of an earlier one (the appliance's
//! control port, a virtio console). Each frame is a 4-byte
//! little-endian length, then that many bytes of postcard, at most
//! [`MAX_FRAME`]. A frame too long, truncated, or not a request of this
//! [`VERSION`] ends that connection, and only that one, with a
//! [`Reply::Refused`] naming why (a request of another version by its
//! version, read before the rest).

mod proto;
mod wire;

pub use proto::{BrainVerb, CrystalRow, EnteRow, EventLine, Reply, Request, Verb};
pub use wire::{
    WireError, await_session, decode_request, read_frame, read_frame_async, read_raw_async,
    read_session_async, session_marker, write_frame, write_frame_async,
};

/// The protocol's version: a request of another is refused by name. (3:
/// `log-level`, and each row's journal level.)
pub const VERSION: u16 = 3;

/// What begins a session's marker: eight bytes no frame of a short answer
/// starts with, followed by the nonce.
pub const SESSION: [u8; 8] = [0xE7, b'E', b'N', b'T', b'E', b'C', b'T', b'L'];

/// The nonce of an answer given before the session was read (a peer
/// refused, bytes that are not a session); never a client's.
pub const UNREAD: u64 = 0;

/// How many bytes a client drops, at most, looking for its session.
pub const MAX_SKIPPED: usize = 16 << 20;

/// The largest frame either side sends or accepts: a card to spawn (at
/// most 1 MiB) and its framing. A status is sent in chunks of rows.
pub const MAX_FRAME: usize = (1 << 20) + 4096;
