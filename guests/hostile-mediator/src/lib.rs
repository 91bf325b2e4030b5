//! A mediator for the hostile suite, as a seed might choose one: it allows
//! every call to the first live provider (even the caller itself), and it
//! traps when asked about the interface in `TRAP_ON`. The host must detect
//! the call cycles it lets through, and restart it when it traps, without
//! granting anything meanwhile.

wit_bindgen::generate!({ path: "../../wit", world: "ente:core/mediator-world" });

use ente::core::graph_view;
use exports::ente::core::mediator::{Decision, Endpoint, EnteId, Grant, Guest};

struct AllowAll;

impl Guest for AllowAll {
    fn decide(_caller: EnteId, target: Endpoint) -> Decision {
        if std::env::var("TRAP_ON").is_ok_and(|t| t == target.interface) {
            std::process::abort();
        }
        match graph_view::providers(&target).into_iter().next() {
            Some(provider) => Decision::Allow(Grant {
                provider,
                ttl_ms: 60_000,
            }),
            None => Decision::Deny(format!("no live Ente provides {}", target.interface)),
        }
    }
}

export!(AllowAll);
