//! The card object itself: identity, lineage, and the recursion into genesis.

use super::{Decoder, Obj};
use crate::SCHEMA_VERSION;
use crate::fault::{JsonPath, Rule};
use crate::model::Card;
use serde_json::Value;
use ulid::Ulid;

const CARD_FIELDS: &[&str] = &[
    "schema_version",
    "id",
    "lineage",
    "label",
    "provides",
    "requires",
    "soma",
    "payload",
    "supervision",
    "genesis",
];

/// A canonical ULID: what `Ulid::to_string` gives back for the parsed value.
/// This refuses lower case, the letters I, L, O and U, and values past 2^128.
pub(crate) fn parse_ulid(s: &str) -> Option<Ulid> {
    Ulid::from_string(s).ok().filter(|u| u.to_string() == s)
}

/// Where a card sits in its document.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Parent<'a> {
    /// The document's root card.
    Root,
    /// A genesis child of the card with this id.
    Card(&'a str),
    /// A genesis child of a card whose id is not a string.
    Unreadable,
}

impl Decoder {
    /// A card at `path`, in the genesis of `parent`.
    pub(super) fn card(&mut self, v: &Value, path: &JsonPath, parent: Parent<'_>) -> Option<Card> {
        let o = self.object(v, path, "EntityCard", CARD_FIELDS)?;

        let schema_version = match o.get("schema_version") {
            None => Some(SCHEMA_VERSION),
            Some(v) => match self.int(v, o.at("schema_version"), i64::MIN, i64::MAX) {
                Some(SCHEMA_VERSION) => Some(SCHEMA_VERSION),
                Some(_) => {
                    self.fault(o.at("schema_version"), Some(v), Rule::SchemaVersion);
                    None
                }
                None => None,
            },
        };
        let id = self
            .required(&o, "id")
            .and_then(|v| self.ulid(v, o.at("id")));
        let id_text = o.get("id").and_then(Value::as_str);
        let lineage = self.lineage(&o, parent);
        let label = self.required(&o, "label").and_then(|v| {
            let s = self.string(v, o.at("label"))?;
            if s.is_empty() {
                self.fault(o.at("label"), Some(v), Rule::Empty);
                return None;
            }
            Some(s.to_owned())
        });
        let provides = self.list(&o, "provides", Self::capability);
        let requires = self.list(&o, "requires", Self::capability);
        if let (Some(provides), Some(requires)) = (&provides, &requires) {
            for (i, cap) in requires.iter().enumerate() {
                if provides.contains(cap) {
                    let at = o.at("requires").index(i);
                    let shown = o.get("requires").and_then(|r| r.get(i));
                    self.fault(at, shown, Rule::SelfDependency);
                }
            }
        }
        let soma = self
            .required(&o, "soma")
            .and_then(|v| self.soma(v, &o.at("soma")));
        let payload = self
            .required(&o, "payload")
            .and_then(|v| self.payload(v, &o.at("payload")));
        let supervision = self
            .required(&o, "supervision")
            .and_then(|v| self.supervision(v, &o.at("supervision")));
        let genesis = self.genesis(&o, id_text);

        Some(Card {
            schema_version: schema_version?,
            id: id?,
            lineage: lineage?,
            label: label?,
            provides: provides?,
            requires: requires?,
            soma: soma?,
            payload: payload?,
            supervision: supervision?,
            genesis: genesis?,
        })
    }

    fn ulid(&mut self, v: &Value, path: JsonPath) -> Option<Ulid> {
        let s = self.string(v, path.clone())?;
        let id = parse_ulid(s);
        if id.is_none() {
            self.fault(path, Some(v), Rule::Ulid);
        }
        id
    }

    /// A root card's lineage is free (any ULID, or none); a child's must be
    /// its parent's id.
    fn lineage(&mut self, o: &Obj<'_>, parent: Parent<'_>) -> Option<Option<Ulid>> {
        let v = o.get("lineage");
        let lineage = match v {
            None => None,
            Some(v) => Some(self.ulid(v, o.at("lineage"))?),
        };
        if let Parent::Card(parent) = parent
            && v.and_then(Value::as_str) != Some(parent)
        {
            let rule = Rule::Lineage {
                parent: parent.to_owned(),
            };
            self.fault(o.at("lineage"), v, rule);
            return None;
        }
        Some(lineage)
    }

    fn genesis(&mut self, o: &Obj<'_>, parent_id: Option<&str>) -> Option<Vec<Card>> {
        // Children of a parent whose id is missing are still checked; only
        // the comparison of their lineage is left out (the parent's id
        // already has its fault).
        let parent = parent_id.map_or(Parent::Unreadable, Parent::Card);
        self.list(o, "genesis", |d, v, path| d.card(v, &path, parent))
    }
}
