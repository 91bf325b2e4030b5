//! `client`: requires an endpoint (echo unless `TARGET=IFACE@VERSION` is in
//! its environment); calls it with `GREETING` when started and journals the
//! reply, and relays any call it serves to it (so a bench or a test can
//! drive a full guest -> host -> guest chain through it). With `EVERY_MS`
//! it also calls it on a timer, that often, and journals each answer.
//!
//! `no_std` (see ente-guest): besides what its card grants, its component
//! imports only `wasi:cli/environment`, for its card's envp.

#![no_std]

extern crate alloc;
use alloc::format;
use alloc::string::{String, ToString};
use alloc::vec::Vec;
use ente_guest as _;

wit_bindgen::generate!({ path: ["../../wit", "wit"], world: "ente:client/client", generate_all });

use ente::core::bus;
use ente::core::journal::{self, Level};
use ente::core::timer;
use exports::ente::core::handler::{Endpoint, EnteId, Guest as Handler};
use exports::ente::core::lifecycle::Guest as Lifecycle;
use exports::ente::core::timer_events::Guest as TimerEvents;
use wasi::cli::environment;

/// The value of the environment variable `name`, if set.
fn var(name: &str) -> Option<String> {
    environment::get_environment()
        .into_iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v)
}

/// The target: `TARGET` from the environment, else echo ("echo-endpoint-v1"
/// as hex, version 1).
fn echo() -> Endpoint {
    let target = var("TARGET");
    let parsed = target
        .as_deref()
        .and_then(|t| t.split_once('@'))
        .and_then(|(i, v)| {
            Some(Endpoint {
                interface: i.to_string(),
                version: v.parse().ok()?,
            })
        });
    parsed.unwrap_or_else(|| Endpoint {
        interface: "6563686f2d656e64706f696e742d7631".into(),
        version: 1,
    })
}

struct Client;

/// Set the next wake-up, when `EVERY_MS` asks for them.
fn arm() {
    if let Some(ms) = var("EVERY_MS").and_then(|m| m.parse().ok())
        && let Err(e) = timer::after(ms)
    {
        journal::log(Level::Warn, &format!("no timer: {e}"));
    }
}

impl Lifecycle for Client {
    fn start() -> Result<(), String> {
        let greeting = var("GREETING").unwrap_or_else(|| "hello".into());
        let first = bus::invoke(&echo(), greeting.as_bytes());
        arm();
        match first {
            Ok(reply) => {
                journal::log(
                    Level::Info,
                    &format!("reply: {}", String::from_utf8_lossy(&reply)),
                );
                Ok(())
            }
            // A client on a timer keeps calling: the provider may be back.
            Err(e) if var("EVERY_MS").is_some() => {
                journal::log(Level::Warn, &format!("call failed: {e:?}"));
                Ok(())
            }
            Err(e) => Err(format!("call failed: {e:?}")),
        }
    }

    fn stop() {}
}

impl TimerEvents for Client {
    fn on_timer(_token: u64) {
        let greeting = var("GREETING").unwrap_or_else(|| "hello".into());
        match bus::invoke(&echo(), greeting.as_bytes()) {
            Ok(reply) => journal::log(
                Level::Info,
                &format!("reply: {}", String::from_utf8_lossy(&reply)),
            ),
            Err(e) => journal::log(Level::Warn, &format!("call failed: {e:?}")),
        }
        arm();
    }
}

impl Handler for Client {
    fn handle(_from: EnteId, _target: Endpoint, body: Vec<u8>) -> Result<Vec<u8>, String> {
        bus::invoke(&echo(), &body).map_err(|e| format!("{e:?}"))
    }
}

export!(Client);
