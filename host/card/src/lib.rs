//! The card: an Ente's identity card, its grammar and its invariants.
//!
//! This crate is plain data and pure checks. It knows nothing of wasmtime,
//! tokio or the kernel, so that it can be fuzzed and used by other tools.
//!
//! - [`load`] / [`parse`] turn a JSON file into a [`Card`], or into every
//!   fault it has, each naming the JSON path, the value and the rule.
//! - [`Graph`] holds the tree a seed card roots and checks what can be known
//!   before boot: unique ids, a provider for every requirement, no cycle, and
//!   no child granted more than its parent holds.

mod decode;
mod fault;
mod graph;
mod model;
mod strict_json;

pub use fault::{CardError, Fault, JsonPath, Rule};
pub use graph::{
    BRAIN_INTERFACE, Graph, GraphFault, MEDIATOR_INTERFACE, Node, NodeId, Route, Seat,
    brain_endpoint, is_delegated, mediator_endpoint,
};
pub use model::{
    Capability, Card, Cgroup, DeviceClass, Digest, Endpoint, Fake, Namespaces, NetlinkFamily,
    Payload, Rlimits, SCHEMA_VERSION, Soma, Supervision,
};

use std::io::Read;
use std::path::Path;

/// The largest card file accepted: 1 MiB.
pub const MAX_CARD_BYTES: u64 = 1 << 20;

/// Read and check the card at `file`.
pub fn load(file: &Path) -> Result<Card, CardError> {
    let read_err = |source| CardError::Read {
        file: file.to_owned(),
        source,
    };
    let f = std::fs::File::open(file).map_err(read_err)?;
    let mut bytes = Vec::new();
    f.take(MAX_CARD_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(read_err)?;
    let size = u64::try_from(bytes.len()).unwrap_or(u64::MAX);
    if size > MAX_CARD_BYTES {
        return Err(CardError::TooLarge {
            file: file.to_owned(),
            size,
            max: MAX_CARD_BYTES,
        });
    }
    parse(&bytes, file)
}

/// Check the card in `bytes`; `file` only names it in errors.
pub fn parse(bytes: &[u8], file: &Path) -> Result<Card, CardError> {
    let strict_json::StrictValue(value) =
        serde_json::from_slice(bytes).map_err(|e| CardError::Syntax {
            file: file.to_owned(),
            message: without_position(&e),
            line: e.line(),
            column: e.column(),
        })?;
    decode::card(&value).map_err(|faults| CardError::Invalid {
        file: file.to_owned(),
        faults,
    })
}

/// Check an already parsed JSON value as a card.
pub fn from_value(value: &serde_json::Value) -> Result<Card, Vec<Fault>> {
    decode::card(value)
}

/// serde_json's message without its " at line L column C" tail, which
/// [`CardError::Syntax`] carries in its own fields.
fn without_position(e: &serde_json::Error) -> String {
    let full = e.to_string();
    let tail = format!(" at line {} column {}", e.line(), e.column());
    full.strip_suffix(&tail)
        .map_or_else(|| full.clone(), str::to_owned)
}
