//! A hostile guest that never returns: from its handler, or from its
//! `start` when its card's environment says `WHERE=start`. The host's call
//! deadline must stop it, and nothing else may stall.

wit_bindgen::generate!({ path: "../../wit", world: "ente:core/provider" });

use exports::ente::core::handler::{Endpoint, EnteId, Guest as Handler};
use exports::ente::core::lifecycle::Guest as Lifecycle;

struct Spin;

fn spin(seed: u64) -> ! {
    let mut n = seed;
    loop {
        n = std::hint::black_box(n.wrapping_mul(6364136223846793005).wrapping_add(1));
    }
}

impl Lifecycle for Spin {
    fn start() -> Result<(), String> {
        if std::env::var("WHERE").as_deref() == Ok("start") {
            spin(7);
        }
        Ok(())
    }

    fn stop() {}
}

impl Handler for Spin {
    fn handle(_from: EnteId, _target: Endpoint, body: Vec<u8>) -> Result<Vec<u8>, String> {
        spin(body.len() as u64)
    }
}

export!(Spin);
