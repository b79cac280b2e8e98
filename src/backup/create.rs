//! Writing a backup from a checkpoint: full, or incremental against a
//! parent chain.
//!
//! ```text
//!   1. the target must be new or empty; write INCOMPLETE (synced)
//!   2. a random data key and backup id; BACKUP-KEYS with its wraps
//!   3. the files: every table the parent chain lacks, every audit segment
//!      that changed, the whole log tail — in parallel, each sealed under
//!      the data key, its digest taken over its header and record tags as
//!      it is written (manifest.rs), then synced
//!   4. BACKUP (the manifest) through BACKUP.tmp, fsync, rename, dir fsync
//!   5. remove INCOMPLETE, dir fsync
//! ```
//!
//! Nothing is written to the source store. A failure (a full disk, say)
//! removes the files written so far, best effort, and leaves INCOMPLETE, so
//! the directory is never taken for a backup; a crash leaves INCOMPLETE
//! and no manifest, with the same effect.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use parking_lot::Mutex;
use sha2::{Digest, Sha256};

use crate::audit::cut::{AuditCut, SegmentCut};
use crate::crypto::keys::fill_random;
use crate::crypto::{KeyId, KeyProvider};
use crate::error::{Error, Result};
use crate::storage::{Checkpoint, CheckpointLog, CheckpointTable, INCOMPLETE_MARKER};
use crate::vfs::{FileKind, SealedWriter, Vfs, HEADER_LEN};

use super::manifest::{
    encode_descriptor, hex, AuditEntry, FileDigest, FileEntry, Manifest, ParentLink, Role,
    TableEntry, MANIFEST_FILE,
};
use super::open::{self, Opened};
use super::pool;
use super::wrap::{self, DataKey, Wrap, KEYS_FILE};
use super::{BackupKeys, BackupOptions, BackupProgress, BackupSummary};

const MARKER_TEXT: &[u8] =
    b"sealdb: this backup did not finish (interrupted, or the disk filled up); make it again\n";

/// One file to write.
enum Job {
    Table(CheckpointTable),
    Log(CheckpointLog),
    /// An audit segment from record `skip + 1` on (the parent chain holds
    /// the ones before).
    Audit(SegmentCut, u64),
}

impl Job {
    fn role(&self) -> Role {
        match self {
            Job::Table(_) => Role::Table,
            Job::Log(_) => Role::Log,
            Job::Audit(..) => Role::Audit,
        }
    }
    fn number(&self) -> u64 {
        match self {
            Job::Table(t) => t.number,
            Job::Log(l) => l.number,
            Job::Audit(a, _) => a.number,
        }
    }
    fn size(&self) -> u64 {
        match self {
            Job::Table(t) => t.size,
            Job::Log(l) => l.len,
            Job::Audit(a, _) => a.len,
        }
    }
}

/// What the source is: a checkpoint, the audit log's part in it, the store
/// key provider and the SQL tables at the checkpoint.
pub(crate) struct Source {
    pub(crate) checkpoint: Arc<Checkpoint>,
    pub(crate) audit: AuditCut,
    pub(crate) provider: Arc<dyn KeyProvider>,
    pub(crate) store_key_id: KeyId,
    pub(crate) sql_tables: Vec<String>,
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

/// Writes a backup of `src` into `dir` (see the module doc).
pub(crate) fn create(
    src: Source,
    dir: &Path,
    options: &BackupOptions,
    progress: &mut dyn FnMut(BackupProgress),
) -> Result<BackupSummary> {
    let vfs: Arc<dyn Vfs> = options
        .vfs
        .clone()
        .unwrap_or_else(|| Arc::new(crate::vfs::OsVfs::new()));
    if !options.store_key_wrap && options.passphrase.is_none() {
        return Err(Error::InvalidArgument {
            what: "a backup needs a way to unlock it: keep the store-key wrap or give a passphrase"
                .into(),
        });
    }
    // The parent is opened (and so checked) before anything is written.
    let parent = match &options.parent {
        Some(p) => {
            let keys = BackupKeys {
                passphrase: options.passphrase.clone(),
                provider: Some(src.provider.clone()),
            };
            let opened = open::open(&*vfs, p, &keys)?;
            let location = std::path::absolute(p).unwrap_or_else(|_| p.clone());
            Some((opened, location))
        }
        None => None,
    };
    crate::storage::checkpoint::prepare_target(&*vfs, dir)?;
    let marker = dir.join(INCOMPLETE_MARKER);
    {
        let mut f = vfs.create(&marker)?;
        f.append(MARKER_TEXT)?;
        f.sync()?;
        vfs.sync_dir(dir)?;
    }
    let written: Arc<Mutex<Vec<PathBuf>>> = Arc::default();
    let result = write_all(
        Arc::new(src),
        &vfs,
        dir,
        options,
        parent,
        &written,
        progress,
    );
    if result.is_err() {
        // Free the space (a full disk is the likely cause); the marker stays.
        for p in written.lock().iter() {
            let _ = vfs.remove(p);
        }
        let _ = vfs.sync_dir(dir);
        return result;
    }
    vfs.remove(&marker)?;
    vfs.sync_dir(dir)?;
    result
}

fn write_all(
    src: Arc<Source>,
    vfs: &Arc<dyn Vfs>,
    dir: &Path,
    options: &BackupOptions,
    parent: Option<(Opened, PathBuf)>,
    written: &Arc<Mutex<Vec<PathBuf>>>,
    progress: &mut dyn FnMut(BackupProgress),
) -> Result<BackupSummary> {
    let cp = src.checkpoint.clone();
    let dk = Arc::new(DataKey::random()?);
    let mut id = [0u8; 16];
    fill_random(&mut id)?;
    let mut wraps = Vec::new();
    if options.store_key_wrap {
        wraps.push(Wrap::with_store_key(&dk, &id, &*src.provider)?);
    }
    if let Some(p) = &options.passphrase {
        wraps.push(Wrap::with_passphrase(&dk, &id, p, options.kdf)?);
    }
    write_plain(&**vfs, &dir.join(KEYS_FILE), &wrap::encode(&wraps), written)?;

    // What the parent chain already holds, and in which backup.
    let mut have_tables: HashMap<(u64, u128), [u8; 16]> = HashMap::new();
    let mut have_audit: HashMap<(u64, u128), &AuditEntry> = HashMap::new();
    if let Some((p, _)) = &parent {
        for e in &p.manifest.tables {
            have_tables.insert((e.table.number, e.table.iv), e.holder);
        }
        for a in &p.manifest.audit {
            have_audit.insert((a.number, a.iv), a);
        }
    }
    let mut jobs = Vec::new();
    let mut tables = Vec::new();
    for t in cp.tables() {
        let holder = match have_tables.get(&(t.number, t.iv)) {
            Some(h) => *h,
            None => {
                jobs.push(Job::Table(t.clone()));
                id
            }
        };
        tables.push(TableEntry {
            table: t.clone(),
            holder,
        });
    }
    let mut audit = Vec::new();
    for s in &src.audit.segments {
        // A segment only grows: the chain's runs, then the new records.
        let mut parts = Vec::new();
        let mut have = 0;
        if let Some(p) = have_audit
            .get(&(s.number, s.iv))
            .filter(|p| p.records <= s.records)
        {
            parts = p.parts.clone();
            have = p.records;
        }
        if s.records > have {
            parts.push((id, s.records - have));
            jobs.push(Job::Audit(s.clone(), have));
        }
        audit.push(AuditEntry {
            number: s.number,
            records: s.records,
            iv: s.iv,
            parts,
        });
    }
    let logs = cp.logs();
    for l in &logs {
        jobs.push(Job::Log(l.clone()));
    }
    // Largest first, so the last file to finish is a small one.
    jobs.sort_by_key(|j| std::cmp::Reverse(j.size()));
    let total = BackupProgress {
        files_done: 0,
        files_total: jobs.len(),
        bytes_done: 0,
        bytes_total: jobs.iter().map(Job::size).sum(),
    };
    progress(total);

    let files = run_jobs(
        &src, vfs, dir, &dk, id, jobs, options, written, total, progress,
    )?;
    let manifest = Manifest {
        file_digest: FileDigest::RecordTags,
        id,
        created_ms: now_ms(),
        store_key_id: src.store_key_id,
        sequence: cp.sequence(),
        flushed: cp.flushed_sequence(),
        parent: parent.as_ref().map(|(p, location)| ParentLink {
            id: p.manifest.id,
            manifest_sha256: p.manifest_sha256,
            location: location.to_string_lossy().into_owned(),
        }),
        tables,
        audit_head: src.audit.head_seq,
        audit,
        logs: logs.iter().map(|l| l.number).collect(),
        files,
        sql_tables: src.sql_tables.clone(),
    };
    write_manifest(&**vfs, dir, &dk, &manifest, written)?;
    Ok(BackupSummary {
        id: hex(&id),
        dir: dir.to_path_buf(),
        parent: parent.map(|(_, l)| l),
        sequence: manifest.sequence,
        files: manifest.files.len(),
        bytes: manifest.bytes(),
        tables: manifest.tables.len(),
        tables_copied: manifest
            .files
            .iter()
            .filter(|f| f.role == Role::Table)
            .count(),
    })
}

/// Writes a plain (unsealed) file whole and syncs it.
fn write_plain(
    vfs: &dyn Vfs,
    path: &Path,
    bytes: &[u8],
    written: &Mutex<Vec<PathBuf>>,
) -> Result<()> {
    let mut f = vfs.create(path)?;
    written.lock().push(path.to_path_buf());
    f.append(bytes)?;
    f.sync()
}

/// The manifest, sealed under the data key, put in place atomically.
pub(super) fn write_manifest(
    vfs: &dyn Vfs,
    dir: &Path,
    dk: &DataKey,
    m: &Manifest,
    written: &Mutex<Vec<PathBuf>>,
) -> Result<()> {
    let tmp = dir.join(format!("{MANIFEST_FILE}.tmp"));
    let file = vfs.create(&tmp)?;
    written.lock().push(tmp.clone());
    let mut w = SealedWriter::create(file, tmp.clone(), FileKind::Backup, Some(dk.keys()))?;
    w.append_record(&m.encode())?;
    w.sync()?;
    drop(w);
    let path = dir.join(MANIFEST_FILE);
    vfs.rename(&tmp, &path)?;
    written.lock().push(path);
    vfs.sync_dir(dir)
}

#[allow(clippy::too_many_arguments)]
fn run_jobs(
    src: &Arc<Source>,
    vfs: &Arc<dyn Vfs>,
    dir: &Path,
    dk: &Arc<DataKey>,
    id: [u8; 16],
    jobs: Vec<Job>,
    options: &BackupOptions,
    written: &Arc<Mutex<Vec<PathBuf>>>,
    mut state: BackupProgress,
    progress: &mut dyn FnMut(BackupProgress),
) -> Result<Vec<FileEntry>> {
    let (src, vfs, dir, dk, written) = (
        src.clone(),
        vfs.clone(),
        dir.to_path_buf(),
        dk.clone(),
        written.clone(),
    );
    let mut files = pool::run(
        super::threads(options.threads),
        jobs,
        move |job, report| write_job(&src, &*vfs, &dir, &dk, &id, job, &written, report),
        |bytes, file_done| {
            state.bytes_done += bytes;
            if file_done {
                state.files_done += 1;
            }
            progress(state);
        },
    )?;
    files.sort_by_key(|f| (f.role, f.number));
    Ok(files)
}

/// Progress is reported every this many payload bytes within a file.
const PROGRESS_STEP: u64 = 4 << 20;

#[allow(clippy::too_many_arguments)]
fn write_job(
    src: &Source,
    vfs: &dyn Vfs,
    dir: &Path,
    dk: &DataKey,
    id: &[u8; 16],
    job: &Job,
    written: &Mutex<Vec<PathBuf>>,
    report: &dyn Fn(u64),
) -> Result<FileEntry> {
    let role = job.role();
    let number = job.number();
    let name = role.file_name(number);
    let path = dir.join(&name);
    let file = vfs.create(&path)?;
    written.lock().push(path.clone());
    let mut w = SealedWriter::create(file, path.clone(), FileKind::Backup, Some(dk.keys()))?;
    // The digest (manifest.rs): the header, then every record's tag.
    let mut digest = Sha256::new();
    digest.update(w.header().encode());
    w.append_record(&encode_descriptor(id, role, number))?;
    digest.update(w.last_tag());
    let (mut records, mut bytes, mut reported) = (0u64, 0u64, 0u64);
    let mut count = |w: &SealedWriter, len: usize| {
        digest.update(w.last_tag());
        records += 1;
        bytes += len as u64;
        if bytes - reported >= PROGRESS_STEP {
            report(bytes - reported);
            reported = bytes;
        }
    };
    // Tables and log segments: each record read into the backup writer's
    // own buffer (checked there, then encrypted under the backup key).
    match job {
        Job::Table(t) => {
            let mut stream = src.checkpoint.table_records(t.number, 0)?;
            while let Some(len) = stream.next_to(&mut w)? {
                count(&w, len);
            }
        }
        Job::Log(l) => {
            let mut stream = src.checkpoint.log_records(l.number, 0)?;
            while let Some(len) = stream.next_to(&mut w)? {
                count(&w, len);
            }
        }
        Job::Audit(a, skip) => {
            let reader = src
                .checkpoint
                .source()
                .open_file(&a.name, FileKind::AuditLog)?;
            for r in reader
                .records()
                .take(a.records as usize)
                .skip(*skip as usize)
            {
                let payload = r?.1;
                w.append_record(&payload)?;
                count(&w, payload.len());
            }
        }
    }
    if let Job::Audit(a, skip) = job {
        if records != a.records - skip {
            return Err(Error::corruption(
                src.checkpoint.source().dir().join(&a.name),
                0,
                format!(
                    "audit segment has {} readable records, expected {}",
                    records + skip,
                    a.records
                ),
            ));
        }
    }
    w.sync()?;
    let size = HEADER_LEN + w.position();
    let iv = w.header().iv;
    drop(w);
    report(job.size().saturating_sub(reported));
    let sha256: [u8; 32] = digest.finalize().into();
    Ok(FileEntry {
        name,
        role,
        number,
        size,
        iv,
        sha256,
        records,
        payload_bytes: bytes,
    })
}
