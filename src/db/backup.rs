//! Checkpoints, backups and restores of an open database: the Rust API
//! ([`Db::checkpoint`], [`Db::backup`], [`Db::restore`]) and the SQL
//! statements `CHECKPOINT TO`, `BACKUP TO`, `RESTORE FROM … TO`,
//! `SHOW BACKUP`, `VERIFY BACKUP`.
//!
//! The SQL statements are for admins only, and every one is audited (the
//! passphrase never reaches the log); so are checkpoints and backups made
//! through the Rust API (as root). A restore never touches the open
//! database: `RESTORE FROM 'backup' TO 'dir'` builds a new store in a new
//! or empty directory, under this database's store key, to be opened on
//! its own (or moved into place while the database is closed).

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use zeroize::Zeroizing;

use crate::audit::cut::cut_at;
use crate::audit::AuditRecord;
use crate::backup::{
    self, BackupInfo, BackupKeys, BackupOptions, BackupProgress, BackupSummary, BackupVerifyReport,
    CheckpointSummary, KdfParams, RestoreOptions, RestoreSummary,
};
use crate::catalog::{Schema, CATALOG_PREFIX};
use crate::crypto::KeyProvider;
use crate::error::{Error, Result, SqlErrorKind};
use crate::storage::{Direction, Snapshot};
use crate::syntax::parse_backup::{BackupStmt, PassArg, PathArg};
use crate::types::Value;

use super::*;

/// The SQL tables as of `snapshot`.
fn sql_tables_at(db: &Db, snapshot: &Snapshot) -> Result<Vec<String>> {
    let mut end = CATALOG_PREFIX.to_vec();
    end.push(0xff);
    let rows = db.engine().iter(
        (
            std::ops::Bound::Included(CATALOG_PREFIX.to_vec()),
            std::ops::Bound::Excluded(end),
        ),
        Direction::Forward,
        Some(snapshot),
    )?;
    let schema = Schema::load(rows)?;
    let mut names: Vec<String> = schema.tables.values().map(|t| t.name.clone()).collect();
    names.sort();
    Ok(names)
}

impl Db {
    /// Writes a consistent copy of the store, as of now, into `dir` (new or
    /// empty, on the store's file system): tables are hard links where the
    /// file system allows. The copy opens with the same keys. Writers wait
    /// only while the checkpoint is taken, not while it is copied. Audited
    /// (event `checkpoint`; the copy's audit log ends before that record).
    pub fn checkpoint(&self, dir: impl AsRef<Path>) -> Result<CheckpointSummary> {
        let started = Instant::now();
        let r = self.checkpoint_unaudited(dir.as_ref());
        self.inner.audit.append(AuditRecord {
            time_ms: unix_ms(),
            event: "checkpoint".into(),
            user: crate::auth::ROOT.into(),
            statement: format!("checkpoint to '{}'", dir.as_ref().display()),
            outcome: if r.is_ok() { "ok" } else { "error" }.into(),
            error_code: r.as_ref().err().map(|e| e.code() as u32),
            error: r.as_ref().err().map(|e| e.to_string()),
            duration_us: started.elapsed().as_micros() as u64,
            ..AuditRecord::default()
        })?;
        r
    }

    fn checkpoint_unaudited(&self, dir: &Path) -> Result<CheckpointSummary> {
        let cp = self.engine().checkpoint()?;
        let audit = cut_at(self.engine(), cp.snapshot())?;
        let extra: Vec<(String, u64)> = audit
            .segments
            .iter()
            .map(|s| (s.name.clone(), s.len))
            .collect();
        cp.write_to(dir, &extra)?;
        Ok(CheckpointSummary {
            dir: dir.to_path_buf(),
            sequence: cp.sequence(),
            tables: cp.tables().len(),
        })
    }

    /// Backs the store up into `dir` (new or empty) while it stays open for
    /// reads and writes: an encrypted, authenticated backup under its own
    /// key, wrapped as `options` says (see [`crate::backup`]). Incremental
    /// when `options.parent` names an earlier backup. Audited.
    pub fn backup(
        &self,
        dir: impl AsRef<Path>,
        options: &BackupOptions,
        progress: impl FnMut(BackupProgress),
    ) -> Result<BackupSummary> {
        let started = Instant::now();
        let r = self.backup_unaudited(dir.as_ref(), options, progress);
        self.inner.audit.append(AuditRecord {
            time_ms: unix_ms(),
            event: "backup".into(),
            user: crate::auth::ROOT.into(),
            statement: describe_backup(dir.as_ref(), options),
            outcome: if r.is_ok() { "ok" } else { "error" }.into(),
            error_code: r.as_ref().err().map(|e| e.code() as u32),
            error: r.as_ref().err().map(|e| e.to_string()),
            duration_us: started.elapsed().as_micros() as u64,
            ..AuditRecord::default()
        })?;
        r
    }

    fn backup_unaudited(
        &self,
        dir: &Path,
        options: &BackupOptions,
        progress: impl FnMut(BackupProgress),
    ) -> Result<BackupSummary> {
        let cp = Arc::new(self.engine().checkpoint()?);
        let audit = cut_at(self.engine(), cp.snapshot())?;
        let tables = sql_tables_at(self, cp.snapshot())?;
        backup::create(&cp, &audit, tables, dir, options, progress)
    }

    /// Restores the backup in `backup_dir` (with its parent chain, for an
    /// incremental one) into a new store in `target` (new or empty),
    /// re-encrypted under `provider`'s store key. The backup is unlocked
    /// with `options.keys` (by default with `provider`, which works when
    /// the backup was wrapped by the same store key). The new store's audit
    /// log records the restore. Nothing opens at `target` until the restore
    /// is complete.
    pub fn restore(
        backup_dir: impl AsRef<Path>,
        target: impl AsRef<Path>,
        provider: impl KeyProvider + 'static,
        options: &RestoreOptions,
        progress: impl FnMut(BackupProgress),
    ) -> Result<RestoreSummary> {
        let provider: Arc<dyn KeyProvider> = Arc::new(provider);
        let started = Instant::now();
        let summary = backup::restore(
            backup_dir.as_ref(),
            target.as_ref(),
            provider.clone(),
            options,
            progress,
        )?;
        let db = Db::open_with(
            target.as_ref(),
            provider,
            Options {
                vfs: options.vfs.clone(),
                keys: options.key_options.clone(),
                ..Options::default()
            },
        )?;
        db.inner.audit.append(AuditRecord {
            time_ms: unix_ms(),
            event: "restore".into(),
            user: crate::auth::ROOT.into(),
            statement: format!(
                "restored from backup {} ({}), {} backup(s) in its chain, at sequence {}",
                summary.backup_id,
                backup_dir.as_ref().display(),
                summary.chain,
                summary.sequence
            ),
            outcome: "ok".into(),
            duration_us: started.elapsed().as_micros() as u64,
            ..AuditRecord::default()
        })?;
        Ok(summary)
    }
}

fn describe_backup(dir: &Path, options: &BackupOptions) -> String {
    let mut s = format!("backup to '{}'", dir.display());
    if let Some(p) = &options.parent {
        s.push_str(&format!(" incremental from '{}'", p.display()));
    }
    let mut wraps = Vec::new();
    if options.store_key_wrap {
        wraps.push("store key");
    }
    if options.passphrase.is_some() {
        wraps.push("passphrase");
    }
    s.push_str(&format!(" (key wraps: {})", wraps.join(", ")));
    s
}

fn misuse(what: &str) -> Error {
    Error::sql(SqlErrorKind::Misuse, what)
}

fn path_of(params: &[Value], p: &PathArg) -> Result<PathBuf> {
    match p {
        PathArg::Literal(s) => Ok(PathBuf::from(s)),
        PathArg::Param(i) => match params.get(i - 1) {
            Some(Value::Text(s)) if !s.is_empty() => Ok(PathBuf::from(s.as_str())),
            _ => Err(misuse(&format!(
                "parameter {i} must be a non-empty text directory"
            ))),
        },
    }
}

fn passphrase_of(params: &[Value], p: &Option<PassArg>) -> Result<Option<Zeroizing<Vec<u8>>>> {
    Ok(match p {
        None => None,
        Some(PassArg::Literal(s)) => Some(Zeroizing::new(s.as_bytes().to_vec())),
        Some(PassArg::Param(i)) => match params.get(i - 1) {
            Some(Value::Text(s)) => Some(Zeroizing::new(s.as_bytes().to_vec())),
            Some(Value::Blob(b)) => Some(Zeroizing::new(b.to_vec())),
            _ => {
                return Err(misuse(&format!(
                    "parameter {i} must be the passphrase (text or blob)"
                )))
            }
        },
    })
}

fn text(s: impl Into<String>) -> Value {
    Value::Text(s.into())
}

fn show_rows(info: &BackupInfo) -> Vec<Vec<Value>> {
    let mut rows = vec![
        vec![text("id"), text(info.id.clone())],
        vec![
            text("created"),
            text(format!(
                "{} UTC",
                crate::auth::state::format_timestamp(info.created_ms.div_euclid(1000))
            )),
        ],
        vec![
            text("kind"),
            text(if info.parent.is_some() {
                "incremental"
            } else {
                "full"
            }),
        ],
        vec![
            text("parent"),
            match &info.parent {
                Some((location, id)) => text(format!("{location} ({id})")),
                None => Value::Null,
            },
        ],
        vec![text("sequence"), Value::Integer(info.sequence as i64)],
        vec![text("tables"), text(info.sql_tables.join(", "))],
        vec![text("storage_tables"), Value::Integer(info.tables as i64)],
        vec![text("files"), Value::Integer(info.files as i64)],
        vec![text("size_bytes"), Value::Integer(info.bytes as i64)],
        vec![text("audit_head"), Value::Integer(info.audit_head as i64)],
        vec![text("store_key"), text(info.store_key_id.to_string())],
    ];
    for w in &info.wraps {
        rows.push(vec![text("key_wrap"), text(w.to_string())]);
    }
    rows
}

/// One row per backup of the verified chain, newest first.
fn verify_rows(report: &BackupVerifyReport) -> Vec<Vec<Value>> {
    report
        .backups
        .iter()
        .map(|b| {
            vec![
                text(b.dir.display().to_string()),
                text(b.id.clone()),
                Value::Integer(b.files as i64),
                Value::Integer(b.bytes as i64),
            ]
        })
        .collect()
}

impl Session {
    /// Runs BACKUP, RESTORE, SHOW BACKUP, VERIFY BACKUP or CHECKPOINT
    /// (admins only, always audited).
    pub(super) fn run_backup(
        &self,
        stmt: &BackupStmt,
        params: &[Value],
        _text: &str,
    ) -> Result<ResultSet> {
        let shown = |p: &PathArg| match path_of(params, p) {
            Ok(p) => p.display().to_string(),
            Err(_) => "?".into(),
        };
        let audit_text = stmt.audit_text(&shown);
        let sec = self.security()?;
        if !sec.roles.admin {
            let e = denied(
                "only admins may make checkpoints, back up, restore, show or verify backups".into(),
            );
            let p = self.audit_start(&sec, "denied", &audit_text, &[], &[], true);
            self.audit_end(p, 0, Some(&e))?;
            return Err(e);
        }
        let event = match stmt {
            BackupStmt::Backup { .. } => "backup",
            BackupStmt::Restore { .. } => "restore",
            BackupStmt::Show { .. } => "statement",
            BackupStmt::Verify { .. } => "verify_backup",
            BackupStmt::Checkpoint { .. } => "checkpoint",
        };
        let pending = self.audit_start(&sec, event, &audit_text, &[], &[], true);
        let r = self.run_backup_unaudited(stmt, params);
        let rows = r.as_ref().map_or(0, |(_, rows)| rows.len() as u64);
        self.audit_end(pending, rows, r.as_ref().err())?;
        r
    }

    fn run_backup_unaudited(&self, stmt: &BackupStmt, params: &[Value]) -> Result<ResultSet> {
        let db = Db {
            inner: self.db.clone(),
        };
        let engine = db.engine().clone();
        let provider = engine.sealed_dir().key_provider().clone();
        let in_txn = self.state.borrow().txn.is_some();
        match stmt {
            BackupStmt::Backup {
                dir,
                parent,
                passphrase,
                store_key,
                kdf_memory_kib,
                kdf_iterations,
                threads,
            } => {
                if in_txn {
                    return Err(misuse(
                        "BACKUP cannot run inside a transaction (it copies committed data)",
                    ));
                }
                let defaults = KdfParams::default();
                let options = BackupOptions {
                    passphrase: passphrase_of(params, passphrase)?,
                    kdf: KdfParams {
                        memory_kib: kdf_memory_kib.unwrap_or(defaults.memory_kib),
                        iterations: kdf_iterations.unwrap_or(defaults.iterations),
                        parallelism: defaults.parallelism,
                    },
                    store_key_wrap: *store_key,
                    parent: parent.as_ref().map(|p| path_of(params, p)).transpose()?,
                    threads: threads.unwrap_or(0) as usize,
                    ..BackupOptions::default()
                };
                let s = db.backup_unaudited(&path_of(params, dir)?, &options, |_| {})?;
                Ok((
                    [
                        "backup_id",
                        "kind",
                        "sequence",
                        "files",
                        "bytes",
                        "tables",
                        "tables_copied",
                    ]
                    .map(String::from)
                    .to_vec(),
                    vec![vec![
                        text(s.id),
                        text(if s.parent.is_some() {
                            "incremental"
                        } else {
                            "full"
                        }),
                        Value::Integer(s.sequence as i64),
                        Value::Integer(s.files as i64),
                        Value::Integer(s.bytes as i64),
                        Value::Integer(s.tables as i64),
                        Value::Integer(s.tables_copied as i64),
                    ]],
                ))
            }
            BackupStmt::Restore {
                from,
                to,
                passphrase,
                threads,
            } => {
                if in_txn {
                    return Err(misuse("RESTORE cannot run inside a transaction"));
                }
                let to = path_of(params, to)?;
                let live = std::fs::canonicalize(engine.sealed_dir().dir());
                if live.is_ok() && std::fs::canonicalize(&to).ok() == live.ok() {
                    return Err(Error::InvalidArgument {
                        what: "cannot restore into the open database; restore into a new directory and open that".into(),
                    });
                }
                let options = RestoreOptions {
                    keys: BackupKeys {
                        passphrase: passphrase_of(params, passphrase)?,
                        provider: Some(provider.clone()),
                    },
                    threads: threads.unwrap_or(0) as usize,
                    ..RestoreOptions::default()
                };
                let s = Db::restore(&path_of(params, from)?, &to, provider, &options, |_| {})?;
                Ok((
                    ["backup_id", "chain", "sequence", "tables", "bytes"]
                        .map(String::from)
                        .to_vec(),
                    vec![vec![
                        text(s.backup_id),
                        Value::Integer(s.chain as i64),
                        Value::Integer(s.sequence as i64),
                        Value::Integer(s.tables as i64),
                        Value::Integer(s.bytes as i64),
                    ]],
                ))
            }
            BackupStmt::Show { dir, passphrase } => {
                let keys = BackupKeys {
                    passphrase: passphrase_of(params, passphrase)?,
                    provider: Some(provider),
                };
                let info = backup::show(&path_of(params, dir)?, &keys, None)?;
                Ok((
                    vec!["item".to_string(), "value".to_string()],
                    show_rows(&info),
                ))
            }
            BackupStmt::Verify { dir, passphrase } => {
                let keys = BackupKeys {
                    passphrase: passphrase_of(params, passphrase)?,
                    provider: Some(provider),
                };
                let report = backup::verify(&path_of(params, dir)?, &keys, None, |_| {})?;
                Ok((
                    ["dir", "backup_id", "files", "bytes"]
                        .map(String::from)
                        .to_vec(),
                    verify_rows(&report),
                ))
            }
            BackupStmt::Checkpoint { dir } => {
                if in_txn {
                    return Err(misuse(
                        "CHECKPOINT cannot run inside a transaction (it copies committed data)",
                    ));
                }
                let s = db.checkpoint_unaudited(&path_of(params, dir)?)?;
                Ok((
                    ["dir", "sequence", "tables"].map(String::from).to_vec(),
                    vec![vec![
                        text(s.dir.display().to_string()),
                        Value::Integer(s.sequence as i64),
                        Value::Integer(s.tables as i64),
                    ]],
                ))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use sha2::{Digest, Sha256};

    use crate::backup::manifest::FileDigest;
    use crate::backup::{self, BackupKeys, BackupOptions, KdfParams};
    use crate::{Db, KeyBytes, MemoryKeyProvider, Options};

    #[test]
    fn file_digests_are_checked_in_both_manifest_versions() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let provider = || MemoryKeyProvider::new(KeyBytes::from_slice(&[4; 32])).expect("key");
        let db =
            Db::open_with(tmp.path().join("db"), provider(), Options::default()).expect("open");
        let s = db.root_session();
        s.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)", &[])
            .expect("create");
        for i in 0..200i64 {
            s.execute("INSERT INTO t VALUES (?, 'some text')", &[&i])
                .expect("insert");
        }
        db.engine().flush().expect("flush");
        let bk = tmp.path().join("bk");
        let options = BackupOptions {
            kdf: KdfParams::dangerous_minimal(),
            ..BackupOptions::default()
        };
        db.backup(&bk, &options, |_| {}).expect("backup");
        let keys = BackupKeys::provider(Arc::new(provider()));
        let check = || backup::verify(&bk, &keys, None, |_| {});
        let report = check().expect("a fresh backup verifies");
        assert!(report.files() >= 2);

        // Version 2: an authentic manifest whose digest of a file is not
        // that of the file's header and record tags.
        let mut victim = String::new();
        backup::reseal_manifest(&bk, &keys, |m| {
            victim = m.files[0].name.clone();
            m.files[0].sha256[5] ^= 1;
        })
        .expect("reseal");
        let e = check().expect_err("a wrong digest");
        assert!(e.to_string().contains("digest mismatch"), "{e}");
        assert!(e.to_string().contains(&victim), "{e}");

        // Version 1: digests of every byte, still checked.
        backup::reseal_manifest(&bk, &keys, |m| {
            m.file_digest = FileDigest::WholeFile;
            for f in &mut m.files {
                let bytes = std::fs::read(bk.join(&f.name)).expect("read");
                f.sha256 = Sha256::digest(&bytes).into();
            }
        })
        .expect("reseal");
        check().expect("a version-1 manifest verifies");
        backup::reseal_manifest(&bk, &keys, |m| m.files[0].sha256[0] ^= 1).expect("reseal");
        let e = check().expect_err("a wrong whole-file digest");
        assert!(e.to_string().contains("digest mismatch"), "{e}");
        assert!(e.to_string().contains(&victim), "{e}");
    }
}
