//! The graph a seed card roots, and the checks that can be made before boot.
//!
//! [`Graph::route`] is the one routing function: `ente check --graph` uses it
//! here, and the live host uses the same function when it links an Ente.

use crate::fault::JsonPath;
use crate::model::{Capability, Card};
use std::collections::HashMap;
use std::fmt;
use ulid::Ulid;

/// Where a granted capability comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Route {
    /// A kernel-rooted right (filesystem, netlink, devices, spawn, journal):
    /// the host holds it at the root and each parent hands it down.
    Delegated,
    /// A right another Ente serves: these nodes provide it.
    Provided(Vec<NodeId>),
}

/// Whether `cap` is handed down the lineage tree (rather than served by an Ente).
pub fn is_delegated(cap: &Capability) -> bool {
    !matches!(cap, Capability::Endpoint { .. } | Capability::LegacyLogind)
}

/// Index of a card in a [`Graph`].
pub type NodeId = usize;

/// One card of the graph with where it sits.
#[derive(Debug)]
pub struct Node<'c> {
    pub card: &'c Card,
    pub parent: Option<NodeId>,
    /// The card's place in the seed document, e.g. `genesis[0].genesis[1]`.
    pub path: JsonPath,
}

impl fmt::Display for Node<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "`{}` ({})", self.card.label, self.card.id)
    }
}

/// The static graph: every card under a seed, parents before children.
#[derive(Debug)]
pub struct Graph<'c> {
    pub nodes: Vec<Node<'c>>,
}

/// A fault of the graph as a whole.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GraphFault {
    #[error("{at}: {second} has id {id}, already the id of {first}: ids must be unique in a graph")]
    DuplicateId {
        at: JsonPath,
        id: Ulid,
        first: String,
        second: String,
    },
    #[error("{at}: {ente} requires {capability}, which no Ente in the graph provides")]
    Unprovided {
        at: JsonPath,
        ente: String,
        capability: Capability,
    },
    #[error(
        "{at}: {ente} is granted {capability}, which its parent {parent} does not hold: a child is never granted more than its parent holds"
    )]
    Exceeds {
        at: JsonPath,
        ente: String,
        capability: Capability,
        parent: String,
    },
    #[error("dependency cycle: {}: no start order exists", .entes.join(" -> "))]
    Cycle { entes: Vec<String> },
}

impl GraphFault {
    /// The same fault, placed at a more precise path.
    fn at(mut self, path: JsonPath) -> GraphFault {
        match &mut self {
            GraphFault::DuplicateId { at, .. }
            | GraphFault::Unprovided { at, .. }
            | GraphFault::Exceeds { at, .. } => *at = path,
            GraphFault::Cycle { .. } => {}
        }
        self
    }
}

impl<'c> Graph<'c> {
    pub fn new(seed: &'c Card) -> Graph<'c> {
        let mut nodes = Vec::new();
        let mut stack = vec![(seed, None, JsonPath::root())];
        while let Some((card, parent, path)) = stack.pop() {
            let me = nodes.len();
            for (i, child) in card.genesis.iter().enumerate().rev() {
                stack.push((child, Some(me), path.field("genesis").index(i)));
            }
            nodes.push(Node { card, parent, path });
        }
        Graph { nodes }
    }

    /// The capabilities a node holds and may hand down: the root holds what it
    /// lists; every other node what it requires or provides.
    pub fn holds(&self, node: NodeId, cap: &Capability) -> bool {
        let card = self.nodes[node].card;
        card.requires.contains(cap) || card.provides.contains(cap)
    }

    /// Where `node` gets `cap` from, or why it cannot have it.
    pub fn route(&self, node: NodeId, cap: &Capability) -> Result<Route, GraphFault> {
        let me = &self.nodes[node];
        if is_delegated(cap) {
            return match me.parent {
                None => Ok(Route::Delegated),
                Some(parent) if self.holds(parent, cap) => Ok(Route::Delegated),
                Some(parent) => Err(GraphFault::Exceeds {
                    at: me.path.clone(),
                    ente: me.to_string(),
                    capability: cap.clone(),
                    parent: self.nodes[parent].to_string(),
                }),
            };
        }
        let providers: Vec<NodeId> = (0..self.nodes.len())
            .filter(|&n| n != node && self.nodes[n].card.provides.contains(cap))
            .collect();
        if providers.is_empty() {
            return Err(GraphFault::Unprovided {
                at: me.path.clone(),
                ente: me.to_string(),
                capability: cap.clone(),
            });
        }
        Ok(Route::Provided(providers))
    }

    /// Every fault of the graph, all at once.
    pub fn check(&self) -> Vec<GraphFault> {
        let mut faults = Vec::new();
        let mut first_by_id: HashMap<Ulid, NodeId> = HashMap::new();
        for (n, node) in self.nodes.iter().enumerate() {
            if let Some(&first) = first_by_id.get(&node.card.id) {
                faults.push(GraphFault::DuplicateId {
                    at: node.path.field("id"),
                    id: node.card.id,
                    first: self.nodes[first].to_string(),
                    second: node.to_string(),
                });
            } else {
                first_by_id.insert(node.card.id, n);
            }
            for (i, cap) in node.card.requires.iter().enumerate() {
                if let Err(fault) = self.route(n, cap) {
                    faults.push(fault.at(node.path.field("requires").index(i)));
                }
            }
            // Handing out a kernel-rooted right needs holding it first.
            if node.parent.is_some() {
                for (i, cap) in node.card.provides.iter().enumerate() {
                    if !is_delegated(cap) {
                        continue;
                    }
                    if let Err(fault) = self.route(n, cap) {
                        faults.push(fault.at(node.path.field("provides").index(i)));
                    }
                }
            }
        }
        if let Err(cycle) = self.start_order() {
            faults.push(cycle);
        }
        faults
    }

    /// The nodes each node depends on: the providers of what it requires.
    pub fn dependencies(&self, node: NodeId) -> Vec<NodeId> {
        let mut deps: Vec<NodeId> = self.nodes[node]
            .card
            .requires
            .iter()
            .filter_map(|cap| match self.route(node, cap) {
                Ok(Route::Provided(p)) => Some(p),
                _ => None,
            })
            .flatten()
            .collect();
        deps.sort_unstable();
        deps.dedup();
        deps
    }

    /// An order in which every node comes after its parent and after the
    /// providers of everything it requires; a dependency cycle is an error
    /// that names the Entes on it.
    pub fn start_order(&self) -> Result<Vec<NodeId>, GraphFault> {
        #[derive(Clone, Copy, PartialEq)]
        enum Mark {
            New,
            Open,
            Done,
        }
        let deps: Vec<Vec<NodeId>> = (0..self.nodes.len())
            .map(|n| {
                let mut d = self.dependencies(n);
                d.extend(self.nodes[n].parent);
                d
            })
            .collect();
        let mut mark = vec![Mark::New; self.nodes.len()];
        let mut order = Vec::with_capacity(self.nodes.len());
        for root in 0..self.nodes.len() {
            if mark[root] != Mark::New {
                continue;
            }
            // Iterative depth-first search; `trail` is the open path.
            let mut trail: Vec<(NodeId, usize)> = vec![(root, 0)];
            mark[root] = Mark::Open;
            while let Some(&mut (n, ref mut next)) = trail.last_mut() {
                if let Some(&d) = deps[n].get(*next) {
                    *next += 1;
                    match mark[d] {
                        Mark::Done => {}
                        Mark::New => {
                            mark[d] = Mark::Open;
                            trail.push((d, 0));
                        }
                        Mark::Open => {
                            let from = trail.iter().position(|&(t, _)| t == d).unwrap_or(0);
                            let mut entes: Vec<String> = trail[from..]
                                .iter()
                                .map(|&(t, _)| self.nodes[t].to_string())
                                .collect();
                            entes.push(self.nodes[d].to_string());
                            return Err(GraphFault::Cycle { entes });
                        }
                    }
                } else {
                    mark[n] = Mark::Done;
                    order.push(n);
                    trail.pop();
                }
            }
        }
        Ok(order)
    }
}
