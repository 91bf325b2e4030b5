//! The native shim: the body of every Native and Legacy Ente. The host
//! links it, and no other component, with `ente:native/process`, through
//! which it starts its card's program (the host chooses what runs: the
//! card's exec under its soma), waits for it to be ready, hands it the
//! calls to its endpoints and stops it. It imports nothing else, so it
//! needs no capability of its own.

#![no_std]

extern crate alloc;
use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;
use ente_guest as _;

wit_bindgen::generate!({ path: "../../wit", world: "ente:core/shim", generate_all });

use ente::native::process;
use exports::ente::core::handler::{Endpoint, EnteId, Guest as Handler};
use exports::ente::core::lifecycle::Guest as Lifecycle;

struct Shim;

impl Lifecycle for Shim {
    fn start() -> Result<(), String> {
        let pid = process::spawn()?;
        process::await_ready().map_err(|why| format!("pid {pid}: {why}"))
    }

    fn stop() {
        // The report reaches the spine from the host; the shim has no
        // journal to repeat it in.
        let _ = process::stop();
    }
}

impl Handler for Shim {
    fn handle(from: EnteId, target: Endpoint, body: Vec<u8>) -> Result<Vec<u8>, String> {
        process::deliver(&from, &target.interface, target.version, &body)
    }
}

export!(Shim);
