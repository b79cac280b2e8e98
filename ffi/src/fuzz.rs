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

use std::ffi::{c_char, CString};

use crate::conn::{sealdb_conn, sealdb_conn_errmsg, sealdb_conn_free, sealdb_connect_root};
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
