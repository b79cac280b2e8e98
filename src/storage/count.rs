//! Counting the live keys of a range as of a snapshot, passing whole
//! blocks by where the table index proves what they hold.
//!
//! The count is the number of keys a forward [`EngineIter`] over the range
//! would return (plus a transaction's own writes, layered on top as the
//! transaction's iterator layers them). It merges the same sources in the
//! same order and decides each entry the same way, with one difference: a
//! table source does not read its next block until it must. While it
//! waits, it stands in the merge under a key no greater than the block's
//! first (the previous block's last key, or the table's first key), and
//! when it comes to the top of the merge the block is counted as the
//! number of entries its index entry records if all of these hold:
//!
//! - the block is clean ([`BLOCK_CLEAN`]: only puts, each user key once,
//!   its first user key not the previous block's last) and its newest
//!   entry is visible in the snapshot, so every entry is a distinct,
//!   visible, live key as far as this table goes;
//! - every other source's next key is of a user key after the block's
//!   last, and the last key already decided is before the block's first:
//!   no other source holds a version of a key in the block (what the
//!   merge has passed is decided, what it has not is after the block);
//! - the block lies inside the range.
//!
//! Otherwise the block is read and its entries merged one by one, as an
//! iterator would. Which blocks are passed by therefore never changes the
//! count, only its cost. A version-1 table (no block facts) is read whole.
//!
//! ```text
//!   sources: own writes │ memtables │ L0 tables │ L1 … Ln   (merge order = precedence)
//!   a table source:  Waiting(block i) ──count or read──► Reading(block i, pos) ──► Waiting(i+1)
//! ```
//!
//! [`EngineIter`]: super::iter::EngineIter
//! [`BLOCK_CLEAN`]: super::sst::BLOCK_CLEAN

use std::cmp::Ordering;
use std::ops::Bound;
use std::sync::Arc;

use crate::error::{Error, Result};

use super::iter::{MemSource, Source};
use super::key::{cmp_ikey, make_ikey, split, user_key, Kind, MAX_SEQ};
use super::sst::block::Block;
use super::sst::reader::SstReader;

/// One source of the count.
pub(crate) enum CountSource {
    /// A transaction's own writes in the range: `(internal key, put)`,
    /// each under [`MAX_SEQ`] so it sorts before every stored version of
    /// its key; visible whatever the snapshot.
    Own(Vec<Vec<u8>>, usize),
    /// A memtable (its entries one by one).
    Mem(Source),
    /// One L0 table or a level ≥ 1.
    Tables(CountTables),
}

impl CountSource {
    /// A transaction's writes (`key`, whether a put), in key order.
    pub(crate) fn own<'a>(writes: impl Iterator<Item = (&'a [u8], bool)>) -> CountSource {
        let keys = writes
            .map(|(k, put)| make_ikey(k, MAX_SEQ, if put { Kind::Put } else { Kind::Delete }))
            .collect();
        CountSource::Own(keys, 0)
    }

    /// A memtable source from `start`.
    pub(crate) fn mem(m: MemSource) -> CountSource {
        CountSource::Mem(Source::Mem(m))
    }

    /// Moves to the first entry (or block); `false` if there is none.
    fn first(&mut self) -> Result<bool> {
        match self {
            CountSource::Own(keys, _) => Ok(!keys.is_empty()),
            CountSource::Mem(m) => m.advance(),
            CountSource::Tables(t) => t.first(),
        }
    }

    /// The key the source stands under in the merge: the current entry's,
    /// or (a waiting table) one no greater than the next block's first.
    fn key(&self) -> &[u8] {
        match self {
            CountSource::Own(keys, i) => keys.get(*i).map_or(&[][..], |k| k),
            CountSource::Mem(m) => m.key(),
            CountSource::Tables(t) => t.key(),
        }
    }

    /// Steps past the current entry; `false` at the end.
    fn advance(&mut self) -> Result<bool> {
        match self {
            CountSource::Own(keys, i) => {
                *i += 1;
                Ok(*i < keys.len())
            }
            CountSource::Mem(m) => m.advance(),
            CountSource::Tables(t) => t.advance(),
        }
    }
}

/// Where a [`CountTables`] stands.
enum At {
    /// Before block `bi` of table `t`, not read.
    Waiting,
    /// On entry `pos` of block `bi`, read.
    Reading(Arc<Block>, usize),
    /// Past the last table.
    Done,
}

/// A run of tables with disjoint, ordered key ranges, read forward a block
/// at a time, each block read only if the count cannot pass it by.
pub(crate) struct CountTables {
    tables: Vec<Arc<SstReader>>,
    t: usize,
    bi: usize,
    at: At,
    /// Where the first table is entered (`None`: at its first key).
    start: Option<Vec<u8>>,
}

impl CountTables {
    /// `tables` in key order, from internal key `start`.
    pub(crate) fn new(tables: Vec<Arc<SstReader>>, start: Option<Vec<u8>>) -> CountTables {
        let t = match &start {
            Some(s) => tables
                .iter()
                .position(|t| t.ends_at_or_after(s))
                .unwrap_or(tables.len()),
            None => 0,
        };
        CountTables {
            tables,
            t,
            bi: 0,
            at: At::Waiting,
            start,
        }
    }

    fn first(&mut self) -> Result<bool> {
        if self.t >= self.tables.len() {
            self.at = At::Done;
            return Ok(false);
        }
        let t = self.tables[self.t].clone();
        match self.start.take() {
            // A table entered in its middle: read the block `start` is in.
            Some(start) if !t.starts_after(&start) && t.smallest() != start.as_slice() => {
                let bi = t.block_ge(&start)?;
                if bi >= t.num_blocks()? {
                    return self.next_table();
                }
                let b = t.block(bi)?;
                let pos = b.lower_bound(&start);
                self.bi = bi;
                self.at = At::Reading(b, pos);
                if pos >= self.block_len() {
                    return self.next_block();
                }
                Ok(true)
            }
            _ => self.enter(0),
        }
    }

    fn block_len(&self) -> usize {
        match &self.at {
            At::Reading(b, _) => b.len(),
            _ => 0,
        }
    }

    /// Waits before block `bi` of the current table (or the first block
    /// of the next table that has one).
    fn enter(&mut self, mut bi: usize) -> Result<bool> {
        loop {
            let Some(t) = self.tables.get(self.t) else {
                self.at = At::Done;
                return Ok(false);
            };
            if bi < t.num_blocks()? {
                self.bi = bi;
                self.at = At::Waiting;
                return Ok(true);
            }
            self.t += 1;
            bi = 0;
        }
    }

    fn next_block(&mut self) -> Result<bool> {
        self.enter(self.bi + 1)
    }

    fn next_table(&mut self) -> Result<bool> {
        self.t += 1;
        self.enter(0)
    }

    fn key(&self) -> &[u8] {
        let Some(t) = self.tables.get(self.t) else {
            return &[];
        };
        match &self.at {
            At::Reading(b, pos) => b.key(*pos),
            // Block 0: the table's first key, exactly; block i: the last
            // key of block i − 1, which every entry of block i follows.
            At::Waiting if self.bi == 0 => t.smallest(),
            At::Waiting => t.block_last_key(self.bi - 1).unwrap_or_default(),
            At::Done => &[],
        }
    }

    /// Reads the block it waits before and stands on its first entry.
    fn read(&mut self) -> Result<()> {
        let t = &self.tables[self.t];
        let b = t.block(self.bi)?;
        // The index's facts are what a count trusts for a block it passes
        // by; one it reads must agree with them.
        if let Some(meta) = t.block_meta(self.bi)? {
            if meta.entries as usize != b.len() || (self.bi == 0 && b.key(0) != t.smallest()) {
                return Err(Error::corruption(
                    t.file().path(),
                    0,
                    "data block disagrees with its index entry or the table's first key",
                ));
            }
        }
        self.at = At::Reading(b, 0);
        Ok(())
    }

    fn advance(&mut self) -> Result<bool> {
        match &mut self.at {
            At::Reading(b, pos) => {
                *pos += 1;
                if *pos < b.len() {
                    return Ok(true);
                }
                self.next_block()
            }
            At::Waiting => {
                // Stepping past a waiting block is passing it by (counted).
                self.next_block()
            }
            At::Done => Ok(false),
        }
    }
}

/// The merge of a count (see the module comment).
pub(crate) struct Counter {
    sources: Vec<CountSource>,
    heap: Vec<usize>,
    snapshot: u64,
    lower: Bound<Vec<u8>>,
    upper: Bound<Vec<u8>>,
    /// Blocks passed by and entries merged (for tests and profiles).
    pub(crate) blocks_passed: u64,
    pub(crate) entries_merged: u64,
}

impl Counter {
    /// Sources in precedence order: own writes first (if any), then
    /// memtables newest first, L0 newest first, then the levels.
    pub(crate) fn new(
        sources: Vec<CountSource>,
        snapshot: u64,
        lower: Bound<Vec<u8>>,
        upper: Bound<Vec<u8>>,
    ) -> Counter {
        Counter {
            sources,
            heap: Vec::new(),
            snapshot,
            lower,
            upper,
            blocks_passed: 0,
            entries_merged: 0,
        }
    }

    fn before(&self, a: usize, b: usize) -> bool {
        cmp_ikey(self.sources[a].key(), self.sources[b].key()).then(a.cmp(&b)) == Ordering::Less
    }

    fn sift_down(&mut self, mut i: usize) {
        let n = self.heap.len();
        loop {
            let l = 2 * i + 1;
            if l >= n {
                return;
            }
            let r = l + 1;
            let c = if r < n && self.before(self.heap[r], self.heap[l]) {
                r
            } else {
                l
            };
            if !self.before(self.heap[c], self.heap[i]) {
                return;
            }
            self.heap.swap(i, c);
            i = c;
        }
    }

    /// The user key every other source's next key follows or equals: the
    /// smaller of the top's children (`None`: no other source).
    fn next_other(&self) -> Option<&[u8]> {
        let l = self.heap.get(1)?;
        let k = match self.heap.get(2) {
            Some(&r) if self.before(r, *l) => r,
            _ => *l,
        };
        Some(user_key(self.sources[k].key()))
    }

    /// Counts the keys.
    pub(crate) fn count(&mut self) -> Result<u64> {
        for i in 0..self.sources.len() {
            if self.sources[i].first()? {
                self.heap.push(i);
            }
        }
        for i in (0..self.heap.len() / 2).rev() {
            self.sift_down(i);
        }
        let own = matches!(self.sources.first(), Some(CountSource::Own(..)));
        let mut n: u64 = 0;
        let mut last_user: Vec<u8> = Vec::new();
        let mut has_last = false;
        while let Some(&top) = self.heap.first() {
            if let CountSource::Tables(t) = &self.sources[top] {
                if matches!(t.at, At::Waiting) {
                    if let Some(entries) = self.passable(t, has_last.then_some(&last_user[..]))? {
                        n += u64::from(entries);
                        self.blocks_passed += 1;
                        last_user.clear();
                        last_user.extend_from_slice(user_key(t.tables[t.t].block_last_key(t.bi)?));
                        has_last = true;
                        self.step_top(top)?;
                        continue;
                    }
                    // Read it: its first entry sorts at or after the key it
                    // stood under, so the heap only needs a sift down.
                    if let CountSource::Tables(t) = &mut self.sources[top] {
                        t.read()?;
                    }
                    self.sift_down(0);
                    continue;
                }
            }
            self.entries_merged += 1;
            let (user, seq, kind) = split(self.sources[top].key()).ok_or_else(malformed)?;
            let visible = seq <= self.snapshot || (own && top == 0);
            if visible
                && !below_lower(&self.lower, user)
                && !(has_last && last_user.as_slice() == user)
            {
                if above_upper(&self.upper, user) {
                    break;
                }
                last_user.clear();
                last_user.extend_from_slice(user);
                has_last = true;
                if kind == Kind::Put {
                    n += 1;
                }
            } else if above_upper(&self.upper, user) {
                break;
            }
            self.step_top(top)?;
        }
        Ok(n)
    }

    fn step_top(&mut self, top: usize) -> Result<()> {
        if !self.sources[top].advance()? {
            self.heap.swap_remove(0);
        }
        self.sift_down(0);
        Ok(())
    }

    /// The entry count of the block `t` waits before, if the count may
    /// take it without reading the block (the conditions of the module
    /// comment); `last` is the last user key decided.
    fn passable(&self, t: &CountTables, last: Option<&[u8]>) -> Result<Option<u32>> {
        let table = &t.tables[t.t];
        let Some(meta) = table.block_meta(t.bi)? else {
            return Ok(None);
        };
        if !meta.clean() || meta.max_seq > self.snapshot {
            return Ok(None);
        }
        let last_key = user_key(table.block_last_key(t.bi)?);
        // `first`: the block's first user key (block 0), or one it follows.
        let (first, exact) = if t.bi == 0 {
            (user_key(table.smallest()), true)
        } else {
            (user_key(table.block_last_key(t.bi - 1)?), false)
        };
        let after_lower = match &self.lower {
            Bound::Included(k) => first >= k.as_slice(),
            Bound::Excluded(k) => first > k.as_slice() || (!exact && first == k.as_slice()),
            Bound::Unbounded => true,
        };
        let after_last = match last {
            None => true,
            Some(l) => l < first || (!exact && l == first),
        };
        let others_after = self.next_other().is_none_or(|o| o > last_key);
        Ok(
            (after_lower && after_last && others_after && !above_upper(&self.upper, last_key))
                .then_some(meta.entries),
        )
    }
}

fn below_lower(lower: &Bound<Vec<u8>>, user: &[u8]) -> bool {
    match lower {
        Bound::Included(k) => user < k.as_slice(),
        Bound::Excluded(k) => user <= k.as_slice(),
        Bound::Unbounded => false,
    }
}

fn above_upper(upper: &Bound<Vec<u8>>, user: &[u8]) -> bool {
    match upper {
        Bound::Included(k) => user > k.as_slice(),
        Bound::Excluded(k) => user >= k.as_slice(),
        Bound::Unbounded => false,
    }
}

fn malformed() -> Error {
    Error::Corruption {
        file: "<count>".into(),
        offset: 0,
        what: "malformed internal key".into(),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use std::collections::BTreeMap;
    use std::ops::{Bound, RangeBounds};
    use std::sync::Arc;

    use crate::crypto::{KeyBytes, MemoryKeyProvider};
    use crate::storage::{Direction, Engine, StorageOptions, WriteBatch};
    use crate::vfs::{KeyOptions, MemVfs};

    fn open(vfs: &MemVfs, format: u32) -> Engine {
        Engine::open(
            Arc::new(vfs.clone()),
            "/count",
            Arc::new(MemoryKeyProvider::new(KeyBytes::from_slice(&[7; 32])).unwrap()),
            KeyOptions::default(),
            StorageOptions {
                memtable_bytes: 2048,
                block_bytes: 160,
                target_file_bytes: 2048,
                level_base_bytes: 8 << 10,
                l0_compaction_trigger: 3,
                block_cache_bytes: 16 << 10,
                table_format: format,
                ..StorageOptions::default()
            },
        )
        .unwrap()
    }

    use crate::storage::test_rng::Rng;

    fn key(i: u64) -> Vec<u8> {
        format!("k{i:04}").into_bytes()
    }

    fn bound(rng: &mut Rng) -> Bound<Vec<u8>> {
        let k = key(rng.below(520));
        match rng.below(4) {
            0 => Bound::Unbounded,
            1 => Bound::Excluded(k),
            _ => Bound::Included(k),
        }
    }

    type Model = BTreeMap<Vec<u8>, Vec<u8>>;

    /// The count against the model and against the iterator, with a
    /// random write set on top.
    fn check(
        e: &Engine,
        model: &Model,
        snap: Option<&crate::storage::Snapshot>,
        rng: &mut Rng,
        stats: &mut (u64, u64),
    ) {
        for _ in 0..6 {
            let (lo, hi) = (bound(rng), bound(rng));
            if let (
                Bound::Included(l) | Bound::Excluded(l),
                Bound::Included(h) | Bound::Excluded(h),
            ) = (&lo, &hi)
            {
                if l > h {
                    continue;
                }
            }
            let mut own: BTreeMap<Vec<u8>, bool> = BTreeMap::new();
            if rng.below(3) == 0 {
                for _ in 0..rng.below(12) {
                    own.insert(key(rng.below(520)), rng.below(2) == 0);
                }
            }
            let own: Vec<(Vec<u8>, bool)> = own
                .into_iter()
                .filter(|(k, _)| (lo.clone(), hi.clone()).contains(k))
                .collect();
            let own_refs: Vec<(&[u8], bool)> = own.iter().map(|(k, p)| (&k[..], *p)).collect();
            let mut view: BTreeMap<&[u8], bool> = model
                .range::<Vec<u8>, _>((lo.clone(), hi.clone()))
                .map(|(k, _)| (&k[..], true))
                .collect();
            for (k, p) in &own {
                view.insert(k, *p);
            }
            let want = view.values().filter(|&&p| p).count() as u64;
            let seq = snap.map_or_else(
                || e.inner.visible.load(std::sync::atomic::Ordering::Acquire),
                |s| s.seq,
            );
            let (got, passed, merged) = e
                .inner
                .count(lo.clone(), hi.clone(), seq, &own_refs)
                .unwrap();
            assert_eq!(
                got,
                want,
                "count of {lo:?}..{hi:?} with {} own writes",
                own.len()
            );
            if own.is_empty() {
                let it = e
                    .iter((lo.clone(), hi.clone()), Direction::Forward, snap)
                    .unwrap();
                assert_eq!(it.count() as u64, want, "iterator of {lo:?}..{hi:?}");
            }
            stats.0 += passed;
            stats.1 += merged;
        }
    }

    #[test]
    fn count_matches_a_model_through_overwrites_deletes_snapshots_and_formats() {
        let vfs = MemVfs::new();
        let mut format = 3;
        let mut e = open(&vfs, format);
        let mut model = Model::new();
        let mut rng = Rng(0xC0_57A9);
        let mut held: Option<(crate::storage::Snapshot, Model)> = None;
        let mut stats = (0, 0);
        let mut next = 0u64;
        for step in 0..3000u64 {
            match rng.below(20) {
                // Mostly appends in key order (clean blocks), in batches.
                0..=7 => {
                    let mut b = WriteBatch::new();
                    for _ in 0..1 + rng.below(8) {
                        let k = key(next % 500);
                        next += 1;
                        let v = vec![b'v'; 4 + rng.below(30) as usize];
                        b.put(k.clone(), v.clone());
                        model.insert(k, v);
                    }
                    e.write(b).unwrap();
                }
                8..=10 => {
                    let k = key(rng.below(500));
                    let v = format!("over{step}").into_bytes();
                    e.put(&k, &v).unwrap();
                    model.insert(k, v);
                }
                11 | 12 => {
                    let k = key(rng.below(500));
                    e.delete(&k).unwrap();
                    model.remove(&k);
                }
                13 => {
                    let lo = rng.below(500);
                    let mut b = WriteBatch::new();
                    for i in lo..(lo + rng.below(40)).min(500) {
                        b.delete(key(i));
                        model.remove(&key(i));
                    }
                    e.write(b).unwrap();
                }
                14 => e.flush().unwrap(),
                15 if rng.below(4) == 0 => e.compact().unwrap(),
                16 => {
                    held = match held {
                        Some(_) if rng.below(2) == 0 => None,
                        _ => Some((e.snapshot(), model.clone())),
                    };
                }
                17 if rng.below(6) == 0 => {
                    // Reopen writing the next table format: the store
                    // ends up with tables of all three.
                    held = None;
                    drop(e);
                    format = format % 3 + 1;
                    e = open(&vfs, format);
                }
                _ => {}
            }
            if step % 10 == 0 {
                check(&e, &model, None, &mut rng, &mut stats);
                if let Some((s, m)) = &held {
                    check(&e, m, Some(s), &mut rng, &mut stats);
                }
            }
        }
        e.compact().unwrap();
        check(&e, &model, None, &mut rng, &mut stats);
        // The fast path ran, and so did the slow one.
        assert!(stats.0 > 100, "blocks passed by: {}", stats.0);
        assert!(stats.1 > 100, "entries merged: {}", stats.1);
    }

    #[test]
    fn a_compacted_store_is_counted_from_its_indexes() {
        for format in [2, 3] {
            compacted_store_counted_from_its_indexes(format);
        }
    }

    fn compacted_store_counted_from_its_indexes(format: u32) {
        let vfs = MemVfs::new();
        let e = open(&vfs, format);
        for i in 0..500 {
            e.put(&key(i), b"some value").unwrap();
        }
        e.compact().unwrap();
        let seq = e.inner.visible.load(std::sync::atomic::Ordering::Acquire);
        let (n, passed, merged) = e
            .inner
            .count(Bound::Unbounded, Bound::Unbounded, seq, &[])
            .unwrap();
        assert_eq!(n, 500);
        assert!(passed > 20, "blocks passed by: {passed}");
        assert_eq!(merged, 0, "no entry merged one by one");
        // A write over one key makes only its block be read.
        e.put(&key(250), b"new").unwrap();
        let seq = e.inner.visible.load(std::sync::atomic::Ordering::Acquire);
        let (n, _, merged) = e
            .inner
            .count(Bound::Unbounded, Bound::Unbounded, seq, &[])
            .unwrap();
        assert_eq!(n, 500);
        assert!(merged > 0 && merged < 20, "entries merged: {merged}");
        // The same store written as format 1 is read block by block.
        let vfs1 = MemVfs::new();
        let e1 = open(&vfs1, 1);
        for i in 0..500 {
            e1.put(&key(i), b"some value").unwrap();
        }
        e1.compact().unwrap();
        let seq = e1.inner.visible.load(std::sync::atomic::Ordering::Acquire);
        let (n, passed, merged) = e1
            .inner
            .count(Bound::Unbounded, Bound::Unbounded, seq, &[])
            .unwrap();
        assert_eq!((n, passed, merged), (500, 0, 500));
    }
}
