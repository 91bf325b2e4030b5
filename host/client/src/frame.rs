//! The frames of the native bus, and how they are read and written.

use serde::{Deserialize, Serialize};
use std::io::{self, Read, Write};

/// The largest frame either side sends or accepts: a bus call's largest
/// request (4 MiB) and room for its envelope.
pub const MAX_FRAME: usize = (4 << 20) + 4096;

/// A program to the host.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Up {
    /// Invoke an endpoint as this program's Ente.
    Call {
        id: u64,
        interface: String,
        version: u32,
        body: Vec<u8>,
    },
    /// From now on, this connection answers the Ente's deliveries.
    Serve,
    /// sd_notify variables (`READY=1`, `WATCHDOG=1`, ...) for this
    /// program's Legacy Ente, answered by a [`Down::Reply`] with id 0.
    Notify { vars: Vec<String> },
    /// The answer to a [`Down::Deliver`].
    Answer {
        id: u64,
        result: Result<Vec<u8>, String>,
    },
}

/// The host to a program.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Down {
    Reply {
        id: u64,
        result: Result<Vec<u8>, WireError>,
    },
    /// A call to one of the Ente's endpoints.
    Deliver {
        id: u64,
        from: String,
        interface: String,
        version: u32,
        body: Vec<u8>,
    },
    /// This connection now answers the Ente's deliveries.
    Serving,
    /// The connection is refused, and closed.
    Refused { reason: String },
}

/// Why a call did not succeed (the bus's own errors).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
pub enum WireError {
    #[error("denied: {0}")]
    Denied(String),
    #[error("no running Ente provides the endpoint")]
    NoProvider,
    #[error("the provider is busy; try again")]
    Busy,
    #[error("the call would wait on itself")]
    Cycle,
    #[error("larger than the bus carries ({0} bytes at most)")]
    TooLarge(u64),
    #[error("the provider failed: {0}")]
    ProviderFailed(String),
}

/// Why a frame could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum FrameError {
    #[error("the other side closed the connection")]
    Closed,
    #[error("a frame of {size} bytes is larger than the {MAX_FRAME} a frame may be")]
    Oversized { size: u64 },
    #[error("the frame ended after {got} of its {size} bytes")]
    Truncated { got: usize, size: usize },
    #[error("the frame does not decode: {0}")]
    Malformed(String),
    #[error(transparent)]
    Io(io::Error),
}

/// Write one frame.
pub fn write_frame<T: Serialize>(w: &mut impl Write, msg: &T) -> Result<(), FrameError> {
    let bytes = postcard::to_stdvec(msg).map_err(|e| FrameError::Malformed(e.to_string()))?;
    if bytes.len() > MAX_FRAME {
        return Err(FrameError::Oversized {
            size: bytes.len() as u64,
        });
    }
    let mut out = Vec::with_capacity(4 + bytes.len());
    out.extend_from_slice(&(bytes.len() as u32).to_le_bytes());
    out.extend_from_slice(&bytes);
    w.write_all(&out).map_err(FrameError::Io)
}

/// Read one frame: its length checked against [`MAX_FRAME`] before a byte
/// of it is held.
pub fn read_frame<T: for<'de> Deserialize<'de>>(r: &mut impl Read) -> Result<T, FrameError> {
    let mut len = [0u8; 4];
    match read_exact(r, &mut len)? {
        0 => return Err(FrameError::Closed),
        4 => {}
        got => return Err(FrameError::Truncated { got, size: 4 }),
    }
    let size = u32::from_le_bytes(len) as usize;
    if size > MAX_FRAME {
        return Err(FrameError::Oversized { size: size as u64 });
    }
    let mut buf = vec![0u8; size];
    let got = read_exact(r, &mut buf)?;
    if got < size {
        return Err(FrameError::Truncated { got, size });
    }
    let (msg, rest) =
        postcard::take_from_bytes(&buf).map_err(|e| FrameError::Malformed(e.to_string()))?;
    if !rest.is_empty() {
        return Err(FrameError::Malformed(format!(
            "{} bytes follow the message in its frame",
            rest.len()
        )));
    }
    Ok(msg)
}

/// Read until `buf` is full or the stream ends; how many bytes came.
fn read_exact(r: &mut impl Read, buf: &mut [u8]) -> Result<usize, FrameError> {
    let mut got = 0;
    while got < buf.len() {
        match r.read(&mut buf[got..]) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(FrameError::Io(e)),
        }
    }
    Ok(got)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn a_frame_round_trips() {
        let msg = Up::Call {
            id: 7,
            interface: "6563686f".into(),
            version: 1,
            body: b"hi".to_vec(),
        };
        let mut buf = Vec::new();
        write_frame(&mut buf, &msg).expect("write");
        assert_eq!(read_frame::<Up>(&mut buf.as_slice()).expect("read"), msg);
    }

    #[test]
    fn an_oversized_length_is_refused_before_anything_is_read() {
        let mut buf = ((MAX_FRAME + 1) as u32).to_le_bytes().to_vec();
        buf.extend_from_slice(&[0; 16]);
        let e = read_frame::<Up>(&mut buf.as_slice()).expect_err("oversized");
        assert!(matches!(e, FrameError::Oversized { .. }), "{e}");
    }

    #[test]
    fn a_cut_frame_and_a_closed_stream_are_told_apart() {
        let mut buf = Vec::new();
        write_frame(&mut buf, &Up::Serve).expect("write");
        buf.extend_from_slice(&20u32.to_le_bytes());
        buf.extend_from_slice(&[1, 2, 3]);
        let mut r = buf.as_slice();
        assert_eq!(read_frame::<Up>(&mut r).expect("first"), Up::Serve);
        let e = read_frame::<Up>(&mut r).expect_err("cut");
        assert!(
            matches!(e, FrameError::Truncated { got: 3, size: 20 }),
            "{e}"
        );
        let e = read_frame::<Up>(&mut [].as_slice()).expect_err("closed");
        assert!(matches!(e, FrameError::Closed), "{e}");
    }

    proptest! {
        #[test]
        fn no_bytes_make_the_reader_panic_or_hold_more_than_the_cap(bytes in proptest::collection::vec(any::<u8>(), 0..256)) {
            let _ = read_frame::<Up>(&mut bytes.as_slice());
            let _ = read_frame::<Down>(&mut bytes.as_slice());
        }
    }
}
