//! `txn`: transactions over the storage engine.
//!
//! Serializable by construction: at most one transaction writes at a time
//! (it holds the writer slot from its first write to commit or rollback),
//! and every transaction reads from one storage snapshot plus its own
//! uncommitted writes. Others that want to write wait up to the busy
//! timeout, then get [`Error::Busy`].
//!
//! ```text
//!   reads   = own writes (WriteSet) layered over Snapshot(seq)
//!   commit  = one atomic WriteBatch of the write set
//!   undo    = log of (key, previous write-set entry, put?), for statement
//!             rollback and savepoints, so neither copies the write set;
//!             a bulk put of keys new to the write set (an index build)
//!             is one entry, its key range
//! ```
//!
//! Replication plugs in at two points: a [`Committer`] takes the commit's
//! batch instead of the engine (a replicated node sends it through Raft
//! and returns once it is applied), and [`TxnManager::exclusive`] holds
//! new transactions back while a snapshot replaces the whole store, so no
//! reader starts on half of it.
//!
//! A transaction that read at snapshot `s` and then wants to write while
//! another transaction committed after `s` would be writing on stale reads:
//! it gets [`Error::Conflict`] (retryable) instead. A transaction that has
//! not read anything yet just moves its snapshot forward.

use std::ops::Bound;
use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::{Condvar, Mutex, RwLock, RwLockWriteGuard};

use crate::error::{Error, Result};
use crate::storage::{Direction, Engine, EngineIter, Snapshot, WriteBatch};

mod sorted_keys;
mod write_set;

pub use sorted_keys::{SortedKeys, SortedKeysBuilder};

use write_set::{Pending, WriteSet};

/// Where a commit's write batch goes instead of straight into the engine.
pub trait Committer: Send + Sync {
    /// Makes `batch` durable and visible in the engine, or fails having
    /// changed nothing (or, for [`Error::CommitUnknown`], not knowing).
    /// `read_at` is the snapshot the transaction read from. Returns a
    /// number that grows with every commit (for Raft, the log index).
    fn commit(&self, batch: WriteBatch, read_at: &Snapshot) -> Result<u64>;
}

/// Hands out the single writer slot.
pub struct TxnManager {
    engine: Arc<Engine>,
    writer: Mutex<bool>,
    freed: Condvar,
    committer: RwLock<Option<Arc<dyn Committer>>>,
    /// Shared by every `begin`, taken exclusively while the store is
    /// replaced as a whole.
    gate: RwLock<()>,
    /// The last key a committed transaction knew for a range, as of the
    /// sequence number its commit ended at (see [`Txn::last_key`]).
    carried: Mutex<Option<(u64, LastKeyHint)>>,
}

/// A key in the undo log: a short one (every row key, most index keys)
/// inline, so that logging a write allocates nothing.
enum UndoKey {
    Inline { len: u8, bytes: [u8; UNDO_INLINE] },
    Heap(Vec<u8>),
}

/// Longest key an [`UndoKey`] holds inline.
const UNDO_INLINE: usize = 38;

impl UndoKey {
    fn new(key: &[u8]) -> UndoKey {
        if key.len() <= UNDO_INLINE {
            let mut bytes = [0; UNDO_INLINE];
            bytes[..key.len()].copy_from_slice(key);
            UndoKey::Inline {
                len: key.len() as u8,
                bytes,
            }
        } else {
            UndoKey::Heap(key.to_vec())
        }
    }

    fn as_slice(&self) -> &[u8] {
        match self {
            UndoKey::Inline { len, bytes } => &bytes[..usize::from(*len)],
            UndoKey::Heap(k) => k,
        }
    }
}

/// One entry of the undo log.
enum Undo {
    /// A write of a key: the write-set entry it replaced, and whether it
    /// was a put.
    Key(UndoKey, Option<Pending>, bool),
    /// Puts of keys in `[lower, upper)`, a range of which the write set
    /// held no key before them ([`Txn::put_fresh`]): undone by emptying
    /// the range.
    Fresh { lower: Vec<u8>, upper: Vec<u8> },
}

/// Undo log position (for statement rollback and savepoints).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Mark(usize);

/// One transaction. Dropping it without [`Txn::commit`] rolls it back.
pub struct Txn {
    mgr: Arc<TxnManager>,
    snapshot: Snapshot,
    writes: WriteSet,
    /// The writes, oldest first, since the last [`Txn::settle`].
    undo: Vec<Undo>,
    /// Writes settled (forgotten by the undo log): undo positions
    /// ([`Mark`]) count from the first write of the transaction.
    settled: usize,
    holds_writer: bool,
    has_read: bool,
    /// The last key of a range as of undo position `undo_len`, kept for
    /// [`Txn::last_key`] (inserts ask for the largest rowid of one table
    /// again and again).
    last_hint: Option<LastKeyHint>,
}

/// What [`Txn::last_key`] found for `[lower, upper)` when the undo log was
/// `undo_len` entries long.
#[derive(Clone)]
struct LastKeyHint {
    lower: Vec<u8>,
    upper: Vec<u8>,
    last: Option<Vec<u8>>,
    undo_len: usize,
}

impl LastKeyHint {
    /// Learns the writes of `undo` made since the answer was kept; false
    /// when the answer is no longer known (a delete of the kept key, or a
    /// bulk put into the range).
    fn catch_up(&mut self, undo: &[Undo]) -> bool {
        let Some(since) = undo.get(self.undo_len..) else {
            return false;
        };
        let (lower, upper) = (self.lower.as_slice(), self.upper.as_slice());
        // The writes in order: the largest key changes only when a put
        // goes above it or a delete removes it.
        for entry in since {
            let (key, put) = match entry {
                Undo::Key(key, _, put) => (key.as_slice(), put),
                // Which of its keys is the largest in the kept range is
                // not at hand: forget the answer if the ranges meet.
                Undo::Fresh { lower: l, upper: u } => {
                    if l.as_slice() < upper && lower < u.as_slice() {
                        return false;
                    }
                    continue;
                }
            };
            if key < lower || key >= upper {
                continue;
            }
            if *put {
                match &mut self.last {
                    // Reuses the buffer: a load raises it on every row.
                    Some(l) if key > l.as_slice() => {
                        l.clear();
                        l.extend_from_slice(key);
                    }
                    Some(_) => {}
                    None => self.last = Some(key.to_vec()),
                }
            } else if self.last.as_deref() == Some(key) {
                return false;
            }
        }
        self.undo_len = undo.len();
        true
    }
}

impl TxnManager {
    /// A manager for `engine`.
    pub fn new(engine: Arc<Engine>) -> Arc<TxnManager> {
        Arc::new(TxnManager {
            engine,
            writer: Mutex::new(false),
            freed: Condvar::new(),
            committer: RwLock::new(None),
            gate: RwLock::new(()),
            carried: Mutex::new(None),
        })
    }

    /// Sends every later commit's batch to `committer` instead of the
    /// engine.
    pub fn set_committer(&self, committer: Arc<dyn Committer>) {
        *self.committer.write() = Some(committer);
        self.carried.lock().take();
    }

    /// Holds back new transactions until the guard is dropped (they wait;
    /// running ones keep their snapshots).
    pub fn exclusive(&self) -> RwLockWriteGuard<'_, ()> {
        let guard = self.gate.write();
        // The store's sequence numbers are about to mean other contents.
        self.carried.lock().take();
        guard
    }

    /// The engine underneath.
    pub fn engine(&self) -> &Arc<Engine> {
        &self.engine
    }

    /// Starts a transaction reading the latest committed state.
    pub fn begin(self: &Arc<Self>) -> Txn {
        let snapshot = {
            let _open = self.gate.read();
            self.engine.snapshot()
        };
        Txn {
            mgr: self.clone(),
            snapshot,
            writes: WriteSet::default(),
            undo: Vec::new(),
            settled: 0,
            last_hint: None,
            holds_writer: false,
            has_read: false,
        }
    }

    fn acquire(&self, timeout: Duration) -> Result<()> {
        let deadline = Instant::now() + timeout;
        let mut busy = self.writer.lock();
        while *busy {
            if self.freed.wait_until(&mut busy, deadline).timed_out() && *busy {
                return Err(Error::Busy {
                    waited_ms: timeout.as_millis() as u64,
                });
            }
        }
        *busy = true;
        Ok(())
    }

    fn release(&self) {
        *self.writer.lock() = false;
        self.freed.notify_one();
    }
}

impl Txn {
    /// Whether this transaction has written anything.
    pub fn is_dirty(&self) -> bool {
        !self.writes.is_empty()
    }

    /// Takes the writer slot (waiting up to `busy_timeout`) before a write.
    pub fn ensure_writer(&mut self, busy_timeout: Duration) -> Result<()> {
        if self.holds_writer {
            return Ok(());
        }
        self.mgr.acquire(busy_timeout)?;
        self.holds_writer = true;
        let latest = {
            let _open = self.mgr.gate.read();
            self.mgr.engine.snapshot()
        };
        if latest.sequence() != self.snapshot.sequence() {
            if self.has_read {
                self.mgr.release();
                self.holds_writer = false;
                return Err(Error::Conflict);
            }
            self.snapshot = latest;
        }
        Ok(())
    }

    /// The value of `key` as this transaction sees it.
    pub fn get(&mut self, key: &[u8]) -> Result<Option<Vec<u8>>> {
        self.get_with(key, <[u8]>::to_vec)
    }

    /// [`Txn::get`] that hands the value to `f` where it lies (the write
    /// set, or the store's cached block) instead of copying it out.
    pub fn get_with<R>(&mut self, key: &[u8], f: impl FnOnce(&[u8]) -> R) -> Result<Option<R>> {
        self.has_read = true;
        if let Some(w) = self.writes.get(key) {
            return Ok(w.as_deref().map(f));
        }
        self.mgr.engine.get_at_with(key, &self.snapshot, f)
    }

    /// Sets `key` (the caller holds the writer slot).
    pub fn put(&mut self, key: Vec<u8>, value: Vec<u8>) {
        // The write set keeps the caller's buffer (the key encoders leave
        // room in it for the storage engine's trailer); the undo log a copy.
        let undo_key = UndoKey::new(&key);
        let prev = self.writes.insert(key, Some(value));
        self.undo.push(Undo::Key(undo_key, prev, true));
    }

    /// Room for `n` more [`Txn::put`]s of keys in ascending order (a bulk
    /// write such as an index build): the write set and the undo log grow
    /// once instead of doubling, and copying themselves, along the way.
    pub fn reserve(&mut self, n: usize) {
        self.writes.reserve_run(n);
        self.undo.reserve(n);
    }

    /// Room for about `n` writes, mostly of ascending keys (a session
    /// expecting a transaction like its last one): the write set is
    /// allocated once instead of doubling along the way.
    pub fn reserve_writes(&mut self, n: usize) {
        self.writes.reserve_run(n);
    }

    /// Puts each of `keys` with an empty value (the caller holds the
    /// writer slot): a bulk write such as an index build, its keys
    /// ascending and all in `[lower, upper)`. When the write set holds no
    /// key of that range, one undo entry covers them all (a rollback
    /// empties the range) instead of a copy of every key; otherwise, or
    /// if the keys are not ascending inside the range, each is put as by
    /// [`Txn::put`].
    pub fn put_fresh(&mut self, lower: &[u8], upper: &[u8], keys: Vec<Vec<u8>>) {
        let ends = keys.first().zip(keys.last());
        if !self.fresh_for(
            lower,
            upper,
            ends.map(|(a, b)| (a.as_slice(), b.as_slice())),
        ) {
            return self.put_each(keys);
        }
        // Above everything written (the common case): the run checks the
        // order as it takes the keys, each compared once. Ascending from
        // a first key at or above `lower` to a last below `upper`, they
        // are all inside the range the undo entry empties.
        let keys = match self.writes.extend_run(keys) {
            Ok(()) => {
                self.undo.push(Undo::Fresh {
                    lower: lower.to_vec(),
                    upper: upper.to_vec(),
                });
                return;
            }
            Err(keys) => keys,
        };
        if !keys.windows(2).all(|w| w[0] < w[1]) {
            return self.put_each(keys);
        }
        self.writes.reserve_run(keys.len());
        self.undo.push(Undo::Fresh {
            lower: lower.to_vec(),
            upper: upper.to_vec(),
        });
        for k in keys {
            self.writes.insert(k, Some(Vec::new()));
        }
    }

    /// [`Txn::put_fresh`] of keys a [`SortedKeysBuilder`] sorted: when
    /// they are known strictly ascending, the write set takes them without
    /// comparing each with the one before (their order was checked on
    /// their heads, which sit together, not on the keys, which lie
    /// scattered).
    pub fn put_fresh_sorted(&mut self, lower: &[u8], upper: &[u8], keys: SortedKeys) {
        let ends = keys.keys.first().zip(keys.keys.last());
        if !keys.ascending
            || !self.fresh_for(
                lower,
                upper,
                ends.map(|(a, b)| (a.1.as_slice(), b.1.as_slice())),
            )
        {
            return self.put_fresh(lower, upper, keys.into_keys());
        }
        match self.writes.extend_run_ascending(keys.into_keys()) {
            Ok(()) => self.undo.push(Undo::Fresh {
                lower: lower.to_vec(),
                upper: upper.to_vec(),
            }),
            Err(keys) => self.put_fresh(lower, upper, keys),
        }
    }

    /// Whether keys from `ends` (first, last; `None`: no keys) lie in
    /// `[lower, upper)` and the write set holds no key of that range: one
    /// undo entry that empties the range can then undo them all.
    fn fresh_for(&self, lower: &[u8], upper: &[u8], ends: Option<(&[u8], &[u8])>) -> bool {
        let within = ends.is_none_or(|(first, last)| first >= lower && last < upper);
        within
            && self
                .writes
                .range((Bound::Included(lower), Bound::Excluded(upper)))
                .next()
                .is_none()
    }

    /// [`Txn::put`] of each of `keys` with an empty value.
    fn put_each(&mut self, keys: Vec<Vec<u8>>) {
        self.reserve(keys.len());
        for k in keys {
            self.put(k, Vec::new());
        }
    }

    /// Deletes `key` (the caller holds the writer slot).
    pub fn delete(&mut self, key: Vec<u8>) {
        // The write set keeps the caller's buffer (the key encoders leave
        // room in it for the storage engine's trailer); the undo log a copy.
        let undo_key = UndoKey::new(&key);
        let prev = self.writes.insert(key, None);
        self.undo.push(Undo::Key(undo_key, prev, false));
    }

    /// The current undo position.
    pub fn mark(&self) -> Mark {
        Mark(self.settled + self.undo.len())
    }

    /// Forgets how to undo the writes made so far, one by one: the caller
    /// (a session between statements with no savepoint) holds no
    /// [`Mark`] from before now and takes none until it is done with
    /// them. A transaction of many statements then keeps an undo log of
    /// one statement, not one entry per row it ever wrote (a bulk load's
    /// 200,000 rows held 14 MB of it until the commit). Rolling the whole
    /// transaction back still drops every write.
    pub fn settle(&mut self) {
        // The kept last key learns the writes about to be forgotten.
        if let Some(h) = self.last_hint.as_mut() {
            if h.catch_up(&self.undo) {
                h.undo_len = 0;
            } else {
                self.last_hint = None;
            }
        }
        self.settled += self.undo.len();
        self.undo.clear();
    }

    /// Undoes every write made after `mark`; a mark from before the last
    /// [`Txn::settle`] undoes only what was written since.
    pub fn rollback_to(&mut self, mark: Mark) {
        debug_assert!(mark.0 >= self.settled, "rollback past a settled write");
        let mark = mark.0.saturating_sub(self.settled);
        // A hint may count writes being undone; later writes would refill
        // the undo log past its position with other ones.
        if self.last_hint.as_ref().is_some_and(|h| h.undo_len > mark) {
            self.last_hint = None;
        }
        while self.undo.len() > mark {
            let Some(entry) = self.undo.pop() else {
                break;
            };
            let (key, prev) = match entry {
                Undo::Key(key, prev, _) => (key, prev),
                Undo::Fresh { lower, upper } => {
                    self.writes.remove_range(&lower, &upper);
                    continue;
                }
            };
            let key = key.as_slice();
            match prev {
                // The key is in the write set: it was written after `mark`.
                Some(p) => match self.writes.get_mut(key) {
                    Some(slot) => *slot = p,
                    None => {
                        self.writes.insert(key.to_vec(), p);
                    }
                },
                None => {
                    self.writes.remove(key);
                }
            }
        }
    }

    /// Iterates over `[lower, upper)` in `dir`, merging own writes over the
    /// snapshot. Streams from storage; own writes in range are copied.
    pub fn scan(
        &mut self,
        lower: Bound<Vec<u8>>,
        upper: Bound<Vec<u8>>,
        dir: Direction,
    ) -> Result<TxnIter> {
        self.has_read = true;
        let mut own: Vec<(Vec<u8>, Pending)> = self
            .writes
            .range((borrowed(&lower), borrowed(&upper)))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        // The bounds go to the store as they are (an index probe's seek
        // copies no bound).
        let base = self
            .mgr
            .engine
            .iter_bounds(lower, upper, dir, Some(&self.snapshot))?;
        if dir == Direction::Reverse {
            own.reverse();
        }
        Ok(TxnIter {
            base,
            base_on: false,
            base_stale: true,
            own,
            own_pos: 0,
            current: Current::Nothing,
            dir,
        })
    }

    /// The largest key in `[lower, upper)` this transaction sees: the
    /// first key of a reverse [`Txn::scan`]. The answer is kept, and the
    /// next call for the same range only looks at the writes made since:
    /// the snapshot is fixed once the transaction has read, so only its
    /// own writes change the answer — a put of a larger key raises it, a
    /// delete of that key makes it unknown (read again). Without this, an
    /// insert after many deleted rows would pass over all their
    /// tombstones again for every row.
    ///
    /// A committed transaction leaves its answer to the manager, as of the
    /// sequence number its commit ended at; a later transaction reading
    /// at exactly that sequence number (nothing committed since) starts
    /// from it, so a transaction of a few inserts does not read the
    /// table's end again. Only without a [`Committer`] (a replicated
    /// store's sequence numbers are the state machine's).
    pub fn last_key(&mut self, lower: Vec<u8>, upper: Vec<u8>) -> Result<Option<Vec<u8>>> {
        if self.refresh_last_hint(&lower, &upper) {
            return Ok(self.last_hint.as_ref().and_then(|h| h.last.clone()));
        }
        let last = match self
            .scan(
                Bound::Included(lower.clone()),
                Bound::Excluded(upper.clone()),
                Direction::Reverse,
            )?
            .next()
        {
            Some(Ok((k, _))) => Some(k),
            Some(Err(e)) => return Err(e),
            None => None,
        };
        self.last_hint = Some(LastKeyHint {
            lower,
            upper,
            last: last.clone(),
            undo_len: self.undo.len(),
        });
        Ok(last)
    }

    /// Whether `key` (of `[lower, upper)`) is after every key of the range
    /// this transaction sees, when that is known without reading: `None`
    /// unless [`Txn::last_key`] answered for this very range before.
    pub fn after_last_key(&mut self, lower: &[u8], upper: &[u8], key: &[u8]) -> Option<bool> {
        if !self.refresh_last_hint(lower, upper) {
            return None;
        }
        let h = self.last_hint.as_ref()?;
        Some(h.last.as_deref().is_none_or(|l| key > l))
    }

    /// Whether [`Txn::last_key`] keeps an answer (for any range).
    pub fn has_last_key_hint(&self) -> bool {
        self.last_hint.is_some()
    }

    /// The number of writes this transaction has made (undo entries: a
    /// [`Txn::put_fresh`] counts once).
    pub fn write_count(&self) -> usize {
        self.settled + self.undo.len()
    }

    /// Brings the kept answer of [`Txn::last_key`] up to date with the
    /// writes made since, if it is for `[lower, upper)`; whether it is
    /// (still) known.
    fn refresh_last_hint(&mut self, lower: &[u8], upper: &[u8]) -> bool {
        if self.last_hint.is_none() {
            self.adopt_carried(lower, upper);
        }
        let Txn {
            last_hint, undo, ..
        } = self;
        let Some(h) = last_hint.as_mut() else {
            return false;
        };
        if h.lower != lower || h.upper != upper {
            return false;
        }
        if !h.catch_up(undo) {
            *last_hint = None;
            return false;
        }
        true
    }

    /// Takes the answer a committed transaction left for `[lower,
    /// upper)` if it holds for this one: it reads at the very sequence
    /// number that commit ended at, and every write of its own is still in
    /// the undo log (none settled), for the answer to learn from.
    fn adopt_carried(&mut self, lower: &[u8], upper: &[u8]) {
        if self.settled > 0 || self.mgr.committer.read().is_some() {
            return;
        }
        let seq = self.snapshot.sequence();
        let carried = self.mgr.carried.lock();
        if let Some((at, h)) = carried.as_ref() {
            if *at == seq && h.lower == lower && h.upper == upper {
                let mut h = h.clone();
                h.undo_len = 0;
                self.last_hint = Some(h);
            }
        }
    }

    /// The number of keys in `[lower, upper)` (the bounds as given) this
    /// transaction sees: what [`Txn::scan`] would return, counted without
    /// reading what the store can count from its table indexes.
    pub fn count(&mut self, lower: Bound<Vec<u8>>, upper: Bound<Vec<u8>>) -> Result<u64> {
        self.has_read = true;
        let own: Vec<(&[u8], bool)> = self
            .writes
            .range((borrowed(&lower), borrowed(&upper)))
            .map(|(k, v)| (k.as_slice(), v.is_some()))
            .collect();
        self.mgr
            .engine
            .count((lower, upper), Some(&self.snapshot), &own)
    }

    /// Commits: applies the write set atomically. Returns the commit's
    /// sequence number (or the snapshot's, for a read-only transaction).
    pub fn commit(self) -> Result<u64> {
        self.commit_then(|| {})
    }

    /// [`Txn::commit`], then — only if the commit succeeded, and while
    /// this transaction still holds the writer slot — `publish`. Whatever
    /// state the next writer reads (the published schema and security
    /// catalog) is thereby already the committed one: a writer that
    /// released the slot before publishing would let the next writer
    /// build on the previous state and overwrite this commit's change.
    pub fn commit_then(mut self, publish: impl FnOnce()) -> Result<u64> {
        let r = if self.writes.is_empty() {
            Ok(self.snapshot.sequence())
        } else {
            // The write set holds each key once and hands them out in order.
            let b = WriteBatch::from_sorted(std::mem::take(&mut self.writes).into_sorted_vec());
            let committer = self.mgr.committer.read().clone();
            match committer {
                Some(c) => c.commit(b, &self.snapshot),
                None => {
                    // Still the writer: nobody else commits before the
                    // answer is left with the sequence number it is true at.
                    let hint = self
                        .last_hint
                        .take()
                        .filter(|_| self.holds_writer)
                        .and_then(|mut h| h.catch_up(&self.undo).then_some(h));
                    let r = self.mgr.engine.write(b);
                    *self.mgr.carried.lock() = match (&r, hint) {
                        (Ok(seq), Some(mut h)) => {
                            h.undo_len = 0;
                            Some((*seq, h))
                        }
                        _ => None,
                    };
                    r
                }
            }
        };
        self.undo.clear();
        if r.is_ok() {
            publish();
        }
        r
        // Dropping `self` releases the writer slot, after `publish`.
    }
}

impl Drop for Txn {
    fn drop(&mut self) {
        if self.holds_writer {
            self.mgr.release();
        }
    }
}

/// Iterator of a transaction scan: `(key, value)` in order.
///
/// Read it as an [`Iterator`] of owned pairs, or as a cursor
/// ([`TxnIter::step`], then [`TxnIter::key`] and [`TxnIter::value`]),
/// which borrows the entry from storage instead of copying it.
pub struct TxnIter {
    base: EngineIter,
    /// Whether `base` is on an entry not yet handed out or passed.
    base_on: bool,
    /// Whether `base` must step before its entry is looked at.
    base_stale: bool,
    own: Vec<(Vec<u8>, Pending)>,
    own_pos: usize,
    current: Current,
    dir: Direction,
}

/// Where the cursor's current entry lives.
#[derive(Clone, Copy)]
enum Current {
    Nothing,
    Base,
    /// `own[i]`.
    Own(usize),
}

impl TxnIter {
    /// Moves to the next entry (the first, on the first call); `false` at
    /// the end. After `true`, [`TxnIter::key`] and [`TxnIter::value`]
    /// borrow the entry until the next step.
    pub fn step(&mut self) -> Result<bool> {
        self.current = Current::Nothing;
        loop {
            if self.base_stale {
                self.base_on = self.base.step()?;
                self.base_stale = false;
            }
            let own = self.own.get(self.own_pos);
            let take_own = match (self.base_on, own) {
                (false, None) => return Ok(false),
                (false, Some(_)) => true,
                (true, None) => false,
                (true, Some((ok, _))) => {
                    let bk = self.base.key();
                    match self.dir {
                        Direction::Forward => ok.as_slice() <= bk,
                        Direction::Reverse => ok.as_slice() >= bk,
                    }
                }
            };
            if !take_own {
                self.current = Current::Base;
                self.base_stale = true;
                return Ok(true);
            }
            let i = self.own_pos;
            self.own_pos += 1;
            let (k, v) = &self.own[i];
            // Own write shadows the stored version of the same key.
            if self.base_on && self.base.key() == k.as_slice() {
                self.base_stale = true;
            }
            if v.is_some() {
                self.current = Current::Own(i);
                return Ok(true);
            }
        }
    }

    /// The key of the current entry (empty when not on one).
    pub fn key(&self) -> &[u8] {
        match self.current {
            Current::Nothing => &[],
            Current::Base => self.base.key(),
            Current::Own(i) => &self.own[i].0,
        }
    }

    /// The value of the current entry (empty when not on one).
    pub fn value(&self) -> &[u8] {
        match self.current {
            Current::Nothing => &[],
            Current::Base => self.base.value(),
            Current::Own(i) => self.own[i].1.as_deref().unwrap_or_default(),
        }
    }
}

impl Iterator for TxnIter {
    type Item = Result<(Vec<u8>, Vec<u8>)>;

    fn next(&mut self) -> Option<Self::Item> {
        match self.step() {
            Ok(true) => Some(Ok((self.key().to_vec(), self.value().to_vec()))),
            Ok(false) => None,
            Err(e) => Some(Err(e)),
        }
    }
}

/// `b` with its key borrowed.
fn borrowed(b: &Bound<Vec<u8>>) -> Bound<&[u8]> {
    b.as_ref().map(Vec::as_slice)
}
