//! The observer's fan-out (fixed slots, an order of bytes) against a plain
//! model of what it counts, written here the slow way (a list newest first,
//! each entry with its own list of followers): on any stream of kinds and
//! times, including more kinds than the fan-out holds, repeats, long gaps
//! past the horizon and times that go back, every pair's support, count
//! and gaps agree, and so does each kind's count. (The observer keeps no
//! list of followers: each pair notes the last occurrence of its `a` it
//! counted. The model's list, bounded at 16 as the observer's once was,
//! never reaches its bound: an occurrence leaves the fan-out of 8 before 8
//! other kinds follow it.)

use ente_brain::{FANOUT, HORIZON_MS, Observer};
use proptest::prelude::*;
use std::collections::BTreeMap;

/// Followers the model lists per occurrence, at most.
const FOLLOWERS: usize = 16;

struct Recent {
    kind: u8,
    at: u64,
    followers: Vec<u8>,
}

/// Per pair: support, all, gap count, gap sum, gap max.
type Counts = BTreeMap<(u8, u8), (f64, f64, u64, u64, u64)>;

/// Per pair, as the observer reports it: P(b|a), gap mean, count, sum, max.
type Reported = BTreeMap<(String, String), (f64, f64, u64, f64, u64)>;

fn model(stream: &[(u8, u64)]) -> (Counts, BTreeMap<u8, f64>) {
    let mut recent: Vec<Recent> = Vec::new();
    let mut pairs = Counts::new();
    let mut counts = BTreeMap::new();
    let mut now = 0;
    for &(b, at) in stream {
        let t = at.max(now);
        now = t;
        *counts.entry(b).or_insert(0.0) += 1.0;
        for l in &mut recent {
            if t - l.at > HORIZON_MS {
                break;
            }
            let p = pairs.entry((l.kind, b)).or_default();
            p.1 += 1.0;
            if !l.followers.contains(&b) && l.followers.len() < FOLLOWERS {
                l.followers.push(b);
                p.0 += 1.0;
                p.2 += 1;
                p.3 += t - l.at;
                p.4 = p.4.max(t - l.at);
            }
        }
        if let Some(i) = recent.iter().position(|l| l.kind == b) {
            recent.remove(i);
        } else if recent.len() == FANOUT {
            recent.pop();
        }
        recent.insert(
            0,
            Recent {
                kind: b,
                at: t,
                followers: Vec::new(),
            },
        );
    }
    (pairs, counts)
}

fn name(k: u8) -> String {
    format!("k{k}")
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn the_fan_out_counts_what_the_plain_model_counts(
        // Up to 24 kinds (three times the fan-out, so entries are evicted),
        // steps of 0 to 4 s with now and then one past the horizon, and
        // times that go back (taken as the last seen).
        steps in prop::collection::vec((0u8..24, 0u64..4_000, 0u8..20), 1..400),
    ) {
        let mut t = 0u64;
        let stream: Vec<(u8, u64)> = steps
            .iter()
            .map(|&(k, step, jump)| {
                t += step;
                if jump == 0 {
                    t += HORIZON_MS + 1;
                }
                // One event in 20 claims a time before the last.
                let at = if jump == 1 { t.saturating_sub(500) } else { t };
                (k, at)
            })
            .collect();
        let mut o = Observer::new();
        for &(k, at) in &stream {
            o.record(&name(k), at);
        }
        let (want, counts) = model(&stream);
        let got: Reported = o
            .pairs()
            .map(|(a, b, _n, p, _pmi, g)| {
                ((a.to_owned(), b.to_owned()), (p, g.mean_ms(), g.count, g.sum_ms, g.max_ms))
            })
            .collect();
        prop_assert_eq!(got.len(), want.len(), "pairs seen");
        for (&(a, b), &(support, all, gaps, sum, max)) in &want {
            let key = (name(a), name(b));
            let g = got.get(&key);
            prop_assert!(g.is_some(), "no pair {:?}", key);
            let (p, _mean, count, got_sum, got_max) = *g.unwrap_or(&(0.0, 0.0, 0, 0.0, 0));
            prop_assert_eq!(count, gaps, "gaps of {:?}", key);
            prop_assert_eq!(got_sum, sum as f64, "gap sum of {:?}", key);
            prop_assert_eq!(got_max, max, "gap max of {:?}", key);
            let count_a = counts[&a];
            prop_assert!((p - support / count_a).abs() < 1e-9, "P(b|a) of {:?}: {} against {}", key, p, support / count_a);
            let pair = o.pair(&name(a), &name(b));
            prop_assert!(pair.is_some_and(|pr| pr.support.value == support), "support of {:?}", key);
            prop_assert!(pair.is_some_and(|pr| pr.all.value == all), "every b after a, of {:?}", key);
        }
        for (&k, &n) in &counts {
            prop_assert_eq!(o.count(&name(k)), n);
        }
    }
}
