//! stdout and stderr of an Ente, turned into journal lines.

use crate::bindings::Level;
use crate::state::{Identity, JournalSink};
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use wasmtime_wasi::cli::{IsTerminal, StdoutStream};
use wasmtime_wasi::p2::{OutputStream, Pollable, StreamResult};

/// A partial line longer than this is cut into a line of its own.
const MAX_LINE: usize = 4096;

/// One of an Ente's output streams: complete lines go to the journal.
#[derive(Clone)]
pub(crate) struct JournalStream {
    inner: Arc<Inner>,
}

struct Inner {
    ente: Identity,
    level: Level,
    sink: Arc<dyn JournalSink>,
    partial: Mutex<Vec<u8>>,
}

impl JournalStream {
    pub(crate) fn new(ente: Identity, level: Level, sink: Arc<dyn JournalSink>) -> JournalStream {
        JournalStream {
            inner: Arc::new(Inner {
                ente,
                level,
                sink,
                partial: Mutex::new(Vec::new()),
            }),
        }
    }

    fn push(&self, bytes: &[u8]) {
        let mut partial = match self.inner.partial.lock() {
            Ok(p) => p,
            Err(poisoned) => poisoned.into_inner(),
        };
        for &b in bytes {
            if b == b'\n' || partial.len() >= MAX_LINE {
                let line = String::from_utf8_lossy(&partial).into_owned();
                self.inner
                    .sink
                    .line(&self.inner.ente, self.inner.level, &line);
                partial.clear();
                if b == b'\n' {
                    continue;
                }
            }
            partial.push(b);
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
