//! The C ABI's cost per row over the Rust API, on a table of ROWS rows
//! `(id INTEGER PRIMARY KEY, name TEXT, score REAL)` in an in-memory
//! (encrypted) store.
//!
//! `scan/*`, a full scan of the table:
//!
//! - `rust_step`: `Rows::next` until the end, values untouched;
//! - `c_step`: `sealdb_step` until `SEALDB_DONE`, columns untouched;
//! - `rust_read`: `Rows::next`, reading every value (borrowed, no copies);
//! - `c_read`: `sealdb_step` and `sealdb_column_type` plus
//!   `sealdb_column_int64` / `_text` / `_double` for every value;
//! - `c_batch`: `sealdb_step_batch` (BATCH rows a call), reading every
//!   value from the batch's arrays.
//!
//! `load/*`, the ROWS rows inserted into a fresh table in one transaction:
//!
//! - `rust`: a prepared INSERT, `Statement::execute` per row;
//! - `c_rows`: `sealdb_reset`, three `sealdb_bind_*`, `sealdb_step` per row;
//! - `c_batch`: `sealdb_execute_batch`, BATCH rows a call, from column
//!   arrays built once.
//!
//! The C paths call the exports directly (the same functions a C program
//! links), so the difference to `rust_*` is the C layer alone: handle
//! lookup, locks, the panic boundary and the copy of each row.
//! Run: `cargo bench -p sealdb-ffi --bench rows` (throughput is rows/s).
//!
//! Times are the process's CPU time (all threads), not wall time: on the
//! shared 2-core machine this runs on, wall time swings with other jobs'
//! load far more than the differences measured here. Both scanned stores
//! are filled before anything is timed and the scans run before the loads,
//! so every scan meets the allocator in the same state (the engine
//! allocates per row; a heap in another state moves a scan by 15% or more).

// Each unsafe block calls an export with live handles and pointers to
// locals, the contract every export documents.
#![allow(clippy::undocumented_unsafe_blocks)]

use std::ffi::{c_char, CString};
use std::hint::black_box;
use std::ptr::{null, null_mut};

use std::time::Duration;

use criterion::measurement::{Measurement, ValueFormatter, WallTime};
use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use sealdb::{Db, Session, Value};
use sealdb_ffi::batch::*;
use sealdb_ffi::conn::*;
use sealdb_ffi::db::*;
use sealdb_ffi::error::*;
use sealdb_ffi::stmt::*;

const ROWS: i64 = 100_000;
/// Rows per `sealdb_step_batch` / `sealdb_execute_batch` call.
const BATCH: usize = 1024;
const CREATE: &str = "CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT, score REAL)";
const SELECT: &str = "SELECT id, name, score FROM t";
const INSERT: &str = "INSERT INTO t VALUES (?, ?, ?)";

fn name(i: i64) -> String {
    format!("name-{i:07}")
}

fn score(i: i64) -> f64 {
    i as f64 * 0.5
}

fn fill(exec: impl Fn(&str)) {
    exec(CREATE);
    exec("BEGIN");
    for chunk in (1..=ROWS).collect::<Vec<_>>().chunks(1000) {
        let values: Vec<String> = chunk
            .iter()
            .map(|i| format!("({i}, '{}', {})", name(*i), score(*i)))
            .collect();
        exec(&format!("INSERT INTO t VALUES {}", values.join(", ")));
    }
    exec("COMMIT");
}

/// The process's CPU time, user and system, all threads.
struct CpuTime;

fn process_cpu_time() -> Duration {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes one timespec to a valid pointer.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_PROCESS_CPUTIME_ID, &mut ts) };
    assert_eq!(rc, 0, "clock_gettime(CLOCK_PROCESS_CPUTIME_ID)");
    Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}

impl Measurement for CpuTime {
    type Intermediate = Duration;
    type Value = Duration;

    fn start(&self) -> Duration {
        process_cpu_time()
    }

    fn end(&self, start: Duration) -> Duration {
        process_cpu_time().saturating_sub(start)
    }

    fn add(&self, a: &Duration, b: &Duration) -> Duration {
        *a + *b
    }

    fn zero(&self) -> Duration {
        Duration::ZERO
    }

    fn to_f64(&self, value: &Duration) -> f64 {
        value.as_nanos() as f64
    }

    fn formatter(&self) -> &dyn ValueFormatter {
        // Durations print the same whichever clock measured them.
        static WALL: WallTime = WallTime;
        WALL.formatter()
    }
}

fn scans_and_loads(c: &mut Criterion<CpuTime>) {
    let db = Db::open_in_memory().expect("open");
    let s: Session = db.root_session();
    fill(|sql| {
        s.execute(sql, &[]).expect("fill");
    });
    let cdb = CDb::open();
    fill(|sql| cdb.exec(sql));
    scans(c, &s, &cdb);
    drop(cdb);
    drop(s);
    drop(db);
    loads(c);
}

fn scans(c: &mut Criterion<CpuTime>, s: &Session, cdb: &CDb) {
    let query = s.prepare(SELECT).expect("prepare");
    let stmt = cdb.prepare(SELECT);
    let mut g = c.benchmark_group("scan");
    g.throughput(Throughput::Elements(ROWS as u64));
    g.sample_size(10);
    g.bench_function("rust_step", |b| {
        b.iter(|| {
            let mut rows = query.query(&[]).expect("query");
            let mut n = 0u64;
            while let Some(row) = rows.next().expect("next") {
                black_box(&row);
                n += 1;
            }
            assert_eq!(n, ROWS as u64);
        })
    });
    g.bench_function("c_step", |b| {
        b.iter(|| {
            assert_eq!(sealdb_reset(stmt), SEALDB_OK);
            let mut n = 0u64;
            while sealdb_step(stmt) == SEALDB_ROW {
                n += 1;
            }
            assert_eq!(n, ROWS as u64);
        })
    });
    g.bench_function("rust_read", |b| {
        b.iter(|| {
            let mut rows = query.query(&[]).expect("query");
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
    g.bench_function("c_read", |b| {
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
    g.bench_function("c_batch", |b| {
        b.iter(|| {
            assert_eq!(sealdb_reset(stmt), SEALDB_OK);
            let (mut ints, mut bytes, mut reals) = (0i64, 0usize, 0f64);
            let mut batch = sealdb_batch {
                rows: 0,
                columns: 0,
                column: null(),
            };
            let mut n = 0usize;
            while unsafe { sealdb_step_batch(stmt, BATCH, &mut batch) } == SEALDB_ROW {
                let cols = unsafe { std::slice::from_raw_parts(batch.column, batch.columns) };
                for col in cols {
                    for i in 0..batch.rows {
                        unsafe {
                            match i32::from(*col.types.add(i)) {
                                SEALDB_INTEGER => ints += (*col.numbers.add(i)).integer,
                                SEALDB_REAL => reals += (*col.numbers.add(i)).real,
                                SEALDB_TEXT | SEALDB_BLOB => {
                                    bytes += *col.offsets.add(i + 1) - *col.offsets.add(i)
                                }
                                _ => {}
                            }
                        }
                    }
                }
                n += batch.rows;
            }
            assert_eq!(n, ROWS as usize);
            black_box((ints, bytes, reals));
        })
    });
    g.finish();
    assert_eq!(sealdb_stmt_free(stmt), SEALDB_OK);
}

fn loads(c: &mut Criterion<CpuTime>) {
    let mut g = c.benchmark_group("load");
    g.throughput(Throughput::Elements(ROWS as u64));
    g.sample_size(10);
    let names: Vec<String> = (1..=ROWS).map(name).collect();
    g.bench_function("rust", |b| {
        b.iter_batched(
            || {
                let db = Db::open_in_memory().expect("open");
                db.root_session().execute(CREATE, &[]).expect("create");
                db
            },
            |db| {
                let s = db.root_session();
                s.execute("BEGIN", &[]).expect("begin");
                {
                    let insert = s.prepare(INSERT).expect("prepare");
                    for (i, name) in (1..=ROWS).zip(&names) {
                        insert.execute(&[&i, name, &score(i)]).expect("insert");
                    }
                }
                s.execute("COMMIT", &[]).expect("commit");
                db
            },
            BatchSize::PerIteration,
        )
    });
    let fresh = || {
        let cdb = CDb::open();
        cdb.exec(CREATE);
        cdb
    };
    let c_names: Vec<CString> = (1..=ROWS)
        .map(|i| CString::new(name(i)).expect("no NUL"))
        .collect();
    g.bench_function("c_rows", |b| {
        b.iter_batched(
            fresh,
            |cdb| {
                let insert = cdb.prepare(INSERT);
                cdb.exec("BEGIN");
                for (i, name) in (1..=ROWS).zip(&c_names) {
                    assert_eq!(sealdb_reset(insert), SEALDB_OK);
                    assert_eq!(sealdb_bind_int64(insert, 1, i), SEALDB_OK);
                    let rc = unsafe { sealdb_bind_text(insert, 2, name.as_ptr(), -1) };
                    assert_eq!(rc, SEALDB_OK);
                    assert_eq!(sealdb_bind_double(insert, 3, score(i)), SEALDB_OK);
                    assert_eq!(sealdb_step(insert), SEALDB_DONE);
                }
                cdb.exec("COMMIT");
                assert_eq!(sealdb_stmt_free(insert), SEALDB_OK);
                cdb
            },
            BatchSize::PerIteration,
        )
    });
    // The parameter arrays a binding would build: ids, names (bytes and
    // offsets), scores.
    let ids: Vec<sealdb_number> = (1..=ROWS).map(|i| sealdb_number { integer: i }).collect();
    let scores: Vec<sealdb_number> = (1..=ROWS)
        .map(|i| sealdb_number { real: score(i) })
        .collect();
    let mut text = Vec::new();
    let mut offsets = vec![0usize];
    for i in 1..=ROWS {
        text.extend_from_slice(name(i).as_bytes());
        offsets.push(text.len());
    }
    g.bench_function("c_batch", |b| {
        b.iter_batched(
            fresh,
            |cdb| {
                let insert = cdb.prepare(INSERT);
                cdb.exec("BEGIN");
                let mut start = 0usize;
                while start < ROWS as usize {
                    let n = BATCH.min(ROWS as usize - start);
                    let column = |uniform_type, numbers: *const sealdb_number, offsets| {
                        sealdb_column_batch {
                            uniform_type,
                            types: null(),
                            numbers,
                            offsets,
                            data: text.as_ptr(),
                            data_len: text.len(),
                        }
                    };
                    let cols = [
                        column(SEALDB_INTEGER, ids[start..].as_ptr(), null()),
                        column(SEALDB_TEXT, null(), offsets[start..].as_ptr()),
                        column(SEALDB_REAL, scores[start..].as_ptr(), null()),
                    ];
                    let mut changes = 0;
                    let rc =
                        unsafe { sealdb_execute_batch(insert, n, cols.as_ptr(), 3, &mut changes) };
                    assert_eq!((rc, changes), (SEALDB_OK, n as u64));
                    start += n;
                }
                cdb.exec("COMMIT");
                assert_eq!(sealdb_stmt_free(insert), SEALDB_OK);
                cdb
            },
            BatchSize::PerIteration,
        )
    });
    g.finish();
}

/// A database with one root connection, freed on drop.
struct CDb {
    db: *mut sealdb_db,
    conn: *mut sealdb_conn,
}

impl CDb {
    fn open() -> CDb {
        let mut db = null_mut();
        assert_eq!(unsafe { sealdb_db_open_in_memory(&mut db) }, SEALDB_OK);
        let mut conn = null_mut();
        assert_eq!(unsafe { sealdb_connect_root(db, &mut conn) }, SEALDB_OK);
        CDb { db, conn }
    }

    fn exec(&self, sql: &str) {
        let sql = CString::new(sql).expect("no NUL");
        assert_eq!(unsafe { sealdb_exec(self.conn, sql.as_ptr()) }, SEALDB_OK);
    }

    fn prepare(&self, sql: &str) -> *mut sealdb_stmt {
        let sql = CString::new(sql).expect("no NUL");
        let mut stmt = null_mut();
        assert_eq!(
            unsafe { sealdb_prepare(self.conn, sql.as_ptr(), &mut stmt) },
            SEALDB_OK
        );
        stmt
    }
}

impl Drop for CDb {
    fn drop(&mut self) {
        assert_eq!(sealdb_conn_free(self.conn), SEALDB_OK);
        assert_eq!(sealdb_db_free(self.db), SEALDB_OK);
    }
}

criterion_group! {
    name = benches;
    config = Criterion::default().with_measurement(CpuTime);
    targets = scans_and_loads
}
criterion_main!(benches);
