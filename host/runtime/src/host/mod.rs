//! The host side of each `ente:core` interface, and of the WASI calls ente
//! bounds itself.

pub(crate) mod in_place;
mod journal_gate;
mod journal_stream;
mod process;
pub(crate) mod wasi_bounded;

pub(crate) use journal_gate::JournalGate;
pub use journal_gate::{BURST, MAX_LINE, RATE, clean};
pub(crate) use journal_stream::JournalStream;

use crate::bindings::Capability;
use crate::bindings::Endpoint;
use crate::bindings::ente::core::{devices, graph_view, timer, types};
use crate::state::EnteState;
use std::time::Duration;

/// Wake-ups one Ente may have pending at once.
pub const MAX_PENDING_TIMERS: usize = 64;

impl types::Host for EnteState {}

impl devices::Host for EnteState {}

impl graph_view::Host for EnteState {
    fn label(&mut self, id: String) -> Option<String> {
        self.graph_view.as_ref()?.label(&id)
    }

    fn requires(&mut self, id: String) -> Vec<Capability> {
        self.graph_view
            .as_ref()
            .map(|g| g.requires(&id))
            .unwrap_or_default()
    }

    fn providers(&mut self, target: Endpoint) -> Vec<String> {
        self.graph_view
            .as_ref()
            .map(|g| g.providers(&target))
            .unwrap_or_default()
    }
}

impl timer::Host for EnteState {
    fn after(&mut self, ms: u64) -> Result<u64, String> {
        let Some(port) = &self.timers.port else {
            return Err("this host delivers no timers here".into());
        };
        if self.timers.pending.len() >= MAX_PENDING_TIMERS {
            return Err(format!(
                "{MAX_PENDING_TIMERS} wake-ups are already pending, the most an Ente may have"
            ));
        }
        let token = crate::state::next_timer_token();
        self.timers.pending.insert(token);
        port.set(&self.identity, token, Duration::from_millis(ms));
        Ok(token)
    }

    fn cancel(&mut self, token: u64) -> bool {
        let was = self.timers.pending.remove(&token);
        if was && let Some(port) = &self.timers.port {
            port.cancel(&self.identity, token);
        }
        was
    }
}
