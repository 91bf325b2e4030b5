//! The host side of each `ente:core` interface.

mod journal_stream;

pub(crate) use journal_stream::JournalStream;

use crate::bindings::ente::core::{bus, devices, graph, graph_view, journal, types};
use crate::bindings::{BusError, Capability, Endpoint, Level};
use crate::state::EnteState;

impl types::Host for EnteState {}

impl devices::Host for EnteState {}

impl journal::Host for EnteState {
    fn log(&mut self, level: Level, message: String) {
        self.journal.line(&self.identity, level, &message);
    }
}

impl bus::Host for EnteState {
    fn invoke(&mut self, target: Endpoint, body: Vec<u8>) -> Result<Vec<u8>, BusError> {
        match &self.bus {
            // The caller is the store's identity: a guest cannot choose it.
            Some(bus) => bus.invoke(&self.identity, target, body),
            None => Err(BusError::NoProvider),
        }
    }
}

impl graph::Host for EnteState {
    fn spawn(&mut self, _card_json: String) -> Result<String, String> {
        Err("spawning is not served by this host yet".into())
    }

    fn stop(&mut self, id: String) -> Result<(), String> {
        Err(format!("cannot stop {id}: not served by this host yet"))
    }

    fn restart(&mut self, id: String) -> Result<(), String> {
        Err(format!("cannot restart {id}: not served by this host yet"))
    }
}

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
