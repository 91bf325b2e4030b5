//! What is wrong with a card, said so that a person can act on it.

use std::fmt;
use std::path::PathBuf;

/// A position inside a card document, shown as `genesis[0].soma.rlimits.nproc`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct JsonPath(Vec<Segment>);

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Segment {
    Field(String),
    Index(usize),
}

impl JsonPath {
    /// The document root.
    pub fn root() -> JsonPath {
        JsonPath(Vec::new())
    }

    /// This path extended by an object field.
    pub fn field(&self, name: &str) -> JsonPath {
        let mut next = self.clone();
        next.0.push(Segment::Field(name.to_owned()));
        next
    }

    /// This path extended by an array index.
    pub fn index(&self, i: usize) -> JsonPath {
        let mut next = self.clone();
        next.0.push(Segment::Index(i));
        next
    }
}

impl fmt::Display for JsonPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.is_empty() {
            return f.write_str("(card)");
        }
        for (i, seg) in self.0.iter().enumerate() {
            match seg {
                Segment::Field(name) if !is_identifier(name) => write!(f, "[{name:?}]")?,
                Segment::Field(name) if i == 0 => f.write_str(name)?,
                Segment::Field(name) => write!(f, ".{name}")?,
                Segment::Index(n) => write!(f, "[{n}]")?,
            }
        }
        Ok(())
    }
}

fn is_identifier(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

/// A rule of the card grammar. The `Display` text says the rule in words; the
/// [`Rule::code`] is stable, for tests and tools.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Rule {
    #[error("must be {expected}")]
    Type { expected: &'static str },
    #[error("is required")]
    Required,
    #[error("is not a field of {schema} (its fields are: {})", .allowed.join(", "))]
    UnknownField {
        schema: &'static str,
        allowed: &'static [&'static str],
    },
    #[error("must be one of: {}", .allowed.join(", "))]
    OneOf { allowed: &'static [&'static str] },
    #[error("applies only when kind is {}, not {kind}", .applies_to.join(" or "))]
    NotForKind {
        kind: String,
        applies_to: &'static [&'static str],
    },
    #[error("must be {supported}, the only schema version this host supports", supported = crate::SCHEMA_VERSION)]
    SchemaVersion,
    #[error("must not be empty")]
    Empty,
    #[error("must be a ULID: 26 characters of Crockford base32 in upper case, the first 0-7")]
    Ulid,
    #[error("must be {}", range_words(*.min, *.max))]
    Range { min: i64, max: i64 },
    #[error(
        "is also in provides: a capability cannot be both required and provided (self-dependency)"
    )]
    SelfDependency,
    #[error("must be the parent's id {parent}: a genesis child's lineage is its parent")]
    Lineage { parent: String },
    #[error("must be 32 lowercase hex characters (a 16-byte interface id)")]
    InterfaceHex,
    #[error("must be 64 lowercase hex characters (a blake3 digest)")]
    Blake3Hex,
    #[error(
        "must be a relative cgroup path below ente's slice: no leading '/', no empty, '.' or '..' parts"
    )]
    CgroupPath,
    #[error("must be a variable name: not empty, without '=' or NUL")]
    EnvName,
    #[error("must not contain NUL")]
    Nul,
    #[error("must be an absolute path: ente searches no PATH for a program")]
    AbsolutePath,
    #[error("is set twice in envp")]
    EnvTwice,
    #[error("must be >= initial_ms ({initial_ms}): a backoff cannot shrink")]
    MaxBelowInitial { initial_ms: i64 },
}

impl Rule {
    /// A short stable name for the rule.
    pub fn code(&self) -> &'static str {
        match self {
            Rule::Type { .. } => "type",
            Rule::Required => "required",
            Rule::UnknownField { .. } => "unknown-field",
            Rule::OneOf { .. } => "one-of",
            Rule::NotForKind { .. } => "not-for-kind",
            Rule::SchemaVersion => "schema-version",
            Rule::Empty => "empty",
            Rule::Ulid => "ulid",
            Rule::Range { .. } => "range",
            Rule::SelfDependency => "self-dependency",
            Rule::Lineage { .. } => "lineage",
            Rule::InterfaceHex => "interface-hex",
            Rule::Blake3Hex => "blake3-hex",
            Rule::CgroupPath => "cgroup-path",
            Rule::EnvName => "env-name",
            Rule::Nul => "nul",
            Rule::AbsolutePath => "absolute-path",
            Rule::EnvTwice => "env-twice",
            Rule::MaxBelowInitial { .. } => "max-below-initial",
        }
    }

    /// Whether JSON Schema can state this rule. Those it cannot (relations
    /// between fields or documents) are checked by the Rust validator and by
    /// `schema/card.k`, and listed in `schema/README.md`.
    pub fn json_schema_expressible(&self) -> bool {
        !matches!(
            self,
            Rule::SelfDependency
                | Rule::Lineage { .. }
                | Rule::EnvTwice
                | Rule::MaxBelowInitial { .. }
        )
    }
}

/// One thing wrong with a card: where, what value, which rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fault {
    pub path: JsonPath,
    /// The offending value as JSON, shortened; `None` when the field is absent.
    pub value: Option<String>,
    pub rule: Rule,
}

impl fmt::Display for Fault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.value {
            Some(v) => write!(f, "{} = {v}: {}", self.path, self.rule),
            None => write!(f, "{}: {}", self.path, self.rule),
        }
    }
}

/// Why a card file was refused.
#[derive(Debug, thiserror::Error)]
pub enum CardError {
    #[error("{file}: cannot read: {source}")]
    Read {
        file: PathBuf,
        source: std::io::Error,
    },
    #[error("{file}: {size} bytes is larger than a card may be ({max} bytes)")]
    TooLarge { file: PathBuf, size: u64, max: u64 },
    #[error("{file}: not a JSON card: {message} (line {line}, column {column})")]
    Syntax {
        file: PathBuf,
        message: String,
        line: usize,
        column: usize,
    },
    #[error("{file}: {} fault{}:\n{}", .faults.len(), if .faults.len() == 1 { "" } else { "s" }, list(.faults))]
    Invalid { file: PathBuf, faults: Vec<Fault> },
}

impl CardError {
    /// The faults of an invalid card; empty for the other errors.
    pub fn faults(&self) -> &[Fault] {
        match self {
            CardError::Invalid { faults, .. } => faults,
            _ => &[],
        }
    }
}

fn range_words(min: i64, max: i64) -> String {
    if max == i64::MAX {
        format!(">= {min}")
    } else {
        format!("{min}..={max}")
    }
}

fn list(faults: &[Fault]) -> String {
    let lines: Vec<String> = faults.iter().map(|f| format!("  {f}")).collect();
    lines.join("\n")
}
