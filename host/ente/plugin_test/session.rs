//! One test file's host: the plugin started with its grants and mocks, then
//! each step taken against it, then `lifecycle.stop`.

use super::StepReport;
use super::mocks::{Captured, MockBus, MockTimers, same};
use super::setup::{Started, fault_text, start, to_wit};
use super::spec::{Action, CallSpec, Expect, StartExpect, Step, TestFile};
use ente_runtime::bindings::Uevent;
use ente_runtime::{Grants, Instance, Runtime};
use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

/// Who calls the plugin in an `invoke` step unless the step says.
const TESTER: &str = "01J0000000000000000TESTER0";

/// The plugin's host while its steps run.
struct Session {
    instance: Box<Instance>,
    journal: Arc<Captured>,
    bus: Arc<MockBus>,
    timers: Arc<MockTimers>,
    grants: Grants,
    /// The temporary state directory (FilesystemRoot), removed at the end.
    _state: Option<tempfile::TempDir>,
}

/// Run `spec`: the start, each step, the stop.
pub fn run(home: &Path, spec: &TestFile) -> Vec<StepReport> {
    let mut reports = Vec::new();
    let t0 = Instant::now();
    let runtime = match Runtime::open(home) {
        Ok(r) => r,
        Err(e) => {
            reports.push(report("start", Err(e.to_string()), t0));
            return reports;
        }
    };
    let journal = Arc::new(Captured::default());
    let (started, mut session) = match start(&runtime, spec, journal.clone()) {
        Ok((Started::Running(instance), (bus, timers, grants, state))) => (
            Ok("started".to_owned()),
            Some(Session {
                instance,
                journal,
                bus,
                timers,
                grants,
                _state: state,
            }),
        ),
        Ok((Started::Refused(why), _)) => (Err(("refused", why)), None),
        Ok((Started::Fault(why), _)) => (Err(("fault", why)), None),
        Err(setup) => {
            reports.push(report("start", Err(setup), t0));
            return reports;
        }
    };
    let outcome = match (&spec.start, started) {
        (StartExpect::Ok, Ok(what)) => Ok(what),
        (StartExpect::Ok, Err((kind, why))) => Err(format!("expected it to start; {kind}: {why}")),
        (StartExpect::Refused(want), Err(("refused", why))) if why.contains(want.as_str()) => {
            Ok(format!("refused as expected: {why}"))
        }
        (StartExpect::Fault(want), Err(("fault", why))) if why.contains(want.as_str()) => {
            Ok(format!("broke as expected: {why}"))
        }
        (expected, Ok(_)) => Err(format!("expected it {}; it started", describe(expected))),
        (expected, Err((kind, why))) => {
            Err(format!("expected it {}; {kind}: {why}", describe(expected)))
        }
    };
    reports.push(report("start", outcome, t0));
    let Some(session) = session.as_mut() else {
        return reports;
    };
    for step in &spec.steps {
        let t0 = Instant::now();
        let outcome = session.step(step);
        reports.push(report(&step.name, outcome, t0));
    }
    let t0 = Instant::now();
    let stopped = match session.instance.broken() {
        Some(fault) => Ok(format!("not called: its body broke earlier ({fault})")),
        None => session
            .instance
            .stop()
            .map(|()| "stopped".to_owned())
            .map_err(|e| fault_text(&e)),
    };
    reports.push(report("stop", stopped, t0));
    reports
}

fn describe(e: &StartExpect) -> String {
    match e {
        StartExpect::Ok => "to start".into(),
        StartExpect::Refused(t) => format!("to be refused with {t:?}"),
        StartExpect::Fault(t) => format!("to break with {t:?}"),
    }
}

fn report(name: &str, outcome: Result<String, String>, t0: Instant) -> StepReport {
    StepReport {
        name: name.to_owned(),
        outcome,
        took: t0.elapsed(),
    }
}

impl Session {
    fn step(&mut self, step: &Step) -> Result<String, String> {
        match &step.action {
            Action::Invoke {
                endpoint,
                body,
                from,
            } => {
                let target = to_wit(endpoint);
                let from = from.as_deref().unwrap_or(TESTER);
                let got = match self.instance.handle(from, &target, body.as_bytes()) {
                    Ok(Ok(reply)) => Got::Reply(String::from_utf8_lossy(&reply).into_owned()),
                    Ok(Err(message)) => Got::Error(message),
                    Err(e) => Got::Fault(fault_text(&e)),
                };
                judge(&step.expect, got)
            }
            Action::Timer => {
                let Some(token) = self.timers.next() else {
                    return Err("no wake-up is pending: the plugin set none (ente:core/timer.after), or cancelled them".into());
                };
                let got = match self.instance.on_timer(token) {
                    Ok(_) => Got::Done(format!("woke it (token {token})")),
                    Err(e) => Got::Fault(fault_text(&e)),
                };
                judge(&step.expect, got)
            }
            Action::Uevent(u) => {
                if !self.grants.devices {
                    return Err("the plugin holds no Device or KernelNetlink{Uevent} capability: no uevent would reach it".into());
                }
                let event = Uevent {
                    action: u.action.clone(),
                    devpath: u.devpath.clone(),
                    subsystem: u.subsystem.clone(),
                    devname: u.devname.clone(),
                    seqnum: u.seqnum,
                    modalias: u.modalias.clone(),
                    env: u.env.iter().map(|(k, v)| (k.clone(), v.clone())).collect(),
                };
                let got = match self.instance.on_uevent(&event) {
                    Ok(()) => Got::Done(format!("delivered {} {}", u.action, u.devpath)),
                    Err(e) => Got::Fault(fault_text(&e)),
                };
                judge(&step.expect, got)
            }
            Action::Journal(wanted) => {
                let lines = self.journal.take();
                let missing: Vec<&String> = wanted
                    .iter()
                    .filter(|w| !lines.iter().any(|l| l.contains(w.as_str())))
                    .collect();
                if missing.is_empty() {
                    Ok(format!(
                        "{} line{} matched",
                        wanted.len(),
                        plural(wanted.len())
                    ))
                } else {
                    let tail: Vec<&String> = lines.iter().rev().take(10).rev().collect();
                    Err(format!(
                        "no journal line contains {missing:?}; since the last journal step it has {} line{}{}",
                        lines.len(),
                        plural(lines.len()),
                        if tail.is_empty() {
                            String::new()
                        } else {
                            format!(", the last: {tail:?}")
                        }
                    ))
                }
            }
            Action::Calls(wanted) => {
                let made = self.bus.take_calls();
                let shown: Vec<String> = made
                    .iter()
                    .map(|c| {
                        format!(
                            "{}@{} {:?}",
                            c.endpoint.interface,
                            c.endpoint.version,
                            String::from_utf8_lossy(&c.body)
                        )
                    })
                    .collect();
                let matches = made.len() == wanted.len()
                    && made.iter().zip(wanted).all(|(m, w): (_, &CallSpec)| {
                        same(&m.endpoint, &to_wit(&w.endpoint))
                            && w.body
                                .as_ref()
                                .is_none_or(|b| b.as_bytes() == m.body.as_slice())
                    });
                if matches {
                    Ok(format!(
                        "{} call{} as expected",
                        made.len(),
                        plural(made.len())
                    ))
                } else {
                    let want: Vec<String> = wanted
                        .iter()
                        .map(|w| {
                            format!(
                                "{}@{} {}",
                                w.endpoint.interface,
                                w.endpoint.version,
                                w.body
                                    .as_ref()
                                    .map_or("(any body)".into(), |b| format!("{b:?}"))
                            )
                        })
                        .collect();
                    Err(format!("expected the calls {want:?}; it made {shown:?}"))
                }
            }
        }
    }
}

/// What a call into the plugin came to.
enum Got {
    Reply(String),
    Error(String),
    Done(String),
    Fault(String),
}

fn judge(expect: &Expect, got: Got) -> Result<String, String> {
    match (expect, got) {
        (Expect::Ok, Got::Reply(r)) => Ok(format!("replied {r:?}")),
        (Expect::Ok, Got::Done(what)) => Ok(what),
        (Expect::Reply(want), Got::Reply(r)) if *want == r => Ok(format!("replied {r:?}")),
        (Expect::Error(want), Got::Error(e)) if e.contains(want.as_str()) => {
            Ok(format!("answered the error {e:?}"))
        }
        (Expect::Fault(want), Got::Fault(f)) if f.contains(want.as_str()) => {
            Ok(format!("broke as expected: {f}"))
        }
        (expect, got) => {
            let want = match expect {
                Expect::Ok => "it to return normally".to_owned(),
                Expect::Reply(r) => format!("the reply {r:?}"),
                Expect::Error(e) => format!("an error containing {e:?}"),
                Expect::Fault(f) => format!("a fault containing {f:?}"),
            };
            let got = match got {
                Got::Reply(r) => format!("it replied {r:?}"),
                Got::Error(e) => format!("it answered the error {e:?}"),
                Got::Done(what) => what,
                Got::Fault(f) => format!("it broke: {f}"),
            };
            Err(format!("expected {want}; {got}"))
        }
    }
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}
