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
//!
//! Everything is a cursor: a source stays on its entry until it is
//! advanced, and `key`/`value` borrow that entry where it lives (a cached
//! block, or the memtable cursor's buffer), so a forward scan copies no key
//! or value on its way up; [`EngineIter::step`] hands them out the same
//! way. The merge is a binary heap of source indices ordered by each
//! source's current key; advancing the top source and sifting it down
//! costs nothing while one source supplies a run of keys.

use std::cmp::Ordering;
use std::ops::Bound;
use std::sync::Arc;

use crate::error::{Error, Result};

use super::key::{cmp_ikey, make_ikey, seek_key, split, user_key, Kind, MAX_SEQ};
use super::memtable::Memtable;
use super::sst::block::Block;
use super::sst::reader::SstReader;
use super::sst::BlockMeta;
use super::version::Version;

/// Iteration direction.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Direction {
    /// Ascending keys.
    Forward,
    /// Descending keys.
    Reverse,
}

type Entry = (Vec<u8>, Vec<u8>);

/// A cursor over one source, in the iterator's direction. Before the
/// first [`Source::advance`] it is on no entry; after an `advance` that
/// returned `true`, [`Source::key`] and [`Source::value`] borrow the entry
/// it is on (and must not be called otherwise).
pub(crate) enum Source {
    /// A memtable.
    Mem(MemSource),
    /// One L0 table or a whole level.
    Tables(TablesSource),
}

impl Source {
    /// Moves to the next entry (the first, on the first call); `false`
    /// once there is none.
    pub(crate) fn advance(&mut self) -> Result<bool> {
        match self {
            Source::Mem(m) => Ok(m.advance()),
            Source::Tables(t) => t.advance(),
        }
    }

    /// The internal key of the current entry.
    pub(crate) fn key(&self) -> &[u8] {
        match self {
            Source::Mem(m) => m.buf.front().map_or(&[][..], |e| &e.0),
            Source::Tables(t) => t.block.as_ref().map_or(&[][..], |(_, b)| b.key(t.pos)),
        }
    }

    /// The value of the current entry.
    pub(crate) fn value(&self) -> &[u8] {
        match self {
            Source::Mem(m) => m.buf.front().map_or(&[][..], |e| &e.1),
            Source::Tables(t) => t.block.as_ref().map_or(&[][..], |(_, b)| b.value(t.pos)),
        }
    }
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
    /// The range bound the cursor moves towards (the upper forward, the
    /// lower in reverse): entries past it are neither copied nor handed
    /// out, so a narrow range (an index probe) copies only what it reads.
    stop: Bound<Vec<u8>>,
    buf: std::collections::VecDeque<Entry>,
    /// Size of the next batch.
    batch: usize,
    done: bool,
    /// Whether the front of `buf` is the current entry (to drop on advance).
    started: bool,
}

/// First batch of a [`MemSource`].
const MEM_BATCH_MIN: usize = 4;
/// Largest batch of a [`MemSource`].
const MEM_BATCH_MAX: usize = 64;

impl MemSource {
    /// A cursor from internal key `start` that ends at user-key bound
    /// `stop` (see [`MemSource::stop`]).
    pub(crate) fn new(
        mem: Arc<Memtable>,
        dir: Direction,
        start: Option<Vec<u8>>,
        stop: Bound<Vec<u8>>,
    ) -> MemSource {
        MemSource {
            mem,
            dir,
            last: None,
            start,
            stop,
            buf: Default::default(),
            batch: MEM_BATCH_MIN,
            done: false,
            started: false,
        }
    }

    fn advance(&mut self) -> bool {
        if self.started {
            self.buf.pop_front();
        }
        self.started = true;
        if self.buf.is_empty() && !self.done {
            let batch = self.batch;
            self.batch = (batch * 2).min(MEM_BATCH_MAX);
            let from = self.last.as_deref().or(self.start.as_deref());
            let skip_first = self.last.is_some();
            let stop = &self.stop;
            let items: Vec<Entry> = match self.dir {
                Direction::Forward => self
                    .mem
                    .range_from(from, |k| !above_upper(stop, user_key(k)))
                    .skip(usize::from(skip_first))
                    .take(batch)
                    .collect(),
                Direction::Reverse => self
                    .mem
                    .range_back_from(from, |k| !below_lower(stop, user_key(k)))
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
        !self.buf.is_empty()
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
    /// Whether `pos` is an entry already handed out (to step past).
    started: bool,
    /// The buffer blocks read from a table file pass through (kept from
    /// block to block).
    raw: Vec<u8>,
    /// What the index says of the current block: `None` until asked
    /// ([`TablesSource::clean_after`]) or read with the block.
    meta: Option<Option<BlockMeta>>,
    /// For a compaction ([`TablesSource::releasing`]): where the current
    /// table's bytes already released end.
    released: Option<u64>,
    /// Whether a block was read: the first block of every later table is
    /// read as a scan's (cached only where there is room), as the blocks
    /// after it are.
    entered: bool,
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
                .position(|t| t.ends_at_or_after(start))
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
            started: false,
            raw: Vec::new(),
            meta: None,
            released: None,
            entered: false,
        };
        if dir == Direction::Reverse && s.table != usize::MAX {
            // Walk back to the last table whose first key is <= start.
            while s.table > 0 && s.first_key_after_start(s.table) {
                s.table -= 1;
            }
        }
        s
    }

    /// Releases each table's bytes behind a forward read as it goes (see
    /// [`ReadFile::release`]): a compaction reads its inputs once, and
    /// their mapped pages would otherwise stay in the process's resident
    /// memory until the tables are deleted (tens of megabytes during a
    /// bulk load).
    ///
    /// [`ReadFile::release`]: crate::vfs::ReadFile::release
    pub(crate) fn releasing(mut self) -> TablesSource {
        if self.dir == Direction::Forward {
            self.released = Some(0);
        }
        self
    }

    fn first_key_after_start(&self, t: usize) -> bool {
        let Some(start) = &self.start else {
            return false;
        };
        self.tables[t].starts_after(start)
    }

    fn advance(&mut self) -> Result<bool> {
        if self.started {
            self.pos = match self.dir {
                Direction::Forward => self.pos.wrapping_add(1),
                Direction::Reverse => self.pos.wrapping_sub(1),
            };
        }
        self.started = true;
        // Fast path: still inside the current block.
        if let Some((_, b)) = &self.block {
            if self.pos < b.len() {
                return Ok(true);
            }
        }
        self.position()
    }

    fn position(&mut self) -> Result<bool> {
        loop {
            if self.table >= self.tables.len() {
                return Ok(false);
            }
            let t = self.tables[self.table].clone();
            if self.block.is_none() {
                self.meta = None;
                let n = t.num_blocks()?;
                let (bi, pos) = match (self.dir, self.start.take()) {
                    (Direction::Forward, Some(start)) => {
                        let bi = t.block_ge(&start)?;
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
                        let bi = t.block_ge(&start)?.min(n.saturating_sub(1));
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
                            let b = self.first_block(&t, n - 1)?;
                            let p = b.len().wrapping_sub(1);
                            self.block = Some((n - 1, b));
                            (n - 1, p)
                        }
                    }
                };
                if self.block.is_none() && bi < n && pos != usize::MAX {
                    self.block = Some((bi, self.first_block(&t, bi)?));
                }
                // The source's first block read, by a seek or not.
                self.entered |= self.block.is_some();
                self.pos = pos;
                if self.block.is_none() {
                    self.next_table();
                    continue;
                }
            }
            let Some((bi, b)) = &self.block else { continue };
            if self.pos < b.len() {
                return Ok(true);
            }
            let bi = *bi;
            // Move to the neighbouring block (pos wrapped below 0 in reverse).
            let next = match self.dir {
                Direction::Forward => bi + 1,
                Direction::Reverse => bi.wrapping_sub(1),
            };
            if next < t.num_blocks()? {
                if let Some(from) = self.released {
                    self.released = Some(t.release_before(next, from)?);
                }
                // The block left is the spare the next one may be read into.
                let spare = self.block.take().map(|(_, b)| b);
                let (nb, meta) = t.next_block(next, spare, &mut self.raw)?;
                self.meta = Some(meta);
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

    /// How many entries after the current one the current block holds
    /// that a forward read may hand out without checking them (0 if
    /// none): the block is clean ([`BLOCK_CLEAN`](super::sst::BLOCK_CLEAN): only puts, each user
    /// key once in the table), none of its entries is newer than
    /// `snapshot`, and its last user key is within `upper`.
    fn clean_after(&mut self, snapshot: u64, upper: &Bound<Vec<u8>>) -> Result<usize> {
        if self.dir != Direction::Forward {
            return Ok(0);
        }
        let Some((bi, b)) = &self.block else {
            return Ok(0);
        };
        let meta = match self.meta {
            Some(m) => m,
            None => {
                let m = self.tables[self.table].block_meta(*bi)?;
                self.meta = Some(m);
                m
            }
        };
        Ok(match meta {
            Some(m)
                if m.clean()
                    && m.max_seq <= snapshot
                    && m.entries as usize == b.len()
                    && self.pos < b.len()
                    // The table's last key is at hand; the block's is on a
                    // line not read yet.
                    && (!above_upper(upper, user_key(self.tables[self.table].largest()))
                        || !above_upper(upper, user_key(b.key(b.len() - 1)))) =>
            {
                b.len() - 1 - self.pos
            }
            _ => 0,
        })
    }

    /// Block `i` of `t`, where the read enters `t` without a seek: the
    /// source's very first block may evict from the cache (a short scan
    /// caches what it read), a later table's first block only goes where
    /// there is room, like every block after it (a long scan evicts nothing
    /// that lookups cached).
    fn first_block(&mut self, t: &SstReader, i: usize) -> Result<Arc<Block>> {
        if !self.entered {
            return t.block(i);
        }
        let (b, meta) = t.next_block(i, None, &mut self.raw)?;
        self.meta = Some(meta);
        Ok(b)
    }

    fn next_table(&mut self) {
        if let (Some(from), Some(t)) = (self.released, self.tables.get(self.table)) {
            t.release_rest(from);
            self.released = Some(0);
        }
        self.block = None;
        self.meta = None;
        self.start = None;
        match self.dir {
            Direction::Forward => self.table += 1,
            Direction::Reverse => self.table = self.table.checked_sub(1).unwrap_or(usize::MAX),
        }
    }
}

/// Merges sources into one stream in the iterator's direction: a binary
/// heap of the indices of the sources that are on an entry, the source
/// with the next entry (smallest internal key forward, largest in
/// reverse; the lower index on a tie) on top.
pub(crate) struct MergeIter {
    sources: Vec<Source>,
    heap: Vec<usize>,
    reverse: bool,
    /// Whether the top's entry was handed out (step past it first).
    started: bool,
}

impl MergeIter {
    pub(crate) fn new(mut sources: Vec<Source>, dir: Direction) -> Result<MergeIter> {
        let mut heap = Vec::with_capacity(sources.len());
        for (i, s) in sources.iter_mut().enumerate() {
            if s.advance()? {
                heap.push(i);
            }
        }
        let mut m = MergeIter {
            sources,
            heap,
            reverse: dir == Direction::Reverse,
            started: false,
        };
        for i in (0..m.heap.len() / 2).rev() {
            m.sift_down(i);
        }
        Ok(m)
    }

    /// Whether source `a`'s entry comes before source `b`'s.
    fn before(&self, a: usize, b: usize) -> bool {
        let o = cmp_ikey(self.sources[a].key(), self.sources[b].key());
        let o = if self.reverse { o.reverse() } else { o };
        o.then(a.cmp(&b)) == Ordering::Less
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

    /// Moves to the next entry of the merged stream (the first, on the
    /// first call); `false` at the end. [`MergeIter::key`] and
    /// [`MergeIter::value`] borrow it until the next call.
    pub(crate) fn advance(&mut self) -> Result<bool> {
        if self.started {
            let Some(&top) = self.heap.first() else {
                return Ok(false);
            };
            if !self.sources[top].advance()? {
                self.heap.swap_remove(0);
            }
            self.sift_down(0);
        }
        self.started = true;
        Ok(!self.heap.is_empty())
    }

    /// How many entries after the current one may be handed out without
    /// checking them, when a single source is left: see
    /// [`TablesSource::clean_after`]. With two or more sources left, 0
    /// (another may hold a version of the same key).
    pub(crate) fn sole_clean_after(
        &mut self,
        snapshot: u64,
        upper: &Bound<Vec<u8>>,
    ) -> Result<usize> {
        match self.heap.as_slice() {
            [only] => match &mut self.sources[*only] {
                Source::Tables(t) => t.clean_after(snapshot, upper),
                Source::Mem(_) => Ok(0),
            },
            _ => Ok(0),
        }
    }

    /// The internal key of the current entry (after `advance` gave `true`).
    pub(crate) fn key(&self) -> &[u8] {
        self.heap
            .first()
            .map_or(&[][..], |&i| self.sources[i].key())
    }

    /// The value of the current entry (after `advance` gave `true`).
    pub(crate) fn value(&self) -> &[u8] {
        self.heap
            .first()
            .map_or(&[][..], |&i| self.sources[i].value())
    }

    /// Advances and copies the entry out.
    pub(crate) fn next_entry(&mut self) -> Result<Option<Entry>> {
        Ok(if self.advance()? {
            Some((self.key().to_vec(), self.value().to_vec()))
        } else {
            None
        })
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
///
/// Two ways to read it: as an [`Iterator`] of owned pairs, or as a cursor
/// ([`EngineIter::step`], then [`EngineIter::key`] and
/// [`EngineIter::value`]), which forward borrows the entry from the block
/// or memtable buffer it lives in instead of copying it.
pub struct EngineIter {
    merged: MergeIter,
    snapshot: u64,
    dir: Direction,
    lower: Bound<Vec<u8>>,
    upper: Bound<Vec<u8>>,
    /// The user key of the last entry decided on (forward: skip its older
    /// versions), reused so a step allocates nothing.
    last_user: Vec<u8>,
    has_last: bool,
    /// Reverse only: the first entry of the next user key, read ahead.
    pending: Option<Entry>,
    /// Reverse only: the current entry (copied, it outlives the merge's).
    current: Entry,
    /// Forward: how many next entries are handed out unchecked (see
    /// [`MergeIter::sole_clean_after`]); the last of them then becomes
    /// `last_user`.
    clean_left: usize,
    /// Whether the last step landed on an entry.
    on_entry: bool,
    done: bool,
    /// Keeps the version (and so its tables) alive.
    _pin: Arc<Version>,
}

impl EngineIter {
    pub(crate) fn new(
        merged: MergeIter,
        snapshot: u64,
        dir: Direction,
        lower: Bound<Vec<u8>>,
        upper: Bound<Vec<u8>>,
        pin: Arc<Version>,
    ) -> EngineIter {
        EngineIter {
            merged,
            snapshot,
            dir,
            lower,
            upper,
            last_user: Vec::new(),
            has_last: false,
            pending: None,
            current: (Vec::new(), Vec::new()),
            clean_left: 0,
            on_entry: false,
            done: false,
            _pin: pin,
        }
    }

    fn below_lower(&self, user: &[u8]) -> bool {
        below_lower(&self.lower, user)
    }

    fn above_upper(&self, user: &[u8]) -> bool {
        above_upper(&self.upper, user)
    }

    /// Moves to the next key (the first, on the first call); `false` at the
    /// end of the range (and after an error). After `true`,
    /// [`EngineIter::key`] and [`EngineIter::value`] borrow the entry until
    /// the next step.
    pub fn step(&mut self) -> Result<bool> {
        if self.done {
            return Ok(false);
        }
        let r = match self.dir {
            Direction::Forward => self.step_forward(),
            Direction::Reverse => self.step_reverse(),
        };
        self.on_entry = matches!(r, Ok(true));
        if !self.on_entry {
            self.done = true;
        }
        r
    }

    /// The user key of the current entry (empty when not on one).
    pub fn key(&self) -> &[u8] {
        if !self.on_entry {
            return &[];
        }
        match self.dir {
            Direction::Forward => user_key(self.merged.key()),
            Direction::Reverse => &self.current.0,
        }
    }

    /// The value of the current entry (empty when not on one).
    pub fn value(&self) -> &[u8] {
        if !self.on_entry {
            return &[];
        }
        match self.dir {
            Direction::Forward => self.merged.value(),
            Direction::Reverse => &self.current.1,
        }
    }

    fn step_forward(&mut self) -> Result<bool> {
        // Inside a clean block of the only source left: every entry is
        // visible, a put, the only version of its key, and within the
        // range (`sole_clean_after`), so none needs the checks below.
        if self.clean_left > 0 {
            self.clean_left -= 1;
            if !self.merged.advance()? {
                return Err(malformed());
            }
            if self.clean_left == 0 {
                // The next entries are checked again, against this one.
                let user = user_key(self.merged.key());
                self.last_user.clear();
                self.last_user.extend_from_slice(user);
            }
            return Ok(true);
        }
        while self.merged.advance()? {
            let (user, seq, kind) = split(self.merged.key()).ok_or_else(malformed)?;
            if seq > self.snapshot || below_lower(&self.lower, user) {
                continue;
            }
            if self.has_last && self.last_user.as_slice() == user {
                continue;
            }
            if above_upper(&self.upper, user) {
                return Ok(false);
            }
            self.last_user.clear();
            self.last_user.extend_from_slice(user);
            self.has_last = true;
            if kind == Kind::Put {
                self.clean_left = self.merged.sole_clean_after(self.snapshot, &self.upper)?;
                return Ok(true);
            }
        }
        Ok(false)
    }

    fn step_reverse(&mut self) -> Result<bool> {
        loop {
            let first = match self.pending.take() {
                Some(e) => e,
                None => match self.merged.next_entry()? {
                    Some(e) => e,
                    None => return Ok(false),
                },
            };
            let user = split(&first.0).ok_or_else(malformed)?.0.to_vec();
            if self.below_lower(&user) {
                return Ok(false);
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
                self.current = (user, v);
                return Ok(true);
            }
        }
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
        file: "<iterator>".into(),
        offset: 0,
        what: "malformed internal key".into(),
    }
}

impl Iterator for EngineIter {
    type Item = Result<(Vec<u8>, Vec<u8>)>;

    fn next(&mut self) -> Option<Self::Item> {
        match self.step() {
            Ok(true) => {
                if self.dir == Direction::Reverse {
                    self.on_entry = false;
                    return Some(Ok(std::mem::take(&mut self.current)));
                }
                Some(Ok((self.key().to_vec(), self.value().to_vec())))
            }
            Ok(false) => None,
            Err(e) => Some(Err(e)),
        }
    }
}
