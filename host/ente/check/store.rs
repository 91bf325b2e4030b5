//! `ente check --graph` on the components a graph pins: each one that is in
//! the store is read (never compiled) and held to what `ente up` will hold
//! it to: its imports against its card's grants, the exports its card
//! drives, the way it passes strings, and a `Delegate` child's parent's
//! supervisor export. A pinned component missing from the store is said,
//! once per digest, not counted as a fault: it may be added before `up`.

use ente_card::{Capability, Digest, Graph, Node, Payload, Supervision, mediator_endpoint};
use ente_runtime::Grants;
use ente_runtime::grants::{HANDLER_EXPORT, SUPERVISOR_EXPORT};
use ente_runtime::inspect::Outline;
use std::collections::{BTreeSet, HashMap};
use std::path::Path;

/// What a component's bytes told: its outline, or why it has none.
type Read = Result<Outline, String>;

/// Every fault of the pinned components of `g` found in the store of `home`.
pub fn check(g: &Graph<'_>, home: &Path) -> Vec<String> {
    let cas = ente_runtime::Cas::new(home);
    let mut read: HashMap<Digest, Option<Read>> = HashMap::new();
    let mut missing = BTreeSet::new();
    let mut outline_of = |digest: &Digest| -> Option<Read> {
        read.entry(*digest)
            .or_insert_with(|| match cas.get(digest) {
                Ok(bytes) => Some(
                    ente_runtime::inspect::string_encoding(&bytes)
                        .and_then(|()| ente_runtime::inspect::outline(&bytes)),
                ),
                Err(ente_runtime::CasError::Missing { .. }) => {
                    missing.insert(*digest);
                    None
                }
                Err(e) => Some(Err(e.to_string())),
            })
            .clone()
    };
    let mut faults = Vec::new();
    let shim = crate::native::shim_digest();
    for n in &g.nodes {
        // A native card's body is the shim, pinned by this build of ente.
        let (module_blake3, entry, at) = match (&n.card.payload, &shim) {
            (
                Payload::Wasm {
                    module_blake3,
                    entry,
                    ..
                },
                _,
            ) => (
                module_blake3,
                entry.as_str(),
                n.path.field("payload").field("module_blake3"),
            ),
            (Payload::Native { .. } | Payload::Legacy { .. }, Some(shim)) => {
                (shim, "ente:core/lifecycle", n.path.field("payload"))
            }
            (Payload::Native { .. } | Payload::Legacy { .. }, None) => {
                faults.push(format!(
                    "{}: {n} is native, but this build of ente pins no shim component",
                    n.path.field("payload")
                ));
                continue;
            }
            (Payload::Virtual, _) => continue,
        };
        match outline_of(module_blake3) {
            None => {}
            Some(Err(why)) => faults.push(format!("{at} = {module_blake3}: {n}: {why}")),
            Some(Ok(outline)) => faults.extend(component_faults(g, n, entry, &outline)),
        }
        if n.card.supervision == Supervision::Delegate
            && let Some(parent) = n.parent.map(|p| &g.nodes[p])
            && let Payload::Wasm { module_blake3, .. } = &parent.card.payload
            && let Some(Ok(outline)) = outline_of(module_blake3)
            && !outline.exports.iter().any(|e| e == SUPERVISOR_EXPORT)
        {
            faults.push(format!(
                "{}: {n} leaves its restarts to its parent (`Delegate`), but {parent}'s component {module_blake3} does not export {SUPERVISOR_EXPORT}",
                n.path.field("supervision"),
            ));
        }
    }
    for digest in missing {
        println!(
            "note: component {digest} is pinned but not in the store ({}); its imports and exports are checked when it is added (`ente cas add`)",
            cas.path(&digest).display()
        );
    }
    faults
}

/// The faults `ente up` would find in `n`'s component.
fn component_faults(g: &Graph<'_>, n: &Node<'_>, entry: &str, outline: &Outline) -> Vec<String> {
    let mut faults = Vec::new();
    let mediator = n.parent.is_some_and(|p| g.nodes[p].parent.is_none())
        && n.card.provides.contains(&mediator_endpoint());
    let mut grants = Grants::of_card(n.card);
    grants.graph_view = mediator;
    grants.native_process = matches!(
        n.card.payload,
        Payload::Native { .. } | Payload::Legacy { .. }
    );
    let label = &n.card.label;
    let at = n.path.field("requires");
    if let Err(e) = ente_runtime::grants::check_names(
        label,
        outline.imports.iter().map(String::as_str),
        &grants,
    ) {
        faults.push(format!("{at}: {e}"));
    }
    let exports = |name: &str| outline.exports.iter().any(|e| e == name);
    // A seat's endpoint (the mediator's, the brain's) is not served over
    // the bus: its holder exports its own interface.
    let serves = n
        .card
        .provides
        .iter()
        .any(|c| matches!(c, Capability::Endpoint { .. }) && ente_card::Seat::of(c).is_none());
    let brain = n.parent.is_some_and(|p| g.nodes[p].parent.is_none())
        && n.card.provides.contains(&ente_card::brain_endpoint());
    if brain && !exports(ente_runtime::grants::BRAIN_EXPORT) {
        faults.push(format!(
            "{}: {n} holds the brain's seat, but its component does not export {}",
            n.path.field("provides"),
            ente_runtime::grants::BRAIN_EXPORT
        ));
    }
    if serves && !exports(HANDLER_EXPORT) {
        faults.push(format!(
            "{}: {n} provides an endpoint, but its component does not export {HANDLER_EXPORT}: a provider must serve its endpoint",
            n.path.field("provides")
        ));
    }
    let export = format!("{entry}@0.1.0");
    if !exports(&export) {
        faults.push(format!(
            "{} = {entry:?}: {n}'s component does not export `{export}`",
            n.path.field("payload").field("entry")
        ));
    }
    faults
}
