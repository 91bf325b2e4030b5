//! A hostile guest that spends its time in host calls, not its own code:
//! `sleep:S` sleeps S seconds (`wasi:io/poll`), `random:N` asks for N random
//! bytes at once. The call's deadline must cover the host calls too.

wit_bindgen::generate!({ path: ["../../wit", "wit"], world: "ente:sleeper/sleeper", generate_all });

use exports::ente::core::handler::{Endpoint, EnteId, Guest as Handler};
use exports::ente::core::lifecycle::Guest as Lifecycle;

struct Sleeper;

impl Lifecycle for Sleeper {
    fn start() -> Result<(), String> {
        Ok(())
    }

    fn stop() {}
}

impl Handler for Sleeper {
    fn handle(_from: EnteId, _target: Endpoint, body: Vec<u8>) -> Result<Vec<u8>, String> {
        let text = String::from_utf8_lossy(&body).into_owned();
        if let Some(s) = text.strip_prefix("sleep:").and_then(|s| s.parse().ok()) {
            std::thread::sleep(std::time::Duration::from_secs(s));
            return Ok(b"slept".to_vec());
        }
        if let Some(n) = text.strip_prefix("random:").and_then(|n| n.parse().ok()) {
            let bytes = wasi::random::random::get_random_bytes(n);
            return Ok(format!("{} random bytes", bytes.len()).into_bytes());
        }
        Err(format!("unknown request `{text}`"))
    }
}

export!(Sleeper);
