//! `backup`: encrypted, verifiable backups of a store, and restoring them
//! into a new store under the restoring side's own keys.
//!
//! A backup is a directory made from an online checkpoint
//! ([`crate::storage::checkpoint`]); the store keeps taking writes while it
//! is written:
//!
//! ```text
//!   BACKUP-KEYS     the backup's own random data key, wrapped by the store
//!                   key and/or a passphrase (argon2id)        (wrap.rs)
//!   BACKUP          the manifest: what the backup holds, each file's size
//!                   and digest, the parent of an incremental (manifest.rs)
//!   table-NNNNNN    a table's records   ┐ sealed files of kind Backup under
//!   log-NNNNNN      the log tail        │ the data key; the first record
//!   audit-NNNNNN    an audit segment    ┘ says what the file is
//! ```
//!
//! Invariants:
//! - no byte of a backup is plaintext store data: every file but
//!   `BACKUP-KEYS` is sealed under the backup's data key, which exists
//!   only wrapped; the store's own keys never enter a backup;
//! - every byte is authenticated: the records by their MACs, each file
//!   whole by its header, exact size and the digest of its record tags in
//!   the manifest, the manifest by its MAC, a parent by its manifest's
//!   SHA-256 in the child (`open.rs` lists what each check catches);
//! - a backup directory without `BACKUP`, or with the `INCOMPLETE` marker,
//!   is not a backup; a restore builds beside its target and renames at the
//!   end, so an interrupted one leaves nothing that opens as a store;
//! - an incremental backup holds only the tables (and audit segments) its
//!   parent chain lacks, and the whole log tail; a chain restores as one.
//!
//! Layering: above `storage` (checkpoints, installing), `audit` (which
//! records belong to a checkpoint), `vfs` and `crypto`; `db` calls it with
//! an open store ([`crate::Db::backup`]) and for restores.

mod create;
pub mod manifest;
mod open;
mod pool;
mod restore;
mod verify;
pub mod wrap;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use zeroize::Zeroizing;

use crate::audit::cut::AuditCut;
use crate::crypto::{KeyId, KeyProvider};
use crate::error::Result;
use crate::storage::{Checkpoint, StorageOptions};
use crate::vfs::{KeyOptions, OsVfs, Vfs};

pub use manifest::{Role, MANIFEST_FILE};
pub use verify::{BackupVerifyReport, VerifiedBackup};
pub use wrap::{KdfParams, WrapKind, KEYS_FILE};

/// How a backup is made.
#[derive(Clone)]
pub struct BackupOptions {
    /// Also wrap the backup's key with a key derived from this passphrase
    /// (argon2id, cost [`Self::kdf`]).
    pub passphrase: Option<Zeroizing<Vec<u8>>>,
    /// The cost of the passphrase wrap (default 64 MiB, 3 passes).
    pub kdf: KdfParams,
    /// Wrap the backup's key with the store key (default true); whoever
    /// has the store key can then restore it.
    pub store_key_wrap: bool,
    /// Make an incremental backup on top of the backup in this directory
    /// (full, or itself incremental): only what the chain lacks is copied.
    pub parent: Option<PathBuf>,
    /// The file system to write the backup to (default: the real one).
    pub vfs: Option<Arc<dyn Vfs>>,
    /// Files written at once (0, the default: one per CPU, at most 4).
    /// A backup is CPU-bound (every record is verified and decrypted under
    /// the store's key, encrypted and MACed under the backup's), so fewer
    /// threads leave more of the machine to the workload and take longer;
    /// the same option is `THREADS` in SQL, `--threads` in the CLI,
    /// `threads` in C and Python.
    pub threads: usize,
}

impl Default for BackupOptions {
    fn default() -> Self {
        BackupOptions {
            passphrase: None,
            kdf: KdfParams::default(),
            store_key_wrap: true,
            parent: None,
            vfs: None,
            threads: 0,
        }
    }
}

impl BackupOptions {
    /// Adds a passphrase wrap.
    pub fn with_passphrase(mut self, passphrase: impl AsRef<[u8]>) -> Self {
        self.passphrase = Some(Zeroizing::new(passphrase.as_ref().to_vec()));
        self
    }

    /// Makes the backup incremental on top of `parent`.
    pub fn incremental_from(mut self, parent: impl Into<PathBuf>) -> Self {
        self.parent = Some(parent.into());
        self
    }
}

/// What may unlock a backup: a passphrase, a key provider holding the
/// store key a wrap names, or both (each wrap is tried).
#[derive(Clone, Default)]
pub struct BackupKeys {
    /// A passphrase for a passphrase wrap, or the store's passphrase for
    /// a store-passphrase wrap (each is tried).
    pub passphrase: Option<Zeroizing<Vec<u8>>>,
    /// A provider for a store-key wrap.
    pub provider: Option<Arc<dyn KeyProvider>>,
}

impl BackupKeys {
    /// Keys from a passphrase.
    pub fn passphrase(passphrase: impl AsRef<[u8]>) -> Self {
        BackupKeys {
            passphrase: Some(Zeroizing::new(passphrase.as_ref().to_vec())),
            provider: None,
        }
    }

    /// Keys from a provider.
    pub fn provider(provider: Arc<dyn KeyProvider>) -> Self {
        BackupKeys {
            passphrase: None,
            provider: Some(provider),
        }
    }

    /// Adds a passphrase.
    pub fn with_passphrase(mut self, passphrase: impl AsRef<[u8]>) -> Self {
        self.passphrase = Some(Zeroizing::new(passphrase.as_ref().to_vec()));
        self
    }
}

/// How a restore runs.
#[derive(Clone, Default)]
pub struct RestoreOptions {
    /// What unlocks the backup (default: the restoring provider, for a
    /// backup wrapped by the same store key).
    pub keys: BackupKeys,
    /// The file system of the backup and the target (default: the real one).
    pub vfs: Option<Arc<dyn Vfs>>,
    /// Key management of the new store.
    pub key_options: KeyOptions,
    /// Storage tuning used while building the new store.
    pub storage: StorageOptions,
    /// Tables restored at once (0, the default: one per CPU, at most 4).
    pub threads: usize,
}

/// Progress of a backup, restore or verify.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BackupProgress {
    /// Files done.
    pub files_done: usize,
    /// Files in all.
    pub files_total: usize,
    /// Bytes done.
    pub bytes_done: u64,
    /// Bytes in all.
    pub bytes_total: u64,
}

/// What a finished backup holds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BackupSummary {
    /// Its id (hex).
    pub id: String,
    /// Its directory.
    pub dir: PathBuf,
    /// The parent's directory, for an incremental backup.
    pub parent: Option<PathBuf>,
    /// The checkpoint's sequence number.
    pub sequence: u64,
    /// Data files written.
    pub files: usize,
    /// Their bytes.
    pub bytes: u64,
    /// Tables of the store at the checkpoint.
    pub tables: usize,
    /// Tables copied into this backup (the rest are in the parent chain).
    pub tables_copied: usize,
}

/// What a finished checkpoint ([`crate::Db::checkpoint`]) made.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CheckpointSummary {
    /// The copy's directory.
    pub dir: PathBuf,
    /// The sequence number the copy is at.
    pub sequence: u64,
    /// Tables in the copy (hard links where the file system allows).
    pub tables: usize,
}

/// What a finished restore made.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RestoreSummary {
    /// The new store's directory.
    pub dir: PathBuf,
    /// The restored backup's id (hex).
    pub backup_id: String,
    /// Backups in its chain (1 for a full backup).
    pub chain: usize,
    /// The sequence number the store is at.
    pub sequence: u64,
    /// Tables restored.
    pub tables: usize,
    /// Backup bytes read.
    pub bytes: u64,
}

/// What [`show`] tells about a backup.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BackupInfo {
    /// Its id (hex).
    pub id: String,
    /// When its checkpoint was taken (ms since the Unix epoch).
    pub created_ms: i64,
    /// The parent's location and id (hex), for an incremental backup.
    pub parent: Option<(String, String)>,
    /// The checkpoint's sequence number.
    pub sequence: u64,
    /// The source store's key id.
    pub store_key_id: KeyId,
    /// The SQL tables at the checkpoint.
    pub sql_tables: Vec<String>,
    /// Storage tables of the state.
    pub tables: usize,
    /// Data files in this directory.
    pub files: usize,
    /// Their bytes.
    pub bytes: u64,
    /// The audit log's last record at the checkpoint.
    pub audit_head: u64,
    /// How the backup's key can be unlocked.
    pub wraps: Vec<WrapKind>,
}

/// Worker threads for `requested`; 0 picks one per CPU, at most 4 (past
/// that the disk, not the CPU, bounds a backup or a restore). A backup
/// takes every CPU by default too: with half of them it ran at a third of
/// a plain copy's speed on two CPUs (BENCHMARKS.md), and a caller who
/// wants to leave the workload more asks for fewer.
pub(crate) fn threads(requested: usize) -> usize {
    if requested > 0 {
        return requested;
    }
    std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .clamp(1, 4)
}

fn vfs_of(v: &Option<Arc<dyn Vfs>>) -> Arc<dyn Vfs> {
    v.clone().unwrap_or_else(|| Arc::new(OsVfs::new()))
}

/// Writes a backup of the store `checkpoint` was taken from into `dir`
/// (new or empty). `audit` is the audit log's part of the checkpoint,
/// `sql_tables` the SQL tables it holds (for [`show`]).
pub fn create(
    checkpoint: &Arc<Checkpoint>,
    audit: &AuditCut,
    sql_tables: Vec<String>,
    dir: &Path,
    options: &BackupOptions,
    mut progress: impl FnMut(BackupProgress),
) -> Result<BackupSummary> {
    let source = checkpoint.source();
    let src = create::Source {
        checkpoint: checkpoint.clone(),
        audit: audit.clone(),
        provider: source.key_provider().clone(),
        store_key_id: source.store_key_id(),
        sql_tables,
    };
    create::create(src, dir, options, &mut progress)
}

/// Restores the backup in `backup_dir` (and its parent chain) into a new
/// store at `target` (new or empty), whose key registry is made under
/// `provider`.
pub fn restore(
    backup_dir: &Path,
    target: &Path,
    provider: Arc<dyn KeyProvider>,
    options: &RestoreOptions,
    mut progress: impl FnMut(BackupProgress),
) -> Result<RestoreSummary> {
    restore::restore(backup_dir, target, provider, options, &mut progress)
}

/// Checks every file of the backup in `dir` and of its chain.
pub fn verify(
    dir: &Path,
    keys: &BackupKeys,
    vfs: Option<Arc<dyn Vfs>>,
    mut progress: impl FnMut(BackupProgress),
) -> Result<BackupVerifyReport> {
    verify::verify(&*vfs_of(&vfs), dir, keys, &mut progress)
}

/// Seals an edited manifest in place of the backup's own: what only a
/// holder of the backup's key could do, for tests of the checks that
/// follow the manifest's MAC.
#[cfg(test)]
pub(crate) fn reseal_manifest(
    dir: &Path,
    keys: &BackupKeys,
    edit: impl FnOnce(&mut manifest::Manifest),
) -> Result<()> {
    let vfs = OsVfs::new();
    let opened = open::open(&vfs, dir, keys)?;
    let mut m = opened.manifest.clone();
    edit(&mut m);
    create::write_manifest(&vfs, dir, &opened.key, &m, &Default::default())
}

/// What the backup in `dir` holds (its manifest; files are not read).
pub fn show(dir: &Path, keys: &BackupKeys, vfs: Option<Arc<dyn Vfs>>) -> Result<BackupInfo> {
    let b = open::open(&*vfs_of(&vfs), dir, keys)?;
    let m = &b.manifest;
    Ok(BackupInfo {
        id: manifest::hex(&m.id),
        created_ms: m.created_ms,
        parent: m
            .parent
            .as_ref()
            .map(|p| (p.location.clone(), manifest::hex(&p.id))),
        sequence: m.sequence,
        store_key_id: m.store_key_id,
        sql_tables: m.sql_tables.clone(),
        tables: m.tables.len(),
        files: m.files.len(),
        bytes: m.bytes(),
        audit_head: m.audit_head,
        wraps: b.wraps.clone(),
    })
}
