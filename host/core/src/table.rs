//! The one table of Entes. A record owns an Ente's card, what its bodies
//! are made from, its typed state, its restart history and its counters;
//! its body itself is on the bus. The core is the only writer; the
//! mediator's view of the graph and the status read it.

use crate::runner::{Counters, Exports, KillSlot, Prepared};
use crate::state::State;
use ente_card::{Capability, Card, Payload};
use ente_kernel::uevent::Uevent;
use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::time::Instant;
use ulid::Ulid;

/// Something the host hands an Ente's body, one at a time.
#[derive(Debug, Clone)]
pub enum Delivery {
    Uevent(Arc<Uevent>),
    Wake(u64),
    /// Ask this parent what to do about its `Delegate` child.
    ChildExit {
        child: Ulid,
        cause: crate::Cause,
    },
    /// Ask it to `save` its state for a snapshot on request.
    Save,
    /// A batch of events for the brain.
    Observe(Arc<Vec<ente_brain::Event>>),
    /// An operator's question to the brain.
    Ask(
        crate::runner::BrainAsk,
        crate::event::Reply<crate::runner::BrainAnswer>,
    ),
}

/// One Ente.
#[derive(Debug)]
pub struct Record {
    pub id: Ulid,
    pub card: Arc<Card>,
    pub parent: Option<Ulid>,
    pub children: Vec<Ulid>,
    /// Spawned at run time (not in the seed card).
    pub spawned: bool,
    /// The graph's mediator.
    pub mediator: bool,
    /// The graph's brain.
    pub brain: bool,
    pub state: State,
    /// What its bodies are made from, once made.
    pub prepared: Option<Arc<dyn Prepared>>,
    /// Its body's number: 1 for the first, one more for each restart.
    pub generation: u64,
    /// When it became ready, each time, in the start limit's window.
    pub starts: VecDeque<Instant>,
    /// Failures since it last stayed up for the backoff reset.
    pub failures: u32,
    /// Restarts over its life.
    pub restarts: u32,
    /// Its place in the order Entes first became ready: stops go in reverse.
    pub order: u64,
    pub counters: Arc<Counters>,
    /// Ends the current body's call from outside (one per body).
    pub kill: Arc<KillSlot>,
    /// A start or a delivery job is running for it.
    pub busy: bool,
    /// Start again once the job running now ends (a restart came due while
    /// a delivery was under way).
    pub start_after: bool,
    pub deliveries: VecDeque<Delivery>,
    pub dropped: u64,
    /// What each of its requirements may be served by: it starts when each
    /// group has a ready member.
    pub deps: Vec<Vec<Ulid>>,
    /// Stop once the start in progress ends.
    pub stop_wanted: bool,
    /// A body that broke in a call before the core saw it ready (it went on
    /// the bus before its start was reported): supervised once it is.
    pub died_starting: Option<crate::Cause>,
    /// Live children it may spawn: its card's `soma.rlimits.nproc`, else
    /// the host's default, and for a spawned Ente never more than its
    /// spawner's own limit.
    pub children_limit: u32,
    /// The whole card it was spawned with, its genesis included (the top
    /// of each spawned tree only; `card` holds it without its genesis): for
    /// the snapshot.
    pub spawned_card: Option<Arc<Card>>,
    /// The state to hand its next body before it starts (a restore).
    pub restore: Option<Vec<u8>>,
    /// What its `snapshot.save` returned at the shutdown.
    pub saved: Option<Vec<u8>>,
}

impl Record {
    pub fn new(card: Arc<Card>, parent: Option<Ulid>, spawned: bool) -> Record {
        let state = match card.payload {
            Payload::Virtual => State::Group,
            _ => State::Waiting,
        };
        Record {
            id: card.id,
            parent,
            children: Vec::new(),
            spawned,
            mediator: false,
            brain: false,
            state,
            prepared: None,
            generation: 0,
            starts: VecDeque::new(),
            failures: 0,
            restarts: 0,
            order: 0,
            counters: Arc::default(),
            kill: Arc::default(),
            busy: false,
            start_after: false,
            deliveries: VecDeque::new(),
            dropped: 0,
            deps: Vec::new(),
            stop_wanted: false,
            died_starting: None,
            children_limit: 0,
            spawned_card: None,
            restore: None,
            saved: None,
            card,
        }
    }

    pub fn label(&self) -> &str {
        &self.card.label
    }

    pub fn has_body(&self) -> bool {
        !matches!(self.card.payload, Payload::Virtual)
    }

    pub fn exports(&self) -> Exports {
        self.prepared
            .as_ref()
            .map(|p| p.exports())
            .unwrap_or_default()
    }

    /// Whether its card lets it receive `event` (Device of its class, or
    /// KernelNetlink{Uevent}).
    pub fn wants(&self, class: Option<ente_card::DeviceClass>) -> bool {
        self.card.requires.iter().any(|c| match c {
            Capability::KernelNetlink { netlink_family } => {
                *netlink_family == ente_card::NetlinkFamily::Uevent
            }
            Capability::Device { device_class } => Some(*device_class) == class,
            _ => false,
        })
    }
}

#[derive(Debug, Default)]
pub struct Table {
    records: HashMap<Ulid, Record>,
    /// Ids in the order they were added (the seed's depth-first order).
    added: Vec<Ulid>,
    next_order: u64,
    /// The leases held when the shutdown began: (caller, endpoint,
    /// provider, time left).
    pub leases_at_stop: Vec<(Ulid, ente_card::Endpoint, Ulid, std::time::Duration)>,
}

impl Table {
    pub fn get(&self, id: Ulid) -> Option<&Record> {
        self.records.get(&id)
    }

    pub fn get_mut(&mut self, id: Ulid) -> Option<&mut Record> {
        self.records.get_mut(&id)
    }

    pub fn insert(&mut self, record: Record) {
        self.added.push(record.id);
        self.records.insert(record.id, record);
    }

    pub fn remove(&mut self, id: Ulid) -> Option<Record> {
        self.added.retain(|&a| a != id);
        self.records.remove(&id)
    }

    pub fn len(&self) -> usize {
        self.records.len()
    }

    pub fn is_empty(&self) -> bool {
        self.records.is_empty()
    }

    /// Every record, in the order added.
    pub fn iter(&self) -> impl Iterator<Item = &Record> {
        self.added.iter().filter_map(|id| self.records.get(id))
    }

    pub fn ids(&self) -> Vec<Ulid> {
        self.added.clone()
    }

    /// The next place in the order Entes become ready.
    pub fn next_order(&mut self) -> u64 {
        self.next_order += 1;
        self.next_order
    }

    /// `id` and every Ente below it.
    pub fn subtree(&self, id: Ulid) -> Vec<Ulid> {
        let mut out = Vec::new();
        let mut stack = vec![id];
        while let Some(n) = stack.pop() {
            if let Some(r) = self.records.get(&n) {
                out.push(n);
                stack.extend(r.children.iter().copied());
            }
        }
        out
    }

    /// Whether `ancestor` is above `id` in the lineage tree.
    pub fn descends_from(&self, mut id: Ulid, ancestor: Ulid) -> bool {
        while let Some(parent) = self.records.get(&id).and_then(|r| r.parent) {
            if parent == ancestor {
                return true;
            }
            id = parent;
        }
        false
    }

    /// Whether every dependency group of `id` has a ready member, and its
    /// parent is ready (or a group).
    pub fn can_start(&self, id: Ulid) -> bool {
        let Some(r) = self.records.get(&id) else {
            return false;
        };
        let up = |d: &Ulid| {
            self.records
                .get(d)
                .is_some_and(|x| matches!(x.state, State::Ready { .. } | State::Group))
        };
        r.parent.as_ref().is_none_or(up) && r.deps.iter().all(|group| group.iter().any(up))
    }
}
