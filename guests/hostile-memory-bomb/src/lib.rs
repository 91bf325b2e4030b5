//! A hostile guest that takes memory until something stops it: in its
//! handler, or in `start` with `WHERE=start`. Its card's memory limit must.

wit_bindgen::generate!({ path: "../../wit", world: "ente:core/provider" });

use exports::ente::core::handler::{Endpoint, EnteId, Guest as Handler};
use exports::ente::core::lifecycle::Guest as Lifecycle;

struct Bomb;

fn bomb() -> ! {
    let mut held: Vec<Vec<u8>> = Vec::new();
    loop {
        held.push(std::hint::black_box(vec![1u8; 1 << 20]));
    }
}

impl Lifecycle for Bomb {
    fn start() -> Result<(), String> {
        if std::env::var("WHERE").as_deref() == Ok("start") {
            bomb();
        }
        Ok(())
    }

    fn stop() {}
}

impl Handler for Bomb {
    fn handle(_from: EnteId, _target: Endpoint, _body: Vec<u8>) -> Result<Vec<u8>, String> {
        bomb()
    }
}

export!(Bomb);
