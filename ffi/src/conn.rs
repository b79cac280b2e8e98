//! Connections: `sealdb_connect_*`, `sealdb_exec`, transactions.
//!
//! A `sealdb_conn` wraps one `sealdb::Session`. A session is not `Sync`
//! (it holds the open transaction and the statement cache in a
//! `RefCell`), so every access to it — from this handle or from any
//! statement prepared on it — happens while holding the connection's mutex:
//!
//! ```text
//!   sealdb_exec(conn)  ─┐
//!   sealdb_step(stmt1) ─┼─▶ conn.lock ─▶ Session (one caller at a time)
//!   sealdb_step(stmt2) ─┘
//! ```
//!
//! So a connection and its statements may be used from several threads;
//! calls are serialized, not run in parallel. For parallelism, open one
//! connection per thread. A transaction belongs to the connection: every
//! statement on it, from whichever thread, runs inside it.

use std::ffi::c_char;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use parking_lot::Mutex;
use sealdb::{ClientInfo, Credentials, Session};

use crate::db::{reset_out, sealdb_db, str_arg, DBS};
use crate::error::{
    ErrorSlot, Failure, FfiResult, SEALDB_ERR_INVALID_ARGUMENT, SEALDB_ERR_PANIC, SEALDB_OK,
};
use crate::guard::{call, panic_failure, quiet};
use crate::handle::Registry;

/// A connection (opaque): a session on a database. Made by
/// `sealdb_connect_*`, freed by `sealdb_conn_free`.
#[allow(non_camel_case_types)]
pub struct sealdb_conn {
    _private: [u8; 0],
}

pub(crate) struct ConnInner {
    /// Held for every access to `session` (see the module docs).
    lock: Mutex<()>,
    session: Session,
    pub(crate) err: ErrorSlot,
    /// Set when a call panicked while holding the session.
    broken: AtomicBool,
    /// The database handle it came from, kept alive so that opening the
    /// same store again in this process finds and shares it (db.rs).
    _db: Arc<crate::db::DbInner>,
}

// SAFETY: `Session` is not `Sync` because of its `RefCell`s. Every access
// to `session` — through `ConnInner::run`, and by the statements that
// borrow it (stmt.rs), which also call `run` — holds `lock`, so no two
// threads ever touch the session at the same time. The session holds no
// thread-affine state (no `Rc`, no thread-locals kept between calls), so
// being used from different threads one after another is sound.
unsafe impl Sync for ConnInner {}
// SAFETY: as above: moving the connection (and so dropping the session) to
// another thread is sound because its state is not tied to a thread.
unsafe impl Send for ConnInner {}

pub(crate) static CONNS: Registry<sealdb_conn, ConnInner> = Registry::new("connection");

impl ConnInner {
    fn new(session: Session, db: Arc<crate::db::DbInner>) -> Arc<ConnInner> {
        Arc::new(ConnInner {
            lock: Mutex::new(()),
            session,
            err: ErrorSlot::default(),
            broken: AtomicBool::new(false),
            _db: db,
        })
    }

    /// Runs `f` on the session under the connection's lock, behind a panic
    /// boundary that marks the connection broken if `f` panics. Does not
    /// record the outcome (callers do, on the handle they were called on).
    pub(crate) fn run<T>(&self, f: impl FnOnce(&Session) -> FfiResult<T>) -> FfiResult<T> {
        let _guard = self.lock.lock();
        if self.broken.load(Ordering::Relaxed) {
            return Err(Failure::new(
                SEALDB_ERR_PANIC,
                "this connection is unusable after an internal panic; free it",
            ));
        }
        match catch_unwind(AssertUnwindSafe(|| f(&self.session))) {
            Ok(r) => r,
            Err(payload) => {
                self.broken.store(true, Ordering::Relaxed);
                Err(panic_failure(payload))
            }
        }
    }

    /// The session with its lifetime extended to `'static`, for statements
    /// that borrow it.
    ///
    /// # Safety
    /// The caller must keep an `Arc` of this connection alive for as long
    /// as the returned reference (or anything borrowing it) exists, and
    /// must only use it inside [`ConnInner::run`].
    pub(crate) unsafe fn session_static(self: &Arc<Self>) -> &'static Session {
        // SAFETY: the session lives inside the Arc's allocation, which does
        // not move and is not freed while the caller holds an Arc (this
        // function's contract).
        unsafe { &*(&self.session as *const Session) }
    }
}

/// Looks up `conn`, runs `f` on its session, records the outcome on it.
pub(crate) fn with_conn<T>(
    conn: *const sealdb_conn,
    f: impl FnOnce(&Session) -> FfiResult<T>,
) -> FfiResult<T> {
    let inner = CONNS.get(conn)?;
    let r = inner.run(f);
    inner.err.record(&r);
    r
}

/// Writes `value` to `out` (checked non-NULL).
pub(crate) fn write_out<T>(out: *mut T, value: T) -> FfiResult {
    if out.is_null() {
        return Err(Failure::null("out"));
    }
    // SAFETY: out is not NULL and points to a writable T (the export's
    // contract).
    unsafe { out.write(value) };
    Ok(SEALDB_OK)
}

/// Opens a connection as `root`, the administrator: whoever holds the
/// store key may do everything (create users, grant privileges).
///
/// On success `*out` is a new connection owned by the caller: free it with
/// `sealdb_conn_free`. It stays usable after `sealdb_db_free(db)`.
#[no_mangle]
pub unsafe extern "C" fn sealdb_connect_root(
    db: *const sealdb_db,
    out: *mut *mut sealdb_conn,
) -> i32 {
    call(|| {
        reset_out(out)?;
        let db = DBS.get(db)?;
        let session = db.db.root_session();
        write_out(out, CONNS.insert(ConnInner::new(session, db)))
    })
}

/// Which proof a user login carries.
enum Proof {
    Password,
    Token,
}

/// Logs in as a user and stores the new connection in `*out`.
///
/// # Safety
/// The string arguments are NULL or NUL-terminated and valid for the call;
/// `out` is NULL or writable.
unsafe fn connect_user(
    db: *const sealdb_db,
    user: *const c_char,
    secret: *const c_char,
    proof: Proof,
    client_address: *const c_char,
    application_name: *const c_char,
    out: *mut *mut sealdb_conn,
) -> FfiResult {
    reset_out(out)?;
    let db = DBS.get(db)?;
    let r = (|| {
        // SAFETY: the caller passes NUL-terminated strings (or NULL where
        // allowed, checked below).
        let (user, secret) = unsafe {
            (
                str_arg(user, "user")?,
                str_arg(
                    secret,
                    match proof {
                        Proof::Password => "password",
                        Proof::Token => "token",
                    },
                )?,
            )
        };
        let address = if client_address.is_null() {
            None
        } else {
            // SAFETY: as above.
            let text = unsafe { str_arg(client_address, "client_address")? };
            Some(text.parse().map_err(|_| {
                Failure::new(
                    SEALDB_ERR_INVALID_ARGUMENT,
                    format!("client_address {text:?} is not an IPv4 or IPv6 address"),
                )
            })?)
        };
        let app = if application_name.is_null() {
            ""
        } else {
            // SAFETY: as above.
            unsafe { str_arg(application_name, "application_name")? }
        };
        let credentials = match proof {
            Proof::Password => Credentials::password(user, secret),
            Proof::Token => Credentials::token(user, secret),
        };
        Ok(db.db.connect(credentials, ClientInfo::new(address, app))?)
    })();
    db.err.record(&r);
    write_out(out, CONNS.insert(ConnInner::new(r?, db)))
}

/// Logs in as `user` with `password` and opens a connection with that
/// user's privileges. `client_address` (an IPv4 or IPv6 address as text, or
/// NULL for an in-process caller) is matched by host rules and, with
/// `application_name` (may be NULL), recorded in the audit log.
///
/// On success `*out` is a new connection owned by the caller: free it with
/// `sealdb_conn_free`. A failed login gives `SEALDB_ERR_AUTHENTICATION_FAILED`
/// (the same for an unknown user and a wrong password) or, after repeated
/// failures, `SEALDB_ERR_LOGIN_THROTTLED`; the error is also recorded on
/// `db`. Strings are borrowed for the call; sealdb keeps no copy of the
/// password.
#[no_mangle]
pub unsafe extern "C" fn sealdb_connect(
    db: *const sealdb_db,
    user: *const c_char,
    password: *const c_char,
    client_address: *const c_char,
    application_name: *const c_char,
    out: *mut *mut sealdb_conn,
) -> i32 {
    call(|| {
        // SAFETY: forwarded from this function's own contract.
        unsafe {
            connect_user(
                db,
                user,
                password,
                Proof::Password,
                client_address,
                application_name,
                out,
            )
        }
    })
}

/// Like `sealdb_connect`, with a login token (from
/// `sealdb_create_login_token`) instead of a password.
#[no_mangle]
pub unsafe extern "C" fn sealdb_connect_token(
    db: *const sealdb_db,
    user: *const c_char,
    token: *const c_char,
    client_address: *const c_char,
    application_name: *const c_char,
    out: *mut *mut sealdb_conn,
) -> i32 {
    call(|| {
        // SAFETY: forwarded from this function's own contract.
        unsafe {
            connect_user(
                db,
                user,
                token,
                Proof::Token,
                client_address,
                application_name,
                out,
            )
        }
    })
}

/// Creates a login token for the connection's user, valid for
/// `valid_for_seconds` (at most the `server.login_token.max_lifetime`
/// cluster setting, 7 days unless changed), for `sealdb_connect_token`.
/// On success `*out` is the token text, owned by the caller: free it with
/// `sealdb_string_free` (sealdb stores only its hash; wipe your copy when
/// done). A password change ends the user's tokens. SQL:
/// `CREATE LOGIN TOKEN [FOR user] [VALID FOR '1 hour']` returns the token
/// as a row.
#[no_mangle]
pub unsafe extern "C" fn sealdb_create_login_token(
    conn: *const sealdb_conn,
    valid_for_seconds: u64,
    out: *mut *mut c_char,
) -> i32 {
    call(|| {
        reset_out(out)?;
        with_conn(conn, |s| {
            let token = s.create_login_token(std::time::Duration::from_secs(valid_for_seconds))?;
            write_out(out, crate::error::c_message(token.token()).into_raw())
        })
    })
}

/// Revokes the login token whose id is `id` (the 16 hex digits after
/// `sdbt_` in the token text): the connection user's own, or any as an
/// admin. Sets `*out` to whether it existed. Another user's token gives
/// `SEALDB_ERR_PERMISSION_DENIED` (for non-admins). Same as the SQL
/// statement `REVOKE LOGIN TOKEN 'id'`.
#[no_mangle]
pub unsafe extern "C" fn sealdb_revoke_login_token(
    conn: *const sealdb_conn,
    id: *const c_char,
    out: *mut bool,
) -> i32 {
    call(|| {
        if out.is_null() {
            return Err(Failure::null("out"));
        }
        // SAFETY: the caller passes a NUL-terminated string (or NULL).
        let id = unsafe { str_arg(id, "id") };
        with_conn(conn, |s| write_out(out, s.revoke_login_token(id?)?))
    })
}

/// Revokes every login token of `user` (NULL: the connection's own user;
/// another user needs an admin). Sets `*out` to how many there were. Same
/// as `REVOKE ALL LOGIN TOKENS FOR user`. A password change, NOLOGIN and
/// DROP USER also end a user's tokens.
#[no_mangle]
pub unsafe extern "C" fn sealdb_revoke_login_tokens(
    conn: *const sealdb_conn,
    user: *const c_char,
    out: *mut u64,
) -> i32 {
    call(|| {
        if out.is_null() {
            return Err(Failure::null("out"));
        }
        let user = if user.is_null() {
            None
        } else {
            // SAFETY: the caller passes a NUL-terminated string.
            Some(unsafe { str_arg(user, "user") }?)
        };
        with_conn(conn, |s| {
            let user = user.unwrap_or(s.user()).to_string();
            write_out(out, s.revoke_login_tokens(&user)?)
        })
    })
}

/// Runs one or more `;`-separated SQL statements without parameters,
/// discarding any rows (DDL, `BEGIN`, scripts). Stops at the first failing
/// statement; earlier ones keep their effect. `sql` is borrowed for the call.
#[no_mangle]
pub unsafe extern "C" fn sealdb_exec(conn: *const sealdb_conn, sql: *const c_char) -> i32 {
    call(|| {
        // SAFETY: the caller passes a NUL-terminated string (or NULL).
        let sql = unsafe { str_arg(sql, "sql") };
        with_conn(conn, |s| {
            s.execute(sql?, &[])?;
            Ok(SEALDB_OK)
        })
    })
}

/// Runs one fixed statement (transaction control) on `conn`.
fn exec_fixed(conn: *const sealdb_conn, sql: &'static str) -> i32 {
    call(|| {
        with_conn(conn, |s| {
            s.execute(sql, &[])?;
            Ok(SEALDB_OK)
        })
    })
}

/// Starts a transaction (`BEGIN`); every statement on this connection runs
/// in it until `sealdb_commit` or `sealdb_rollback`. A connection freed
/// with a transaction open rolls it back.
#[no_mangle]
pub extern "C" fn sealdb_begin(conn: *const sealdb_conn) -> i32 {
    exec_fixed(conn, "BEGIN")
}

/// Commits the open transaction (`SEALDB_ERR_SQL_MISUSE` if none is open;
/// `SEALDB_ERR_CONFLICT` if it must be retried).
#[no_mangle]
pub extern "C" fn sealdb_commit(conn: *const sealdb_conn) -> i32 {
    exec_fixed(conn, "COMMIT")
}

/// Rolls back the open transaction (`SEALDB_ERR_SQL_MISUSE` if none is open).
#[no_mangle]
pub extern "C" fn sealdb_rollback(conn: *const sealdb_conn) -> i32 {
    exec_fixed(conn, "ROLLBACK")
}

/// Sets `*out` to whether a transaction is open on `conn`.
#[no_mangle]
pub unsafe extern "C" fn sealdb_in_transaction(conn: *const sealdb_conn, out: *mut bool) -> i32 {
    call(|| with_conn(conn, |s| write_out(out, s.in_transaction())))
}

/// Sets `*out` to the number of rows changed by the last INSERT, UPDATE or
/// DELETE on `conn`.
#[no_mangle]
pub unsafe extern "C" fn sealdb_changes(conn: *const sealdb_conn, out: *mut u64) -> i32 {
    call(|| with_conn(conn, |s| write_out(out, s.changes())))
}

/// Sets `*out` to the rowid of the last row inserted on `conn` (0 if none).
#[no_mangle]
pub unsafe extern "C" fn sealdb_last_insert_rowid(conn: *const sealdb_conn, out: *mut i64) -> i32 {
    call(|| with_conn(conn, |s| write_out(out, s.last_insert_rowid())))
}

/// Frees a connection handle; an open transaction is rolled back. Its
/// statements stay usable: the session itself is released when the last of
/// them is freed too (like `sqlite3_close_v2`). NULL is a no-op; a handle
/// that is not live gives `SEALDB_ERR_MISUSE`.
#[no_mangle]
pub extern "C" fn sealdb_conn_free(conn: *mut sealdb_conn) -> i32 {
    call(|| {
        if conn.is_null() {
            return Ok(SEALDB_OK);
        }
        let inner = CONNS.remove(conn).ok_or_else(|| {
            Failure::misuse(format!(
                "{conn:p} is not a live connection handle (freed twice?)"
            ))
        })?;
        // Roll back now rather than when the last statement goes.
        let _ = inner.run(|s| {
            if s.in_transaction() {
                s.execute("ROLLBACK", &[])?;
            }
            Ok(())
        });
        drop(inner);
        Ok(SEALDB_OK)
    })
}

/// The result code of the last call made on `conn` or on one of its
/// statements (`SEALDB_OK` if it succeeded; `SEALDB_ERR_NULL_ARGUMENT` /
/// `SEALDB_ERR_MISUSE` for a NULL or dead handle).
#[no_mangle]
pub extern "C" fn sealdb_conn_errcode(conn: *const sealdb_conn) -> i32 {
    quiet(SEALDB_ERR_PANIC, || match CONNS.get(conn) {
        Ok(inner) => inner.err.code(),
        Err(f) => f.code,
    })
}

/// The message of the last failed call made on `conn` or one of its
/// statements, or NULL if it succeeded (or `conn` is not live). Owned: free
/// it with `sealdb_string_free`.
#[no_mangle]
pub extern "C" fn sealdb_conn_errmsg(conn: *const sealdb_conn) -> *mut c_char {
    quiet(std::ptr::null_mut(), || {
        CONNS
            .get(conn)
            .map_or(std::ptr::null_mut(), |inner| inner.err.message())
    })
}
