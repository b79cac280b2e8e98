//! The C ABI's cost per row over the Rust API: a full scan of a table of
//! ROWS rows `(id INTEGER PRIMARY KEY, name TEXT, score REAL)` on an
//! in-memory (encrypted) store, read
//!
//! - `rust/step`: `Rows::next` until the end, values untouched;
//! - `rust/read`: the same, reading every value (borrowed, no copies);
//! - `c/step`: `sealdb_step` until `SEALDB_DONE`, columns untouched;
//! - `c/read`: `sealdb_step` and `sealdb_column_type` plus
//!   `sealdb_column_int64` / `_text` / `_double` for every value;
//! - `c/batch`: `sealdb_step_batch` (BATCH rows a call), reading every
//!   value from the batch's arrays.
//!
//! The C paths call the exports directly (the same functions a C program
//! links), so the difference to `rust/*` is the C layer alone: handle
//! lookup, locks, the panic boundary and the copy of each row.
//! Run: `cargo bench -p sealdb-ffi --bench rows` (throughput is rows/s).

// Each unsafe block calls an export with live handles and pointers to
// locals, the contract every export documents.
#![allow(clippy::undocumented_unsafe_blocks)]

use std::ffi::{c_char, CString};
use std::hint::black_box;
use std::ptr::{null, null_mut};

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use sealdb::{Db, Session, Value};
use sealdb_ffi::conn::*;
use sealdb_ffi::db::*;
use sealdb_ffi::error::*;
use sealdb_ffi::stmt::*;

const ROWS: i64 = 100_000;
const SELECT: &str = "SELECT id, name, score FROM t";

fn fill(exec: impl Fn(&str)) {
    exec("CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT, score REAL)");
    exec("BEGIN");
    for chunk in (1..=ROWS).collect::<Vec<_>>().chunks(1000) {
        let values: Vec<String> = chunk
            .iter()
            .map(|i| format!("({i}, 'name-{i:07}', {})", *i as f64 * 0.5))
            .collect();
        exec(&format!("INSERT INTO t VALUES {}", values.join(", ")));
    }
    exec("COMMIT");
}

fn rust_paths(c: &mut Criterion) {
    let db = Db::open_in_memory().expect("open");
    let s: Session = db.root_session();
    fill(|sql| {
        s.execute(sql, &[]).expect("fill");
    });
    let stmt = s.prepare(SELECT).expect("prepare");
    let mut g = c.benchmark_group("rust");
    g.throughput(Throughput::Elements(ROWS as u64));
    g.sample_size(10);
    g.bench_function("step", |b| {
        b.iter(|| {
            let mut rows = stmt.query(&[]).expect("query");
            let mut n = 0u64;
            while let Some(row) = rows.next().expect("next") {
                black_box(&row);
                n += 1;
            }
            assert_eq!(n, ROWS as u64);
        })
    });
    g.bench_function("read", |b| {
        b.iter(|| {
            let mut rows = stmt.query(&[]).expect("query");
            let (mut ints, mut bytes, mut reals) = (0i64, 0usize, 0f64);
            while let Some(row) = rows.next().expect("next") {
                for v in row.values() {
                    match v {
                        Value::Integer(i) => ints += i,
                        Value::Text(t) => bytes += t.len(),
                        Value::Real(r) => reals += r,
                        Value::Blob(b) => bytes += b.len(),
                        Value::Null => {}
                    }
                }
            }
            black_box((ints, bytes, reals));
        })
    });
    g.finish();
}

fn c_paths(c: &mut Criterion) {
    let mut db = null_mut();
    assert_eq!(unsafe { sealdb_db_open_in_memory(&mut db) }, SEALDB_OK);
    let mut conn = null_mut();
    assert_eq!(unsafe { sealdb_connect_root(db, &mut conn) }, SEALDB_OK);
    fill(|sql| {
        let sql = CString::new(sql).expect("no NUL");
        assert_eq!(unsafe { sealdb_exec(conn, sql.as_ptr()) }, SEALDB_OK);
    });
    let sql = CString::new(SELECT).expect("no NUL");
    let mut stmt = null_mut();
    assert_eq!(
        unsafe { sealdb_prepare(conn, sql.as_ptr(), &mut stmt) },
        SEALDB_OK
    );
    let mut g = c.benchmark_group("c");
    g.throughput(Throughput::Elements(ROWS as u64));
    g.sample_size(10);
    g.bench_function("step", |b| {
        b.iter(|| {
            assert_eq!(sealdb_reset(stmt), SEALDB_OK);
            let mut n = 0u64;
            while sealdb_step(stmt) == SEALDB_ROW {
                n += 1;
            }
            assert_eq!(n, ROWS as u64);
        })
    });
    g.bench_function("read", |b| {
        b.iter(|| {
            assert_eq!(sealdb_reset(stmt), SEALDB_OK);
            let (mut ints, mut bytes, mut reals) = (0i64, 0usize, 0f64);
            while sealdb_step(stmt) == SEALDB_ROW {
                for i in 0..3 {
                    let mut ty = 0;
                    unsafe { sealdb_column_type(stmt, i, &mut ty) };
                    match ty {
                        SEALDB_INTEGER => {
                            let mut v = 0;
                            unsafe { sealdb_column_int64(stmt, i, &mut v) };
                            ints += v;
                        }
                        SEALDB_REAL => {
                            let mut v = 0.0;
                            unsafe { sealdb_column_double(stmt, i, &mut v) };
                            reals += v;
                        }
                        SEALDB_TEXT => {
                            let mut p: *const c_char = null();
                            let mut n = 0usize;
                            unsafe { sealdb_column_text(stmt, i, &mut p, &mut n) };
                            bytes += n;
                        }
                        _ => {}
                    }
                }
            }
            black_box((ints, bytes, reals));
        })
    });
    g.finish();
    assert_eq!(sealdb_stmt_free(stmt), SEALDB_OK);
    assert_eq!(sealdb_conn_free(conn), SEALDB_OK);
    assert_eq!(sealdb_db_free(db), SEALDB_OK);
}

criterion_group!(benches, rust_paths, c_paths);
criterion_main!(benches);
