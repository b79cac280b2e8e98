//! The sequence numbers live snapshots read at, each with how many
//! snapshots read there: compaction keeps every version the smallest of
//! them can see.
//!
//! A sorted vector of (sequence number, count), at most one entry per
//! number and no entry with a count of zero. A snapshot is taken at the
//! newest visible number, which only grows, so taking one adds to the last
//! entry or appends after it, and dropping one finds its entry by a binary
//! search over few entries (as many as the distinct numbers open snapshots
//! read at: open transactions, checkpoints). Every autocommit statement
//! takes a snapshot and drops it; a B-tree map's search, insertion and
//! removal cost ~270 instructions for that, the vector about a third.

/// See the module documentation.
#[derive(Default)]
pub(crate) struct SnapshotCounts {
    live: Vec<(u64, usize)>,
}

impl SnapshotCounts {
    /// A snapshot at `seq` was taken.
    pub(crate) fn add(&mut self, seq: u64) {
        match self.live.last_mut() {
            Some((s, n)) if *s == seq => *n += 1,
            Some((s, _)) if *s > seq => match self.live.binary_search_by_key(&seq, |e| e.0) {
                Ok(i) => self.live[i].1 += 1,
                Err(i) => self.live.insert(i, (seq, 1)),
            },
            _ => self.live.push((seq, 1)),
        }
    }

    /// A snapshot at `seq` was dropped (one that [`SnapshotCounts::add`]
    /// counted; an unknown number is ignored).
    pub(crate) fn remove(&mut self, seq: u64) {
        if let Ok(i) = self.live.binary_search_by_key(&seq, |e| e.0) {
            self.live[i].1 -= 1;
            if self.live[i].1 == 0 {
                self.live.remove(i);
            }
        }
    }

    /// The smallest number a live snapshot reads at.
    pub(crate) fn smallest(&self) -> Option<u64> {
        self.live.first().map(|e| e.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    /// Against a map of counts, over takes and drops in any order, at
    /// numbers that mostly grow (as the engine's do) and sometimes not.
    #[test]
    fn counts_match_a_map() {
        let mut rng = crate::storage::test_rng::Rng(47);
        let mut c = SnapshotCounts::default();
        let mut model: BTreeMap<u64, usize> = BTreeMap::new();
        let mut held: Vec<u64> = Vec::new();
        let mut seq = 10u64;
        for _ in 0..20_000 {
            match rng.below(10) {
                0..=4 => {
                    if rng.below(4) == 0 {
                        seq += rng.below(3);
                    }
                    // Now and then an older number (a checkpoint's).
                    let at = if rng.below(20) == 0 {
                        seq.saturating_sub(rng.below(8))
                    } else {
                        seq
                    };
                    c.add(at);
                    *model.entry(at).or_insert(0) += 1;
                    held.push(at);
                }
                _ if !held.is_empty() => {
                    let at = held.swap_remove(rng.below(held.len() as u64) as usize);
                    c.remove(at);
                    let n = model.get_mut(&at).expect("held");
                    *n -= 1;
                    if *n == 0 {
                        model.remove(&at);
                    }
                }
                _ => {}
            }
            assert_eq!(c.smallest(), model.keys().next().copied());
            assert_eq!(c.live.len(), model.len());
            assert!(c.live.iter().all(|e| e.1 == model[&e.0]));
            assert!(c.live.windows(2).all(|w| w[0].0 < w[1].0));
        }
    }
}
