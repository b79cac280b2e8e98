//! `storage`: an ordered key-value engine (an LSM tree) on sealed files.
//!
//! ```text
//!   write ─► group commit ─► WAL segment (fsync) ─► memtable ──full──► immutable memtable
//!                                                                        │ background flush
//!   read ◄── memtable ◄── immutables ◄── L0 tables ◄── L1 … L6 ◄────────┘ leveled compaction
//! ```
//!
//! Invariants:
//! - a write is acknowledged only after its WAL record is written (and, in
//!   [`SyncMode::Full`], fsynced); recovery replays the WAL, so nothing
//!   acknowledged as durable is lost;
//! - every file goes through `vfs::SealedDir`, so it is encrypted under the
//!   active data key at the time it is written, and compaction (which
//!   rewrites files) moves data to the newest key by itself;
//! - readers see a consistent snapshot: a sequence number plus `Arc`s of the
//!   memtables and the table set as of the moment they started;
//! - after a failed write/fsync or a panic on the background thread the
//!   engine is poisoned: writes fail with [`Error::Poisoned`] until reopened
//!   (fail-stop, as redb and fjall do);
//! - one process at a time: the directory's `LOCK` file is held while open
//!   ([`Engine::open_read_only`] takes no lock and writes nothing);
//! - every file is checked against the identity the manifest (or CURRENT,
//!   or the previous log segment) recorded for it before it is used, and
//!   files newer than the manifest are quarantined, never deleted
//!   (`recovery.rs`); the log is replayed into memory, so opening needs no
//!   space in proportion to it;
//! - a failed flush, compaction or open removes the files it made.
//!
//! Files in the store directory:
//!
//! ```text
//!   KEYREGISTRY  data keys (under the store key)      CURRENT     → live manifest
//!   MANIFEST-N   log of table-set edits               N.wal       write-ahead log segments
//!   N.sst        sorted tables                        LOCK        process lock (not sealed)
//!   quarantine/  files newer than the manifest knew of (moved aside at open)
//! ```

pub(crate) mod batch;
pub(crate) mod cache;
pub mod checkpoint;
mod commit;
mod compaction;
pub(crate) mod count;
mod flush;
pub(crate) mod iter;
pub(crate) mod key;
mod key_hash;
pub(crate) mod manifest;
pub(crate) mod memtable;
mod open;
mod options;
pub(crate) mod recovery;
mod snapshots;
pub(crate) mod sst;
#[cfg(test)]
pub(crate) mod test_rng;
pub(crate) mod version;
pub(crate) mod wal;

pub use batch::WriteBatch;
pub use checkpoint::{
    complete_install, is_unfinished_install, Checkpoint, CheckpointInstaller, CheckpointLog,
    CheckpointTable, INCOMPLETE_MARKER,
};
pub use iter::{Direction, EngineIter};
pub use options::{LevelStats, Progress, Stats, StorageOptions, SyncMode};
pub use recovery::QUARANTINE_DIR;

use std::collections::{HashMap, HashSet, VecDeque};
use std::ops::{Bound, RangeBounds};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use parking_lot::{Condvar, Mutex, RwLock};

use crate::crypto::{KeyId, KeyProvider};
use crate::error::{Error, Result};
use crate::vfs::{EncryptionStatus, FileKind, KeyOptions, LockGuard, SealedDir, Vfs};

use self::cache::BlockCache;
use self::iter::{MemSource, MergeIter, Source, TablesSource};
use self::key::{cmp_ikey, seek_key, split, user_key, Kind};
use self::manifest::{manifest_name, Manifest, CURRENT};
use self::memtable::{Lookup, Memtable};
use self::sst::builder::{SstBuilder, TableSummary};
use self::sst::reader::{Hit, SstReader};
use self::sst::table_name;
use self::version::{FileMeta, Version, VersionEdit, NUM_LEVELS};
use self::wal::{wal_name, SegmentId, WalWriter};

/// A consistent read view: reads through it see the store as of its
/// creation. Compaction keeps every version a live snapshot needs.
pub struct Snapshot {
    seq: u64,
    inner: Arc<Inner>,
}

impl Snapshot {
    /// The sequence number the snapshot reads at.
    pub fn sequence(&self) -> u64 {
        self.seq
    }
}

impl Drop for Snapshot {
    fn drop(&mut self) {
        self.inner.snapshots.lock().remove(self.seq);
    }
}

struct Pending {
    /// Taken by the group's leader, which moves it into the memtable.
    batch: Mutex<WriteBatch>,
    /// The batch's [`WriteBatch::len`] and [`WriteBatch::approximate_size`].
    len: u64,
    size: usize,
    result: Mutex<Option<Result<u64>>>,
}

struct State {
    mem: Arc<Memtable>,
    imm: VecDeque<Arc<Memtable>>,
    version: Arc<Version>,
    /// The manifest being appended to (`None` when read-only).
    manifest: Option<Manifest>,
    manifest_number: u64,
    /// IVs of the live log segments (the manifest records the oldest's).
    log_ivs: HashMap<u64, u128>,
    /// Live segments that recovery found with a torn tail: the file
    /// offset where their complete records end (a checkpoint streams
    /// records up to there, not into the torn bytes).
    torn_ends: HashMap<u64, u64>,
    next_file: u64,
    flushed_seq: u64,
    /// Per level: the largest key of the last compaction (round-robin).
    compact_pointer: Vec<Vec<u8>>,
    /// Set while the background thread flushes, so `flush()` can wait.
    flushing: bool,
}

#[derive(Default)]
struct Counters {
    user: AtomicU64,
    wal: AtomicU64,
    flush: AtomicU64,
    compaction: AtomicU64,
}

struct Inner {
    dir: SealedDir,
    opts: StorageOptions,
    cache: Arc<BlockCache>,
    tables: RwLock<recovery::TableMap>,
    /// Bumped (under `tables`' write lock) each time tables are forgotten.
    tables_epoch: AtomicU64,
    state: Mutex<State>,
    cv: Condvar,
    queue: Mutex<VecDeque<Arc<Pending>>>,
    queue_cv: Condvar,
    wal: Mutex<Option<WalWriter>>,
    /// Whether this run's log segment and manifest exist (a read-only
    /// engine has none and never starts).
    run_started: AtomicBool,
    /// What the run will make when it starts (`open.rs`); `None` once
    /// started, and when read-only.
    run_start: Mutex<Option<open::RunStart>>,
    visible: AtomicU64,
    snapshots: Mutex<snapshots::SnapshotCounts>,
    poison: Mutex<Option<String>>,
    shutdown: AtomicBool,
    compaction_lock: Mutex<()>,
    /// Table numbers being written and not yet installed: not obsolete.
    pending_tables: Mutex<HashSet<u64>>,
    /// Every version handed out; a table is deleted only when no version
    /// still alive (held by a reader or iterator) lists it.
    versions: Mutex<Vec<std::sync::Weak<Version>>>,
    cleanup: Mutex<()>,
    /// Flushed memtables some reader may still hold: the background
    /// thread drops each once it holds the last reference, so a query
    /// that happens to release a big memtable last does not pay for
    /// freeing it (20% of a lookup loop's time after CREATE INDEX).
    retired: Mutex<Vec<Arc<Memtable>>>,
    /// Oldest log segment each live checkpoint needs (kept while pinned).
    pinned_logs: Mutex<Vec<u64>>,
    counters: Counters,
    read_only: bool,
    /// Files found newer than the manifest at open.
    quarantined: Vec<String>,
    _lock: Option<Box<dyn LockGuard>>,
}

/// The storage engine. Cheap to share behind an `Arc`; all methods take
/// `&self` and are safe to call from many threads.
pub struct Engine {
    inner: Arc<Inner>,
    bg: Mutex<Option<JoinHandle<()>>>,
}

/// Name of the process lock file.
pub const LOCK_FILE: &str = "LOCK";

fn parse_number(name: &str, suffix: &str) -> Option<u64> {
    name.strip_suffix(suffix)
        .filter(|n| n.len() >= 6 && n.bytes().all(|b| b.is_ascii_digit()))
        .and_then(|n| n.parse().ok())
}

fn parse_manifest_number(name: &str) -> Option<u64> {
    name.strip_prefix("MANIFEST-")
        .filter(|n| n.len() >= 6 && n.bytes().all(|b| b.is_ascii_digit()))
        .and_then(|n| n.parse().ok())
}

/// Removes a file this process created and failed to finish (best effort:
/// the error that made it partial is the one worth reporting; a leftover is
/// removed by the next cleanup or quarantined by the next open).
pub(crate) fn remove_partial(dir: &SealedDir, name: &str) {
    let path = dir.dir().join(name);
    if dir.vfs().exists(&path).unwrap_or(false) {
        let _ = dir.vfs().remove(&path);
    }
}

impl Engine {
    /// Files found newer than the manifest knew of when the store was
    /// opened: a read-write open moved them to `quarantine/` (see
    /// [`recovery::QUARANTINE_DIR`]), a read-only one left them. Normally
    /// empty; after a crash it may name a table or manifest that was being
    /// written; otherwise someone rolled the manifest back.
    pub fn quarantined(&self) -> &[String] {
        &self.inner.quarantined
    }

    /// Whether the store was opened with [`Engine::open_read_only`].
    pub fn is_read_only(&self) -> bool {
        self.inner.read_only
    }

    /// The value of `key`, if any.
    pub fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>> {
        self.inner
            .get(key, self.inner.visible.load(Ordering::Acquire))
    }

    /// The value of `key` as of `snapshot`.
    pub fn get_at(&self, key: &[u8], snapshot: &Snapshot) -> Result<Option<Vec<u8>>> {
        self.inner.get(key, snapshot.seq)
    }

    /// [`Engine::get_at`] that hands the value to `f` where it lies instead
    /// of copying it out (a row decoded straight from its cached block).
    pub fn get_at_with<R>(
        &self,
        key: &[u8],
        snapshot: &Snapshot,
        f: impl FnOnce(&[u8]) -> R,
    ) -> Result<Option<R>> {
        self.inner.get_with(key, snapshot.seq, f)
    }

    /// Sets `key` to `value`. Returns the write's sequence number.
    pub fn put(&self, key: &[u8], value: &[u8]) -> Result<u64> {
        let mut b = WriteBatch::new();
        b.put(key, value);
        self.write(b)
    }

    /// Deletes `key`. Returns the write's sequence number.
    pub fn delete(&self, key: &[u8]) -> Result<u64> {
        let mut b = WriteBatch::new();
        b.delete(key);
        self.write(b)
    }

    /// Applies `batch` atomically. Returns the sequence number of its last
    /// operation (the batch is visible to snapshots at or after it).
    pub fn write(&self, batch: WriteBatch) -> Result<u64> {
        self.inner.write(batch)
    }

    /// A snapshot of the current state.
    pub fn snapshot(&self) -> Snapshot {
        let mut s = self.inner.snapshots.lock();
        let seq = self.inner.visible.load(Ordering::Acquire);
        s.add(seq);
        Snapshot {
            seq,
            inner: self.inner.clone(),
        }
    }

    /// Iterates over the keys in `range` in `direction`, as of `snapshot`
    /// (or now). The iterator streams; it sees no writes made after it was
    /// created.
    pub fn iter<R: RangeBounds<Vec<u8>>>(
        &self,
        range: R,
        direction: Direction,
        snapshot: Option<&Snapshot>,
    ) -> Result<EngineIter> {
        self.iter_bounds(
            range.start_bound().cloned(),
            range.end_bound().cloned(),
            direction,
            snapshot,
        )
    }

    /// [`Engine::iter`] over `lower..upper` given as owned bounds, which the
    /// iterator keeps instead of copies.
    pub fn iter_bounds(
        &self,
        lower: Bound<Vec<u8>>,
        upper: Bound<Vec<u8>>,
        direction: Direction,
        snapshot: Option<&Snapshot>,
    ) -> Result<EngineIter> {
        let seq = snapshot.map_or_else(|| self.inner.visible.load(Ordering::Acquire), |s| s.seq);
        self.inner.iter(lower, upper, direction, seq)
    }

    /// The number of keys in `range` as of `snapshot` (or now), with
    /// `own` — a transaction's uncommitted writes in the range, in key
    /// order: `(key, whether a put)` — layered on top: the number of
    /// entries [`Engine::iter`] merged with them would give, found without
    /// reading the blocks the table index proves it need not read (see
    /// `storage::count`).
    pub fn count<R: RangeBounds<Vec<u8>>>(
        &self,
        range: R,
        snapshot: Option<&Snapshot>,
        own: &[(&[u8], bool)],
    ) -> Result<u64> {
        let seq = snapshot.map_or_else(|| self.inner.visible.load(Ordering::Acquire), |s| s.seq);
        self.inner
            .count(
                range.start_bound().cloned(),
                range.end_bound().cloned(),
                seq,
                own,
            )
            .map(|(n, _, _)| n)
    }

    /// Writes the memtable out to a table and waits until every memtable
    /// written before this call is flushed.
    pub fn flush(&self) -> Result<()> {
        self.inner.flush()
    }

    /// Compacts everything into the bottom level (dropping overwritten
    /// versions and tombstones no snapshot needs).
    pub fn compact(&self) -> Result<()> {
        self.inner.flush()?;
        self.inner
            .compact_all(false)
            .inspect_err(|e| self.inner.set_poison(format!("compaction failed: {e}")))
    }

    /// Full compaction (VACUUM): the memtable is flushed and a fresh log
    /// segment started (older segments are removed), then every table is
    /// rewritten into the bottom level without overwritten versions and
    /// tombstones, so deleted data leaves the store's files — except what
    /// a snapshot still open reads, kept until a later compaction.
    pub fn vacuum(&self) -> Result<()> {
        self.inner.flush_inner(true)?;
        self.inner
            .compact_all(true)
            .inspect_err(|e| self.inner.set_poison(format!("VACUUM failed: {e}")))
    }

    /// Rewrites every live file under the active data key (after checking the
    /// provider for a new store key), reporting progress, then drops data
    /// keys no file needs any more. For when a key is suspected leaked.
    pub fn rewrite_all(&self, progress: impl FnMut(Progress)) -> Result<()> {
        self.inner.rewrite_all(progress).inspect_err(|e| {
            self.inner
                .set_poison(format!("rewriting under the active key failed: {e}"))
        })
    }

    /// Counters and sizes.
    pub fn stats(&self) -> Stats {
        self.inner.stats()
    }

    /// Which keys protect the live files.
    pub fn encryption_status(&self) -> Result<EncryptionStatus> {
        let live = self.inner.live_files();
        self.inner.dir.encryption_status(|n| live.contains(n))
    }

    /// The sealed directory underneath (for the layers above that keep
    /// their own files, such as the audit log).
    pub fn sealed_dir(&self) -> &SealedDir {
        &self.inner.dir
    }

    /// Whether the engine is poisoned, and why.
    pub fn poisoned(&self) -> Option<String> {
        self.inner.poison.lock().clone()
    }

    /// Writes the memtable out, syncs the log, stops the background thread
    /// and releases the lock.
    pub fn close(self) -> Result<()> {
        self.shutdown()
    }

    fn shutdown(&self) -> Result<()> {
        // A clean close writes the memtable out, so the next open has no
        // log to replay (replaying it was most of the time of an open).
        // The log stays the source of truth if this fails.
        if self.inner.poison.lock().is_none() && !self.inner.shutdown.load(Ordering::SeqCst) {
            let _ = self.inner.flush();
        }
        let synced = match self.inner.wal.lock().as_mut() {
            Some(w) if self.inner.poison.lock().is_none() => w.sync(),
            _ => Ok(()),
        };
        self.inner.shutdown.store(true, Ordering::SeqCst);
        {
            let _st = self.inner.state.lock();
            self.inner.cv.notify_all();
        }
        if let Some(h) = self.bg.lock().take() {
            let _ = h.join();
        }
        synced
    }
}

impl Drop for Engine {
    fn drop(&mut self) {
        let _ = self.shutdown();
    }
}

fn meta_of(number: u64, s: &TableSummary) -> FileMeta {
    FileMeta {
        number,
        size: s.size,
        entries: s.entries,
        smallest: s.smallest.clone(),
        largest: s.largest.clone(),
        identity: s.identity,
    }
}

/// Writes `entries` (internal-key order) to table `number`. On failure
/// the partial table is removed, so a full disk does not fill up further
/// with every retry.
fn write_table(
    dir: &SealedDir,
    number: u64,
    opts: &StorageOptions,
    cache: Option<&Arc<BlockCache>>,
    feed: impl FnOnce(&mut dyn FnMut(&[u8], &[u8]) -> Result<()>) -> Result<()>,
) -> Result<TableSummary> {
    let name = table_name(number);
    let written = (|| {
        let w = dir.create_file(&name, FileKind::Sstable)?;
        let mut b = SstBuilder::new(w, opts.block_bytes, opts.bloom_bits_per_key)
            .with_format(opts.table_format);
        if let Some(c) = cache {
            b = b.warming(c.clone(), number);
        }
        feed(&mut |k, v| b.add(k, v))?;
        let summary = b.finish()?;
        // The table's name must be durable before a manifest edit names it.
        dir.vfs().sync_dir(dir.dir())?;
        Ok(summary)
    })();
    written.inspect_err(|_| {
        remove_partial(dir, &name);
        if let Some(c) = cache {
            c.evict_table(number);
        }
    })
}

impl Inner {
    fn check_poison(&self) -> Result<()> {
        if self.read_only {
            return Err(Error::ReadOnly {
                path: self.dir.dir().to_path_buf(),
            });
        }
        match &*self.poison.lock() {
            Some(reason) => Err(Error::Poisoned {
                reason: reason.clone(),
            }),
            None => Ok(()),
        }
    }

    fn set_poison(&self, reason: String) {
        let mut p = self.poison.lock();
        if p.is_none() {
            *p = Some(reason);
        }
        drop(p);
        let _st = self.state.lock();
        self.cv.notify_all();
    }

    fn table(&self, f: &FileMeta) -> Result<Arc<SstReader>> {
        if let Some(t) = self.tables.read().get(&f.number) {
            return Ok(t.clone());
        }
        // A reader of an older version may open a table a compaction has
        // just replaced: it is kept only while the current version lists
        // it, or it would hold the removed file open until the engine
        // closes. `forget_tables` runs after the install that drops a
        // table and bumps the epoch under the write lock, so either the
        // version check sees the drop or the epoch has moved on.
        let epoch = self.tables_epoch.load(Ordering::Acquire);
        let t = Arc::new(SstReader::open(&self.dir, f, self.cache.clone())?);
        let current = self
            .state
            .lock()
            .version
            .all_files()
            .any(|(_, g)| g.number == f.number);
        let mut tables = self.tables.write();
        if current && self.tables_epoch.load(Ordering::Acquire) == epoch {
            tables.insert(f.number, t.clone());
        }
        Ok(t)
    }

    fn view(&self) -> (Arc<Memtable>, Vec<Arc<Memtable>>, Arc<Version>) {
        let st = self.state.lock();
        (
            st.mem.clone(),
            st.imm.iter().rev().cloned().collect(),
            st.version.clone(),
        )
    }

    fn get(&self, key: &[u8], seq: u64) -> Result<Option<Vec<u8>>> {
        self.get_with(key, seq, <[u8]>::to_vec)
    }

    /// The value of `key` as of `seq`, handed to `f` where it lies (a table's
    /// value in its cached block, not copied out first).
    fn get_with<R>(&self, key: &[u8], seq: u64, f: impl FnOnce(&[u8]) -> R) -> Result<Option<R>> {
        let (mem, imm, version) = self.view();
        // An empty memtable holds nothing visible at `seq` and cannot come
        // to (a later write's sequence number is above it): skipped, it
        // costs no seek key (the active one is empty after every flush and
        // on a reopened store, where reads spend their time).
        for m in std::iter::once(&mem).chain(imm.iter()) {
            if m.is_empty() {
                continue;
            }
            match m.get(key, seq) {
                Lookup::Found(v) => return Ok(Some(f(&v))),
                Lookup::Deleted => return Ok(None),
                Lookup::Absent => {}
            }
        }
        // The seek key on the stack when it is short (row keys, most index
        // keys): a lookup makes no allocation for it.
        let mut stack = [0u8; 64];
        let heap;
        let target: &[u8] = match stack.get_mut(..key.len() + 8) {
            Some(t) => {
                let (user, trailer) = t.split_at_mut(key.len());
                user.copy_from_slice(key);
                trailer.copy_from_slice(&key::trailer(seq, Kind::Put).to_be_bytes());
                t
            }
            None => {
                heap = seek_key(key, seq);
                &heap
            }
        };
        Ok(match self.find_in_tables(&version, key, target)? {
            Hit::Value(block, i) => Some(f(block.value(i))),
            Hit::Deleted | Hit::Absent => None,
        })
    }

    /// The newest version of user key `key` in `version`'s tables, `target`
    /// its seek key: level-0 tables newest first, then the one table per
    /// deeper level that may hold it; the first that has a version decides.
    fn find_in_tables(&self, version: &Version, key: &[u8], target: &[u8]) -> Result<Hit> {
        for file in &version.levels[0] {
            if file.overlaps(key, key) {
                match self.table(file)?.find(key, target)? {
                    Hit::Absent => {}
                    decided => return Ok(decided),
                }
            }
        }
        for files in &version.levels[1..] {
            let i =
                files.partition_point(|f| cmp_ikey(&f.largest, target) == std::cmp::Ordering::Less);
            if let Some(file) = files.get(i) {
                if user_key(&file.smallest) <= key {
                    match self.table(file)?.find(key, target)? {
                        Hit::Absent => {}
                        decided => return Ok(decided),
                    }
                }
            }
        }
        Ok(Hit::Absent)
    }

    fn iter(
        &self,
        lower: Bound<Vec<u8>>,
        upper: Bound<Vec<u8>>,
        dir: Direction,
        seq: u64,
    ) -> Result<EngineIter> {
        let (mem, imm, version) = self.view();
        let start = iter::start_key(dir, &lower, &upper);
        // The bound the cursors move towards: a memtable cursor stops there
        // (each takes its copy; none is made when no memtable is read).
        let stop = || match dir {
            Direction::Forward => upper.clone(),
            Direction::Reverse => lower.clone(),
        };
        // Room for the usual few (one allocation, no growth on the way).
        let mut sources: Vec<Source> = Vec::with_capacity(4);
        // An empty memtable is left out, as in `get`: its cursor would copy
        // the bounds and pin the skip list for nothing.
        for m in std::iter::once(mem).chain(imm) {
            if m.is_empty() {
                continue;
            }
            sources.push(Source::Mem(MemSource::new(m, dir, start.clone(), stop())));
        }
        // Only tables whose key range meets [lower, upper] can supply an
        // entry, so a narrow range (an index probe) opens one table per
        // level instead of every table.
        let meets = |f: &FileMeta| !ends_before(f, &lower) && !starts_after(f, &upper);
        for f in &version.levels[0] {
            if !meets(f) {
                continue;
            }
            sources.push(Source::Tables(TablesSource::new(
                vec![self.table(f)?],
                dir,
                start.clone(),
            )));
        }
        for files in &version.levels[1..] {
            // A level's tables are sorted and disjoint: those that meet the
            // range are one run.
            let from = files.partition_point(|f| ends_before(f, &lower));
            let to = from + files[from..].partition_point(|f| !starts_after(f, &upper));
            if from == to {
                continue;
            }
            let tables = files[from..to]
                .iter()
                .map(|f| self.table(f))
                .collect::<Result<Vec<_>>>()?;
            sources.push(Source::Tables(TablesSource::new(
                tables,
                dir,
                start.clone(),
            )));
        }
        let merged = MergeIter::new(sources, dir)?;
        Ok(EngineIter::new(merged, seq, dir, lower, upper, version))
    }

    /// [`Engine::count`]; also returns the blocks passed by and the
    /// entries merged one by one.
    fn count(
        &self,
        lower: Bound<Vec<u8>>,
        upper: Bound<Vec<u8>>,
        seq: u64,
        own: &[(&[u8], bool)],
    ) -> Result<(u64, u64, u64)> {
        use self::count::{CountSource, CountTables, Counter};
        let (mem, imm, version) = self.view();
        let start = iter::start_key(Direction::Forward, &lower, &upper);
        let mut sources: Vec<CountSource> = Vec::new();
        if !own.is_empty() {
            sources.push(CountSource::own(own.iter().copied()));
        }
        for m in std::iter::once(mem).chain(imm) {
            sources.push(CountSource::mem(MemSource::new(
                m,
                Direction::Forward,
                start.clone(),
                upper.clone(),
            )));
        }
        for f in &version.levels[0] {
            sources.push(CountSource::Tables(CountTables::new(
                vec![self.table(f)?],
                start.clone(),
            )));
        }
        for files in &version.levels[1..] {
            if files.is_empty() {
                continue;
            }
            let tables = files
                .iter()
                .map(|f| self.table(f))
                .collect::<Result<Vec<_>>>()?;
            sources.push(CountSource::Tables(CountTables::new(tables, start.clone())));
        }
        let mut counter = Counter::new(sources, seq, lower, upper);
        let n = counter.count()?;
        // `version` (and so its tables) stayed alive until here.
        drop(version);
        Ok((n, counter.blocks_passed, counter.entries_merged))
    }

    fn stats(&self) -> Stats {
        let st = self.state.lock();
        Stats {
            levels: st
                .version
                .levels
                .iter()
                .map(|fs| LevelStats {
                    files: fs.len(),
                    bytes: fs.iter().map(|f| f.size).sum(),
                })
                .collect(),
            memtable_bytes: st.mem.size(),
            immutable_memtables: st.imm.len(),
            cache_hits: self.cache.hits(),
            cache_misses: self.cache.misses(),
            cache_bytes: self.cache.bytes(),
            user_bytes: self.counters.user.load(Ordering::Relaxed),
            wal_bytes: self.counters.wal.load(Ordering::Relaxed),
            flush_bytes: self.counters.flush.load(Ordering::Relaxed),
            compaction_bytes: self.counters.compaction.load(Ordering::Relaxed),
            last_sequence: self.visible.load(Ordering::Acquire),
        }
    }

    /// Data keys used by the store's live files.
    fn key_ids_in_use(&self) -> HashSet<KeyId> {
        let mut live = self.live_files();
        // The audit log's segments live beside the store's files and keep
        // the key they were written under.
        if let Ok(names) = self.dir.vfs().list(self.dir.dir()) {
            live.extend(
                names
                    .into_iter()
                    .filter(|n| n.starts_with(crate::vfs::AUDIT_FILE_PREFIX)),
            );
        }
        live.iter()
            .filter_map(|n| self.dir.file_header(n).ok().map(|h| h.key_id))
            .collect()
    }
}

/// Whether every key of table `f` is below range bound `lower`.
fn ends_before(f: &FileMeta, lower: &Bound<Vec<u8>>) -> bool {
    let largest = user_key(&f.largest);
    match lower {
        Bound::Included(k) => largest < k.as_slice(),
        Bound::Excluded(k) => largest <= k.as_slice(),
        Bound::Unbounded => false,
    }
}

/// Whether every key of table `f` is above range bound `upper`.
fn starts_after(f: &FileMeta, upper: &Bound<Vec<u8>>) -> bool {
    let smallest = user_key(&f.smallest);
    match upper {
        Bound::Included(k) => smallest > k.as_slice(),
        Bound::Excluded(k) => smallest >= k.as_slice(),
        Bound::Unbounded => false,
    }
}
