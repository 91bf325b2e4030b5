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

    proptest! {
        #[test]
        fn arbitrary_bytes_never_panic_the_reader(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
            let _ = read_frame::<Request>(&mut bytes.as_slice());
            let _ = read_frame::<Reply>(&mut bytes.as_slice());
        }
    }
}
