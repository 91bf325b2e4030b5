//! A guest that traps: on every start with `TRAP=start`, or on every
//! `EVERY`-th call it serves (counted over its body's life, so a new body
//! serves `EVERY - 1` calls again). It answers other calls with the count.
//! The host must restart it with backoff, and end a crash loop as failed.

wit_bindgen::generate!({ path: "../../wit", world: "ente:core/provider" });

use exports::ente::core::handler::{Endpoint, EnteId, Guest as Handler};
use exports::ente::core::lifecycle::Guest as Lifecycle;
use std::sync::atomic::{AtomicU64, Ordering};

static CALLS: AtomicU64 = AtomicU64::new(0);

struct Trap;

impl Lifecycle for Trap {
    fn start() -> Result<(), String> {
        if std::env::var("TRAP").as_deref() == Ok("start") {
            std::process::abort();
        }
        Ok(())
    }

    fn stop() {}
}

impl Handler for Trap {
    fn handle(_from: EnteId, _target: Endpoint, _body: Vec<u8>) -> Result<Vec<u8>, String> {
        let n = CALLS.fetch_add(1, Ordering::Relaxed) + 1;
        let every: u64 = std::env::var("EVERY")
            .ok()
            .and_then(|e| e.parse().ok())
            .unwrap_or(0);
        if every > 0 && n % every == 0 {
            std::process::abort();
        }
        Ok(format!("call {n}").into_bytes())
    }
}

export!(Trap);
