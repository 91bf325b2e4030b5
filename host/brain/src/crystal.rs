//! Crystals: the pairs of kinds that keep occurring together.

use crate::observer::Observer;
use crate::stats::GapStats;
use alloc::string::String;
use alloc::vec::Vec;
use serde::{Deserialize, Serialize};

/// What a pair must pass to crystallise.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Params {
    /// Occurrences of `a` followed by `b` (decayed), at least.
    pub min_support: f64,
    /// P(b|a), at least (in [0, 1]).
    pub min_conditional_prob: f64,
    /// Pointwise mutual information in bits, at least.
    pub min_pmi: f64,
}

impl Params {
    /// Strict: for a graph that runs for days.
    pub const STRICT: Params = Params {
        min_support: 10.0,
        min_conditional_prob: 0.6,
        min_pmi: 2.0,
    };
    /// Relaxed: a demo's few events crystallise.
    pub const RELAXED: Params = Params {
        min_support: 2.0,
        min_conditional_prob: 0.3,
        min_pmi: 1.0,
    };
}

impl Default for Params {
    fn default() -> Params {
        Params::STRICT
    }
}

/// A pair that passed: `a`, then `b`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Crystal {
    pub a: String,
    pub b: String,
    pub support: f64,
    pub p_b_given_a: f64,
    pub pmi: f64,
    pub gaps: GapStats,
}

/// Every pair that passes `params`, the best supported first.
pub fn crystallise(o: &Observer, params: &Params) -> Vec<Crystal> {
    let mut found: Vec<Crystal> = o
        .pairs()
        .filter(|&(_, _, support, p, pmi, _)| {
            support >= params.min_support
                && p >= params.min_conditional_prob
                && pmi >= params.min_pmi
        })
        .map(|(a, b, support, p_b_given_a, pmi, gaps)| Crystal {
            a: a.into(),
            b: b.into(),
            support,
            p_b_given_a,
            pmi,
            gaps,
        })
        .collect();
    found.sort_by(|x, y| {
        y.support
            .total_cmp(&x.support)
            .then_with(|| x.a.cmp(&y.a))
            .then_with(|| x.b.cmp(&y.b))
    });
    found
}
