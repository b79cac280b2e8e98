//! Keys sorted for a bulk write (an index build), with their order
//! checked mostly without touching them.
//!
//! Each key is kept with its *head*: the 8 bytes after a prefix every key
//! has, zero-padded, as a big-endian number. For keys with that prefix a
//! smaller head means a smaller key (a key that ends early is padded with
//! zeros, below any byte the other has there), so sorting by (head, key)
//! sorts by key, and most comparisons are one integer compare. After the
//! sort the keys lie scattered in memory (they were made in table order):
//! checking that they are strictly ascending key by key would miss the
//! cache at every key, but two neighbours with different heads are in
//! order already, so only ties read the keys.
//!
//! Invariant: `keys` is sorted by key; `ascending` says whether strictly
//! (no key twice). Built only by [`SortedKeysBuilder`], which computes
//! every head itself and refuses a key without the prefix.

/// See the module documentation.
pub struct SortedKeys {
    pub(super) keys: Vec<(u64, Vec<u8>)>,
    pub(super) ascending: bool,
}

/// Collects the keys of a [`SortedKeys`].
pub struct SortedKeysBuilder {
    prefix: Vec<u8>,
    keys: Vec<(u64, Vec<u8>)>,
}

impl SortedKeysBuilder {
    /// A builder for keys that all start with `prefix`.
    pub fn new(prefix: &[u8]) -> SortedKeysBuilder {
        SortedKeysBuilder {
            prefix: prefix.to_vec(),
            keys: Vec::new(),
        }
    }

    /// Adds `key`; `false` (and the key is not added) if it does not start
    /// with the prefix.
    pub fn push(&mut self, key: Vec<u8>) -> bool {
        let Some(rest) = key.strip_prefix(self.prefix.as_slice()) else {
            return false;
        };
        let n = rest.len().min(8);
        let mut head = [0u8; 8];
        head[..n].copy_from_slice(&rest[..n]);
        self.keys.push((u64::from_be_bytes(head), key));
        true
    }

    /// The keys sorted, and whether each occurs once.
    pub fn finish(mut self) -> SortedKeys {
        let in_order =
            |w: &[(u64, Vec<u8>)]| w[0].0 < w[1].0 || (w[0].0 == w[1].0 && w[0].1 < w[1].1);
        // By heads alone, keeping the order keys were pushed in where
        // heads tie: an index build pushes in rowid order, and keys that
        // tie on their head (one value, several rows) then differ first in
        // the rowid, so they are in order already and the sort never
        // reads a key. The check finds it if not (other values sharing 8
        // bytes), and then the keys decide too.
        self.keys.sort_by_key(|e| e.0);
        let mut ascending = self.keys.windows(2).all(in_order);
        if !ascending {
            self.keys
                .sort_unstable_by(|a, b| a.0.cmp(&b.0).then_with(|| a.1.cmp(&b.1)));
            ascending = self.keys.windows(2).all(in_order);
        }
        SortedKeys {
            keys: self.keys,
            ascending,
        }
    }
}

impl SortedKeys {
    /// Number of keys.
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// The keys, in order.
    pub fn into_keys(self) -> Vec<Vec<u8>> {
        self.keys.into_iter().map(|(_, k)| k).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The builder sorts as a sort of the keys themselves does and finds
    /// repeated keys, for keys shorter and longer than a head, sharing
    /// heads, and with zero bytes where a shorter key is padded.
    #[test]
    fn sorts_like_the_keys_and_finds_repeats() {
        let mut rng = crate::storage::test_rng::Rng(0x0005_07ed_4e75);
        let prefix = b"ix\x00\x07";
        for case in 0..400 {
            let n = rng.below(60) as usize;
            let alphabet = [0u8, 1, 0x7f, 0x80, 0xff];
            let mut keys: Vec<Vec<u8>> = (0..n)
                .map(|_| {
                    let len = rng.below(14) as usize;
                    let mut k = prefix.to_vec();
                    // Mostly a shared head, so ties are common.
                    if rng.below(2) == 0 {
                        k.extend_from_slice(&[9, 9, 9, 9, 9, 9, 9, 9]);
                    }
                    k.extend((0..len).map(|_| alphabet[rng.below(5) as usize]));
                    k
                })
                .collect();
            if case % 4 == 0 && n > 1 {
                let dup = keys[0].clone();
                keys.push(dup);
            }
            let mut b = SortedKeysBuilder::new(prefix);
            for k in &keys {
                assert!(b.push(k.clone()));
            }
            let sorted = b.finish();
            let mut want = keys.clone();
            want.sort();
            let distinct = want.windows(2).all(|w| w[0] < w[1]);
            assert_eq!(sorted.ascending, distinct, "case {case}");
            assert_eq!(sorted.into_keys(), want, "case {case}");
        }
        // An index build's order: values in any order, the rows of one
        // value (same head, then the rowid) pushed in rowid order.
        let mut b = SortedKeysBuilder::new(prefix);
        let mut want = Vec::new();
        for row in 0..300u32 {
            let value = (row * 7919) % 23;
            let mut k = prefix.to_vec();
            k.extend_from_slice(&u64::from(value).to_be_bytes());
            k.extend_from_slice(&row.to_be_bytes());
            want.push(k.clone());
            assert!(b.push(k));
        }
        want.sort();
        let sorted = b.finish();
        assert!(sorted.ascending);
        assert_eq!(sorted.into_keys(), want);
        let mut b = SortedKeysBuilder::new(prefix);
        assert!(!b.push(b"iy\x00\x07abc".to_vec()));
        assert!(!b.push(b"ix".to_vec()));
        assert!(b.finish().is_empty());
    }
}
