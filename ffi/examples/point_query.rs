//! Benchmark baseline: one prepared point query through the Rust API.
//!
//! The same workload as `examples/c/bench_point_query.c` and
//! `python/bench/point_query.py`: an in-memory (encrypted) store, a table of
//! 10,000 rows `(id INTEGER PRIMARY KEY, v TEXT)`, and `SELECT v FROM kv
//! WHERE id = ?` prepared once and run for pseudo-random ids, reading the
//! text. Prints the best of three rounds in ns per query.
//!
//! `cargo run --release -p sealdb-ffi --example point_query [QUERIES]`

use std::time::Instant;

use sealdb::{Db, Result};

const ROWS: i64 = 10_000;

fn main() -> Result<()> {
    let queries: i64 = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(200_000);
    let db = Db::open_in_memory()?;
    let s = db.root_session();
    s.execute(
        "CREATE TABLE kv (id INTEGER PRIMARY KEY, v TEXT NOT NULL)",
        &[],
    )?;
    let tx = s.transaction()?;
    {
        let insert = s.prepare("INSERT INTO kv (id, v) VALUES (?, ?)")?;
        for id in 1..=ROWS {
            insert.execute(&[&id, &format!("value-{id}")])?;
        }
    }
    tx.commit()?;

    let stmt = s.prepare("SELECT v FROM kv WHERE id = ?")?;
    let mut best = f64::MAX;
    let mut bytes = 0usize;
    for _round in 0..3 {
        let start = Instant::now();
        for i in 0..queries {
            let id = (i * 7919) % ROWS + 1;
            let mut rows = stmt.query(&[&id])?;
            let row = rows.next()?.ok_or_else(|| sealdb::Error::InvalidArgument {
                what: format!("row {id} is missing"),
            })?;
            let v: String = row.get(0)?;
            bytes += v.len();
        }
        best = best.min(start.elapsed().as_nanos() as f64 / queries as f64);
    }
    println!("rust: {queries} queries x 3 rounds, best {best:.0} ns/query (read {bytes} bytes)");
    Ok(())
}
