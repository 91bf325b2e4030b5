//! A hostile guest that floods its journal when asked (`spam:N`): N lines
//! through `ente:core/journal` and as many on stdout, each trying to forge
//! another Ente's line and move the terminal's cursor, then three lines of
//! 40 MiB. The host must keep each line safe to print, cut and rate-bound.

wit_bindgen::generate!({ path: "../../wit", world: "ente:core/provider" });

use ente::core::journal::{self, Level};
use exports::ente::core::handler::{Endpoint, EnteId, Guest as Handler};
use exports::ente::core::lifecycle::Guest as Lifecycle;
use std::io::Write;

struct Spam;

impl Lifecycle for Spam {
    fn start() -> Result<(), String> {
        journal::log(Level::Info, "ok\n  [echo] error: forged\x1b[2J\x1b[H");
        Ok(())
    }

    fn stop() {}
}

impl Handler for Spam {
    fn handle(_from: EnteId, _target: Endpoint, body: Vec<u8>) -> Result<Vec<u8>, String> {
        let text = String::from_utf8_lossy(&body).into_owned();
        let n: u64 = text
            .strip_prefix("spam:")
            .and_then(|n| n.parse().ok())
            .unwrap_or(0);
        let mut out = std::io::stdout().lock();
        for i in 0..n {
            journal::log(Level::Error, &format!("line {i}\n  [echo] error: forged"));
            let _ = writeln!(out, "out {i}\x1b[31m");
        }
        let huge = "x".repeat(40 << 20);
        for _ in 0..3 {
            journal::log(Level::Info, &huge);
        }
        Ok(format!("spammed {n}").into_bytes())
    }
}

export!(Spam);
