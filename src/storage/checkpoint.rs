//! Online consistent checkpoints: a point-in-time view of the store that
//! can be copied beside it, streamed elsewhere, and installed in another
//! directory under other keys, while writers go on.
//!
//! Taking one ([`Engine::checkpoint`]) holds the log lock for as long as
//! it takes to read a few numbers and open the live log segments — no
//! flush, no copy — so a writer waits at most for that:
//!
//! ```text
//!   writers  ──commit──commit──┤ log lock ├──commit──commit──commit──►
//!   checkpoint                 │ seq S, table set V, log segments
//!                              │ ≥ V's log number (the last one up to
//!                              │ its current length), a snapshot at S
//!                              └─► pinned: V's tables and those segments
//!                                  are not deleted until it is dropped
//! ```
//!
//! Invariants:
//! - the tables of V hold every write up to `flushed` (the manifest's last
//!   sequence), and the pinned log segments hold exactly the writes
//!   `flushed + 1 ..= S`, in order: together they are the store at S;
//! - table files never change once written, and a log segment only grows,
//!   so the pinned prefix of each file reads the same however long the
//!   checkpoint is kept (readers for the log segments are opened under the
//!   log lock, so each sees exactly its pinned length);
//! - nothing is decrypted to disk: [`Checkpoint::write_to`] links or copies
//!   the sealed files as they are (same keys, a copy of the key registry
//!   and of a passphrase-keyed store's salt),
//!   and the streams ([`Checkpoint::table_records`],
//!   [`Checkpoint::log_records`]) hand out verified record payloads for a
//!   caller that seals them again under its own keys (a backup, a replica).
//!
//! Installing ([`CheckpointInstaller`]) is the other side: a new store
//! directory under the installing side's key provider, tables written
//! record by record under its own data key (a table's body offsets stay
//! the same when both sides frame records alike; otherwise the table is
//! rebuilt from its blocks), the log tail replayed into one more table, a
//! fresh manifest. Until it finishes, the directory holds the
//! [`INCOMPLETE_MARKER`] file, and [`Engine::open`] refuses it, so an
//! interrupted install never opens as if it were complete.
//!
//! A stream can resume: the records of a file come from any body offset on
//! (`(file, offset)`), and an installer that lost a table midway starts
//! that table again (files are append-only, never reopened).

use std::collections::{HashSet, VecDeque};
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::sync::Arc;

use parking_lot::Mutex;

use crate::crypto::{KeyId, KeyProvider};
use crate::error::{Error, Result};
use crate::vfs::{FileKind, KeyOptions, LockGuard, SealedDir, SealedReader, SealedWriter, Vfs};

use super::batch::{decode_record, Gap, LogChain};
use super::manifest::{manifest_name, Manifest};
use super::memtable::Memtable;
use super::sst::block::Block;
use super::sst::builder::SstBuilder;
use super::sst::reader::SstReader;
use super::sst::{meta_kind, table_name, Footer};
use super::version::{FileIdentity, FileMeta, Version, VersionEdit, NUM_LEVELS};
use super::wal::{wal_name, StartRecord};
use super::{write_table, Engine, Inner, Snapshot, StorageOptions, LOCK_FILE};

/// A directory holding this file is a checkpoint copy or an install that
/// has not finished; opening it as a store fails ([`Error::Incomplete`]).
pub const INCOMPLETE_MARKER: &str = "INCOMPLETE";

/// The marker's text in a checkpoint copy.
const CHECKPOINT_MARKER_TEXT: &[u8] =
    b"sealdb: this directory is an unfinished checkpoint; delete it and start again\n";

/// The marker's text in an install (a restore): [`is_unfinished_install`]
/// tells it from a checkpoint's, so a restore clears only its own leftovers.
const INSTALL_MARKER_TEXT: &[u8] =
    b"sealdb: this directory is an unfinished restore; restore again or delete it\n";

/// One table of a checkpoint, as its source store knows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CheckpointTable {
    /// Its number (file `NNNNNN.sst`).
    pub number: u64,
    /// Its level (0 = flushed memtables, newest number first).
    pub level: usize,
    /// Exact length of the source file in bytes.
    pub size: u64,
    /// Entries (versions of keys) it holds.
    pub entries: u64,
    /// Its smallest internal key.
    pub smallest: Vec<u8>,
    /// Its largest internal key.
    pub largest: Vec<u8>,
    /// The random IV of the source file's header: which file this is.
    pub iv: u128,
    /// The data key the source file is under.
    pub key_id: KeyId,
    /// Bytes a record adds to its payload in the source file; records are
    /// copied as they are only into files that frame them alike.
    pub record_overhead: u64,
}

/// One log segment of a checkpoint's tail.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CheckpointLog {
    /// Its number (file `NNNNNN.wal`).
    pub number: u64,
    /// The pinned length in bytes (records past it are newer than the
    /// checkpoint).
    pub len: u64,
}

/// A pinned, consistent view of the store at one sequence number (see the
/// module doc). Dropping it releases the pinned files.
pub struct Checkpoint {
    inner: Arc<Inner>,
    snapshot: Snapshot,
    version: Arc<Version>,
    flushed: u64,
    next_file: u64,
    tables: Vec<CheckpointTable>,
    readers: Vec<Arc<SstReader>>,
    logs: Vec<LogTail>,
    pinned_log: u64,
}

impl Engine {
    /// Takes a consistent checkpoint of the store as of now, holding off
    /// writers only while it reads the live state (see
    /// [`crate::storage::checkpoint`]).
    pub fn checkpoint(&self) -> Result<Checkpoint> {
        Checkpoint::take(&self.inner)
    }
}

impl Checkpoint {
    fn take(inner: &Arc<Inner>) -> Result<Checkpoint> {
        inner.check_poison()?;
        let (snapshot, version, flushed, next_file, logs, pinned_log) = {
            // With the log lock held no commit group is between its log
            // append and its memtable insert: the sequence number, the
            // memtables and the segments' lengths all agree.
            let mut wal = inner.wal.lock();
            // A checkpoint copies the run's live segment: start it.
            inner.start_run(&mut wal)?;
            let current_len = wal
                .as_ref()
                .ok_or_else(|| Error::Poisoned {
                    reason: "the log is closed".into(),
                })?
                .file_len();
            let st = inner.state.lock();
            let seq = inner.visible.load(Ordering::Acquire);
            inner.snapshots.lock().add(seq);
            let snapshot = Snapshot {
                seq,
                inner: inner.clone(),
            };
            let mut numbers: Vec<u64> = st.imm.iter().map(|m| m.wal_number).collect();
            numbers.push(st.mem.wal_number);
            let pinned_log = numbers[0];
            inner.pinned_logs.lock().push(pinned_log);
            let (version, flushed, next_file) = (st.version.clone(), st.flushed_seq, st.next_file);
            let torn = st.torn_ends.clone();
            drop(st);
            let current = numbers[numbers.len() - 1];
            let mut logs = Vec::with_capacity(numbers.len());
            let opened = numbers.iter().try_for_each(|&n| {
                let reader = inner.dir.open_file(&wal_name(n), FileKind::Wal)?;
                let len = crate::vfs::HEADER_LEN + reader.body_len();
                if n == current && len != current_len {
                    return Err(Error::corruption(
                        reader.path(),
                        len,
                        format!(
                            "the live log segment is {len} bytes, the writer wrote {current_len}"
                        ),
                    ));
                }
                // A segment recovery found torn is streamed up to where
                // its complete records end (copied whole, the torn bytes
                // are what the next segment's start record recorded).
                let end = torn
                    .get(&n)
                    .map_or(reader.body_len(), |e| e - crate::vfs::HEADER_LEN);
                logs.push(LogTail {
                    log: CheckpointLog { number: n, len },
                    reader,
                    end,
                });
                Ok(())
            });
            if let Err(e) = opened {
                unpin(inner, pinned_log);
                return Err(e);
            }
            (snapshot, version, flushed, next_file, logs, pinned_log)
        };
        let mut cp = Checkpoint {
            inner: inner.clone(),
            snapshot,
            version,
            flushed,
            next_file,
            tables: Vec::new(),
            readers: Vec::new(),
            logs,
            pinned_log,
        };
        // The version is pinned: its tables stay until `cp` is dropped.
        let files: Vec<(usize, Arc<FileMeta>)> = cp
            .version
            .all_files()
            .map(|(l, f)| (l, f.clone()))
            .collect();
        for (level, f) in files {
            let reader = inner.table(&f)?;
            let h = *reader.file().header();
            cp.tables.push(CheckpointTable {
                number: f.number,
                level,
                size: f.size,
                entries: f.entries,
                smallest: f.smallest.clone(),
                largest: f.largest.clone(),
                iv: h.iv,
                key_id: h.key_id,
                record_overhead: reader.file().record_len(0),
            });
            cp.readers.push(reader);
        }
        Ok(cp)
    }

    /// The sequence number the checkpoint is at: it holds every write up
    /// to it and none after.
    pub fn sequence(&self) -> u64 {
        self.snapshot.seq
    }

    /// The tables hold every write up to this sequence number; the log
    /// tail holds the rest, up to [`Self::sequence`].
    pub fn flushed_sequence(&self) -> u64 {
        self.flushed
    }

    /// A read view of the live store at exactly the checkpoint's sequence
    /// number (for reading the catalog or the audit head as of then).
    pub fn snapshot(&self) -> &Snapshot {
        &self.snapshot
    }

    /// The tables, level by level.
    pub fn tables(&self) -> &[CheckpointTable] {
        &self.tables
    }

    /// The log tail's segments, oldest first.
    pub fn logs(&self) -> Vec<CheckpointLog> {
        self.logs.iter().map(|t| t.log.clone()).collect()
    }

    /// The sealed directory of the source store (its files, its keys).
    pub fn source(&self) -> &SealedDir {
        &self.inner.dir
    }

    /// The verified, decrypted records of table `number`, from body offset
    /// `from` (0: the start; a stream that broke off resumes at the offset
    /// of the first record it did not get): `(body offset, payload)`.
    pub fn table_records(&self, number: u64, from: u64) -> Result<RecordStream<'_>> {
        let i = self
            .tables
            .iter()
            .position(|t| t.number == number)
            .ok_or_else(|| Error::InvalidArgument {
                what: format!("table {number} is not part of the checkpoint"),
            })?;
        Ok(RecordStream {
            reader: self.readers[i].file(),
            at: Some(from),
            end: u64::MAX,
        })
    }

    /// The commit records of log segment `number` up to its pinned
    /// length, from body offset `from`: `(body offset, payload)`, each
    /// payload one commit group (see `storage::batch`). The segment's
    /// start record (which chains it to its predecessor in this store
    /// only) is not one of them: from 0, the stream begins after it.
    pub fn log_records(&self, number: u64, from: u64) -> Result<RecordStream<'_>> {
        let LogTail { reader, end, .. } = self
            .logs
            .iter()
            .find(|t| t.log.number == number)
            .ok_or_else(|| Error::InvalidArgument {
                what: format!("log segment {number} is not part of the checkpoint"),
            })?;
        let mut at = from;
        if from == 0 {
            match reader.read_record(0)? {
                Some((payload, next)) if StartRecord::decode(&payload).is_some() => at = next,
                _ => {
                    return Err(Error::corruption(
                        reader.path(),
                        0,
                        "log segment has no start record",
                    ))
                }
            }
        }
        Ok(RecordStream {
            reader,
            at: Some(at),
            end: *end,
        })
    }

    /// Writes the checkpoint as a store of its own in `dir` (which must not
    /// exist or be empty), on the source's file system: tables are hard
    /// links where it allows (copies otherwise), the log tail, the key
    /// registry and the key-derivation header (a passphrase-keyed store's
    /// salt) are copies, and a new manifest names them. The copy opens
    /// with the source's keys. `extra` lists other files of the source
    /// directory to copy, each up to a length (the audit log's segments,
    /// cut where the checkpoint's audit head is).
    pub fn write_to(&self, dir: &Path, extra: &[(String, u64)]) -> Result<()> {
        let vfs = self.inner.dir.vfs().clone();
        let src = self.inner.dir.dir().to_path_buf();
        prepare_target(&*vfs, dir)?;
        let _lock = vfs.lock(&dir.join(LOCK_FILE))?;
        write_marker(&*vfs, dir, CHECKPOINT_MARKER_TEXT)?;
        for t in &self.tables {
            let name = table_name(t.number);
            if vfs.hard_link(&src.join(&name), &dir.join(&name)).is_err() {
                copy_prefix(&*vfs, &src.join(&name), &dir.join(&name), t.size)?;
            }
        }
        for LogTail { log, .. } in &self.logs {
            let name = wal_name(log.number);
            copy_prefix(&*vfs, &src.join(&name), &dir.join(&name), log.len)?;
        }
        for (name, len) in extra {
            copy_prefix(&*vfs, &src.join(name), &dir.join(name), *len)?;
        }
        // The registry as it is now holds the key of every pinned file:
        // keys are dropped only when no live file uses them, and every
        // pinned file was live when the checkpoint was taken.
        let registry = crate::vfs::sealed_dir::REGISTRY_FILE;
        let reg_len = vfs.open(&src.join(registry))?.len();
        copy_prefix(&*vfs, &src.join(registry), &dir.join(registry), reg_len)?;
        // A passphrase-keyed store's salt: without it the copy's key could
        // not be derived (the passphrase would make a new salt, another key).
        let kdf = crate::vfs::key_derivation_file::KEY_DERIVATION_FILE;
        if vfs.exists(&src.join(kdf))? {
            let len = vfs.open(&src.join(kdf))?.len();
            copy_prefix(&*vfs, &src.join(kdf), &dir.join(kdf), len)?;
        }
        vfs.sync_dir(dir)?;
        let copy = SealedDir::open(
            vfs.clone(),
            dir,
            self.inner.dir.key_provider().clone(),
            self.inner.dir.key_options().clone(),
        )?;
        // The copy's log is the pinned segments: the oldest by identity,
        // the newest as the one that may hold commits (see
        // `storage::recovery`).
        let mut edit = self.version.snapshot_edit();
        edit.log_number = Some(self.pinned_log);
        edit.log_iv = self.logs.first().map(|t| t.reader.header().iv);
        edit.newest_log = self.logs.last().map(|t| t.log.number);
        edit.next_file = Some(self.next_file + 1);
        edit.last_seq = Some(self.flushed);
        Manifest::create(&copy, self.next_file, &edit).map_err(|(e, _)| e)?;
        finish_marker(&*vfs, dir)
    }
}

fn unpin(inner: &Inner, log: u64) {
    let mut pins = inner.pinned_logs.lock();
    if let Some(i) = pins.iter().position(|&p| p == log) {
        pins.swap_remove(i);
    }
}

impl Drop for Checkpoint {
    fn drop(&mut self) {
        unpin(&self.inner, self.pinned_log);
    }
}

/// A log segment of a checkpoint, open, with the body offset where its
/// complete records end (short of the file's end only for a segment
/// recovery found torn).
struct LogTail {
    log: CheckpointLog,
    reader: SealedReader,
    end: u64,
}

/// Records of one file of a checkpoint, from a body offset on.
pub struct RecordStream<'a> {
    reader: &'a SealedReader,
    at: Option<u64>,
    /// Body offset where the records to stream end (a torn tail after it).
    end: u64,
}

impl RecordStream<'_> {
    /// Moves the next record into `w` through `w`'s own buffer (a
    /// backup: read, checked and decrypted there, then encrypted under
    /// `w`'s key, copied once); its payload length, or `None` at the end
    /// and after an error.
    pub(crate) fn next_to(&mut self, w: &mut SealedWriter) -> Result<Option<usize>> {
        let Some(at) = self.at.take().filter(|&at| at < self.end) else {
            return Ok(None);
        };
        let Some(head) = self.reader.read_head(at)? else {
            return Ok(None);
        };
        let mut next = None;
        w.append_record_in_place(head.payload_len(), |slot| {
            next = Some(self.reader.read_body(&head, slot)?.next);
            Ok(())
        })?;
        self.at = next;
        Ok(Some(head.payload_len()))
    }
}

impl Iterator for RecordStream<'_> {
    type Item = Result<(u64, Vec<u8>)>;
    fn next(&mut self) -> Option<Self::Item> {
        let at = self.at.filter(|&at| at < self.end)?;
        match self.reader.read_record(at) {
            Ok(Some((payload, next))) => {
                self.at = Some(next);
                Some(Ok((at, payload)))
            }
            Ok(None) => {
                self.at = None;
                None
            }
            Err(e) => {
                self.at = None;
                Some(Err(e))
            }
        }
    }
}

/// Refuses a target that exists and holds anything; creates it otherwise.
pub(crate) fn prepare_target(vfs: &dyn Vfs, dir: &Path) -> Result<()> {
    if vfs.exists(dir)? && !vfs.list(dir)?.is_empty() {
        return Err(Error::InvalidArgument {
            what: format!(
                "{} exists and is not empty; give a new or empty directory",
                dir.display()
            ),
        });
    }
    vfs.create_dir_all(dir)
}

/// Writes the incomplete marker and makes it durable before anything else.
fn write_marker(vfs: &dyn Vfs, dir: &Path, text: &[u8]) -> Result<()> {
    let mut f = vfs.create(&dir.join(INCOMPLETE_MARKER))?;
    f.append(text)?;
    f.sync()?;
    vfs.sync_dir(dir)
}

/// Removes the marker once everything else is durable.
fn finish_marker(vfs: &dyn Vfs, dir: &Path) -> Result<()> {
    vfs.sync_dir(dir)?;
    vfs.remove(&dir.join(INCOMPLETE_MARKER))?;
    vfs.sync_dir(dir)
}

/// Ends an install that [`CheckpointInstaller::finish`] wrote and the
/// caller then moved to its place `dir`: removes the incomplete marker.
/// Until this returns, the store at `dir` does not open.
pub fn complete_install(vfs: &dyn Vfs, dir: &Path) -> Result<()> {
    finish_marker(vfs, dir)
}

/// Whether `dir` holds the marker of an install (a restore) that did not
/// complete, as opposed to a checkpoint's or none.
pub fn is_unfinished_install(vfs: &dyn Vfs, dir: &Path) -> Result<bool> {
    let path = dir.join(INCOMPLETE_MARKER);
    if !vfs.exists(&path)? {
        return Ok(false);
    }
    let f = vfs.open(&path)?;
    if f.len() != INSTALL_MARKER_TEXT.len() as u64 {
        return Ok(false);
    }
    let mut text = vec![0; INSTALL_MARKER_TEXT.len()];
    f.read_exact_at(0, &mut text)?;
    Ok(text == INSTALL_MARKER_TEXT)
}

/// Copies the first `len` bytes of `from` to the new file `to`, synced.
fn copy_prefix(vfs: &dyn Vfs, from: &Path, to: &Path, len: u64) -> Result<()> {
    let src = vfs.open(from)?;
    if src.len() < len {
        return Err(Error::Truncated {
            file: from.to_path_buf(),
            offset: src.len(),
            needed: len,
            len: src.len(),
        });
    }
    let mut dst = vfs.create(to)?;
    let mut buf = vec![0u8; 1 << 20];
    let mut at = 0;
    while at < len {
        let n = ((len - at) as usize).min(buf.len());
        src.read_exact_at(at, &mut buf[..n])?;
        dst.append(&buf[..n])?;
        at += n as u64;
    }
    dst.sync()
}

/// Builds a store from a checkpoint's parts, under the installing side's
/// own keys (see the module doc). Tables first, then the log tail, then
/// [`Self::finish`].
pub struct CheckpointInstaller {
    dir: SealedDir,
    opts: StorageOptions,
    added: Mutex<Vec<(usize, FileMeta)>>,
    numbers: Mutex<HashSet<u64>>,
    mem: Memtable,
    flushed: u64,
    /// The log tail's records so far.
    chain: Mutex<LogChain>,
    _lock: Box<dyn LockGuard>,
}

impl CheckpointInstaller {
    /// Starts a store in `dir` (absent or empty) whose key registry is
    /// made under `provider`'s store key; `flushed` is the checkpoint's
    /// [`Checkpoint::flushed_sequence`]. The directory is marked incomplete
    /// until [`Self::finish`].
    pub fn create(
        vfs: Arc<dyn Vfs>,
        dir: &Path,
        provider: Arc<dyn KeyProvider>,
        key_options: KeyOptions,
        opts: StorageOptions,
        flushed: u64,
    ) -> Result<CheckpointInstaller> {
        prepare_target(&*vfs, dir)?;
        let lock = vfs.lock(&dir.join(LOCK_FILE))?;
        write_marker(&*vfs, dir, INSTALL_MARKER_TEXT)?;
        let sdir = SealedDir::open(vfs, dir, provider, key_options)?;
        Ok(CheckpointInstaller {
            dir: sdir,
            opts,
            added: Mutex::new(Vec::new()),
            numbers: Mutex::new(HashSet::new()),
            mem: Memtable::new(0),
            flushed,
            chain: Mutex::new(LogChain::new((flushed > 0).then_some(flushed + 1))),
            _lock: lock,
        })
    }

    /// The new store's sealed directory (for files of layers above the
    /// storage engine, such as the audit log's segments).
    pub fn sealed_dir(&self) -> &SealedDir {
        &self.dir
    }

    /// Starts table `info`: hand it the source's record payloads in order,
    /// then [`TableInstall::finish`]. Tables may be installed from several
    /// threads at once.
    pub fn table(&self, info: &CheckpointTable) -> Result<TableInstall<'_>> {
        if info.level >= NUM_LEVELS {
            return Err(Error::InvalidArgument {
                what: format!("table {} names level {}", info.number, info.level),
            });
        }
        if !self.numbers.lock().insert(info.number) {
            return Err(Error::InvalidArgument {
                what: format!("table {} is installed twice", info.number),
            });
        }
        let w = self
            .dir
            .create_file(&table_name(info.number), FileKind::Sstable)?;
        let mode = if w.record_len(0) == info.record_overhead {
            Mode::Copy(Box::new(w), None)
        } else {
            // Other framing (a plaintext side): offsets would move, so the
            // table is rebuilt from its data blocks (all records but the
            // last three: filter, index, footer).
            Mode::Rebuild(
                Box::new(
                    SstBuilder::new(w, self.opts.block_bytes, self.opts.bloom_bits_per_key)
                        .with_format(self.opts.table_format),
                ),
                Rebuilt::default(),
            )
        };
        Ok(TableInstall {
            owner: self,
            info: info.clone(),
            mode,
        })
    }

    /// Applies one commit record of the log tail (oldest first); the
    /// records of a split commit are applied when its last one comes.
    pub fn add_log_record(&self, payload: &[u8]) -> Result<()> {
        let bad = |what: String| Error::corruption(self.dir.dir(), 0, what);
        let record =
            decode_record(payload).ok_or_else(|| bad("malformed log record in the tail".into()))?;
        match self.chain.lock().push(record) {
            Err(Gap { seq, want }) => Err(bad(format!(
                "log record has sequence {seq}, expected {want}: part of the log tail is missing"
            ))),
            Ok(whole) => {
                for (seq, batch) in whole.iter().flatten() {
                    self.mem.apply(*seq, batch);
                }
                Ok(())
            }
        }
    }

    /// Ends a log segment's records: a commit split over several records
    /// whose last one the segment does not hold was cut off by a crash
    /// (never acknowledged) and is dropped, as recovery drops it; the next
    /// segment's first record takes its sequence numbers.
    pub fn end_log_segment(&self) {
        self.chain.lock().end_segment();
    }

    /// Writes the log tail as one more table, the manifest and CURRENT,
    /// and makes them durable. `sequence` is the checkpoint's
    /// [`Checkpoint::sequence`]; the tail must end exactly there. The
    /// incomplete marker stays: the caller moves the directory into place
    /// and then calls [`complete_install`], so a crash between the two
    /// leaves a directory that does not open, at either name.
    pub fn finish(self, sequence: u64) -> Result<()> {
        if self.chain.lock().is_pending() {
            return Err(Error::corruption(
                self.dir.dir(),
                0,
                "the log tail ends inside a commit split over several records",
            ));
        }
        let end = self.chain.lock().next_seq().map_or(self.flushed, |n| n - 1);
        if end != sequence {
            return Err(Error::corruption(
                self.dir.dir(),
                0,
                format!("the checkpoint is at sequence {sequence} but its tables and log tail end at {end}"),
            ));
        }
        let mut added = std::mem::take(&mut *self.added.lock());
        let mut next_file = self.numbers.lock().iter().max().map_or(1, |m| m + 1);
        if !self.mem.is_empty() {
            let number = next_file;
            next_file += 1;
            let summary = write_table(&self.dir, number, &self.opts, None, |add| {
                self.mem.for_each_entry(add)
            })?;
            added.push((0, super::meta_of(number, &summary)));
        }
        let edit = VersionEdit {
            added,
            ..VersionEdit::default()
        };
        // Checks levels ≥ 1 for overlaps, as a recovered manifest would be.
        let version = Version::new().apply(&edit).map_err(|what| {
            Error::corruption(self.dir.dir().join(manifest_name(next_file)), 0, what)
        })?;
        let manifest_number = next_file;
        let mut snapshot = version.snapshot_edit();
        // No log segment yet: the first open makes one (log number 0
        // names none, so recovery expects none).
        snapshot.log_number = Some(0);
        snapshot.next_file = Some(manifest_number + 1);
        snapshot.last_seq = Some(sequence);
        self.dir.vfs().sync_dir(self.dir.dir())?;
        Manifest::create(&self.dir, manifest_number, &snapshot).map_err(|(e, _)| e)?;
        self.dir.vfs().sync_dir(self.dir.dir())
    }
}

enum Mode {
    /// Records copied as they are; the entry count of the last payload,
    /// if it is a footer.
    Copy(Box<SealedWriter>, Option<u64>),
    /// Entries re-added from data blocks.
    Rebuild(Box<SstBuilder>, Rebuilt),
}

/// What a rebuild has seen of its source table. Format 1 and 2 tables end
/// in three records that are not data (filter, index, footer), so the
/// last three payloads wait until the next arrives; a format-3 table's
/// metadata records say what they are (`sst::meta_kind`), and none may be
/// followed by a data block.
#[derive(Default)]
struct Rebuilt {
    pending: VecDeque<Vec<u8>>,
    meta_seen: bool,
    data_blocks: u64,
}

/// One table being installed (see [`CheckpointInstaller::table`]).
pub struct TableInstall<'a> {
    owner: &'a CheckpointInstaller,
    info: CheckpointTable,
    mode: Mode,
}

impl TableInstall<'_> {
    fn path(&self) -> PathBuf {
        self.owner.dir.dir().join(table_name(self.info.number))
    }

    /// Appends the source's next record payload.
    pub fn add_record(&mut self, payload: Vec<u8>) -> Result<()> {
        match &mut self.mode {
            Mode::Copy(w, last) => {
                w.append_record(&payload)?;
                // Only the last record's footer is checked at the end: each
                // is parsed (a length check for all but a footer), not kept.
                *last = footer_entries(&payload);
                Ok(())
            }
            Mode::Rebuild(..) => self.rebuild(payload),
        }
    }

    /// [`Self::add_record`] of a payload of `len` bytes that `read` puts
    /// in a slot (a restore: `backup::open::read_file_in_place`), which
    /// for a copied table is the table writer's own buffer: the record is
    /// copied once, and its CRC, checked by the reader, not computed again.
    pub(crate) fn add_in_place(
        &mut self,
        len: usize,
        read: &mut dyn FnMut(&mut [u8]) -> Result<()>,
    ) -> Result<()> {
        match &mut self.mode {
            Mode::Copy(w, last) => {
                w.append_record_in_place(len, |slot| {
                    read(slot)?;
                    // As in `add_record`: only the last footer counts.
                    *last = footer_entries(&slot[..len]);
                    Ok(())
                })?;
                Ok(())
            }
            Mode::Rebuild(..) => {
                let mut slot = vec![0u8; crate::vfs::slot_len(len)];
                read(&mut slot)?;
                slot.truncate(len);
                self.rebuild(slot)
            }
        }
    }

    /// Re-adds the entries of a data block once `raw` is not among the
    /// last three payloads (see [`Rebuilt`]).
    fn rebuild(&mut self, raw: Vec<u8>) -> Result<()> {
        let TableInstall { owner, info, mode } = self;
        let Mode::Rebuild(b, r) = mode else {
            return Ok(());
        };
        r.pending.push_back(raw);
        if r.pending.len() <= 3 {
            return Ok(());
        }
        let raw = r.pending.pop_front().unwrap_or_default();
        let bad = |what: &str| {
            let path = owner.dir.dir().join(table_name(info.number));
            Error::corruption(path, 0, what.to_string())
        };
        if meta_kind(&raw).is_some() {
            r.meta_seen = true;
            return Ok(());
        }
        if r.meta_seen {
            return Err(bad("a data block after the table's index in a table"));
        }
        let block = Block::decode(&raw).ok_or_else(|| bad("malformed data block in a table"))?;
        for i in 0..block.len() {
            b.add(block.key(i), block.value(i))?;
        }
        r.data_blocks += 1;
        Ok(())
    }

    /// Finishes the table: checks its footer (entry count) and length
    /// against what the checkpoint recorded, syncs it.
    pub fn finish(self) -> Result<()> {
        let path = self.path();
        let bad = |what: String| Error::corruption(&path, 0, what);
        let info = self.info;
        let meta = match self.mode {
            Mode::Copy(mut w, last) => {
                let entries = last;
                if entries != Some(info.entries) {
                    return Err(bad(format!(
                        "table {} does not end in a footer for {} entries",
                        info.number, info.entries
                    )));
                }
                w.sync()?;
                let size = crate::vfs::HEADER_LEN + w.position();
                if size != info.size {
                    return Err(bad(format!(
                        "table {} is {size} bytes, its source was {}",
                        info.number, info.size
                    )));
                }
                FileMeta {
                    number: info.number,
                    size,
                    entries: info.entries,
                    smallest: info.smallest,
                    largest: info.largest,
                    identity: FileIdentity {
                        iv: w.header().iv,
                        key_id: w.header().key_id,
                        digest: w.last_tag(),
                    },
                }
            }
            Mode::Rebuild(b, mut r) => {
                let footer = r.pending.pop_back().and_then(|f| Footer::decode(&f));
                // What is left before the footer: filter and index (formats
                // 1 and 2), the last metadata records (format 3).
                let tail_ok = match footer {
                    Some(f) if f.version < 3 => r.pending.len() == 2 && !r.meta_seen,
                    Some(_) => r.pending.iter().all(|p| meta_kind(p).is_some()),
                    None => false,
                };
                let ends_right = tail_ok
                    && footer
                        .is_some_and(|f| f.entries == info.entries && f.blocks == r.data_blocks);
                if !ends_right {
                    return Err(bad(format!(
                        "table {} does not end in its index and a footer for {} entries",
                        info.number, info.entries
                    )));
                }
                let s = b.finish()?;
                if s.entries != info.entries
                    || s.smallest != info.smallest
                    || s.largest != info.largest
                {
                    return Err(bad(format!(
                        "table {} rebuilt from its blocks does not hold what its source did",
                        info.number
                    )));
                }
                super::meta_of(info.number, &s)
            }
        };
        self.owner.added.lock().push((info.level, meta));
        Ok(())
    }
}

/// The entry count of a table footer payload, if it is one.
pub(crate) fn footer_entries(payload: &[u8]) -> Option<u64> {
    Footer::decode(payload).map(|f| f.entries)
}
