//! stdout and stderr of an Ente, turned into journal lines through its
//! [`JournalGate`].

use super::journal_gate::{JournalGate, MAX_LINE};
use crate::bindings::Level;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use wasmtime_wasi::cli::{IsTerminal, StdoutStream};
use wasmtime_wasi::p2::{OutputStream, Pollable, StreamResult};

/// One of an Ente's output streams: complete lines go to the journal; a
/// partial line longer than [`MAX_LINE`] is cut into a line of its own.
#[derive(Clone)]
pub(crate) struct JournalStream {
    inner: Arc<Inner>,
}

struct Inner {
    level: Level,
    gate: Arc<JournalGate>,
    partial: Mutex<Vec<u8>>,
}

impl JournalStream {
    pub(crate) fn new(level: Level, gate: Arc<JournalGate>) -> JournalStream {
        JournalStream {
            inner: Arc::new(Inner {
                level,
                gate,
                partial: Mutex::new(Vec::new()),
            }),
        }
    }

    fn push(&self, bytes: &[u8]) {
        let mut partial = self.inner.partial.lock().unwrap_or_else(|p| p.into_inner());
        let mut rest = bytes;
        while !rest.is_empty() {
            let room = MAX_LINE - partial.len();
            let take = rest.len().min(room);
            match rest[..take].iter().position(|&b| b == b'\n') {
                Some(nl) => {
                    partial.extend_from_slice(&rest[..nl]);
                    rest = &rest[nl + 1..];
                }
                None => {
                    partial.extend_from_slice(&rest[..take]);
                    rest = &rest[take..];
                    if partial.len() < MAX_LINE {
                        break;
                    }
                }
            }
            let line = String::from_utf8_lossy(&partial).into_owned();
            self.inner.gate.line(self.inner.level, &line);
            partial.clear();
        }
    }
}

impl IsTerminal for JournalStream {
    fn is_terminal(&self) -> bool {
        false
    }
}

impl StdoutStream for JournalStream {
    fn async_stream(&self) -> Box<dyn tokio::io::AsyncWrite + Send + Sync> {
        Box::new(self.clone())
    }

    fn p2_stream(&self) -> Box<dyn OutputStream> {
        Box::new(self.clone())
    }
}

#[wasmtime_wasi::async_trait]
impl Pollable for JournalStream {
    async fn ready(&mut self) {}
}

#[wasmtime_wasi::async_trait]
impl OutputStream for JournalStream {
    fn write(&mut self, bytes: bytes::Bytes) -> StreamResult<()> {
        self.push(&bytes);
        Ok(())
    }

    fn flush(&mut self) -> StreamResult<()> {
        Ok(())
    }

    fn check_write(&mut self) -> StreamResult<usize> {
        Ok(MAX_LINE)
    }
}

impl tokio::io::AsyncWrite for JournalStream {
    fn poll_write(
        self: Pin<&mut Self>,
        _: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        self.push(buf);
        Poll::Ready(Ok(buf.len()))
    }

    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}
