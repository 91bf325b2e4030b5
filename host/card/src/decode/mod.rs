//! From a JSON value to a [`Card`], collecting every fault on the way.
//!
//! The walk never stops at the first fault: each field is checked on its own,
//! so one run reports all that is wrong with a card.

mod capability;
mod card;
mod payload;
mod soma;
mod supervision;

use crate::fault::{Fault, JsonPath, Rule};
use crate::model::Card;
use serde_json::{Map, Value};

/// Decode a whole card document.
pub(crate) fn card(value: &Value) -> Result<Card, Vec<Fault>> {
    let mut d = Decoder::default();
    let card = d.card(value, &JsonPath::root(), card::Parent::Root);
    match card {
        Some(card) if d.faults.is_empty() => Ok(card),
        _ => {
            debug_assert!(!d.faults.is_empty(), "a part was refused without a fault");
            Err(d.faults)
        }
    }
}

#[derive(Default)]
pub(crate) struct Decoder {
    faults: Vec<Fault>,
}

/// An object whose field names were already checked against its schema.
pub(crate) struct Obj<'v> {
    map: &'v Map<String, Value>,
    path: JsonPath,
}

impl<'v> Obj<'v> {
    /// The field's value; `None` when it is absent or `null` (the grammar
    /// treats both alike).
    fn get(&self, name: &str) -> Option<&'v Value> {
        self.map.get(name).filter(|v| !v.is_null())
    }

    fn at(&self, name: &str) -> JsonPath {
        self.path.field(name)
    }
}

/// Longest rendering of an offending value in a message.
const SHOWN_VALUE_CHARS: usize = 80;

pub(crate) fn render(v: &Value) -> String {
    let s = v.to_string();
    if s.chars().count() <= SHOWN_VALUE_CHARS {
        return s;
    }
    let cut: String = s.chars().take(SHOWN_VALUE_CHARS).collect();
    format!("{cut}…")
}

impl Decoder {
    fn fault(&mut self, path: JsonPath, value: Option<&Value>, rule: Rule) {
        self.faults.push(Fault {
            path,
            value: value.map(render),
            rule,
        });
    }

    /// `v` as an object of `schema`; every field not in `allowed` is a fault.
    fn object<'v>(
        &mut self,
        v: &'v Value,
        path: &JsonPath,
        schema: &'static str,
        allowed: &'static [&'static str],
    ) -> Option<Obj<'v>> {
        let Some(map) = v.as_object() else {
            self.fault(
                path.clone(),
                Some(v),
                Rule::Type {
                    expected: "an object",
                },
            );
            return None;
        };
        for key in map.keys() {
            if !allowed.contains(&key.as_str()) {
                self.fault(
                    path.field(key),
                    map.get(key),
                    Rule::UnknownField { schema, allowed },
                );
            }
        }
        Some(Obj {
            map,
            path: path.clone(),
        })
    }

    /// A nested object field that has a default: absent gives `None` without a fault.
    fn sub_object<'v>(
        &mut self,
        o: &Obj<'v>,
        name: &str,
        schema: &'static str,
        allowed: &'static [&'static str],
    ) -> Option<Option<Obj<'v>>> {
        match o.get(name) {
            None => Some(None),
            Some(v) => self.object(v, &o.at(name), schema, allowed).map(Some),
        }
    }

    fn required<'v>(&mut self, o: &Obj<'v>, name: &str) -> Option<&'v Value> {
        let v = o.get(name);
        if v.is_none() {
            self.fault(o.at(name), None, Rule::Required);
        }
        v
    }

    fn string<'v>(&mut self, v: &'v Value, path: JsonPath) -> Option<&'v str> {
        match v.as_str() {
            Some(s) if s.contains('\0') => {
                self.fault(path, Some(v), Rule::Nul);
                None
            }
            Some(s) => Some(s),
            None => {
                self.fault(
                    path,
                    Some(v),
                    Rule::Type {
                        expected: "a string",
                    },
                );
                None
            }
        }
    }

    /// An optional string field: `Some(None)` when absent, `None` on a fault.
    fn opt_string<'v>(&mut self, o: &Obj<'v>, name: &str) -> Option<Option<&'v str>> {
        match o.get(name) {
            None => Some(None),
            Some(v) => self.string(v, o.at(name)).map(Some),
        }
    }

    fn int(&mut self, v: &Value, path: JsonPath, min: i64, max: i64) -> Option<i64> {
        let n = match v {
            Value::Number(n) if n.is_i64() => n.as_i64(),
            Value::Number(n) if n.is_u64() => None,
            _ => {
                self.fault(
                    path,
                    Some(v),
                    Rule::Type {
                        expected: "an integer",
                    },
                );
                return None;
            }
        };
        match n {
            Some(n) if (min..=max).contains(&n) => Some(n),
            _ => {
                self.fault(path, Some(v), Rule::Range { min, max });
                None
            }
        }
    }

    /// An optional integer field in `min..=max`.
    fn opt_int(&mut self, o: &Obj<'_>, name: &str, min: i64, max: i64) -> Option<Option<i64>> {
        match o.get(name) {
            None => Some(None),
            Some(v) => self.int(v, o.at(name), min, max).map(Some),
        }
    }

    fn opt_bool(&mut self, o: &Obj<'_>, name: &str) -> Option<bool> {
        match o.get(name) {
            None => Some(false),
            Some(Value::Bool(b)) => Some(*b),
            Some(v) => {
                self.fault(
                    o.at(name),
                    Some(v),
                    Rule::Type {
                        expected: "true or false",
                    },
                );
                None
            }
        }
    }

    /// One of a fixed set of string literals.
    fn literal<T>(
        &mut self,
        v: &Value,
        path: JsonPath,
        allowed: &'static [&'static str],
        from_name: fn(&str) -> Option<T>,
    ) -> Option<T> {
        let found = v.as_str().and_then(from_name);
        if found.is_none() {
            self.fault(path, Some(v), Rule::OneOf { allowed });
        }
        found
    }

    /// An array field with a default of `[]`, each element decoded by `each`.
    /// `None` when the array or any element has a fault.
    fn list<T>(
        &mut self,
        o: &Obj<'_>,
        name: &str,
        mut each: impl FnMut(&mut Self, &Value, JsonPath) -> Option<T>,
    ) -> Option<Vec<T>> {
        let Some(v) = o.get(name) else {
            return Some(Vec::new());
        };
        let path = o.at(name);
        let Some(items) = v.as_array() else {
            self.fault(
                path,
                Some(v),
                Rule::Type {
                    expected: "an array",
                },
            );
            return None;
        };
        let decoded: Vec<Option<T>> = items
            .iter()
            .enumerate()
            .map(|(i, item)| each(self, item, path.index(i)))
            .collect();
        decoded.into_iter().collect()
    }

    /// Refuse `name` when it is set (non-null, and for arrays non-empty) on a
    /// kind it does not belong to.
    fn only_for(
        &mut self,
        o: &Obj<'_>,
        name: &str,
        kind: &str,
        applies_to: &'static [&'static str],
    ) {
        let Some(v) = o.get(name) else { return };
        let empty_list = v.as_array().is_some_and(|a| a.is_empty());
        if !applies_to.contains(&kind) && !empty_list {
            self.fault(
                o.at(name),
                Some(v),
                Rule::NotForKind {
                    kind: kind.to_owned(),
                    applies_to,
                },
            );
        }
    }
}
