//! Bloom filters over user keys, one per SSTable, so a point lookup skips
//! tables that cannot hold the key.
//!
//! ```text
//!   filter = bit array (m bits, m = max(64, keys × bits_per_key) rounded to bytes) | k u8
//! ```
//!
//! Probes use double hashing of one 64-bit hash (FNV-1a, then the splitmix64
//! finalizer). The hash is part of the file format (frozen): it must never
//! depend on the Rust version, so std's hasher is not used.

/// The frozen 64-bit key hash.
pub(crate) fn hash64(key: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in key {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h ^= h >> 30;
    h = h.wrapping_mul(0xbf58_476d_1ce4_e5b9);
    h ^= h >> 27;
    h = h.wrapping_mul(0x94d0_49bb_1331_11eb);
    h ^ (h >> 31)
}

/// Builds a filter from key hashes.
pub(crate) fn build(hashes: &[u64], bits_per_key: usize) -> Vec<u8> {
    let k = ((bits_per_key as f64 * 0.69) as usize).clamp(1, 30);
    let bits = (hashes.len() * bits_per_key).max(64);
    let bytes = bits.div_ceil(8);
    let nbits = (bytes * 8) as u64;
    let mut out = vec![0u8; bytes + 1];
    for &h in hashes {
        let mut x = h;
        let delta = h.rotate_left(21) | 1;
        for _ in 0..k {
            let bit = x % nbits;
            out[(bit / 8) as usize] |= 1 << (bit % 8);
            x = x.wrapping_add(delta);
        }
    }
    out[bytes] = k as u8;
    out
}

/// Whether `hash` may be in the filter (false means certainly not). A
/// malformed filter answers "may be", so damage costs speed, never results.
pub(crate) fn may_contain(filter: &[u8], hash: u64) -> bool {
    let Some((&k, bits)) = filter.split_last() else {
        return true;
    };
    if bits.is_empty() || k == 0 || k > 30 {
        return true;
    }
    let nbits = (bits.len() * 8) as u64;
    let mut x = hash;
    let delta = hash.rotate_left(21) | 1;
    for _ in 0..k {
        let bit = x % nbits;
        if bits[(bit / 8) as usize] & (1 << (bit % 8)) == 0 {
            return false;
        }
        x = x.wrapping_add(delta);
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_false_negatives_and_few_false_positives() {
        let keys: Vec<u64> = (0..10_000u32).map(|i| hash64(&i.to_be_bytes())).collect();
        let f = build(&keys, 10);
        assert!(keys.iter().all(|&h| may_contain(&f, h)));
        let fp = (10_000..110_000u32)
            .filter(|i| may_contain(&f, hash64(&i.to_be_bytes())))
            .count();
        assert!(fp < 2_000, "false positive rate {}%", fp as f64 / 1000.0);
    }
}
