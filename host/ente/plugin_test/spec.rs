//! The grammar of an `ente test` file (`schema/ente-test.schema.json`): one
//! plugin, its grants, the providers it calls mocked, and the steps. Read
//! strictly: an unknown field, a step with no action or two, a malformed
//! endpoint or grant is an error naming the file, the field and the rule.

use ente_card::{Capability, Endpoint};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The longest a canned reply may wait, in ms.
pub const MAX_DELAY_MS: u64 = 60_000;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Raw {
    #[serde(rename = "$schema", default)]
    _schema: Option<String>,
    name: Option<String>,
    plugin: PathBuf,
    #[serde(default)]
    grants: Vec<String>,
    #[serde(default)]
    argv: Vec<String>,
    #[serde(default)]
    envp: BTreeMap<String, String>,
    deadline_ms: Option<u64>,
    mem_bytes: Option<u64>,
    #[serde(default)]
    start: StartExpect,
    #[serde(default)]
    mocks: BTreeMap<String, RawMock>,
    #[serde(default)]
    steps: Vec<RawStep>,
}

/// What starting the plugin must come to.
#[derive(Debug, Clone, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum StartExpect {
    /// It loads, links, instantiates and `lifecycle.start` returns ok.
    #[default]
    Ok,
    /// Refused before it runs (an import its grants do not cover, a missing
    /// export, bytes that are no component) or by its own `start`: the
    /// text is part of the reason.
    Refused(String),
    /// Its body breaks while starting (a trap, the deadline, the memory
    /// limit): the text is part of the fault (e.g. `UnreachableCodeReached`).
    Fault(String),
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawMock {
    #[serde(default)]
    replies: Vec<Canned>,
    component: Option<PathBuf>,
    #[serde(default)]
    grants: Vec<String>,
}

/// One canned answer of a mocked provider.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Canned {
    /// The reply body, as text.
    pub reply: Option<String>,
    /// A bus error instead: `denied: WHY`, `no-provider`, `busy`, `cycle`,
    /// `too-large`, `provider-failed: WHY`.
    pub error: Option<String>,
    /// How long the provider takes, in ms.
    #[serde(default)]
    pub delay_ms: u64,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawStep {
    name: Option<String>,
    invoke: Option<RawInvoke>,
    timer: Option<TimerStep>,
    uevent: Option<UeventSpec>,
    journal: Option<Vec<String>>,
    calls: Option<Vec<RawCall>>,
    expect: Option<Expect>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawInvoke {
    endpoint: String,
    #[serde(default)]
    body: String,
    from: Option<String>,
}

/// Fire the plugin's earliest pending wake-up (time is the test's, not the
/// clock's: nothing waits).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TimerStep {}

/// A uevent delivered to the plugin's `device-events.on-uevent`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UeventSpec {
    pub action: String,
    pub devpath: String,
    pub subsystem: Option<String>,
    pub devname: Option<String>,
    pub seqnum: Option<u64>,
    pub modalias: Option<String>,
    #[serde(default)]
    pub env: BTreeMap<String, String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCall {
    endpoint: String,
    body: Option<String>,
}

/// What a step's call must come to.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum Expect {
    /// It returned normally (any reply).
    Ok,
    /// The handler replied exactly this text.
    Reply(String),
    /// The handler answered with an error containing this text.
    Error(String),
    /// The call broke the body; the fault contains this text.
    Fault(String),
}

/// A mocked provider: canned answers in order (the last one repeats), or
/// another component with its own grants.
#[derive(Debug, Clone)]
pub enum Mock {
    Canned(Vec<Canned>),
    Component {
        path: PathBuf,
        grants: Vec<Capability>,
    },
}

/// One call the plugin made over the bus, as a step expects it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallSpec {
    pub endpoint: Endpoint,
    /// The body, when the step names it.
    pub body: Option<String>,
}

#[derive(Debug, Clone)]
pub enum Action {
    Invoke {
        endpoint: Endpoint,
        body: String,
        from: Option<String>,
    },
    Timer,
    Uevent(UeventSpec),
    /// Each text is in some journal line written since the last such step.
    Journal(Vec<String>),
    /// Exactly these calls, in order, since the last such step.
    Calls(Vec<CallSpec>),
}

#[derive(Debug, Clone)]
pub struct Step {
    pub name: String,
    pub action: Action,
    pub expect: Expect,
}

/// A test file, checked.
#[derive(Debug, Clone)]
pub struct TestFile {
    pub path: PathBuf,
    pub name: String,
    /// The plugin's component, resolved against the test file's folder.
    pub plugin: PathBuf,
    pub grants: Vec<Capability>,
    pub argv: Vec<String>,
    pub envp: Vec<(String, String)>,
    pub deadline_ms: u64,
    pub mem_bytes: Option<u64>,
    pub start: StartExpect,
    pub mocks: Vec<(Endpoint, Mock)>,
    pub steps: Vec<Step>,
}

/// Why a test file cannot be run.
#[derive(Debug, thiserror::Error)]
pub enum SpecError {
    #[error("{path}: cannot read: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: not a test file: {message}")]
    Json { path: PathBuf, message: String },
    #[error("{path}: {field} = {value}: {rule}")]
    Field {
        path: PathBuf,
        field: String,
        value: String,
        rule: String,
    },
}

/// Read and check the test file at `path`.
pub fn load(path: &Path) -> Result<TestFile, SpecError> {
    let bytes = std::fs::read(path).map_err(|source| SpecError::Read {
        path: path.to_owned(),
        source,
    })?;
    let raw: Raw = serde_json::from_slice(&bytes).map_err(|e| SpecError::Json {
        path: path.to_owned(),
        message: e.to_string(),
    })?;
    check(path, raw)
}

fn check(path: &Path, raw: Raw) -> Result<TestFile, SpecError> {
    let fault = |field: String, value: &dyn std::fmt::Debug, rule: &str| SpecError::Field {
        path: path.to_owned(),
        field,
        value: format!("{value:?}"),
        rule: rule.to_owned(),
    };
    let dir = path.parent().unwrap_or(Path::new("."));
    let grants = capabilities(&raw.grants, "grants", &fault)?;
    let mut mocks = Vec::new();
    for (key, m) in raw.mocks {
        let field = format!("mocks.{key:?}");
        let endpoint =
            crate::run::parse_endpoint(&key).map_err(|why| fault(field.clone(), &key, &why))?;
        let mock = match (m.component, m.replies.is_empty()) {
            (Some(c), true) => Mock::Component {
                path: dir.join(c),
                grants: capabilities(&m.grants, &format!("{field}.grants"), &fault)?,
            },
            (None, false) => {
                for (i, c) in m.replies.iter().enumerate() {
                    let at = format!("{field}.replies[{i}]");
                    if c.reply.is_some() == c.error.is_some() {
                        return Err(fault(at, c, "needs exactly one of `reply` and `error`"));
                    }
                    if let Some(e) = &c.error {
                        crate::plugin_test::mocks::bus_error(e)
                            .map_err(|why| fault(format!("{at}.error"), e, &why))?;
                    }
                    if c.delay_ms > MAX_DELAY_MS {
                        return Err(fault(
                            format!("{at}.delay_ms"),
                            &c.delay_ms,
                            "must be at most 60000",
                        ));
                    }
                }
                if !m.grants.is_empty() {
                    return Err(fault(
                        format!("{field}.grants"),
                        &m.grants,
                        "applies only to a mock with a `component`",
                    ));
                }
                Mock::Canned(m.replies)
            }
            _ => {
                return Err(fault(
                    field,
                    &key,
                    "a mock needs either `replies` (at least one) or a `component`, not both",
                ));
            }
        };
        mocks.push((endpoint, mock));
    }
    let mut steps = Vec::new();
    for (i, s) in raw.steps.into_iter().enumerate() {
        let at = format!("steps[{i}]");
        let present: Vec<&str> = [
            ("invoke", s.invoke.is_some()),
            ("timer", s.timer.is_some()),
            ("uevent", s.uevent.is_some()),
            ("journal", s.journal.is_some()),
            ("calls", s.calls.is_some()),
        ]
        .into_iter()
        .filter_map(|(name, here)| here.then_some(name))
        .collect();
        if present.len() != 1 {
            return Err(fault(
                at,
                &present,
                "a step needs exactly one of `invoke`, `timer`, `uevent`, `journal`, `calls`",
            ));
        }
        let (action, what) = if let Some(inv) = s.invoke {
            let endpoint = crate::run::parse_endpoint(&inv.endpoint)
                .map_err(|why| fault(format!("{at}.invoke.endpoint"), &inv.endpoint, &why))?;
            (
                Action::Invoke {
                    endpoint,
                    body: inv.body,
                    from: inv.from,
                },
                "invoke",
            )
        } else if s.timer.is_some() {
            (Action::Timer, "timer")
        } else if let Some(u) = s.uevent {
            (Action::Uevent(u), "uevent")
        } else if let Some(lines) = s.journal {
            (Action::Journal(lines), "journal")
        } else {
            let mut calls = Vec::new();
            for (j, c) in s.calls.unwrap_or_default().into_iter().enumerate() {
                let endpoint = crate::run::parse_endpoint(&c.endpoint)
                    .map_err(|why| fault(format!("{at}.calls[{j}].endpoint"), &c.endpoint, &why))?;
                calls.push(CallSpec {
                    endpoint,
                    body: c.body,
                });
            }
            (Action::Calls(calls), "calls")
        };
        let expect = match (&action, s.expect) {
            (Action::Journal(_) | Action::Calls(_), Some(e)) => {
                return Err(fault(
                    format!("{at}.expect"),
                    &e,
                    "applies only to `invoke`, `timer` and `uevent` steps",
                ));
            }
            (
                Action::Timer | Action::Uevent(_),
                Some(e @ (Expect::Reply(_) | Expect::Error(_))),
            ) => {
                return Err(fault(
                    format!("{at}.expect"),
                    &e,
                    "a timer or uevent has no reply: expect `ok` or a `fault`",
                ));
            }
            (_, e) => e.unwrap_or(Expect::Ok),
        };
        steps.push(Step {
            name: s.name.unwrap_or_else(|| what.to_owned()),
            action,
            expect,
        });
    }
    if raw.start != StartExpect::Ok && !steps.is_empty() {
        return Err(fault(
            "steps".into(),
            &steps.len(),
            "must be empty when `start` expects a refusal or a fault: nothing runs after it",
        ));
    }
    let deadline_ms = raw.deadline_ms.unwrap_or(5_000);
    if !(1..=600_000).contains(&deadline_ms) {
        return Err(fault(
            "deadline_ms".into(),
            &deadline_ms,
            "must be 1..=600000",
        ));
    }
    let name = raw.name.unwrap_or_else(|| {
        path.file_name()
            .map(|f| {
                f.to_string_lossy()
                    .trim_end_matches(".json")
                    .trim_end_matches(".test")
                    .to_owned()
            })
            .unwrap_or_default()
    });
    Ok(TestFile {
        path: path.to_owned(),
        name,
        plugin: dir.join(raw.plugin),
        grants,
        argv: raw.argv,
        envp: raw.envp.into_iter().collect(),
        deadline_ms,
        mem_bytes: raw.mem_bytes,
        start: raw.start,
        mocks,
        steps,
    })
}

/// Grants in `ente run`'s `--grant` spelling.
fn capabilities(
    names: &[String],
    field: &str,
    fault: &dyn Fn(String, &dyn std::fmt::Debug, &str) -> SpecError,
) -> Result<Vec<Capability>, SpecError> {
    names
        .iter()
        .enumerate()
        .map(|(i, g)| {
            crate::run::parse_capability(g).map_err(|why| fault(format!("{field}[{i}]"), g, &why))
        })
        .collect()
}
