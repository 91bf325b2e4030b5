//! `whoami`: replies with the caller's id as the host stamped it, so a test
//! can see that a guest cannot choose its own identity.

wit_bindgen::generate!({ path: "../../wit", world: "ente:core/provider" });

use exports::ente::core::handler::{Endpoint, EnteId, Guest as Handler};
use exports::ente::core::lifecycle::Guest as Lifecycle;

struct WhoAmI;

impl Lifecycle for WhoAmI {
    fn start() -> Result<(), String> {
        Ok(())
    }

    fn stop() {}
}

impl Handler for WhoAmI {
    fn handle(from: EnteId, _target: Endpoint, _body: Vec<u8>) -> Result<Vec<u8>, String> {
        Ok(from.into_bytes())
    }
}

export!(WhoAmI);
