//! Range iterators: merge the memtables and tables into one ordered stream
//! of user keys as of a snapshot.
//!
//! ```text
//!   memtable ─┐
//!   imm …    ─┤ sources, each in internal-key order      MergeIter: a heap,
//!   L0 tables─┤ (forward) or reverse internal-key order ─► picks the next
//!   L1 … Ln  ─┘ (reverse), each a cursor that owns Arcs    internal key
//!                                                            │
//!                   EngineIter: drops versions newer than the snapshot,
//!                   keeps the newest visible version per user key, hides
//!                   tombstones, stops at the range bound
//! ```
//!
//! Forward, the newest version of a user key arrives first. Reverse, the
//! stream is (user key descending, version oldest-first), so the reverse
//! iterator collects a user key's versions and keeps the last visible one.
//! Iterators stream: they hold one decoded block per table, not the range.

use std::cmp::Ordering;
use std::collections::BinaryHeap;
use std::ops::Bound;
use std::sync::Arc;

use crate::error::{Error, Result};

use super::key::{cmp_ikey, make_ikey, seek_key, split, IKey, Kind, MAX_SEQ};
use super::memtable::Memtable;
use super::sst::block::Block;
use super::sst::reader::SstReader;

/// Iteration direction.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Direction {
    /// Ascending keys.
    Forward,
    /// Descending keys.
    Reverse,
}

type Entry = (Vec<u8>, Vec<u8>);

/// A cursor over one source, in the iterator's direction.
pub(crate) trait Source: Send {
    fn next_entry(&mut self) -> Result<Option<Entry>>;
}

/// A memtable cursor: re-seeks after the last key it returned, in batches,
/// so it owns no borrow of the skip list. Batches start small and double up
/// to [`MEM_BATCH_MAX`]: most scans through an index, or with a narrow
/// range, stop after a few entries, and every entry of a batch is copied
/// out of the skip list whether it is used or not.
pub(crate) struct MemSource {
    mem: Arc<Memtable>,
    dir: Direction,
    last: Option<Vec<u8>>,
    start: Option<Vec<u8>>,
    buf: std::collections::VecDeque<Entry>,
    /// Size of the next batch.
    batch: usize,
    done: bool,
}

/// First batch of a [`MemSource`].
const MEM_BATCH_MIN: usize = 4;
/// Largest batch of a [`MemSource`].
const MEM_BATCH_MAX: usize = 64;

impl MemSource {
    pub(crate) fn new(mem: Arc<Memtable>, dir: Direction, start: Option<Vec<u8>>) -> MemSource {
        MemSource {
            mem,
            dir,
            last: None,
            start,
            buf: Default::default(),
            batch: MEM_BATCH_MIN,
            done: false,
        }
    }
}

impl Source for MemSource {
    fn next_entry(&mut self) -> Result<Option<Entry>> {
        if self.buf.is_empty() && !self.done {
            let batch = self.batch;
            self.batch = (batch * 2).min(MEM_BATCH_MAX);
            let from = self.last.as_deref().or(self.start.as_deref());
            let skip_first = self.last.is_some();
            let items: Vec<Entry> = match self.dir {
                Direction::Forward => self
                    .mem
                    .range_from(from)
                    .skip(usize::from(skip_first))
                    .take(batch)
                    .collect(),
                Direction::Reverse => self
                    .mem
                    .range_back_from(from)
                    .skip(usize::from(skip_first))
                    .take(batch)
                    .collect(),
            };
            if items.len() < batch {
                self.done = true;
            }
            if let Some(l) = items.last() {
                self.last = Some(l.0.clone());
            }
            self.buf.extend(items);
        }
        Ok(self.buf.pop_front())
    }
}

/// A cursor over a run of tables with disjoint, ordered key ranges (one L0
/// table, or a whole level ≥ 1): opens the next table when one ends.
pub(crate) struct TablesSource {
    tables: Vec<Arc<SstReader>>,
    dir: Direction,
    table: usize,
    block: Option<(usize, Arc<Block>)>,
    pos: usize,
    start: Option<Vec<u8>>,
}

impl TablesSource {
    /// `tables` in key order; iteration starts at internal key `start`.
    pub(crate) fn new(
        tables: Vec<Arc<SstReader>>,
        dir: Direction,
        start: Option<Vec<u8>>,
    ) -> TablesSource {
        // Skip tables that end before (forward) / start after (reverse) `start`.
        let table = match (dir, &start) {
            (Direction::Forward, Some(start)) => tables
                .iter()
                .position(|t| t.block_ge(start) < t.num_blocks())
                .unwrap_or(tables.len()),
            (Direction::Forward, None) => 0,
            (Direction::Reverse, _) => tables.len().checked_sub(1).unwrap_or(usize::MAX),
        };
        let mut s = TablesSource {
            tables,
            dir,
            table,
            block: None,
            pos: 0,
            start,
        };
        if dir == Direction::Reverse && s.table != usize::MAX {
            // Walk back to the last table whose first key is <= start.
            while s.table > 0 && s.first_key_after_start(s.table) {
                s.table -= 1;
            }
        }
        s
    }

    fn first_key_after_start(&self, t: usize) -> bool {
        let Some(start) = &self.start else {
            return false;
        };
        match self.tables[t].block(0) {
            Ok(b) => b.len() > 0 && cmp_ikey(b.key(0), start) == Ordering::Greater,
            Err(_) => false,
        }
    }

    fn position(&mut self) -> Result<bool> {
        loop {
            if self.table >= self.tables.len() {
                return Ok(false);
            }
            let t = self.tables[self.table].clone();
            if self.block.is_none() {
                let n = t.num_blocks();
                let (bi, pos) = match (self.dir, self.start.take()) {
                    (Direction::Forward, Some(start)) => {
                        let bi = t.block_ge(&start);
                        if bi >= n {
                            (n, 0)
                        } else {
                            let b = t.block(bi)?;
                            let p = b.lower_bound(&start);
                            self.block = Some((bi, b));
                            (bi, p)
                        }
                    }
                    (Direction::Forward, None) => (0, 0),
                    (Direction::Reverse, Some(start)) => {
                        let bi = t.block_ge(&start).min(n.saturating_sub(1));
                        if n == 0 {
                            (0, usize::MAX)
                        } else {
                            let b = t.block(bi)?;
                            match b.upper_bound_back(&start) {
                                Some(p) => {
                                    self.block = Some((bi, b));
                                    (bi, p)
                                }
                                None if bi > 0 => {
                                    let b = t.block(bi - 1)?;
                                    let p = b.len().wrapping_sub(1);
                                    self.block = Some((bi - 1, b));
                                    (bi - 1, p)
                                }
                                None => (0, usize::MAX),
                            }
                        }
                    }
                    (Direction::Reverse, None) => {
                        if n == 0 {
                            (0, usize::MAX)
                        } else {
                            let b = t.block(n - 1)?;
                            let p = b.len().wrapping_sub(1);
                            self.block = Some((n - 1, b));
                            (n - 1, p)
                        }
                    }
                };
                if self.block.is_none() && bi < n && pos != usize::MAX {
                    self.block = Some((bi, t.block(bi)?));
                }
                self.pos = pos;
                if self.block.is_none() {
                    self.next_table();
                    continue;
                }
            }
            let Some((bi, b)) = &self.block else { continue };
            let (bi, b) = (*bi, b.clone());
            if self.pos < b.len() {
                return Ok(true);
            }
            // Move to the neighbouring block (pos wrapped below 0 in reverse).
            let next = match self.dir {
                Direction::Forward => bi + 1,
                Direction::Reverse => bi.wrapping_sub(1),
            };
            if next < t.num_blocks() {
                let nb = t.block(next)?;
                self.pos = match self.dir {
                    Direction::Forward => 0,
                    Direction::Reverse => nb.len().wrapping_sub(1),
                };
                self.block = Some((next, nb));
            } else {
                self.next_table();
            }
        }
    }

    fn next_table(&mut self) {
        self.block = None;
        self.start = None;
        match self.dir {
            Direction::Forward => self.table += 1,
            Direction::Reverse => self.table = self.table.checked_sub(1).unwrap_or(usize::MAX),
        }
    }
}

impl Source for TablesSource {
    fn next_entry(&mut self) -> Result<Option<Entry>> {
        if !self.position()? {
            return Ok(None);
        }
        let Some((_, b)) = &self.block else {
            return Ok(None);
        };
        let e = (b.key(self.pos).to_vec(), b.value(self.pos).to_vec());
        self.pos = match self.dir {
            Direction::Forward => self.pos + 1,
            Direction::Reverse => self.pos.wrapping_sub(1),
        };
        Ok(Some(e))
    }
}

struct HeapItem {
    key: IKey,
    value: Vec<u8>,
    src: usize,
    reverse: bool,
}

impl PartialEq for HeapItem {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}
impl Eq for HeapItem {}
impl PartialOrd for HeapItem {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for HeapItem {
    // BinaryHeap is a max-heap: forward wants the smallest key on top.
    fn cmp(&self, other: &Self) -> Ordering {
        let o = self
            .key
            .cmp(&other.key)
            .then_with(|| other.src.cmp(&self.src));
        if self.reverse {
            o
        } else {
            o.reverse()
        }
    }
}

/// Merges sources into one stream in the iterator's direction.
pub(crate) struct MergeIter {
    sources: Vec<Box<dyn Source>>,
    heap: BinaryHeap<HeapItem>,
    reverse: bool,
}

impl MergeIter {
    pub(crate) fn new(mut sources: Vec<Box<dyn Source>>, dir: Direction) -> Result<MergeIter> {
        let reverse = dir == Direction::Reverse;
        let mut heap = BinaryHeap::new();
        for (i, s) in sources.iter_mut().enumerate() {
            if let Some((k, v)) = s.next_entry()? {
                heap.push(HeapItem {
                    key: IKey(k),
                    value: v,
                    src: i,
                    reverse,
                });
            }
        }
        Ok(MergeIter {
            sources,
            heap,
            reverse,
        })
    }

    pub(crate) fn next_entry(&mut self) -> Result<Option<Entry>> {
        let Some(top) = self.heap.pop() else {
            return Ok(None);
        };
        if let Some((k, v)) = self.sources[top.src].next_entry()? {
            self.heap.push(HeapItem {
                key: IKey(k),
                value: v,
                src: top.src,
                reverse: self.reverse,
            });
        }
        Ok(Some((top.key.0, top.value)))
    }
}

/// The internal key a source should start from for a range bound (`None`:
/// from the first key forward, or the last key in reverse).
pub(crate) fn start_key(
    dir: Direction,
    lower: &Bound<Vec<u8>>,
    upper: &Bound<Vec<u8>>,
) -> Option<Vec<u8>> {
    match dir {
        Direction::Forward => match lower {
            Bound::Included(k) | Bound::Excluded(k) => Some(seek_key(k, MAX_SEQ)),
            Bound::Unbounded => None,
        },
        Direction::Reverse => match upper {
            // The oldest possible version of k sorts after all its others.
            Bound::Included(k) | Bound::Excluded(k) => Some(make_ikey(k, 0, Kind::Delete)),
            Bound::Unbounded => None,
        },
    }
}

/// The user-level iterator over a snapshot: `(key, value)` in order.
pub struct EngineIter {
    merged: MergeIter,
    snapshot: u64,
    dir: Direction,
    lower: Bound<Vec<u8>>,
    upper: Bound<Vec<u8>>,
    last_user: Option<Vec<u8>>,
    /// Reverse only: the first entry of the next user key, read ahead.
    pending: Option<Entry>,
    done: bool,
    /// Keeps the version (and so its tables) and snapshot alive.
    _pin: Box<dyn Send>,
}

impl EngineIter {
    pub(crate) fn new(
        merged: MergeIter,
        snapshot: u64,
        dir: Direction,
        lower: Bound<Vec<u8>>,
        upper: Bound<Vec<u8>>,
        pin: Box<dyn Send>,
    ) -> EngineIter {
        EngineIter {
            merged,
            snapshot,
            dir,
            lower,
            upper,
            last_user: None,
            pending: None,
            done: false,
            _pin: pin,
        }
    }

    fn below_lower(&self, user: &[u8]) -> bool {
        match &self.lower {
            Bound::Included(k) => user < k.as_slice(),
            Bound::Excluded(k) => user <= k.as_slice(),
            Bound::Unbounded => false,
        }
    }

    fn above_upper(&self, user: &[u8]) -> bool {
        match &self.upper {
            Bound::Included(k) => user > k.as_slice(),
            Bound::Excluded(k) => user >= k.as_slice(),
            Bound::Unbounded => false,
        }
    }

    fn next_forward(&mut self) -> Result<Option<Entry>> {
        while let Some((ikey, value)) = self.merged.next_entry()? {
            let (user, seq, kind) = split(&ikey).ok_or_else(malformed)?;
            if seq > self.snapshot || self.below_lower(user) {
                continue;
            }
            if self.last_user.as_deref() == Some(user) {
                continue;
            }
            if self.above_upper(user) {
                return Ok(None);
            }
            self.last_user = Some(user.to_vec());
            if kind == Kind::Put {
                return Ok(Some((user.to_vec(), value)));
            }
        }
        Ok(None)
    }

    fn next_reverse(&mut self) -> Result<Option<Entry>> {
        loop {
            let first = match self.pending.take() {
                Some(e) => e,
                None => match self.merged.next_entry()? {
                    Some(e) => e,
                    None => return Ok(None),
                },
            };
            let user = split(&first.0).ok_or_else(malformed)?.0.to_vec();
            if self.below_lower(&user) {
                return Ok(None);
            }
            // Versions of `user` arrive oldest first: keep the last visible one.
            let mut best: Option<(Kind, Vec<u8>)> = None;
            let mut cur = Some(first);
            while let Some((ikey, value)) = cur.take() {
                let (u, seq, kind) = split(&ikey).ok_or_else(malformed)?;
                if u != user.as_slice() {
                    self.pending = Some((ikey, value));
                    break;
                }
                if seq <= self.snapshot {
                    best = Some((kind, value));
                }
                cur = self.merged.next_entry()?;
            }
            if self.above_upper(&user) {
                continue;
            }
            if let Some((Kind::Put, v)) = best {
                return Ok(Some((user, v)));
            }
        }
    }
}

fn malformed() -> Error {
    Error::Corruption {
        file: "<iterator>".into(),
        offset: 0,
        what: "malformed internal key".into(),
    }
}

impl Iterator for EngineIter {
    type Item = Result<(Vec<u8>, Vec<u8>)>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        let r = match self.dir {
            Direction::Forward => self.next_forward(),
            Direction::Reverse => self.next_reverse(),
        };
        match r {
            Ok(Some(e)) => Some(Ok(e)),
            Ok(None) => {
                self.done = true;
                None
            }
            Err(e) => {
                self.done = true;
                Some(Err(e))
            }
        }
    }
}
