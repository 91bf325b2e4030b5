//! Entes into the table: a card and its genesis as records, and what each
//! waits on to start (its parent, a provider of each endpoint it requires,
//! and the mediator when it calls over the bus).

use crate::core::Core;
use crate::table::Record;
use ente_card::Card;
use std::collections::HashMap;
use std::sync::Arc;
use ulid::Ulid;

impl Core {
    /// Add `card` and its genesis to the table below `parent`; returns the
    /// ids added, parents first.
    pub(crate) fn insert_tree(
        &mut self,
        card: &Card,
        parent: Option<Ulid>,
        spawned: bool,
    ) -> Vec<Ulid> {
        let mut added = Vec::new();
        let mut t = self.write();
        let mut stack = vec![(card, parent)];
        while let Some((c, p)) = stack.pop() {
            let mut record = Record::new(Arc::new(strip_genesis(c)), p, spawned);
            record.children = c.genesis.iter().map(|g| g.id).collect();
            record.mediator = Some(c.id) == self.mediator;
            record.brain = Some(c.id) == self.brain;
            let own = c.soma.rlimits.nproc.unwrap_or(self.config.children);
            record.children_limit = match p.and_then(|p| t.get(p)) {
                Some(parent) if spawned => own.min(parent.children_limit),
                _ => own,
            };
            self.h.bus.open(c.id, &c.label);
            added.push(c.id);
            t.insert(record);
            for child in c.genesis.iter().rev() {
                stack.push((child, Some(c.id)));
            }
        }
        added
    }

    /// Work out what each of `ids` waits on to start: its parent, a
    /// provider of each Endpoint it requires, and the mediator when it
    /// calls over the bus.
    pub(crate) fn link_deps(&mut self, ids: &[Ulid]) {
        let table = self.h.table.clone();
        let mut t = table.write().unwrap_or_else(|p| p.into_inner());
        let mut providers: HashMap<ente_card::Capability, Vec<Ulid>> = HashMap::new();
        for r in t.iter() {
            for cap in &r.card.provides {
                if matches!(cap, ente_card::Capability::Endpoint { .. }) {
                    providers.entry(cap.clone()).or_default().push(r.id);
                }
            }
        }
        let mut links = Vec::new();
        for &id in ids {
            let Some(r) = t.get(id) else { continue };
            let mut deps: Vec<Vec<Ulid>> = Vec::new();
            let mut calls = false;
            for cap in &r.card.requires {
                if let ente_card::Capability::Endpoint { .. } = cap {
                    calls = true;
                    let group: Vec<Ulid> = providers
                        .get(cap)
                        .into_iter()
                        .flatten()
                        .copied()
                        .filter(|&p| p != id)
                        .collect();
                    deps.push(group);
                }
            }
            if calls
                && let Some(m) = self.mediator
                && m != id
            {
                deps.push(vec![m]);
            }
            links.push((id, r.parent, deps));
        }
        for (id, parent, deps) in links {
            for d in deps.iter().flatten().chain(parent.iter()) {
                self.waiters.entry(*d).or_default().push(id);
            }
            if let Some(r) = t.get_mut(id) {
                r.deps = deps;
            }
        }
    }
}

/// A record keeps its own card without its genesis: each child has its own
/// record.
fn strip_genesis(c: &Card) -> Card {
    Card {
        schema_version: c.schema_version,
        id: c.id,
        lineage: c.lineage,
        label: c.label.clone(),
        provides: c.provides.clone(),
        requires: c.requires.clone(),
        soma: c.soma.clone(),
        payload: c.payload.clone(),
        supervision: c.supervision,
        genesis: Vec::new(),
    }
}
