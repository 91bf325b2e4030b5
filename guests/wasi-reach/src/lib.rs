//! `wasi-reach`: a `std` provider that reaches for what no card grants it
//! here: a file, a socket, a name lookup. Rust's std makes its component
//! import `wasi:filesystem` and `wasi:sockets` for that, so the host refuses
//! it as built; `ente pack --grant Journal` denies those interfaces inside
//! it, and then each reach is an error the guest handles, never a trap.
//! Its handler answers with what happened, so a test can read it.

wit_bindgen::generate!({ path: "../../wit", world: "ente:core/provider" });

use exports::ente::core::handler::{Endpoint, EnteId, Guest as Handler};
use exports::ente::core::lifecycle::Guest as Lifecycle;

struct Reach;

fn reach() -> String {
    let file = match std::fs::read("/etc/hostname") {
        Ok(_) => "read /etc/hostname".to_owned(),
        Err(e) => format!("no file: {e}"),
    };
    let written = match std::fs::write("note.txt", b"x") {
        Ok(()) => "wrote note.txt".to_owned(),
        Err(e) => format!("no write: {e}"),
    };
    let socket = match std::net::TcpStream::connect(("192.0.2.1", 80)) {
        Ok(_) => "connected".to_owned(),
        Err(e) => format!("no socket: {e}"),
    };
    let listen = match std::net::TcpListener::bind(("0.0.0.0", 8080)) {
        Ok(_) => "listening".to_owned(),
        Err(e) => format!("no listener: {e}"),
    };
    format!("{file}; {written}; {socket}; {listen}")
}

impl Lifecycle for Reach {
    fn start() -> Result<(), String> {
        println!("{}", reach());
        Ok(())
    }

    fn stop() {}
}

impl Handler for Reach {
    fn handle(_from: EnteId, _target: Endpoint, _body: Vec<u8>) -> Result<Vec<u8>, String> {
        Ok(reach().into_bytes())
    }
}

export!(Reach);
