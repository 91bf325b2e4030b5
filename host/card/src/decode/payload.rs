//! `Payload`: how an Ente is incarnated.

use super::{Decoder, Obj};
use crate::fault::{JsonPath, Rule};
use crate::model::{Digest, Fake, Payload};
use serde_json::Value;

const PAYLOAD_FIELDS: &[&str] = &[
    "kind",
    "module_blake3",
    "entry",
    "exec",
    "argv",
    "envp",
    "fakes",
];
const PAYLOAD_KINDS: &[&str] = &["Wasm", "Native", "Virtual", "Legacy"];
const WITH_PROCESS_ARGS: &[&str] = &["Wasm", "Native", "Legacy"];

impl Decoder {
    pub(super) fn payload(&mut self, v: &Value, path: &JsonPath) -> Option<Payload> {
        let o = self.object(v, path, "Payload", PAYLOAD_FIELDS)?;
        let kind = self.required(&o, "kind").and_then(|v| {
            self.literal(v, o.at("kind"), PAYLOAD_KINDS, |s| {
                PAYLOAD_KINDS.contains(&s).then(|| s.to_owned())
            })
        });
        let digest = self.opt_string(&o, "module_blake3").and_then(|s| match s {
            None => Some(None),
            Some(s) => {
                let d = Digest::from_hex(s);
                if d.is_none() {
                    self.fault(
                        o.at("module_blake3"),
                        o.get("module_blake3"),
                        Rule::Blake3Hex,
                    );
                }
                d.map(Some)
            }
        });
        let entry = self.non_empty(&o, "entry");
        let exec = self.non_empty(&o, "exec");
        let exec = match exec {
            Some(Some(path)) if !path.starts_with('/') => {
                self.fault(o.at("exec"), o.get("exec"), Rule::AbsolutePath);
                None
            }
            e => e,
        };
        let argv = self.list(&o, "argv", |d, v, path| {
            d.string(v, path).map(str::to_owned)
        });
        let envp = self.envp(&o);
        let fakes = self.list(&o, "fakes", |d, v, path| {
            d.literal(v, path, Fake::NAMES, Fake::from_name)
        });

        let kind = kind?;
        self.only_for(&o, "module_blake3", &kind, &["Wasm"]);
        self.only_for(&o, "entry", &kind, &["Wasm"]);
        self.only_for(&o, "exec", &kind, &["Native", "Legacy"]);
        self.only_for(&o, "argv", &kind, WITH_PROCESS_ARGS);
        self.only_for(&o, "envp", &kind, WITH_PROCESS_ARGS);
        self.only_for(&o, "fakes", &kind, &["Legacy"]);
        let need = |d: &mut Self, name: &str, present: bool| {
            if !present {
                d.fault(o.at(name), None, Rule::Required);
            }
        };
        match kind.as_str() {
            "Virtual" => Some(Payload::Virtual),
            "Wasm" => {
                need(self, "module_blake3", !matches!(digest, Some(None)));
                need(self, "entry", !matches!(entry, Some(None)));
                Some(Payload::Wasm {
                    module_blake3: digest??,
                    entry: entry??.to_owned(),
                    argv: argv?,
                    envp: envp?,
                })
            }
            "Native" => {
                need(self, "exec", !matches!(exec, Some(None)));
                Some(Payload::Native {
                    exec: exec??.to_owned(),
                    argv: argv?,
                    envp: envp?,
                })
            }
            _ => {
                need(self, "exec", !matches!(exec, Some(None)));
                Some(Payload::Legacy {
                    exec: exec??.to_owned(),
                    argv: argv?,
                    envp: envp?,
                    fakes: fakes?,
                })
            }
        }
    }

    fn non_empty<'v>(&mut self, o: &Obj<'v>, name: &str) -> Option<Option<&'v str>> {
        match self.opt_string(o, name)? {
            Some("") => {
                self.fault(o.at(name), o.get(name), Rule::Empty);
                None
            }
            s => Some(s),
        }
    }

    /// `envp` is a list of string maps; every name must be a variable name and
    /// appear once over the whole list.
    fn envp(&mut self, o: &Obj<'_>) -> Option<Vec<(String, String)>> {
        let mut seen = std::collections::BTreeSet::new();
        let maps = self.list(o, "envp", |d, v, path| {
            let Some(map) = v.as_object() else {
                d.fault(
                    path,
                    Some(v),
                    Rule::Type {
                        expected: "an object of strings",
                    },
                );
                return None;
            };
            let mut vars = Vec::new();
            let mut ok = true;
            for (name, value) in map {
                let at = path.field(name);
                if name.is_empty() || name.contains(['=', '\0']) {
                    d.fault(
                        at.clone(),
                        Some(&Value::String(name.clone())),
                        Rule::EnvName,
                    );
                    ok = false;
                } else if !seen.insert(name.clone()) {
                    d.fault(at.clone(), Some(value), Rule::EnvTwice);
                    ok = false;
                }
                match d.string(value, at) {
                    Some(value) => vars.push((name.clone(), value.to_owned())),
                    None => ok = false,
                }
            }
            ok.then_some(vars)
        })?;
        Some(maps.into_iter().flatten().collect())
    }
}
