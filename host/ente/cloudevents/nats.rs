//! The NATS target (feature `nats`): each event published on
//! `<subject>.<type>` by an `async-nats` client on a runtime of its own
//! (one worker thread, so the client answers the server's pings while the
//! writer waits for lines). NATS core is at-most-once: what the client
//! could not publish, or flush within [`FLUSH_WITHIN`], is counted as lost
//! and said in a `dev.ente.sink.dropped.v1` event; a subscriber's own
//! losses are the server's to report.

use super::Line;
use super::writer::Out;
use std::time::Duration;

/// How long the first connection may take.
const CONNECT_WITHIN: Duration = Duration::from_secs(5);
/// How long one batch's flush may take (a server gone: the host's end
/// waits no longer than this).
const FLUSH_WITHIN: Duration = Duration::from_secs(5);

pub(super) struct NatsOut {
    rt: tokio::runtime::Runtime,
    client: async_nats::Client,
    subject: String,
    /// Published since the last flush.
    pending: u64,
    lost: u64,
    why: Option<String>,
}

impl NatsOut {
    pub(super) fn connect(url: &str, subject: String) -> Result<NatsOut, String> {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("ente-nats")
            .enable_all()
            .build()
            .map_err(|e| format!("no runtime for the NATS client: {e}"))?;
        let client = rt
            .block_on(
                async_nats::ConnectOptions::new()
                    .name("ente")
                    .connection_timeout(CONNECT_WITHIN)
                    .connect(url),
            )
            .map_err(|e| format!("cannot connect: {e}"))?;
        Ok(NatsOut {
            rt,
            client,
            subject,
            pending: 0,
            lost: 0,
            why: None,
        })
    }
}

impl Out for NatsOut {
    fn put(&mut self, line: &Line) -> Result<(), String> {
        let subject = format!("{}.{}", self.subject, line.ty);
        let sent = self
            .rt
            .block_on(self.client.publish(subject, line.json.clone().into()));
        match sent {
            Ok(()) => self.pending += 1,
            Err(e) => {
                self.lost += 1;
                self.why = Some(format!("NATS publish failed: {e}"));
            }
        }
        Ok(())
    }

    fn flush(&mut self) -> Result<(), String> {
        let flushed = self
            .rt
            .block_on(async { tokio::time::timeout(FLUSH_WITHIN, self.client.flush()).await });
        match flushed {
            Ok(Ok(())) => {}
            Ok(Err(e)) => {
                self.lost += self.pending;
                self.why = Some(format!("NATS flush failed: {e}"));
            }
            Err(_) => {
                self.lost += self.pending;
                self.why = Some(format!(
                    "the NATS server took no lines for {FLUSH_WITHIN:?} (state {:?})",
                    self.client.connection_state()
                ));
            }
        }
        self.pending = 0;
        Ok(())
    }

    fn lost(&mut self) -> Option<(u64, String)> {
        if self.lost == 0 {
            return None;
        }
        let lost = std::mem::take(&mut self.lost);
        Some((lost, self.why.take().unwrap_or_default()))
    }
}
