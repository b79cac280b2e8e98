//! Tests of the C ABI driven from Rust: the same calls a C program makes.

// Every unsafe block here calls an export with pointers to live locals.
#![allow(clippy::undocumented_unsafe_blocks)]

use std::ffi::{c_char, CStr, CString};
use std::ptr::{null, null_mut};

use crate::conn::*;
use crate::db::*;
use crate::error::*;
use crate::stmt::*;

fn c(s: &str) -> CString {
    CString::new(s).expect("no NUL")
}

fn open_root() -> (*mut sealdb_db, *mut sealdb_conn) {
    let mut db = null_mut();
    // SAFETY: out-pointer to a local.
    assert_eq!(unsafe { sealdb_db_open_in_memory(&mut db) }, SEALDB_OK);
    let mut conn = null_mut();
    // SAFETY: db is live, out-pointer to a local.
    assert_eq!(unsafe { sealdb_connect_root(db, &mut conn) }, SEALDB_OK);
    (db, conn)
}

fn exec(conn: *mut sealdb_conn, sql: &str) -> i32 {
    let sql = c(sql);
    // SAFETY: NUL-terminated string alive for the call.
    unsafe { sealdb_exec(conn, sql.as_ptr()) }
}

fn prepare(conn: *mut sealdb_conn, sql: &str) -> *mut sealdb_stmt {
    let sql = c(sql);
    let mut stmt = null_mut();
    // SAFETY: NUL-terminated string and out-pointer alive for the call.
    let rc = unsafe { sealdb_prepare(conn, sql.as_ptr(), &mut stmt) };
    assert_eq!(rc, SEALDB_OK, "{}", thread_msg());
    stmt
}

fn thread_msg() -> String {
    let p = sealdb_errmsg();
    if p.is_null() {
        return String::new();
    }
    // SAFETY: sealdb_errmsg returns a NUL-terminated string valid until the
    // next call on this thread.
    unsafe { CStr::from_ptr(p) }.to_string_lossy().into_owned()
}

fn text(stmt: *mut sealdb_stmt, i: i32) -> Option<String> {
    let mut p: *const c_char = null();
    let mut n = 0usize;
    // SAFETY: out-pointers to locals.
    assert_eq!(
        unsafe { sealdb_column_text(stmt, i, &mut p, &mut n) },
        SEALDB_OK
    );
    if p.is_null() {
        return None;
    }
    // SAFETY: valid until the next step on stmt.
    Some(unsafe { CStr::from_ptr(p) }.to_string_lossy().into_owned())
}

#[test]
fn prepare_bind_step_column_round_trip() {
    let (db, conn) = open_root();
    assert_eq!(
        exec(
            conn,
            "CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT, score REAL, data BLOB)"
        ),
        SEALDB_OK
    );
    let ins = prepare(
        conn,
        "INSERT INTO t (name, score, data) VALUES (?1, :score, ?3)",
    );
    let mut n = 0;
    // SAFETY: out-pointer to a local.
    assert_eq!(
        unsafe { sealdb_bind_parameter_count(ins, &mut n) },
        SEALDB_OK
    );
    assert_eq!(n, 3);
    let name = c(":score");
    // SAFETY: NUL-terminated name, out-pointer to a local.
    assert_eq!(
        unsafe { sealdb_bind_parameter_index(ins, name.as_ptr(), &mut n) },
        SEALDB_OK
    );
    assert_eq!(n, 2);
    let ann = c("ann");
    // SAFETY: valid pointers for the calls.
    unsafe {
        assert_eq!(sealdb_bind_text(ins, 1, ann.as_ptr(), -1), SEALDB_OK);
        assert_eq!(sealdb_bind_double(ins, 2, 2.5), SEALDB_OK);
        assert_eq!(sealdb_bind_blob(ins, 3, [1u8, 0, 2].as_ptr(), 3), SEALDB_OK);
    }
    assert_eq!(sealdb_step(ins), SEALDB_DONE);
    assert_eq!(sealdb_step(ins), SEALDB_DONE, "DONE again until reset");
    let mut rowid = 0;
    // SAFETY: out-pointer to a local.
    assert_eq!(
        unsafe { sealdb_last_insert_rowid(conn, &mut rowid) },
        SEALDB_OK
    );
    assert_eq!(rowid, 1);
    assert_eq!(sealdb_reset(ins), SEALDB_OK);
    assert_eq!(sealdb_bind_null(ins, 1), SEALDB_OK);
    assert_eq!(sealdb_step(ins), SEALDB_DONE);
    assert_eq!(sealdb_stmt_free(ins), SEALDB_OK);

    let q = prepare(conn, "SELECT id, name, score, data FROM t ORDER BY id");
    assert_eq!(sealdb_step(q), SEALDB_ROW);
    let mut count = 0;
    let mut ty = 0;
    let mut id = 0i64;
    let mut blob: *const u8 = null();
    let mut blen = 0usize;
    // SAFETY: out-pointers to locals; blob valid until the next step.
    unsafe {
        assert_eq!(sealdb_column_count(q, &mut count), SEALDB_OK);
        assert_eq!(count, 4);
        assert_eq!(sealdb_column_int64(q, 0, &mut id), SEALDB_OK);
        assert_eq!(sealdb_column_type(q, 2, &mut ty), SEALDB_OK);
        assert_eq!(ty, SEALDB_REAL);
        assert_eq!(sealdb_column_blob(q, 3, &mut blob, &mut blen), SEALDB_OK);
        assert_eq!(std::slice::from_raw_parts(blob, blen), &[1, 0, 2]);
        let mut name: *const c_char = null();
        assert_eq!(sealdb_column_name(q, 1, &mut name), SEALDB_OK);
        assert_eq!(CStr::from_ptr(name).to_str(), Ok("name"));
    }
    assert_eq!(id, 1);
    assert_eq!(text(q, 1).as_deref(), Some("ann"));
    assert_eq!(text(q, 2).as_deref(), Some("2.5"));
    assert_eq!(sealdb_step(q), SEALDB_ROW);
    assert_eq!(text(q, 1), None);
    // SAFETY: out-pointer to a local.
    assert_eq!(unsafe { sealdb_column_type(q, 1, &mut ty) }, SEALDB_OK);
    assert_eq!(ty, SEALDB_NULL);
    assert_eq!(sealdb_step(q), SEALDB_DONE);
    assert_eq!(sealdb_stmt_free(q), SEALDB_OK);
    assert_eq!(sealdb_conn_free(conn), SEALDB_OK);
    assert_eq!(sealdb_db_free(db), SEALDB_OK);
}

#[test]
fn bad_input_gets_codes_not_crashes() {
    let (db, conn) = open_root();
    assert_eq!(exec(conn, "CREATE TABLE t (x INTEGER NOT NULL)"), SEALDB_OK);
    // SAFETY: NULL arguments are what is being tested.
    unsafe {
        assert_eq!(sealdb_exec(conn, null()), SEALDB_ERR_NULL_ARGUMENT);
        assert_eq!(
            sealdb_exec(null(), c("SELECT 1").as_ptr()),
            SEALDB_ERR_NULL_ARGUMENT
        );
        assert_eq!(
            sealdb_db_open_in_memory(null_mut()),
            SEALDB_ERR_NULL_ARGUMENT
        );
        assert_eq!(
            sealdb_prepare(conn, c("SELECT 1").as_ptr(), null_mut()),
            SEALDB_ERR_NULL_ARGUMENT
        );
    }
    assert!(thread_msg().contains("out is NULL"));
    assert_eq!(exec(conn, "SELEC 1"), SEALDB_ERR_SQL_SYNTAX);
    assert_eq!(sealdb_conn_errcode(conn), SEALDB_ERR_SQL_SYNTAX);
    let m = sealdb_conn_errmsg(conn);
    assert!(!m.is_null());
    // SAFETY: owned string from sealdb, freed once.
    unsafe { sealdb_string_free(m) };
    assert_eq!(
        exec(conn, "INSERT INTO t VALUES (NULL)"),
        SEALDB_ERR_SQL_CONSTRAINT
    );
    assert_eq!(exec(conn, "SELECT 1"), SEALDB_OK);
    assert_eq!(sealdb_conn_errcode(conn), SEALDB_OK);
    assert!(sealdb_conn_errmsg(conn).is_null());

    let s = prepare(conn, "SELECT x FROM t WHERE x = ?");
    assert_eq!(sealdb_bind_int64(s, 0, 1), SEALDB_ERR_RANGE);
    assert_eq!(sealdb_bind_int64(s, 2, 1), SEALDB_ERR_RANGE);
    assert_eq!(sealdb_stmt_errcode(s), SEALDB_ERR_RANGE);
    let bad = [b'a', 0xff, 0];
    // SAFETY: a NUL-terminated (invalid UTF-8) string.
    assert_eq!(
        unsafe { sealdb_bind_text(s, 1, bad.as_ptr().cast(), -1) },
        SEALDB_ERR_INVALID_UTF8
    );
    // SAFETY: two readable bytes.
    assert_eq!(
        unsafe { sealdb_bind_text(s, 1, bad.as_ptr().cast(), 2) },
        SEALDB_ERR_INVALID_UTF8
    );
    let mut v = 0i64;
    // SAFETY: out-pointer to a local.
    assert_eq!(
        unsafe { sealdb_column_int64(s, 0, &mut v) },
        SEALDB_ERR_MISUSE
    );
    assert_eq!(sealdb_stmt_free(s), SEALDB_OK);
    // Use after free is detected.
    assert_eq!(sealdb_step(s), SEALDB_ERR_MISUSE);
    assert_eq!(sealdb_stmt_free(s), SEALDB_ERR_MISUSE);
    assert_eq!(sealdb_stmt_errcode(s), SEALDB_ERR_MISUSE);
    // A handle of the wrong kind.
    assert_eq!(sealdb_step(conn.cast()), SEALDB_ERR_MISUSE);
    assert_eq!(sealdb_conn_free(conn), SEALDB_OK);
    assert_eq!(sealdb_begin(conn), SEALDB_ERR_MISUSE);
    assert_eq!(sealdb_db_free(db), SEALDB_OK);
    assert_eq!(sealdb_db_free(db), SEALDB_ERR_MISUSE);
    assert_eq!(sealdb_db_free(null_mut()), SEALDB_OK);
}

#[test]
fn statements_outlive_their_connection_handle() {
    let (db, conn) = open_root();
    assert_eq!(
        exec(conn, "CREATE TABLE t (x); INSERT INTO t VALUES (1), (2)"),
        SEALDB_OK
    );
    let q = prepare(conn, "SELECT x FROM t");
    assert_eq!(sealdb_db_free(db), SEALDB_OK);
    assert_eq!(sealdb_conn_free(conn), SEALDB_OK);
    assert_eq!(sealdb_step(q), SEALDB_ROW);
    assert_eq!(sealdb_step(q), SEALDB_ROW);
    assert_eq!(sealdb_step(q), SEALDB_DONE);
    assert_eq!(sealdb_stmt_free(q), SEALDB_OK);
    // Gone from the handle table (the count of live statements is shared
    // with tests running in parallel, so check this handle itself).
    assert_eq!(sealdb_step(q), SEALDB_ERR_MISUSE);
}

#[test]
fn transactions_and_binding_mid_result() {
    let (db, conn) = open_root();
    assert_eq!(exec(conn, "CREATE TABLE t (x)"), SEALDB_OK);
    assert_eq!(sealdb_begin(conn), SEALDB_OK);
    let mut open = false;
    // SAFETY: out-pointer to a local.
    assert_eq!(unsafe { sealdb_in_transaction(conn, &mut open) }, SEALDB_OK);
    assert!(open);
    assert_eq!(exec(conn, "INSERT INTO t VALUES (1), (2)"), SEALDB_OK);
    assert_eq!(sealdb_rollback(conn), SEALDB_OK);
    assert_eq!(sealdb_commit(conn), SEALDB_ERR_SQL_MISUSE);
    assert_eq!(exec(conn, "INSERT INTO t VALUES (1), (2)"), SEALDB_OK);
    let q = prepare(conn, "SELECT x FROM t WHERE x >= ?");
    assert_eq!(sealdb_bind_int64(q, 1, 0), SEALDB_OK);
    assert_eq!(sealdb_step(q), SEALDB_ROW);
    assert_eq!(sealdb_bind_int64(q, 1, 2), SEALDB_ERR_MISUSE);
    assert_eq!(sealdb_reset(q), SEALDB_OK);
    assert_eq!(sealdb_bind_int64(q, 1, 2), SEALDB_OK);
    assert_eq!(sealdb_step(q), SEALDB_ROW);
    assert_eq!(sealdb_step(q), SEALDB_DONE);
    assert_eq!(sealdb_stmt_free(q), SEALDB_OK);
    assert_eq!(sealdb_conn_free(conn), SEALDB_OK);
    assert_eq!(sealdb_db_free(db), SEALDB_OK);
}

#[test]
fn key_callback_provides_the_key() {
    unsafe extern "C" fn cb(
        user: *mut std::ffi::c_void,
        _id: *const c_char,
        out: *mut u8,
        len: *mut usize,
    ) -> i32 {
        // SAFETY: user is the key array below; out has room for 32 bytes.
        unsafe {
            let key = &*(user as *const [u8; 32]);
            std::ptr::copy_nonoverlapping(key.as_ptr(), out, 32);
            *len = 32;
        }
        SEALDB_KEY_FOUND
    }
    unsafe extern "C" fn failing(
        _: *mut std::ffi::c_void,
        _: *const c_char,
        _: *mut u8,
        _: *mut usize,
    ) -> i32 {
        -1
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let path = c(dir.path().join("db").to_str().expect("utf-8"));
    let mut key = [7u8; 32];
    let mut db = null_mut();
    // SAFETY: the key outlives the database (freed below).
    let rc = unsafe {
        sealdb_db_open_key_callback(
            path.as_ptr(),
            Some(cb),
            (&mut key as *mut [u8; 32]).cast(),
            &mut db,
        )
    };
    assert_eq!(rc, SEALDB_OK, "{}", thread_msg());
    assert_eq!(sealdb_db_free(db), SEALDB_OK);
    // SAFETY: valid arguments.
    let rc =
        unsafe { sealdb_db_open_key_callback(path.as_ptr(), Some(failing), null_mut(), &mut db) };
    assert_eq!(rc, SEALDB_ERR_KEY_PROVIDER);
    assert!(db.is_null());
    // SAFETY: valid arguments.
    let rc = unsafe { sealdb_db_open_key_callback(path.as_ptr(), None, null_mut(), &mut db) };
    assert_eq!(rc, SEALDB_ERR_NULL_ARGUMENT);
    // The wrong key is reported as such.
    let other = [9u8; 32];
    // SAFETY: 32 readable bytes.
    let rc = unsafe { sealdb_db_open_key(path.as_ptr(), other.as_ptr(), 32, &mut db) };
    assert_eq!(rc, SEALDB_ERR_KEY_UNAVAILABLE, "{}", thread_msg());
}

#[test]
fn passphrase_opens_the_store_and_a_wrong_one_does_not() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = c(dir.path().join("db").to_str().expect("utf-8"));
    let pass = b"correct horse battery staple";
    let open = |p: &[u8], memory_kib: u32, db: &mut *mut sealdb_db| {
        // SAFETY: p.len() readable bytes; out-pointer to a local.
        unsafe { sealdb_db_open_passphrase(path.as_ptr(), p.as_ptr(), p.len(), memory_kib, 1, db) }
    };
    let mut db = null_mut();
    assert_eq!(open(pass, 8, &mut db), SEALDB_OK, "{}", thread_msg());
    let mut conn = null_mut();
    // SAFETY: db is live, out-pointer to a local.
    assert_eq!(unsafe { sealdb_connect_root(db, &mut conn) }, SEALDB_OK);
    assert_eq!(exec(conn, "CREATE TABLE t (a INTEGER)"), SEALDB_OK);
    // While open, the same passphrase shares the store; another is refused.
    let mut again = null_mut();
    assert_eq!(open(pass, 8, &mut again), SEALDB_OK, "{}", thread_msg());
    assert_eq!(sealdb_db_free(again), SEALDB_OK);
    assert_eq!(open(b"wrong", 8, &mut again), SEALDB_ERR_LOCKED);
    assert_eq!(sealdb_conn_free(conn), SEALDB_OK);
    assert_eq!(sealdb_db_free(db), SEALDB_OK);
    // Reopened: wrong passphrase, a stronger floor than the store has,
    // then the right one.
    assert_eq!(open(b"wrong", 8, &mut db), SEALDB_ERR_KEY_UNAVAILABLE);
    assert!(db.is_null());
    assert_eq!(
        open(pass, 0, &mut db),
        SEALDB_ERR_INVALID_KEY,
        "{}",
        thread_msg()
    );
    assert_eq!(open(b"", 8, &mut db), SEALDB_ERR_INVALID_KEY);
    assert_eq!(open(pass, 8, &mut db), SEALDB_OK, "{}", thread_msg());
    assert_eq!(sealdb_db_free(db), SEALDB_OK);
    // SAFETY: NULL passphrase with a length.
    let rc = unsafe { sealdb_db_open_passphrase(path.as_ptr(), null(), 4, 8, 1, &mut db) };
    assert_eq!(rc, SEALDB_ERR_NULL_ARGUMENT);
}
