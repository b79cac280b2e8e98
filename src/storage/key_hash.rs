//! [`KeyHash`]: the hasher of the storage engine's maps keyed by numbers
//! (a table's number, a block's offset), in place of std's SipHash, which
//! was ~6% of an indexed lookup's profile in the block cache and ~150
//! instructions of every table lookup by number.
//!
//! A folded multiply under a random per-map seed: the keys are not secret,
//! but a user who can shape block offsets (by the sizes of the rows they
//! write) cannot choose colliding ones without the seed.

use std::hash::{BuildHasher, Hasher};

/// Builds [`KeyHasher`]s under one seed.
#[derive(Clone, Copy)]
pub(crate) struct KeyHash {
    seed: u64,
}

impl KeyHash {
    /// A hasher under a seed std draws from the OS (once per process).
    pub(crate) fn random() -> KeyHash {
        KeyHash {
            seed: std::collections::hash_map::RandomState::new().hash_one(0x005e_a1db_u64),
        }
    }
}

impl BuildHasher for KeyHash {
    type Hasher = KeyHasher;

    fn build_hasher(&self) -> KeyHasher {
        KeyHasher(self.seed)
    }
}

pub(crate) struct KeyHasher(u64);

impl Hasher for KeyHasher {
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.write_u64(u64::from(b));
        }
    }

    fn write_u64(&mut self, x: u64) {
        let m = u128::from(self.0 ^ x) * u128::from(0x9e37_79b9_7f4a_7c15_u64);
        self.0 = (m as u64) ^ ((m >> 64) as u64);
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_spread_over_the_top_bits() {
        // hashbrown takes its control byte from the top 7 bits and its
        // bucket from the low ones: sequential numbers must vary in both.
        let h = KeyHash { seed: 12345 };
        let hashes: Vec<u64> = (0..1024u64).map(|n| h.hash_one(n)).collect();
        let tops: std::collections::HashSet<u64> = hashes.iter().map(|x| x >> 57).collect();
        let lows: std::collections::HashSet<u64> = hashes.iter().map(|x| x & 1023).collect();
        assert!(tops.len() > 100, "{}", tops.len());
        assert!(lows.len() > 600, "{}", lows.len());
        // A different seed, different hashes.
        let g = KeyHash { seed: 54321 };
        assert!(
            (0..64u64)
                .filter(|&n| g.hash_one(n) == h.hash_one(n))
                .count()
                < 2
        );
    }
}
