//! A Wasm body: one component instance behind the core's `Body`, its
//! runtime faults turned into the core's causes.

use super::links::{to_wit, uevent_to_wit};
use ente_core::{Body, Cause, KillSwitch, Verdict};
use ente_runtime::{CallError, Fault, Instance, Interrupt, SupervisorDecision};
use std::sync::Arc;
use ulid::Ulid;

/// A runtime fault as the core's cause.
pub fn cause_of(fault: &Fault) -> Cause {
    match fault.clone() {
        Fault::Trap {
            call,
            code,
            message,
        } => Cause::Trap {
            call: call.to_owned(),
            code,
            message,
        },
        Fault::Deadline { call, budget } => Cause::Deadline {
            call: call.to_owned(),
            budget,
        },
        Fault::MemoryLimit { call, limit, .. } => Cause::MemoryLimit {
            call: call.to_owned(),
            limit,
        },
        Fault::Killed { why, .. } => Cause::Killed { why },
    }
}

fn call_cause(e: CallError) -> Cause {
    match e {
        CallError::Broke { fault, .. } | CallError::Broken { fault, .. } => cause_of(&fault),
        e @ CallError::NoExport { .. } => Cause::Trap {
            call: "(host)".into(),
            code: None,
            message: e.to_string(),
        },
    }
}

/// A cause as `ente:core/types.exit-cause`.
fn exit_cause(cause: &Cause) -> ente_runtime::ExitCause {
    use ente_runtime::ExitCause as W;
    match cause {
        Cause::Deadline { .. } => W::Deadline(cause.to_string()),
        Cause::MemoryLimit { limit, .. } => W::MemoryLimit(*limit),
        Cause::Killed { .. } => W::Killed(cause.to_string()),
        Cause::Refused { reason } => W::Refused(reason.clone()),
        Cause::Exited { .. } | Cause::Signaled { .. } | Cause::Watchdog { .. } => {
            W::Ended(cause.to_string())
        }
        Cause::Trap { .. } | Cause::Unbuildable { .. } | Cause::Host { .. } => {
            W::Trapped(cause.to_string())
        }
    }
}

#[derive(Debug)]
struct Kill(Arc<Interrupt>);

impl KillSwitch for Kill {
    fn kill(&self, why: &str) {
        self.0.kill(why);
    }
}

/// One component instance.
pub(super) struct WasmBody {
    instance: Instance,
    generation: u64,
    /// The caller's id as text, written anew for each call (no allocation).
    from: String,
    /// The endpoint of the last call, as the card and as WIT name it.
    target: Option<(ente_card::Endpoint, ente_runtime::Endpoint)>,
}

impl WasmBody {
    pub(super) fn new(instance: Instance, generation: u64) -> WasmBody {
        WasmBody {
            instance,
            generation,
            from: String::with_capacity(26),
            target: None,
        }
    }
}

impl Body for WasmBody {
    fn generation(&self) -> u64 {
        self.generation
    }

    fn kill_switch(&self) -> Arc<dyn KillSwitch> {
        Arc::new(Kill(self.instance.interrupt()))
    }

    fn broken(&self) -> Option<Cause> {
        self.instance.broken().map(cause_of)
    }

    fn start(&mut self) -> Result<(), Cause> {
        match self.instance.start() {
            Ok(Ok(())) => Ok(()),
            Ok(Err(reason)) => Err(Cause::Refused { reason }),
            Err(e) => Err(call_cause(e)),
        }
    }

    fn stop(&mut self) -> Result<(), Cause> {
        self.instance.stop().map_err(call_cause)
    }

    fn handle(
        &mut self,
        from: Ulid,
        target: &ente_card::Endpoint,
        body: &[u8],
    ) -> Result<Vec<u8>, ente_bus::Unserved<Cause>> {
        let mut buf = [0u8; ulid::ULID_LEN];
        self.from.clear();
        self.from.push_str(from.array_to_str(&mut buf));
        if self.target.as_ref().is_none_or(|(t, _)| t != target) {
            self.target = Some((target.clone(), to_wit(target)));
        }
        let Some((_, wit)) = &self.target else {
            return Err(ente_bus::Unserved::Refused("no endpoint".into()));
        };
        match self.instance.handle(&self.from, wit, body) {
            Ok(Ok(reply)) => Ok(reply),
            Ok(Err(refusal)) => Err(ente_bus::Unserved::Refused(refusal)),
            Err(CallError::NoExport { .. }) => Err(ente_bus::Unserved::Refused(
                "it serves no calls (it exports no ente:core/handler)".into(),
            )),
            Err(e) => Err(ente_bus::Unserved::Broke(call_cause(e))),
        }
    }

    fn decide(
        &mut self,
        caller: Ulid,
        target: &ente_card::Endpoint,
    ) -> Result<ente_bus::Decision, Cause> {
        let decision = self
            .instance
            .decide(&caller.to_string(), &to_wit(target))
            .map_err(call_cause)?;
        Ok(match decision {
            ente_runtime::Decision::Allow(grant) => match grant.provider.parse::<Ulid>() {
                Ok(provider) => ente_bus::Decision::Allow {
                    provider,
                    ttl: std::time::Duration::from_millis(grant.ttl_ms),
                },
                Err(_) => ente_bus::Decision::Deny(format!(
                    "the mediator named a provider that is not an Ente id: {}",
                    ente_runtime::host::clean(&grant.provider, 80)
                )),
            },
            ente_runtime::Decision::Deny(reason) => {
                ente_bus::Decision::Deny(ente_runtime::host::clean(&reason, 1024))
            }
        })
    }

    fn on_uevent(&mut self, event: &ente_kernel::uevent::Uevent) -> Result<(), Cause> {
        self.instance
            .on_uevent(&uevent_to_wit(event))
            .map_err(call_cause)
    }

    fn on_timer(&mut self, token: u64) -> Result<(), Cause> {
        self.instance
            .on_timer(token)
            .map(|_| ())
            .map_err(call_cause)
    }

    fn on_child_exit(&mut self, child: Ulid, cause: &Cause) -> Result<Verdict, Cause> {
        let decision = self
            .instance
            .on_child_exit(&child.to_string(), &exit_cause(cause))
            .map_err(call_cause)?;
        Ok(match decision {
            SupervisorDecision::Restart(ms) => Verdict::Restart {
                after: std::time::Duration::from_millis(ms),
            },
            SupervisorDecision::Stop => Verdict::Stop,
        })
    }

    fn save(&mut self) -> Result<Option<Result<Vec<u8>, String>>, Cause> {
        self.instance.save().map_err(call_cause)
    }

    fn restore(&mut self, state: &[u8]) -> Result<Result<(), String>, Cause> {
        self.instance.restore(state).map_err(call_cause)
    }

    fn observe(
        &mut self,
        events: &[ente_brain::Event],
    ) -> Result<Option<ente_core::BrainOutcome>, Cause> {
        if !self.instance.exports().brain {
            return Ok(None);
        }
        let batch = crate::brain::batch(events);
        let out = self.instance.observe(&batch).map_err(call_cause)?;
        Ok(Some(crate::brain::outcome(out)))
    }

    fn ask_brain(
        &mut self,
        ask: &ente_core::BrainAsk,
    ) -> Result<Option<ente_core::BrainAnswer>, Cause> {
        if !self.instance.exports().brain {
            return Ok(None);
        }
        let answer = self
            .instance
            .ask_brain(&crate::brain::ask(ask))
            .map_err(call_cause)?;
        Ok(Some(crate::brain::answer(answer)))
    }
}
