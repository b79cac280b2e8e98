//! Restoring a backup (or a chain) into a new store, re-encrypted under
//! the restoring side's own store key.
//!
//! ```text
//!   target T must not exist, be empty, or be an unfinished restore
//!   build in .T.restoring (beside T): INCOMPLETE marker (a restore's
//!     text), a new key registry under the restoring provider, every table
//!     from the backup of the chain that holds it, the audit segments, the
//!     log tail replayed into one more table, a manifest, all synced
//!   rename .T.restoring → T, fsync the parent directory
//!   remove T/INCOMPLETE, fsync T
//! ```
//!
//! Every file of the chain is checked (size, digest, MACs, descriptor,
//! counts: see `open.rs`), so a tampered or partial backup fails the
//! restore, naming the file, and nothing is left at T. A crash leaves
//! either `.T.restoring` (empty, holding only its lock file, or holding
//! the marker) or T with the marker: neither opens as a store, and the
//! next restore to T clears both. The marker goes last, after the rename,
//! so no crash leaves a finished store under the staging name (which the
//! next restore could not tell from a user's directory).

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::crypto::KeyProvider;
use crate::error::{Error, Result};
use crate::storage::{
    complete_install, is_unfinished_install, CheckpointInstaller, CheckpointTable,
    INCOMPLETE_MARKER, LOCK_FILE,
};
use crate::vfs::{FileKind, Vfs, AUDIT_FILE_PREFIX};

use super::manifest::{hex, FileEntry, Role, TableEntry, MANIFEST_FILE};
use super::open::{self, Opened};
use super::pool;
use super::{BackupKeys, BackupProgress, RestoreOptions, RestoreSummary};

/// Where a restore into `target` is built.
fn staging_dir(target: &Path) -> Result<PathBuf> {
    let name = target
        .file_name()
        .ok_or_else(|| Error::InvalidArgument {
            what: format!(
                "{} is not a directory name to restore into",
                target.display()
            ),
        })?
        .to_string_lossy();
    Ok(crate::vfs::parent_dir(target).join(format!(".{name}.restoring")))
}

/// Removes what an interrupted restore left in `staging` (only if it is
/// one: empty, holding only the lock file it takes first, or holding the
/// marker; and its lock is free).
fn clear_staging(vfs: &dyn Vfs, staging: &Path) -> Result<()> {
    if !vfs.exists(staging)? {
        return Ok(());
    }
    let names = vfs.list(staging)?;
    let only_lock = names.iter().all(|n| n == LOCK_FILE);
    if !only_lock && !names.iter().any(|n| n == INCOMPLETE_MARKER) {
        return Err(Error::InvalidArgument {
            what: format!(
                "{} exists and is not an unfinished restore; move it away",
                staging.display()
            ),
        });
    }
    clear_dir(vfs, staging, &names)
}

/// Empties and removes `dir`, whose entries are `names`, under its lock
/// (which fails with `Locked` while a restore is building there).
fn clear_dir(vfs: &dyn Vfs, dir: &Path, names: &[String]) -> Result<()> {
    if !names.is_empty() {
        let lock = vfs.lock(&dir.join(LOCK_FILE))?;
        for n in names.iter().filter(|n| *n != LOCK_FILE) {
            vfs.remove(&dir.join(n))?;
        }
        drop(lock);
        vfs.remove(&dir.join(LOCK_FILE))?;
    }
    vfs.remove_dir(dir)?;
    vfs.sync_dir(crate::vfs::parent_dir(dir))
}

/// Restores the backup in `backup_dir` into `target` (see the module doc).
pub(crate) fn restore(
    backup_dir: &Path,
    target: &Path,
    provider: Arc<dyn KeyProvider>,
    options: &RestoreOptions,
    progress: &mut dyn FnMut(BackupProgress),
) -> Result<RestoreSummary> {
    let vfs: Arc<dyn Vfs> = options
        .vfs
        .clone()
        .unwrap_or_else(|| Arc::new(crate::vfs::OsVfs::new()));
    let keys = BackupKeys {
        passphrase: options.keys.passphrase.clone(),
        provider: options
            .keys
            .provider
            .clone()
            .or_else(|| Some(provider.clone())),
    };
    // A restore interrupted after its rename left the target marked: it
    // never opened, and is cleared like the staging directory.
    let leftover = vfs.exists(target)? && is_unfinished_install(&*vfs, target)?;
    if !leftover && vfs.exists(target)? && !vfs.list(target)?.is_empty() {
        return Err(Error::InvalidArgument {
            what: format!(
                "{} exists and is not empty; restore into a new or empty directory",
                target.display()
            ),
        });
    }
    let newest = open::open(&*vfs, backup_dir, &keys)?;
    let chain = Arc::new(open::chain(&*vfs, newest, &keys)?);
    let staging = staging_dir(target)?;
    clear_staging(&*vfs, &staging)?;
    let summary = build(&vfs, &chain, &staging, provider, options, progress)?;
    if leftover {
        clear_dir(&*vfs, target, &vfs.list(target)?)?;
    } else if vfs.exists(target)? {
        vfs.remove_dir(target)?;
    }
    vfs.rename(&staging, target)?;
    vfs.sync_dir(crate::vfs::parent_dir(target))?;
    complete_install(&*vfs, target)?;
    Ok(RestoreSummary {
        dir: target.to_path_buf(),
        ..summary
    })
}

fn build(
    vfs_arc: &Arc<dyn Vfs>,
    chain: &Arc<Vec<Opened>>,
    staging: &Path,
    provider: Arc<dyn KeyProvider>,
    options: &RestoreOptions,
    progress: &mut dyn FnMut(BackupProgress),
) -> Result<RestoreSummary> {
    let vfs = &**vfs_arc;
    let newest = &chain[0];
    let m = &newest.manifest;
    let by_id: HashMap<[u8; 16], &Opened> = chain.iter().map(|b| (b.manifest.id, b)).collect();
    let holder = |id: &[u8; 16], what: String| -> Result<&Opened> {
        by_id.get(id).copied().ok_or_else(|| {
            Error::corruption(
                newest.dir.join(MANIFEST_FILE),
                0,
                format!(
                    "{what} is held by backup {}, which is not in its chain",
                    hex(id)
                ),
            )
        })
    };
    // Every part, with the backup and file that hold it, checked first.
    let mut tables = Vec::new();
    for e in &m.tables {
        let b = holder(&e.holder, format!("table {}", e.table.number))?;
        let own = b.manifest.tables.iter().find(|t| t.table == e.table);
        let file = b.manifest.file(Role::Table, e.table.number);
        match (own, file) {
            (Some(TableEntry { holder, .. }), Some(f)) if *holder == b.manifest.id => {
                tables.push((e, b, f))
            }
            _ => {
                return Err(Error::corruption(
                    b.dir.join(MANIFEST_FILE),
                    0,
                    format!(
                        "does not hold table {} that its child names",
                        e.table.number
                    ),
                ))
            }
        }
    }
    // Audit segments: each run from the backup that holds it.
    let mut audit = Vec::new();
    for a in &m.audit {
        let mut runs = Vec::new();
        for (id, records) in &a.parts {
            let b = holder(id, format!("audit segment {}", a.number))?;
            let f = b.manifest.file(Role::Audit, a.number).ok_or_else(|| {
                Error::corruption(
                    b.dir.join(MANIFEST_FILE),
                    0,
                    format!("does not hold audit segment {}", a.number),
                )
            })?;
            if f.records != *records {
                return Err(Error::corruption(
                    b.dir.join(&f.name),
                    0,
                    format!(
                        "holds {} audit records, the chain says {records}",
                        f.records
                    ),
                ));
            }
            runs.push((b, f));
        }
        audit.push((a, runs));
    }
    let mut logs = Vec::new();
    for &n in &m.logs {
        let f = m.file(Role::Log, n).ok_or_else(|| {
            Error::corruption(
                newest.dir.join(MANIFEST_FILE),
                0,
                format!("lists log segment {n} but no file for it"),
            )
        })?;
        logs.push(f);
    }
    // The files of the chain this restore does not read (a parent's
    // tables that later backups replaced) are checked as well, before
    // anything is written: a tampered or partial backup is refused whole,
    // as `verify` refuses it, not only where the restore happens to read.
    {
        let mut used: HashSet<([u8; 16], &str)> = HashSet::new();
        for (_, b, f) in &tables {
            used.insert((b.manifest.id, f.name.as_str()));
        }
        for (_, runs) in &audit {
            for (b, f) in runs {
                used.insert((b.manifest.id, f.name.as_str()));
            }
        }
        for f in &logs {
            used.insert((newest.manifest.id, f.name.as_str()));
        }
        for b in chain.iter() {
            for f in &b.manifest.files {
                if !used.contains(&(b.manifest.id, f.name.as_str())) {
                    open::read_file(vfs, b, f, |_| Ok(()))?;
                }
            }
        }
    }
    let mut state = BackupProgress {
        files_done: 0,
        files_total: tables.len()
            + audit.iter().map(|(_, runs)| runs.len()).sum::<usize>()
            + logs.len(),
        bytes_done: 0,
        bytes_total: tables.iter().map(|(_, _, f)| f.size).sum::<u64>()
            + audit
                .iter()
                .flat_map(|(_, runs)| runs.iter().map(|(_, f)| f.size))
                .sum::<u64>()
            + logs.iter().map(|f| f.size).sum::<u64>(),
    };
    progress(state);

    let inst = CheckpointInstaller::create(
        vfs_arc.clone(),
        staging,
        provider,
        options.key_options.clone(),
        options.storage.clone(),
        m.flushed,
    )?;

    // Tables, in parallel; largest first.
    tables.sort_by_key(|(_, _, f)| std::cmp::Reverse(f.size));
    let jobs: Vec<(CheckpointTable, usize, FileEntry)> = tables
        .iter()
        .map(|(e, b, f)| {
            let at = chain
                .iter()
                .position(|c| c.manifest.id == b.manifest.id)
                .unwrap_or(0);
            (e.table.clone(), at, (*f).clone())
        })
        .collect();
    let inst = Arc::new(inst);
    {
        let (inst, chain, vfs) = (inst.clone(), chain.clone(), vfs_arc.clone());
        pool::run(
            super::threads(options.threads),
            jobs,
            move |(table, at, f), report| {
                let mut ti = inst.table(table)?;
                open::read_file_in_place(&*vfs, &chain[*at], f, |len, read| {
                    ti.add_in_place(len, read)
                })?;
                ti.finish()?;
                report(f.size);
                Ok(())
            },
            |bytes, done| {
                state.bytes_done += bytes;
                if done {
                    state.files_done += 1;
                }
                progress(state);
            },
        )?;
    }
    // The workers are gone: the installer is ours alone again.
    let inst = Arc::try_unwrap(inst).map_err(|_| Error::Poisoned {
        reason: "a restore worker outlived the restore".into(),
    })?;

    for (a, runs) in &audit {
        let name = format!("{AUDIT_FILE_PREFIX}{:06}.log", a.number);
        let mut w = inst.sealed_dir().create_file(&name, FileKind::AuditLog)?;
        for (b, f) in runs {
            open::read_file_in_place(vfs, b, f, |len, read| {
                w.append_record_in_place(len, |slot| read(slot)).map(|_| ())
            })?;
            state.files_done += 1;
            state.bytes_done += f.size;
            progress(state);
        }
        w.sync()?;
    }
    for f in &logs {
        open::read_file(vfs, newest, f, |p| inst.add_log_record(p))?;
        inst.end_log_segment();
        state.files_done += 1;
        state.bytes_done += f.size;
        progress(state);
    }
    inst.finish(m.sequence)?;
    Ok(RestoreSummary {
        dir: staging.to_path_buf(),
        backup_id: hex(&m.id),
        chain: chain.len(),
        sequence: m.sequence,
        tables: m.tables.len(),
        bytes: state.bytes_total,
    })
}
