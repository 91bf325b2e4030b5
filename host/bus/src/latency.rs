//! How long an Ente's calls take: a histogram of fixed buckets, counted
//! with relaxed atomic adds on the caller's thread (no lock, no
//! allocation), read by the metrics as Prometheus' cumulative buckets.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// The buckets' upper bounds, in seconds: 10 µs to 5 s, for calls that
/// run from a few microseconds (a Wasm handler) to a deadline's length.
pub const BOUNDS: [f64; 14] = [
    0.000_01, 0.000_05, 0.000_1, 0.000_25, 0.000_5, 0.001, 0.002_5, 0.005, 0.01, 0.05, 0.1, 0.5,
    1.0, 5.0,
];

/// The bounds in nanoseconds.
const BOUNDS_NS: [u64; 14] = [
    10_000,
    50_000,
    100_000,
    250_000,
    500_000,
    1_000_000,
    2_500_000,
    5_000_000,
    10_000_000,
    50_000_000,
    100_000_000,
    500_000_000,
    1_000_000_000,
    5_000_000_000,
];

/// Calls counted by how long each took.
#[derive(Debug, Default)]
pub struct Latency {
    /// Calls in each bucket (not cumulative); the last is past every bound.
    counts: [AtomicU64; 15],
    sum_ns: AtomicU64,
}

/// A histogram read at once: cumulative counts per bound, then all.
#[derive(Debug, Clone, PartialEq)]
pub struct LatencyRead {
    /// (upper bound in seconds, calls that took at most that long).
    pub buckets: Vec<(f64, u64)>,
    pub count: u64,
    pub sum_seconds: f64,
}

impl Latency {
    pub fn record(&self, took: Duration) {
        let ns = u64::try_from(took.as_nanos()).unwrap_or(u64::MAX);
        let at = BOUNDS_NS.partition_point(|&b| b < ns);
        self.counts[at].fetch_add(1, Ordering::Relaxed);
        self.sum_ns.fetch_add(ns, Ordering::Relaxed);
    }

    pub fn read(&self) -> LatencyRead {
        let mut running = 0u64;
        let mut buckets = Vec::with_capacity(BOUNDS.len());
        for (bound, count) in BOUNDS.iter().zip(&self.counts) {
            running += count.load(Ordering::Relaxed);
            buckets.push((*bound, running));
        }
        LatencyRead {
            buckets,
            count: running + self.counts[BOUNDS.len()].load(Ordering::Relaxed),
            sum_seconds: self.sum_ns.load(Ordering::Relaxed) as f64 / 1e9,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounds_agree_in_both_units() {
        for (s, ns) in BOUNDS.iter().zip(BOUNDS_NS) {
            assert_eq!((s * 1e9).round() as u64, ns);
        }
    }

    #[test]
    fn a_call_is_counted_in_the_first_bucket_it_fits_and_every_one_after() {
        let l = Latency::default();
        l.record(Duration::from_micros(10)); // at the bound: le 10 µs
        l.record(Duration::from_micros(11));
        l.record(Duration::from_millis(3));
        l.record(Duration::from_secs(9)); // past every bound: +Inf only
        let r = l.read();
        assert_eq!(r.count, 4);
        assert_eq!(r.buckets[0], (0.000_01, 1));
        assert_eq!(r.buckets[1], (0.000_05, 2));
        assert_eq!(r.buckets[6], (0.002_5, 2));
        assert_eq!(r.buckets[7], (0.005, 3));
        assert_eq!(r.buckets[13], (5.0, 3));
        let want = 9.003_021;
        assert!((r.sum_seconds - want).abs() < 1e-9, "{}", r.sum_seconds);
    }
}
