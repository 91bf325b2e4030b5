//! The default mediator: allow what the graph declares, deny everything else.
//!
//! A call is allowed when the caller's card requires the endpoint and a live
//! Ente provides it; the lease goes to the first provider in start order and
//! lasts 60 s unless renewed by use. Every refusal says why.

#![no_std]

extern crate alloc;
use alloc::format;
use ente_guest as _;

wit_bindgen::generate!({ path: "../../wit", world: "ente:core/mediator-world" });

use ente::core::graph_view;
use ente::core::types::Capability;
use exports::ente::core::mediator::{Decision, Endpoint, EnteId, Grant, Guest};

/// The lease a grant carries, in milliseconds.
const LEASE_TTL_MS: u64 = 60_000;

struct Mediator;

impl Guest for Mediator {
    fn decide(caller: EnteId, target: Endpoint) -> Decision {
        let shown = format!("{}@{}", target.interface, target.version);
        let who = graph_view::label(&caller).unwrap_or_else(|| caller.clone());
        let declared = graph_view::requires(&caller).into_iter().any(|cap| {
            matches!(cap, Capability::Endpoint(e) if e.interface == target.interface && e.version == target.version)
        });
        if !declared {
            return Decision::Deny(format!(
                "`{who}` does not require Endpoint {shown} in its card"
            ));
        }
        match graph_view::providers(&target)
            .into_iter()
            .find(|p| *p != caller)
        {
            Some(provider) => Decision::Allow(Grant {
                provider,
                ttl_ms: LEASE_TTL_MS,
            }),
            None => Decision::Deny(format!("no live Ente provides Endpoint {shown}")),
        }
    }
}

export!(Mediator);
