//! A hostile guest: its handler never returns. The host's call deadline
//! must stop it, and nothing else may stall.

wit_bindgen::generate!({ path: "../../wit", world: "ente:core/provider" });

use exports::ente::core::handler::{Endpoint, EnteId, Guest as Handler};
use exports::ente::core::lifecycle::Guest as Lifecycle;

struct Spin;

impl Lifecycle for Spin {
    fn start() -> Result<(), String> {
        Ok(())
    }

    fn stop() {}
}

impl Handler for Spin {
    fn handle(_from: EnteId, _target: Endpoint, body: Vec<u8>) -> Result<Vec<u8>, String> {
        let mut n: u64 = body.len() as u64;
        loop {
            n = std::hint::black_box(n.wrapping_mul(6364136223846793005).wrapping_add(1));
        }
    }
}

export!(Spin);
