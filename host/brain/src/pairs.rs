//! The observer's pairs of kinds, in a table made for the one lookup each
//! event does per kind in its fan-out.
//!
//! A kind is an id the observer hands out, below [`MAX_KINDS`], so a pair
//! is a 24-bit key, and the table is an index of 8-byte slots (linear
//! probing, at most half full) over the pairs in the order they came. A
//! probe is a multiply, a load and a compare: compiled to wasm32 it costs
//! a fraction of a general hash map's group match, which has no SIMD
//! there, and the slots of 65,536 pairs fit in 1 MiB of cache. Pairs are
//! never removed one by one (a restore builds a new table), so no probe
//! chain has holes.

use crate::observer::{MAX_KINDS, MAX_PAIRS, Pair};
use alloc::vec;
use alloc::vec::Vec;

const KIND_BITS: u32 = MAX_KINDS.trailing_zeros();
const _: () = assert!(MAX_KINDS.is_power_of_two() && 2 * KIND_BITS < 32);
const _: () = assert!(MAX_PAIRS as u64 <= 1 << 32);
/// The smallest index (a power of two).
const MIN_SLOTS: usize = 64;

/// A pair of kinds, `a` then `b`: (a, b).
pub(crate) type Kinds = (u32, u32);

#[derive(Debug, Clone, Default)]
pub(crate) struct PairTable {
    /// Empty (0), or a pair's key plus one in the high half and its
    /// position in `pairs` in the low half. Empty, or a power of two long.
    slots: Vec<u64>,
    kinds: Vec<Kinds>,
    pairs: Vec<Pair>,
    /// For each pair (a, b): the last occurrence of `a` whose first `b`
    /// it counted (0: none). The observer's; not part of a snapshot.
    counted: Vec<u64>,
}

/// The key of (a, b); `None` for an id past [`MAX_KINDS`].
fn key((a, b): Kinds) -> Option<u64> {
    let max = MAX_KINDS as u32;
    (a < max && b < max).then(|| (u64::from(a) << KIND_BITS | u64::from(b)) + 1)
}

impl PairTable {
    #[cfg(test)]
    fn len(&self) -> usize {
        self.pairs.len()
    }

    /// The first slot `key` may be in (of a non-empty index). Fibonacci
    /// hashing: the top bits of the product, which every bit of the key
    /// reaches.
    #[inline(always)]
    fn home(&self, key: u64) -> usize {
        let shift = 64 - self.slots.len().trailing_zeros();
        (key.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> shift) as usize
    }

    /// Where `key` is, or the empty slot where it would go.
    fn probe(&self, key: u64) -> usize {
        let mask = self.slots.len() - 1;
        let mut i = self.home(key);
        // Most probes end at the first slot: that one outside the loop (a
        // loop entered costs wasm an interruption check).
        let s = self.slots[i];
        if s == 0 || s >> 32 == key {
            return i;
        }
        i = (i + 1) & mask;
        loop {
            let s = self.slots[i];
            if s == 0 || s >> 32 == key {
                return i;
            }
            i = (i + 1) & mask;
        }
    }

    fn position(&self, kinds: Kinds) -> Option<usize> {
        let key = key(kinds)?;
        if self.slots.is_empty() {
            return None;
        }
        match self.slots[self.probe(key)] {
            0 => None,
            s => Some((s & 0xFFFF_FFFF) as usize),
        }
    }

    pub fn get(&self, kinds: Kinds) -> Option<&Pair> {
        self.position(kinds).map(|i| &self.pairs[i])
    }

    /// Where the pair (a, b) is, made (zero) if it is new and there is
    /// room: `None` past [`MAX_PAIRS`] or [`MAX_KINDS`]. A pair it has at
    /// its first slot, the common case, is found inline: no call and no
    /// loop (each costs compiled wasm an interruption check).
    #[inline(always)]
    pub fn find_or_insert(&mut self, kinds: Kinds) -> Option<usize> {
        if let Some(key) = key(kinds)
            && !self.slots.is_empty()
        {
            let s = self.slots[self.home(key)];
            if s >> 32 == key {
                return Some((s & 0xFFFF_FFFF) as usize);
            }
        }
        self.find_or_insert_further(kinds)
    }

    /// [`PairTable::find_or_insert`] past the first slot.
    #[inline(never)]
    fn find_or_insert_further(&mut self, kinds: Kinds) -> Option<usize> {
        let key = key(kinds)?;
        if 2 * (self.pairs.len() + 1) > self.slots.len() {
            if self.pairs.len() >= MAX_PAIRS {
                // Full: only a pair it has.
                return self.position(kinds);
            }
            self.grow();
        }
        let slot = self.probe(key);
        match self.slots[slot] {
            0 if self.pairs.len() >= MAX_PAIRS => None,
            0 => {
                let i = self.pairs.len();
                self.slots[slot] = key << 32 | i as u64;
                self.kinds.push(kinds);
                self.pairs.push(Pair::default());
                self.counted.push(0);
                Some(i)
            }
            s => Some((s & 0xFFFF_FFFF) as usize),
        }
    }

    /// The pair where [`PairTable::find_or_insert`] said it is, and its
    /// note of the occurrence it last counted.
    pub fn at_mut(&mut self, i: usize) -> (&mut Pair, &mut u64) {
        (&mut self.pairs[i], &mut self.counted[i])
    }

    /// Put a pair read back from a snapshot; `false` if it is there
    /// already, or past the bounds.
    pub fn insert_new(&mut self, kinds: Kinds, pair: Pair) -> bool {
        if self.position(kinds).is_some() {
            return false;
        }
        match self.find_or_insert(kinds) {
            Some(i) => {
                self.pairs[i] = pair;
                true
            }
            None => false,
        }
    }

    /// Twice the slots, or the first ones, each pair put again.
    fn grow(&mut self) {
        let n = (2 * self.slots.len()).max(MIN_SLOTS);
        self.slots = vec![0; n];
        for (i, &kinds) in self.kinds.iter().enumerate() {
            if let Some(key) = key(kinds) {
                let slot = self.probe(key);
                self.slots[slot] = key << 32 | i as u64;
            }
        }
    }

    /// Every pair, in the order they came.
    pub fn iter(&self) -> impl Iterator<Item = (Kinds, &Pair)> + '_ {
        self.kinds.iter().copied().zip(&self.pairs)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hashbrown::HashMap;

    fn bump(p: &mut Pair) {
        p.gaps.add(1);
    }

    #[test]
    fn it_counts_as_a_map_does_and_keeps_the_order_pairs_came_in() {
        let mut t = PairTable::default();
        let mut model: HashMap<Kinds, u64> = HashMap::new();
        let mut order = Vec::new();
        let mut x: u32 = 7;
        for _ in 0..20_000 {
            x = x.wrapping_mul(1_103_515_245).wrapping_add(12_345);
            let kinds = ((x >> 8) % 300, (x >> 20) % 300);
            let i = t.find_or_insert(kinds).expect("room");
            bump(t.at_mut(i).0);
            let n = model.entry(kinds).or_insert_with(|| {
                order.push(kinds);
                0
            });
            *n += 1;
        }
        assert_eq!(t.len(), model.len());
        for (kinds, p) in t.iter() {
            assert_eq!(Some(&p.gaps.count), model.get(&kinds), "{kinds:?}");
        }
        let got: Vec<Kinds> = t.iter().map(|(k, _)| k).collect();
        assert_eq!(got, order);
        assert!(t.get((300, 0)).is_none());
        assert!(2 * t.len() <= t.slots.len(), "at most half full");
    }

    #[test]
    fn past_its_bounds_it_keeps_what_it_has_and_takes_nothing_new() {
        let mut t = PairTable::default();
        let side = 256u32;
        for a in 0..side {
            for b in 0..side {
                assert!(t.find_or_insert((a, b)).is_some());
            }
        }
        assert_eq!(t.len(), MAX_PAIRS);
        assert!(t.find_or_insert((side, 0)).is_none(), "a new pair, full");
        let i = t.find_or_insert((3, 4)).expect("a pair it has, full");
        bump(t.at_mut(i).0);
        assert_eq!(t.get((3, 4)).map(|p| p.gaps.count), Some(1));
        let max = MAX_KINDS as u32;
        let mut small = PairTable::default();
        assert!(
            small.find_or_insert((max, 0)).is_none(),
            "a kind past the ids"
        );
        assert!(small.insert_new((1, 2), Pair::default()));
        assert!(!small.insert_new((1, 2), Pair::default()), "twice");
    }
}
