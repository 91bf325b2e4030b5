//! What a plugin under test reaches instead of a graph: a bus whose
//! providers are mocks (canned answers or another component), wake-ups the
//! test fires, and a journal the steps read. The bus keeps the graph's
//! rules: a call to an endpoint the plugin's grants do not name is denied
//! as the mediator would deny it, and sizes are held to the bus's limits.

use super::spec::{Canned, Mock};
use ente_runtime::bindings::{BusError, Endpoint, Level};
use ente_runtime::{BusPort, Identity, Instance, JournalSink, TimerPort};
use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::time::Duration;

/// The largest reply the bus carries (as `ente up`'s bus).
const MAX_REPLY: usize = 4 << 20;
/// Journal lines a test keeps between two `journal` steps (the newest).
const MAX_LINES: usize = 10_000;
/// Calls a test keeps until a `calls` step takes them.
const MAX_CALLS: usize = 10_000;

/// Parse a canned error: `denied: WHY`, `no-provider`, `busy`, `cycle`,
/// `too-large`, `provider-failed: WHY`.
pub fn bus_error(text: &str) -> Result<BusError, String> {
    let (kind, why) = match text.split_once(':') {
        Some((k, w)) => (k.trim(), w.trim().to_owned()),
        None => (text.trim(), String::new()),
    };
    match kind {
        "denied" => Ok(BusError::Denied(why)),
        "no-provider" => Ok(BusError::NoProvider),
        "busy" => Ok(BusError::Busy),
        "cycle" => Ok(BusError::Cycle),
        "too-large" => Ok(BusError::TooLarge(MAX_REPLY as u64)),
        "provider-failed" => Ok(BusError::ProviderFailed(why)),
        _ => Err("must be one of `denied: WHY`, `no-provider`, `busy`, `cycle`, `too-large`, `provider-failed: WHY`".into()),
    }
}

/// Whether `a` and `b` are one endpoint.
pub fn same(a: &Endpoint, b: &Endpoint) -> bool {
    a.interface == b.interface && a.version == b.version
}

/// A mocked provider, ready to answer.
pub enum Provider {
    Canned {
        replies: Vec<Canned>,
        next: Mutex<usize>,
    },
    Component(Box<Mutex<Instance>>),
}

/// One call the plugin made.
#[derive(Debug, Clone)]
pub struct Call {
    pub endpoint: Endpoint,
    pub body: Vec<u8>,
}

pub struct MockBus {
    /// The endpoints the plugin's grants name: the only ones it may call.
    pub granted: Vec<Endpoint>,
    pub providers: HashMap<(String, u32), Provider>,
    pub calls: Mutex<Vec<Call>>,
}

impl MockBus {
    /// The calls made since the last take.
    pub fn take_calls(&self) -> Vec<Call> {
        std::mem::take(&mut *self.calls.lock().unwrap_or_else(|p| p.into_inner()))
    }
}

impl BusPort for MockBus {
    fn invoke(
        &self,
        caller: &Identity,
        target: Endpoint,
        body: Vec<u8>,
    ) -> Result<Vec<u8>, BusError> {
        {
            let mut calls = self.calls.lock().unwrap_or_else(|p| p.into_inner());
            if calls.len() < MAX_CALLS {
                calls.push(Call {
                    endpoint: target.clone(),
                    body: body.clone(),
                });
            }
        }
        if !self.granted.iter().any(|g| same(g, &target)) {
            return Err(BusError::Denied(format!(
                "`{}` does not require Endpoint{{{}@{}}}",
                caller.label, target.interface, target.version
            )));
        }
        let Some(provider) = self
            .providers
            .get(&(target.interface.clone(), target.version))
        else {
            return Err(BusError::NoProvider);
        };
        let reply = match provider {
            Provider::Canned { replies, next } => {
                let canned = {
                    let mut next = next.lock().unwrap_or_else(|p| p.into_inner());
                    let i = (*next).min(replies.len().saturating_sub(1));
                    *next += 1;
                    replies.get(i).cloned()
                };
                let Some(canned) = canned else {
                    return Err(BusError::NoProvider);
                };
                std::thread::sleep(Duration::from_millis(canned.delay_ms));
                match (canned.reply, canned.error) {
                    (_, Some(e)) => return Err(bus_error(&e).unwrap_or(BusError::NoProvider)),
                    (Some(r), None) => r.into_bytes(),
                    (None, None) => Vec::new(),
                }
            }
            Provider::Component(instance) => {
                let mut instance = instance.lock().unwrap_or_else(|p| p.into_inner());
                let label = instance.label().to_owned();
                match instance.handle(&caller.id, &target, &body) {
                    Ok(Ok(reply)) => reply,
                    Ok(Err(message)) => {
                        return Err(BusError::ProviderFailed(format!(
                            "the provider `{label}` failed: {message}"
                        )));
                    }
                    Err(e) => return Err(BusError::ProviderFailed(e.to_string())),
                }
            }
        };
        if reply.len() > MAX_REPLY {
            return Err(BusError::TooLarge(MAX_REPLY as u64));
        }
        Ok(reply)
    }
}

/// Wake-ups the plugin asked for, fired by `timer` steps in order of due
/// time (ties in the order they were set).
#[derive(Default)]
pub struct MockTimers {
    pending: Mutex<Vec<(Duration, u64)>>,
}

impl MockTimers {
    /// The earliest pending wake-up, removed.
    pub fn next(&self) -> Option<u64> {
        let mut pending = self.pending.lock().unwrap_or_else(|p| p.into_inner());
        let i = pending
            .iter()
            .enumerate()
            .min_by_key(|(i, (after, _))| (*after, *i))
            .map(|(i, _)| i)?;
        Some(pending.remove(i).1)
    }
}

impl TimerPort for MockTimers {
    fn set(&self, _: &Identity, token: u64, after: Duration) {
        self.pending
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push((after, token));
    }

    fn cancel(&self, _: &Identity, token: u64) {
        self.pending
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .retain(|(_, t)| *t != token);
    }
}

/// The journal of the plugin and its mocks: `[label] level: text` lines.
#[derive(Default)]
pub struct Captured {
    lines: Mutex<VecDeque<String>>,
}

impl Captured {
    /// The lines written since the last take.
    pub fn take(&self) -> Vec<String> {
        let mut lines = self.lines.lock().unwrap_or_else(|p| p.into_inner());
        lines.drain(..).collect()
    }
}

impl JournalSink for Captured {
    fn line(&self, ente: &Identity, level: Level, text: &str) {
        let mut lines = self.lines.lock().unwrap_or_else(|p| p.into_inner());
        if lines.len() >= MAX_LINES {
            lines.pop_front();
        }
        lines.push_back(format!(
            "[{}] {}: {text}",
            ente.label,
            ente_runtime::level_name(level)
        ));
    }
}

/// The mocks of a test file, made ready.
pub fn provider(
    mock: &Mock,
    make: impl FnOnce() -> Result<Instance, String>,
) -> Result<Provider, String> {
    Ok(match mock {
        Mock::Canned(replies) => Provider::Canned {
            replies: replies.clone(),
            next: Mutex::new(0),
        },
        Mock::Component { .. } => Provider::Component(Box::new(Mutex::new(make()?))),
    })
}
