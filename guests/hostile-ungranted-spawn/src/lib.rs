//! A hostile guest: it imports `ente:core/graph` (spawn) although its card
//! grants only Journal. The host must refuse it before it runs.

wit_bindgen::generate!({ path: "../../wit", world: "ente:core/spawning-service" });

use ente::core::graph;
use exports::ente::core::lifecycle::Guest as Lifecycle;

struct Ungranted;

impl Lifecycle for Ungranted {
    fn start() -> Result<(), String> {
        graph::spawn("{}").map(|_| ())
    }

    fn stop() {}
}

export!(Ungranted);
