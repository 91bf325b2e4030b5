//! `ente-ctl`: the control protocol between `ente ctl` and a running host
//! (`ente up` or PID 1), over a Unix socket the host authenticates by
//! SO_PEERCRED.
//!
//! A connection carries one [`Request`]; the host answers with one or more
//! [`Reply`] frames (a stream for `events -f` and `logs -f`), the last
//! being [`Reply::End`] unless the host went away. Each frame is a 4-byte
//! little-endian length, then that many bytes of postcard, at most
//! [`MAX_FRAME`]. A frame too long, truncated, or not a request of this
//! [`VERSION`] ends that connection, and only that one, with a
//! [`Reply::Refused`] naming why (a request of another version by its
//! version, read before the rest).

mod proto;
mod wire;

pub use proto::{EnteRow, EventLine, Reply, Request, Verb};
pub use wire::{
    WireError, decode_request, read_frame, read_frame_async, read_raw_async, write_frame,
    write_frame_async,
};

/// The protocol's version: a request of another is refused by name.
pub const VERSION: u16 = 1;

/// The largest frame either side sends or accepts: a card to spawn (at
/// most 1 MiB) and its framing. A status is sent in chunks of rows.
pub const MAX_FRAME: usize = (1 << 20) + 4096;
