//! The graph a seed card roots, and the checks that can be made before boot.
//!
//! [`Graph::route`] is the one routing function: `ente check --graph` uses it
//! here, and the live host uses the same function when it links an Ente.

use crate::fault::JsonPath;
use crate::model::{Capability, Card, Endpoint, Payload, Supervision};
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

/// The interface of the mediator's endpoint ("ente-mediator-v1" in hex).
pub const MEDIATOR_INTERFACE: &str = "656e74652d6d65646961746f722d7631";

/// The mediator's endpoint, `656e…7631@1`. Who provides it decides every
/// grant, so it is not served by whoever claims it: the seed holds it (it
/// lists it in `provides`) and hands it to exactly one of its genesis
/// children, the mediator. No other card may provide it, nor any card
/// spawned later.
pub fn mediator_endpoint() -> Capability {
    Capability::Endpoint {
        endpoint: Endpoint {
            interface: MEDIATOR_INTERFACE.into(),
            version: 1,
        },
    }
}

/// The interface of the brain's endpoint ("ente-rule-engine" in hex).
pub const BRAIN_INTERFACE: &str = "656e74652d72756c652d656e67696e65";

/// The brain's endpoint, `656e…6e65@1`: the seed hands it to the one
/// genesis child that is its rule engine, as it hands the mediator's. Its
/// holder is given the graph's events and acts on them by its own
/// authority; it is never served over the bus.
pub fn brain_endpoint() -> Capability {
    Capability::Endpoint {
        endpoint: Endpoint {
            interface: BRAIN_INTERFACE.into(),
            version: 1,
        },
    }
}

/// A place in the graph that only the seed hands out, by listing its
/// endpoint in its provides and giving it to one genesis child.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Seat {
    Mediator,
    Brain,
}

impl Seat {
    pub const ALL: [Seat; 2] = [Seat::Mediator, Seat::Brain];

    pub fn endpoint(self) -> Capability {
        match self {
            Seat::Mediator => mediator_endpoint(),
            Seat::Brain => brain_endpoint(),
        }
    }

    /// The seat of an endpoint, if it is one.
    pub fn of(cap: &Capability) -> Option<Seat> {
        Seat::ALL.into_iter().find(|s| s.endpoint() == *cap)
    }
}

impl fmt::Display for Seat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Seat::Mediator => "mediator",
            Seat::Brain => "brain",
        })
    }
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
    #[error(
        "{at}: {ente} provides the {seat}'s endpoint, which only the seed can hand out: the {seat} must be a genesis child of a seed that lists the endpoint in its provides"
    )]
    NotFromSeed {
        at: JsonPath,
        ente: String,
        seat: Seat,
    },
    #[error(
        "{at}: {second} provides the {seat}'s endpoint, which {first} already provides: a graph has one {seat}"
    )]
    SecondInSeat {
        at: JsonPath,
        first: String,
        second: String,
        seat: Seat,
    },
    #[error(
        "{at}: {ente} calls over the bus, but no Ente mediates, so every call would be denied: the seed must list the mediator's endpoint in its provides and hand it to one genesis child"
    )]
    NoMediator { at: JsonPath, ente: String },
    #[error(
        "{at}: {ente} leaves its restarts to its parent (`Delegate`), but {parent} has no Wasm body to decide them: the parent of a Delegate child must be a Wasm Ente exporting ente:core/supervisor"
    )]
    DelegateWithoutSupervisor {
        at: JsonPath,
        ente: String,
        parent: String,
    },
}

impl GraphFault {
    /// The same fault, placed at a more precise path.
    fn at(mut self, path: JsonPath) -> GraphFault {
        match &mut self {
            GraphFault::DuplicateId { at, .. }
            | GraphFault::Unprovided { at, .. }
            | GraphFault::Exceeds { at, .. } => *at = path,
            GraphFault::Cycle { .. }
            | GraphFault::NotFromSeed { .. }
            | GraphFault::SecondInSeat { .. }
            | GraphFault::NoMediator { .. }
            | GraphFault::DelegateWithoutSupervisor { .. } => {}
        }
        self
    }
}

impl<'c> Graph<'c> {
    pub fn new(seed: &'c Card) -> Graph<'c> {
        let mut graph = Graph { nodes: Vec::new() };
        graph.push_tree(seed, None);
        graph
    }

    /// Add `card` and its genesis below `parent`, as a spawn does; returns
    /// the node of `card`. [`Graph::check_from`] then checks what was added.
    pub fn adopt(&mut self, parent: NodeId, card: &'c Card) -> NodeId {
        self.push_tree(card, Some(parent))
    }

    fn push_tree(&mut self, top: &'c Card, parent: Option<NodeId>) -> NodeId {
        let first = self.nodes.len();
        let mut stack = vec![(top, parent, JsonPath::root())];
        while let Some((card, parent, path)) = stack.pop() {
            let me = self.nodes.len();
            for (i, child) in card.genesis.iter().enumerate().rev() {
                stack.push((child, Some(me), path.field("genesis").index(i)));
            }
            self.nodes.push(Node { card, parent, path });
        }
        first
    }

    /// The node of the Ente `id`, if it is in the graph.
    pub fn find(&self, id: Ulid) -> Option<NodeId> {
        self.nodes.iter().position(|n| n.card.id == id)
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
        self.check_from(0)
    }

    /// Every fault of the nodes from `first` on (those a spawn adopted),
    /// against the whole graph.
    pub fn check_from(&self, first: NodeId) -> Vec<GraphFault> {
        let mut faults = Vec::new();
        let mut first_by_id: HashMap<Ulid, NodeId> = HashMap::new();
        // Who sits in each seat (the first genesis child that claims it).
        let mut seated: [Option<NodeId>; 2] = [None; 2];
        for (n, node) in self.nodes.iter().enumerate() {
            let repeated = first_by_id.get(&node.card.id).copied();
            if repeated.is_none() {
                first_by_id.insert(node.card.id, n);
            }
            let mut claims = Vec::new();
            for (i, seat) in Seat::ALL.into_iter().enumerate() {
                if node.card.provides.contains(&seat.endpoint()) {
                    claims.push((seat, seated[i]));
                    if node.parent.is_some() && seated[i].is_none() {
                        seated[i] = Some(n);
                    }
                }
            }
            if n < first {
                continue;
            }
            if let Some(first) = repeated {
                faults.push(GraphFault::DuplicateId {
                    at: node.path.field("id"),
                    id: node.card.id,
                    first: self.nodes[first].to_string(),
                    second: node.to_string(),
                });
            }
            for (seat, earlier) in claims {
                faults.extend(self.seat_fault(n, seat, earlier));
            }
            // A grouping node has no body to end: its supervision never acts.
            if node.card.supervision == Supervision::Delegate
                && !matches!(node.card.payload, Payload::Virtual)
            {
                faults.extend(self.delegate_fault(n));
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
        if seated[0].is_none()
            && let Some((n, i)) = self
                .nodes
                .iter()
                .enumerate()
                .skip(first)
                .find_map(|(n, node)| {
                    node.card
                        .requires
                        .iter()
                        .position(|c| matches!(c, Capability::Endpoint { .. }))
                        .map(|i| (n, i))
                })
        {
            faults.push(GraphFault::NoMediator {
                at: self.nodes[n].path.field("requires").index(i),
                ente: self.nodes[n].to_string(),
            });
        }
        if let Err(cycle) = self.start_order() {
            faults.push(cycle);
        }
        faults
    }

    /// Whether node `n` may provide a seat's endpoint: only as the one
    /// genesis child of a seed that holds it.
    fn seat_fault(&self, n: NodeId, seat: Seat, earlier: Option<NodeId>) -> Option<GraphFault> {
        let node = &self.nodes[n];
        let at = node.path.field("provides");
        let from_seed = match node.parent {
            // The seed itself lists it: that is how it holds the right.
            None => return None,
            Some(p) => {
                let seed = &self.nodes[p];
                // A card a spawn adopted is its own document (its path is the
                // root): never a genesis child of the seed.
                seed.parent.is_none()
                    && seed.card.provides.contains(&seat.endpoint())
                    && node.path != JsonPath::root()
            }
        };
        if !from_seed {
            return Some(GraphFault::NotFromSeed {
                at,
                ente: node.to_string(),
                seat,
            });
        }
        let first = earlier?;
        Some(GraphFault::SecondInSeat {
            at,
            first: self.nodes[first].to_string(),
            second: node.to_string(),
            seat,
        })
    }

    /// Whether node `n`, a `Delegate` child, has a parent that can decide.
    fn delegate_fault(&self, n: NodeId) -> Option<GraphFault> {
        let node = &self.nodes[n];
        let parent = match node.parent {
            Some(p) if matches!(self.nodes[p].card.payload, Payload::Wasm { .. }) => return None,
            Some(p) => self.nodes[p].to_string(),
            None => "the host (it is the seed)".to_owned(),
        };
        Some(GraphFault::DelegateWithoutSupervisor {
            at: node.path.field("supervision"),
            ente: node.to_string(),
            parent,
        })
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
