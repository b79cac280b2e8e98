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
pub(crate) mod iter;
pub(crate) mod key;
pub(crate) mod manifest;
pub(crate) mod memtable;
pub(crate) mod recovery;
pub(crate) mod sst;
pub(crate) mod version;
pub(crate) mod wal;

pub use batch::WriteBatch;
pub use checkpoint::{
    Checkpoint, CheckpointInstaller, CheckpointLog, CheckpointTable, INCOMPLETE_MARKER,
};
pub use iter::{Direction, EngineIter};
pub use recovery::QUARANTINE_DIR;

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
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
use self::sst::reader::SstReader;
use self::sst::table_name;
use self::version::{FileMeta, Version, VersionEdit, NUM_LEVELS};
use self::wal::{wal_name, WalWriter};

/// When a commit is durable.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SyncMode {
    /// Every commit is fsynced before it is acknowledged (the default).
    /// Concurrent committers share one fsync (group commit).
    Full,
    /// Commits are handed to the operating system but not fsynced; the log
    /// is fsynced when a memtable fills and on close. Survives a crash of
    /// the process, not of the machine: power loss may lose the last
    /// commits, never corrupt the store (recovery stops at the last complete
    /// record).
    Normal,
}

/// Tuning of the storage engine.
#[derive(Clone, Debug)]
pub struct StorageOptions {
    /// Commit durability.
    pub sync: SyncMode,
    /// Memtable size that triggers a flush (default 8 MiB).
    pub memtable_bytes: usize,
    /// Immutable memtables allowed before writers wait for a flush.
    pub max_immutable: usize,
    /// Target size of an SSTable data block (default 4 KiB).
    pub block_bytes: usize,
    /// Block cache capacity (default 64 MiB).
    pub block_cache_bytes: usize,
    /// Level-0 table count that triggers a compaction (default 4).
    pub l0_compaction_trigger: usize,
    /// Target size of level 1 (default 32 MiB); each next level is
    /// `level_multiplier` times larger.
    pub level_base_bytes: u64,
    /// Growth factor between levels (default 10).
    pub level_multiplier: u64,
    /// Target size of one compaction output table (default 8 MiB).
    pub target_file_bytes: u64,
    /// Bloom filter bits per key (default 10, about 1% false positives).
    pub bloom_bits_per_key: usize,
    /// Whether the background thread compacts on its own (default true;
    /// tests turn it off to compact only when asked).
    pub auto_compaction: bool,
    /// How often the background thread re-checks data-key rotation.
    pub key_check_interval: Duration,
}

impl Default for StorageOptions {
    fn default() -> Self {
        StorageOptions {
            sync: SyncMode::Full,
            memtable_bytes: 8 << 20,
            max_immutable: 2,
            block_bytes: 4096,
            block_cache_bytes: 64 << 20,
            l0_compaction_trigger: 4,
            level_base_bytes: 32 << 20,
            level_multiplier: 10,
            target_file_bytes: 8 << 20,
            bloom_bits_per_key: 10,
            auto_compaction: true,
            key_check_interval: Duration::from_secs(60),
        }
    }
}

/// Files and bytes at one level.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LevelStats {
    /// Number of tables.
    pub files: usize,
    /// Their total size.
    pub bytes: u64,
}

/// Counters and sizes, for monitoring and benchmarks.
#[derive(Clone, Debug, Default)]
pub struct Stats {
    /// Per level, L0 first.
    pub levels: Vec<LevelStats>,
    /// Bytes in the active memtable.
    pub memtable_bytes: usize,
    /// Memtables waiting to be flushed.
    pub immutable_memtables: usize,
    /// Block cache hits.
    pub cache_hits: u64,
    /// Block cache misses.
    pub cache_misses: u64,
    /// Bytes held by the block cache.
    pub cache_bytes: usize,
    /// Key and value bytes written by callers.
    pub user_bytes: u64,
    /// Bytes appended to the WAL.
    pub wal_bytes: u64,
    /// Bytes written by memtable flushes.
    pub flush_bytes: u64,
    /// Bytes written by compactions.
    pub compaction_bytes: u64,
    /// Highest sequence number visible to readers.
    pub last_sequence: u64,
}

impl Stats {
    /// Total bytes of live tables.
    pub fn table_bytes(&self) -> u64 {
        self.levels.iter().map(|l| l.bytes).sum()
    }

    /// (WAL + flush + compaction bytes) / user bytes.
    pub fn write_amplification(&self) -> f64 {
        if self.user_bytes == 0 {
            return 0.0;
        }
        (self.wal_bytes + self.flush_bytes + self.compaction_bytes) as f64 / self.user_bytes as f64
    }
}

/// Progress of [`Engine::rewrite_all`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Progress {
    /// Tables rewritten so far.
    pub files_done: usize,
    /// Tables to rewrite in all.
    pub files_total: usize,
    /// Bytes of tables rewritten so far.
    pub bytes_done: u64,
    /// Bytes to rewrite in all.
    pub bytes_total: u64,
}

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
        let mut s = self.inner.snapshots.lock();
        if let Some(n) = s.get_mut(&self.seq) {
            *n -= 1;
            if *n == 0 {
                s.remove(&self.seq);
            }
        }
    }
}

struct Pending {
    batch: WriteBatch,
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
    tables: RwLock<HashMap<u64, Arc<SstReader>>>,
    state: Mutex<State>,
    cv: Condvar,
    queue: Mutex<VecDeque<Arc<Pending>>>,
    queue_cv: Condvar,
    wal: Mutex<Option<WalWriter>>,
    visible: AtomicU64,
    snapshots: Mutex<BTreeMap<u64, usize>>,
    poison: Mutex<Option<String>>,
    shutdown: AtomicBool,
    compaction_lock: Mutex<()>,
    /// Table numbers being written and not yet installed: not obsolete.
    pending_tables: Mutex<HashSet<u64>>,
    /// Every version handed out; a table is deleted only when no version
    /// still alive (held by a reader or iterator) lists it.
    versions: Mutex<Vec<std::sync::Weak<Version>>>,
    cleanup: Mutex<()>,
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
    /// Opens (or creates) the store in `dir`: takes the directory lock,
    /// opens the key registry with `provider`, recovers the manifest and the
    /// write-ahead log (checking every file against the identity the
    /// manifest recorded: `recovery.rs`), and starts the background thread.
    /// The log is replayed into memory and flushed later, so an open needs
    /// no free space in proportion to the log; if it fails it removes what
    /// it created.
    pub fn open(
        vfs: Arc<dyn Vfs>,
        dir: impl Into<PathBuf>,
        provider: Arc<dyn KeyProvider>,
        key_options: KeyOptions,
        opts: StorageOptions,
    ) -> Result<Engine> {
        Engine::open_mode(vfs, dir.into(), provider, key_options, opts, false)
    }

    /// Opens the existing store in `dir` for reading only: no file is
    /// created, written, renamed or removed (not even the lock file, so it
    /// works on a read-only copy), no key is rotated, and the log is
    /// replayed into memory. Every write fails with [`Error::ReadOnly`].
    /// Files are checked exactly as by [`Engine::open`]. No lock is taken:
    /// use it on a copy, or while no writer has the store open (a writer
    /// that removes files meanwhile makes reads fail, never return wrong
    /// data).
    pub fn open_read_only(
        vfs: Arc<dyn Vfs>,
        dir: impl Into<PathBuf>,
        provider: Arc<dyn KeyProvider>,
        key_options: KeyOptions,
        opts: StorageOptions,
    ) -> Result<Engine> {
        Engine::open_mode(vfs, dir.into(), provider, key_options, opts, true)
    }

    fn open_mode(
        vfs: Arc<dyn Vfs>,
        dir: PathBuf,
        provider: Arc<dyn KeyProvider>,
        key_options: KeyOptions,
        opts: StorageOptions,
        read_only: bool,
    ) -> Result<Engine> {
        let lock: Option<Box<dyn LockGuard>> = if read_only {
            if !vfs.exists(&dir)? {
                return Err(Error::NotAStore { path: dir });
            }
            None
        } else {
            vfs.create_dir_all(&dir)?;
            Some(vfs.lock(&dir.join(LOCK_FILE))?)
        };
        let names = vfs.list(&dir)?;
        if names.iter().any(|n| n == INCOMPLETE_MARKER) {
            return Err(Error::Incomplete {
                path: dir,
                what: format!(
                    "it holds the {INCOMPLETE_MARKER} marker of a checkpoint or restore that did not finish; delete the directory and restore or copy again"
                ),
            });
        }
        let has_registry = names
            .iter()
            .any(|n| n == crate::vfs::sealed_dir::REGISTRY_FILE);
        // The key-derivation header of a passphrase store is written just
        // before its first registry, so a crash can leave it alone.
        let kdf = crate::vfs::key_derivation_file::KEY_DERIVATION_FILE;
        if !has_registry
            && (read_only || names.iter().any(|n| n != LOCK_FILE && !n.starts_with(kdf)))
        {
            return Err(Error::NotAStore { path: dir });
        }
        let sdir = if read_only {
            SealedDir::open_read_only(vfs.clone(), &dir, provider, key_options)?
        } else {
            SealedDir::open(vfs.clone(), &dir, provider, key_options)?
        };
        let cache = Arc::new(BlockCache::new(opts.block_cache_bytes));
        let rec = recovery::recover(&sdir, &names, &cache)?;
        let mut next_file = rec.next_file;
        let last_seq = rec.last_seq;
        // What the tables hold; the rest is in the replayed memtable.
        let flushed_seq = if rec.mem.is_empty() {
            last_seq
        } else {
            rec.flushed_seq
        };
        let version = rec.version;
        let mem = Arc::new(rec.mem);
        let mut log_ivs: HashMap<u64, u128> =
            rec.segments.iter().map(|s| (s.number, s.iv)).collect();

        let (wal, manifest, manifest_number, mem, imm) = if read_only {
            let number = rec.manifest_number.unwrap_or(0);
            (None, None, number, mem, VecDeque::new())
        } else {
            // Files newer than the manifest knows are evidence: moved
            // aside, never deleted.
            recovery::quarantine(&sdir, &rec.newer)?;
            // A fresh log segment and a fresh manifest for this run. The
            // replayed memtable (if any) waits to be flushed like any
            // other, its segments live until then.
            let wal_number = next_file;
            let manifest_number = next_file + 1;
            next_file += 2;
            let wal = WalWriter::create(&sdir, wal_number, rec.segments.last().copied())?;
            log_ivs.insert(wal_number, wal.id().iv);
            let mut imm = VecDeque::new();
            let (log_number, log_iv) = if mem.is_empty() {
                (wal_number, wal.id().iv)
            } else {
                imm.push_back(mem.clone());
                (
                    mem.wal_number,
                    log_ivs.get(&mem.wal_number).copied().unwrap_or(0),
                )
            };
            let mut snapshot = version.snapshot_edit();
            snapshot.log_number = Some(log_number);
            snapshot.log_iv = Some(log_iv);
            snapshot.newest_log = Some(wal_number);
            snapshot.next_file = Some(next_file);
            snapshot.last_seq = Some(flushed_seq);
            let manifest = match Manifest::create(&sdir, manifest_number, &snapshot) {
                Ok(m) => m,
                Err((e, current_switched)) => {
                    // Unless CURRENT may already name the new manifest
                    // (which names the new segment), the segment goes too.
                    drop(wal);
                    if !current_switched {
                        remove_partial(&sdir, &wal_name(wal_number));
                    }
                    return Err(e);
                }
            };
            let active = Arc::new(Memtable::new(wal_number));
            (Some(wal), Some(manifest), manifest_number, active, imm)
        };

        let inner = Arc::new(Inner {
            opts,
            cache,
            tables: RwLock::new(rec.tables),
            state: Mutex::new(State {
                mem,
                imm,
                version: Arc::new(version),
                manifest,
                manifest_number,
                log_ivs,
                next_file,
                flushed_seq,
                compact_pointer: vec![Vec::new(); NUM_LEVELS],
                flushing: false,
            }),
            cv: Condvar::new(),
            queue: Mutex::new(VecDeque::new()),
            queue_cv: Condvar::new(),
            wal: Mutex::new(wal),
            visible: AtomicU64::new(last_seq),
            snapshots: Mutex::new(BTreeMap::new()),
            poison: Mutex::new(None),
            shutdown: AtomicBool::new(false),
            compaction_lock: Mutex::new(()),
            pending_tables: Mutex::new(HashSet::new()),
            versions: Mutex::new(Vec::new()),
            cleanup: Mutex::new(()),
            pinned_logs: Mutex::new(Vec::new()),
            counters: Counters::default(),
            read_only,
            quarantined: rec.newer,
            _lock: lock,
            dir: sdir,
        });
        if read_only {
            return Ok(Engine {
                inner,
                bg: Mutex::new(None),
            });
        }
        inner.delete_obsolete_files()?;
        let bg_inner = inner.clone();
        let bg = std::thread::Builder::new()
            .name("sealdb-bg".into())
            .spawn(move || background(bg_inner))
            .map_err(|e| Error::io("start background thread for", &dir, e))?;
        Ok(Engine {
            inner,
            bg: Mutex::new(Some(bg)),
        })
    }

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
        *s.entry(seq).or_insert(0) += 1;
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
        let seq = snapshot.map_or_else(|| self.inner.visible.load(Ordering::Acquire), |s| s.seq);
        self.inner.iter(
            range.start_bound().cloned(),
            range.end_bound().cloned(),
            direction,
            seq,
        )
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
            .compact_all()
            .inspect_err(|e| self.inner.set_poison(format!("compaction failed: {e}")))
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
    entries: impl Iterator<Item = Result<(Vec<u8>, Vec<u8>)>>,
) -> Result<TableSummary> {
    let name = table_name(number);
    let written = (|| {
        let w = dir.create_file(&name, FileKind::Sstable)?;
        let mut b = SstBuilder::new(w, opts.block_bytes, opts.bloom_bits_per_key);
        for e in entries {
            let (k, v) = e?;
            b.add(&k, &v)?;
        }
        let summary = b.finish()?;
        // The table's name must be durable before a manifest edit names it.
        dir.vfs().sync_dir(dir.dir())?;
        Ok(summary)
    })();
    written.inspect_err(|_| remove_partial(dir, &name))
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
        let t = Arc::new(SstReader::open(&self.dir, f, self.cache.clone())?);
        self.tables.write().insert(f.number, t.clone());
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
        let (mem, imm, version) = self.view();
        for m in std::iter::once(&mem).chain(imm.iter()) {
            match m.get(key, seq) {
                Lookup::Found(v) => return Ok(Some(v)),
                Lookup::Deleted => return Ok(None),
                Lookup::Absent => {}
            }
        }
        for f in &version.levels[0] {
            if f.overlaps(key, key) {
                match self.table(f)?.get(key, seq)? {
                    Lookup::Found(v) => return Ok(Some(v)),
                    Lookup::Deleted => return Ok(None),
                    Lookup::Absent => {}
                }
            }
        }
        let target = seek_key(key, seq);
        for files in &version.levels[1..] {
            let i = files
                .partition_point(|f| cmp_ikey(&f.largest, &target) == std::cmp::Ordering::Less);
            if let Some(f) = files.get(i) {
                if user_key(&f.smallest) <= key {
                    match self.table(f)?.get(key, seq)? {
                        Lookup::Found(v) => return Ok(Some(v)),
                        Lookup::Deleted => return Ok(None),
                        Lookup::Absent => {}
                    }
                }
            }
        }
        Ok(None)
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
        let mut sources: Vec<Box<dyn Source>> = Vec::new();
        for m in std::iter::once(mem).chain(imm) {
            sources.push(Box::new(MemSource::new(m, dir, start.clone())));
        }
        for f in &version.levels[0] {
            sources.push(Box::new(TablesSource::new(
                vec![self.table(f)?],
                dir,
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
            sources.push(Box::new(TablesSource::new(tables, dir, start.clone())));
        }
        let merged = MergeIter::new(sources, dir)?;
        Ok(EngineIter::new(
            merged,
            seq,
            dir,
            lower,
            upper,
            Box::new(version),
        ))
    }

    fn write(&self, batch: WriteBatch) -> Result<u64> {
        self.check_poison()?;
        if batch.is_empty() {
            return Ok(self.visible.load(Ordering::Acquire));
        }
        self.counters
            .user
            .fetch_add(batch.approximate_size() as u64, Ordering::Relaxed);
        let me = Arc::new(Pending {
            batch,
            result: Mutex::new(None),
        });
        let mut q = self.queue.lock();
        q.push_back(me.clone());
        loop {
            if let Some(r) = me.result.lock().take() {
                return r;
            }
            if q.front().is_some_and(|f| Arc::ptr_eq(f, &me)) {
                break;
            }
            self.queue_cv.wait(&mut q);
        }
        // Leader: commit a group of queued writes with one log append.
        const GROUP_BYTES: usize = 1 << 20;
        let mut size = 0;
        let group: Vec<Arc<Pending>> = q
            .iter()
            .take_while(|p| {
                let take = size == 0 || size + p.batch.approximate_size() <= GROUP_BYTES;
                size += p.batch.approximate_size();
                take
            })
            .cloned()
            .collect();
        drop(q);
        let outcome = self.commit_group(&group);
        let mut q = self.queue.lock();
        for _ in 0..group.len() {
            q.pop_front();
        }
        let mine = match outcome {
            Ok(last) => {
                let mut seq = last + 1;
                for p in group.iter().rev() {
                    seq -= p.batch.len() as u64;
                    *p.result.lock() = Some(Ok(seq + p.batch.len() as u64 - 1));
                }
                me.result.lock().take().unwrap_or(Ok(last))
            }
            Err(e) => {
                for p in &group[1..] {
                    *p.result.lock() = Some(Err(Error::Poisoned {
                        reason: format!("the commit failed: {e}"),
                    }));
                }
                me.result.lock().take();
                Err(e)
            }
        };
        self.queue_cv.notify_all();
        mine
    }

    /// Logs and applies a group; returns the last sequence number used.
    fn commit_group(&self, group: &[Arc<Pending>]) -> Result<u64> {
        let mut wal_guard = self.wal.lock();
        self.check_poison()?;
        self.make_room(&mut wal_guard)?;
        let wal = wal_guard.as_mut().ok_or_else(|| Error::Poisoned {
            reason: "the log is closed".into(),
        })?;
        let first = self.visible.load(Ordering::Acquire) + 1;
        let batches: Vec<&WriteBatch> = group.iter().map(|p| &p.batch).collect();
        let before = wal.bytes;
        let logged = wal.append(first, &batches).and_then(|_| {
            if self.opts.sync == SyncMode::Full {
                wal.sync()
            } else {
                Ok(())
            }
        });
        self.counters
            .wal
            .fetch_add(wal.bytes - before, Ordering::Relaxed);
        if let Err(e) = logged {
            self.set_poison(format!("writing the log failed: {e}"));
            return Err(e);
        }
        let mem = self.state.lock().mem.clone();
        let mut seq = first;
        for b in &batches {
            mem.apply(seq, b);
            seq += b.len() as u64;
        }
        self.visible.store(seq - 1, Ordering::Release);
        Ok(seq - 1)
    }

    /// Switches to a new memtable (and log segment) when the current one is
    /// full, waiting if too many are waiting to be flushed. Leader only.
    fn make_room(&self, wal: &mut Option<WalWriter>) -> Result<()> {
        let mut st = self.state.lock();
        loop {
            self.check_poison()?;
            if st.mem.size() < self.opts.memtable_bytes {
                return Ok(());
            }
            if st.imm.len() < self.opts.max_immutable {
                break;
            }
            self.cv.wait_for(&mut st, Duration::from_millis(100));
        }
        drop(st);
        self.switch_memtable(wal)
    }

    fn switch_memtable(&self, wal: &mut Option<WalWriter>) -> Result<()> {
        let number = {
            let mut st = self.state.lock();
            st.next_file += 1;
            st.next_file - 1
        };
        let switched = (|| {
            let prev = match wal.as_mut() {
                Some(old) => {
                    old.sync()?;
                    Some(old.id())
                }
                None => None,
            };
            let new = WalWriter::create(&self.dir, number, prev)?;
            // The manifest learns of the segment before it holds a commit,
            // so a segment with commits it does not know of means the
            // manifest lost edits.
            let mut st = self.state.lock();
            st.log_ivs.insert(number, new.id().iv);
            let edit = VersionEdit {
                newest_log: Some(number),
                ..VersionEdit::default()
            };
            self.install(&mut st, &edit)?;
            Ok(new)
        })();
        let new = match switched {
            Ok(w) => w,
            Err(e) => {
                self.set_poison(format!("starting a new log segment failed: {e}"));
                return Err(e);
            }
        };
        *wal = Some(new);
        let mut st = self.state.lock();
        let old = std::mem::replace(&mut st.mem, Arc::new(Memtable::new(number)));
        st.imm.push_back(old);
        self.cv.notify_all();
        Ok(())
    }

    fn flush(&self) -> Result<()> {
        self.flush_inner(false)
    }

    /// Flushes; with `force`, starts a new log segment even if the memtable
    /// is empty (so the live segment is under the active data key).
    fn flush_inner(&self, force: bool) -> Result<()> {
        {
            let mut wal = self.wal.lock();
            self.check_poison()?;
            let empty = self.state.lock().mem.is_empty();
            if !empty || force {
                self.switch_memtable(&mut wal)?;
            }
        }
        let mut st = self.state.lock();
        while !st.imm.is_empty() || st.flushing {
            self.check_poison()?;
            self.cv.wait_for(&mut st, Duration::from_millis(50));
        }
        self.check_poison()
    }

    /// Flushes the oldest immutable memtable to a level-0 table.
    fn flush_oldest(&self) -> Result<()> {
        let (mem, number) = {
            let mut st = self.state.lock();
            let Some(mem) = st.imm.front().cloned() else {
                return Ok(());
            };
            st.flushing = true;
            st.next_file += 1;
            self.pending_tables.lock().insert(st.next_file - 1);
            (mem, st.next_file - 1)
        };
        // An empty memtable (a forced log switch) only retires its segment.
        let summary = if mem.is_empty() {
            Ok(None)
        } else {
            write_table(&self.dir, number, &self.opts, mem.range_from(None).map(Ok)).map(Some)
        };
        let mut st = self.state.lock();
        st.flushing = false;
        let summary = summary.inspect_err(|_| {
            self.pending_tables.lock().remove(&number);
        })?;
        let log_number = st.imm.get(1).map_or(st.mem.wal_number, |m| m.wal_number);
        st.flushed_seq = st.flushed_seq.max(mem.max_seq());
        let mut edit = VersionEdit {
            log_number: Some(log_number),
            log_iv: st.log_ivs.get(&log_number).copied(),
            next_file: Some(st.next_file),
            last_seq: Some(st.flushed_seq),
            ..VersionEdit::default()
        };
        if let Some(summary) = summary {
            self.counters
                .flush
                .fetch_add(summary.size, Ordering::Relaxed);
            edit.added.push((0, meta_of(number, &summary)));
        }
        let installed = self.install(&mut st, &edit);
        self.pending_tables.lock().remove(&number);
        installed?;
        st.imm.pop_front();
        self.cv.notify_all();
        drop(st);
        self.delete_obsolete_files()
    }

    /// Appends `edit` to the manifest and makes it the current version.
    fn install(&self, st: &mut State, edit: &VersionEdit) -> Result<()> {
        let next = st.version.apply(edit).map_err(|what| {
            Error::corruption(
                self.dir.dir().join(manifest_name(st.manifest_number)),
                0,
                what,
            )
        })?;
        let Some(manifest) = st.manifest.as_mut() else {
            return Err(Error::ReadOnly {
                path: self.dir.dir().to_path_buf(),
            });
        };
        if let Err((e, maybe_durable)) = manifest.append(edit) {
            // `st` is held: set the poison without set_poison's relock.
            let mut p = self.poison.lock();
            if p.is_none() {
                *p = Some(format!("writing the manifest failed: {e}"));
            }
            self.cv.notify_all();
            // The edit never reached the disk whole, so the tables it
            // would have added are garbage: remove them rather than leave
            // them to fill a full disk. (If only the fsync failed, the
            // edit may be durable and they must stay.)
            if !maybe_durable {
                for (_, f) in &edit.added {
                    remove_partial(&self.dir, &table_name(f.number));
                }
            }
            return Err(e);
        }
        let next = Arc::new(next);
        let mut versions = self.versions.lock();
        versions.retain(|w| w.strong_count() > 0);
        versions.push(Arc::downgrade(&st.version));
        st.version = next;
        Ok(())
    }

    fn smallest_snapshot(&self) -> u64 {
        let snaps = self.snapshots.lock();
        let visible = self.visible.load(Ordering::Acquire);
        snaps
            .keys()
            .next()
            .copied()
            .map_or(visible, |s| s.min(visible))
    }

    fn level_target(&self, level: usize) -> u64 {
        let mut t = self.opts.level_base_bytes;
        for _ in 1..level {
            t = t.saturating_mul(self.opts.level_multiplier);
        }
        t
    }

    /// The level most in need of compaction, if any needs it.
    fn pick_level(&self, v: &Version) -> Option<usize> {
        let mut best = (1.0, None);
        let l0 = v.levels[0].len() as f64 / self.opts.l0_compaction_trigger as f64;
        if l0 >= best.0 {
            best = (l0, Some(0));
        }
        for level in 1..NUM_LEVELS - 1 {
            let score = v.level_bytes(level) as f64 / self.level_target(level) as f64;
            if score > best.0 {
                best = (score, Some(level));
            }
        }
        best.1
    }

    /// One background compaction step, if one is due.
    fn compact_once(&self) -> Result<bool> {
        let Some(_guard) = self.compaction_lock.try_lock() else {
            return Ok(false);
        };
        let (version, pointer) = {
            let st = self.state.lock();
            (st.version.clone(), st.compact_pointer.clone())
        };
        let Some(level) = self.pick_level(&version) else {
            return Ok(false);
        };
        let inputs: Vec<Arc<FileMeta>> = if level == 0 {
            version.levels[0].clone()
        } else {
            let files = &version.levels[level];
            let f = files
                .iter()
                .find(|f| cmp_ikey(&f.smallest, &pointer[level]) == std::cmp::Ordering::Greater)
                .or(files.first());
            f.cloned().into_iter().collect()
        };
        if inputs.is_empty() {
            return Ok(false);
        }
        self.compact_files(&version, level, &inputs, level + 1)?;
        // The inputs are obsolete once no reader holds the old version.
        drop(version);
        drop(inputs);
        self.delete_obsolete_files()?;
        Ok(true)
    }

    /// Merges `inputs` (at `level`) with the overlapping tables of
    /// `out_level` into new tables at `out_level` (the next level, or the
    /// same one to rewrite a level in place).
    fn compact_files(
        &self,
        version: &Version,
        level: usize,
        inputs: &[Arc<FileMeta>],
        out_level: usize,
    ) -> Result<()> {
        let lo = inputs
            .iter()
            .map(|f| user_key(&f.smallest))
            .min()
            .unwrap_or_default()
            .to_vec();
        let hi = inputs
            .iter()
            .map(|f| user_key(&f.largest))
            .max()
            .unwrap_or_default()
            .to_vec();
        let next: Vec<Arc<FileMeta>> = if out_level == level {
            Vec::new()
        } else {
            version.levels[out_level]
                .iter()
                .filter(|f| f.overlaps(&lo, &hi))
                .cloned()
                .collect()
        };
        let (lo, hi) = next.iter().fold((lo, hi), |(lo, hi), f| {
            (
                lo.min(user_key(&f.smallest).to_vec()),
                hi.max(user_key(&f.largest).to_vec()),
            )
        });
        let bottommost = version.levels[out_level + 1..]
            .iter()
            .all(|files| files.iter().all(|f| !f.overlaps(&lo, &hi)));
        let mut sources: Vec<Box<dyn Source>> = Vec::new();
        if level == 0 {
            for f in inputs {
                sources.push(Box::new(TablesSource::new(
                    vec![self.table(f)?],
                    Direction::Forward,
                    None,
                )));
            }
        } else {
            let t = inputs
                .iter()
                .map(|f| self.table(f))
                .collect::<Result<Vec<_>>>()?;
            sources.push(Box::new(TablesSource::new(t, Direction::Forward, None)));
        }
        if !next.is_empty() {
            let t = next
                .iter()
                .map(|f| self.table(f))
                .collect::<Result<Vec<_>>>()?;
            sources.push(Box::new(TablesSource::new(t, Direction::Forward, None)));
        }
        let mut merged = MergeIter::new(sources, Direction::Forward)?;
        // Tables this compaction made; removed again if it fails.
        let mut created: Vec<u64> = Vec::new();
        let written = (|| -> Result<Vec<FileMeta>> {
            let smallest_snapshot = self.smallest_snapshot();
            let mut outputs: Vec<FileMeta> = Vec::new();
            let mut builder: Option<(u64, SstBuilder)> = None;
            let mut current_user: Option<Vec<u8>> = None;
            let mut last_seq_for_key = u64::MAX;
            while let Some((ikey, value)) = merged.next_entry()? {
                let (user, seq, kind) = split(&ikey).ok_or_else(|| {
                    Error::corruption(self.dir.dir(), 0, "malformed key during compaction")
                })?;
                let new_key = current_user.as_deref() != Some(user);
                if new_key {
                    current_user = Some(user.to_vec());
                    last_seq_for_key = u64::MAX;
                }
                // A newer version that every reader sees hides this one; a
                // tombstone every reader sees, with nothing older below, can go.
                let drop_it = last_seq_for_key <= smallest_snapshot
                    || (kind == Kind::Delete && seq <= smallest_snapshot && bottommost);
                last_seq_for_key = seq;
                if drop_it {
                    continue;
                }
                // Start a new output at a user-key boundary once big enough, so
                // one key's versions never straddle two tables.
                if new_key {
                    if let Some((n, b)) =
                        builder.take_if(|(_, b)| b.size() >= self.opts.target_file_bytes)
                    {
                        outputs.push(meta_of(n, &b.finish()?));
                    }
                }
                if builder.is_none() {
                    let n = self.new_table_number();
                    created.push(n);
                    let w = self.dir.create_file(&table_name(n), FileKind::Sstable)?;
                    builder = Some((
                        n,
                        SstBuilder::new(w, self.opts.block_bytes, self.opts.bloom_bits_per_key),
                    ));
                }
                if let Some((_, b)) = builder.as_mut() {
                    b.add(&ikey, &value)?;
                }
            }
            if let Some((n, b)) = builder.take() {
                if b.entries() > 0 {
                    outputs.push(meta_of(n, &b.finish()?));
                }
            }
            Ok(outputs)
        })();
        let outputs = match written {
            Ok(o) => o,
            Err(e) => {
                let mut pending = self.pending_tables.lock();
                for n in &created {
                    remove_partial(&self.dir, &table_name(*n));
                    pending.remove(n);
                }
                return Err(e);
            }
        };
        if !outputs.is_empty() {
            if let Err(e) = self.dir.vfs().sync_dir(self.dir.dir()) {
                let mut pending = self.pending_tables.lock();
                for f in &outputs {
                    remove_partial(&self.dir, &table_name(f.number));
                    pending.remove(&f.number);
                }
                return Err(e);
            }
        }
        let written: u64 = outputs.iter().map(|f| f.size).sum();
        self.counters
            .compaction
            .fetch_add(written, Ordering::Relaxed);
        let mut edit = VersionEdit::default();
        edit.deleted
            .extend(inputs.iter().map(|f| (level, f.number)));
        edit.deleted
            .extend(next.iter().map(|f| (out_level, f.number)));
        edit.added
            .extend(outputs.into_iter().map(|f| (out_level, f)));
        let installed = {
            let mut st = self.state.lock();
            st.compact_pointer[level] = inputs
                .iter()
                .map(|f| f.largest.clone())
                .max_by(|a, b| cmp_ikey(a, b))
                .unwrap_or_default();
            self.install(&mut st, &edit)
        };
        {
            let mut pending = self.pending_tables.lock();
            for (_, f) in &edit.added {
                pending.remove(&f.number);
            }
        }
        installed?;
        self.forget_tables(edit.deleted.iter().map(|&(_, n)| n));
        Ok(())
    }

    fn forget_tables(&self, numbers: impl Iterator<Item = u64>) {
        let mut t = self.tables.write();
        for n in numbers {
            t.remove(&n);
            self.cache.evict_table(n);
        }
    }

    fn compact_all(&self) -> Result<()> {
        let _guard = self.compaction_lock.lock();
        let deepest = {
            let version = self.state.lock().version.clone();
            (1..NUM_LEVELS)
                .rev()
                .find(|&l| !version.levels[l].is_empty())
                .unwrap_or(1)
        };
        let mut merged_into_deepest = false;
        for level in 0..deepest {
            let version = self.state.lock().version.clone();
            let inputs = version.levels[level].clone();
            if !inputs.is_empty() {
                self.compact_files(&version, level, &inputs, level + 1)?;
                merged_into_deepest |= level + 1 == deepest;
            }
        }
        // A merge into the bottom level already dropped what no reader
        // needs; otherwise the bottom may still hold tombstones or versions
        // written while it was not the bottom: rewrite it in place.
        if !merged_into_deepest {
            let version = self.state.lock().version.clone();
            let files = version.levels[deepest].clone();
            if !files.is_empty() {
                self.compact_files(&version, deepest, &files, deepest)?;
            }
        }
        self.delete_obsolete_files()
    }

    fn rewrite_all(&self, mut progress: impl FnMut(Progress)) -> Result<()> {
        self.dir.maybe_rotate()?;
        // A new memtable and log segment under the active key; flush the rest.
        self.flush_inner(true)?;
        let _guard = self.compaction_lock.lock();
        // Level 0 goes through a real compaction: its tables are ordered by
        // number, so rewriting one under a new number would reorder them.
        let version = self.state.lock().version.clone();
        let l0 = version.levels[0].clone();
        if !l0.is_empty() {
            self.compact_files(&version, 0, &l0, 1)?;
        }
        let active = self.dir.active_data_key();
        let version = self.state.lock().version.clone();
        let todo: Vec<(usize, Arc<FileMeta>)> = version
            .all_files()
            .filter(|(_, f)| {
                self.dir
                    .file_header(&table_name(f.number))
                    .map_or(true, |h| h.key_id != active)
            })
            .map(|(l, f)| (l, f.clone()))
            .collect();
        let mut p = Progress {
            files_done: 0,
            files_total: todo.len(),
            bytes_done: 0,
            bytes_total: todo.iter().map(|(_, f)| f.size).sum(),
        };
        progress(p);
        for (level, f) in todo {
            let n = self.new_table_number();
            let src = TablesSource::new(vec![self.table(&f)?], Direction::Forward, None);
            let summary = write_table(&self.dir, n, &self.opts, SourceIter(Box::new(src)))
                .inspect_err(|_| {
                    self.pending_tables.lock().remove(&n);
                })?;
            self.counters
                .compaction
                .fetch_add(summary.size, Ordering::Relaxed);
            let edit = VersionEdit {
                deleted: vec![(level, f.number)],
                added: vec![(level, meta_of(n, &summary))],
                ..VersionEdit::default()
            };
            let installed = self.install(&mut self.state.lock(), &edit);
            self.pending_tables.lock().remove(&n);
            installed?;
            self.forget_tables(std::iter::once(f.number));
            self.delete_obsolete_files()?;
            p.files_done += 1;
            p.bytes_done += f.size;
            progress(p);
        }
        drop(version);
        // A fresh manifest (and CURRENT) under the active key.
        {
            let mut st = self.state.lock();
            let number = st.next_file;
            st.next_file += 1;
            let mut snap = st.version.snapshot_edit();
            let log_number = st.imm.front().map_or(st.mem.wal_number, |m| m.wal_number);
            snap.log_number = Some(log_number);
            snap.log_iv = st.log_ivs.get(&log_number).copied();
            snap.newest_log = Some(st.mem.wal_number);
            snap.next_file = Some(st.next_file);
            snap.last_seq = Some(st.flushed_seq);
            st.manifest = Some(Manifest::create(&self.dir, number, &snap).map_err(|(e, _)| e)?);
            st.manifest_number = number;
        }
        self.delete_obsolete_files()?;
        self.dir.retain_data_keys(&self.key_ids_in_use())?;
        Ok(())
    }

    /// Names of every file the store needs right now.
    fn live_files(&self) -> HashSet<String> {
        let st = self.state.lock();
        let mut live: HashSet<String> = st
            .version
            .all_files()
            .map(|(_, f)| table_name(f.number))
            .collect();
        live.insert(wal_name(st.mem.wal_number));
        for m in &st.imm {
            live.insert(wal_name(m.wal_number));
        }
        // A replayed memtable spans several segments: all are live.
        live.extend(st.log_ivs.keys().map(|&n| wal_name(n)));
        live.insert(manifest_name(st.manifest_number));
        live.insert(CURRENT.to_string());
        live
    }

    /// Removes tables, log segments and manifests nothing refers to.
    fn delete_obsolete_files(&self) -> Result<()> {
        // One cleaner at a time: the flush thread and a caller's compaction
        // would otherwise both try to remove the same file.
        let _one = self.cleanup.lock();
        let (live, log_number, next_file) = {
            let st = self.state.lock();
            let mut live: HashSet<u64> = st.version.all_files().map(|(_, f)| f.number).collect();
            let mut versions = self.versions.lock();
            versions.retain(|w| w.strong_count() > 0);
            for v in versions.iter().filter_map(|w| w.upgrade()) {
                live.extend(v.all_files().map(|(_, f)| f.number));
            }
            let mut log = st.imm.front().map_or(st.mem.wal_number, |m| m.wal_number);
            // A checkpoint reads the log segments it pinned.
            if let Some(&pinned) = self.pinned_logs.lock().iter().min() {
                log = log.min(pinned);
            }
            (live, log, st.next_file)
        };
        self.state.lock().log_ivs.retain(|&n, _| n >= log_number);
        let manifest = self.state.lock().manifest_number;
        let pending = self.pending_tables.lock().clone();
        let dir = self.dir.dir();
        let mut removed = false;
        for name in self.dir.vfs().list(dir)? {
            let obsolete = if let Some(n) = parse_number(&name, ".sst") {
                !live.contains(&n) && n < next_file && !pending.contains(&n)
            } else if let Some(n) = parse_number(&name, ".wal") {
                n < log_number
            } else if let Some(n) = parse_manifest_number(&name) {
                // Older manifests only: a newer one is not ours to delete.
                n < manifest
            } else {
                false
            };
            if obsolete {
                self.dir.vfs().remove(&dir.join(&name))?;
                removed = true;
            }
        }
        if removed {
            self.dir.vfs().sync_dir(dir)?;
        }
        Ok(())
    }

    /// A new table number, marked as being written until installed.
    fn new_table_number(&self) -> u64 {
        let mut st = self.state.lock();
        st.next_file += 1;
        self.pending_tables.lock().insert(st.next_file - 1);
        st.next_file - 1
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

/// Adapts a [`Source`] to an iterator of entries.
struct SourceIter(Box<dyn Source>);

impl Iterator for SourceIter {
    type Item = Result<(Vec<u8>, Vec<u8>)>;
    fn next(&mut self) -> Option<Self::Item> {
        self.0.next_entry().transpose()
    }
}

enum Work {
    Flush,
    Compact,
    KeyCheck,
}

fn background(inner: Arc<Inner>) {
    let mut last_key_check = Instant::now();
    loop {
        let work = {
            let mut st = inner.state.lock();
            loop {
                if inner.shutdown.load(Ordering::SeqCst) {
                    return;
                }
                if inner.poison.lock().is_some() {
                    inner.cv.wait_for(&mut st, Duration::from_millis(200));
                    continue;
                }
                if !st.imm.is_empty() {
                    break Work::Flush;
                }
                if last_key_check.elapsed() >= inner.opts.key_check_interval {
                    break Work::KeyCheck;
                }
                if inner.opts.auto_compaction && inner.pick_level(&st.version).is_some() {
                    break Work::Compact;
                }
                inner.cv.wait_for(&mut st, Duration::from_millis(500));
            }
        };
        let run = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| match work {
            Work::Flush => inner.flush_oldest(),
            Work::Compact => inner.compact_once().map(|_| ()),
            Work::KeyCheck => {
                last_key_check = Instant::now();
                inner.dir.maybe_rotate().map(|_| ())
            }
        }));
        match run {
            Ok(Ok(())) => {}
            Ok(Err(e)) => inner.set_poison(format!("background work failed: {e}")),
            Err(_) => inner.set_poison("the background thread panicked".into()),
        }
    }
}
