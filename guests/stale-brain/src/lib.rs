//! A brain built against an earlier `ente:core/brain` (its batch a list of
//! records): it exports the interface by name, but not of the shape the
//! host's wit/ gives it now. The host refuses to seat it, naming the
//! mismatch rather than saying the export is missing.

#![no_std]

extern crate alloc;

use alloc::string::{String, ToString};
use alloc::vec::Vec;
use ente_guest as _;

wit_bindgen::generate!({ path: "wit", world: "ente:core/stale-brain@0.1.0" });

use exports::ente::core::brain::{Crystal, Guest as BrainGuest, Observed, Outcome};
use exports::ente::core::lifecycle::Guest as Lifecycle;

struct Stale;

impl Lifecycle for Stale {
    fn start() -> Result<(), String> {
        Ok(())
    }

    fn stop() {}
}

impl BrainGuest for Stale {
    fn observe(_names: Vec<String>, _events: Vec<Observed>) -> Outcome {
        Outcome {
            fired: Vec::new(),
            promoted: Vec::new(),
            removed: Vec::new(),
        }
    }

    fn crystals(_min_support: f64, _min_p: f64, _min_pmi: f64) -> Vec<Crystal> {
        Vec::new()
    }

    fn rules() -> String {
        "{\"rules\": []}".to_string()
    }

    fn promote(_a: String, _b: String, _action: Option<String>) -> Result<String, String> {
        Err("stale".to_string())
    }

    fn load(_rules_file: String) -> Result<u32, String> {
        Err("stale".to_string())
    }

    fn remove(_name: String) -> bool {
        false
    }
}

export!(Stale);
