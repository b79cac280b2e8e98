//! How long `ORDER BY ... DESC LIMIT 10` takes on a 200 000-row table,
//! read backwards through the rowid or an index, against the same query
//! with the order written so no index serves it (`+id`, `+k`: a full scan
//! and a sort, the plan every DESC order had before reverse scans). The
//! figures of BENCHMARKS.md; a measurement run, not a test.
//!
//! ```text
//!   cargo run --release --example order_desc -- [DIR] [ROWS] [REPS]
//! ```
//!
//! The store is built once in DIR (default /tmp/sealdb-order-desc,
//! removed at the end): ROWS rows (default 200 000) of an id, a number
//! `k` (indexed, 1000 distinct values) and 100 characters, loaded in
//! transactions of 10 000, then closed and reopened so the rows are in
//! table files. Each query runs REPS times (default 21); the median and
//! the fastest run are printed, and every run's rows are checked.

use std::path::PathBuf;
use std::time::Instant;

use sealdb::{Db, KeyBytes, MemoryKeyProvider, Options, Value};

type Fallible<T> = Result<T, Box<dyn std::error::Error>>;

/// Whether a run's first-column values are right.
type RowCheck = dyn Fn(&[i64]) -> bool;

fn key() -> Fallible<MemoryKeyProvider> {
    Ok(MemoryKeyProvider::new(KeyBytes::from_slice(&[0x42; 32]))?)
}

fn load(db: &Db, rows: i64) -> Fallible<()> {
    let s = db.root_session();
    s.execute(
        "CREATE TABLE t (id INTEGER PRIMARY KEY, k INTEGER, v TEXT)",
        &[],
    )?;
    s.execute("CREATE INDEX t_k ON t (k)", &[])?;
    let ins = s.prepare("INSERT INTO t (id, k, v) VALUES (?, ?, ?)")?;
    let mut id = 0;
    while id < rows {
        s.execute("BEGIN", &[])?;
        for _ in 0..10_000.min(rows - id) {
            id += 1;
            let v = format!("{:0>100}", id.wrapping_mul(0x9e37_79b9));
            ins.execute(&[&id, &(id % 1000), &v.as_str()])?;
        }
        s.execute("COMMIT", &[])?;
    }
    Ok(())
}

/// Runs `sql` `reps` times; (median, fastest) milliseconds. `check`
/// looks at the first column of every run's rows.
fn time(db: &Db, sql: &str, reps: usize, check: &RowCheck) -> Fallible<(f64, f64)> {
    let s = db.root_session();
    let mut ms = Vec::with_capacity(reps);
    for _ in 0..reps {
        let t = Instant::now();
        let rows = s.query(sql, &[])?.collect_all()?;
        ms.push(t.elapsed().as_secs_f64() * 1000.0);
        let firsts: Vec<i64> = rows
            .iter()
            .map(|r| match r.values().first() {
                Some(Value::Integer(i)) => *i,
                _ => i64::MIN,
            })
            .collect();
        if !check(&firsts) {
            return Err(format!("{sql}: unexpected rows {firsts:?}").into());
        }
    }
    ms.sort_by(f64::total_cmp);
    Ok((ms[ms.len() / 2], ms[0]))
}

fn main() -> Fallible<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let dir = PathBuf::from(
        args.first()
            .cloned()
            .unwrap_or_else(|| "/tmp/sealdb-order-desc".into()),
    );
    let rows: i64 = args.get(1).map_or(Ok(200_000), |s| s.parse())?;
    let reps: usize = args.get(2).map_or(Ok(21), |s| s.parse())?;
    if dir.exists() {
        std::fs::remove_dir_all(&dir)?;
    }
    {
        let db = Db::open_with(&dir, key()?, Options::default())?;
        load(&db, rows)?;
    }
    let db = Db::open_with(&dir, key()?, Options::default())?;
    let top = move |ids: &[i64]| ids == (rows - 9..=rows).rev().collect::<Vec<_>>();
    let top_k = |ids: &[i64]| ids.len() == 10 && ids.iter().all(|&i| i % 1000 == 999);
    let queries: [(&str, &RowCheck); 4] = [
        ("SELECT id, k, v FROM t ORDER BY id DESC LIMIT 10", &top),
        ("SELECT id, k, v FROM t ORDER BY +id DESC LIMIT 10", &top),
        ("SELECT id, k, v FROM t ORDER BY k DESC LIMIT 10", &top_k),
        ("SELECT id, k, v FROM t ORDER BY +k DESC LIMIT 10", &top_k),
    ];
    println!("{rows} rows, {reps} runs each: median / fastest");
    for (sql, check) in queries {
        let (median, best) = time(&db, sql, reps, check)?;
        println!("{median:>10.3} ms {best:>10.3} ms  {sql}");
    }
    drop(db);
    std::fs::remove_dir_all(&dir)?;
    Ok(())
}
