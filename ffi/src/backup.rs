//! Checkpoints, backups and restores: `sealdb_checkpoint`,
//! `sealdb_backup`, `sealdb_backup_verify`, `sealdb_restore`,
//! `sealdb_restore_key_file`.
//!
//! A checkpoint, a backup and a verify run on a connection, as its user:
//! only admins may run them, and they are audited, exactly like the SQL
//! statements `CHECKPOINT TO`, `BACKUP TO` and `VERIFY BACKUP` (which are
//! what they run). A restore needs no database: it builds a new store in a
//! new or empty directory, re-encrypted under the key given, and unlocks
//! the backup with its passphrase, the backup key given in the options, or
//! else the new store's own key (for a backup that store key wrapped).

use std::ffi::{c_char, CStr};
use std::path::Path;
use std::sync::Arc;

use sealdb::backup::{BackupKeys, RestoreOptions};
use sealdb::{Db, FileKeyProvider, KeyBytes, KeyProvider, MemoryKeyProvider, ToValue};
use zeroize::Zeroizing;

use crate::conn::{sealdb_conn, with_conn, write_out};
use crate::db::{bytes_arg, str_arg};
use crate::error::{Failure, FfiResult, SEALDB_OK};
use crate::guard::call;

/// How `sealdb_backup` makes a backup. Every field may be left zero/NULL.
#[repr(C)]
pub struct sealdb_backup_options {
    /// Also wrap the backup's key with this passphrase (NUL-terminated;
    /// NULL: no passphrase wrap).
    pub passphrase: *const c_char,
    /// Make an incremental backup on top of the backup in this directory
    /// (NULL: a full backup).
    pub parent: *const c_char,
    /// Non-zero: do not wrap the backup's key with the store key (then a
    /// passphrase is required).
    pub no_store_key: i32,
    /// argon2id memory of the passphrase wrap in KiB (0: 65536).
    pub kdf_memory_kib: u32,
    /// argon2id passes of the passphrase wrap (0: 3).
    pub kdf_iterations: u32,
    /// Files backed up at once (0: one per CPU, at most 4); fewer leave
    /// more CPU to the database's workload and take longer. SQL's
    /// `THREADS`.
    pub threads: u32,
}

/// What `sealdb_checkpoint` made.
#[repr(C)]
pub struct sealdb_checkpoint_report {
    /// The sequence number the copy is at (every commit up to it).
    pub sequence: u64,
    /// Tables in the copy.
    pub tables: u64,
}

/// What `sealdb_backup_verify` checked.
#[repr(C)]
pub struct sealdb_backup_verify_report {
    /// Backups in the chain (1 for a full backup).
    pub backups: u32,
    /// Data files checked, in all backups of the chain.
    pub files: u64,
    /// Their bytes.
    pub bytes: u64,
}

/// How `sealdb_restore` unlocks the backup. Every field may be left
/// zero/NULL.
#[repr(C)]
pub struct sealdb_restore_options {
    /// The backup's passphrase, or for the backup of a store keyed by a
    /// passphrase that store's passphrase (NUL-terminated; NULL: none).
    pub passphrase: *const c_char,
    /// The store key that wrapped the backup, when it is not the new
    /// store's key: `backup_key_len` bytes (NULL/0: none) ...
    pub backup_key: *const u8,
    /// ... of this length (16, 24 or 32).
    pub backup_key_len: usize,
    /// ... or a key file holding it (NULL: none).
    pub backup_key_file: *const c_char,
    /// Tables restored at once (0: one per CPU, at most 4).
    pub threads: u32,
}

/// A passphrase argument: its bytes (NULL: none).
///
/// # Safety
/// `p` is NULL or a NUL-terminated string valid for the call.
unsafe fn passphrase_arg(p: *const c_char) -> Option<Zeroizing<Vec<u8>>> {
    if p.is_null() {
        return None;
    }
    // SAFETY: p is not NULL and NUL-terminated (this function's contract).
    let s = unsafe { CStr::from_ptr(p) };
    Some(Zeroizing::new(s.to_bytes().to_vec()))
}

/// Backs up the database of `conn` into the directory `dir` (new or
/// empty) while it stays open for reads and writes: an encrypted,
/// authenticated backup under its own key, wrapped by the store key and/or
/// a passphrase (`options`, NULL for the defaults: the store key only).
/// Runs as `conn`'s user: admins only (`SEALDB_ERR_PERMISSION_DENIED`
/// otherwise), audited, not inside a transaction. A target that holds
/// files gives `SEALDB_ERR_INVALID_ARGUMENT`; a full disk `SEALDB_ERR_IO`,
/// leaving the target marked incomplete. Arguments are borrowed for the
/// call.
#[no_mangle]
pub unsafe extern "C" fn sealdb_backup(
    conn: *const sealdb_conn,
    dir: *const c_char,
    options: *const sealdb_backup_options,
) -> i32 {
    call(|| {
        // SAFETY: the caller passes a NUL-terminated dir and NULL or a
        // valid options struct whose strings are NULL or NUL-terminated.
        let (dir, opts) = unsafe { (str_arg(dir, "dir")?, options.as_ref()) };
        let mut params: Vec<Box<dyn ToValue>> = vec![Box::new(dir.to_string())];
        let mut sql = String::from("BACKUP TO ?1");
        let mut with = Vec::new();
        if let Some(o) = opts {
            if !o.parent.is_null() {
                // SAFETY: as above.
                let parent = unsafe { str_arg(o.parent, "options.parent")? };
                params.push(Box::new(parent.to_string()));
                sql.push_str(&format!(" INCREMENTAL FROM ?{}", params.len()));
            }
            // SAFETY: as above.
            if let Some(p) = unsafe { passphrase_arg(o.passphrase) } {
                params.push(Box::new(PassBlob(p)));
                with.push(format!("PASSPHRASE = ?{}", params.len()));
            }
            if o.no_store_key != 0 {
                with.push("STORE_KEY = OFF".into());
            }
            if o.kdf_memory_kib != 0 {
                with.push(format!("KDF_MEMORY_KIB = {}", o.kdf_memory_kib));
            }
            if o.kdf_iterations != 0 {
                with.push(format!("KDF_ITERATIONS = {}", o.kdf_iterations));
            }
            if o.threads != 0 {
                with.push(format!("THREADS = {}", o.threads));
            }
        }
        if !with.is_empty() {
            sql.push_str(" WITH ");
            sql.push_str(&with.join(", "));
        }
        with_conn(conn, |s| {
            let refs: Vec<&dyn ToValue> = params.iter().map(|b| &**b).collect();
            s.execute(&sql, &refs)?;
            Ok(SEALDB_OK)
        })
    })
}

/// Writes a consistent copy of the database of `conn`, as of now, into
/// the directory `dir` (new or empty, on the database's file system) while
/// it stays open for reads and writes: an ordinary store under the same
/// keys (the same key, key file or passphrase opens it), its tables hard
/// links of the database's where the file system allows. Runs as `conn`'s
/// user: admins only (`SEALDB_ERR_PERMISSION_DENIED` otherwise), audited,
/// not inside a transaction (`SEALDB_ERR_SQL_MISUSE`), like the SQL statement
/// `CHECKPOINT TO`. A target that holds files gives
/// `SEALDB_ERR_INVALID_ARGUMENT`. On success `*out` (which may be NULL)
/// says what the copy holds. Arguments are borrowed for the call.
#[no_mangle]
pub unsafe extern "C" fn sealdb_checkpoint(
    conn: *const sealdb_conn,
    dir: *const c_char,
    out: *mut sealdb_checkpoint_report,
) -> i32 {
    call(|| {
        // SAFETY: the caller passes a NUL-terminated dir and NULL or a
        // writable report.
        let dir = unsafe { str_arg(dir, "dir")? }.to_string();
        let zero = || sealdb_checkpoint_report {
            sequence: 0,
            tables: 0,
        };
        if !out.is_null() {
            write_out(out, zero())?;
        }
        let report = with_conn(conn, |s| {
            let rows = s.query("CHECKPOINT TO ?1", &[&dir])?.collect_all()?;
            let mut r = zero();
            if let Some(row) = rows.first() {
                r.sequence = row.get::<i64>(1)? as u64;
                r.tables = row.get::<i64>(2)? as u64;
            }
            Ok(r)
        })?;
        if !out.is_null() {
            write_out(out, report)?;
        }
        Ok(SEALDB_OK)
    })
}

/// Verifies the backup in `dir` and its parent chain without restoring
/// it: every file's header, record MACs, size and digest, the manifest,
/// the chain's links, and that nothing but the backup's files is there.
/// The backup is unlocked with `passphrase` (NUL-terminated; NULL: none)
/// or the store key of `conn`'s database. Runs as `conn`'s user: admins
/// only (`SEALDB_ERR_PERMISSION_DENIED` otherwise), audited, like the SQL
/// statement `VERIFY BACKUP`. A tampered, truncated or missing file gives
/// a corruption code whose message names the file; an unfinished backup
/// `SEALDB_ERR_INCOMPLETE`; a wrong passphrase or key
/// `SEALDB_ERR_BACKUP_KEY`. On success `*out` (which may be NULL) says
/// what was checked.
#[no_mangle]
pub unsafe extern "C" fn sealdb_backup_verify(
    conn: *const sealdb_conn,
    dir: *const c_char,
    passphrase: *const c_char,
    out: *mut sealdb_backup_verify_report,
) -> i32 {
    call(|| {
        // SAFETY: the caller passes a NUL-terminated dir, NULL or a
        // NUL-terminated passphrase, and NULL or a writable report.
        let (dir, pass) = unsafe { (str_arg(dir, "dir")?, passphrase_arg(passphrase)) };
        let mut params: Vec<Box<dyn ToValue>> = vec![Box::new(dir.to_string())];
        let mut sql = String::from("VERIFY BACKUP ?1");
        if let Some(p) = pass {
            params.push(Box::new(PassBlob(p)));
            sql.push_str(" WITH PASSPHRASE = ?2");
        }
        let zero = || sealdb_backup_verify_report {
            backups: 0,
            files: 0,
            bytes: 0,
        };
        if !out.is_null() {
            write_out(out, zero())?;
        }
        let report = with_conn(conn, |s| {
            let refs: Vec<&dyn ToValue> = params.iter().map(|b| &**b).collect();
            let rows = s.query(&sql, &refs)?.collect_all()?;
            let mut r = zero();
            for row in rows {
                r.backups += 1;
                r.files += row.get::<i64>(2)? as u64;
                r.bytes += row.get::<i64>(3)? as u64;
            }
            Ok(r)
        })?;
        if !out.is_null() {
            write_out(out, report)?;
        }
        Ok(SEALDB_OK)
    })
}

/// A passphrase bound as a blob (its bytes as given), wiped when dropped.
struct PassBlob(Zeroizing<Vec<u8>>);

impl ToValue for PassBlob {
    fn to_value(&self) -> sealdb::Value {
        sealdb::Value::Blob(self.0.to_vec())
    }
}

fn unlock(opts: Option<&sealdb_restore_options>) -> FfiResult<BackupKeys> {
    let mut keys = BackupKeys::default();
    let Some(o) = opts else { return Ok(keys) };
    // SAFETY: the caller passes NULL or NUL-terminated strings and
    // backup_key_len readable bytes at backup_key.
    unsafe {
        keys.passphrase = passphrase_arg(o.passphrase);
        let key = bytes_arg(o.backup_key, o.backup_key_len, "options.backup_key")?;
        if !key.is_empty() {
            keys.provider = Some(Arc::new(MemoryKeyProvider::new(KeyBytes::from_slice(key))?));
        } else if !o.backup_key_file.is_null() {
            let file = str_arg(o.backup_key_file, "options.backup_key_file")?;
            keys.provider = Some(Arc::new(FileKeyProvider::new(file)?) as Arc<dyn KeyProvider>);
        }
    }
    Ok(keys)
}

fn restore_with(
    backup_dir: &str,
    target_dir: &str,
    provider: impl KeyProvider + 'static,
    opts: Option<&sealdb_restore_options>,
) -> FfiResult {
    let options = RestoreOptions {
        keys: unlock(opts)?,
        threads: opts.map_or(0, |o| o.threads as usize),
        ..RestoreOptions::default()
    };
    Db::restore(
        Path::new(backup_dir),
        Path::new(target_dir),
        provider,
        &options,
        |_| {},
    )?;
    Ok(SEALDB_OK)
}

/// Restores the backup in `backup_dir` (with its parent chain) into a new
/// store in `target_dir` (new or empty), re-encrypted under the `key_len`
/// (16, 24 or 32) bytes at `key`. The backup is unlocked with `options`
/// (NULL: with `key` itself). Nothing opens at `target_dir` until the
/// restore is complete. A wrong passphrase or key gives
/// `SEALDB_ERR_BACKUP_KEY` naming each key wrap and why it did not open; a
/// tampered or partial backup a corruption code naming the file.
#[no_mangle]
pub unsafe extern "C" fn sealdb_restore(
    backup_dir: *const c_char,
    target_dir: *const c_char,
    key: *const u8,
    key_len: usize,
    options: *const sealdb_restore_options,
) -> i32 {
    call(|| {
        // SAFETY: the caller passes NUL-terminated strings, key_len
        // readable bytes at key and NULL or a valid options struct.
        let (from, to, key, opts) = unsafe {
            (
                str_arg(backup_dir, "backup_dir")?,
                str_arg(target_dir, "target_dir")?,
                bytes_arg(key, key_len, "key")?,
                options.as_ref(),
            )
        };
        if key.is_empty() {
            return Err(Failure::null("key"));
        }
        restore_with(
            from,
            to,
            MemoryKeyProvider::new(KeyBytes::from_slice(key))?,
            opts,
        )
    })
}

/// `sealdb_restore` with the new store's key in `key_file`.
#[no_mangle]
pub unsafe extern "C" fn sealdb_restore_key_file(
    backup_dir: *const c_char,
    target_dir: *const c_char,
    key_file: *const c_char,
    options: *const sealdb_restore_options,
) -> i32 {
    call(|| {
        // SAFETY: the caller passes NUL-terminated strings and NULL or a
        // valid options struct.
        let (from, to, key_file, opts) = unsafe {
            (
                str_arg(backup_dir, "backup_dir")?,
                str_arg(target_dir, "target_dir")?,
                str_arg(key_file, "key_file")?,
                options.as_ref(),
            )
        };
        restore_with(from, to, FileKeyProvider::new(key_file)?, opts)
    })
}
