//! The brain's statistics against figures worked out by hand: a scripted
//! stream in which `a` is followed by `b` after 100, 110, 90, 105 and 95 ms
//! gives a crystal of exactly that count, mean and σ, and a Sequence rule
//! within mean + 2σ; a stream with no dependency between its kinds gives no
//! crystal; decay halves a count after one half-life.

use ente_brain::{Action, Observer, Params, Rule, Shape, crystallise};

/// `a`, then `b` `gap` ms later, each pair 20 s after the last (past the
/// 10 s horizon, so pairs do not follow one another), with `noise`: `c`,
/// `d` and `e` 12, 13 and 14 s after each `a` (past its horizon too).
fn scripted(gaps: &[u64], noise: bool) -> Observer {
    let mut o = Observer::new();
    let mut t = 1_000;
    for (i, gap) in gaps.iter().enumerate() {
        o.record("a", t);
        o.record("b", t + gap);
        if noise {
            for (j, kind) in ["c", "d", "e"].iter().enumerate() {
                o.record(kind, t + 12_000 + 1_000 * j as u64 + i as u64);
            }
        }
        t += 20_000;
    }
    o
}

#[test]
fn a_then_b_after_100_110_90_105_95_ms_is_a_crystal_with_those_statistics() {
    let o = scripted(&[100, 110, 90, 105, 95], true);
    let crystals = crystallise(&o, &Params::RELAXED);
    let c = crystals
        .iter()
        .find(|c| c.a == "a" && c.b == "b")
        .unwrap_or_else(|| panic!("no crystal a -> b among {crystals:?}"));
    assert_eq!(c.gaps.count, 5);
    assert_eq!(c.support, 5.0);
    assert_eq!(c.p_b_given_a, 1.0, "every a was followed by b");
    // Mean 100; deviations 0, 10, -10, 5, -5: squares sum to 250, the
    // population variance is 50, σ = √50.
    assert_eq!(c.gaps.mean_ms(), 100.0);
    assert!(
        (c.gaps.stddev_ms() - 50f64.sqrt()).abs() < 1e-9,
        "{}",
        c.gaps.stddev_ms()
    );
    assert_eq!(c.gaps.max_ms, 110);
    // 25 events; while `a` was recent only `b` came (5 of them, `a`'s
    // exposure 5), and `b` is 5 of the 25: the lift is 5 * 25 / (5 * 5) =
    // 5, PMI = log2 5 bits.
    assert!((c.pmi - 5f64.log2()).abs() < 1e-9, "{}", c.pmi);

    let rule = Rule::from_crystal(c, Action::Event("a-then-b".into()));
    match &rule.shape {
        Shape::Sequence {
            then, within_ms, ..
        } => {
            assert_eq!(then.kind, "b");
            // mean + 2σ = 100 + 2√50 = 114.142...: within 115 ms.
            assert_eq!(*within_ms, 115);
        }
        Shape::Single => panic!("5 gaps make a Sequence: {rule:?}"),
    }
}

#[test]
fn fewer_than_four_gaps_make_a_single_rule() {
    let o = scripted(&[100, 110, 90], true);
    let c = crystallise(&o, &Params::RELAXED)
        .into_iter()
        .find(|c| c.a == "a" && c.b == "b")
        .expect("a crystal");
    assert_eq!(c.gaps.count, 3);
    let rule = Rule::from_crystal(&c, Action::Event("x".into()));
    assert_eq!(rule.shape, Shape::Single);
    assert_eq!(rule.on.kind, "a");
}

/// A deterministic stream of independent draws: xorshift64.
fn independent(n: usize, kinds: &[&str]) -> Observer {
    let mut o = Observer::new();
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut t = 0;
    for _ in 0..n {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let kind = kinds[(x % kinds.len() as u64) as usize];
        t += 1 + (x >> 32) % 400;
        o.record(kind, t);
    }
    o
}

#[test]
fn a_stream_with_no_dependency_gives_no_crystal() {
    let o = independent(20_000, &["a", "b", "c", "d", "e", "f"]);
    let crystals = crystallise(&o, &Params::RELAXED);
    assert!(
        crystals.is_empty(),
        "independent kinds crystallised: {crystals:?}"
    );
    // Their pointwise mutual information is about 0, not merely under 1.
    for (a, b, _, _, pmi, _) in o.pairs() {
        assert!(pmi.abs() < 0.2, "{a} -> {b}: PMI {pmi}");
    }
}

#[test]
fn decay_halves_a_count_after_one_half_life() {
    let mut o = Observer::new().with_half_life(60_000.0);
    for _ in 0..8 {
        o.record("a", 1_000);
    }
    assert!((o.count("a") - 8.0).abs() < 1e-9);
    // One half-life later: the clock moves with the next event.
    o.record("z", 1_000 + 60_000);
    assert!((o.count("a") - 4.0).abs() < 1e-9, "{}", o.count("a"));
    o.record("z", 1_000 + 120_000);
    assert!((o.count("a") - 2.0).abs() < 1e-9, "{}", o.count("a"));
}

#[test]
fn what_a_snapshot_keeps_gives_the_same_crystals() {
    let o = scripted(&[100, 110, 90, 105, 95], true);
    let saved = serde_json::to_string(&o.save()).expect("json");
    let back = Observer::restore(serde_json::from_str(&saved).expect("json")).expect("whole");
    assert_eq!(
        crystallise(&o, &Params::RELAXED),
        crystallise(&back, &Params::RELAXED)
    );
}

#[test]
fn a_restored_observer_goes_on_from_its_saved_time_on_a_clock_that_began_again() {
    // Saved late in one host's life (its clock near 500 s); the next
    // host's clock starts again at 0. Its gaps are still measured, and its
    // decay still runs: the saved time is not a wall the new events pile
    // up against.
    let mut o = Observer::new().with_half_life(60_000.0);
    o.record("a", 500_000);
    let saved = serde_json::to_string(&o.save()).expect("json");
    let mut back = Observer::restore(serde_json::from_str(&saved).expect("json")).expect("whole");
    for start in [1_000, 2_000, 3_000] {
        back.record("x", start);
        back.record("y", start + 100);
    }
    let pair = back.pair("x", "y").expect("x then y");
    assert_eq!(pair.gaps.count, 3);
    assert!(
        (pair.gaps.mean_ms() - 100.0).abs() < 1e-9,
        "{:?}",
        pair.gaps
    );
    // The last event is 2,100 ms after the first of this life, which came
    // at the saved time.
    assert_eq!(back.now_ms(), 502_100);
    let left = back.count("a");
    assert!(
        (left - 0.5f64.powf(2_100.0 / 60_000.0)).abs() < 1e-9,
        "{left}"
    );
}

#[test]
fn a_state_cut_to_size_keeps_the_pairs_of_most_support() {
    let mut o = Observer::new();
    // a then b five times, c then d once.
    for i in 0..5 {
        o.record("a", i * 1_000);
        o.record("b", i * 1_000 + 100);
    }
    o.record("c", 20_000);
    o.record("d", 20_100);
    let mut saved = o.save();
    let all = saved.pairs();
    assert!(all > 2, "{all}");
    saved.keep_strongest(1);
    assert_eq!(saved.pairs(), 1);
    let back = Observer::restore(saved.clone()).expect("whole");
    assert_eq!(back.pair("a", "b").map(|p| p.gaps.count), Some(5));
    assert!(back.pair("c", "d").is_none());
    saved.forget_counts();
    let back = Observer::restore(saved).expect("whole");
    assert_eq!(back.pairs().count(), 0);
    assert_eq!(back.count("a"), 0.0);

    // With a half-life, support as of the last event: a then b five times
    // long ago is weaker now than c then d twice lately.
    let mut o = Observer::new().with_half_life(1_000.0);
    for i in 0..5 {
        o.record("a", i * 1_000);
        o.record("b", i * 1_000 + 100);
    }
    for i in 0..2 {
        o.record("c", 100_000 + i * 1_000);
        o.record("d", 100_000 + i * 1_000 + 100);
    }
    let mut saved = o.save();
    saved.keep_strongest(1);
    let back = Observer::restore(saved).expect("whole");
    assert!(back.pair("c", "d").is_some(), "the recent pair kept");
    assert!(back.pair("a", "b").is_none());
}

#[test]
fn the_brain_promotes_each_crystal_once_on_its_own() {
    use ente_brain::{Rules, autopromote};
    let o = scripted(&[100, 110, 90, 105, 95], true);
    let mut rules = Rules::new();
    let action = |a: &str, b: &str| Action::Event(format!("{a} then {b}"));
    let first = autopromote(&o, &mut rules, &Params::RELAXED, 64, action);
    assert!(
        first.iter().any(|j| j.contains("\"a > b\"")),
        "a > b promoted: {first:?}"
    );
    let (rule, _) = rules
        .iter()
        .find(|(r, _)| r.name == "a > b")
        .expect("the rule in force");
    assert!(
        matches!(rule.shape, Shape::Sequence { within_ms: 115, .. }),
        "{rule:?}"
    );
    assert_eq!(rule.action, Action::Event("a then b".into()));
    // Again: nothing new.
    let again = autopromote(&o, &mut rules, &Params::RELAXED, 64, action);
    assert!(again.is_empty(), "{again:?}");
    // At most as many as asked for at once; the rest on a later call.
    let mut capped = Rules::new();
    assert_eq!(
        autopromote(&o, &mut capped, &Params::RELAXED, 1, action).len(),
        1
    );
    assert_eq!(capped.len(), 1);
    // Strict thresholds promote none of these few events.
    let mut strict = Rules::new();
    assert!(autopromote(&o, &mut strict, &Params::STRICT, 64, action).is_empty());
}
