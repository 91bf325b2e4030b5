//! The brain: the spine's events in batches to the graph's rule engine
//! (one call per batch, on a worker), and what its rules fire run by its
//! own authority, through the path an Ente's `ente:core/graph` request
//! takes. Graph actions need the brain's card to hold Spawn, and reach only
//! its descendants; anything else is refused, recorded, never run. Every
//! firing, promotion and removal is an event (and so an audit entry).

use crate::book::RuleBook;
use crate::core::Core;
use crate::event::{Control, Done, Event, Reply};
use crate::runner::{BrainAnswer, BrainAsk, BrainOutcome, Live, Promotion};
use crate::spine::{Kind, Level, Next, Occurrence, Spine, Subscription};
use crate::table::Delivery;
use ente_brain::{Action, Target};
use ente_card::Capability;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;
use tokio::time::{Instant, sleep_until};
use ulid::Ulid;

/// Longest cause or text handed to the brain per event.
const CAUSE_MAX: usize = 256;
/// Firings the host runs for the brain in a second, at most; more are
/// counted and said, not run (its own rate limits are its word; this is the
/// host's).
pub(crate) const FIRINGS_PER_SECOND: u32 = 256;

/// An event as the brain sees it; `None` for what it does not learn from
/// (its own firings, lease traffic, journal lines under warn).
pub(crate) fn observed(e: &Occurrence) -> Option<ente_brain::Event> {
    let (kind, cause): (String, Option<String>) = match &e.kind {
        Kind::State { to, detail, .. } => (
            crate::spine::snake(&format!("{to:?}")),
            Some(detail.clone()),
        ),
        Kind::Died { cause, .. } => ("died".into(), Some(cause.to_string())),
        Kind::StartFailed { cause, .. } => ("start_failed".into(), Some(cause.to_string())),
        Kind::Spawned { .. } => ("spawned".into(), None),
        Kind::Left => ("left".into(), None),
        Kind::Refused { request, why, .. } => ("refused".into(), Some(format!("{request}: {why}"))),
        Kind::Uevent {
            action, devpath, ..
        } => (format!("uevent.{action}"), Some(devpath.clone())),
        Kind::Journal { level, text } if *level >= Level::Warn => {
            (format!("journal.{}", level.name()), Some(text.clone()))
        }
        Kind::Lease(ente_bus::LeaseEvent::Denied { reason, .. }) => {
            ("lease_denied".into(), Some(reason.clone()))
        }
        Kind::Dropped { what, .. } => ("dropped".into(), Some((*what).into())),
        Kind::Teardown {
            clean: false,
            report,
            ..
        } => ("teardown_unclean".into(), Some(report.clone())),
        Kind::Settled { .. } => ("settled".into(), None),
        Kind::ShutdownBegun { why } => ("shutdown".into(), Some(why.clone())),
        Kind::Operator { request, .. } => ("operator".into(), Some(request.clone())),
        _ => return None,
    };
    let cut = |mut s: String| {
        if s.len() > CAUSE_MAX {
            let mut end = CAUSE_MAX;
            while !s.is_char_boundary(end) {
                end -= 1;
            }
            s.truncate(end);
        }
        s
    };
    Some(ente_brain::Event {
        seq: e.seq,
        at_ms: u64::try_from(e.at.as_millis()).unwrap_or(u64::MAX),
        kind,
        ente: e.ente.as_ref().map(|(id, _)| id.to_string()),
        label: e.ente.as_ref().map(|(_, l)| l.clone()),
        cause: cause.map(cut),
    })
}

/// Read the spine and hand the brain its events in batches: at most `max`
/// each, none waiting longer than `every`. A task of its own: the loop is
/// never held (a full inbox makes this task wait; the ring then drops for
/// it, and what it missed is said in its next batch's log).
pub(crate) async fn feed_brain(
    mut events: Subscription,
    inbox: mpsc::Sender<Event>,
    brain: Ulid,
    max: usize,
    every: Duration,
) {
    let mut batch = Vec::with_capacity(max.min(4096));
    let mut due: Option<Instant> = None;
    loop {
        let next = tokio::select! {
            next = events.next() => Some(next),
            () = sleep_until(due.unwrap_or_else(Instant::now)), if due.is_some() => None,
        };
        match next {
            // Not its own doings (its firings, refusals, drops, states): a
            // brain that learns from itself feeds back on itself.
            Some(Next::Event(e)) if e.ente.as_ref().is_some_and(|(id, _)| *id == brain) => {}
            Some(Next::Event(e)) => {
                if let Some(o) = observed(&e) {
                    batch.push(o);
                    due.get_or_insert_with(|| Instant::now() + every);
                }
            }
            Some(Next::Missed(n)) => {
                tracing::warn!(%brain, missed = n, "the brain's feed fell behind the spine");
            }
            Some(Next::Closed) => return,
            None => {}
        }
        let full = batch.len() >= max;
        if full || due.is_some_and(|d| d <= Instant::now()) {
            due = None;
            let taken = std::mem::replace(&mut batch, Vec::with_capacity(max.min(4096)));
            if !taken.is_empty() && inbox.send(Event::Observed(taken)).await.is_err() {
                return;
            }
        }
    }
}

impl Core {
    /// A batch for the brain: queued, or dropped and counted when its
    /// queue is full or it is not running.
    ///
    /// An event about an Ente outside the brain's reach (not its
    /// descendant) reaches it with the label alone: it learns from it, but
    /// a rule that acts on the event's Ente does not fire on it, so a
    /// namesake elsewhere cannot fire a rule meant for its descendant, nor
    /// wear out the rule's limit.
    pub(crate) fn on_batch(&mut self, mut batch: Vec<ente_brain::Event>) {
        let Some(brain) = self.brain else { return };
        {
            let t = self.read();
            for e in &mut batch {
                let mine = e
                    .ente
                    .as_deref()
                    .and_then(|id| id.parse::<Ulid>().ok())
                    .is_some_and(|id| t.descends_from(id, brain));
                if !mine {
                    e.ente = None;
                }
            }
        }
        self.enqueue(brain, Delivery::Observe(Arc::new(batch)));
    }

    /// An operator's question, for the brain's worker.
    pub(crate) fn ask_brain(&mut self, ask: BrainAsk, reply: Reply<BrainAnswer>) {
        let Some(brain) = self.brain else {
            let _ = reply.try_send(Err(
                "this graph has no brain: its seed seats none (it lists the brain's endpoint in its provides and hands it to one genesis child)".into(),
            ));
            return;
        };
        let state = self.read().get(brain).map(|r| r.state.to_string());
        if !self.enqueue(brain, Delivery::Ask(ask, reply.clone())) {
            let _ = reply.try_send(Err(format!(
                "the brain is not running ({})",
                state.unwrap_or_default()
            )));
        }
    }

    /// The job of a [`Delivery::Observe`].
    pub(crate) fn observe_job(
        bus: &ente_bus::Bus<Live>,
        id: Ulid,
        batch: &[ente_brain::Event],
    ) -> Event {
        let outcome = match bus.enter(id, |b| b.0.observe(batch)) {
            Ok(Ok(Some(outcome))) => Ok(outcome),
            Ok(Ok(None)) => Err("its body is no brain (it does not export ente:core/brain)".into()),
            // A body that breaks here leaves the bus; the bus reports it.
            Ok(Err(cause)) => Err(format!("brain.observe broke: {cause}")),
            Err(e) => Err(e.to_string()),
        };
        Event::Done(Done::Observed { brain: id, outcome })
    }

    /// The job of a [`Delivery::Ask`]: the answer to the asker, and what
    /// it changed to the spine.
    pub(crate) fn ask_job(
        bus: &ente_bus::Bus<Live>,
        spine: &Spine,
        book: &RuleBook,
        id: Ulid,
        ask: &BrainAsk,
        reply: &Reply<BrainAnswer>,
    ) -> Event {
        let mut answer = match bus.enter(id, |b| b.0.ask_brain(ask)) {
            Ok(Ok(Some(answer))) => Ok(answer),
            Ok(Ok(None)) => Err("its body is no brain (it does not export ente:core/brain)".into()),
            Ok(Err(cause)) => Err(format!("the brain broke: {cause}")),
            Err(e) => Err(e.to_string()),
        };
        let mut refused = Vec::new();
        if let Ok(answer) = &answer {
            let label = bus.slot(id).map(|s| s.label.clone()).unwrap_or_default();
            let by = "an operator".to_owned();
            match (ask, answer) {
                (BrainAsk::Promote { .. }, BrainAnswer::Promoted(Ok(json))) => {
                    let p = Promotion::read(json);
                    refused.extend(record_promotion(spine, book, id, &label, &p, &by));
                }
                (BrainAsk::Load(file), BrainAnswer::Loaded(Ok(_))) => {
                    if let Ok(f) = ente_brain::RuleFile::parse(file) {
                        for r in &f.rules {
                            if !record_rule(spine, book, id, &label, r, &by) {
                                refused.push(r.name.clone());
                            }
                        }
                    }
                }
                // Recorded only when the book held it: a name it never had
                // (or `*`) is no removal.
                (BrainAsk::Remove(name), BrainAnswer::Removed(true)) if book.remove(name) => {
                    spine.emit(
                        Some((id, &label)),
                        Kind::RuleRemoved {
                            rule: name.clone(),
                            by,
                        },
                    );
                }
                _ => {}
            }
        }
        // Taken back at once, on this worker: the brain holds only what
        // the chain does; and the asker is told.
        if !refused.is_empty() {
            let said = format!(
                "the host did not record {} (see the events for why): taken back from the brain",
                refused
                    .iter()
                    .map(|n| format!("`{n}`"))
                    .collect::<Vec<_>>()
                    .join(", ")
            );
            for name in refused {
                let _ = bus.enter(id, |b| b.0.ask_brain(&BrainAsk::Remove(name)));
            }
            answer = match answer {
                Ok(BrainAnswer::Promoted(_)) => Ok(BrainAnswer::Promoted(Err(said))),
                Ok(BrainAnswer::Loaded(Ok(n))) => Ok(BrainAnswer::Loaded(Err(format!(
                    "{n} rules loaded, but {said}"
                )))),
                other => other,
            };
        }
        let _ = reply.try_send(answer);
        Event::Done(Done::Delivered { ente: id })
    }

    /// What a batch fired, run; what the brain promoted and removed, said.
    pub(crate) fn on_observed(&mut self, brain: Ulid, outcome: Result<BrainOutcome, String>) {
        let outcome = match outcome {
            Ok(o) => o,
            Err(why) => {
                tracing::warn!(%brain, %why, "the brain took no batch");
                return;
            }
        };
        let label = self
            .read()
            .get(brain)
            .map(|r| r.label().to_owned())
            .unwrap_or_default();
        if outcome.unrun > 0 {
            self.h.spine.emit(
                Some((brain, &label)),
                Kind::Dropped {
                    what: "rule firing or promotion past a batch's bound (256 firings, 64 changes)",
                    count: outcome.unrun,
                },
            );
        }
        let mut refused = Vec::new();
        for p in &outcome.promoted {
            refused.extend(record_promotion(
                &self.h.spine,
                &self.h.rules,
                brain,
                &label,
                p,
                "the brain",
            ));
        }
        self.take_back(brain, refused);
        for rule in outcome.removed {
            // Only what the book held: a brain cannot reset the chain's
            // record by naming a rule it never had (or `*`).
            if !self.h.rules.remove(&rule) {
                continue;
            }
            self.h.spine.emit(
                Some((brain, &label)),
                Kind::RuleRemoved {
                    rule,
                    by: "the brain".into(),
                },
            );
        }
        let mut unrun = 0u64;
        for f in outcome.fired {
            let now = std::time::Instant::now();
            let (since, n) = &mut self.brain_budget;
            if now.duration_since(*since) >= Duration::from_secs(1) {
                (*since, *n) = (now, 0);
            }
            if *n >= FIRINGS_PER_SECOND {
                unrun += 1;
                continue;
            }
            *n += 1;
            let subject = f.subject.as_deref().and_then(|s| s.parse::<Ulid>().ok());
            let (action, result) = match &f.action {
                None => (
                    "cut".to_owned(),
                    Err("it fired more often than its limit allows: it is off until the brain loads it again".to_owned()),
                ),
                // Only a rule the chain holds acts (one the host refused may
                // still be in the brain until its take-back is delivered).
                Some(a) if !self.h.rules.holds(&f.rule) => (
                    words(a),
                    Err("no rule of that name is recorded in force (the audit chain holds none): not run".to_owned()),
                ),
                Some(a) => (words(a), self.act(brain, &label, a, subject)),
            };
            self.h.spine.emit(
                Some((brain, &label)),
                Kind::RuleFired {
                    rule: f.rule,
                    action,
                    subject,
                    seq: f.seq,
                    outcome: result,
                },
            );
        }
        self.said_unrun(brain, &label, unrun);
    }

    /// Rules the host did not record, dropped from the brain (its next
    /// deliveries, before any later batch): what it acts on stays what the
    /// chain holds.
    pub(crate) fn take_back(&mut self, brain: Ulid, names: Vec<String>) {
        for name in names {
            // Nobody waits for the answer.
            let (reply, _) = std::sync::mpsc::sync_channel(1);
            self.enqueue(brain, Delivery::Ask(BrainAsk::Remove(name), reply));
        }
    }

    /// Firings past the host's budget, said.
    fn said_unrun(&self, brain: Ulid, label: &str, unrun: u64) {
        if unrun > 0 {
            self.h.spine.emit(
                Some((brain, label)),
                Kind::Dropped {
                    what: "rule firing past the host's budget (256 a second)",
                    count: unrun,
                },
            );
        }
    }

    /// Run one action by the brain's authority.
    fn act(
        &mut self,
        brain: Ulid,
        label: &str,
        action: &Action,
        subject: Option<Ulid>,
    ) -> Result<(), String> {
        let holds_spawn = || {
            self.read()
                .get(brain)
                .is_some_and(|r| r.card.requires.contains(&Capability::Spawn))
        };
        let graph_action = matches!(
            action,
            Action::Restart(_) | Action::Stop(_) | Action::Spawn(_)
        );
        if graph_action && !holds_spawn() {
            return Err(
                "the brain's card does not hold Spawn: its rules may not stop, restart or spawn"
                    .into(),
            );
        }
        match action {
            Action::Restart(t) | Action::Stop(t) => {
                let ente = self.target(t, subject)?;
                let (tx, rx) = std::sync::mpsc::sync_channel(1);
                let control = match action {
                    Action::Restart(_) => Control::Restart {
                        by: brain,
                        ente,
                        reply: tx,
                    },
                    _ => Control::Stop {
                        by: brain,
                        ente,
                        reply: tx,
                    },
                };
                self.on_control(control);
                rx.try_recv()
                    .unwrap_or_else(|_| Err("no answer from the graph".into()))
            }
            Action::Spawn(json) => {
                let card =
                    ente_card::parse(json.as_bytes(), std::path::Path::new("(a rule's card)"))
                        .map_err(|e| e.to_string())?;
                let (tx, rx) = std::sync::mpsc::sync_channel(1);
                self.on_control(Control::Spawn {
                    by: brain,
                    card: Box::new(card),
                    reply: tx,
                });
                rx.try_recv()
                    .unwrap_or_else(|_| Err("no answer from the graph".into()))
                    .map(|_| ())
            }
            Action::Journal { level, text } => {
                let level = Level::from_name(level).unwrap_or(Level::Info);
                let text = ente_runtime_free_clean(text);
                self.h
                    .spine
                    .emit(Some((brain, label)), Kind::Journal { level, text });
                Ok(())
            }
            Action::Event(_) => Ok(()),
            // No Spawn needed (it changes what is shown, not what runs),
            // but only the brain's descendants, as a stop.
            Action::LogLevel { target, level } => {
                let ente = self.target(target, subject)?;
                let level = Level::from_name(level).ok_or_else(|| {
                    format!("`{level}` is not a level (trace, debug, info, warn, error)")
                })?;
                let t = self.read();
                if !t.descends_from(ente, brain) {
                    return Err(format!(
                        "{ente} is not a descendant of the brain: its rules may set the level of its own descendants only"
                    ));
                }
                drop(t);
                self.h.floors.set(ente, level);
                Ok(())
            }
        }
    }

    /// The Ente a target names: the event's subject, an id, or a label
    /// (one Ente's).
    fn target(&self, t: &Target, subject: Option<Ulid>) -> Result<Ulid, String> {
        match t {
            Target::Subject => {
                subject.ok_or_else(|| "the event was about no Ente: `$subject` names none".into())
            }
            Target::Named(name) => {
                if let Ok(id) = name.parse::<Ulid>()
                    && self.read().get(id).is_some()
                {
                    return Ok(id);
                }
                let t = self.read();
                let mut found = t.iter().filter(|r| r.label() == name).map(|r| r.id);
                match (found.next(), found.next()) {
                    (Some(id), None) => Ok(id),
                    (None, _) => Err(format!("no Ente has the label or id `{name}`")),
                    (Some(_), Some(_)) => Err(format!(
                        "more than one Ente has the label `{name}`: name it by id"
                    )),
                }
            }
        }
    }
}

/// A journal line as a rule wrote it: one line, printable.
fn ente_runtime_free_clean(text: &str) -> String {
    text.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .take(1024)
        .collect()
}

/// A promotion the brain reported, into the chain only if it reads back as
/// a rule (a replay rebuilds the rules from these); else a refusal. The
/// name of a rule refused, if it has one: the brain is to drop it, or it
/// would act on a rule the chain does not hold.
fn record_promotion(
    spine: &Spine,
    book: &RuleBook,
    brain: Ulid,
    label: &str,
    promotion: &Promotion,
    by: &str,
) -> Option<String> {
    match promotion {
        Promotion::Read(rule) => {
            (!record_rule(spine, book, brain, label, rule, by)).then(|| rule.name.clone())
        }
        Promotion::Unread { name, why } => {
            refuse_promotion(
                spine,
                brain,
                label,
                format!("the rule it reported does not read: {why}"),
            );
            name.clone()
        }
    }
}

fn refuse_promotion(spine: &Spine, brain: Ulid, label: &str, why: String) {
    spine.emit(
        Some((brain, label)),
        Kind::Refused {
            by: brain,
            request: "promote a rule".into(),
            why: format!("{why}; the brain is told to drop it"),
        },
    );
}

/// A rule in force: into the host's book and the chain, as the host writes
/// it (its JSON made again from what was read, so bounded and plain).
/// Whether it was recorded (a full book refuses it).
pub(crate) fn record_rule(
    spine: &Spine,
    book: &RuleBook,
    brain: Ulid,
    label: &str,
    rule: &ente_brain::Rule,
    by: &str,
) -> bool {
    let json = rule.to_json().to_string();
    if let Err(why) = book.put(&rule.name, &json) {
        let why = format!("`{}` ({} bytes): {why}", rule.name, json.len());
        refuse_promotion(spine, brain, label, why);
        // It replaced a rule of its name in the brain, which now drops it:
        // the record drops the one it replaced too, so that the brain, the
        // book and the chain agree that none of that name is in force.
        if book.remove(&rule.name) {
            spine.emit(
                Some((brain, label)),
                Kind::RuleRemoved {
                    rule: rule.name.clone(),
                    by: "the host (its replacement was refused)".into(),
                },
            );
        }
        return false;
    }
    spine.emit(
        Some((brain, label)),
        Kind::RulePromoted {
            rule: rule.name.clone(),
            by: by.to_owned(),
            json,
        },
    );
    true
}

/// An action in words.
fn words(a: &Action) -> String {
    let t = |t: &Target| match t {
        Target::Subject => "the event's Ente".to_owned(),
        Target::Named(n) => format!("`{n}`"),
    };
    match a {
        Action::Restart(x) => format!("restart {}", t(x)),
        Action::Stop(x) => format!("stop {}", t(x)),
        Action::Spawn(_) => "spawn a card".into(),
        Action::Journal { level, text } => format!("journal {level}: {text}"),
        Action::Event(name) => format!("event {name}"),
        Action::LogLevel { target, level } => {
            format!("journal level of {} to {level}", t(target))
        }
    }
}
