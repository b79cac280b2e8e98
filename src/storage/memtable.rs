//! The memtable: recent writes, ordered, readable while being written.
//!
//! A lock-free skip list (crossbeam-skiplist) of internal key → value, so
//! readers never wait for the writer. Only the group-commit leader inserts,
//! so inserts are never concurrent with each other. Entries are immutable
//! once inserted; a memtable that is full is frozen (no more inserts) and
//! flushed to an SSTable by the background thread while a new one takes
//! the writes.
//!
//! A commit whose keys all come after every key the memtable's *tail*
//! holds (a load of ascending rowids, one transaction after another) is
//! appended to the tail instead: a chunked vector of entries in internal-key
//! order, each user key at most once, behind a read-write lock held only
//! for a push or a read of a few entries. An append is a vector push where
//! a skip-list insert searched down its levels and allocated a node. A
//! batch that is ascending but starts at or below the tail's last key
//! splits: the part above goes to the tail, the rest to the skip list.
//! The skip list and the tail are two sorted sets of distinct internal
//! keys (every operation has its own sequence number); reads merge them,
//! and a point read takes the newer of the two answers.
//!
//! A commit too large for the skip list to be worth it (a bulk load or
//! CREATE INDEX in one transaction, see `commit.rs`) gets a memtable of its
//! own made by [`Memtable::sorted_internal`]: its entries, already in key
//! order (their keys made internal keys as the log writer encoded them),
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
use parking_lot::{RwLock, RwLockReadGuard};

use super::batch::{kind_of, WriteBatch};
use super::key::{cmp_ikey, make_ikey, seek_key, split, trailer, user_key, IKey, Kind};

/// A memtable plus the WAL segment whose records it holds.
pub(crate) struct Memtable {
    map: SkipMap<IKey, Vec<u8>>,
    /// Internal key → value in internal-key order, appended to and never
    /// changed otherwise (see the module doc); each user key at most once.
    tail: RwLock<Tail>,
    /// Internal key → value in internal-key order, for a memtable made by
    /// [`Memtable::sorted_internal`] (then `map` is empty); empty otherwise.
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
            tail: RwLock::new(Tail::default()),
            run: Vec::new(),
            index: RunIndex::default(),
            bytes: AtomicUsize::new(0),
            max_seq: AtomicU64::new(0),
            wal_number,
        }
    }

    /// Whether `batch` can become a [`Memtable::sorted_internal`]: its keys strictly
    /// ascending (so each key once, and the internal keys in order too).
    pub(crate) fn can_sort(batch: &WriteBatch) -> bool {
        batch.sorted || keys_ascending(batch)
    }

    /// A frozen memtable holding exactly `batch` with sequence numbers
    /// `seq, seq+1, …`, its keys and values moved, not copied. The batch
    /// must pass [`Memtable::can_sort`].
    #[cfg(test)]
    pub(crate) fn sorted(wal_number: u64, seq: u64, mut batch: WriteBatch) -> Memtable {
        debug_assert!(keys_ascending(&batch));
        let n = batch.len();
        batch.make_internal(seq, 0..n);
        Memtable::sorted_internal(wal_number, seq, batch)
    }

    /// A frozen memtable holding exactly `batch`, whose keys are internal
    /// keys already with sequence numbers `seq, seq+1, …`
    /// (`WriteBatch::make_internal`: the log writer makes them as it
    /// encodes the batch), its keys and values moved, not copied. Its user
    /// keys must be strictly ascending ([`Memtable::can_sort`]).
    pub(crate) fn sorted_internal(wal_number: u64, seq: u64, batch: WriteBatch) -> Memtable {
        debug_assert!(batch
            .ops
            .windows(2)
            .all(|w| cmp_ikey(&w[0].0, &w[1].0).is_lt()));
        debug_assert!(batch
            .ops
            .iter()
            .enumerate()
            .all(|(i, (k, _))| { split(k).is_some_and(|(_, s, _)| s == seq + i as u64) }));
        let (bytes, len) = (batch.approximate_size(), batch.len() as u64);
        let run: Vec<(Vec<u8>, Vec<u8>)> = batch
            .ops
            .into_iter()
            .map(|(k, v)| (k, v.unwrap_or_default()))
            .collect();
        let index = RunIndex::new(&run);
        Memtable {
            map: SkipMap::new(),
            tail: RwLock::new(Tail::default()),
            run,
            index,
            bytes: AtomicUsize::new(bytes),
            max_seq: AtomicU64::new(if len == 0 { 0 } else { seq + len - 1 }),
            wal_number,
        }
    }

    /// Whether this memtable takes no more writes ([`Memtable::sorted_internal`]).
    pub(crate) fn is_frozen(&self) -> bool {
        !self.run.is_empty()
    }

    /// [`Memtable::apply`] of a batch the caller gives up: its keys and
    /// values move into the skip list instead of being copied.
    pub(crate) fn apply_owned(&self, seq: u64, batch: WriteBatch) {
        debug_assert!(!self.is_frozen());
        let (bytes, len) = (batch.approximate_size(), batch.len() as u64);
        let split = self.tail_split(&batch);
        let mut ops = batch.ops.into_iter().enumerate();
        for (i, (k, v)) in ops.by_ref().take(split) {
            let kind = kind_of(&v);
            self.map.insert(
                IKey(into_ikey(k, seq + i as u64, kind)),
                v.unwrap_or_default(),
            );
        }
        if split < len as usize {
            let mut tail = self.tail.write();
            for (i, (k, v)) in ops {
                let kind = kind_of(&v);
                tail.push((into_ikey(k, seq + i as u64, kind), v.unwrap_or_default()));
            }
        }
        self.bytes.fetch_add(bytes, Ordering::Relaxed);
        if len > 0 {
            self.max_seq.fetch_max(seq + len - 1, Ordering::Relaxed);
        }
    }

    /// Inserts the batch's operations with sequence numbers `seq, seq+1, …`.
    pub(crate) fn apply(&self, seq: u64, batch: &WriteBatch) {
        debug_assert!(!self.is_frozen());
        let split = self.tail_split(batch);
        for (i, (k, v)) in batch.ops.iter().enumerate().take(split) {
            let ik = make_ikey(k, seq + i as u64, kind_of(v));
            self.map.insert(IKey(ik), v.clone().unwrap_or_default());
        }
        if split < batch.len() {
            let mut tail = self.tail.write();
            for (i, (k, v)) in batch.ops.iter().enumerate().skip(split) {
                let ik = make_ikey(k, seq + i as u64, kind_of(v));
                tail.push((ik, v.clone().unwrap_or_default()));
            }
        }
        self.bytes
            .fetch_add(batch.approximate_size(), Ordering::Relaxed);
        if !batch.is_empty() {
            self.max_seq
                .fetch_max(seq + batch.len() as u64 - 1, Ordering::Relaxed);
        }
    }

    /// How many of the batch's first operations go to the skip list; the
    /// rest (keys strictly ascending, all above the tail's last user key)
    /// are appended to the tail. Only the committing writer appends, so
    /// the tail's end cannot move between this and the append.
    fn tail_split(&self, batch: &WriteBatch) -> usize {
        if !Memtable::can_sort(batch) {
            return batch.len();
        }
        let tail = self.tail.read();
        let Some((last, _)) = tail.last() else {
            return 0;
        };
        let last = user_key(last);
        batch.ops.partition_point(|(k, _)| k.as_slice() <= last)
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
        self.map.is_empty() && self.run.is_empty() && self.tail.read_recursive().is_empty()
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
        // The newest visible version in each of the two sets: the newer
        // of those is the answer.
        let in_tail = {
            let tail = self.tail.read_recursive();
            let i = tail.partition_point(|k| cmp_ikey(k, &start.0) == CmpOrdering::Less);
            tail.get(i).and_then(|(k, v)| match split(k) {
                Some((user, s, kind)) if user == key => Some((s, kind, v.clone())),
                _ => None,
            })
        };
        let in_map = self
            .map
            .range((Bound::Included(start), Bound::Unbounded))
            .next()
            .and_then(|e| match split(&e.key().0) {
                Some((user, s, kind)) if user == key => Some((s, kind, e.value().clone())),
                _ => None,
            });
        let newest = match (in_tail, in_map) {
            (Some(t), Some(m)) => Some(if t.0 > m.0 { t } else { m }),
            (t, m) => t.or(m),
        };
        match newest {
            Some((_, Kind::Put, v)) => Lookup::Found(v),
            Some((_, Kind::Delete, _)) => Lookup::Deleted,
            None => Lookup::Absent,
        }
    }

    /// The entries from the first internal key `>= from` (or the start), in
    /// internal-key order, while `keep` holds for their internal keys
    /// (entries are copied out only once `keep` passed them).
    pub(crate) fn range_from<'a>(
        &'a self,
        from: Option<&[u8]>,
        keep: impl FnMut(&[u8]) -> bool + 'a,
    ) -> impl Iterator<Item = (Vec<u8>, Vec<u8>)> + 'a {
        // A frozen memtable's map and tail are empty and a live one's run
        // is: the run is never merged with anything.
        let first = from.map_or(0, |f| self.index.count_before(&self.run, f, false));
        let lo = match from {
            Some(k) => Bound::Included(IKey(k.to_vec())),
            None => Bound::Unbounded,
        };
        let tail = self.tail.read_recursive();
        let at = from.map_or(0, |f| {
            tail.partition_point(|k| cmp_ikey(k, f) == CmpOrdering::Less)
        });
        // Every part stops where `keep` does.
        let keep = Rc::new(RefCell::new(keep));
        let (map_keep, tail_keep, run_keep) = (Rc::clone(&keep), Rc::clone(&keep), keep);
        let map = self
            .map
            .range((lo, Bound::Unbounded))
            .take_while(move |e| (map_keep.borrow_mut())(&e.key().0))
            .map(|e| (e.key().0.clone(), e.value().clone()));
        let tail = tail_entries(tail, at..).take_while(move |(k, _)| (tail_keep.borrow_mut())(k));
        Merge::new(map, tail, false).chain(
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
        let tail = self.tail.read_recursive();
        let mut t = tail.iter().peekable();
        for e in self.map.iter() {
            while let Some((k, v)) = t.next_if(|(k, _)| cmp_ikey(k, &e.key().0).is_lt()) {
                f(k, v)?;
            }
            f(&e.key().0, e.value())?;
        }
        for (k, v) in t {
            f(k, v)?;
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
        let tail = self.tail.read_recursive();
        let tail_end = to.map_or(tail.len(), |t| {
            tail.partition_point(|k| cmp_ikey(k, t) != CmpOrdering::Greater)
        });
        let keep = Rc::new(RefCell::new(keep));
        let (map_keep, tail_keep, run_keep) = (Rc::clone(&keep), Rc::clone(&keep), keep);
        let map = self
            .map
            .range((Bound::Unbounded, hi))
            .rev()
            .take_while(move |e| (map_keep.borrow_mut())(&e.key().0))
            .map(|e| (e.key().0.clone(), e.value().clone()));
        let tail = tail_entries(tail, (0..tail_end).rev())
            .take_while(move |(k, _)| (tail_keep.borrow_mut())(k));
        Merge::new(map, tail, true).chain(
            self.run[..end]
                .iter()
                .rev()
                .take_while(move |(k, _)| (run_keep.borrow_mut())(k))
                .cloned(),
        )
    }
}

/// Entries of the tail per chunk: a push never moves more than the chunk
/// list (a vector that doubled would copy the whole tail under the write
/// lock, and keep up to as much again unused). Small in unit tests, so
/// their tails span many chunks.
const TAIL_CHUNK: usize = if cfg!(test) { 8 } else { 1024 };

/// The memtable's tail (see the module doc): entries in internal-key
/// order, in chunks of [`TAIL_CHUNK`].
/// Every chunk but the last is full.
#[derive(Default)]
struct Tail {
    chunks: Vec<Vec<(Vec<u8>, Vec<u8>)>>,
}

impl Tail {
    fn len(&self) -> usize {
        self.chunks
            .last()
            .map_or(0, |c| (self.chunks.len() - 1) * TAIL_CHUNK + c.len())
    }

    fn is_empty(&self) -> bool {
        self.chunks.is_empty()
    }

    fn get(&self, i: usize) -> Option<&(Vec<u8>, Vec<u8>)> {
        self.chunks.get(i / TAIL_CHUNK)?.get(i % TAIL_CHUNK)
    }

    fn last(&self) -> Option<&(Vec<u8>, Vec<u8>)> {
        self.chunks.last()?.last()
    }

    fn push(&mut self, e: (Vec<u8>, Vec<u8>)) {
        match self.chunks.last_mut() {
            Some(c) if c.len() < TAIL_CHUNK => c.push(e),
            _ => {
                let mut c = Vec::with_capacity(TAIL_CHUNK);
                c.push(e);
                self.chunks.push(c);
            }
        }
    }

    /// The first index whose entry's key `pred` is false for (`pred` true
    /// on a prefix of the entries).
    fn partition_point(&self, pred: impl Fn(&[u8]) -> bool) -> usize {
        // The chunk the boundary is in: the first whose last key fails.
        let c = self
            .chunks
            .partition_point(|c| c.last().is_some_and(|(k, _)| pred(k)));
        match self.chunks.get(c) {
            Some(chunk) => c * TAIL_CHUNK + chunk.partition_point(|(k, _)| pred(k)),
            None => self.len(),
        }
    }

    fn iter(&self) -> impl Iterator<Item = &(Vec<u8>, Vec<u8>)> {
        self.chunks.iter().flatten()
    }
}

/// The tail's entries at `positions`, copied out, under a read lock of
/// the tail: appends wait for it, and a read takes no more than a batch
/// of entries at a time (`iter::MemSource`). `read_recursive` (by the
/// callers), so a reader that holds one never waits behind a queued
/// append for a second.
fn tail_entries<'a>(
    tail: RwLockReadGuard<'a, Tail>,
    positions: impl Iterator<Item = usize> + 'a,
) -> impl Iterator<Item = (Vec<u8>, Vec<u8>)> + 'a {
    positions.map_while(move |i| tail.get(i).cloned())
}

/// Two iterators of distinct internal keys, each in internal-key order
/// (descending with `reverse`), merged into one in that order.
struct Merge<A: Iterator, B: Iterator> {
    a: std::iter::Peekable<A>,
    b: std::iter::Peekable<B>,
    reverse: bool,
}

impl<A, B> Merge<A, B>
where
    A: Iterator<Item = (Vec<u8>, Vec<u8>)>,
    B: Iterator<Item = (Vec<u8>, Vec<u8>)>,
{
    fn new(a: A, b: B, reverse: bool) -> Self {
        Merge {
            a: a.peekable(),
            b: b.peekable(),
            reverse,
        }
    }
}

impl<A, B> Iterator for Merge<A, B>
where
    A: Iterator<Item = (Vec<u8>, Vec<u8>)>,
    B: Iterator<Item = (Vec<u8>, Vec<u8>)>,
{
    type Item = (Vec<u8>, Vec<u8>);

    fn next(&mut self) -> Option<Self::Item> {
        let take_a = match (self.a.peek(), self.b.peek()) {
            (Some((x, _)), Some((y, _))) => {
                let o = cmp_ikey(x, y);
                if self.reverse {
                    o.is_gt()
                } else {
                    o.is_lt()
                }
            }
            (Some(_), None) => true,
            (None, _) => false,
        };
        if take_a {
            self.a.next()
        } else {
            self.b.next()
        }
    }
}

/// Whether the batch's keys are strictly ascending (so each once).
fn keys_ascending(batch: &WriteBatch) -> bool {
    batch.ops.windows(2).all(|w| w[0].0 < w[1].0)
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

    /// A memtable fed batches that go to the tail, to the skip list and
    /// split between them (ascending loads, random keys, new versions and
    /// deletes of tail keys, ascending batches that start below the
    /// tail's end) answers every read as one sorted list of all its
    /// entries does: point reads at many snapshots, seeks both ways with
    /// and without a stop, and the flush's walk. Copied and moved batches
    /// store the same.
    #[test]
    fn tail_and_skip_list_read_as_one_sorted_set() {
        let mut rng = crate::storage::test_rng::Rng(0x07a1_15e7);
        let mut both = 0;
        for case in 0..25 {
            let (moved, copied) = (Memtable::new(1), Memtable::new(1));
            let mut all: Vec<(Vec<u8>, Vec<u8>)> = Vec::new();
            let mut seq = 1u64;
            let mut next_up = 0u64;
            for _ in 0..1 + rng.below(30) {
                let mut b = WriteBatch::new();
                let n = 1 + rng.below(12);
                let mut keys: Vec<u64> = match rng.below(4) {
                    // Above everything so far: the tail.
                    0 | 1 => (0..n)
                        .map(|i| next_up + 1 + i * (1 + rng.below(3)))
                        .collect(),
                    // Ascending from somewhere below the end: split.
                    2 => {
                        let from = rng.below(next_up + 1);
                        (0..n).map(|i| from + i * 2).collect()
                    }
                    // Anywhere, any order (repeats too): the skip list.
                    _ => (0..n).map(|_| rng.below(next_up + 10)).collect(),
                };
                if rng.below(3) > 0 {
                    keys.sort_unstable();
                    keys.dedup();
                }
                for &k in &keys {
                    next_up = next_up.max(k);
                    let key = format!("k{k:06}").into_bytes();
                    if rng.below(5) == 0 {
                        b.delete(key);
                    } else {
                        b.put(key, format!("v{case}-{seq}-{k}").into_bytes());
                    }
                }
                for (i, (k, v)) in b.ops.iter().enumerate() {
                    let ik = make_ikey(k, seq + i as u64, kind_of(v));
                    all.push((ik, v.clone().unwrap_or_default()));
                }
                copied.apply(seq, &b);
                let len = b.len() as u64;
                moved.apply_owned(seq, b);
                seq += len;
            }
            all.sort_by(|a, b| cmp_ikey(&a.0, &b.0));
            for m in [&moved, &copied] {
                let mut walked = Vec::new();
                m.for_each_entry(|k, v| {
                    walked.push((k.to_vec(), v.to_vec()));
                    Ok(())
                })
                .expect("walk");
                assert_eq!(walked, all, "case {case}");
                assert_eq!(m.range_from(None, |_| true).collect::<Vec<_>>(), all);
                let back: Vec<_> = all.iter().rev().cloned().collect();
                assert_eq!(m.range_back_from(None, |_| true).collect::<Vec<_>>(), back);
                assert_eq!(m.max_seq(), seq - 1);
                assert!(!m.is_empty());
            }
            assert_eq!(moved.size(), copied.size());
            for k in 0..next_up + 12 {
                let key = format!("k{k:06}").into_bytes();
                for at in [0, 1, seq / 3, seq / 2, seq - 1, seq + 5] {
                    let t = seek_key(&key, at);
                    let want = all
                        .iter()
                        .find(|(ik, _)| cmp_ikey(ik, &t).is_ge())
                        .and_then(|(ik, v)| match split(ik) {
                            Some((u, _, Kind::Put)) if u == key.as_slice() => {
                                Some(Lookup::Found(v.clone()))
                            }
                            Some((u, _, Kind::Delete)) if u == key.as_slice() => {
                                Some(Lookup::Deleted)
                            }
                            _ => None,
                        })
                        .unwrap_or(Lookup::Absent);
                    let fwd: Vec<_> = all
                        .iter()
                        .filter(|(ik, _)| cmp_ikey(ik, &t).is_ge())
                        .cloned()
                        .collect();
                    let bwd: Vec<_> = all
                        .iter()
                        .rev()
                        .filter(|(ik, _)| cmp_ikey(ik, &t).is_le())
                        .cloned()
                        .collect();
                    // A stop three user keys on.
                    let stop = format!("k{:06}", k + 3).into_bytes();
                    let below_stop = |ik: &[u8]| user_key(ik) < stop.as_slice();
                    for m in [&moved, &copied] {
                        assert_eq!(m.get(&key, at), want, "case {case} k{k} at {at}");
                        assert_eq!(m.range_from(Some(&t), |_| true).collect::<Vec<_>>(), fwd);
                        assert_eq!(
                            m.range_back_from(Some(&t), |_| true).collect::<Vec<_>>(),
                            bwd
                        );
                        let upto: Vec<_> = fwd
                            .iter()
                            .take_while(|e| below_stop(&e.0))
                            .cloned()
                            .collect();
                        assert_eq!(
                            m.range_from(Some(&t), |ik| below_stop(ik))
                                .collect::<Vec<_>>(),
                            upto
                        );
                    }
                }
            }
            let (t, n) = (moved.tail.read().len(), moved.map.len());
            assert_eq!(t + n, all.len());
            both += usize::from(t > 0 && n > 0);
        }
        assert!(both >= 10, "cases that used both sets: {both}");
    }

    /// Readers on other threads, while the writer appends to the tail
    /// and inserts into the skip list, see every entry up to what was
    /// published when they started, in order, and their point reads find
    /// each published key's value.
    #[test]
    fn readers_see_a_consistent_tail_while_it_grows() {
        use std::sync::atomic::AtomicU64;
        use std::sync::Arc;
        let m = Arc::new(Memtable::new(1));
        let published = Arc::new(AtomicU64::new(0));
        let key = |k: u64| format!("k{k:07}").into_bytes();
        let readers: Vec<_> = (0..2)
            .map(|r| {
                let (m, published) = (Arc::clone(&m), Arc::clone(&published));
                std::thread::spawn(move || {
                    let mut checks = 0u64;
                    loop {
                        let p = published.load(Ordering::Acquire);
                        let seen: Vec<_> = m
                            .range_from(None, |_| true)
                            .filter(|(k, _)| split(k).is_some_and(|(_, s, _)| s <= p))
                            .collect();
                        // Every published op is one entry; all in order.
                        assert_eq!(seen.len() as u64, p, "reader {r}");
                        assert!(seen.windows(2).all(|w| cmp_ikey(&w[0].0, &w[1].0).is_lt()));
                        // A key of a published batch of new keys.
                        if p > 0 {
                            let c = (checks * 7 + r) % (p / 20);
                            let c = if c % 5 == 4 { c - 1 } else { c };
                            let k = c * 20 + checks % 20;
                            assert!(
                                matches!(m.get(&key(k), p), Lookup::Found(_)),
                                "key {k} at {p}"
                            );
                        }
                        checks += 1;
                        if p == 6000 {
                            return checks;
                        }
                    }
                })
            })
            .collect();
        let mut seq = 1;
        // Batches of 20 ascending new keys (the tail); every fifth batch
        // rewrites 20 earlier keys instead (the skip list).
        for b in 0..300u64 {
            let mut batch = WriteBatch::new();
            for i in 0..20 {
                let k = if b % 5 == 4 {
                    (b * 37 + i) % (b * 20)
                } else {
                    b * 20 + i
                };
                batch.put(key(k), format!("v{b}").into_bytes());
            }
            m.apply_owned(seq, batch);
            seq += 20;
            published.store(seq - 1, Ordering::Release);
        }
        for r in readers {
            assert!(r.join().expect("reader") > 0);
        }
        assert!(!m.tail.read().is_empty() && !m.map.is_empty());
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
