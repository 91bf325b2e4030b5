//! Frames: a 4-byte little-endian length, then postcard, at most
//! [`MAX_FRAME`] bytes; blocking (the client) and async (the host).

use crate::MAX_FRAME;
use serde::Serialize;
use serde::de::DeserializeOwned;
use std::io::{Read, Write};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

/// Why a frame was not read or written.
#[derive(Debug, thiserror::Error)]
pub enum WireError {
    #[error("a frame of {len} bytes, more than the {MAX_FRAME} a frame may hold")]
    TooLarge { len: usize },
    #[error("the peer closed the connection")]
    Closed,
    #[error("the frame does not decode: {0}")]
    Garbled(String),
    #[error("protocol version {version}; this side speaks {}", crate::VERSION)]
    Version { version: u16 },
    #[error("no answer of this session within the first {skipped} bytes")]
    NoSession { skipped: usize },
    #[error("not an ente ctl session: it does not begin with the session marker")]
    NoMarker,
    #[error("{0}")]
    Io(#[from] std::io::Error),
}

fn encode<T: Serialize>(value: &T) -> Result<Vec<u8>, WireError> {
    let body = postcard::to_stdvec(value).map_err(|e| WireError::Garbled(e.to_string()))?;
    if body.len() > MAX_FRAME {
        return Err(WireError::TooLarge { len: body.len() });
    }
    let mut frame = Vec::with_capacity(4 + body.len());
    // Fits: at most MAX_FRAME.
    frame.extend_from_slice(&(body.len() as u32).to_le_bytes());
    frame.extend_from_slice(&body);
    Ok(frame)
}

fn length(prefix: [u8; 4]) -> Result<usize, WireError> {
    let len = u32::from_le_bytes(prefix) as usize;
    if len > MAX_FRAME {
        return Err(WireError::TooLarge { len });
    }
    Ok(len)
}

fn decode<T: DeserializeOwned>(body: &[u8]) -> Result<T, WireError> {
    postcard::from_bytes(body).map_err(|e| WireError::Garbled(e.to_string()))
}

fn closed(e: std::io::Error) -> WireError {
    if e.kind() == std::io::ErrorKind::UnexpectedEof {
        WireError::Closed
    } else {
        WireError::Io(e)
    }
}

/// The bytes that begin a session of `nonce`, both ways.
pub fn session_marker(nonce: u64) -> [u8; 16] {
    let mut m = [0u8; 16];
    m[..8].copy_from_slice(&crate::SESSION);
    m[8..].copy_from_slice(&nonce.to_le_bytes());
    m
}

/// Read up to and through the marker of `nonce`'s session (or of an
/// answer given unread, [`crate::UNREAD`]), dropping what comes before it:
/// the tail of an earlier answer that a shared stream still held. Returns
/// how many bytes were dropped; at most [`crate::MAX_SKIPPED`] are.
pub fn await_session(r: &mut impl Read, nonce: u64) -> Result<usize, WireError> {
    let (mine, unread) = (session_marker(nonce), session_marker(crate::UNREAD));
    let mut window = [0u8; 16];
    let mut seen = 0usize;
    loop {
        let mut byte = [0u8; 1];
        r.read_exact(&mut byte).map_err(closed)?;
        window.copy_within(1.., 0);
        window[15] = byte[0];
        seen += 1;
        if seen >= 16 && (window == mine || window == unread) {
            return Ok(seen - 16);
        }
        if seen > crate::MAX_SKIPPED + 16 {
            return Err(WireError::NoSession {
                skipped: crate::MAX_SKIPPED,
            });
        }
    }
}

/// A session's marker, read first by the host: the client's nonce.
pub async fn read_session_async(r: &mut (impl AsyncRead + Unpin)) -> Result<u64, WireError> {
    let mut marker = [0u8; 16];
    r.read_exact(&mut marker).await.map_err(closed)?;
    let (magic, nonce) = marker.split_at(8);
    if magic != crate::SESSION {
        return Err(WireError::NoMarker);
    }
    let mut n = [0u8; 8];
    n.copy_from_slice(nonce);
    Ok(u64::from_le_bytes(n))
}

pub fn write_frame<T: Serialize>(w: &mut impl Write, value: &T) -> Result<(), WireError> {
    w.write_all(&encode(value)?)?;
    Ok(())
}

pub fn read_frame<T: DeserializeOwned>(r: &mut impl Read) -> Result<T, WireError> {
    let mut prefix = [0u8; 4];
    r.read_exact(&mut prefix).map_err(closed)?;
    let mut body = vec![0u8; length(prefix)?];
    r.read_exact(&mut body).map_err(closed)?;
    decode(&body)
}

pub async fn write_frame_async<T: Serialize>(
    w: &mut (impl AsyncWrite + Unpin),
    value: &T,
) -> Result<(), WireError> {
    w.write_all(&encode(value)?).await?;
    Ok(())
}

/// A frame's bytes, undecoded.
pub async fn read_raw_async(r: &mut (impl AsyncRead + Unpin)) -> Result<Vec<u8>, WireError> {
    let mut prefix = [0u8; 4];
    r.read_exact(&mut prefix).await.map_err(closed)?;
    let mut body = vec![0u8; length(prefix)?];
    r.read_exact(&mut body).await.map_err(closed)?;
    Ok(body)
}

/// A request's bytes: its version first (a request of another version is
/// refused by it, whatever follows), then the rest.
pub fn decode_request(body: &[u8]) -> Result<crate::Request, WireError> {
    let (version, _) =
        postcard::take_from_bytes::<u16>(body).map_err(|e| WireError::Garbled(e.to_string()))?;
    if version != crate::VERSION {
        return Err(WireError::Version { version });
    }
    decode(body)
}

pub async fn read_frame_async<T: DeserializeOwned>(
    r: &mut (impl AsyncRead + Unpin),
) -> Result<T, WireError> {
    let mut prefix = [0u8; 4];
    r.read_exact(&mut prefix).await.map_err(closed)?;
    let mut body = vec![0u8; length(prefix)?];
    r.read_exact(&mut body).await.map_err(closed)?;
    decode(&body)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Reply, Request, VERSION, Verb};
    use proptest::prelude::*;

    #[test]
    fn a_request_goes_through_a_frame_and_back() {
        let req = Request {
            version: VERSION,
            verb: Verb::Logs {
                ente: Some("echo".into()),
                lines: 20,
                follow: true,
            },
        };
        let mut buf = Vec::new();
        write_frame(&mut buf, &req).expect("write");
        let back: Request = read_frame(&mut buf.as_slice()).expect("read");
        assert_eq!(back, req);
    }

    #[test]
    fn a_length_past_the_cap_is_refused_before_anything_is_allocated() {
        let mut frame = (u32::MAX).to_le_bytes().to_vec();
        frame.extend_from_slice(b"rest");
        let err = read_frame::<Request>(&mut frame.as_slice()).expect_err("too large");
        assert!(matches!(err, WireError::TooLarge { .. }), "{err}");
        let err = read_frame::<Request>(&mut &[5u8, 0, 0, 0, 1][..]).expect_err("short");
        assert!(matches!(err, WireError::Closed), "{err}");
    }

    #[test]
    fn a_session_is_found_after_the_tail_of_an_earlier_answer() {
        let mut stream = Vec::new();
        // An earlier session's marker and the half of a frame it left.
        stream.extend_from_slice(&session_marker(41));
        stream.extend_from_slice(&[9, 0, 0, 0, 1, 2]);
        stream.extend_from_slice(&session_marker(42));
        write_frame(&mut stream, &Reply::End).expect("write");
        let mut r = stream.as_slice();
        let dropped = await_session(&mut r, 42).expect("found");
        assert_eq!(dropped, 16 + 6);
        assert_eq!(read_frame::<Reply>(&mut r).expect("frame"), Reply::End);
        // An answer given before the request was read is taken too.
        let mut unread = session_marker(crate::UNREAD).to_vec();
        write_frame(&mut unread, &Reply::Refused("no".into())).expect("write");
        let mut r = unread.as_slice();
        assert_eq!(await_session(&mut r, 42).expect("found"), 0);
        // A stream without it ends as closed.
        let err = await_session(&mut &session_marker(41)[..], 42).expect_err("none");
        assert!(matches!(err, WireError::Closed), "{err}");
    }

    proptest! {
        #[test]
        fn arbitrary_bytes_never_panic_the_reader(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
            let _ = read_frame::<Request>(&mut bytes.as_slice());
            let _ = read_frame::<Reply>(&mut bytes.as_slice());
            let _ = await_session(&mut bytes.as_slice(), 3);
        }
    }
}
