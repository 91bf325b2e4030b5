//! The host's own diagnostics, through `tracing` (the spine carries what
//! happens to Entes, as data; this is what the host says about itself): to
//! stderr, or to the console (PID 1's kernel log). What is shown is what
//! `ENTE_LOG` (else `RUST_LOG`) asks, in the same directives: a level
//! (`error`, `warn`, `info`, `debug`, `trace`), and `target=level` pairs
//! by comma (`warn,ente_core=debug`); `warn` when unset. A value that is
//! not such directives is said, and `warn` used.

use tracing_subscriber::Layer;
use tracing_subscriber::filter::{LevelFilter, Targets};
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

/// Where diagnostics go.
#[derive(Debug, Clone, Copy)]
pub enum Sink {
    Stderr,
    /// The console: PID 1's kernel log, as error records.
    Console,
}

/// The filter `value` names; the reason when it names none.
pub fn filter(value: Option<&str>) -> Result<Targets, String> {
    match value.map(str::trim) {
        None | Some("") => Ok(Targets::new().with_default(LevelFilter::WARN)),
        Some(v) => v.parse::<Targets>().map_err(|e| {
            format!(
                "ENTE_LOG/RUST_LOG = {:?}: {e} (a level, or target=level pairs by comma); `warn` is used",
                ente_runtime::host::clean(v, 200)
            )
        }),
    }
}

/// Install the subscriber; a second call (tests, the bench) does nothing.
pub fn init(sink: Sink) {
    let asked = std::env::var("ENTE_LOG")
        .or_else(|_| std::env::var("RUST_LOG"))
        .ok();
    let (targets, refused) = match filter(asked.as_deref()) {
        Ok(t) => (t, None),
        Err(why) => (Targets::new().with_default(LevelFilter::WARN), Some(why)),
    };
    let format = tracing_subscriber::fmt::layer()
        .with_ansi(false)
        .with_target(false)
        .without_time();
    let installed = match sink {
        Sink::Stderr => tracing_subscriber::registry()
            .with(format.with_writer(std::io::stderr).with_filter(targets))
            .try_init(),
        Sink::Console => tracing_subscriber::registry()
            .with(format.with_writer(ConsoleWriter).with_filter(targets))
            .try_init(),
    };
    if let (Ok(()), Some(why)) = (installed, refused) {
        tracing::warn!("{why}");
    }
}

/// Each formatted event, as lines on the console.
#[derive(Debug, Clone, Copy)]
struct ConsoleWriter;

impl<'a> MakeWriter<'a> for ConsoleWriter {
    type Writer = Lines;

    fn make_writer(&'a self) -> Lines {
        Lines(Vec::new())
    }
}

/// One event's text, printed when the event is written in full.
#[derive(Debug)]
struct Lines(Vec<u8>);

impl std::io::Write for Lines {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Drop for Lines {
    fn drop(&mut self) {
        let text = String::from_utf8_lossy(&self.0);
        let text = text.trim_end();
        if !text.is_empty() {
            crate::console::alarm(&format!("ente: {text}"));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::filter;

    #[test]
    fn directives_are_read_as_rust_log_reads_them_and_a_bad_one_named() {
        assert!(filter(None).is_ok());
        assert!(filter(Some("debug")).is_ok());
        let t = filter(Some("warn,ente_core=debug")).expect("pairs");
        assert!(format!("{t:?}").contains("ente_core"), "{t:?}");
        let err = filter(Some("ente_core=loud")).expect_err("no such level");
        assert!(
            err.contains("ente_core=loud") && err.contains("`warn` is used"),
            "{err}"
        );
    }
}
