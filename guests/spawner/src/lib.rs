//! An Ente that holds Spawn, driven by what it is asked:
//!
//! - `spawn:N`: spawn N children, each an Ente of the component `CHILD`
//!   (a digest) with a fresh id and this Ente (`SELF`) as lineage; answers
//!   how many were accepted and the last refusal;
//! - `card:JSON`: spawn exactly this card;
//! - `stop:ID` and `restart:ID`: as `ente:core/graph` says.
//!
//! Spawning in a loop is its hazard: the host must hold it to its limit.

wit_bindgen::generate!({ path: "../../wit", world: "ente:core/spawning-provider" });

use ente::core::graph;
use exports::ente::core::handler::{Endpoint, EnteId, Guest as Handler};
use exports::ente::core::lifecycle::Guest as Lifecycle;
use std::sync::atomic::{AtomicU64, Ordering};

static NEXT: AtomicU64 = AtomicU64::new(0);

struct Spawner;

/// A ULID-shaped id: this Ente's id with its last 6 characters replaced by
/// a counter in Crockford base32.
fn child_id(me: &str) -> String {
    const DIGITS: &[u8] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";
    let mut n = NEXT.fetch_add(1, Ordering::Relaxed) + 1;
    let mut tail = [b'0'; 6];
    for slot in tail.iter_mut().rev() {
        *slot = DIGITS[(n % 32) as usize];
        n /= 32;
    }
    format!("{}{}", &me[..20], String::from_utf8_lossy(&tail))
}

fn child_card(me: &str) -> String {
    let child = std::env::var("CHILD").unwrap_or_default();
    format!(
        r#"{{"id":"{}","lineage":"{me}","label":"child","provides":[],"requires":[{{"kind":"Journal"}}],"soma":{{}},"payload":{{"kind":"Wasm","module_blake3":"{child}","entry":"ente:core/lifecycle"}},"supervision":{{"kind":"OneShot"}}}}"#,
        child_id(me)
    )
}

impl Lifecycle for Spawner {
    fn start() -> Result<(), String> {
        Ok(())
    }

    fn stop() {}
}

impl Handler for Spawner {
    fn handle(_from: EnteId, _target: Endpoint, body: Vec<u8>) -> Result<Vec<u8>, String> {
        let text = String::from_utf8_lossy(&body).into_owned();
        let me = std::env::var("SELF").unwrap_or_default();
        let answer = if let Some(n) = text
            .strip_prefix("spawn:")
            .and_then(|n| n.parse::<u32>().ok())
        {
            let (mut ok, mut last) = (Vec::new(), String::new());
            for _ in 0..n {
                match graph::spawn(&child_card(&me)) {
                    Ok(id) => ok.push(id),
                    Err(e) => last = e,
                }
            }
            format!(
                "spawned {} of {n} [{}]; last refusal: {last}",
                ok.len(),
                ok.join(" ")
            )
        } else if let Some(card) = text.strip_prefix("card:") {
            match graph::spawn(card) {
                Ok(id) => format!("spawned {id}"),
                Err(e) => format!("refused: {e}"),
            }
        } else if let Some(id) = text.strip_prefix("stop:") {
            format!("{:?}", graph::stop(id))
        } else if let Some(id) = text.strip_prefix("restart:") {
            format!("{:?}", graph::restart(id))
        } else {
            return Err(format!("unknown request `{text}`"));
        };
        Ok(answer.into_bytes())
    }
}

export!(Spawner);
