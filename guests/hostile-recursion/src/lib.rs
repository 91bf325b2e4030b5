//! A hostile guest whose handler recurses without end: its stack overflows,
//! a trap of its own, which must not reach the host.

wit_bindgen::generate!({ path: "../../wit", world: "ente:core/provider" });

use exports::ente::core::handler::{Endpoint, EnteId, Guest as Handler};
use exports::ente::core::lifecycle::Guest as Lifecycle;

struct Deep;

#[inline(never)]
#[allow(unconditional_recursion)]
fn down(n: u64) -> u64 {
    let frame = std::hint::black_box([n; 16]);
    down(frame[3].wrapping_add(1)).wrapping_add(frame[7])
}

impl Lifecycle for Deep {
    fn start() -> Result<(), String> {
        Ok(())
    }

    fn stop() {}
}

impl Handler for Deep {
    fn handle(_from: EnteId, _target: Endpoint, body: Vec<u8>) -> Result<Vec<u8>, String> {
        Ok(down(body.len() as u64).to_le_bytes().to_vec())
    }
}

export!(Deep);
