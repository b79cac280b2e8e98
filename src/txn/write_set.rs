//! A transaction's write set: its uncommitted writes by key, in key order.
//!
//! A B-tree holds them, plus an *ascending run*: a vector of writes whose
//! keys are all greater than every key in the tree, kept sorted. A write
//! above everything written so far (a load of ascending rowids, the most
//! common large transaction) is appended to the run with one comparison
//! instead of a descent through the tree; any other write goes to the
//! tree. Invariants:
//!
//! - the run is sorted and every run key is greater than every tree key;
//! - a key is in at most one of the two;
//! - so the tree's entries followed by the run's are the whole set in key
//!   order, and a range is the tree's range followed by the run's.
//!
//! A write below the end of the run but above its start moves the run's
//! keys below it into the tree first (each entry moves at most once, so a
//! load's cost stays linear). Removal only happens when a write is undone,
//! newest first, so a run key removed is at the run's end, or a range of
//! keys all written after everything above them in the run was undone
//! ([`WriteSet::remove_range`]); either keeps the run sorted.

use std::collections::BTreeMap;
use std::ops::Bound;

/// A write-set entry: `Some(value)` for a put, `None` for a delete.
pub(super) type Pending = Option<Vec<u8>>;

/// See the module documentation.
#[derive(Default)]
pub(super) struct WriteSet {
    tree: BTreeMap<Vec<u8>, Pending>,
    run: Vec<(Vec<u8>, Pending)>,
}

impl WriteSet {
    /// Whether nothing is written.
    pub(super) fn is_empty(&self) -> bool {
        self.tree.is_empty() && self.run.is_empty()
    }

    /// Where `key` is or would be in the run, if it belongs there (it is
    /// not below the run's first key).
    fn run_position(&self, key: &[u8]) -> Option<Result<usize, usize>> {
        let first = self.run.first()?;
        if key < first.0.as_slice() {
            return None;
        }
        Some(self.run.binary_search_by(|(k, _)| k.as_slice().cmp(key)))
    }

    /// The entry of `key`.
    pub(super) fn get(&self, key: &[u8]) -> Option<&Pending> {
        match self.run_position(key) {
            Some(Ok(i)) => Some(&self.run[i].1),
            Some(Err(_)) => None,
            None => self.tree.get(key),
        }
    }

    /// The entry of `key`, to change in place.
    pub(super) fn get_mut(&mut self, key: &[u8]) -> Option<&mut Pending> {
        match self.run_position(key) {
            Some(Ok(i)) => Some(&mut self.run[i].1),
            Some(Err(_)) => None,
            None => self.tree.get_mut(key),
        }
    }

    /// Room for `n` more writes in the run (a caller about to write that
    /// many keys in ascending order, above everything written so far).
    pub(super) fn reserve_run(&mut self, n: usize) {
        self.run.reserve(n);
    }

    /// Number of entries.
    #[cfg(test)]
    pub(super) fn len(&self) -> usize {
        self.tree.len() + self.run.len()
    }

    /// Puts `keys`, each with an empty value, at the end of the run if
    /// they are strictly ascending and the first is above every key
    /// written: one comparison per key, with the key before it (a bulk
    /// write such as an index build, whose keys would otherwise be
    /// compared once to check their order and again to append each).
    /// Otherwise the set is left as it was and the keys come back, in
    /// their order.
    pub(super) fn extend_run(&mut self, keys: Vec<Vec<u8>>) -> Result<(), Vec<Vec<u8>>> {
        // Every run key is above the tree, so a non-empty run's last key
        // is the largest (the loop compares the first key with it).
        if self.run.is_empty()
            && keys
                .first()
                .is_some_and(|first| self.tree.last_key_value().is_some_and(|(k, _)| first <= k))
        {
            return Err(keys);
        }
        let start = self.run.len();
        self.run.reserve(keys.len());
        let mut keys = keys.into_iter();
        while let Some(k) = keys.next() {
            if self.run.last().is_some_and(|(last, _)| k <= *last) {
                let mut back: Vec<Vec<u8>> = self.run.drain(start..).map(|(k, _)| k).collect();
                back.push(k);
                back.extend(keys);
                return Err(back);
            }
            self.run.push((k, Some(Vec::new())));
        }
        Ok(())
    }

    /// [`WriteSet::extend_run`] of keys the caller knows strictly
    /// ascending (a [`super::SortedKeys`]): only the first is compared,
    /// with the run's end or the tree's; `Err` gives the keys back
    /// untouched if it is not above them.
    pub(super) fn extend_run_ascending(&mut self, keys: Vec<Vec<u8>>) -> Result<(), Vec<Vec<u8>>> {
        let Some(first) = keys.first() else {
            return Ok(());
        };
        let above = match self.run.last() {
            Some((last, _)) => first > last,
            None => self.tree.last_key_value().is_none_or(|(k, _)| first > k),
        };
        if !above {
            return Err(keys);
        }
        self.run.reserve(keys.len());
        self.run
            .extend(keys.into_iter().map(|k| (k, Some(Vec::new()))));
        Ok(())
    }

    /// Sets the entry of `key`; the one it replaced.
    pub(super) fn insert(&mut self, key: Vec<u8>, value: Pending) -> Option<Pending> {
        match self.run.last() {
            Some((last, _)) if key > *last => {
                self.run.push((key, value));
                return None;
            }
            Some(_) => {}
            // The run is empty: it starts above the tree's largest key.
            None => {
                if self.tree.last_key_value().is_none_or(|(k, _)| key > *k) {
                    self.run.push((key, value));
                    return None;
                }
                return self.tree.insert(key, value);
            }
        }
        match self.run_position(&key) {
            Some(Ok(i)) => Some(std::mem::replace(&mut self.run[i].1, value)),
            Some(Err(i)) => {
                // The run's keys below `key` move to the tree, which then
                // takes `key`: every tree key stays below the run.
                self.tree.extend(self.run.drain(..i));
                self.tree.insert(key, value)
            }
            None => self.tree.insert(key, value),
        }
    }

    /// Removes the entry of `key`.
    pub(super) fn remove(&mut self, key: &[u8]) {
        match self.run_position(key) {
            Some(Ok(i)) => {
                self.run.remove(i);
            }
            Some(Err(_)) => {}
            None => {
                self.tree.remove(key);
            }
        }
    }

    /// Removes every entry with a key in `[lower, upper)`.
    pub(super) fn remove_range(&mut self, lower: &[u8], upper: &[u8]) {
        if lower >= upper {
            return;
        }
        let a = self.run.partition_point(|(k, _)| k.as_slice() < lower);
        let b = self.run.partition_point(|(k, _)| k.as_slice() < upper);
        self.run.drain(a..b.max(a));
        // The tree: cut off what is at or above `lower`, put back what of
        // that is at or above `upper`.
        let mut from_lower = self.tree.split_off(lower);
        let mut from_upper = from_lower.split_off(upper);
        self.tree.append(&mut from_upper);
    }

    /// The entries in `range`, in key order.
    /// The bounds are borrowed: a scan's caller keeps them for the store.
    pub(super) fn range<'a>(
        &'a self,
        range: (Bound<&[u8]>, Bound<&[u8]>),
    ) -> impl DoubleEndedIterator<Item = (&'a Vec<u8>, &'a Pending)> + 'a {
        let lo = match range.0 {
            Bound::Included(k) => self.run.partition_point(|(r, _)| r.as_slice() < k),
            Bound::Excluded(k) => self.run.partition_point(|(r, _)| r.as_slice() <= k),
            Bound::Unbounded => 0,
        };
        let hi = match range.1 {
            Bound::Included(k) => self.run.partition_point(|(r, _)| r.as_slice() <= k),
            Bound::Excluded(k) => self.run.partition_point(|(r, _)| r.as_slice() < k),
            Bound::Unbounded => self.run.len(),
        };
        let run = self.run.get(lo..hi.max(lo)).unwrap_or(&[]);
        // An empty or inverted range is empty (a B-tree range would panic).
        let tree = if range_is_empty(&range) {
            None
        } else {
            Some(self.tree.range::<[u8], _>(range))
        };
        tree.into_iter()
            .flatten()
            .chain(run.iter().map(|(k, v)| (k, v)))
    }

    /// Every entry, in key order, taking the set.
    /// Every entry in key order, in one vector: the run's own, with the
    /// tree's entries (all below it) moved in front. A load's or an index
    /// build's writes are nearly all in the run, so this moves them once
    /// within memory already theirs instead of into a new vector.
    pub(super) fn into_sorted_vec(self) -> Vec<(Vec<u8>, Pending)> {
        let WriteSet { tree, mut run } = self;
        if !tree.is_empty() {
            run.splice(0..0, tree);
        }
        run
    }
}

/// Whether `range` holds no key (`BTreeMap::range` panics on these).
fn range_is_empty(range: &(Bound<&[u8]>, Bound<&[u8]>)) -> bool {
    match range {
        (Bound::Included(a), Bound::Included(b)) => a > b,
        (Bound::Included(a) | Bound::Excluded(a), Bound::Excluded(b))
        | (Bound::Excluded(a), Bound::Included(b)) => a >= b,
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::storage::test_rng::Rng;

    /// Keys in the order of `n`.
    fn key(n: u64) -> Vec<u8> {
        let mut k = vec![b't'];
        k.extend_from_slice(&n.to_be_bytes());
        k
    }

    fn bound(rng: &mut Rng, span: u64) -> Bound<Vec<u8>> {
        match rng.below(3) {
            0 => Bound::Unbounded,
            1 => Bound::Included(key(rng.below(span))),
            _ => Bound::Excluded(key(rng.below(span))),
        }
    }

    /// Against a B-tree alone, under ascending runs, random writes, undo
    /// (newest first), point reads and ranges both ways.
    #[test]
    fn the_same_as_a_btree_under_every_kind_of_write() {
        for seed in 1..=40u64 {
            let mut rng = Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1);
            let span = 50 + rng.below(5000);
            let mut set = WriteSet::default();
            let mut model: BTreeMap<Vec<u8>, Pending> = BTreeMap::new();
            // Undo log: key and the entry it replaced.
            let mut undo: Vec<(Vec<u8>, Option<Pending>)> = Vec::new();
            let mut next_up = rng.below(span);
            for step in 0..3000 {
                match rng.below(11) {
                    0..=4 => {
                        // An ascending stretch, sometimes jumping back.
                        if rng.below(40) == 0 {
                            next_up = rng.below(span);
                        }
                        next_up += 1 + rng.below(3);
                        let k = key(next_up);
                        let v = (rng.below(4) != 0).then(|| step.to_string().into_bytes());
                        let prev = set.insert(k.clone(), v.clone());
                        assert_eq!(prev, model.insert(k.clone(), v), "seed {seed} step {step}");
                        undo.push((k, prev));
                    }
                    5 | 6 => {
                        let k = key(rng.below(span + 100));
                        let v = (rng.below(4) != 0).then(|| step.to_string().into_bytes());
                        let prev = set.insert(k.clone(), v.clone());
                        assert_eq!(prev, model.insert(k.clone(), v), "seed {seed} step {step}");
                        undo.push((k, prev));
                    }
                    7 => {
                        // Undo the newest few writes, as `Txn::rollback_to`.
                        for _ in 0..rng.below(6) {
                            let Some((k, prev)) = undo.pop() else { break };
                            match prev {
                                Some(p) => {
                                    *set.get_mut(&k).expect("written") = p.clone();
                                    model.insert(k, p);
                                }
                                None => {
                                    set.remove(&k);
                                    model.remove(&k);
                                }
                            }
                        }
                    }
                    8 => {
                        let k = key(rng.below(span + 100));
                        assert_eq!(set.get(&k), model.get(&k), "seed {seed} step {step}");
                    }
                    9 => {
                        // A range emptied (a bulk put of new keys undone),
                        // wherever it falls across the tree and the run.
                        let a = rng.below(span + 100);
                        let b = a + rng.below(span / 4 + 2);
                        set.remove_range(&key(a), &key(b));
                        model.retain(|k, _| k < &key(a) || k >= &key(b));
                        // What the undo log held may be gone: as after a
                        // commit, nothing before this is undone.
                        undo.clear();
                    }
                    _ => {
                        let r = (bound(&mut rng, span + 100), bound(&mut rng, span + 100));
                        let lent = (
                            r.0.as_ref().map(Vec::as_slice),
                            r.1.as_ref().map(Vec::as_slice),
                        );
                        let want: Vec<_> = if range_is_empty(&lent) {
                            Vec::new()
                        } else {
                            model.range(r.clone()).collect()
                        };
                        let got: Vec<_> = set.range(lent).collect();
                        assert_eq!(got, want, "seed {seed} step {step}");
                        let back: Vec<_> = set.range(lent).rev().collect();
                        assert_eq!(back, want.into_iter().rev().collect::<Vec<_>>());
                    }
                }
                assert_eq!(set.is_empty(), model.is_empty());
            }
            let all = set.into_sorted_vec();
            assert_eq!(all, model.into_iter().collect::<Vec<_>>(), "seed {seed}");
        }
    }

    #[test]
    fn an_ascending_load_stays_in_the_run() {
        let mut set = WriteSet::default();
        for i in 0..1000 {
            assert_eq!(set.insert(key(i * 3), Some(vec![1])), None);
        }
        assert!(set.tree.is_empty());
        assert_eq!(set.run.len(), 1000);
        // A write inside the run moves the keys below it to the tree.
        set.insert(key(301), None);
        assert_eq!(set.tree.len(), 101 + 1);
        assert_eq!(set.run.len(), 1000 - 101);
        assert_eq!(set.get(&key(301)), Some(&None));
        assert_eq!(set.get(&key(300)), Some(&Some(vec![1])));
        assert_eq!(set.get(&key(303)), Some(&Some(vec![1])));
    }

    #[test]
    fn a_bulk_run_is_taken_only_ascending_and_above_everything() {
        let entries = |set: &WriteSet| -> Vec<(Vec<u8>, Pending)> {
            set.range((Bound::Unbounded, Bound::Unbounded))
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect()
        };
        let mut set = WriteSet::default();
        set.insert(key(50), Some(vec![7]));
        set.insert(key(10), None);
        let before = entries(&set);
        // Not above everything: the first key is below the largest.
        let keys: Vec<_> = (40..45).map(key).collect();
        assert_eq!(set.extend_run(keys.clone()), Err(keys));
        assert_eq!(entries(&set), before);
        // Ascending, then a key equal to one before it, then one below:
        // nothing stays and the keys come back in their order.
        for dip in [103, 101] {
            let keys: Vec<_> = [100, 102, 103, dip, 104].into_iter().map(key).collect();
            assert_eq!(set.extend_run(keys.clone()), Err(keys));
            assert_eq!(entries(&set), before);
        }
        let keys: Vec<_> = (51..60).map(key).collect();
        assert_eq!(set.extend_run(keys), Ok(()));
        let mut want = before.clone();
        want.extend((51..60).map(|i| (key(i), Some(Vec::new()))));
        assert_eq!(entries(&set), want);
        assert_eq!(set.len(), want.len());
        // Above the run's end, after the run: and the tree below it.
        assert_eq!(set.extend_run(vec![key(60)]), Ok(()));
        assert_eq!(set.extend_run(Vec::new()), Ok(()));
        assert_eq!(set.get(&key(60)), Some(&Some(Vec::new())));
        assert_eq!(set.len(), want.len() + 1);
    }
}
