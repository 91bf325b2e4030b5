//! An Ente's place on the bus: its body, taken by one call at a time.
//!
//! A call takes the body out of the slot, runs the handler on the caller's
//! own thread, and puts it back (the L4 fast path: no queue, no wake-up on
//! another thread). A caller that finds the body taken waits in the slot's
//! bounded mailbox, served in arrival order, so that one caller calling in a
//! loop cannot starve the others; when the mailbox is full it gets `busy`.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Condvar, Mutex, MutexGuard};
use std::thread::ThreadId;
use ulid::Ulid;

pub(crate) struct SlotState<B> {
    /// The body, when it is alive and not in a call.
    pub(crate) body: Option<B>,
    /// The thread whose call chain holds the body, while it is in a call.
    pub(crate) held_by: Option<ThreadId>,
    /// Tickets of the callers waiting for the body, first come first served:
    /// the mailbox.
    pub(crate) queue: VecDeque<u64>,
    pub(crate) next_ticket: u64,
    /// Set when the body died or was taken off: no more calls until a new
    /// body is installed.
    pub(crate) gone: bool,
    /// The fault of the last body, when it broke.
    pub(crate) ended: Option<String>,
}

/// One Ente on the bus.
pub struct Slot<B> {
    pub id: Ulid,
    pub label: String,
    pub(crate) state: Mutex<SlotState<B>>,
    pub(crate) freed: Condvar,
    served: AtomicU64,
    errors: AtomicU64,
    /// How long its calls took (served or failed).
    pub latency: crate::Latency,
}

impl<B> std::fmt::Debug for Slot<B> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Slot")
            .field("id", &self.id)
            .field("label", &self.label)
            .finish_non_exhaustive()
    }
}

impl<B> Slot<B> {
    pub(crate) fn new(id: Ulid, label: String) -> Slot<B> {
        Slot {
            id,
            label,
            state: Mutex::new(SlotState {
                body: None,
                held_by: None,
                queue: VecDeque::new(),
                next_ticket: 0,
                gone: true,
                ended: None,
            }),
            freed: Condvar::new(),
            served: AtomicU64::new(0),
            errors: AtomicU64::new(0),
            latency: crate::Latency::default(),
        }
    }

    pub(crate) fn lock(&self) -> MutexGuard<'_, SlotState<B>> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Calls this Ente has served (over all its bodies).
    pub fn served(&self) -> u64 {
        self.served.load(Ordering::Relaxed)
    }

    /// Calls to this Ente that failed.
    pub fn errors(&self) -> u64 {
        self.errors.load(Ordering::Relaxed)
    }

    pub(crate) fn count(&self, ok: bool) {
        let counter = if ok { &self.served } else { &self.errors };
        counter.fetch_add(1, Ordering::Relaxed);
    }

    /// Whether the Ente has a body on the bus (in a call or idle).
    pub fn is_live(&self) -> bool {
        let state = self.lock();
        !state.gone && (state.body.is_some() || state.held_by.is_some())
    }

    /// Callers now waiting in the mailbox.
    pub fn waiting(&self) -> usize {
        self.lock().queue.len()
    }
}
