//! How long an open takes, clean and replaying a log: the "open time"
//! figures of BENCHMARKS.md and of the issue 14 closing note. A
//! measurement run, not a test: nothing here asserts a time.
//!
//! ```text
//!   cargo run --release --example open_time -- [DIR] [CLEAN_ROWS] [LOG_ROWS] [REPS]
//! ```
//!
//! Two stores are built once in DIR (default /tmp/sealdb-open-time,
//! removed at the end), rows of an id, a number and 100 characters:
//!
//! - `clean`: CLEAN_ROWS rows (default 500 000) loaded in transactions of
//!   10 000, then closed cleanly (the close flushes the memtable), so an
//!   open checks the manifest and every table file and replays nothing;
//! - `log`: LOG_ROWS rows (default 200 000) committed by a child process
//!   with a memtable too large to flush, which then exits without closing
//!   (as a crash after the commits reached the OS would), so an open
//!   replays the whole log.
//!
//! Each of REPS rounds (default 7) copies each store to a fresh directory
//! (untimed) and times `Db::open_with` plus one point query; the close
//! after it is not timed. Prints the fastest and the median round.

use std::path::{Path, PathBuf};
use std::time::Instant;

use sealdb::storage::{StorageOptions, SyncMode};
use sealdb::{Db, KeyBytes, MemoryKeyProvider, Options};

type Fallible<T> = Result<T, Box<dyn std::error::Error>>;

/// The child's switch: `--crashed DIR ROWS` builds the `log` store.
const CRASHED: &str = "--crashed";

fn key() -> Fallible<MemoryKeyProvider> {
    Ok(MemoryKeyProvider::new(KeyBytes::from_slice(&[0x42; 32]))?)
}

fn options(memtable_bytes: Option<usize>) -> Options {
    let mut storage = StorageOptions {
        sync: SyncMode::Normal,
        ..StorageOptions::default()
    };
    if let Some(m) = memtable_bytes {
        storage.memtable_bytes = m;
    }
    Options {
        storage,
        ..Options::default()
    }
}

/// Loads `rows` rows in transactions of `per_txn`.
fn load(db: &Db, rows: i64, per_txn: i64) -> Fallible<()> {
    let s = db.root_session();
    s.execute(
        "CREATE TABLE t (id INTEGER PRIMARY KEY, k INTEGER, v TEXT)",
        &[],
    )?;
    let ins = s.prepare("INSERT INTO t (id, k, v) VALUES (?, ?, ?)")?;
    let mut id = 0;
    while id < rows {
        s.execute("BEGIN", &[])?;
        for _ in 0..per_txn.min(rows - id) {
            id += 1;
            let v = format!("{:0>100}", id.wrapping_mul(0x9e37_79b9));
            ins.execute(&[&id, &(id % 1000), &v.as_str()])?;
        }
        s.execute("COMMIT", &[])?;
    }
    Ok(())
}

fn dir_summary(dir: &Path) -> Fallible<String> {
    let (mut tables, mut table_bytes, mut logs, mut log_bytes) = (0, 0u64, 0, 0u64);
    for e in std::fs::read_dir(dir)? {
        let e = e?;
        let name = e.file_name().to_string_lossy().into_owned();
        let len = e.metadata()?.len();
        if name.ends_with(".sst") {
            tables += 1;
            table_bytes += len;
        } else if name.ends_with(".wal") {
            logs += 1;
            log_bytes += len;
        }
    }
    let mb = |b: u64| b as f64 / (1024.0 * 1024.0);
    Ok(format!(
        "{tables} tables ({:.1} MB), {logs} log segments ({:.1} MB)",
        mb(table_bytes),
        mb(log_bytes)
    ))
}

/// Copies the store's files (not the lock) into a fresh `to`.
fn copy_store(from: &Path, to: &Path) -> Fallible<()> {
    if to.exists() {
        std::fs::remove_dir_all(to)?;
    }
    std::fs::create_dir_all(to)?;
    for e in std::fs::read_dir(from)? {
        let e = e?;
        if e.file_type()?.is_file() && e.file_name() != "LOCK" {
            std::fs::copy(e.path(), to.join(e.file_name()))?;
        }
    }
    Ok(())
}

/// Seconds to open the store in `dir` and read one row.
fn timed_open(dir: &Path) -> Fallible<f64> {
    let t = Instant::now();
    let db = Db::open_with(dir, key()?, options(None))?;
    let n = db
        .root_session()
        .query("SELECT v FROM t WHERE id = 1", &[])?
        .collect_all()?
        .len();
    let secs = t.elapsed().as_secs_f64();
    if n != 1 {
        return Err(format!("the first query found {n} rows").into());
    }
    drop(db);
    Ok(secs)
}

fn main() -> Fallible<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some(CRASHED) {
        let (dir, rows) = (PathBuf::from(&args[1]), args[2].parse()?);
        let db = Db::open_with(&dir, key()?, options(Some(1 << 30)))?;
        load(&db, rows, 1000)?;
        // No close: the memtable stays unflushed, the log holds it all.
        std::process::exit(0);
    }
    let root = PathBuf::from(
        args.first()
            .cloned()
            .unwrap_or_else(|| "/tmp/sealdb-open-time".into()),
    );
    let clean_rows: i64 = args.get(1).map_or(Ok(500_000), |s| s.parse())?;
    let log_rows: i64 = args.get(2).map_or(Ok(200_000), |s| s.parse())?;
    let reps: usize = args.get(3).map_or(Ok(7), |s| s.parse())?;
    if root.exists() {
        std::fs::remove_dir_all(&root)?;
    }
    let (clean, log, work) = (root.join("clean"), root.join("log"), root.join("work"));

    let db = Db::open_with(&clean, key()?, options(None))?;
    load(&db, clean_rows, 10_000)?;
    drop(db);
    let status = std::process::Command::new(std::env::current_exe()?)
        .args([CRASHED, &log.to_string_lossy(), &log_rows.to_string()])
        .status()?;
    if !status.success() {
        return Err(format!("building the log store failed: {status}").into());
    }
    println!("clean: {clean_rows} rows, {}", dir_summary(&clean)?);
    println!("log: {log_rows} rows, {}", dir_summary(&log)?);

    let (mut clean_s, mut log_s) = (Vec::new(), Vec::new());
    for _ in 0..reps {
        copy_store(&clean, &work)?;
        clean_s.push(timed_open(&work)?);
        copy_store(&log, &work)?;
        log_s.push(timed_open(&work)?);
    }
    for (what, v) in [
        ("clean open", &mut clean_s),
        ("open replaying the log", &mut log_s),
    ] {
        v.sort_by(f64::total_cmp);
        println!(
            "{what} + first query: fastest {:.1} ms, median {:.1} ms ({reps} rounds)",
            1e3 * v[0],
            1e3 * v[v.len() / 2]
        );
    }
    std::fs::remove_dir_all(&root)?;
    Ok(())
}
