//! `client`: requires an endpoint (echo unless `TARGET=IFACE@VERSION` is in
//! its environment); calls it with `GREETING` when started and journals the
//! reply, and relays any call it serves to it (so a bench or a test can
//! drive a full guest -> host -> guest chain through it).

wit_bindgen::generate!({ path: "../../wit", world: "ente:core/provider" });

use ente::core::bus;
use ente::core::journal::{self, Level};
use exports::ente::core::handler::{Endpoint, EnteId, Guest as Handler};
use exports::ente::core::lifecycle::Guest as Lifecycle;

/// The target: `TARGET` from the environment, else echo ("echo-endpoint-v1"
/// as hex, version 1).
fn echo() -> Endpoint {
    let target = std::env::var("TARGET").ok();
    let parsed = target.as_deref().and_then(|t| t.split_once('@')).and_then(|(i, v)| {
        Some(Endpoint { interface: i.to_owned(), version: v.parse().ok()? })
    });
    parsed.unwrap_or_else(|| Endpoint { interface: "6563686f2d656e64706f696e742d7631".into(), version: 1 })
}

struct Client;

impl Lifecycle for Client {
    fn start() -> Result<(), String> {
        let greeting = std::env::var("GREETING").unwrap_or_else(|_| "hello".into());
        match bus::invoke(&echo(), greeting.as_bytes()) {
            Ok(reply) => {
                journal::log(Level::Info, &format!("reply: {}", String::from_utf8_lossy(&reply)));
                Ok(())
            }
            Err(e) => Err(format!("call failed: {e:?}")),
        }
    }

    fn stop() {}
}

impl Handler for Client {
    fn handle(_from: EnteId, _target: Endpoint, body: Vec<u8>) -> Result<Vec<u8>, String> {
        bus::invoke(&echo(), &body).map_err(|e| format!("{e:?}"))
    }
}

export!(Client);
