//! The rule engine ("brain") of ente, as plain `no_std` Rust: the brain
//! component (`guests/brain`) is this behind `ente:core/brain`, and the
//! host builds it natively for the benchmark's baseline and to check rules
//! files (`ente check`).
//!
//! - [`Observer`]: counts each event kind, and for each ordered pair of
//!   kinds (a then b) how often an occurrence of `a` was followed by `b`
//!   within the horizon, with the gaps' statistics; optionally with time
//!   decay (a half-life).
//! - [`crystallise`]: the pairs whose support, conditional probability
//!   P(b|a) and pointwise mutual information pass the thresholds.
//! - [`Rule`]: a `Single` (on a) or a `Sequence` (a, then b within a time),
//!   with a subject filter, an action and a rate limit; a crystal becomes
//!   one ([`Rule::from_crystal`]); [`Rules`] runs them over events.
//!
//! An event's kind, as observed, is its kind and its Ente's label
//! (`died@flaky`): patterns are learnt per Ente.

#![no_std]

extern crate alloc;

mod batch;
mod crystal;
mod observer;
mod pairs;
mod promote;
mod rules;
mod stats;

pub use batch::{Compact, NONE, Names, NamesRef, compact, observe_batch};
pub use crystal::{Crystal, Params, crystallise};
pub use observer::{Event, EventRef, FANOUT, HORIZON_MS, Observer, Saved, WINDOW, key};
pub use promote::autopromote;
pub use rules::{
    Action, Fired, Limit, Match, RULES_MAX, Rule, RuleError, RuleFile, Rules, Shape, Target,
};
pub use stats::{Decayed, GapStats};
