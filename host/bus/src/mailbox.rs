//! A slot's mailbox: taking a body for a call (first come, first served,
//! bounded, with cycle detection over the wait-for graph) and giving it
//! back (or, broken, off the bus with its leases).

use crate::route::Untaken;
use crate::slot::{Slot, SlotState};
use crate::{Body, Bus, BusError};
use std::collections::HashMap;
use std::sync::MutexGuard;
use std::thread::ThreadId;
use std::time::{Duration, Instant};
use ulid::Ulid;

impl<B: Body> Bus<B> {
    /// Take the body out of `slot` for this thread, waiting in its mailbox
    /// (first come, first served) while another chain holds it.
    pub(crate) fn take(&self, slot: &Slot<B>) -> Result<B, Untaken> {
        let me = std::thread::current().id();
        let mut state = slot.lock();
        let deadline = crate::lease::saturating(Instant::now(), self.config.wait);
        let mut ticket: Option<u64> = None;
        loop {
            if state.gone {
                leave(&mut state, ticket);
                slot.freed.notify_all();
                return Err(Untaken::Absent);
            }
            let my_turn = match ticket {
                None => state.queue.is_empty(),
                Some(t) => state.queue.front() == Some(&t),
            };
            if my_turn && let Some(body) = state.body.take() {
                if ticket.is_some() {
                    state.queue.pop_front();
                }
                state.held_by = Some(me);
                self.lock_graph().holding.insert(slot.id, me);
                return Ok(body);
            }
            match state.held_by {
                Some(holder) if holder == me => {
                    leave(&mut state, ticket);
                    slot.freed.notify_all();
                    return Err(Untaken::Err(BusError::Cycle(format!(
                        "`{}` is already in this call chain",
                        slot.label
                    ))));
                }
                Some(_) => {}
                None if state.body.is_none() => {
                    leave(&mut state, ticket);
                    slot.freed.notify_all();
                    return Err(Untaken::Absent);
                }
                // Idle, but others queued first: wait for our turn.
                None => {}
            }
            if ticket.is_none() {
                if state.queue.len() >= self.config.mailbox {
                    return Err(Untaken::Err(BusError::Busy(slot.label.clone())));
                }
                let t = state.next_ticket;
                state.next_ticket += 1;
                state.queue.push_back(t);
                ticket = Some(t);
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                leave(&mut state, ticket);
                slot.freed.notify_all();
                return Err(Untaken::Err(BusError::Busy(slot.label.clone())));
            }
            // The wait is recorded in the same step as the check that it
            // closes no cycle, under the one lock of the wait-for graph.
            {
                let mut graph = self.lock_graph();
                if let Some(holder) = state.held_by
                    && graph.reaches(holder, me)
                {
                    drop(graph);
                    leave(&mut state, ticket);
                    slot.freed.notify_all();
                    return Err(Untaken::Err(BusError::Cycle(format!(
                        "`{}` is held by a call chain that waits on this one",
                        slot.label
                    ))));
                }
                graph.waiting.insert(me, slot.id);
            }
            let (s, _) = slot
                .freed
                .wait_timeout(state, left.min(Duration::from_millis(50)))
                .unwrap_or_else(|p| p.into_inner());
            state = s;
            self.lock_graph().waiting.remove(&me);
        }
    }

    /// Put a body back after a call; a broken one leaves the bus instead,
    /// with its leases, and its death is reported.
    pub(crate) fn give_back(&self, slot: &Slot<B>, body: B, broken: Option<B::Fault>) {
        let mut state = slot.lock();
        state.held_by = None;
        self.lock_graph().holding.remove(&slot.id);
        match &broken {
            None if !state.gone => state.body = Some(body),
            // Stopped meanwhile, or broken: the body goes (after the lock).
            _ => {
                if let Some(fault) = &broken {
                    state.gone = true;
                    state.ended = Some(fault.to_string());
                }
                drop(state);
                slot.freed.notify_all();
                drop(body);
                if let Some(fault) = broken {
                    self.drop_leases(slot.id);
                    if let Some(o) = &self.observer {
                        o.broke(slot.id, &fault);
                    }
                }
                return;
            }
        }
        drop(state);
        slot.freed.notify_all();
    }

    fn lock_graph(&self) -> MutexGuard<'_, WaitGraph> {
        self.waits.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// Who waits for which slot, and who holds each: the wait-for graph, under
/// one lock. It is taken after a slot's lock, never before, and no slot's
/// lock is taken while it is held.
#[derive(Debug, Default)]
pub(crate) struct WaitGraph {
    waiting: HashMap<ThreadId, Ulid>,
    holding: HashMap<Ulid, ThreadId>,
}

impl WaitGraph {
    /// Whether the chain of `holder` waits, through any number of slots, on
    /// one that `me` holds.
    fn reaches(&self, mut holder: ThreadId, me: ThreadId) -> bool {
        for _ in 0..=self.waiting.len() {
            let Some(slot) = self.waiting.get(&holder) else {
                return false;
            };
            let Some(&next) = self.holding.get(slot) else {
                return false;
            };
            if next == me {
                return true;
            }
            holder = next;
        }
        false
    }
}

/// Leave the mailbox queue, if this caller had a ticket in it.
fn leave<B>(state: &mut SlotState<B>, ticket: Option<u64>) {
    if let Some(t) = ticket {
        state.queue.retain(|&q| q != t);
    }
}
