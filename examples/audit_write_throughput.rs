//! Audited writes per second: autocommit INSERTs into a table with
//! `EXPERIMENTAL_AUDIT SET WRITE`, so every statement commits its row and
//! appends one audit record, on the real file system, with
//! `SyncMode::Full` (every commit and record fsynced) and `Normal`. For
//! BENCHMARKS.md; not a test.
//!
//! ```sh
//! cargo run --release --example audit_write_throughput [-- ROWS]
//! ```

use std::time::Instant;

use sealdb::storage::{StorageOptions, SyncMode};
use sealdb::{Db, KeyBytes, MemoryKeyProvider, Options};

fn run(sync: SyncMode, rows: u32, audited: bool) -> Result<f64, Box<dyn std::error::Error>> {
    let tmp = tempfile::tempdir()?;
    let options = Options {
        storage: StorageOptions {
            sync,
            ..StorageOptions::default()
        },
        ..Options::default()
    };
    let key = MemoryKeyProvider::new(KeyBytes::from_slice(&[7u8; 32]))?;
    let db = Db::open_with(tmp.path().join("db"), key, options)?;
    let root = db.root_session();
    root.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)", &[])?;
    if audited {
        root.execute("ALTER TABLE t EXPERIMENTAL_AUDIT SET WRITE", &[])?;
    }
    let stmt = root.prepare("INSERT INTO t (v) VALUES (?)")?;
    let started = Instant::now();
    for i in 0..rows {
        stmt.execute(&[&format!("row number {i}")])?;
    }
    let per_sec = f64::from(rows) / started.elapsed().as_secs_f64();
    if audited {
        assert!(db.audit_verify()?.is_intact());
    }
    Ok(per_sec)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let rows: u32 = std::env::args()
        .nth(1)
        .map(|s| s.parse())
        .transpose()?
        .unwrap_or(2000);
    for (name, sync, n) in [
        ("Full", SyncMode::Full, rows / 4),
        ("Normal", SyncMode::Normal, rows),
    ] {
        let plain = run(sync, n, false)?;
        let audited = run(sync, n, true)?;
        println!(
            "SyncMode::{name}: {n} autocommit INSERTs: not audited {plain:.0}/s, audited {audited:.0}/s"
        );
    }
    Ok(())
}
