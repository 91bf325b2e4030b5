//! Spawn, and the other requests of `ente:core/graph`. Only holders of
//! Spawn are linked with it; a spawned card passes the same grammar and the
//! same `Graph::route` as the seed's genesis, its lineage is the caller, it
//! never holds more than the caller, and the caller's live children are
//! limited. Stop and restart reach only the caller's descendants.

use crate::core::{Core, Then};
use crate::event::{Control, Reply};
use crate::spine::Kind;
use crate::state::State;
use ente_card::{Capability, Card, Graph};
use std::sync::Arc;
use ulid::Ulid;

impl Core {
    pub(crate) fn on_control(&mut self, control: Control) {
        match control {
            Control::Spawn { by, card, reply } => {
                let label = card.label.clone();
                let result = self.spawn(by, *card);
                self.answer(by, &format!("spawn `{label}`"), &reply, result);
            }
            Control::Stop { by, ente, reply } => {
                let result = self
                    .descendant(by, ente)
                    .and_then(|()| self.not_planned(ente))
                    .map(|()| {
                        let subtree = self.read().subtree(ente);
                        let spawned = self.read().get(ente).is_some_and(|r| r.spawned);
                        let then = if spawned {
                            Then::Remove(subtree.clone())
                        } else {
                            Then::Nothing
                        };
                        self.plan_stop(subtree, then);
                    });
                self.answer(by, &format!("stop {ente}"), &reply, result);
            }
            Control::Restart { by, ente, reply } => {
                let result = self
                    .descendant(by, ente)
                    .and_then(|()| self.not_planned(ente))
                    .map(|()| {
                        let subtree = self.read().subtree(ente);
                        self.plan_stop(subtree, Then::Restart(ente));
                    });
                self.answer(by, &format!("restart {ente}"), &reply, result);
            }
        }
    }

    fn answer<T>(&self, by: Ulid, request: &str, reply: &Reply<T>, result: Result<T, String>) {
        if let Err(why) = &result {
            let label = self
                .read()
                .get(by)
                .map(|r| r.label().to_owned())
                .unwrap_or_default();
            self.h.spine.emit(
                Some((by, &label)),
                Kind::Refused {
                    by,
                    request: request.to_owned(),
                    why: why.clone(),
                },
            );
        }
        // The asker may have given up (its deadline passed): nothing to do.
        let _ = reply.try_send(result);
    }

    /// Whether `ente` is free of a stop or restart under way.
    fn not_planned(&self, ente: Ulid) -> Result<(), String> {
        if self.plans.iter().any(|p| p.queue.contains(&ente)) {
            return Err(format!(
                "{ente} is being stopped or restarted already; ask again once that is done"
            ));
        }
        Ok(())
    }

    /// Whether `ente` is below `by`.
    fn descendant(&self, by: Ulid, ente: Ulid) -> Result<(), String> {
        if self.shutdown.is_some() {
            return Err("the host is stopping".into());
        }
        let t = self.read();
        if t.get(ente).is_none() {
            return Err(format!("{ente} is not an Ente of this host"));
        }
        if !t.descends_from(ente, by) {
            return Err(format!(
                "{ente} is not a descendant of the caller: an Ente may stop or restart only its own descendants"
            ));
        }
        Ok(())
    }

    pub(crate) fn spawn(&mut self, by: Ulid, card: Card) -> Result<Ulid, String> {
        self.admit(by, &card)?;
        self.check_spawn(by, &card)?;
        let (id, added) = self.insert_spawned(by, card);
        self.link_deps(&added);
        for a in added {
            self.start_if_ready(a);
        }
        Ok(id)
    }

    /// [`Core::spawn`] of a restore, whose cards all passed the graph's
    /// checks first ([`Core::check_restored`]): the caller's checks, then
    /// into the table, neither linked nor started (the restore does both
    /// once every card is in); the Entes it added.
    pub(crate) fn respawn(&mut self, by: Ulid, card: Card) -> Result<Vec<Ulid>, String> {
        self.admit(by, &card)?;
        Ok(self.insert_spawned(by, card).1)
    }

    /// The caller's side of a spawn: it holds Spawn, the card is of its
    /// lineage, and the limits allow it.
    fn admit(&self, by: Ulid, card: &Card) -> Result<(), String> {
        if self.shutdown.is_some() {
            return Err("the host is stopping".into());
        }
        {
            let t = self.read();
            let caller = t.get(by).ok_or("the caller is not an Ente of this host")?;
            // The seed holds what it lists (an operator's spawn is by the
            // seed); every other Ente, what its card requires.
            let holds = caller.card.requires.contains(&Capability::Spawn)
                || (caller.parent.is_none() && caller.card.provides.contains(&Capability::Spawn));
            if !holds {
                return Err("the caller's card does not require Spawn".into());
            }
            if card.lineage != Some(by) {
                return Err(format!(
                    "lineage: a spawned card's lineage must be the caller's id {by}, not {}",
                    card.lineage
                        .map_or_else(|| "absent".into(), |l| l.to_string())
                ));
            }
            let limit = caller.children_limit;
            let live = caller
                .children
                .iter()
                .filter(|c| {
                    t.get(**c)
                        .is_some_and(|r| !matches!(r.state, State::Stopped { .. }))
                })
                .count();
            if live >= limit as usize {
                return Err(format!(
                    "the caller already has {live} children, its limit (soma.rlimits.nproc, else the host's {}, never more than its spawner's): {limit}",
                    self.config.children
                ));
            }
            // A child never gets more than its parent: no more memory, and no
            // more children of its own.
            let has = caller
                .card
                .soma
                .rlimits
                .mem_bytes
                .unwrap_or(crate::DEFAULT_MEMORY);
            for c in card.walk() {
                let r = &c.soma.rlimits;
                let asked = r.mem_bytes.unwrap_or(crate::DEFAULT_MEMORY);
                if asked > has {
                    return Err(format!(
                        "`{}`: soma.rlimits.mem_bytes = {asked}, more than its spawner has ({has}): a child never gets more than its parent",
                        c.label
                    ));
                }
                // Left unset, a child's limit is capped at its spawner's
                // when it is inserted; set above it, the card is refused.
                if let Some(asked) = r.nproc
                    && asked > limit
                {
                    return Err(format!(
                        "`{}`: soma.rlimits.nproc = {asked}, more than its spawner may have ({limit}): a child never gets more than its parent",
                        c.label
                    ));
                }
            }
            let adding = card.walk().count();
            if live + adding > limit as usize {
                return Err(format!(
                    "the card holds {adding} Entes; with the caller's {live} children that passes its limit of {limit}"
                ));
            }
            if t.len() + adding > self.config.capacity {
                return Err(format!(
                    "the host holds {} Entes and {adding} more would pass its capacity of {}",
                    t.len(),
                    self.config.capacity
                ));
            }
        }
        Ok(())
    }

    /// Put a checked card into the table, below its caller, neither linked
    /// to what it waits on nor started; its id, and every Ente it added.
    fn insert_spawned(&mut self, by: Ulid, card: Card) -> (Ulid, Vec<Ulid>) {
        let id = card.id;
        let added = self.insert_tree(&card, Some(by), true);
        {
            let mut t = self.write();
            if let Some(caller) = t.get_mut(by) {
                caller.children.push(id);
            }
        }
        let card = Arc::new(card);
        if let Some(r) = self.write().get_mut(id) {
            r.spawned_card = Some(card.clone());
        }
        self.h
            .spine
            .emit(Some((id, &card.label)), Kind::Spawned { by });
        self.spawned.push((by, card));
        (id, added)
    }

    /// The graph's checks of `cards` (each with its parent, in spawn
    /// order) as if each were spawned after those before it: what
    /// [`Core::check_spawn`] does for one, done once for all of them,
    /// before any is in the table.
    pub(crate) fn check_restored(&self, cards: &[(Ulid, Card)]) -> Result<(), String> {
        let mut graph = self.live_graph();
        let mut first = None;
        for (parent, c) in cards {
            let p = graph
                .find(*parent)
                .ok_or_else(|| format!("`{}`: its parent {parent} is not in the graph", c.label))?;
            let node = graph.adopt(p, c);
            first.get_or_insert(node);
        }
        let Some(first) = first else { return Ok(()) };
        said(&graph.check_from(first))
    }

    /// The seed's graph with every card spawned so far.
    fn live_graph(&self) -> Graph<'_> {
        let mut graph = Graph::new(&self.seed);
        for (parent, c) in &self.spawned {
            if let Some(p) = graph.find(*parent) {
                graph.adopt(p, c);
            }
        }
        graph
    }

    /// The card's place in the live graph, checked by the same rules as the
    /// seed's: a new id, every requirement routed, nothing its parent lacks.
    fn check_spawn(&self, by: Ulid, card: &Card) -> Result<(), String> {
        let mut graph = self.live_graph();
        let caller = graph.find(by).ok_or("the caller is not in the graph")?;
        let first = graph.adopt(caller, card);
        said(&graph.check_from(first))
    }
}

/// The graph's faults as one refusal, or none.
fn said(faults: &[ente_card::GraphFault]) -> Result<(), String> {
    if faults.is_empty() {
        return Ok(());
    }
    Err(faults
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("; "))
}
