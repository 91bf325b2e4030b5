//! `echo`: provides the echo endpoint; replies with the request body.

#![no_std]

extern crate alloc;
use alloc::string::String;
use alloc::vec::Vec;
use ente_guest as _;

wit_bindgen::generate!({ path: "../../wit", world: "ente:core/provider" });

use ente::core::journal::{self, Level};
use exports::ente::core::handler::{Endpoint, EnteId, Guest as Handler};
use exports::ente::core::lifecycle::Guest as Lifecycle;

struct Echo;

impl Lifecycle for Echo {
    fn start() -> Result<(), String> {
        journal::log(Level::Info, "echo ready");
        Ok(())
    }

    fn stop() {
        journal::log(Level::Info, "echo stopping");
    }
}

impl Handler for Echo {
    fn handle(_from: EnteId, _target: Endpoint, body: Vec<u8>) -> Result<Vec<u8>, String> {
        Ok(body)
    }
}

export!(Echo);
