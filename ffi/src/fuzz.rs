//! The fuzz entry point of the C ABI: one function that drives a fresh
//! in-memory database through the exported functions with the fuzzer's
//! bytes as SQL text, parameter values, parameter names and the order of
//! calls. The `fuzz/` crate runs it under cargo-afl; `tests/fuzz_corpus.rs`
//! replays `fuzz/corpus/c_abi/` through it in the normal test run.
//!
//! ```text
//!   input = SQL bytes | 0x00 | op*        (no 0x00: all of it is SQL)
//!   op    = 0 idx            bind NULL          5 len name   parameter index
//!           1 idx i64le      bind int64         6            step
//!           2 idx f64le      bind double        7            reset
//!           3 idx len bytes  bind text (any     8            clear bindings
//!                            bytes, length given)
//!           4 idx len bytes  bind blob
//! ```
//!
//! Afterwards the statement is stepped to its end (at most 64 rows), every
//! column of every row read in every form, and everything freed. Any
//! return code is fine; a panic, a leak under valgrind or a crash is not.
//!
//! [`c_abi_batch`] does the same for the batch calls (batch.rs), with the
//! contents of the parameter arrays from the fuzzer.

use std::ffi::{c_char, CString};

use crate::conn::{
    sealdb_conn, sealdb_conn_errmsg, sealdb_conn_free, sealdb_connect_root, sealdb_exec,
};
use crate::db::{sealdb_db, sealdb_db_free, sealdb_db_open_in_memory};
use crate::error::{sealdb_string_free, SEALDB_OK, SEALDB_ROW};
use crate::stmt::*;

/// Runs one fuzz input (see the module doc).
pub fn c_abi(data: &[u8]) {
    let (sql, mut ops) = match data.iter().position(|&b| b == 0) {
        Some(i) => (&data[..i], &data[i + 1..]),
        None => (data, &[][..]),
    };
    let Ok(sql) = CString::new(sql) else { return };
    let mut db: *mut sealdb_db = std::ptr::null_mut();
    let mut conn: *mut sealdb_conn = std::ptr::null_mut();
    // SAFETY: out-pointers are valid locals; every handle made here is
    // freed below, and the byte ranges passed are slices of `data` with
    // their true lengths.
    unsafe {
        if sealdb_db_open_in_memory(&mut db) != SEALDB_OK {
            return;
        }
        if sealdb_connect_root(db, &mut conn) == SEALDB_OK {
            let mut stmt: *mut sealdb_stmt = std::ptr::null_mut();
            if sealdb_prepare(conn, sql.as_ptr(), &mut stmt) == SEALDB_OK {
                while let Some((&op, rest)) = ops.split_first() {
                    ops = rest;
                    run_op(stmt, op, &mut ops);
                }
                for _ in 0..64 {
                    if sealdb_step(stmt) != SEALDB_ROW {
                        break;
                    }
                    read_row(stmt);
                }
                sealdb_stmt_free(stmt);
            }
            sealdb_string_free(sealdb_conn_errmsg(conn));
            sealdb_conn_free(conn);
        }
        sealdb_db_free(db);
    }
}

fn take<'a>(ops: &mut &'a [u8], n: usize) -> Option<&'a [u8]> {
    if ops.len() < n {
        *ops = &[];
        return None;
    }
    let (a, b) = ops.split_at(n);
    *ops = b;
    Some(a)
}

/// # Safety
/// `stmt` is a live statement handle.
unsafe fn run_op(stmt: *mut sealdb_stmt, op: u8, ops: &mut &[u8]) {
    let idx = |ops: &mut &[u8]| take(ops, 1).map(|b| i32::from(b[0] as i8));
    // SAFETY: `stmt` is live (caller); every pointer passed is to a slice
    // of the input with its true length, or to a local.
    unsafe {
        match op % 9 {
            0 => {
                if let Some(i) = idx(ops) {
                    sealdb_bind_null(stmt, i);
                }
            }
            1 => {
                if let (Some(i), Some(b)) = (idx(ops), take(ops, 8)) {
                    let v = i64::from_le_bytes(b.try_into().unwrap_or_default());
                    sealdb_bind_int64(stmt, i, v);
                }
            }
            2 => {
                if let (Some(i), Some(b)) = (idx(ops), take(ops, 8)) {
                    let v = f64::from_le_bytes(b.try_into().unwrap_or_default());
                    sealdb_bind_double(stmt, i, v);
                }
            }
            3 | 4 => {
                let Some(i) = idx(ops) else { return };
                let Some(n) = take(ops, 1) else { return };
                let Some(bytes) = take(ops, n[0] as usize) else {
                    return;
                };
                if op % 9 == 3 {
                    sealdb_bind_text(stmt, i, bytes.as_ptr().cast::<c_char>(), bytes.len() as i64);
                } else {
                    sealdb_bind_blob(stmt, i, bytes.as_ptr(), bytes.len());
                }
            }
            5 => {
                let Some(n) = take(ops, 1) else { return };
                let Some(bytes) = take(ops, n[0] as usize) else {
                    return;
                };
                if let Ok(name) = CString::new(bytes) {
                    let mut out = 0i32;
                    sealdb_bind_parameter_index(stmt, name.as_ptr(), &mut out);
                }
            }
            6 => {
                if sealdb_step(stmt) == SEALDB_ROW {
                    read_row(stmt);
                }
            }
            7 => {
                sealdb_reset(stmt);
            }
            _ => {
                sealdb_clear_bindings(stmt);
            }
        }
    }
}

/// # Safety
/// `stmt` is a live statement handle on a row.
unsafe fn read_row(stmt: *mut sealdb_stmt) {
    // SAFETY: `stmt` is live; every out-pointer is a local.
    unsafe {
        let mut n = 0i32;
        sealdb_column_count(stmt, &mut n);
        for i in -1..=n {
            let mut t = 0i32;
            sealdb_column_type(stmt, i, &mut t);
            let mut name: *const c_char = std::ptr::null();
            sealdb_column_name(stmt, i, &mut name);
            let mut v = 0i64;
            sealdb_column_int64(stmt, i, &mut v);
            let mut d = 0f64;
            sealdb_column_double(stmt, i, &mut d);
            let (mut p, mut len): (*const c_char, usize) = (std::ptr::null(), 0);
            sealdb_column_text(stmt, i, &mut p, &mut len);
            let (mut b, mut blen): (*const u8, usize) = (std::ptr::null(), 0);
            sealdb_column_blob(stmt, i, &mut b, &mut blen);
        }
    }
}

/// Runs one fuzz input through the batch calls (`sealdb_step_batch`,
/// `sealdb_execute_batch`), with the statement's SQL, the parameter
/// arrays (their contents: type codes, numbers, offsets, bytes, and which
/// pointers are NULL) and the order of calls from the fuzzer:
///
/// ```text
///   input = SQL bytes | 0x00 | op*       (on a store with a table
///                                         t (a INTEGER PRIMARY KEY, b TEXT, c)
///                                         of three rows)
///   op    = 0 n          step_batch(n rows), every value of the batch read
///           1 rows cols  execute_batch: then per column  uniform nulls
///                        types[rows] numbers[rows × 8] offsets[rows + 1]
///                        len data[len]   (nulls: bit 0 types, 1 numbers,
///                        2 offsets, 3 data are passed as NULL)
///           2            step
///           3            reset
/// ```
///
/// The arrays always have the lengths the contract asks for (the fuzzer
/// controls what is in them, not how long they are). Afterwards the
/// statement is read to its end in batches of 7. A batch that breaks its
/// own invariants (a type code out of range, offsets that decrease or
/// leave the data) panics, and so fails the replay test.
pub fn c_abi_batch(data: &[u8]) {
    use crate::batch::*;
    let (sql, mut ops) = match data.iter().position(|&b| b == 0) {
        Some(i) => (&data[..i], &data[i + 1..]),
        None => (data, &[][..]),
    };
    let Ok(sql) = CString::new(sql) else { return };
    let mut db: *mut sealdb_db = std::ptr::null_mut();
    let mut conn: *mut sealdb_conn = std::ptr::null_mut();
    // SAFETY: out-pointers are valid locals; every handle made here is
    // freed below; the parameter arrays passed have the lengths the
    // contract of sealdb_execute_batch asks for (built by `param_arrays`).
    unsafe {
        if sealdb_db_open_in_memory(&mut db) != SEALDB_OK {
            return;
        }
        if sealdb_connect_root(db, &mut conn) == SEALDB_OK {
            // A table for the SQL to use.
            sealdb_exec(conn, c"CREATE TABLE t (a INTEGER PRIMARY KEY, b TEXT, c); INSERT INTO t VALUES (1, 'x', 1.5), (2, NULL, x'00ff'), (3, 'é', NULL)".as_ptr());
            let mut stmt: *mut sealdb_stmt = std::ptr::null_mut();
            if sealdb_prepare(conn, sql.as_ptr(), &mut stmt) == SEALDB_OK {
                let mut batch = sealdb_batch {
                    rows: 0,
                    columns: 0,
                    column: std::ptr::null(),
                };
                while let Some((&op, rest)) = ops.split_first() {
                    ops = rest;
                    match op % 4 {
                        0 => {
                            let Some(n) = take(&mut ops, 1) else { break };
                            if sealdb_step_batch(stmt, usize::from(n[0]), &mut batch) == SEALDB_ROW
                            {
                                check_batch(&batch);
                            }
                        }
                        1 => {
                            let Some(arrays) = ParamArrays::parse(&mut ops) else {
                                break;
                            };
                            let cols = arrays.columns();
                            let mut changes = 0u64;
                            sealdb_execute_batch(
                                stmt,
                                arrays.rows,
                                if cols.is_empty() {
                                    std::ptr::null()
                                } else {
                                    cols.as_ptr()
                                },
                                cols.len(),
                                &mut changes,
                            );
                        }
                        2 => {
                            sealdb_step(stmt);
                        }
                        _ => {
                            sealdb_reset(stmt);
                        }
                    }
                }
                for _ in 0..16 {
                    if sealdb_step_batch(stmt, 7, &mut batch) != SEALDB_ROW {
                        break;
                    }
                    check_batch(&batch);
                }
                sealdb_stmt_free(stmt);
            }
            sealdb_conn_free(conn);
        }
        sealdb_db_free(db);
    }
}

/// The parameter columns of one `execute_batch` op, owned.
struct ParamArrays {
    rows: usize,
    columns: Vec<ParamArrayColumn>,
}

struct ParamArrayColumn {
    uniform_type: i32,
    nulls: u8,
    types: Vec<u8>,
    numbers: Vec<crate::batch::sealdb_number>,
    offsets: Vec<usize>,
    data: Vec<u8>,
}

impl ParamArrays {
    fn parse(ops: &mut &[u8]) -> Option<ParamArrays> {
        let head = take(ops, 2)?;
        let rows = usize::from(head[0] % 16);
        let mut columns = Vec::new();
        for _ in 0..head[1] % 4 {
            let c = take(ops, 2)?;
            let types = take(ops, rows)?.to_vec();
            let numbers = take(ops, rows * 8)?
                .chunks(8)
                .map(|b| crate::batch::sealdb_number {
                    integer: i64::from_le_bytes(b.try_into().unwrap_or_default()),
                })
                .collect();
            let offsets = take(ops, rows + 1)?
                .iter()
                .map(|&o| usize::from(o))
                .collect();
            let len = take(ops, 1)?[0];
            let data = take(ops, usize::from(len))?.to_vec();
            columns.push(ParamArrayColumn {
                uniform_type: i32::from(c[0] % 7),
                nulls: c[1],
                types,
                numbers,
                offsets,
                data,
            });
        }
        Some(ParamArrays { rows, columns })
    }

    fn columns(&self) -> Vec<crate::batch::sealdb_column_batch> {
        fn ptr<T>(v: &[T], null: bool) -> *const T {
            if null || v.is_empty() {
                std::ptr::null()
            } else {
                v.as_ptr()
            }
        }
        self.columns
            .iter()
            .map(|c| crate::batch::sealdb_column_batch {
                uniform_type: c.uniform_type,
                types: ptr(&c.types, c.nulls & 1 != 0),
                numbers: ptr(&c.numbers, c.nulls & 2 != 0),
                offsets: ptr(&c.offsets, c.nulls & 4 != 0),
                data: ptr(&c.data, c.nulls & 8 != 0),
                data_len: c.data.len(),
            })
            .collect()
    }
}

/// Reads every value of a result batch and checks its invariants.
///
/// # Safety
/// `batch` was filled by `sealdb_step_batch` and its statement has not
/// been stepped, reset or freed since.
unsafe fn check_batch(batch: &crate::batch::sealdb_batch) {
    // SAFETY: a batch has `columns` column batches whose arrays have
    // `rows` (types, numbers), `rows + 1` (offsets) and `data_len` (data)
    // elements, valid until the next step (the caller's contract).
    unsafe {
        for j in 0..batch.columns {
            let col = &*batch.column.add(j);
            let types = std::slice::from_raw_parts(col.types, batch.rows);
            let numbers = std::slice::from_raw_parts(col.numbers, batch.rows);
            let offsets = std::slice::from_raw_parts(col.offsets, batch.rows + 1);
            let data = if col.data_len == 0 {
                &[][..]
            } else {
                std::slice::from_raw_parts(col.data, col.data_len)
            };
            assert_eq!(offsets[0], 0, "offsets start at 0");
            assert_eq!(offsets[batch.rows], data.len(), "offsets end at data_len");
            let mut checksum = 0u64;
            for (i, &t) in types.iter().enumerate() {
                assert!((1..=5).contains(&t), "type code {t}");
                assert!(offsets[i] <= offsets[i + 1], "offsets decrease");
                let bytes = &data[offsets[i]..offsets[i + 1]];
                if !matches!(
                    i32::from(t),
                    crate::stmt::SEALDB_TEXT | crate::stmt::SEALDB_BLOB
                ) {
                    assert!(bytes.is_empty(), "bytes for a non-text value");
                }
                if i32::from(t) == crate::stmt::SEALDB_TEXT {
                    assert!(std::str::from_utf8(bytes).is_ok(), "text not UTF-8");
                }
                checksum = checksum
                    .wrapping_add(numbers[i].integer as u64)
                    .wrapping_add(bytes.iter().map(|&b| u64::from(b)).sum::<u64>());
            }
            if col.uniform_type != 0 {
                assert!(types.iter().all(|&t| i32::from(t) == col.uniform_type));
            } else {
                assert!(batch.rows > 1 && types.iter().any(|&t| t != types[0]));
            }
            std::hint::black_box(checksum);
        }
    }
}
