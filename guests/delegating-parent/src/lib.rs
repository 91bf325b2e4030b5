//! A parent that decides its `Delegate` children's restarts: each child is
//! restarted after 50 ms up to `RESTARTS` times (default 2), then left
//! stopped. It journals each decision.

wit_bindgen::generate!({ path: "../../wit", world: "ente:core/supervising-service" });

use ente::core::journal::{self, Level};
use exports::ente::core::lifecycle::Guest as Lifecycle;
use exports::ente::core::supervisor::{Decision, EnteId, ExitCause, Guest as Supervisor};
use std::collections::HashMap;
use std::sync::Mutex;

static SEEN: Mutex<Option<HashMap<String, u32>>> = Mutex::new(None);

struct Parent;

impl Lifecycle for Parent {
    fn start() -> Result<(), String> {
        Ok(())
    }

    fn stop() {}
}

impl Supervisor for Parent {
    fn on_child_exit(child: EnteId, cause: ExitCause) -> Decision {
        let allowed: u32 = std::env::var("RESTARTS")
            .ok()
            .and_then(|r| r.parse().ok())
            .unwrap_or(2);
        let mut seen = SEEN.lock().unwrap_or_else(|p| p.into_inner());
        let count = seen
            .get_or_insert_with(HashMap::new)
            .entry(child.clone())
            .or_insert(0);
        *count += 1;
        let decision = if *count <= allowed {
            Decision::Restart(50)
        } else {
            Decision::Stop
        };
        journal::log(
            Level::Info,
            &format!("child {child} exited ({cause:?}): exit {count}, {decision:?}"),
        );
        decision
    }
}

export!(Parent);
