//! An Ente that keeps its state across restarts of the host
//! (`ente:core/snapshot`): it counts its starts, and on its first start
//! ever it spawns one child (`CHILD_ID`, of the component `CHILD`). After a
//! restore its count goes on, and it does not spawn again: the host brought
//! the child back from the snapshot.
//!
//! Its state is the text `starts=N spawned=B`; `restore` refuses anything
//! else, and the Ente then starts afresh.
//!
//! Its hazards, for the hostile suite: with `SAVE=huge` its `save` returns
//! 2 MiB (more than an Ente's state may hold), with `SAVE=loop` it never
//! returns.

wit_bindgen::generate!({ path: "../../wit", world: "ente:core/keeping-spawner" });

use ente::core::graph;
use ente::core::journal::{self, Level};
use exports::ente::core::lifecycle::Guest as Lifecycle;
use exports::ente::core::snapshot::Guest as Snapshot;
use std::sync::Mutex;

#[derive(Clone, Copy)]
struct Kept {
    starts: u64,
    spawned: bool,
}

static KEPT: Mutex<Kept> = Mutex::new(Kept {
    starts: 0,
    spawned: false,
});

fn kept() -> std::sync::MutexGuard<'static, Kept> {
    KEPT.lock().unwrap_or_else(|p| p.into_inner())
}

fn child_card() -> String {
    let id = std::env::var("CHILD_ID").unwrap_or_default();
    let me = std::env::var("SELF").unwrap_or_default();
    let child = std::env::var("CHILD").unwrap_or_default();
    format!(
        r#"{{"id":"{id}","lineage":"{me}","label":"kept-child","provides":[],"requires":[{{"kind":"Journal"}}],"soma":{{}},"payload":{{"kind":"Wasm","module_blake3":"{child}","entry":"ente:core/lifecycle"}},"supervision":{{"kind":"Restart","initial_ms":100,"max_ms":1000}}}}"#
    )
}

struct Keeper;

impl Lifecycle for Keeper {
    fn start() -> Result<(), String> {
        let mut k = kept();
        k.starts += 1;
        journal::log(Level::Info, &format!("start {}", k.starts));
        if !k.spawned {
            match graph::spawn(&child_card()) {
                Ok(id) => {
                    k.spawned = true;
                    journal::log(Level::Info, &format!("spawned the child {id}"));
                }
                Err(e) => journal::log(Level::Warn, &format!("spawn refused: {e}")),
            }
        }
        Ok(())
    }

    fn stop() {}
}

impl Snapshot for Keeper {
    fn save() -> Vec<u8> {
        match std::env::var("SAVE").as_deref() {
            Ok("huge") => return vec![b'x'; 2 << 20],
            Ok("loop") => loop {
                std::hint::spin_loop();
            },
            _ => {}
        }
        let k = *kept();
        format!("starts={} spawned={}", k.starts, k.spawned).into_bytes()
    }

    fn restore(state: Vec<u8>) -> Result<(), String> {
        let text = String::from_utf8(state).map_err(|_| "not text".to_owned())?;
        let mut starts = None;
        let mut spawned = None;
        for word in text.split(' ') {
            match word.split_once('=') {
                Some(("starts", n)) => starts = n.parse::<u64>().ok(),
                Some(("spawned", b)) => spawned = b.parse::<bool>().ok(),
                _ => {}
            }
        }
        match (starts, spawned) {
            (Some(starts), Some(spawned)) => {
                *kept() = Kept { starts, spawned };
                journal::log(Level::Info, &format!("restored: {starts} starts before"));
                Ok(())
            }
            _ => Err(format!("not a keeper's state: `{text}`")),
        }
    }
}

export!(Keeper);
