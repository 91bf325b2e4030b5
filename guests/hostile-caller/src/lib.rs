//! A hostile caller, driven by what it is asked (its handler's request):
//!
//! - `big:N`: call `TARGET` with a body of N bytes;
//! - `endpoint:N`: call an endpoint whose interface is N bytes long;
//! - `flood:N`: call `TARGET` N times as fast as it can;
//! - `self`: call its own endpoint (`SELF`);
//! - `timers:N`: ask for N wake-ups an hour away; `far`: one for `u64::MAX`
//!   milliseconds, further than any clock reaches;
//! - anything else: call `TARGET` with the request, as a client would.
//!
//! It answers with what the bus said. The host must bound each of these,
//! and nothing it does may reach another Ente's ability to be served.

wit_bindgen::generate!({ path: ["../../wit", "wit"], world: "ente:hostile-caller/caller", generate_all });

use ente::core::{bus, timer};
use exports::ente::core::handler::{Endpoint, EnteId, Guest as Handler};
use exports::ente::core::lifecycle::Guest as Lifecycle;

struct Caller;

fn endpoint(var: &str) -> Endpoint {
    let text = std::env::var(var).unwrap_or_default();
    let (interface, version) = text.split_once('@').unwrap_or(("", "1"));
    Endpoint {
        interface: interface.to_string(),
        version: version.parse().unwrap_or(1),
    }
}

fn said(r: Result<Vec<u8>, ente::core::types::BusError>) -> String {
    match r {
        Ok(reply) => format!("ok {} bytes", reply.len()),
        Err(e) => format!("{e:?}"),
    }
}

impl Lifecycle for Caller {
    fn start() -> Result<(), String> {
        Ok(())
    }

    fn stop() {}
}

impl Handler for Caller {
    fn handle(_from: EnteId, _target: Endpoint, body: Vec<u8>) -> Result<Vec<u8>, String> {
        let text = String::from_utf8_lossy(&body).into_owned();
        let n = |prefix: &str| {
            text.strip_prefix(prefix)
                .and_then(|n| n.parse::<usize>().ok())
        };
        let answer = if let Some(size) = n("big:") {
            said(bus::invoke(&endpoint("TARGET"), &vec![0u8; size]))
        } else if let Some(size) = n("endpoint:") {
            let long = Endpoint {
                interface: "a".repeat(size),
                version: 1,
            };
            said(bus::invoke(&long, b"x"))
        } else if let Some(times) = n("flood:") {
            let (mut ok, mut other) = (0u64, String::new());
            for _ in 0..times {
                match bus::invoke(&endpoint("TARGET"), b"flood") {
                    Ok(_) => ok += 1,
                    Err(e) => other = format!("{e:?}"),
                }
            }
            format!("ok {ok} of {times}; last error: {other}")
        } else if let Some(times) = n("timers:") {
            let (mut set, mut last) = (0, String::new());
            for _ in 0..times {
                match timer::after(3_600_000) {
                    Ok(_) => set += 1,
                    Err(e) => last = e,
                }
            }
            format!("set {set} of {times}; last refusal: {last}")
        } else if text == "far" {
            format!("{:?}", timer::after(u64::MAX))
        } else if text == "self" {
            said(bus::invoke(&endpoint("SELF"), b"me"))
        } else {
            return bus::invoke(&endpoint("TARGET"), &body).map_err(|e| format!("{e:?}"));
        };
        Ok(answer.into_bytes())
    }
}

export!(Caller);
