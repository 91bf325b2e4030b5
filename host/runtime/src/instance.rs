//! A live Ente body: its store and its typed exports. Every call has a
//! deadline; a trap or a missed deadline leaves the instance failed, and
//! every later call says so instead of re-entering it.

use crate::bindings::exports::ente::core::{device_events, handler, lifecycle, mediator};
use crate::bindings::{Decision, Endpoint, Uevent};
use crate::runtime::EPOCH_TICK;
use crate::state::EnteState;
use std::time::Duration;
use wasmtime::Store;

/// How long a call may run unless the caller says otherwise.
pub const DEFAULT_DEADLINE: Duration = Duration::from_secs(5);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CallError {
    #[error("Ente `{ente}` does not export `{export}`")]
    NoExport { ente: String, export: &'static str },
    #[error("Ente `{ente}` trapped in `{export}`: {message}")]
    Trap {
        ente: String,
        export: &'static str,
        message: String,
    },
    #[error("Ente `{ente}` failed earlier and takes no more calls")]
    Failed { ente: String },
}

pub struct Instance {
    store: Store<EnteState>,
    lifecycle: Option<lifecycle::Guest>,
    handler: Option<handler::Guest>,
    mediator: Option<mediator::Guest>,
    device_events: Option<device_events::Guest>,
    failed: bool,
    deadline: Duration,
}

impl std::fmt::Debug for Instance {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Instance")
            .field("ente", &self.store.data().identity)
            .finish_non_exhaustive()
    }
}

impl Instance {
    pub(crate) fn new(
        store: Store<EnteState>,
        lifecycle: Option<lifecycle::Guest>,
        handler: Option<handler::Guest>,
        mediator: Option<mediator::Guest>,
        device_events: Option<device_events::Guest>,
    ) -> Instance {
        Instance {
            store,
            lifecycle,
            handler,
            mediator,
            device_events,
            failed: false,
            deadline: DEFAULT_DEADLINE,
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

    /// Whether a call trapped or missed its deadline: the body is broken.
    pub fn failed(&self) -> bool {
        self.failed
    }

    pub fn has_lifecycle(&self) -> bool {
        self.lifecycle.is_some()
    }

    pub fn has_handler(&self) -> bool {
        self.handler.is_some()
    }

    fn guard<R>(
        &mut self,
        export: &'static str,
        call: impl FnOnce(&mut Store<EnteState>) -> wasmtime::Result<R>,
    ) -> Result<R, CallError> {
        let ente = self.label().to_owned();
        if self.failed {
            return Err(CallError::Failed { ente });
        }
        let ticks = self.deadline.as_millis() / EPOCH_TICK.as_millis().max(1) + 1;
        self.store
            .set_epoch_deadline(u64::try_from(ticks).unwrap_or(u64::MAX / 2));
        let result = call(&mut self.store);
        self.store.set_epoch_deadline(u64::MAX / 2);
        result.map_err(|e| {
            self.failed = true;
            let message = match e.downcast_ref::<wasmtime::Trap>() {
                Some(wasmtime::Trap::Interrupt) => {
                    format!("deadline of {:?} passed", self.deadline)
                }
                _ => format!("{e:#}"),
            };
            CallError::Trap {
                ente,
                export,
                message,
            }
        })
    }

    /// `lifecycle.start`; the outer error is a fault of the body, the inner
    /// one the guest's own refusal.
    pub fn start(&mut self) -> Result<Result<(), String>, CallError> {
        let Some(guest) = self.lifecycle.clone() else {
            return Err(CallError::NoExport {
                ente: self.label().to_owned(),
                export: "ente:core/lifecycle",
            });
        };
        self.guard("lifecycle.start", |s| guest.call_start(s))
    }

    /// `lifecycle.stop`, when exported.
    pub fn stop(&mut self) -> Result<(), CallError> {
        match self.lifecycle.clone() {
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
        let Some(guest) = self.handler.clone() else {
            return Err(CallError::NoExport {
                ente: self.label().to_owned(),
                export: "ente:core/handler",
            });
        };
        let from = from.to_owned();
        self.guard("handler.handle", |s| {
            guest.call_handle(s, &from, target, body)
        })
    }

    /// `mediator.decide`.
    pub fn decide(&mut self, caller: &str, target: &Endpoint) -> Result<Decision, CallError> {
        let Some(guest) = self.mediator.clone() else {
            return Err(CallError::NoExport {
                ente: self.label().to_owned(),
                export: "ente:core/mediator",
            });
        };
        let caller = caller.to_owned();
        self.guard("mediator.decide", |s| guest.call_decide(s, &caller, target))
    }
}

impl Instance {
    /// Whether the Ente exports `ente:core/device-events`.
    pub fn watches_devices(&self) -> bool {
        self.device_events.is_some()
    }

    /// `device-events.on-uevent`; an Ente that does not export it ignores events.
    pub fn on_uevent(&mut self, event: &Uevent) -> Result<(), CallError> {
        match self.device_events.clone() {
            Some(guest) => self.guard("device-events.on-uevent", |s| {
                guest.call_on_uevent(s, event)
            }),
            None => Ok(()),
        }
    }
}
