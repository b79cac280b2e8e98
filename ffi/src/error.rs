//! Result codes and error reporting of the C ABI.
//!
//! Every export returns an `int32_t` result code (a few return a value or
//! `void`; their docs say so). Codes are stable numbers grouped by area;
//! the core's groups come straight from `sealdb::ErrorCode`, and the ABI
//! adds its own group for mistakes only a C caller can make:
//!
//! ```text
//!   0      SEALDB_OK          1  SEALDB_ROW       2  SEALDB_DONE
//!   1xx    I/O                              (sealdb::ErrorCode)
//!   2xx    corruption and authentication    (sealdb::ErrorCode)
//!   3xx    keys and key providers           (sealdb::ErrorCode)
//!   4xx    state of the database            (sealdb::ErrorCode)
//!   5xx    invalid arguments                (sealdb::ErrorCode)
//!   6xx    SQL                              (sealdb::ErrorCode)
//!   7xx    users, authentication, privileges (sealdb::ErrorCode)
//!   9xx    C ABI: NULL argument, misuse, invalid UTF-8, out of range, panic
//! ```
//!
//! A code the core adds later arrives as its own number; callers should
//! treat an unknown code by its hundred.
//!
//! Where the message goes: every failing call records its code and message
//! (1) in a thread-local slot read with `sealdb_errcode()` /
//! `sealdb_errmsg()`, and (2) in the handle it was called on (and, for a
//! statement, in its connection too), read with `sealdb_*_errcode()` /
//! `sealdb_*_errmsg()`. A successful call on a handle clears the handle's
//! slot; the thread-local slot is cleared at the start of every call.

use std::cell::RefCell;
use std::ffi::{c_char, CStr, CString};
use std::sync::atomic::{AtomicBool, Ordering};

use parking_lot::Mutex;

/// Success.
pub const SEALDB_OK: i32 = 0;
/// `sealdb_step` produced a row: read it with the `sealdb_column_*` functions.
pub const SEALDB_ROW: i32 = 1;
/// `sealdb_step` finished: the statement ran to completion.
pub const SEALDB_DONE: i32 = 2;

/// An operating-system I/O call failed (including "disk full").
pub const SEALDB_ERR_IO: i32 = 100;
/// A file does not have the structure sealdb wrote.
pub const SEALDB_ERR_CORRUPTION: i32 = 200;
/// A file ends before a structure it announces.
pub const SEALDB_ERR_TRUNCATED: i32 = 201;
/// A block failed to authenticate (altered, moved, or another key).
pub const SEALDB_ERR_AUTHENTICATION: i32 = 210;
/// The key provider does not have the store key the data needs.
pub const SEALDB_ERR_KEY_UNAVAILABLE: i32 = 300;
/// A file names a data key the key registry does not hold.
pub const SEALDB_ERR_DATA_KEY_UNKNOWN: i32 = 301;
/// Key material is malformed (wrong length, bad encoding).
pub const SEALDB_ERR_INVALID_KEY: i32 = 302;
/// The key provider (for example a key callback) reported a failure.
pub const SEALDB_ERR_KEY_PROVIDER: i32 = 303;
/// A key was supplied but the store is unencrypted.
pub const SEALDB_ERR_PLAINTEXT_STORE: i32 = 304;
/// A node certificate, key, CA bundle or CRL is missing, malformed, not
/// this node's, or not valid now (opening a replicated node).
pub const SEALDB_ERR_CERTIFICATE: i32 = 310;
/// A link to another node failed (unreachable, closed, timed out).
pub const SEALDB_ERR_TRANSPORT: i32 = 110;
/// Another node broke the wire protocol; the connection was closed.
pub const SEALDB_ERR_PROTOCOL: i32 = 220;
/// A peer's certificate was refused, or the peer refused ours.
pub const SEALDB_ERR_PEER_REFUSED: i32 = 720;
/// No key wrap of a backup opened with the passphrase or keys given (the
/// message names every wrap and why).
pub const SEALDB_ERR_BACKUP_KEY: i32 = 305;
/// The database refuses writes after an unrecoverable failure; reopen it.
pub const SEALDB_ERR_POISONED: i32 = 400;
/// The store is already open elsewhere.
pub const SEALDB_ERR_LOCKED: i32 = 401;
/// The directory is not a sealdb store.
pub const SEALDB_ERR_NOT_A_STORE: i32 = 402;
/// Another transaction is writing; retry later.
pub const SEALDB_ERR_BUSY: i32 = 403;
/// Serialization conflict; retry the transaction.
pub const SEALDB_ERR_CONFLICT: i32 = 404;
/// A replicated node is not the leader; the message names the leader.
pub const SEALDB_ERR_NOT_LEADER: i32 = 420;
/// A replicated database has no quorum or leader now; retry later.
pub const SEALDB_ERR_UNAVAILABLE: i32 = 421;
/// A replicated commit's outcome is unknown; check before retrying.
pub const SEALDB_ERR_COMMIT_UNKNOWN: i32 = 422;
/// A bounded-staleness read could not be served by this node.
pub const SEALDB_ERR_STALE: i32 = 423;
/// The store is open read-only; writes are refused.
pub const SEALDB_ERR_READ_ONLY: i32 = 405;
/// A backup, checkpoint or restore that did not finish: not to be used.
pub const SEALDB_ERR_INCOMPLETE: i32 = 406;
/// An argument that can never work (for example a bad key size).
pub const SEALDB_ERR_INVALID_ARGUMENT: i32 = 500;
/// SQL syntax error.
pub const SEALDB_ERR_SQL_SYNTAX: i32 = 600;
/// Unknown or ambiguous table, column or function, or a name already taken.
pub const SEALDB_ERR_SQL_UNKNOWN_OBJECT: i32 = 601;
/// A constraint (NOT NULL, UNIQUE, CHECK, FOREIGN KEY) failed, or a
/// trigger's RAISE(ABORT | FAIL | ROLLBACK, msg) ended the statement.
pub const SEALDB_ERR_SQL_CONSTRAINT: i32 = 602;
/// A type mismatch or integer overflow.
pub const SEALDB_ERR_SQL_VALUE: i32 = 603;
/// A statement used wrongly, or an unsupported feature.
pub const SEALDB_ERR_SQL_MISUSE: i32 = 604;
/// The statement nests too deeply or has too many terms (deeper than 1000
/// operators, a chain of more than 100 views, ...); nothing ran.
pub const SEALDB_ERR_SQL_TOO_COMPLEX: i32 = 605;
/// The connection's user lacks a privilege the statement needs; nothing
/// was changed.
pub const SEALDB_ERR_PERMISSION_DENIED: i32 = 700;
/// A login failed (unknown user, wrong password or token, no LOGIN, or no
/// host rule allowing it; unknown users and wrong passwords look alike).
pub const SEALDB_ERR_AUTHENTICATION_FAILED: i32 = 701;
/// Too many failed logins for this user from this address; wait and retry.
pub const SEALDB_ERR_LOGIN_THROTTLED: i32 = 702;

/// A required pointer argument was NULL.
pub const SEALDB_ERR_NULL_ARGUMENT: i32 = 900;
/// A handle that is not live (already freed, never returned by sealdb, or of
/// another kind), or a call out of order (binding while a statement is
/// mid-result, reading a column with no current row).
pub const SEALDB_ERR_MISUSE: i32 = 901;
/// A string argument is not valid UTF-8.
pub const SEALDB_ERR_INVALID_UTF8: i32 = 902;
/// An index (parameter or column) or length is out of range.
pub const SEALDB_ERR_RANGE: i32 = 903;
/// sealdb panicked inside this call (a bug). The handle the call was made
/// on refuses further use; free it.
pub const SEALDB_ERR_PANIC: i32 = 904;

/// A failed call: its code and a message for a person.
#[derive(Debug)]
pub(crate) struct Failure {
    pub(crate) code: i32,
    pub(crate) message: String,
}

impl Failure {
    pub(crate) fn new(code: i32, message: impl Into<String>) -> Failure {
        Failure {
            code,
            message: message.into(),
        }
    }

    pub(crate) fn null(what: &str) -> Failure {
        Failure::new(SEALDB_ERR_NULL_ARGUMENT, format!("{what} is NULL"))
    }

    pub(crate) fn misuse(message: impl Into<String>) -> Failure {
        Failure::new(SEALDB_ERR_MISUSE, message)
    }

    pub(crate) fn range(message: impl Into<String>) -> Failure {
        Failure::new(SEALDB_ERR_RANGE, message)
    }
}

impl From<sealdb::Error> for Failure {
    fn from(e: sealdb::Error) -> Failure {
        Failure {
            code: e.code() as i32,
            message: e.to_string(),
        }
    }
}

/// Result of the body of an export.
pub(crate) type FfiResult<T = i32> = Result<T, Failure>;

/// A message as a C string (interior NULs, which no message should have,
/// become '?').
pub(crate) fn c_message(message: &str) -> CString {
    CString::new(message.replace('\0', "?")).unwrap_or_default()
}

/// The last error of one handle.
#[derive(Default)]
pub(crate) struct ErrorSlot {
    last: Mutex<Option<(i32, String)>>,
    /// Whether `last` may hold an error: lets the common case, a success
    /// after a success, skip the lock (it is taken on every call).
    set: AtomicBool,
}

impl ErrorSlot {
    pub(crate) fn set(&self, failure: &Failure) {
        let mut last = self.last.lock();
        *last = Some((failure.code, failure.message.clone()));
        self.set.store(true, Ordering::Release);
    }

    pub(crate) fn clear(&self) {
        if !self.set.load(Ordering::Acquire) {
            return;
        }
        let mut last = self.last.lock();
        *last = None;
        self.set.store(false, Ordering::Release);
    }

    /// Records the outcome of a call.
    pub(crate) fn record<T>(&self, result: &FfiResult<T>) {
        match result {
            Ok(_) => self.clear(),
            Err(f) => self.set(f),
        }
    }

    pub(crate) fn code(&self) -> i32 {
        self.last.lock().as_ref().map_or(SEALDB_OK, |(c, _)| *c)
    }

    /// A new C string with the message, or NULL when the last call was fine.
    pub(crate) fn message(&self) -> *mut c_char {
        match &*self.last.lock() {
            Some((_, m)) => c_message(m).into_raw(),
            None => std::ptr::null_mut(),
        }
    }
}

thread_local! {
    static LAST: RefCell<(i32, Option<CString>)> = const { RefCell::new((SEALDB_OK, None)) };
}

pub(crate) fn clear_thread_error() {
    LAST.with(|l| {
        if let Ok(mut l) = l.try_borrow_mut() {
            if l.0 != SEALDB_OK {
                *l = (SEALDB_OK, None);
            }
        }
    });
}

pub(crate) fn set_thread_error(failure: &Failure) {
    LAST.with(|l| {
        if let Ok(mut l) = l.try_borrow_mut() {
            *l = (failure.code, Some(c_message(&failure.message)));
        }
    });
}

/// The result code of the last sealdb call made on this thread
/// (`SEALDB_OK` when it succeeded). Never fails.
#[no_mangle]
pub extern "C" fn sealdb_errcode() -> i32 {
    crate::guard::quiet(SEALDB_ERR_PANIC, || {
        LAST.with(|l| l.try_borrow().map_or(SEALDB_OK, |l| l.0))
    })
}

/// The message of the last failed sealdb call made on this thread, or NULL
/// when the last call succeeded.
///
/// Borrowed: the string belongs to sealdb and stays valid until the next
/// sealdb call on this thread. Copy it to keep it. Never fails.
#[no_mangle]
pub extern "C" fn sealdb_errmsg() -> *const c_char {
    crate::guard::quiet(std::ptr::null(), || {
        LAST.with(|l| {
            l.try_borrow()
                .ok()
                .and_then(|l| l.1.as_ref().map(|m| m.as_ptr()))
                .unwrap_or(std::ptr::null())
        })
    })
}

/// A short, static description of a result code ("SQL syntax error",
/// "NULL argument", ...), also for codes this header does not list.
///
/// Borrowed: static storage, valid for the life of the process.
#[no_mangle]
pub extern "C" fn sealdb_code_description(code: i32) -> *const c_char {
    crate::guard::quiet(std::ptr::null(), || describe(code).as_ptr())
}

fn describe(code: i32) -> &'static CStr {
    let s: &'static CStr = match code {
        SEALDB_OK => c"ok",
        SEALDB_ROW => c"a row is ready",
        SEALDB_DONE => c"done",
        SEALDB_ERR_IO => c"I/O error",
        SEALDB_ERR_CORRUPTION => c"corruption",
        SEALDB_ERR_TRUNCATED => c"truncated file",
        SEALDB_ERR_AUTHENTICATION => c"data failed to authenticate",
        SEALDB_ERR_KEY_UNAVAILABLE => c"store key unavailable",
        SEALDB_ERR_DATA_KEY_UNKNOWN => c"data key unknown",
        SEALDB_ERR_INVALID_KEY => c"invalid key",
        SEALDB_ERR_KEY_PROVIDER => c"key provider failed",
        SEALDB_ERR_PLAINTEXT_STORE => c"store is unencrypted",
        SEALDB_ERR_CERTIFICATE => c"certificate error",
        SEALDB_ERR_TRANSPORT => c"link to another node failed",
        SEALDB_ERR_PROTOCOL => c"another node broke the wire protocol",
        SEALDB_ERR_PEER_REFUSED => c"peer certificate refused",
        SEALDB_ERR_BACKUP_KEY => c"no key wrap of the backup opened",
        SEALDB_ERR_INCOMPLETE => c"an unfinished backup, checkpoint or restore",
        SEALDB_ERR_POISONED => c"database poisoned; reopen it",
        SEALDB_ERR_LOCKED => c"store is open elsewhere",
        SEALDB_ERR_NOT_A_STORE => c"not a sealdb store",
        SEALDB_ERR_BUSY => c"database is busy",
        SEALDB_ERR_CONFLICT => c"transaction conflict",
        SEALDB_ERR_NOT_LEADER => c"not the leader",
        SEALDB_ERR_UNAVAILABLE => c"cluster unavailable",
        SEALDB_ERR_COMMIT_UNKNOWN => c"commit outcome unknown",
        SEALDB_ERR_STALE => c"data too stale",
        SEALDB_ERR_READ_ONLY => c"store is open read-only",
        SEALDB_ERR_INVALID_ARGUMENT => c"invalid argument",
        SEALDB_ERR_SQL_SYNTAX => c"SQL syntax error",
        SEALDB_ERR_SQL_UNKNOWN_OBJECT => c"unknown or duplicate SQL object",
        SEALDB_ERR_SQL_CONSTRAINT => c"constraint failed",
        SEALDB_ERR_SQL_VALUE => c"type mismatch or overflow",
        SEALDB_ERR_SQL_MISUSE => c"SQL misuse or unsupported",
        SEALDB_ERR_SQL_TOO_COMPLEX => c"statement too complex",
        SEALDB_ERR_PERMISSION_DENIED => c"permission denied",
        SEALDB_ERR_AUTHENTICATION_FAILED => c"authentication failed",
        SEALDB_ERR_LOGIN_THROTTLED => c"too many failed logins; retry later",
        SEALDB_ERR_NULL_ARGUMENT => c"NULL argument",
        SEALDB_ERR_MISUSE => c"misuse of the C API (stale handle or call out of order)",
        SEALDB_ERR_INVALID_UTF8 => c"invalid UTF-8",
        SEALDB_ERR_RANGE => c"index or length out of range",
        SEALDB_ERR_PANIC => c"internal panic",
        _ => describe_group(code),
    };
    s
}

fn describe_group(code: i32) -> &'static CStr {
    match code / 100 {
        1 => c"I/O error",
        2 => c"corruption or authentication failure",
        3 => c"key error",
        4 => c"database state error",
        5 => c"invalid argument",
        6 => c"SQL error",
        7 => c"access error",
        9 => c"misuse of the C API",
        _ => c"unknown result code",
    }
}

/// Frees a string that sealdb returned as owned (`char *`, for example from
/// `sealdb_conn_errmsg`). NULL is a no-op. Never pass a borrowed
/// (`const char *`) string.
#[no_mangle]
pub unsafe extern "C" fn sealdb_string_free(s: *mut c_char) {
    if s.is_null() {
        return;
    }
    crate::guard::call(|| {
        // SAFETY: the caller passes a string sealdb made with
        // CString::into_raw (every owned `char *` sealdb returns), exactly once.
        drop(unsafe { CString::from_raw(s) });
        Ok(SEALDB_OK)
    });
}

/// The version of sealdb, for example "0.1.0".
///
/// Borrowed: static storage, valid for the life of the process.
#[no_mangle]
pub extern "C" fn sealdb_version() -> *const c_char {
    static VERSION: &str = concat!(env!("CARGO_PKG_VERSION"), "\0");
    crate::guard::quiet(std::ptr::null(), || VERSION.as_ptr().cast())
}

#[cfg(test)]
mod tests {
    use super::*;
    use sealdb::ErrorCode;

    #[test]
    fn core_codes_match_the_header_constants() {
        let pairs = [
            (ErrorCode::Io, SEALDB_ERR_IO),
            (ErrorCode::Corruption, SEALDB_ERR_CORRUPTION),
            (ErrorCode::Truncated, SEALDB_ERR_TRUNCATED),
            (ErrorCode::Authentication, SEALDB_ERR_AUTHENTICATION),
            (ErrorCode::KeyUnavailable, SEALDB_ERR_KEY_UNAVAILABLE),
            (ErrorCode::DataKeyUnknown, SEALDB_ERR_DATA_KEY_UNKNOWN),
            (ErrorCode::InvalidKey, SEALDB_ERR_INVALID_KEY),
            (ErrorCode::KeyProvider, SEALDB_ERR_KEY_PROVIDER),
            (ErrorCode::PlaintextStore, SEALDB_ERR_PLAINTEXT_STORE),
            (ErrorCode::Certificate, SEALDB_ERR_CERTIFICATE),
            (ErrorCode::Transport, SEALDB_ERR_TRANSPORT),
            (ErrorCode::Protocol, SEALDB_ERR_PROTOCOL),
            (ErrorCode::PeerRefused, SEALDB_ERR_PEER_REFUSED),
            (ErrorCode::BackupKey, SEALDB_ERR_BACKUP_KEY),
            (ErrorCode::Incomplete, SEALDB_ERR_INCOMPLETE),
            (ErrorCode::Poisoned, SEALDB_ERR_POISONED),
            (ErrorCode::Locked, SEALDB_ERR_LOCKED),
            (ErrorCode::NotAStore, SEALDB_ERR_NOT_A_STORE),
            (ErrorCode::Busy, SEALDB_ERR_BUSY),
            (ErrorCode::Conflict, SEALDB_ERR_CONFLICT),
            (ErrorCode::NotLeader, SEALDB_ERR_NOT_LEADER),
            (ErrorCode::Unavailable, SEALDB_ERR_UNAVAILABLE),
            (ErrorCode::CommitUnknown, SEALDB_ERR_COMMIT_UNKNOWN),
            (ErrorCode::Stale, SEALDB_ERR_STALE),
            (ErrorCode::ReadOnly, SEALDB_ERR_READ_ONLY),
            (ErrorCode::InvalidArgument, SEALDB_ERR_INVALID_ARGUMENT),
            (ErrorCode::SqlSyntax, SEALDB_ERR_SQL_SYNTAX),
            (ErrorCode::SqlUnknownObject, SEALDB_ERR_SQL_UNKNOWN_OBJECT),
            (ErrorCode::SqlConstraint, SEALDB_ERR_SQL_CONSTRAINT),
            (ErrorCode::SqlValue, SEALDB_ERR_SQL_VALUE),
            (ErrorCode::SqlMisuse, SEALDB_ERR_SQL_MISUSE),
            (ErrorCode::SqlTooComplex, SEALDB_ERR_SQL_TOO_COMPLEX),
            (ErrorCode::PermissionDenied, SEALDB_ERR_PERMISSION_DENIED),
            (
                ErrorCode::AuthenticationFailed,
                SEALDB_ERR_AUTHENTICATION_FAILED,
            ),
            (ErrorCode::LoginThrottled, SEALDB_ERR_LOGIN_THROTTLED),
        ];
        for (core, abi) in pairs {
            assert_eq!(core as i32, abi, "{core:?}");
        }
    }

    #[test]
    fn every_code_has_a_description() {
        for code in [0, 1, 2, 100, 210, 304, 404, 604, 900, 904, 750, 12345] {
            // SAFETY: sealdb_code_description returns a static C string.
            let s = unsafe { CStr::from_ptr(sealdb_code_description(code)) };
            assert!(!s.to_bytes().is_empty());
        }
    }
}
