//! A live Ente body: its store and its typed exports. Every call runs under
//! a deadline and can be killed (see [`crate::interrupt`]); a trap, a missed
//! deadline, a kill or the memory limit breaks the body, and every later
//! call says so instead of re-entering it. Each fault is typed, so that
//! supervision branches on the variant, never on a message.

use crate::bindings::exports::ente::core::{
    brain, device_events, handler, lifecycle, mediator, snapshot, supervisor, timer_events,
};
use crate::bindings::{BrainBatch, BrainOutcome, Crystal, Decision, Endpoint, ExitCause, Uevent};
use crate::cpu::CpuCounter;
use crate::interrupt::{Clock, DeadlineReached, Interrupt, Killed};
use crate::limits::{MemoryLimitReached, TableLimitReached};
use crate::state::EnteState;
use std::sync::Arc;
use std::time::Duration;
use wasmtime::Store;

/// How long a call may run unless the host says otherwise.
pub const DEFAULT_DEADLINE: Duration = Duration::from_secs(5);
/// The longest refusal text (a handler's or `start`'s error) kept, in bytes.
pub const MAX_REFUSAL: usize = 4096;
/// The most an Ente's `snapshot.save` may return.
pub const MAX_SAVED: usize = 1 << 20;

/// Bytes of one brain answer (its strings and list entries) copied into the
/// host, at most: wasmtime's hostcall fuel, spent as the answer is lifted,
/// so that a list whose entries all name one large string cannot make the
/// host copy it again for each. Past it the call fails and the brain is a
/// body that broke. A batch's answer is a few kilobytes.
pub const BRAIN_ANSWER_MAX: usize = 16 << 20;

/// `call` with at most [`BRAIN_ANSWER_MAX`] bytes of its answer copied.
fn answer_bounded<R>(
    store: &mut Store<EnteState>,
    call: impl FnOnce(&mut Store<EnteState>) -> wasmtime::Result<R>,
) -> wasmtime::Result<R> {
    let before = store.hostcall_fuel();
    store.set_hostcall_fuel(BRAIN_ANSWER_MAX);
    let result = call(store);
    store.set_hostcall_fuel(before);
    result
}

/// Why a body broke.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Fault {
    #[error("trapped in `{call}`: {message}")]
    Trap {
        call: &'static str,
        /// wasmtime's trap code (`UnreachableCodeReached`, `StackOverflow`,
        /// ...), when the fault was a trap of the guest's own code.
        code: Option<String>,
        message: String,
    },
    #[error("`{call}` ran past its deadline of {budget:?}")]
    Deadline {
        call: &'static str,
        budget: Duration,
    },
    #[error("memory limit of {limit} bytes reached in `{call}` (it asked for {wanted})")]
    MemoryLimit {
        call: &'static str,
        limit: u64,
        wanted: u64,
    },
    #[error("killed by the host in `{call}`: {why}")]
    Killed { call: &'static str, why: String },
}

impl Fault {
    /// The fault `e` stands for, raised in `call`.
    pub fn of(call: &'static str, e: &wasmtime::Error) -> Fault {
        if let Some(m) = e.downcast_ref::<MemoryLimitReached>() {
            return Fault::MemoryLimit {
                call,
                limit: m.limit,
                wanted: m.wanted,
            };
        }
        if let Some(d) = e.downcast_ref::<DeadlineReached>() {
            return Fault::Deadline {
                call,
                budget: d.budget,
            };
        }
        if let Some(k) = e.downcast_ref::<Killed>() {
            return Fault::Killed {
                call,
                why: k.why.clone(),
            };
        }
        // The trap (or the host's error) itself, without the wasm
        // backtrace wasmtime wraps around it.
        let (code, message) = match e.downcast_ref::<wasmtime::Trap>() {
            Some(t) => (Some(format!("{t:?}")), t.to_string()),
            None => (
                e.downcast_ref::<TableLimitReached>()
                    .map(|_| "TableLimit".to_owned()),
                e.root_cause().to_string(),
            ),
        };
        Fault::Trap {
            call,
            code,
            message: crate::host::clean(&message, MAX_REFUSAL),
        }
    }

    /// The fault as `ente:core/types.exit-cause`.
    pub fn to_wit(&self) -> ExitCause {
        match self {
            Fault::Trap { .. } => ExitCause::Trapped(self.to_string()),
            Fault::Deadline { .. } => ExitCause::Deadline(self.to_string()),
            Fault::MemoryLimit { limit, .. } => ExitCause::MemoryLimit(*limit),
            Fault::Killed { .. } => ExitCause::Killed(self.to_string()),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CallError {
    #[error("Ente `{ente}` does not export `{export}`")]
    NoExport { ente: String, export: &'static str },
    /// This call broke the body.
    #[error("Ente `{ente}` {fault}")]
    Broke { ente: String, fault: Fault },
    /// An earlier call broke it.
    #[error("Ente `{ente}` is broken ({fault}) and takes no more calls")]
    Broken { ente: String, fault: Fault },
}

/// Which of the interfaces the host drives a component exports.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Exports {
    pub lifecycle: bool,
    pub handler: bool,
    pub mediator: bool,
    pub device_events: bool,
    pub timer_events: bool,
    pub supervisor: bool,
    pub snapshot: bool,
    pub brain: bool,
}

/// What an operator asks the brain.
#[derive(Debug, Clone, PartialEq)]
pub enum BrainAsk {
    Crystals {
        min_support: f64,
        min_p: f64,
        min_pmi: f64,
    },
    Rules,
    Promote {
        a: String,
        b: String,
        action: Option<String>,
    },
    Load {
        file: String,
    },
    Remove {
        name: String,
    },
}

/// The brain's answer.
#[derive(Debug, Clone)]
pub enum BrainAnswer {
    Crystals(Vec<Crystal>),
    Rules(String),
    Promoted(Result<String, String>),
    Loaded(Result<u32, String>),
    Removed(bool),
}

pub(crate) struct Guests {
    pub(crate) lifecycle: Option<lifecycle::Guest>,
    pub(crate) handler: Option<handler::Guest>,
    pub(crate) mediator: Option<mediator::Guest>,
    pub(crate) device_events: Option<device_events::Guest>,
    pub(crate) timer_events: Option<timer_events::Guest>,
    pub(crate) supervisor: Option<supervisor::Guest>,
    pub(crate) snapshot: Option<snapshot::Guest>,
    pub(crate) brain: Option<brain::Guest>,
}

pub struct Instance {
    store: Store<EnteState>,
    guests: Guests,
    broken: Option<Fault>,
    deadline: Duration,
    cpu: CpuCounter,
    interrupt: Arc<Interrupt>,
}

impl std::fmt::Debug for Instance {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Instance")
            .field("ente", &self.store.data().identity)
            .finish_non_exhaustive()
    }
}

/// The decision of a parent's `supervisor.on-child-exit`.
pub use crate::bindings::exports::ente::core::supervisor::Decision as SupervisorDecision;

impl Instance {
    pub(crate) fn new(
        store: Store<EnteState>,
        guests: Guests,
        deadline: Duration,
        cpu: CpuCounter,
    ) -> Instance {
        let interrupt = store.data().interrupt.clone();
        Instance {
            store,
            guests,
            broken: None,
            deadline,
            cpu,
            interrupt,
        }
    }

    /// The label of the Ente this body belongs to.
    pub fn label(&self) -> &str {
        &self.store.data().identity.label
    }

    /// The deadline of each later call.
    pub fn set_deadline(&mut self, deadline: Duration) {
        self.deadline = deadline;
    }

    /// What ends this body's calls from outside.
    pub fn interrupt(&self) -> Arc<Interrupt> {
        self.interrupt.clone()
    }

    /// Why the body is broken, if it is.
    pub fn broken(&self) -> Option<&Fault> {
        self.broken.as_ref()
    }

    /// Whether a call broke the body.
    pub fn failed(&self) -> bool {
        self.broken.is_some()
    }

    /// Linear memory the body holds, in bytes.
    pub fn memory_used(&self) -> u64 {
        self.store.data().limiter.memory_used()
    }

    pub fn exports(&self) -> Exports {
        let g = &self.guests;
        Exports {
            lifecycle: g.lifecycle.is_some(),
            handler: g.handler.is_some(),
            mediator: g.mediator.is_some(),
            device_events: g.device_events.is_some(),
            timer_events: g.timer_events.is_some(),
            supervisor: g.supervisor.is_some(),
            snapshot: g.snapshot.is_some(),
            brain: g.brain.is_some(),
        }
    }

    pub fn has_lifecycle(&self) -> bool {
        self.guests.lifecycle.is_some()
    }

    pub fn has_handler(&self) -> bool {
        self.guests.handler.is_some()
    }

    fn no_export(&self, export: &'static str) -> CallError {
        CallError::NoExport {
            ente: self.label().to_owned(),
            export,
        }
    }

    fn guard<R>(
        &mut self,
        call: &'static str,
        run: impl FnOnce(&mut Store<EnteState>) -> wasmtime::Result<R>,
    ) -> Result<R, CallError> {
        let ente = self.label().to_owned();
        if let Some(fault) = &self.broken {
            return Err(CallError::Broken {
                ente,
                fault: fault.clone(),
            });
        }
        let now = std::time::Instant::now();
        self.store.data_mut().clock = Clock::starting_at(now, call, self.deadline);
        let result = {
            let _running = crate::cpu::enter_at(now, &self.cpu);
            run(&mut self.store)
        };
        self.store.data_mut().clock = Clock::idle();
        result.map_err(|e| {
            let fault = Fault::of(call, &e);
            self.broken = Some(fault.clone());
            CallError::Broke { ente, fault }
        })
    }

    /// `lifecycle.start`; the outer error is a fault of the body, the inner
    /// one the guest's own refusal.
    pub fn start(&mut self) -> Result<Result<(), String>, CallError> {
        let Some(guest) = self.guests.lifecycle.clone() else {
            return Err(self.no_export("ente:core/lifecycle"));
        };
        self.guard("lifecycle.start", |s| guest.call_start(s))
            .map(|r| r.map_err(|e| crate::host::clean(&e, MAX_REFUSAL)))
    }

    /// `lifecycle.stop`, when exported.
    pub fn stop(&mut self) -> Result<(), CallError> {
        match self.guests.lifecycle.clone() {
            Some(guest) => self.guard("lifecycle.stop", |s| guest.call_stop(s)),
            None => Ok(()),
        }
    }

    /// `handler.handle` for a call from `from` to `target`.
    pub fn handle(
        &mut self,
        from: &str,
        target: &Endpoint,
        body: &[u8],
    ) -> Result<Result<Vec<u8>, String>, CallError> {
        let Some(guest) = self.guests.handler.clone() else {
            return Err(self.no_export("ente:core/handler"));
        };
        let from = from.to_owned();
        self.guard("handler.handle", |s| {
            guest.call_handle(s, &from, target, body)
        })
        .map(|r| r.map_err(|e| crate::host::clean(&e, MAX_REFUSAL)))
    }

    /// `mediator.decide`.
    pub fn decide(&mut self, caller: &str, target: &Endpoint) -> Result<Decision, CallError> {
        let Some(guest) = self.guests.mediator.clone() else {
            return Err(self.no_export("ente:core/mediator"));
        };
        let caller = caller.to_owned();
        self.guard("mediator.decide", |s| guest.call_decide(s, &caller, target))
    }

    /// `brain.observe`: a batch of events, what its rules fired.
    pub fn observe(&mut self, events: &BrainBatch) -> Result<BrainOutcome, CallError> {
        let Some(guest) = self.guests.brain.clone() else {
            return Err(self.no_export("ente:core/brain"));
        };
        self.guard("brain.observe", |s| {
            answer_bounded(s, |s| guest.call_observe(s, events))
        })
    }

    /// The operator's questions to the brain (`ente ctl brain ...`).
    pub fn ask_brain(&mut self, ask: &BrainAsk) -> Result<BrainAnswer, CallError> {
        let Some(guest) = self.guests.brain.clone() else {
            return Err(self.no_export("ente:core/brain"));
        };
        let guest = &guest;
        let run = |s: &mut Store<EnteState>| {
            answer_bounded(s, |s| -> wasmtime::Result<BrainAnswer> {
                Ok(match ask {
                    BrainAsk::Crystals {
                        min_support,
                        min_p,
                        min_pmi,
                    } => BrainAnswer::Crystals(guest.call_crystals(
                        s,
                        *min_support,
                        *min_p,
                        *min_pmi,
                    )?),
                    BrainAsk::Rules => BrainAnswer::Rules(guest.call_rules(s)?),
                    BrainAsk::Promote { a, b, action } => {
                        BrainAnswer::Promoted(guest.call_promote(s, a, b, action.as_deref())?)
                    }
                    BrainAsk::Load { file } => BrainAnswer::Loaded(guest.call_load(s, file)?),
                    BrainAsk::Remove { name } => BrainAnswer::Removed(guest.call_remove(s, name)?),
                })
            })
        };
        let call = match ask {
            BrainAsk::Crystals { .. } => "brain.crystals",
            BrainAsk::Rules => "brain.rules",
            BrainAsk::Promote { .. } => "brain.promote",
            BrainAsk::Load { .. } => "brain.load",
            BrainAsk::Remove { .. } => "brain.remove",
        };
        self.guard(call, run)
    }

    /// `device-events.on-uevent`; an Ente that does not export it ignores events.
    pub fn on_uevent(&mut self, event: &Uevent) -> Result<(), CallError> {
        match self.guests.device_events.clone() {
            Some(guest) => self.guard("device-events.on-uevent", |s| {
                guest.call_on_uevent(s, event)
            }),
            None => Ok(()),
        }
    }

    /// `timer-events.on-timer` for a wake-up the body set; `Ok(false)` when
    /// it was cancelled meanwhile (or set by an earlier body): not called.
    pub fn on_timer(&mut self, token: u64) -> Result<bool, CallError> {
        if !self.store.data_mut().timers.pending.remove(&token) {
            return Ok(false);
        }
        let Some(guest) = self.guests.timer_events.clone() else {
            return Err(self.no_export("ente:core/timer-events"));
        };
        self.guard("timer-events.on-timer", |s| guest.call_on_timer(s, token))
            .map(|()| true)
    }

    /// `supervisor.on-child-exit`: what the parent decides for its child.
    pub fn on_child_exit(
        &mut self,
        child: &str,
        cause: &ExitCause,
    ) -> Result<SupervisorDecision, CallError> {
        let Some(guest) = self.guests.supervisor.clone() else {
            return Err(self.no_export("ente:core/supervisor"));
        };
        let child = child.to_owned();
        self.guard("supervisor.on-child-exit", |s| {
            guest.call_on_child_exit(s, &child, cause)
        })
    }

    /// `snapshot.save`, when exported: the Ente's state, refused (as the
    /// inner error) past [`MAX_SAVED`].
    pub fn save(&mut self) -> Result<Option<Result<Vec<u8>, String>>, CallError> {
        let Some(guest) = self.guests.snapshot.clone() else {
            return Ok(None);
        };
        let state = self.guard("snapshot.save", |s| guest.call_save(s))?;
        Ok(Some(if state.len() > MAX_SAVED {
            Err(format!(
                "snapshot.save returned {} bytes, more than an Ente's state may hold ({MAX_SAVED})",
                state.len()
            ))
        } else {
            Ok(state)
        }))
    }

    /// `snapshot.restore`, when exported; the inner error is the guest's
    /// own refusal of the bytes.
    pub fn restore(&mut self, state: &[u8]) -> Result<Result<(), String>, CallError> {
        let Some(guest) = self.guests.snapshot.clone() else {
            return Ok(Err(
                "it exports no ente:core/snapshot to take its saved state".into(),
            ));
        };
        self.guard("snapshot.restore", |s| guest.call_restore(s, state))
            .map(|r| r.map_err(|e| crate::host::clean(&e, MAX_REFUSAL)))
    }
}
