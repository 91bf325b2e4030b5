//! A hostile guest that answers with more than the bus carries: a reply of
//! as many bytes as the request's decimal text says, or with `err:N` an
//! error text of N bytes. The bus must refuse it, and its caller live.

wit_bindgen::generate!({ path: "../../wit", world: "ente:core/provider" });

use exports::ente::core::handler::{Endpoint, EnteId, Guest as Handler};
use exports::ente::core::lifecycle::Guest as Lifecycle;

struct Big;

impl Lifecycle for Big {
    fn start() -> Result<(), String> {
        Ok(())
    }

    fn stop() {}
}

impl Handler for Big {
    fn handle(_from: EnteId, _target: Endpoint, body: Vec<u8>) -> Result<Vec<u8>, String> {
        let text = String::from_utf8_lossy(&body).into_owned();
        if let Some(n) = text.strip_prefix("err:") {
            return Err("e".repeat(n.parse().unwrap_or(0)));
        }
        Ok(vec![b'r'; text.parse().unwrap_or(0)])
    }
}

export!(Big);
