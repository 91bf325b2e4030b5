//! Counts that decay, and the statistics of gaps in O(1).

use serde::{Deserialize, Serialize};

/// A count that halves every `half_life_ms` (or never decays, without
/// one), read at a time: `value * 2^-(now - at) / half_life`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Decayed {
    pub value: f64,
    pub at_ms: u64,
}

impl Decayed {
    /// Its value at `now_ms` (never before the last add: then as it was).
    pub fn at(&self, now_ms: u64, half_life_ms: Option<f64>) -> f64 {
        match half_life_ms {
            Some(h) if h > 0.0 && now_ms > self.at_ms => {
                let elapsed = (now_ms - self.at_ms) as f64;
                self.value * libm::exp2(-elapsed / h)
            }
            _ => self.value,
        }
    }

    pub fn add(&mut self, n: f64, now_ms: u64, half_life_ms: Option<f64>) {
        self.value = self.at(now_ms, half_life_ms) + n;
        self.at_ms = self.at_ms.max(now_ms);
    }
}

/// The gaps between two events: how many, their mean, standard deviation
/// (the population's, from a running sum of squares) and maximum.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct GapStats {
    pub count: u64,
    pub sum_ms: f64,
    pub sum_sq_ms: f64,
    pub max_ms: u64,
}

impl GapStats {
    pub fn add(&mut self, gap_ms: u64) {
        let g = gap_ms as f64;
        self.count += 1;
        self.sum_ms += g;
        self.sum_sq_ms += g * g;
        self.max_ms = self.max_ms.max(gap_ms);
    }

    pub fn mean_ms(&self) -> f64 {
        if self.count == 0 {
            0.0
        } else {
            self.sum_ms / self.count as f64
        }
    }

    pub fn stddev_ms(&self) -> f64 {
        if self.count == 0 {
            return 0.0;
        }
        let n = self.count as f64;
        let mean = self.sum_ms / n;
        // Rounding can take it a hair below zero.
        libm::sqrt((self.sum_sq_ms / n - mean * mean).max(0.0))
    }
}

/// The hasher of maps keyed by the observer's own ids (a pair of kinds).
/// Those ids are dense and handed out here in order, so no input chooses
/// them to collide, and a keyed hash is not needed; foldhash's 128-bit
/// multiplies, emulated in wasm32, cost more there than the rest of an
/// event. murmur3's 64-bit finaliser spreads the ids over every bit.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct IdHasher(u64);

impl core::hash::Hasher for IdHasher {
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(b);
        }
    }

    fn write_u32(&mut self, x: u32) {
        self.0 = (self.0 << 32) | u64::from(x);
    }

    fn finish(&self) -> u64 {
        let mut h = self.0;
        h ^= h >> 33;
        h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
        h ^= h >> 33;
        h = h.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
        h ^ (h >> 33)
    }
}

/// Maps keyed by ids, hashed by [`IdHasher`].
pub(crate) type IdMap<K, V> = hashbrown::HashMap<K, V, core::hash::BuildHasherDefault<IdHasher>>;
