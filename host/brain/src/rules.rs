//! Rules: what the brain does when a pattern recurs, their file's grammar
//! (JSON, read field by field so that every fault names its path), and
//! the engine that runs them over events.

use crate::crystal::Crystal;
use crate::observer::{Event, EventRef};
use alloc::collections::VecDeque;
use alloc::format;
use alloc::string::{String, ToString};
use alloc::vec::Vec;
use hashbrown::HashMap;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// Rules one engine holds, at most.
pub const RULES_MAX: usize = 256;
/// Longest name, text or kind a rule may hold.
const TEXT_MAX: usize = 1024;
/// Longest `within_ms`: an hour.
const WITHIN_MAX: u64 = 3_600_000;
/// Entes a Sequence remembers a first event of, at most.
const SUBJECTS_MAX: usize = 1024;

/// Which events a rule matches.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Match {
    /// The event's kind (`died`, `ready`, `failed`, ...).
    pub kind: String,
    /// The Ente's label or id; `None` is any.
    pub ente: Option<String>,
    /// Words its cause must contain.
    pub cause: Option<String>,
}

impl Match {
    pub fn matches(&self, e: &EventRef<'_>) -> bool {
        self.kind == e.kind
            && self
                .ente
                .as_ref()
                .is_none_or(|want| e.label == Some(want.as_str()) || e.ente == Some(want.as_str()))
            && self
                .cause
                .as_ref()
                .is_none_or(|want| e.cause.is_some_and(|c| c.contains(want.as_str())))
    }
}

/// A Single fires on each matching event; a Sequence when `then` matches
/// within `within_ms` of an event that matched `on` (of the same Ente,
/// unless `any_ente`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Shape {
    Single,
    Sequence {
        then: Match,
        within_ms: u64,
        any_ente: bool,
    },
}

/// An Ente an action is for: the one the event was about, or a name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Target {
    Subject,
    Named(String),
}

/// What a rule does. Each runs with the brain's own authority, through
/// the path any Ente's request takes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Action {
    Restart(Target),
    Stop(Target),
    /// Spawn a card (JSON), below the brain.
    Spawn(String),
    /// A line in the brain's journal.
    Journal {
        level: String,
        text: String,
    },
    /// A named event on the host's spine.
    Event(String),
    /// From now on, journal lines of the Ente under `level` are dropped
    /// (`trace`: every line kept again).
    LogLevel {
        target: Target,
        level: String,
    },
}

impl Action {
    /// Whether it acts on the Ente the event was about (`$subject`).
    pub fn targets_subject(&self) -> bool {
        matches!(
            self,
            Action::Restart(Target::Subject)
                | Action::Stop(Target::Subject)
                | Action::LogLevel {
                    target: Target::Subject,
                    ..
                }
        )
    }
}

/// At most `max` firings in any `per_ms`; more cuts the rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Limit {
    pub max: u32,
    pub per_ms: u64,
}

impl Default for Limit {
    fn default() -> Limit {
        Limit {
            max: 10,
            per_ms: 60_000,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Rule {
    pub name: String,
    pub on: Match,
    pub shape: Shape,
    pub action: Action,
    pub limit: Limit,
}

/// A rules file: `{"rules": [...]}`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RuleFile {
    pub rules: Vec<Rule>,
}

/// A fault of a rules file: where, what was there, and the rule it broke.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleError {
    pub path: String,
    pub message: String,
}

impl core::fmt::Display for RuleError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        if self.path.is_empty() {
            write!(f, "{}", self.message)
        } else {
            write!(f, "{}: {}", self.path, self.message)
        }
    }
}

fn fault(path: &str, message: String) -> RuleError {
    RuleError {
        path: path.into(),
        message,
    }
}

/// A value in a message, cut short.
fn shown(v: &Value) -> String {
    let mut s = v.to_string();
    if s.len() > 60 {
        let mut end = 57;
        while !s.is_char_boundary(end) {
            end -= 1;
        }
        s.truncate(end);
        s.push_str("...");
    }
    s
}

struct Fields<'a> {
    path: &'a str,
    map: &'a Map<String, Value>,
    errors: &'a mut Vec<RuleError>,
}

impl<'a> Fields<'a> {
    fn of(
        path: &'a str,
        v: &'a Value,
        allowed: &[&str],
        errors: &'a mut Vec<RuleError>,
    ) -> Option<Fields<'a>> {
        let Some(map) = v.as_object() else {
            errors.push(fault(path, format!("{} is not an object", shown(v))));
            return None;
        };
        for k in map.keys() {
            if !allowed.contains(&k.as_str()) {
                errors.push(fault(
                    &format!("{path}.{k}"),
                    format!("unknown field (known: {})", allowed.join(", ")),
                ));
            }
        }
        Some(Fields { path, map, errors })
    }

    fn at(&self, k: &str) -> String {
        format!("{}.{k}", self.path)
    }

    fn text(&mut self, k: &str, required: bool) -> Option<String> {
        let at = self.at(k);
        match self.map.get(k).filter(|v| !v.is_null()) {
            None if required => {
                self.errors.push(fault(&at, "missing".into()));
                None
            }
            None => None,
            Some(Value::String(s)) if s.is_empty() => {
                self.errors.push(fault(&at, "must not be empty".into()));
                None
            }
            Some(Value::String(s)) if s.len() > TEXT_MAX => {
                self.errors.push(fault(
                    &at,
                    format!("{} bytes, more than {TEXT_MAX}", s.len()),
                ));
                None
            }
            Some(Value::String(s)) => Some(s.clone()),
            Some(v) => {
                self.errors
                    .push(fault(&at, format!("{} is not a string", shown(v))));
                None
            }
        }
    }

    fn number(&mut self, k: &str, range: (u64, u64)) -> Option<u64> {
        let at = self.at(k);
        let v = self.map.get(k).filter(|v| !v.is_null())?;
        match v.as_u64() {
            Some(n) if n >= range.0 && n <= range.1 => Some(n),
            _ => {
                self.errors.push(fault(
                    &at,
                    format!(
                        "{} is not a whole number from {} to {}",
                        shown(v),
                        range.0,
                        range.1
                    ),
                ));
                None
            }
        }
    }
}

const ON: [&str; 3] = ["kind", "ente", "cause"];
const THEN: [&str; 5] = ["kind", "ente", "cause", "within_ms", "any_ente"];

fn matcher(path: &str, v: &Value, allowed: &[&str], errors: &mut Vec<RuleError>) -> Option<Match> {
    let mut f = Fields::of(path, v, allowed, errors)?;
    let kind = f.text("kind", true);
    let ente = f.text("ente", false).filter(|e| e != "*");
    let cause = f.text("cause", false);
    Some(Match {
        kind: kind?,
        ente,
        cause,
    })
}

fn target(path: &str, v: &Value, errors: &mut Vec<RuleError>) -> Option<Target> {
    match v.as_str() {
        Some("$subject") => Some(Target::Subject),
        Some(s) if !s.is_empty() && s.len() <= TEXT_MAX => Some(Target::Named(s.into())),
        _ => {
            errors.push(fault(
                path,
                format!(
                    "{} is not an Ente: a label, an id, or \"$subject\" (the Ente the event was about)",
                    shown(v)
                ),
            ));
            None
        }
    }
}

const ACTIONS: &str = "Restart, Stop, Spawn, Journal, Event, LogLevel";
const LEVELS: [&str; 5] = ["trace", "debug", "info", "warn", "error"];

fn action(path: &str, v: &Value, errors: &mut Vec<RuleError>) -> Option<Action> {
    let mut f = Fields::of(
        path,
        v,
        &["kind", "ente", "card", "level", "text", "name"],
        errors,
    )?;
    let kind = f.text("kind", true)?;
    let applies: &[&str] = match kind.as_str() {
        "Restart" | "Stop" => &["ente"],
        "Spawn" => &["card"],
        "Journal" => &["level", "text"],
        "Event" => &["name"],
        "LogLevel" => &["ente", "level"],
        _ => &["ente", "card", "level", "text", "name"],
    };
    for k in ["ente", "card", "level", "text", "name"] {
        if !applies.contains(&k) && f.map.get(k).is_some_and(|v| !v.is_null()) {
            f.errors.push(fault(
                &f.at(k),
                format!("does not apply to a {kind} action"),
            ));
        }
    }
    let need = |f: &mut Fields<'_>, k: &str| -> Option<Value> {
        let v = f.map.get(k).filter(|v| !v.is_null()).cloned();
        if v.is_none() {
            f.errors.push(fault(
                &f.at(k),
                format!("missing: a {kind} action names it"),
            ));
        }
        v
    };
    match kind.as_str() {
        "Restart" | "Stop" => {
            let at = f.at("ente");
            let t = target(&at, &need(&mut f, "ente")?, f.errors)?;
            Some(if kind == "Restart" {
                Action::Restart(t)
            } else {
                Action::Stop(t)
            })
        }
        "Spawn" => {
            let card = need(&mut f, "card")?;
            if !card.is_object() {
                f.errors.push(fault(
                    &f.at("card"),
                    "a Spawn action's card is a card (a JSON object)".into(),
                ));
                return None;
            }
            Some(Action::Spawn(card.to_string()))
        }
        "Journal" => {
            let level = f.text("level", false).unwrap_or_else(|| "info".into());
            if !LEVELS.contains(&level.as_str()) {
                f.errors.push(fault(
                    &f.at("level"),
                    format!("`{level}` is not a level ({})", LEVELS.join(", ")),
                ));
            }
            let text = f.text("text", true)?;
            Some(Action::Journal { level, text })
        }
        "Event" => Some(Action::Event(f.text("name", true)?)),
        "LogLevel" => {
            let at = f.at("ente");
            let target = target(&at, &need(&mut f, "ente")?, f.errors);
            let level = f.text("level", true)?;
            if !LEVELS.contains(&level.as_str()) {
                f.errors.push(fault(
                    &f.at("level"),
                    format!("`{level}` is not a level ({})", LEVELS.join(", ")),
                ));
                return None;
            }
            Some(Action::LogLevel {
                target: target?,
                level,
            })
        }
        other => {
            f.errors.push(fault(
                &f.at("kind"),
                format!("`{other}` is not an action ({ACTIONS})"),
            ));
            None
        }
    }
}

fn name_ok(name: &str) -> bool {
    name.len() <= 64
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '>' | '@' | ' '))
}

fn rule(path: &str, v: &Value, errors: &mut Vec<RuleError>) -> Option<Rule> {
    let mut f = Fields::of(path, v, &["name", "on", "then", "action", "limit"], errors)?;
    let name = f.text("name", true);
    if let Some(n) = &name
        && !name_ok(n)
    {
        f.errors.push(fault(
            &f.at("name"),
            format!("`{n}`: at most 64 of letters, digits and - _ . > @ space"),
        ));
    }
    let on = f.map.get("on").filter(|v| !v.is_null()).cloned();
    let on = match on {
        Some(v) => matcher(&f.at("on"), &v, &ON, f.errors),
        None => {
            f.errors.push(fault(&f.at("on"), "missing".into()));
            None
        }
    };
    let shape = match f.map.get("then").filter(|v| !v.is_null()).cloned() {
        None => Some(Shape::Single),
        Some(v) => {
            let at = f.at("then");
            let then = matcher(&at, &v, &THEN, f.errors);
            let within = v
                .get("within_ms")
                .and_then(Value::as_u64)
                .filter(|n| (1..=WITHIN_MAX).contains(n));
            if within.is_none() {
                f.errors.push(fault(
                    &format!("{at}.within_ms"),
                    format!(
                        "{}: a Sequence says how soon `then` must follow, in ms from 1 to {WITHIN_MAX}",
                        v.get("within_ms").map_or_else(|| "missing".into(), shown)
                    ),
                ));
            }
            let any_ente = match v.get("any_ente") {
                None | Some(Value::Null) => false,
                Some(Value::Bool(b)) => *b,
                Some(other) => {
                    f.errors.push(fault(
                        &format!("{at}.any_ente"),
                        format!("{} is not true or false", shown(other)),
                    ));
                    false
                }
            };
            Some(Shape::Sequence {
                then: then?,
                within_ms: within?,
                any_ente,
            })
        }
    };
    let act = match f.map.get("action").filter(|v| !v.is_null()).cloned() {
        Some(v) => action(&f.at("action"), &v, f.errors),
        None => {
            f.errors.push(fault(&f.at("action"), "missing".into()));
            None
        }
    };
    let limit = match f.map.get("limit").filter(|v| !v.is_null()).cloned() {
        None => Some(Limit::default()),
        Some(v) => {
            let at = f.at("limit");
            Fields::of(&at, &v, &["max", "per_ms"], f.errors).and_then(|mut g| {
                let max = g.number("max", (1, 1000));
                let per = g.number("per_ms", (1, 86_400_000));
                match (max, per) {
                    (Some(max), Some(per_ms)) => Some(Limit {
                        max: max as u32,
                        per_ms,
                    }),
                    _ => {
                        if max.is_none() && g.map.get("max").is_none_or(Value::is_null) {
                            g.errors.push(fault(&g.at("max"), "missing".into()));
                        }
                        if per.is_none() && g.map.get("per_ms").is_none_or(Value::is_null) {
                            g.errors.push(fault(&g.at("per_ms"), "missing".into()));
                        }
                        None
                    }
                }
            })
        }
    };
    Some(Rule {
        name: name?,
        on: on?,
        shape: shape?,
        action: act?,
        limit: limit?,
    })
}

impl RuleFile {
    /// Read a rules file: every fault, each naming its path.
    pub fn parse(text: &str) -> Result<RuleFile, Vec<RuleError>> {
        let v: Value = serde_json::from_str(text)
            .map_err(|e| alloc::vec![fault("", format!("not JSON: {e}"))])?;
        RuleFile::from_value(&v)
    }

    pub fn from_value(v: &Value) -> Result<RuleFile, Vec<RuleError>> {
        let mut errors = Vec::new();
        let mut rules = Vec::new();
        if let Some(f) = Fields::of("", v, &["rules"], &mut errors) {
            match f.map.get("rules") {
                Some(Value::Array(list)) if list.len() > RULES_MAX => f.errors.push(fault(
                    "rules",
                    format!(
                        "{} rules, more than the {RULES_MAX} a brain holds",
                        list.len()
                    ),
                )),
                Some(Value::Array(list)) => {
                    for (i, r) in list.iter().enumerate() {
                        if let Some(r) = rule(&format!("rules[{i}]"), r, f.errors) {
                            rules.push(r);
                        }
                    }
                }
                Some(other) => f
                    .errors
                    .push(fault("rules", format!("{} is not a list", shown(other)))),
                None => f.errors.push(fault("rules", "missing".into())),
            }
        }
        for (i, r) in rules.iter().enumerate() {
            if let Some(j) = rules[..i].iter().position(|o| o.name == r.name) {
                errors.push(fault(
                    &format!("rules[{i}].name"),
                    format!("`{}` is already the name of rules[{j}]", r.name),
                ));
            }
        }
        // Paths read `.name`, not `rules[0]..name`.
        for e in &mut errors {
            if let Some(rest) = e.path.strip_prefix('.') {
                e.path = rest.into();
            }
        }
        if errors.is_empty() {
            Ok(RuleFile { rules })
        } else {
            Err(errors)
        }
    }

    /// The file's JSON (what [`RuleFile::parse`] reads back).
    pub fn to_json(&self) -> Value {
        let rules: Vec<Value> = self.rules.iter().map(Rule::to_json).collect();
        serde_json::json!({ "rules": rules })
    }
}

fn match_json(m: &Match) -> Map<String, Value> {
    let mut o = Map::new();
    o.insert("kind".into(), m.kind.clone().into());
    if let Some(e) = &m.ente {
        o.insert("ente".into(), e.clone().into());
    }
    if let Some(c) = &m.cause {
        o.insert("cause".into(), c.clone().into());
    }
    o
}

fn target_json(t: &Target) -> Value {
    match t {
        Target::Subject => "$subject".into(),
        Target::Named(n) => n.clone().into(),
    }
}

impl Rule {
    /// One rule's JSON (as [`Rule::to_json`] writes it), read by the file's
    /// grammar; every fault in one line.
    pub fn parse_one(json: &str) -> Result<Rule, String> {
        let value: Value = serde_json::from_str(json).map_err(|e| format!("not JSON: {e}"))?;
        let file =
            RuleFile::from_value(&serde_json::json!({ "rules": [value] })).map_err(|errors| {
                errors
                    .iter()
                    .map(|e| e.to_string().replace("rules[0].", ""))
                    .collect::<Vec<_>>()
                    .join("; ")
            })?;
        file.rules
            .into_iter()
            .next()
            .ok_or_else(|| "no rule".into())
    }

    pub fn to_json(&self) -> Value {
        let mut o = Map::new();
        o.insert("name".into(), self.name.clone().into());
        o.insert("on".into(), Value::Object(match_json(&self.on)));
        if let Shape::Sequence {
            then,
            within_ms,
            any_ente,
        } = &self.shape
        {
            let mut t = match_json(then);
            t.insert("within_ms".into(), (*within_ms).into());
            if *any_ente {
                t.insert("any_ente".into(), true.into());
            }
            o.insert("then".into(), Value::Object(t));
        }
        let action = match &self.action {
            Action::Restart(t) => serde_json::json!({"kind": "Restart", "ente": target_json(t)}),
            Action::Stop(t) => serde_json::json!({"kind": "Stop", "ente": target_json(t)}),
            Action::Spawn(card) => serde_json::json!({
                "kind": "Spawn",
                "card": serde_json::from_str::<Value>(card).unwrap_or(Value::Null),
            }),
            Action::Journal { level, text } => {
                serde_json::json!({"kind": "Journal", "level": level, "text": text})
            }
            Action::Event(name) => serde_json::json!({"kind": "Event", "name": name}),
            Action::LogLevel { target, level } => {
                serde_json::json!({"kind": "LogLevel", "ente": target_json(target), "level": level})
            }
        };
        o.insert("action".into(), action);
        o.insert(
            "limit".into(),
            serde_json::json!({"max": self.limit.max, "per_ms": self.limit.per_ms}),
        );
        Value::Object(o)
    }

    /// A crystal as a rule: a Sequence (a, then b within mean + 2σ of
    /// their gaps) once at least 4 gaps were seen, else a Single on a.
    pub fn from_crystal(c: &Crystal, action: Action) -> Rule {
        let split = |key: &str| -> Match {
            let (kind, ente) = match key.split_once('@') {
                Some((k, e)) => (k.to_string(), Some(e.to_string())),
                None => (key.to_string(), None),
            };
            Match {
                kind,
                ente,
                cause: None,
            }
        };
        let on = split(&c.a);
        let shape = if c.gaps.count >= 4 {
            let within = libm::ceil(c.gaps.mean_ms() + 2.0 * c.gaps.stddev_ms());
            Shape::Sequence {
                then: split(&c.b),
                within_ms: (within as u64).clamp(1, WITHIN_MAX),
                any_ente: on.ente != split(&c.b).ente,
            }
        } else {
            Shape::Single
        };
        let mut name = format!("{} > {}", c.a, c.b);
        name.retain(|ch| {
            ch.is_ascii_alphanumeric() || matches!(ch, '-' | '_' | '.' | '>' | '@' | ' ')
        });
        name.truncate(64);
        Rule {
            name,
            on,
            shape,
            action,
            limit: Limit::default(),
        }
    }
}

/// A rule that fired: its action, for the Ente the event was about.
#[derive(Debug, Clone, PartialEq)]
pub struct Fired {
    pub rule: String,
    /// `None`: the rule fired past its limit and was cut (not run).
    pub action: Option<Action>,
    /// The Ente the event was about (its id), for `$subject`.
    pub subject: Option<String>,
    /// The event that fired it.
    pub seq: u64,
}

#[derive(Debug, Clone)]
struct Running {
    rule: Rule,
    /// A Sequence's first events, by Ente (or "" for any).
    firsts: HashMap<String, u64>,
    fired: VecDeque<u64>,
    cut: bool,
}

/// The rules in force and what each remembers.
#[derive(Debug, Clone, Default)]
pub struct Rules {
    running: Vec<Running>,
}

impl Rules {
    pub fn new() -> Rules {
        Rules::default()
    }

    pub fn len(&self) -> usize {
        self.running.len()
    }

    pub fn is_empty(&self) -> bool {
        self.running.is_empty()
    }

    /// The rules, in order; with whether each was cut.
    pub fn iter(&self) -> impl Iterator<Item = (&Rule, bool)> + '_ {
        self.running.iter().map(|r| (&r.rule, r.cut))
    }

    /// Add a rule, or replace the one of its name; refused past
    /// [`RULES_MAX`].
    pub fn put(&mut self, rule: Rule) -> Result<(), String> {
        let fresh = Running {
            rule,
            firsts: HashMap::new(),
            fired: VecDeque::new(),
            cut: false,
        };
        if let Some(r) = self
            .running
            .iter_mut()
            .find(|r| r.rule.name == fresh.rule.name)
        {
            *r = fresh;
            return Ok(());
        }
        if self.running.len() >= RULES_MAX {
            return Err(format!("a brain holds at most {RULES_MAX} rules"));
        }
        self.running.push(fresh);
        Ok(())
    }

    /// Put every rule of `file` in force, or none: refused whole when the
    /// new names would take the brain past [`RULES_MAX`].
    pub fn put_all(&mut self, rules: Vec<Rule>) -> Result<(), String> {
        let new = rules
            .iter()
            .filter(|r| !self.running.iter().any(|x| x.rule.name == r.name))
            .count();
        if self.running.len() + new > RULES_MAX {
            return Err(format!(
                "{new} new rules with the {} in force would pass the {RULES_MAX} a brain holds: none was put in force",
                self.running.len()
            ));
        }
        for r in rules {
            self.put(r)?;
        }
        Ok(())
    }

    /// Remove the rule of `name`; whether there was one.
    pub fn remove(&mut self, name: &str) -> bool {
        let before = self.running.len();
        self.running.retain(|r| r.rule.name != name);
        self.running.len() != before
    }

    /// What the rules do about `e`.
    pub fn on_event(&mut self, e: &Event, fired: &mut Vec<Fired>) {
        self.on_event_ref(&e.as_ref(), fired);
    }

    /// [`Rules::on_event`] on a borrowed event.
    pub fn on_event_ref(&mut self, e: &EventRef<'_>, fired: &mut Vec<Fired>) {
        for r in &mut self.running {
            if r.cut {
                continue;
            }
            let hit = match &r.rule.shape {
                Shape::Single => r.rule.on.matches(e),
                Shape::Sequence {
                    then,
                    within_ms,
                    any_ente,
                } => {
                    let who = if *any_ente {
                        ""
                    } else {
                        e.ente.or(e.label).unwrap_or_default()
                    };
                    let hit = then.matches(e)
                        && r.firsts
                            .get(who)
                            .is_some_and(|&t0| e.at_ms.saturating_sub(t0) <= *within_ms);
                    if r.rule.on.matches(e) {
                        if r.firsts.len() >= SUBJECTS_MAX && !r.firsts.contains_key(who) {
                            // The oldest first events go.
                            let horizon = e.at_ms.saturating_sub(*within_ms);
                            r.firsts.retain(|_, t| *t >= horizon);
                        }
                        if let Some(t) = r.firsts.get_mut(who) {
                            *t = e.at_ms;
                        } else if r.firsts.len() < SUBJECTS_MAX {
                            r.firsts.insert(String::from(who), e.at_ms);
                        }
                    }
                    hit
                }
            };
            // A rule that acts on the event's Ente fires only on an event
            // that names one: the host names only Entes in the brain's
            // reach, so a namesake elsewhere in the graph neither fires the
            // rule nor wears out its limit.
            if !hit || (e.ente.is_none() && r.rule.action.targets_subject()) {
                continue;
            }
            let limit = r.rule.limit;
            while r
                .fired
                .front()
                .is_some_and(|&t| e.at_ms.saturating_sub(t) >= limit.per_ms)
            {
                r.fired.pop_front();
            }
            if r.fired.len() >= limit.max as usize {
                r.cut = true;
                fired.push(Fired {
                    rule: r.rule.name.clone(),
                    action: None,
                    subject: e.ente.map(String::from),
                    seq: e.seq,
                });
                continue;
            }
            r.fired.push_back(e.at_ms);
            fired.push(Fired {
                rule: r.rule.name.clone(),
                action: Some(r.rule.action.clone()),
                subject: e.ente.map(String::from),
                seq: e.seq,
            });
        }
    }
}
