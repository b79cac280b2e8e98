//! Tests of the C ABI driven from Rust: the same calls a C program makes.

// Every unsafe block here calls an export with pointers to live locals.
#![allow(clippy::undocumented_unsafe_blocks)]

use std::ffi::{c_char, CStr, CString};
use std::ptr::{null, null_mut};

use crate::batch::*;
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

/// The values of a result batch, rendered with their types.
fn batch_values(b: &sealdb_batch) -> Vec<Vec<String>> {
    // SAFETY: a batch from sealdb_step_batch has `columns` column batches
    // of `rows` rows (offsets: rows + 1), valid until the next step.
    let cols: &[sealdb_column_batch] = if b.columns == 0 {
        &[]
    } else {
        unsafe { std::slice::from_raw_parts(b.column, b.columns) }
    };
    (0..b.rows)
        .map(|i| {
            cols.iter()
                .map(|c| {
                    // SAFETY: as above.
                    unsafe {
                        let ty = i32::from(*c.types.add(i));
                        let bytes = || {
                            let (s, e) = (*c.offsets.add(i), *c.offsets.add(i + 1));
                            std::slice::from_raw_parts(c.data.add(s), e - s).to_vec()
                        };
                        match ty {
                            SEALDB_INTEGER => format!("i:{}", (*c.numbers.add(i)).integer),
                            SEALDB_REAL => format!("r:{}", (*c.numbers.add(i)).real),
                            SEALDB_TEXT => format!("t:{}", String::from_utf8_lossy(&bytes())),
                            SEALDB_BLOB => format!("b:{:?}", bytes()),
                            SEALDB_NULL => "null".to_string(),
                            other => panic!("type code {other}"),
                        }
                    }
                })
                .collect()
        })
        .collect()
}

fn empty_batch() -> sealdb_batch {
    sealdb_batch {
        rows: 0,
        columns: 0,
        column: null(),
    }
}

#[test]
fn step_batch_reads_rows_by_column() {
    let (db, conn) = open_root();
    assert_eq!(
        exec(
            conn,
            "CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT, score REAL, data BLOB);
             INSERT INTO t VALUES (1, 'ann', 2.5, x'01'), (2, NULL, 3.0, x''),
                                  (3, 'bo', -1.0, x'0200'), (4, 'çé', 0.5, NULL),
                                  (5, '', 7.0, x'ff')"
        ),
        SEALDB_OK
    );
    let q = prepare(conn, "SELECT id, name, score, data FROM t ORDER BY id");
    let mut b = empty_batch();
    // SAFETY: out-pointer to a local.
    assert_eq!(unsafe { sealdb_step_batch(q, 2, &mut b) }, SEALDB_ROW);
    assert_eq!((b.rows, b.columns), (2, 4));
    assert_eq!(
        batch_values(&b),
        [
            ["i:1", "t:ann", "r:2.5", "b:[1]"],
            ["i:2", "null", "r:3", "b:[]"],
        ]
    );
    // SAFETY: four column batches, valid until the next step.
    let uniform: Vec<i32> = (0..4)
        .map(|j| unsafe { (*b.column.add(j)).uniform_type })
        .collect();
    assert_eq!(uniform, [SEALDB_INTEGER, 0, SEALDB_REAL, SEALDB_BLOB]);
    // A batch step leaves no current row; a plain step continues the result.
    let mut v = 0i64;
    // SAFETY: out-pointer to a local.
    assert_eq!(
        unsafe { sealdb_column_int64(q, 0, &mut v) },
        SEALDB_ERR_MISUSE
    );
    assert_eq!(sealdb_step(q), SEALDB_ROW);
    assert_eq!(text(q, 1).as_deref(), Some("bo"));
    // SAFETY: out-pointer to a local.
    assert_eq!(unsafe { sealdb_step_batch(q, 10, &mut b) }, SEALDB_ROW);
    assert_eq!(
        batch_values(&b),
        [
            ["i:4", "t:çé", "r:0.5", "null"],
            ["i:5", "t:", "r:7", "b:[255]"],
        ]
    );
    // SAFETY: out-pointer to a local.
    assert_eq!(unsafe { sealdb_step_batch(q, 10, &mut b) }, SEALDB_DONE);
    assert_eq!((b.rows, b.columns), (0, 4));
    // SAFETY: out-pointer to a local.
    assert_eq!(unsafe { sealdb_step_batch(q, 10, &mut b) }, SEALDB_DONE);
    assert_eq!(sealdb_step(q), SEALDB_DONE);
    assert_eq!(sealdb_reset(q), SEALDB_OK);
    // SAFETY: out-pointer to a local; then NULL out.
    unsafe {
        assert_eq!(sealdb_step_batch(q, 0, &mut b), SEALDB_ERR_RANGE);
        assert_eq!(
            sealdb_step_batch(q, 1, null_mut()),
            SEALDB_ERR_NULL_ARGUMENT
        );
        assert_eq!(sealdb_step_batch(q, 100, &mut b), SEALDB_ROW);
    }
    assert_eq!(b.rows, 5, "after reset the result starts over");
    assert_eq!(sealdb_stmt_free(q), SEALDB_OK);

    // A statement without rows runs on its batch step: DONE, no columns.
    let ins = prepare(conn, "INSERT INTO t (id) VALUES (6)");
    // SAFETY: out-pointer to a local.
    assert_eq!(unsafe { sealdb_step_batch(ins, 8, &mut b) }, SEALDB_DONE);
    assert_eq!((b.rows, b.columns), (0, 0));
    assert!(b.column.is_null());
    assert_eq!(sealdb_stmt_free(ins), SEALDB_OK);
    assert_eq!(sealdb_conn_free(conn), SEALDB_OK);
    assert_eq!(sealdb_db_free(db), SEALDB_OK);
}

#[test]
fn step_batch_returns_the_rows_before_an_error_then_the_error() {
    let (db, conn) = open_root();
    assert_eq!(
        exec(
            conn,
            "CREATE TABLE t (id INTEGER PRIMARY KEY, x INTEGER);
             INSERT INTO t VALUES (1, -1), (2, -2), (3, -9223372036854775808), (4, -4)"
        ),
        SEALDB_OK
    );
    let q = prepare(conn, "SELECT abs(x) FROM t ORDER BY id");
    let mut b = empty_batch();
    // SAFETY: out-pointer to a local.
    assert_eq!(unsafe { sealdb_step_batch(q, 10, &mut b) }, SEALDB_ROW);
    assert_eq!(batch_values(&b), [["i:1"], ["i:2"]]);
    // SAFETY: out-pointer to a local.
    let rc = unsafe { sealdb_step_batch(q, 10, &mut b) };
    assert_eq!(rc, SEALDB_ERR_SQL_VALUE, "{}", thread_msg());
    assert!(thread_msg().contains("overflow"), "{}", thread_msg());
    assert_eq!(b.rows, 0);
    // After the error the statement runs again from the start.
    // SAFETY: out-pointer to a local.
    assert_eq!(unsafe { sealdb_step_batch(q, 1, &mut b) }, SEALDB_ROW);
    assert_eq!(batch_values(&b), [["i:1"]]);
    // The kept error is reported by a plain step too, and reset drops it.
    // SAFETY: out-pointer to a local.
    assert_eq!(unsafe { sealdb_step_batch(q, 10, &mut b) }, SEALDB_ROW);
    assert_eq!(sealdb_step(q), SEALDB_ERR_SQL_VALUE);
    // SAFETY: out-pointer to a local.
    assert_eq!(unsafe { sealdb_step_batch(q, 10, &mut b) }, SEALDB_ROW);
    assert_eq!(sealdb_reset(q), SEALDB_OK);
    // SAFETY: out-pointer to a local.
    assert_eq!(unsafe { sealdb_step_batch(q, 1, &mut b) }, SEALDB_ROW);
    assert_eq!(batch_values(&b), [["i:1"]]);
    assert_eq!(sealdb_stmt_free(q), SEALDB_OK);
    assert_eq!(sealdb_conn_free(conn), SEALDB_OK);
    assert_eq!(sealdb_db_free(db), SEALDB_OK);
}

/// A parameter column for `sealdb_execute_batch` from owned arrays.
fn param_column(
    uniform_type: i32,
    types: &[u8],
    numbers: &[sealdb_number],
    offsets: &[usize],
    data: &[u8],
) -> sealdb_column_batch {
    fn ptr<T>(s: &[T]) -> *const T {
        if s.is_empty() {
            null()
        } else {
            s.as_ptr()
        }
    }
    sealdb_column_batch {
        uniform_type,
        types: ptr(types),
        numbers: ptr(numbers),
        offsets: ptr(offsets),
        data: ptr(data),
        data_len: data.len(),
    }
}

fn all_rows(conn: *mut sealdb_conn, sql: &str) -> Vec<Vec<String>> {
    let q = prepare(conn, sql);
    let mut b = empty_batch();
    // SAFETY: out-pointer to a local.
    let rc = unsafe { sealdb_step_batch(q, 1000, &mut b) };
    assert!(rc == SEALDB_ROW || rc == SEALDB_DONE, "{}", thread_msg());
    let rows = batch_values(&b);
    assert_eq!(sealdb_stmt_free(q), SEALDB_OK);
    rows
}

#[test]
fn execute_batch_runs_a_statement_per_row() {
    let (db, conn) = open_root();
    assert_eq!(
        exec(
            conn,
            "CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT, score REAL, data BLOB)"
        ),
        SEALDB_OK
    );
    let ins = prepare(conn, "INSERT INTO t VALUES (?, ?, ?, ?)");
    let int = |i: i64| sealdb_number { integer: i };
    let real = |r: f64| sealdb_number { real: r };
    let ids = [int(1), int(2), int(3)];
    let name_types = [SEALDB_TEXT as u8, SEALDB_NULL as u8, SEALDB_TEXT as u8];
    let names = b"annz\xc3\xa9";
    let name_offsets = [0, 3, 3, 6];
    let score_types = [SEALDB_REAL as u8, SEALDB_INTEGER as u8, SEALDB_REAL as u8];
    let scores = [real(2.5), int(7), real(f64::NAN)];
    let blob = [1u8, 0, 2];
    let cols = [
        param_column(SEALDB_INTEGER, &[], &ids, &[], &[]),
        param_column(0, &name_types, &[], &name_offsets, names),
        param_column(0, &score_types, &scores, &[], &[]),
        param_column(SEALDB_BLOB, &[], &[], &[0, 3, 3, 3], &blob),
    ];
    let mut changes = 99u64;
    // SAFETY: four columns of three rows, arrays alive for the call.
    let rc = unsafe { sealdb_execute_batch(ins, 3, cols.as_ptr(), 4, &mut changes) };
    assert_eq!(rc, SEALDB_OK, "{}", thread_msg());
    assert_eq!(changes, 3);
    let mut rowid = 0;
    // SAFETY: out-pointer to a local.
    assert_eq!(
        unsafe { sealdb_last_insert_rowid(conn, &mut rowid) },
        SEALDB_OK
    );
    assert_eq!(rowid, 3);
    assert_eq!(
        all_rows(conn, "SELECT * FROM t ORDER BY id"),
        [
            ["i:1", "t:ann", "r:2.5", "b:[1, 0, 2]"],
            ["i:2", "null", "r:7", "b:[]"],
            ["i:3", "t:zé", "null", "b:[]"],
        ]
    );

    // A failing row stops the batch; the rows before it have run.
    let ids = [int(4), int(5), int(1), int(6)];
    let cols = [
        param_column(SEALDB_INTEGER, &[], &ids, &[], &[]),
        param_column(SEALDB_NULL, &[], &[], &[], &[]),
        param_column(SEALDB_NULL, &[], &[], &[], &[]),
        param_column(SEALDB_NULL, &[], &[], &[], &[]),
    ];
    // SAFETY: four columns of four rows, arrays alive for the call.
    let rc = unsafe { sealdb_execute_batch(ins, 4, cols.as_ptr(), 4, &mut changes) };
    assert_eq!(rc, SEALDB_ERR_SQL_CONSTRAINT, "{}", thread_msg());
    assert_eq!(changes, 2);
    assert_eq!(all_rows(conn, "SELECT count(*) FROM t"), [["i:5"]]);
    // The statement's own bindings are not used or changed by a batch.
    assert_eq!(sealdb_clear_bindings(ins), SEALDB_OK);
    assert_eq!(sealdb_bind_int64(ins, 1, 30), SEALDB_OK);
    let cols = [
        param_column(SEALDB_INTEGER, &[], &[int(31)], &[], &[]),
        param_column(SEALDB_NULL, &[], &[], &[], &[]),
        param_column(SEALDB_NULL, &[], &[], &[], &[]),
        param_column(SEALDB_NULL, &[], &[], &[], &[]),
    ];
    // SAFETY: four columns of one row, arrays alive for the call.
    let rc = unsafe { sealdb_execute_batch(ins, 1, cols.as_ptr(), 4, &mut changes) };
    assert_eq!((rc, changes), (SEALDB_OK, 1));
    assert_eq!(sealdb_step(ins), SEALDB_DONE);
    assert_eq!(
        all_rows(conn, "SELECT id FROM t WHERE id >= 30 ORDER BY id"),
        [["i:30"], ["i:31"]]
    );
    // Zero rows run nothing; NULL changes is allowed.
    // SAFETY: no rows are read.
    let rc = unsafe { sealdb_execute_batch(ins, 0, cols.as_ptr(), 4, null_mut()) };
    assert_eq!(rc, SEALDB_OK);
    assert_eq!(sealdb_stmt_free(ins), SEALDB_OK);

    // An UPDATE counts the rows it changed.
    let up = prepare(conn, "UPDATE t SET score = ? WHERE id >= ?");
    let cols = [
        param_column(SEALDB_REAL, &[], &[real(1.0), real(2.0)], &[], &[]),
        param_column(SEALDB_INTEGER, &[], &[int(5), int(3)], &[], &[]),
    ];
    // SAFETY: two columns of two rows, arrays alive for the call.
    let rc = unsafe { sealdb_execute_batch(up, 2, cols.as_ptr(), 2, &mut changes) };
    assert_eq!(rc, SEALDB_OK, "{}", thread_msg());
    assert_eq!(
        changes,
        3 + 5,
        "ids >= 5: 5, 30, 31; ids >= 3: 3, 4, 5, 30, 31"
    );
    assert_eq!(sealdb_stmt_free(up), SEALDB_OK);
    assert_eq!(sealdb_conn_free(conn), SEALDB_OK);
    assert_eq!(sealdb_db_free(db), SEALDB_OK);
}

#[test]
fn execute_batch_refuses_bad_arrays_and_row_statements() {
    let (db, conn) = open_root();
    assert_eq!(exec(conn, "CREATE TABLE t (x)"), SEALDB_OK);
    let ins = prepare(conn, "INSERT INTO t VALUES (?)");
    let run = |col: sealdb_column_batch, rows: usize| {
        let mut changes = 0u64;
        // SAFETY: one column whose arrays cover `rows` rows (the caller's
        // arrays, alive for the call).
        let rc = unsafe { sealdb_execute_batch(ins, rows, &col, 1, &mut changes) };
        (rc, changes, thread_msg())
    };
    let one = [sealdb_number { integer: 1 }];
    let (rc, _, msg) = run(param_column(0, &[9], &one, &[], &[]), 1);
    assert_eq!(rc, SEALDB_ERR_INVALID_ARGUMENT);
    assert!(msg.contains("parameter 1 of row 0"), "{msg}");
    let (rc, _, _) = run(param_column(0, &[], &one, &[], &[]), 1);
    assert_eq!(
        rc, SEALDB_ERR_NULL_ARGUMENT,
        "types NULL without uniform_type"
    );
    let (rc, _, _) = run(param_column(SEALDB_INTEGER, &[], &[], &[], &[]), 1);
    assert_eq!(rc, SEALDB_ERR_NULL_ARGUMENT, "numbers NULL");
    let (rc, _, _) = run(param_column(SEALDB_TEXT, &[], &[], &[], b"ab"), 1);
    assert_eq!(rc, SEALDB_ERR_NULL_ARGUMENT, "offsets NULL");
    let (rc, changes, msg) = run(param_column(SEALDB_TEXT, &[], &[], &[0, 2, 3], b"ab"), 2);
    assert_eq!(rc, SEALDB_ERR_RANGE, "an offset past data_len");
    assert!(msg.contains("parameter 1 of row 1"), "{msg}");
    assert_eq!(changes, 1, "row 0 ran");
    let (rc, _, _) = run(param_column(SEALDB_TEXT, &[], &[], &[2, 1], b"ab"), 1);
    assert_eq!(rc, SEALDB_ERR_RANGE, "decreasing offsets");
    let (rc, _, _) = run(param_column(SEALDB_TEXT, &[], &[], &[0, 2], b"a\xff"), 1);
    assert_eq!(rc, SEALDB_ERR_INVALID_UTF8);
    let mut bad = param_column(SEALDB_BLOB, &[], &[], &[0, 2], &[]);
    bad.data_len = 2;
    let (rc, _, _) = run(bad, 1);
    assert_eq!(rc, SEALDB_ERR_NULL_ARGUMENT, "data NULL with a length");
    // Parameter count must match; params NULL only for none.
    let mut changes = 0u64;
    // SAFETY: NULL params with a count, and a count of 0: nothing is read.
    unsafe {
        assert_eq!(
            sealdb_execute_batch(ins, 1, null(), 1, &mut changes),
            SEALDB_ERR_NULL_ARGUMENT
        );
        assert_eq!(
            sealdb_execute_batch(ins, 1, null(), 0, &mut changes),
            SEALDB_ERR_RANGE
        );
    }
    assert_eq!(sealdb_stmt_free(ins), SEALDB_OK);
    // Statements that return rows are refused.
    let q = prepare(conn, "SELECT x FROM t");
    // SAFETY: no parameters.
    let rc = unsafe { sealdb_execute_batch(q, 2, null(), 0, &mut changes) };
    assert_eq!(rc, SEALDB_ERR_SQL_MISUSE, "{}", thread_msg());
    assert_eq!(sealdb_stmt_free(q), SEALDB_OK);
    let r = prepare(conn, "INSERT INTO t VALUES (5) RETURNING x");
    // SAFETY: no parameters.
    let rc = unsafe { sealdb_execute_batch(r, 2, null(), 0, &mut changes) };
    assert_eq!(rc, SEALDB_ERR_SQL_MISUSE, "{}", thread_msg());
    assert_eq!(sealdb_stmt_free(r), SEALDB_OK);
    assert_eq!(
        all_rows(conn, "SELECT x FROM t ORDER BY x"),
        [["i:5"], ["t:ab"]],
        "row 0 of the offsets test, and the RETURNING statement's first run"
    );
    assert_eq!(sealdb_conn_free(conn), SEALDB_OK);
    assert_eq!(sealdb_db_free(db), SEALDB_OK);
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

#[test]
fn backup_verify_checks_a_chain_names_a_tampered_file_and_needs_an_admin() {
    use crate::backup::*;
    let tmp = tempfile::tempdir().expect("tempdir");
    let key = [7u8; 32];
    let path = c(&tmp.path().join("db").to_string_lossy());
    let mut db = null_mut();
    assert_eq!(
        unsafe { sealdb_db_open_key(path.as_ptr(), key.as_ptr(), key.len(), &mut db) },
        SEALDB_OK
    );
    let mut conn = null_mut();
    assert_eq!(unsafe { sealdb_connect_root(db, &mut conn) }, SEALDB_OK);
    assert_eq!(
        exec(
            conn,
            "CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT);\
             INSERT INTO t VALUES (1, 'one'), (2, 'two');\
             CREATE USER ann WITH PASSWORD 'ann-pw'"
        ),
        SEALDB_OK
    );
    let bk = tmp.path().join("bk");
    let bkc = c(&bk.to_string_lossy());
    let pass = c("ffi verify pass");
    let opts = sealdb_backup_options {
        passphrase: pass.as_ptr(),
        parent: null(),
        no_store_key: 1,
        kdf_memory_kib: 8,
        kdf_iterations: 1,
        threads: 1,
    };
    assert_eq!(
        unsafe { sealdb_backup(conn, bkc.as_ptr(), &opts) },
        SEALDB_OK,
        "{}",
        thread_msg()
    );
    let mut report = sealdb_backup_verify_report {
        backups: 9,
        files: 9,
        bytes: 9,
    };
    // Passphrase-only: the store key does not open it.
    assert_eq!(
        unsafe { sealdb_backup_verify(conn, bkc.as_ptr(), null(), &mut report) },
        SEALDB_ERR_BACKUP_KEY
    );
    assert_eq!((report.backups, report.files, report.bytes), (0, 0, 0));
    assert_eq!(
        unsafe { sealdb_backup_verify(conn, bkc.as_ptr(), pass.as_ptr(), &mut report) },
        SEALDB_OK,
        "{}",
        thread_msg()
    );
    let on_disk: u64 = std::fs::read_dir(&bk)
        .expect("list")
        .map(|e| e.expect("entry"))
        .filter(|e| {
            let n = e.file_name().to_string_lossy().into_owned();
            n.starts_with("table-") || n.starts_with("log-") || n.starts_with("audit-")
        })
        .map(|e| e.metadata().expect("metadata").len())
        .sum();
    assert_eq!(report.backups, 1);
    assert!(report.files >= 2, "{}", report.files);
    assert_eq!(report.bytes, on_disk);
    // `out` may be NULL.
    assert_eq!(
        unsafe { sealdb_backup_verify(conn, bkc.as_ptr(), pass.as_ptr(), null_mut()) },
        SEALDB_OK
    );
    // A byte changed in a log file is found, and the file named.
    let log = std::fs::read_dir(&bk)
        .expect("list")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .find(|n| n.starts_with("log-"))
        .expect("a log file");
    let p = bk.join(&log);
    let mut bytes = std::fs::read(&p).expect("read");
    bytes[100] ^= 0x20;
    std::fs::write(&p, bytes).expect("write");
    let rc = unsafe { sealdb_backup_verify(conn, bkc.as_ptr(), pass.as_ptr(), &mut report) };
    assert!(
        rc == SEALDB_ERR_CORRUPTION || rc == SEALDB_ERR_AUTHENTICATION,
        "{rc}"
    );
    assert!(thread_msg().contains(&log), "{}", thread_msg());
    // Only admins.
    let (user, pw) = (c("ann"), c("ann-pw"));
    let mut ann = null_mut();
    assert_eq!(
        unsafe { sealdb_connect(db, user.as_ptr(), pw.as_ptr(), null(), null(), &mut ann) },
        SEALDB_OK
    );
    assert_eq!(
        unsafe { sealdb_backup_verify(ann, bkc.as_ptr(), pass.as_ptr(), &mut report) },
        SEALDB_ERR_PERMISSION_DENIED
    );
    assert_eq!(
        unsafe { sealdb_backup_verify(conn, null(), null(), &mut report) },
        SEALDB_ERR_NULL_ARGUMENT
    );
    assert_eq!(sealdb_conn_free(ann), SEALDB_OK);
    assert_eq!(sealdb_conn_free(conn), SEALDB_OK);
    assert_eq!(sealdb_db_free(db), SEALDB_OK);
}

#[test]
fn checkpoint_makes_a_copy_that_opens_and_needs_an_admin() {
    use crate::backup::*;
    let tmp = tempfile::tempdir().expect("tempdir");
    let key = [9u8; 32];
    let path = c(&tmp.path().join("db").to_string_lossy());
    let mut db = null_mut();
    assert_eq!(
        unsafe { sealdb_db_open_key(path.as_ptr(), key.as_ptr(), key.len(), &mut db) },
        SEALDB_OK
    );
    let mut conn = null_mut();
    assert_eq!(unsafe { sealdb_connect_root(db, &mut conn) }, SEALDB_OK);
    assert_eq!(
        exec(
            conn,
            "CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT);\
             INSERT INTO t VALUES (1, 'one'), (2, 'two');\
             CREATE USER ann WITH PASSWORD 'ann-pw'"
        ),
        SEALDB_OK
    );
    let cp = tmp.path().join("cp");
    let cpc = c(&cp.to_string_lossy());
    let mut report = sealdb_checkpoint_report {
        sequence: 0,
        tables: 9,
    };
    assert_eq!(
        unsafe { sealdb_checkpoint(conn, cpc.as_ptr(), &mut report) },
        SEALDB_OK,
        "{}",
        thread_msg()
    );
    assert!(report.sequence > 0, "{}", report.sequence);
    // Written after the checkpoint: not in the copy.
    assert_eq!(exec(conn, "INSERT INTO t VALUES (3, 'three')"), SEALDB_OK);
    // A target that holds files; NULL arguments; `out` may be NULL.
    assert_eq!(
        unsafe { sealdb_checkpoint(conn, cpc.as_ptr(), &mut report) },
        SEALDB_ERR_INVALID_ARGUMENT
    );
    assert_eq!((report.sequence, report.tables), (0, 0));
    assert_eq!(
        unsafe { sealdb_checkpoint(conn, null(), &mut report) },
        SEALDB_ERR_NULL_ARGUMENT
    );
    assert_eq!(
        unsafe { sealdb_checkpoint(null(), cpc.as_ptr(), &mut report) },
        SEALDB_ERR_NULL_ARGUMENT
    );
    let cp2 = c(&tmp.path().join("cp2").to_string_lossy());
    assert_eq!(
        unsafe { sealdb_checkpoint(conn, cp2.as_ptr(), null_mut()) },
        SEALDB_OK
    );
    // Only admins; nothing is made.
    let (user, pw) = (c("ann"), c("ann-pw"));
    let mut ann = null_mut();
    assert_eq!(
        unsafe { sealdb_connect(db, user.as_ptr(), pw.as_ptr(), null(), null(), &mut ann) },
        SEALDB_OK
    );
    let cp3 = tmp.path().join("cp3");
    let cp3c = c(&cp3.to_string_lossy());
    assert_eq!(
        unsafe { sealdb_checkpoint(ann, cp3c.as_ptr(), &mut report) },
        SEALDB_ERR_PERMISSION_DENIED
    );
    assert!(!cp3.exists());
    // Not inside a transaction.
    assert_eq!(exec(conn, "BEGIN"), SEALDB_OK);
    assert_eq!(
        unsafe { sealdb_checkpoint(conn, cp3c.as_ptr(), &mut report) },
        SEALDB_ERR_SQL_MISUSE
    );
    assert!(!cp3.exists());
    assert_eq!(exec(conn, "ROLLBACK"), SEALDB_OK);
    assert_eq!(sealdb_conn_free(ann), SEALDB_OK);
    assert_eq!(sealdb_conn_free(conn), SEALDB_OK);
    assert_eq!(sealdb_db_free(db), SEALDB_OK);
    // The copy opens under the same key and holds the two rows.
    let copy = sealdb::Db::open(
        &cp,
        sealdb::MemoryKeyProvider::new(sealdb::KeyBytes::from_slice(&key)).expect("key"),
    )
    .expect("the copy opens");
    let n: i64 = copy
        .root_session()
        .query("SELECT count(*) FROM t", &[])
        .expect("query")
        .collect_all()
        .expect("rows")[0]
        .get(0)
        .expect("count");
    assert_eq!(n, 2);
}

/// A backup of a passphrase-keyed store, wrapped by its store key only,
/// restores from C under another key with nothing but the store's
/// passphrase (`options.passphrase`): the backup's store-passphrase wrap
/// records the store's salt. A wrong passphrase names that wrap.
#[test]
fn a_passphrase_keyed_stores_backup_restores_by_the_store_passphrase() {
    use crate::backup::*;
    let tmp = tempfile::tempdir().expect("tempdir");
    let path = c(&tmp.path().join("db").to_string_lossy());
    let store_pass = b"the store's passphrase";
    let mut db = null_mut();
    assert_eq!(
        unsafe {
            sealdb_db_open_passphrase(
                path.as_ptr(),
                store_pass.as_ptr(),
                store_pass.len(),
                8,
                1,
                &mut db,
            )
        },
        SEALDB_OK,
        "{}",
        thread_msg()
    );
    let mut conn = null_mut();
    assert_eq!(unsafe { sealdb_connect_root(db, &mut conn) }, SEALDB_OK);
    assert_eq!(
        exec(
            conn,
            "CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT);\
             INSERT INTO t VALUES (1, 'one'), (2, 'two')"
        ),
        SEALDB_OK
    );
    let bk = c(&tmp.path().join("bk").to_string_lossy());
    assert_eq!(
        unsafe { sealdb_backup(conn, bk.as_ptr(), null()) },
        SEALDB_OK,
        "{}",
        thread_msg()
    );
    assert_eq!(sealdb_conn_free(conn), SEALDB_OK);
    assert_eq!(sealdb_db_free(db), SEALDB_OK);

    let key = [5u8; 32];
    let target = tmp.path().join("restored");
    let tc = c(&target.to_string_lossy());
    let restore = |pass: &CStr| {
        let opts = sealdb_restore_options {
            passphrase: pass.as_ptr(),
            backup_key: null(),
            backup_key_len: 0,
            backup_key_file: null(),
            threads: 1,
        };
        unsafe { sealdb_restore(bk.as_ptr(), tc.as_ptr(), key.as_ptr(), key.len(), &opts) }
    };
    assert_eq!(restore(&c("not the passphrase")), SEALDB_ERR_BACKUP_KEY);
    let msg = thread_msg();
    assert!(
        msg.contains("wrap 1 (store passphrase") && msg.contains("wrong store passphrase"),
        "{msg}"
    );
    assert!(!target.exists());
    assert_eq!(
        restore(&c("the store's passphrase")),
        SEALDB_OK,
        "{}",
        thread_msg()
    );
    let copy = sealdb::Db::open(
        &target,
        sealdb::MemoryKeyProvider::new(sealdb::KeyBytes::from_slice(&key)).expect("key"),
    )
    .expect("the restored store opens under the new key");
    let n: i64 = copy
        .root_session()
        .query("SELECT count(*) FROM t", &[])
        .expect("query")
        .collect_all()
        .expect("rows")[0]
        .get(0)
        .expect("count");
    assert_eq!(n, 2);
}

/// Stepping row by row refills the same cells: a column whose values
/// change kind and length from row to row (a long text, a number, NULL, a
/// blob, a short text) reads each row's own value, as text and as a
/// number, however the row before was read.
#[test]
fn step_reads_each_rows_own_values_through_reused_cells() {
    let (db, conn) = open_root();
    assert_eq!(
        exec(conn, "CREATE TABLE t (id INTEGER PRIMARY KEY, a)"),
        SEALDB_OK
    );
    let values = [
        "'a text longer than any other in this column'",
        "42",
        "NULL",
        "x'414243'",
        "'é'",
        "2.5",
        "''",
    ];
    for (i, v) in values.iter().enumerate() {
        assert_eq!(
            exec(conn, &format!("INSERT INTO t VALUES ({i}, {v})")),
            SEALDB_OK
        );
    }
    let want = [
        Some("a text longer than any other in this column"),
        Some("42"),
        None,
        Some("ABC"),
        Some("é"),
        Some("2.5"),
        Some(""),
    ];
    let stmt = prepare(conn, "SELECT a, id FROM t ORDER BY id");
    for round in 0..2 {
        for (i, w) in want.iter().enumerate() {
            assert_eq!(sealdb_step(stmt), SEALDB_ROW);
            // Every other round, the text is read twice or not at all.
            if round == 0 || i % 2 == 0 {
                assert_eq!(text(stmt, 0).as_deref(), *w, "row {i}");
            }
            if round == 1 {
                assert_eq!(text(stmt, 0).as_deref(), *w, "row {i}");
            }
            assert_eq!(text(stmt, 1), Some(i.to_string()));
        }
        assert_eq!(sealdb_step(stmt), SEALDB_DONE);
        assert_eq!(sealdb_reset(stmt), SEALDB_OK);
    }
    assert_eq!(sealdb_stmt_free(stmt), SEALDB_OK);
    assert_eq!(sealdb_conn_free(conn), SEALDB_OK);
    assert_eq!(sealdb_db_free(db), SEALDB_OK);
}
