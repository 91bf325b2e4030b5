//! A brain that attacks its host through its answers, by `HAZARD`:
//! `trap` traps in `observe`; `spin` never returns from it (the call
//! deadline ends it); `flood` answers each batch with 100,000 firings, each
//! a spawn of a card that does not parse and a stop of the seed, and
//! 10,000 promotions of rules that do not read; `huge` answers with 24
//! promotions of 1 MiB each. The host must run none of
//! what its authority does not reach, bound what it takes, and say so.

#![no_std]

extern crate alloc;

use alloc::format;
use alloc::string::{String, ToString};
use alloc::vec::Vec;
use ente_guest as _;

wit_bindgen::generate!({ path: ["../../wit", "wit"], world: "ente:hostile-brain/hostile-brain", generate_all });

use exports::ente::core::brain::{Action, Batch, Crystal, Fired, Guest as BrainGuest, Outcome};
use exports::ente::core::lifecycle::Guest as Lifecycle;
use exports::ente::core::snapshot::Guest as Snapshot;

fn hazard() -> String {
    wasi::cli::environment::get_environment()
        .into_iter()
        .find(|(k, _)| k == "HAZARD")
        .map(|(_, v)| v)
        .unwrap_or_default()
}

struct Hostile;

impl Lifecycle for Hostile {
    fn start() -> Result<(), String> {
        Ok(())
    }

    fn stop() {}
}

impl BrainGuest for Hostile {
    fn observe(events: Batch) -> Outcome {
        match hazard().as_str() {
            "trap" => core::arch::wasm32::unreachable(),
            "spin" => loop {
                core::hint::spin_loop();
            },
            "flood" => {
                let seq = events.seq.first().copied().unwrap_or(0);
                let fired = (0..100_000u32)
                    .map(|i| Fired {
                        rule: format!("flood-{i}"),
                        action: Some(if i % 2 == 0 {
                            Action::Spawn("{not a card".to_string())
                        } else {
                            Action::Stop("01J00000000000000000000R00".to_string())
                        }),
                        subject: None,
                        seq,
                    })
                    .collect();
                let promoted = (0..10_000u32)
                    .map(|i| format!("{{\"name\": {i}}}"))
                    .collect();
                Outcome {
                    fired,
                    promoted,
                    removed: Vec::new(),
                }
            }
            "huge" => {
                // 24 MiB of answer: more than the host copies of one.
                let mib = "r".repeat(1 << 20);
                Outcome {
                    fired: Vec::new(),
                    promoted: (0..24).map(|_| mib.clone()).collect(),
                    removed: Vec::new(),
                }
            }
            _ => Outcome {
                fired: Vec::new(),
                promoted: Vec::new(),
                removed: Vec::new(),
            },
        }
    }

    fn crystals(_min_support: f64, _min_p: f64, _min_pmi: f64) -> Vec<Crystal> {
        Vec::new()
    }

    fn rules() -> String {
        "{\"rules\": []}".to_string()
    }

    fn promote(_a: String, _b: String, _action: Option<String>) -> Result<String, String> {
        Err("no".to_string())
    }

    fn load(_rules_file: String) -> Result<u32, String> {
        Err("no".to_string())
    }

    fn remove(_name: String) -> bool {
        false
    }
}

impl Snapshot for Hostile {
    fn save() -> Vec<u8> {
        Vec::new()
    }

    fn restore(_state: Vec<u8>) -> Result<(), String> {
        Err("no".to_string())
    }
}

export!(Hostile);
