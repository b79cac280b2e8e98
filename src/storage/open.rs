//! Opening a store: checking every file against the identities recorded
//! for it (`recovery`), quarantining files newer than the manifest, and
//! starting a fresh log segment and manifest for the run (or, read-only,
//! none at all).
//!
//! The new segment and manifest are made at open only when the log held
//! commits; otherwise at the first write, flush or compaction
//! ([`Inner::start_run`]). Until then nothing the open found is changed
//! (bar crash leftovers it tidies: an incomplete newest segment, files
//! newer than the manifest, files no version names), so a crash before
//! the run starts leaves the store as the previous run left it, and a
//! crash while it starts is a crash during the old protocol's open: the
//! same files made in the same order (segment, manifest, CURRENT), each
//! synced with its name before the next. The segments found at open stay
//! live (the active memtable stands for the oldest one) until the new
//! manifest, which no longer names them, is current.

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
            SealedDir::open_listed(vfs.clone(), dir.clone(), provider, key_options, &names)?
        };
        let cache = Arc::new(BlockCache::new(opts.block_cache_bytes));
        let rec = recovery::recover(&sdir, &names, &cache)?;
        let mut listed = names;
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
        let torn_ends: HashMap<u64, u64> = rec
            .segments
            .iter()
            .filter(|s| s.end < s.len)
            .map(|s| (s.number, s.end))
            .collect();
        let mut log_ivs: HashMap<u64, u128> =
            rec.segments.iter().map(|s| (s.number, s.iv)).collect();

        let (wal, manifest, manifest_number, mem, imm, run_start) = if read_only {
            let number = rec.manifest_number.unwrap_or(0);
            (None, None, number, mem, VecDeque::new(), None)
        } else {
            // Files newer than the manifest knows are evidence: moved
            // aside, never deleted.
            recovery::quarantine(&sdir, &rec.newer)?;
            listed.retain(|n| !rec.newer.contains(n) && rec.incomplete_log.as_ref() != Some(n));
            if let Some(name) = &rec.incomplete_log {
                sdir.vfs().remove(&sdir.dir().join(name))?;
                sdir.vfs().sync_dir(sdir.dir())?;
            }
            // The log segment and manifest of this run. Their numbers are
            // taken now; the files are made now only if the log held
            // commits (the replayed memtable must be flushed, which needs
            // a manifest to record it in). Otherwise they wait for the
            // first write (`Inner::start_run`): until then the store on
            // disk is exactly what this open found, so an open that never
            // writes writes nothing.
            let start = RunStart {
                wal_number: next_file,
                manifest_number: next_file + 1,
                prev: rec.segments.last().copied(),
            };
            next_file += 2;
            if mem.is_empty() && rec.manifest_number.is_some() && !rec.segments.is_empty() {
                // The active memtable stands for the oldest live segment
                // until the run starts, so no segment the manifest names
                // is removed before a new manifest stops naming it.
                let number = rec.manifest_number.unwrap_or(0);
                (None, None, number, mem, VecDeque::new(), Some(start))
            } else {
                let mut imm = VecDeque::new();
                let oldest = if mem.is_empty() {
                    None
                } else {
                    imm.push_back(mem.clone());
                    Some((
                        mem.wal_number,
                        log_ivs.get(&mem.wal_number).copied().unwrap_or(0),
                    ))
                };
                let (wal, manifest) =
                    start.create(&sdir, &version, oldest, next_file, flushed_seq)?;
                log_ivs.insert(start.wal_number, wal.id().iv);
                let active = Arc::new(Memtable::new(start.wal_number));
                (
                    Some(wal),
                    Some(manifest),
                    start.manifest_number,
                    active,
                    imm,
                    None,
                )
            }
        };

        let inner = Arc::new(Inner {
            opts,
            cache,
            tables: RwLock::new(rec.tables),
            tables_epoch: AtomicU64::new(0),
            state: Mutex::new(State {
                mem,
                imm,
                version: Arc::new(version),
                manifest,
                manifest_number,
                log_ivs,
                torn_ends,
                next_file,
                flushed_seq,
                compact_pointer: vec![Vec::new(); NUM_LEVELS],
                flushing: false,
            }),
            cv: Condvar::new(),
            queue: Mutex::new(VecDeque::new()),
            queue_cv: Condvar::new(),
            wal: Mutex::new(wal),
            run_started: AtomicBool::new(run_start.is_none()),
            run_start: Mutex::new(run_start),
            visible: AtomicU64::new(last_seq),
            snapshots: Mutex::default(),
            poison: Mutex::new(None),
            shutdown: AtomicBool::new(false),
            compaction_lock: Mutex::new(()),
            pending_tables: Mutex::new(HashSet::new()),
            retired: Mutex::new(Vec::new()),
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
        // The open's listing, less what recovery moved or removed: the
        // files made since are this run's log and manifest, never
        // obsolete (a listing is five system calls, a tenth of a reopen's).
        inner.delete_obsolete_among(Some(listed))?;
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

/// The log segment and manifest a read-write open starts for its run:
/// numbers taken at open, files made when the run starts.
#[derive(Clone, Copy)]
pub(super) struct RunStart {
    wal_number: u64,
    manifest_number: u64,
    /// The newest segment found at open, which the new one chains to.
    prev: Option<SegmentId>,
}

impl RunStart {
    /// Makes the segment, then the manifest (a snapshot of `version`), and
    /// switches CURRENT to it. `oldest` is the oldest segment still live
    /// (number, IV) if the log held commits (`None`: the new segment is
    /// the only live one). On failure removes what it made, unless
    /// CURRENT may already name the new manifest.
    fn create(
        &self,
        sdir: &SealedDir,
        version: &Version,
        oldest: Option<(u64, u128)>,
        next_file: u64,
        flushed_seq: u64,
    ) -> Result<(WalWriter, Manifest)> {
        let wal = WalWriter::create(sdir, self.wal_number, self.prev)?;
        let (log_number, log_iv) = oldest.unwrap_or((self.wal_number, wal.id().iv));
        let mut snapshot = version.snapshot_edit();
        snapshot.log_number = Some(log_number);
        snapshot.log_iv = Some(log_iv);
        snapshot.newest_log = Some(self.wal_number);
        snapshot.next_file = Some(next_file);
        snapshot.last_seq = Some(flushed_seq);
        match Manifest::create(sdir, self.manifest_number, &snapshot) {
            Ok(m) => Ok((wal, m)),
            Err((e, current_switched)) => {
                // Unless CURRENT may already name the new manifest
                // (which names the new segment), the segment goes too.
                drop(wal);
                if !current_switched {
                    remove_partial(sdir, &wal_name(self.wal_number));
                }
                Err(e)
            }
        }
    }
}

impl Inner {
    /// Starts the run an open deferred (see the module doc): makes its log
    /// segment and manifest, then removes what the new manifest no longer
    /// names. Called, with the log lock held (`wal`), before anything is
    /// logged or a manifest edit installed; does nothing once started or
    /// when read-only. A failure poisons the engine.
    pub(super) fn start_run(&self, wal: &mut Option<WalWriter>) -> Result<()> {
        if self.run_started.load(Ordering::Acquire) {
            return Ok(());
        }
        let mut pending = self.run_start.lock();
        let Some(start) = *pending else {
            return Ok(());
        };
        let started = (|| {
            let (version, next_file, flushed_seq) = {
                let st = self.state.lock();
                // Nothing is logged before the run starts, so the active
                // memtable is the empty one the open replayed into.
                if !st.mem.is_empty() || !st.imm.is_empty() {
                    return Err(Error::Poisoned {
                        reason: "internal: the memtable holds writes before the log started".into(),
                    });
                }
                (st.version.clone(), st.next_file, st.flushed_seq)
            };
            let (w, m) = start.create(&self.dir, &version, None, next_file, flushed_seq)?;
            let mut st = self.state.lock();
            st.log_ivs.insert(start.wal_number, w.id().iv);
            st.mem = Arc::new(Memtable::new(start.wal_number));
            st.manifest = Some(m);
            st.manifest_number = start.manifest_number;
            drop(st);
            *wal = Some(w);
            Ok(())
        })();
        if let Err(e) = started {
            self.set_poison(format!("starting the log segment and manifest failed: {e}"));
            return Err(e);
        }
        *pending = None;
        self.run_started.store(true, Ordering::Release);
        drop(pending);
        self.delete_obsolete_files().inspect_err(|e| {
            self.set_poison(format!("removing files of the previous run failed: {e}"))
        })
    }

    /// [`Self::start_run`] for callers that do not hold the log lock.
    /// Never from the background thread: a committer may hold the log
    /// lock while it waits for a flush (use `try_start_run`).
    pub(super) fn start_run_now(&self) -> Result<()> {
        if self.run_started.load(Ordering::Acquire) {
            return Ok(());
        }
        self.start_run(&mut self.wal.lock())
    }

    /// [`Self::start_run`] without waiting for the log lock: `Ok(false)`
    /// if the run has not started and the lock is taken (try again later).
    pub(super) fn try_start_run(&self) -> Result<bool> {
        if self.run_started.load(Ordering::Acquire) {
            return Ok(true);
        }
        match self.wal.try_lock() {
            Some(mut w) => self.start_run(&mut w).map(|_| true),
            None => Ok(false),
        }
    }
}
