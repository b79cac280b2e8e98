//! The memtable: recent writes, ordered, readable while being written.
//!
//! A lock-free skip list (crossbeam-skiplist) of internal key → value, so
//! readers never wait for the writer. Only the group-commit leader inserts,
//! so inserts are never concurrent with each other. Entries are immutable
//! once inserted; a memtable that is full is frozen (no more inserts) and
//! flushed to an SSTable by the background thread while a new one takes
//! the writes.
//!
//! A commit too large for the skip list to be worth it (a bulk load or
//! CREATE INDEX in one transaction, see `commit.rs`) gets a memtable of its
//! own made by [`Memtable::sorted`]: its entries, already in key order,
//! kept as one sorted run (`run`) instead of inserted one by one. Such a
//! memtable is frozen from birth: `map` stays empty and nothing is ever
//! applied to it, so every reader sees either the map or the run, never a
//! mix of both.
//!
//! A run is searched through [`RunIndex`]: every sixteenth key copied
//! into one buffer. A key's heap allocation is wherever the entry was made
//! (a CREATE INDEX makes them in table order, then sorts), so a binary
//! search over the keys themselves misses the CPU cache at nearly every
//! probe; over the copies its upper steps stay in a few cache lines, and
//! only the last four probes touch the scattered keys.

use std::cell::RefCell;
use std::cmp::Ordering as CmpOrdering;
use std::ops::Bound;
use std::rc::Rc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

use crossbeam_skiplist::SkipMap;

use super::batch::WriteBatch;
use super::key::{cmp_ikey, make_ikey, seek_key, split, trailer, IKey, Kind};

/// A memtable plus the WAL segment whose records it holds.
pub(crate) struct Memtable {
    map: SkipMap<IKey, Vec<u8>>,
    /// Internal key → value in internal-key order, for a memtable made by
    /// [`Memtable::sorted`] (then `map` is empty); empty otherwise.
    run: Vec<(Vec<u8>, Vec<u8>)>,
    /// `run`'s search index (empty with an empty run).
    index: RunIndex,
    bytes: AtomicUsize,
    max_seq: AtomicU64,
    /// Number of the WAL segment that holds this memtable's writes.
    pub(crate) wal_number: u64,
}

/// Result of a point lookup in one layer.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Lookup {
    /// The newest visible version is a value.
    Found(Vec<u8>),
    /// The newest visible version is a tombstone.
    Deleted,
    /// This layer has no visible version.
    Absent,
}

impl Memtable {
    pub(crate) fn new(wal_number: u64) -> Memtable {
        Memtable {
            map: SkipMap::new(),
            run: Vec::new(),
            index: RunIndex::default(),
            bytes: AtomicUsize::new(0),
            max_seq: AtomicU64::new(0),
            wal_number,
        }
    }

    /// Whether `batch` can become a [`Memtable::sorted`]: its keys strictly
    /// ascending (so each key once, and the internal keys in order too).
    pub(crate) fn can_sort(batch: &WriteBatch) -> bool {
        batch.ops.windows(2).all(|w| w[0].1 < w[1].1)
    }

    /// A frozen memtable holding exactly `batch` with sequence numbers
    /// `seq, seq+1, …`, its keys and values moved, not copied. The batch
    /// must pass [`Memtable::can_sort`].
    pub(crate) fn sorted(wal_number: u64, seq: u64, batch: WriteBatch) -> Memtable {
        debug_assert!(Memtable::can_sort(&batch));
        let (bytes, len) = (batch.approximate_size(), batch.len() as u64);
        let run: Vec<(Vec<u8>, Vec<u8>)> = batch
            .ops
            .into_iter()
            .enumerate()
            .map(|(i, (kind, k, v))| (into_ikey(k, seq + i as u64, kind), v))
            .collect();
        let index = RunIndex::new(&run);
        Memtable {
            map: SkipMap::new(),
            run,
            index,
            bytes: AtomicUsize::new(bytes),
            max_seq: AtomicU64::new(if len == 0 { 0 } else { seq + len - 1 }),
            wal_number,
        }
    }

    /// Whether this memtable takes no more writes ([`Memtable::sorted`]).
    pub(crate) fn is_frozen(&self) -> bool {
        !self.run.is_empty()
    }

    /// [`Memtable::apply`] of a batch the caller gives up: its keys and
    /// values move into the skip list instead of being copied.
    pub(crate) fn apply_owned(&self, seq: u64, batch: WriteBatch) {
        debug_assert!(!self.is_frozen());
        let (bytes, len) = (batch.approximate_size(), batch.len() as u64);
        for (i, (kind, k, v)) in batch.ops.into_iter().enumerate() {
            self.map.insert(IKey(into_ikey(k, seq + i as u64, kind)), v);
        }
        self.bytes.fetch_add(bytes, Ordering::Relaxed);
        if len > 0 {
            self.max_seq.fetch_max(seq + len - 1, Ordering::Relaxed);
        }
    }

    /// Inserts the batch's operations with sequence numbers `seq, seq+1, …`.
    pub(crate) fn apply(&self, seq: u64, batch: &WriteBatch) {
        debug_assert!(!self.is_frozen());
        for (i, (kind, k, v)) in batch.ops.iter().enumerate() {
            self.map
                .insert(IKey(make_ikey(k, seq + i as u64, *kind)), v.clone());
        }
        self.bytes
            .fetch_add(batch.approximate_size(), Ordering::Relaxed);
        if !batch.is_empty() {
            self.max_seq
                .fetch_max(seq + batch.len() as u64 - 1, Ordering::Relaxed);
        }
    }

    /// Highest sequence number inserted (0 if none).
    pub(crate) fn max_seq(&self) -> u64 {
        self.max_seq.load(Ordering::Relaxed)
    }

    /// Approximate bytes held.
    pub(crate) fn size(&self) -> usize {
        self.bytes.load(Ordering::Relaxed)
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.map.is_empty() && self.run.is_empty()
    }

    /// The newest version of `key` with sequence number `<= seq`.
    pub(crate) fn get(&self, key: &[u8], seq: u64) -> Lookup {
        let start = IKey(seek_key(key, seq));
        if self.is_frozen() {
            let i = self.index.count_before(&self.run, &start.0, false);
            if let Some((k, v)) = self.run.get(i) {
                if let Some((user, _, kind)) = split(k) {
                    if user == key {
                        return match kind {
                            Kind::Put => Lookup::Found(v.clone()),
                            Kind::Delete => Lookup::Deleted,
                        };
                    }
                }
            }
            return Lookup::Absent;
        }
        if let Some(e) = self
            .map
            .range((Bound::Included(start), Bound::Unbounded))
            .next()
        {
            if let Some((user, _, kind)) = split(&e.key().0) {
                if user == key {
                    return match kind {
                        Kind::Put => Lookup::Found(e.value().clone()),
                        Kind::Delete => Lookup::Deleted,
                    };
                }
            }
        }
        Lookup::Absent
    }

    /// The entries from the first internal key `>= from` (or the start), in
    /// internal-key order, while `keep` holds for their internal keys
    /// (entries are copied out only once `keep` passed them).
    pub(crate) fn range_from<'a>(
        &'a self,
        from: Option<&[u8]>,
        keep: impl FnMut(&[u8]) -> bool + 'a,
    ) -> impl Iterator<Item = (Vec<u8>, Vec<u8>)> + 'a {
        // A frozen memtable's map is empty and a live one's run is: the
        // chain is only ever one of them.
        let first = from.map_or(0, |f| self.index.count_before(&self.run, f, false));
        let lo = match from {
            Some(k) => Bound::Included(IKey(k.to_vec())),
            None => Bound::Unbounded,
        };
        // Both parts stop where `keep` does (only one of them holds entries).
        let keep = Rc::new(RefCell::new(keep));
        let run_keep = Rc::clone(&keep);
        self.map
            .range((lo, Bound::Unbounded))
            .take_while(move |e| (keep.borrow_mut())(&e.key().0))
            .map(|e| (e.key().0.clone(), e.value().clone()))
            .chain(
                self.run[first..]
                    .iter()
                    .take_while(move |(k, _)| (run_keep.borrow_mut())(k))
                    .cloned(),
            )
    }

    /// Hands every entry to `f` in internal-key order, borrowed where it
    /// lives (a flush writes them out without copying each one first).
    pub(crate) fn for_each_entry(
        &self,
        mut f: impl FnMut(&[u8], &[u8]) -> crate::error::Result<()>,
    ) -> crate::error::Result<()> {
        for e in self.map.iter() {
            f(&e.key().0, e.value())?;
        }
        for (k, v) in &self.run {
            f(k, v)?;
        }
        Ok(())
    }

    /// The entries up to the last internal key `<= to` (or the end), in
    /// reverse internal-key order, while `keep` holds for their keys.
    pub(crate) fn range_back_from<'a>(
        &'a self,
        to: Option<&[u8]>,
        keep: impl FnMut(&[u8]) -> bool + 'a,
    ) -> impl Iterator<Item = (Vec<u8>, Vec<u8>)> + 'a {
        let end = to.map_or(self.run.len(), |t| {
            self.index.count_before(&self.run, t, true)
        });
        let hi = match to {
            Some(k) => Bound::Included(IKey(k.to_vec())),
            None => Bound::Unbounded,
        };
        let keep = Rc::new(RefCell::new(keep));
        let run_keep = Rc::clone(&keep);
        self.map
            .range((Bound::Unbounded, hi))
            .rev()
            .take_while(move |e| (keep.borrow_mut())(&e.key().0))
            .map(|e| (e.key().0.clone(), e.value().clone()))
            .chain(
                self.run[..end]
                    .iter()
                    .rev()
                    .take_while(move |(k, _)| (run_keep.borrow_mut())(k))
                    .cloned(),
            )
    }
}

/// The internal key of user key `k`, made in `k`'s own buffer (which the
/// key encoders leave room in, so this seldom reallocates).
fn into_ikey(mut k: Vec<u8>, seq: u64, kind: Kind) -> Vec<u8> {
    k.extend_from_slice(&trailer(seq, kind).to_be_bytes());
    k
}

/// The search index of a sorted run (see the module doc): the first key
/// of every [`RUN_CHUNK`] entries, copied into one buffer. A seek searches
/// those (a few cache lines for the upper steps), then the one chunk the
/// key is in.
#[derive(Default)]
struct RunIndex {
    /// The chunks' first internal keys, end to end.
    firsts: Vec<u8>,
    /// Where each chunk's first key ends in `firsts`.
    ends: Vec<usize>,
}

/// Entries per chunk of a [`RunIndex`]: four probes of scattered keys
/// after the search of the chunks, for a sixteenth of the keys copied.
const RUN_CHUNK: usize = 16;

impl RunIndex {
    fn new(run: &[(Vec<u8>, Vec<u8>)]) -> RunIndex {
        let mut ix = RunIndex::default();
        for (k, _) in run.iter().step_by(RUN_CHUNK) {
            ix.firsts.extend_from_slice(k);
            ix.ends.push(ix.firsts.len());
        }
        ix
    }

    fn first(&self, chunk: usize) -> &[u8] {
        let start = chunk.checked_sub(1).map_or(0, |c| self.ends[c]);
        &self.firsts[start..self.ends[chunk]]
    }

    /// How many entries of `run` come before internal key `t` (`cmp_ikey`
    /// Less; also Equal with `or_equal`): where a seek to `t` lands.
    fn count_before(&self, run: &[(Vec<u8>, Vec<u8>)], t: &[u8], or_equal: bool) -> usize {
        let before = |k: &[u8]| match cmp_ikey(k, t) {
            CmpOrdering::Less => true,
            CmpOrdering::Equal => or_equal,
            CmpOrdering::Greater => false,
        };
        if self.ends.len() != run.len().div_ceil(RUN_CHUNK) {
            return run.partition_point(|(k, _)| before(k));
        }
        // `before` holds for a prefix of the run: for the chunks before
        // `c` (their first entries hold it), not from chunk `c` on.
        let c = partition_point_by(self.ends.len(), |j| before(self.first(j)));
        let Some(chunk) = c.checked_sub(1) else {
            return 0;
        };
        let start = chunk * RUN_CHUNK;
        let end = (start + RUN_CHUNK).min(run.len());
        start + run[start..end].partition_point(|(k, _)| before(k))
    }
}

/// The first `i` in `0..n` for which `pred` is false (`pred` true on a
/// prefix).
fn partition_point_by(n: usize, pred: impl Fn(usize) -> bool) -> usize {
    let (mut lo, mut hi) = (0, n);
    while lo < hi {
        let mid = lo + (hi - lo) / 2;
        if pred(mid) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    lo
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A sorted memtable answers every read exactly as the skip list
    /// holding the same batch does.
    #[test]
    fn sorted_run_reads_like_the_skip_list() {
        let mut b = WriteBatch::new();
        for i in 0..200u32 {
            let k = format!("k{:05}", i * 3).into_bytes();
            if i % 7 == 3 {
                b.delete(k);
            } else {
                b.put(k, format!("v{i}").into_bytes());
            }
        }
        assert!(Memtable::can_sort(&b));
        let live = Memtable::new(1);
        live.apply(100, &b);
        let run = Memtable::sorted(1, 100, b.clone());
        assert!(run.is_frozen() && !live.is_frozen());
        assert_eq!(run.max_seq(), live.max_seq());
        assert_eq!(run.size(), live.size());
        let all: Vec<_> = live.range_from(None, |_| true).collect();
        assert_eq!(run.range_from(None, |_| true).collect::<Vec<_>>(), all);
        assert_eq!(
            run.range_back_from(None, |_| true).collect::<Vec<_>>(),
            live.range_back_from(None, |_| true).collect::<Vec<_>>()
        );
        for i in 0..620u32 {
            let k = format!("k{i:05}").into_bytes();
            for seq in [0, 99, 100, 150, 299, 300, 1000] {
                assert_eq!(run.get(&k, seq), live.get(&k, seq), "{i} at {seq}");
                let ik = seek_key(&k, seq);
                assert_eq!(
                    run.range_from(Some(&ik), |_| true).collect::<Vec<_>>(),
                    live.range_from(Some(&ik), |_| true).collect::<Vec<_>>()
                );
                assert_eq!(
                    run.range_back_from(Some(&ik), |_| true).collect::<Vec<_>>(),
                    live.range_back_from(Some(&ik), |_| true)
                        .collect::<Vec<_>>()
                );
            }
        }
        let mut unsorted = WriteBatch::new();
        unsorted.put("b", "1").put("a", "2");
        assert!(!Memtable::can_sort(&unsorted));
        let mut twice = WriteBatch::new();
        twice.put("a", "1").delete("a");
        assert!(!Memtable::can_sort(&twice));
    }

    /// The run's search index lands every seek where a search over the
    /// keys themselves does: runs of one to several chunks, keys sharing
    /// long prefixes, keys that are prefixes of others, zero bytes, empty
    /// and short keys, seeks before, inside and after the shared prefix,
    /// on chunk boundaries and between them.
    #[test]
    fn the_run_index_seeks_like_a_search_over_the_keys() {
        let mut rng = crate::storage::test_rng::Rng(0x5eed_1dec);
        let alphabet = [0u8, 1, 0x7f, 0x80, 0xff];
        for case in 0..300 {
            let shared: Vec<u8> = (0..rng.below(12))
                .map(|_| alphabet[rng.below(5) as usize])
                .collect();
            let mut keys = std::collections::BTreeSet::new();
            for _ in 0..1 + rng.below(if case % 3 == 0 { 300 } else { 40 }) {
                let tail: Vec<u8> = (0..rng.below(12))
                    .map(|_| alphabet[rng.below(5) as usize])
                    .collect();
                let cut = if case % 5 == 0 {
                    rng.below(shared.len() as u64 + 1) as usize
                } else {
                    shared.len()
                };
                keys.insert([&shared[..cut], &tail[..]].concat());
            }
            let mut b = WriteBatch::new();
            for k in &keys {
                b.put(k.clone(), b"v".to_vec());
            }
            let m = Memtable::sorted(1, 10, b);
            let mut probes: Vec<Vec<u8>> = keys.iter().cloned().collect();
            for k in &keys {
                for n in 0..=k.len() {
                    probes.push(k[..n].to_vec());
                }
                probes.push([k.as_slice(), &[0]].concat());
                probes.push([k.as_slice(), &[0xff]].concat());
            }
            for _ in 0..20 {
                probes.push(
                    (0..rng.below(16))
                        .map(|_| alphabet[rng.below(5) as usize])
                        .collect(),
                );
            }
            for p in &probes {
                for seq in [0, 10, 9, u64::MAX >> 8] {
                    for t in [seek_key(p, seq), make_ikey(p, seq, Kind::Delete)] {
                        for or_equal in [false, true] {
                            let want = m.run.partition_point(|(k, _)| match cmp_ikey(k, &t) {
                                CmpOrdering::Less => true,
                                CmpOrdering::Equal => or_equal,
                                CmpOrdering::Greater => false,
                            });
                            assert_eq!(
                                m.index.count_before(&m.run, &t, or_equal),
                                want,
                                "case {case}: {keys:?} seek {t:?}"
                            );
                        }
                    }
                }
                assert_eq!(
                    m.get(p, 1 << 40),
                    if keys.contains(p) {
                        Lookup::Found(b"v".to_vec())
                    } else {
                        Lookup::Absent
                    }
                );
            }
        }
    }

    /// Moving a batch in stores what copying it does.
    #[test]
    fn apply_owned_matches_apply() {
        let mut b = WriteBatch::new();
        b.put("x", "1").delete("y").put("x", "2").put("a", "3");
        let (copied, moved) = (Memtable::new(1), Memtable::new(1));
        copied.apply(7, &b);
        moved.apply_owned(7, b);
        assert_eq!(
            moved.range_from(None, |_| true).collect::<Vec<_>>(),
            copied.range_from(None, |_| true).collect::<Vec<_>>()
        );
        assert_eq!(moved.size(), copied.size());
        assert_eq!(moved.max_seq(), copied.max_seq());
    }
}
