//! Opening a database: `sealdb_db_open_*`, key files, key callbacks.
//!
//! A `sealdb_db` is one open store. It is `Send` and `Sync`: any thread
//! may open connections on it at the same time. Freeing it does not close
//! connections already made; the store closes (and its lock file is
//! released) when the database handle and every connection made from it
//! are freed.
//!
//! Opening a store that this process already has open (same directory,
//! same store key) shares it, the way SQLite lets a process open one file
//! twice: the second handle proves it holds the key, so it gets nothing
//! the first did not have. A different key gets `SEALDB_ERR_LOCKED`.

use std::ffi::{c_char, c_void, CStr, CString};
use std::path::PathBuf;
use std::sync::{Arc, Mutex, Weak};

use sealdb::crypto::provider::generate_key_file;
use sealdb::{
    ActiveStoreKey, CallbackKeyProvider, Db, FileKeyProvider, KdfParams, KeyBytes, KeyId,
    KeyProvider, KeyRequest, MemoryKeyProvider, PassphraseKeyProvider,
};
use zeroize::Zeroize;

use crate::error::{
    ErrorSlot, Failure, FfiResult, SEALDB_ERR_INVALID_UTF8, SEALDB_ERR_PANIC, SEALDB_OK,
};
use crate::guard::call;
use crate::handle::Registry;

/// An open database (opaque). Made by `sealdb_db_open_*`, freed by
/// `sealdb_db_free`.
#[allow(non_camel_case_types)]
pub struct sealdb_db {
    _private: [u8; 0],
}

pub(crate) struct DbInner {
    pub(crate) db: Db,
    pub(crate) err: ErrorSlot,
}

pub(crate) static DBS: Registry<sealdb_db, DbInner> = Registry::new("database");

/// The callback answered with a key.
pub const SEALDB_KEY_FOUND: i32 = 0;
/// The callback does not have the key asked for.
pub const SEALDB_KEY_NOT_FOUND: i32 = 1;
/// The most key bytes a key callback may write (AES-256).
pub const SEALDB_MAX_KEY_LEN: usize = 32;

/// A key provider written in C.
///
/// sealdb calls it with `key_id` NULL to ask for the active store key, or
/// with the hex id of an older key (for data written before a rotation).
/// The callback writes the key's 16, 24 or 32 bytes to `key_out` (room for
/// `SEALDB_MAX_KEY_LEN`), stores their number in `*key_len`, and returns
/// `SEALDB_KEY_FOUND`; it returns `SEALDB_KEY_NOT_FOUND` when it does not
/// have the key, and any other value to report a failure
/// (`SEALDB_ERR_KEY_PROVIDER`). sealdb wipes `key_out` after copying it.
///
/// It may be called from any thread, during `sealdb_db_open_key_callback`
/// and later while the store is open; `user_data` must stay valid, and the
/// callback callable, until the database and all its connections are freed.
#[allow(non_camel_case_types)]
pub type sealdb_key_callback = Option<
    unsafe extern "C" fn(
        user_data: *mut c_void,
        key_id: *const c_char,
        key_out: *mut u8,
        key_len: *mut usize,
    ) -> i32,
>;

/// A borrowed NUL-terminated UTF-8 argument.
///
/// # Safety
/// `p` is NULL or points to a NUL-terminated string that stays valid for `'a`.
pub(crate) unsafe fn str_arg<'a>(p: *const c_char, what: &str) -> FfiResult<&'a str> {
    if p.is_null() {
        return Err(Failure::null(what));
    }
    // SAFETY: p is not NULL and, by this function's contract, NUL-terminated
    // and valid for 'a.
    let s = unsafe { CStr::from_ptr(p) };
    s.to_str().map_err(|e| {
        Failure::new(
            SEALDB_ERR_INVALID_UTF8,
            format!(
                "{what} is not valid UTF-8 (invalid byte at offset {})",
                e.valid_up_to()
            ),
        )
    })
}

/// A borrowed byte-string argument: `len` bytes at `p` (`p` may be NULL when
/// `len` is 0).
///
/// # Safety
/// When `len > 0`, `p` points to `len` readable bytes valid for `'a`.
pub(crate) unsafe fn bytes_arg<'a>(p: *const u8, len: usize, what: &str) -> FfiResult<&'a [u8]> {
    if len == 0 {
        return Ok(&[]);
    }
    if p.is_null() {
        return Err(Failure::null(what));
    }
    // SAFETY: p is not NULL and, by this function's contract, points to len
    // readable bytes valid for 'a.
    Ok(unsafe { std::slice::from_raw_parts(p, len) })
}

/// Stores open in this process: directory, store key id, handles.
type OpenStores = Vec<(PathBuf, KeyId, Weak<DbInner>)>;
static OPEN: Mutex<OpenStores> = Mutex::new(Vec::new());

/// Opens `path` with `provider`, or shares the store this process already
/// has open there when `provider`'s active key is that store's key.
fn open_store(path: &str, provider: impl KeyProvider + 'static) -> sealdb::Result<(Db, KeyId)> {
    let mut open = OPEN.lock().unwrap_or_else(|e| e.into_inner());
    open.retain(|(_, _, w)| w.strong_count() > 0);
    if let Ok(canon) = std::fs::canonicalize(path) {
        let existing = open
            .iter()
            .filter(|(p, _, _)| *p == canon)
            .find_map(|(_, id, w)| w.upgrade().map(|d| (*id, d)));
        if let Some((id, inner)) = existing {
            // A passphrase provider needs the store's salt before it has a key.
            let stored =
                sealdb::vfs::key_derivation_file::read(&sealdb::vfs::OsVfs::new(), &canon)?;
            provider.key_derivation(stored.as_ref())?;
            return match provider.active_key()? {
                ActiveStoreKey::Key(k) if k.id() == id => Ok((inner.db.clone(), id)),
                _ => Err(sealdb::Error::Locked {
                    path: canon.join("LOCK"),
                }),
            };
        }
    }
    let db = Db::open(path, provider)?;
    let id = db.engine().sealed_dir().store_key_id();
    Ok((db, id))
}

/// Opens through [`open_store`] and records the new handle as open.
fn open_shared(
    out: *mut *mut sealdb_db,
    path: &str,
    provider: impl KeyProvider + 'static,
) -> FfiResult {
    let (db, id) = open_store(path, provider)?;
    let inner = Arc::new(DbInner {
        db,
        err: ErrorSlot::default(),
    });
    if let Ok(canon) = std::fs::canonicalize(path) {
        let mut open = OPEN.lock().unwrap_or_else(|e| e.into_inner());
        open.push((canon, id, Arc::downgrade(&inner)));
    }
    let handle = DBS.insert(inner);
    // SAFETY: out was checked non-NULL by the caller and points to a
    // writable `sealdb_db *` (the export's contract).
    unsafe { out.write(handle) };
    Ok(SEALDB_OK)
}

/// Stores a new handle in `*out` (after the caller checked `out`).
fn open_into(out: *mut *mut sealdb_db, open: impl FnOnce() -> sealdb::Result<Db>) -> FfiResult {
    let db = open()?;
    let handle = DBS.insert(std::sync::Arc::new(DbInner {
        db,
        err: ErrorSlot::default(),
    }));
    // SAFETY: out was checked non-NULL by the caller and points to a
    // writable `sealdb_db *` (the export's contract).
    unsafe { out.write(handle) };
    Ok(SEALDB_OK)
}

/// Checks `out` and sets `*out` to NULL, so it is NULL on every failure.
pub(crate) fn reset_out<T>(out: *mut *mut T) -> FfiResult<()> {
    if out.is_null() {
        return Err(Failure::null("out"));
    }
    // SAFETY: out is not NULL and points to a writable pointer (the
    // export's contract).
    unsafe { out.write(std::ptr::null_mut()) };
    Ok(())
}

/// Opens (or creates) the store in directory `path`, encrypted with the key
/// in `key_file` (32, 48 or 64 hex digits, as `sealdb_key_file_generate`
/// writes; anything else, such as raw bytes or a passphrase, gives
/// `SEALDB_ERR_INVALID_KEY`).
///
/// On success `*out` is a new database handle, owned by the caller: free it
/// with `sealdb_db_free`. On failure `*out` is NULL and the error is in
/// `sealdb_errcode()` / `sealdb_errmsg()` (for example
/// `SEALDB_ERR_KEY_UNAVAILABLE` for a wrong key, `SEALDB_ERR_LOCKED` when
/// the store is open in another process, or in this one under another
/// key). Opening a store this process already has open with the same key
/// shares it. `path` and `key_file` are borrowed for the
/// call only.
#[no_mangle]
pub unsafe extern "C" fn sealdb_db_open_key_file(
    path: *const c_char,
    key_file: *const c_char,
    out: *mut *mut sealdb_db,
) -> i32 {
    call(|| {
        reset_out(out)?;
        // SAFETY: the caller passes NUL-terminated strings (or NULL).
        let (path, key_file) = unsafe { (str_arg(path, "path")?, str_arg(key_file, "key_file")?) };
        open_shared(out, path, FileKeyProvider::new(key_file)?)
    })
}

/// Opens (or creates) the store in directory `path`, encrypted with the
/// `key_len` (16, 24 or 32) bytes at `key`. sealdb keeps its own copy (in
/// memory that is wiped when freed); the caller may wipe `key` right after
/// the call. Ownership and errors as for `sealdb_db_open_key_file`.
#[no_mangle]
pub unsafe extern "C" fn sealdb_db_open_key(
    path: *const c_char,
    key: *const u8,
    key_len: usize,
    out: *mut *mut sealdb_db,
) -> i32 {
    call(|| {
        reset_out(out)?;
        // SAFETY: the caller passes a NUL-terminated path and key_len
        // readable bytes at key.
        let (path, key) = unsafe { (str_arg(path, "path")?, bytes_arg(key, key_len, "key")?) };
        if key.is_empty() {
            return Err(Failure::null("key"));
        }
        open_shared(
            out,
            path,
            MemoryKeyProvider::new(KeyBytes::from_slice(key))?,
        )
    })
}

/// Opens (or creates) the store in directory `path`, with its store key
/// derived from the `passphrase_len` bytes at `passphrase` (argon2id, with
/// a salt kept in the store's `KEYDERIVATION` file). `memory_kib` and
/// `iterations` are the derivation's cost for a new store and the least
/// accepted from an existing one; 0 picks the default (65536 KiB, 3
/// passes). sealdb keeps its own copy of the passphrase (wiped when
/// freed). A wrong passphrase gives `SEALDB_ERR_KEY_UNAVAILABLE`; an
/// existing store whose cost is below the one asked for gives
/// `SEALDB_ERR_INVALID_KEY`. Ownership and other errors as for
/// `sealdb_db_open_key_file`.
#[no_mangle]
pub unsafe extern "C" fn sealdb_db_open_passphrase(
    path: *const c_char,
    passphrase: *const u8,
    passphrase_len: usize,
    memory_kib: u32,
    iterations: u32,
    out: *mut *mut sealdb_db,
) -> i32 {
    call(|| {
        reset_out(out)?;
        // SAFETY: the caller passes a NUL-terminated path and
        // passphrase_len readable bytes at passphrase.
        let (path, passphrase) = unsafe {
            (
                str_arg(path, "path")?,
                bytes_arg(passphrase, passphrase_len, "passphrase")?,
            )
        };
        let default = KdfParams::default();
        let params = KdfParams {
            memory_kib: if memory_kib == 0 {
                default.memory_kib
            } else {
                memory_kib
            },
            iterations: if iterations == 0 {
                default.iterations
            } else {
                iterations
            },
            ..default
        };
        let provider = PassphraseKeyProvider::new(passphrase)?.with_params(params);
        open_shared(out, path, provider)
    })
}

struct CallbackTarget {
    callback: unsafe extern "C" fn(*mut c_void, *const c_char, *mut u8, *mut usize) -> i32,
    user_data: *mut c_void,
}

// SAFETY: the header's contract for sealdb_key_callback: the callback may be
// called from any thread and user_data stays valid while the store is open.
// sealdb never dereferences user_data itself.
unsafe impl Send for CallbackTarget {}
// SAFETY: as for Send; concurrent calls are part of the same contract.
unsafe impl Sync for CallbackTarget {}

impl CallbackTarget {
    fn ask(&self, req: KeyRequest<'_>) -> Result<Option<KeyBytes>, String> {
        let id = match req {
            KeyRequest::Active => None,
            KeyRequest::ById(id) => {
                Some(CString::new(id.to_string()).map_err(|_| "bad key id".to_string())?)
            }
        };
        let id_ptr = id.as_ref().map_or(std::ptr::null(), |s| s.as_ptr());
        let mut buf = [0u8; SEALDB_MAX_KEY_LEN];
        let mut len = 0usize;
        // SAFETY: callback is a C function with the documented signature;
        // id_ptr is NULL or a NUL-terminated string, buf has room for
        // SEALDB_MAX_KEY_LEN bytes and len is a valid usize, all alive for
        // the duration of the call.
        let rc = unsafe { (self.callback)(self.user_data, id_ptr, buf.as_mut_ptr(), &mut len) };
        let result = match rc {
            SEALDB_KEY_FOUND if len == 0 || len > SEALDB_MAX_KEY_LEN => Err(format!(
                "the key callback returned a key of {len} bytes (must be 16, 24 or 32)"
            )),
            SEALDB_KEY_FOUND => Ok(Some(KeyBytes::from_slice(&buf[..len]))),
            SEALDB_KEY_NOT_FOUND => Ok(None),
            other => Err(format!("the key callback failed with code {other}")),
        };
        buf.zeroize();
        result
    }
}

/// Opens (or creates) the store in directory `path`, with store keys from
/// `callback` (see `sealdb_key_callback` for its contract and how long
/// `user_data` must live). Ownership and errors as for
/// `sealdb_db_open_key_file`; a failing callback gives
/// `SEALDB_ERR_KEY_PROVIDER`.
#[no_mangle]
pub unsafe extern "C" fn sealdb_db_open_key_callback(
    path: *const c_char,
    callback: sealdb_key_callback,
    user_data: *mut c_void,
    out: *mut *mut sealdb_db,
) -> i32 {
    call(|| {
        reset_out(out)?;
        // SAFETY: the caller passes a NUL-terminated path.
        let path = unsafe { str_arg(path, "path")? };
        let callback = callback.ok_or_else(|| Failure::null("callback"))?;
        let target = CallbackTarget {
            callback,
            user_data,
        };
        let provider = CallbackKeyProvider::new(move |req| target.ask(req));
        open_shared(out, path, provider)
    })
}

/// Opens the replicated node described by the configuration file
/// `config_path` (TOML: node id, data directory, key file, listen address,
/// certificates, initial members; see docs/replication.md) and joins its
/// cluster over QUIC with mutual TLS. The node serves its peers until the
/// handle and every connection made from it are freed; a leader then hands
/// leadership to its most up-to-date voter.
///
/// Ownership as for `sealdb_db_open_key_file`. Errors:
/// `SEALDB_ERR_INVALID_ARGUMENT` for a bad configuration (the message
/// names the setting),
/// `SEALDB_ERR_CERTIFICATE` when the certificate is not this node's or
/// does not load, `SEALDB_ERR_IO`, `SEALDB_ERR_KEY_UNAVAILABLE`, ...
#[no_mangle]
pub unsafe extern "C" fn sealdb_db_open_node(
    config_path: *const c_char,
    out: *mut *mut sealdb_db,
) -> i32 {
    call(|| {
        reset_out(out)?;
        // SAFETY: the caller passes a NUL-terminated path.
        let config_path = unsafe { str_arg(config_path, "config_path")? };
        open_into(out, || Db::open_node(config_path))
    })
}

/// Opens a new store that lives in memory only (encrypted with a random
/// key), gone when the handle and its connections are freed. Ownership as
/// for `sealdb_db_open_key_file`.
#[no_mangle]
pub unsafe extern "C" fn sealdb_db_open_in_memory(out: *mut *mut sealdb_db) -> i32 {
    call(|| {
        reset_out(out)?;
        open_into(out, Db::open_in_memory)
    })
}

/// Writes a new random key of `bits` (128, 192 or 256) to `path` as hex,
/// readable only by its owner. Fails with `SEALDB_ERR_IO` if the file
/// exists (it never overwrites a key).
#[no_mangle]
pub unsafe extern "C" fn sealdb_key_file_generate(path: *const c_char, bits: u32) -> i32 {
    call(|| {
        // SAFETY: the caller passes a NUL-terminated path.
        let path = unsafe { str_arg(path, "path")? };
        generate_key_file(path, bits)?;
        Ok(SEALDB_OK)
    })
}

/// Frees a database handle. Connections made from it stay usable; the
/// store closes when they are freed too. NULL is a no-op (`SEALDB_OK`); a
/// handle that is not live gives `SEALDB_ERR_MISUSE`.
#[no_mangle]
pub extern "C" fn sealdb_db_free(db: *mut sealdb_db) -> i32 {
    call(|| {
        if db.is_null() {
            return Ok(SEALDB_OK);
        }
        match DBS.remove(db) {
            Some(inner) => {
                drop(inner);
                Ok(SEALDB_OK)
            }
            None => Err(Failure::misuse(format!(
                "{db:p} is not a live database handle (freed twice?)"
            ))),
        }
    })
}

/// The result code of the last call made on `db` (`SEALDB_OK` if it
/// succeeded; `SEALDB_ERR_NULL_ARGUMENT` / `SEALDB_ERR_MISUSE` for a NULL or
/// dead handle).
#[no_mangle]
pub extern "C" fn sealdb_db_errcode(db: *const sealdb_db) -> i32 {
    crate::guard::quiet(SEALDB_ERR_PANIC, || match DBS.get(db) {
        Ok(inner) => inner.err.code(),
        Err(f) => f.code,
    })
}

/// The message of the last failed call made on `db`, or NULL if it
/// succeeded (or `db` is not live). Owned: free it with
/// `sealdb_string_free`.
#[no_mangle]
pub extern "C" fn sealdb_db_errmsg(db: *const sealdb_db) -> *mut c_char {
    crate::guard::quiet(std::ptr::null_mut(), || {
        DBS.get(db)
            .map_or(std::ptr::null_mut(), |inner| inner.err.message())
    })
}
