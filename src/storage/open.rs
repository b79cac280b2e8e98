//! Opening a store: checking every file against the identities recorded
//! for it (`recovery`), quarantining files newer than the manifest, and
//! starting a fresh log segment and manifest for the run (or, read-only,
//! none at all).

use super::*;

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

    pub(super) fn open_mode(
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
            if let Some(name) = &rec.incomplete_log {
                sdir.vfs().remove(&sdir.dir().join(name))?;
                sdir.vfs().sync_dir(sdir.dir())?;
            }
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
            .spawn(move || compaction::background(bg_inner))
            .map_err(|e| Error::io("start background thread for", &dir, e))?;
        Ok(Engine {
            inner,
            bg: Mutex::new(Some(bg)),
        })
    }
}
