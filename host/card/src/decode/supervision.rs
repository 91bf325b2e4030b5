//! `Supervision`: what happens after a death.

use super::Decoder;
use crate::fault::{JsonPath, Rule};
use crate::model::Supervision;
use serde_json::Value;

const SUPERVISION_FIELDS: &[&str] = &["kind", "initial_ms", "max_ms"];
const SUPERVISION_KINDS: &[&str] = &["Restart", "OneShot", "Delegate"];

impl Decoder {
    pub(super) fn supervision(&mut self, v: &Value, path: &JsonPath) -> Option<Supervision> {
        let o = self.object(v, path, "Supervision", SUPERVISION_FIELDS)?;
        let kind = self.required(&o, "kind").and_then(|v| {
            self.literal(v, o.at("kind"), SUPERVISION_KINDS, |s| {
                SUPERVISION_KINDS.contains(&s).then(|| s.to_owned())
            })
        });
        let initial = self.opt_int(&o, "initial_ms", 0, i64::MAX);
        let max = self.opt_int(&o, "max_ms", 0, i64::MAX);
        let mut shrinking = false;
        if let (Some(Some(initial)), Some(Some(max))) = (initial, max)
            && max < initial
        {
            let rule = Rule::MaxBelowInitial {
                initial_ms: initial,
            };
            self.fault(o.at("max_ms"), o.get("max_ms"), rule);
            shrinking = true;
        }
        let kind = kind?;
        self.only_for(&o, "initial_ms", &kind, &["Restart"]);
        self.only_for(&o, "max_ms", &kind, &["Restart"]);
        if shrinking {
            return None;
        }
        match kind.as_str() {
            "OneShot" => Some(Supervision::OneShot),
            "Delegate" => Some(Supervision::Delegate),
            _ => {
                if matches!(initial, Some(None)) {
                    self.fault(o.at("initial_ms"), None, Rule::Required);
                }
                if matches!(max, Some(None)) {
                    self.fault(o.at("max_ms"), None, Rule::Required);
                }
                Some(Supervision::Restart {
                    initial_ms: u64::try_from(initial??).ok()?,
                    max_ms: u64::try_from(max??).ok()?,
                })
            }
        }
    }
}
