//! The host's own diagnostics, through `tracing` (the spine carries what
//! happens to Entes, as data; this is what the host says about itself): to
//! stderr, or to the console (PID 1's kernel log), at the level `ENTE_LOG`
//! names (`error`, `warn`, `info`, `debug`, `trace`; `warn` when unset).

use tracing_subscriber::filter::LevelFilter;
use tracing_subscriber::fmt::MakeWriter;

/// Where diagnostics go.
#[derive(Debug, Clone, Copy)]
pub enum Sink {
    Stderr,
    /// The console: PID 1's kernel log, as error records.
    Console,
}

/// Install the subscriber; a second call (tests, the bench) does nothing.
pub fn init(sink: Sink) {
    let level = std::env::var("ENTE_LOG")
        .ok()
        .and_then(|l| l.parse::<LevelFilter>().ok())
        .unwrap_or(LevelFilter::WARN);
    let builder = tracing_subscriber::fmt()
        .with_max_level(level)
        .with_ansi(false)
        .with_target(false)
        .without_time();
    let _ = match sink {
        Sink::Stderr => builder.with_writer(std::io::stderr).try_init(),
        Sink::Console => builder.with_writer(ConsoleWriter).try_init(),
    };
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
