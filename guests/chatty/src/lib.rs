//! `chatty`: a `std` Ente that speaks through WASI stdio. What it prints on
//! stdout and stderr reaches its journal (as info and warn), so its component
//! imports wasi:cli and wasi:io, and the host links exactly those.

wit_bindgen::generate!({ path: "../../wit", world: "ente:core/service" });

use exports::ente::core::lifecycle::Guest as Lifecycle;

struct Chatty;

impl Lifecycle for Chatty {
    fn start() -> Result<(), String> {
        println!("hello on stdout");
        eprintln!("careful on stderr");
        Ok(())
    }

    fn stop() {}
}

export!(Chatty);
