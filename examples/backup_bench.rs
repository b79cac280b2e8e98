//! Backup and restore against a plain copy: the figures of BENCHMARKS.md
//! ("Backup and restore").
//!
//! ```text
//!   cargo run --release --example backup_bench -- [DIR] [STORE_MB]
//! ```
//!
//! Builds a store of about STORE_MB (default 1024) in DIR (default
//! /dev/shm/sealdb-backup-bench, removed at the end), then measures:
//!
//! 1. a plain copy of the store's files (read, write, fsync per file);
//! 2. a full backup with the default threads (one per CPU, at most 4) and
//!    with one thread (MB of store per second), `backup::verify`, and a
//!    restore under another key (MB of backup per second);
//! 3. an incremental backup after 1% of the rows changed;
//! 4. single-row autocommit inserts per 100 ms before, during and after a
//!    full backup of the store they write to (default threads, then one).
//!
//! A measurement run, not a test: nothing here asserts a time.
//!
//! For work on restore speed on a busy machine, two environment variables:
//! `BACKUP_BENCH_ROUNDS=N` adds N rounds of a plain copy then a restore,
//! interleaved so that both see the same load, each with its wall and CPU
//! time; `BACKUP_BENCH_REUSE=1` keeps DIR (the store and its full backup)
//! after parts 1 and 2 and the rounds, and a later run with DIR still
//! there runs only the rounds on it (no load, no backup).

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use sealdb::backup::{self, BackupKeys, BackupOptions, RestoreOptions};
use sealdb::{Db, KeyBytes, MemoryKeyProvider, ToValue};

type Fallible<T> = Result<T, Box<dyn std::error::Error>>;

fn key(b: u8) -> Fallible<MemoryKeyProvider> {
    Ok(MemoryKeyProvider::new(KeyBytes::from_slice(&[b; 32]))?)
}

fn dir_bytes(dir: &Path) -> Fallible<u64> {
    let mut total = 0;
    for e in std::fs::read_dir(dir)? {
        let e = e?;
        if e.file_type()?.is_file() {
            total += e.metadata()?.len();
        }
    }
    Ok(total)
}

fn mb(bytes: u64) -> f64 {
    bytes as f64 / (1024.0 * 1024.0)
}

/// CPU seconds this process has used (user + system, all threads; Linux
/// `/proc/self/stat`, 100 ticks a second), so the figures mean something
/// on a machine shared with other work.
fn cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let after_name = stat.rsplit(')').next().unwrap_or("");
    let fields: Vec<&str> = after_name.split_whitespace().collect();
    // utime and stime are fields 14 and 15 of the line, 12 and 13 here.
    let tick = |i: usize| {
        fields
            .get(i)
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    (tick(11) + tick(12)) / 100.0
}

/// Wall and CPU seconds of `f`.
fn timed<T>(f: impl FnOnce() -> Fallible<T>) -> Fallible<(T, f64, f64)> {
    let (t, c) = (Instant::now(), cpu_seconds());
    let r = f()?;
    Ok((r, t.elapsed().as_secs_f64(), cpu_seconds() - c))
}

/// Waits until background compaction has nothing left to do (no level over
/// its size target, few level-0 tables), so that what follows measures
/// the operation, not leftover compaction.
fn settle(db: &Db) {
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(900) {
        let stats = db.engine().stats();
        let mut target = 32u64 << 20;
        let busy = stats.levels.iter().enumerate().any(|(l, lv)| {
            if l == 0 {
                return lv.files >= 4;
            }
            let over = l < stats.levels.len() - 1 && lv.bytes > target;
            target *= 10;
            over
        });
        if !busy && stats.immutable_memtables == 0 {
            // One more pass for a compaction that had just begun.
            std::thread::sleep(Duration::from_secs(2));
            return;
        }
        std::thread::sleep(Duration::from_millis(500));
    }
}

/// Copies every file of `from` into `to`, fsyncing each: the baseline.
fn plain_copy(from: &Path, to: &Path) -> Fallible<u64> {
    std::fs::create_dir_all(to)?;
    let mut total = 0;
    for e in std::fs::read_dir(from)? {
        let e = e?;
        if !e.file_type()?.is_file() || e.file_name() == "LOCK" {
            continue;
        }
        let dst = to.join(e.file_name());
        match std::fs::copy(e.path(), &dst) {
            Ok(n) => total += n,
            // The live store removed it (an old log segment or manifest).
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => continue,
            Err(err) => return Err(err.into()),
        }
        std::fs::File::open(&dst)?.sync_all()?;
    }
    std::fs::File::open(to)?.sync_all()?;
    Ok(total)
}

/// Rounds of a plain copy of `root/src` then a restore of `root/full`,
/// interleaved: MB/s by wall time and MB per CPU-second of each, and the
/// restore's share of the copy's, round by round.
fn restore_rounds(root: &Path, rounds: usize) -> Fallible<()> {
    let (src, full) = (root.join("src"), root.join("full"));
    let backup_bytes = dir_bytes(&full)?;
    println!();
    println!("| round | load | copy MB/s | copy MB/CPU-s | restore MB/s | restore MB/CPU-s | restore vs copy: wall | CPU |");
    println!("|---|---|---:|---:|---:|---:|---:|---:|");
    for r in 1..=rounds {
        let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
        let load = load.split_whitespace().next().unwrap_or("?").to_string();
        let (copied, copy_s, copy_cpu) = timed(|| plain_copy(&src, &root.join("copy")))?;
        std::fs::remove_dir_all(root.join("copy"))?;
        let restored = root.join("restored");
        let (_, restore_s, restore_cpu) = timed(|| {
            Ok(Db::restore(
                &full,
                &restored,
                key(2)?,
                &RestoreOptions {
                    keys: BackupKeys::provider(Arc::new(key(1)?)),
                    ..RestoreOptions::default()
                },
                |_| {},
            )?)
        })?;
        std::fs::remove_dir_all(&restored)?;
        let (c, ce) = (mb(copied) / copy_s, mb(copied) / copy_cpu.max(0.01));
        let (x, xe) = (
            mb(backup_bytes) / restore_s,
            mb(backup_bytes) / restore_cpu.max(0.01),
        );
        println!(
            "| {r} | {load} | {c:.0} | {ce:.0} | {x:.0} | {xe:.0} | {:.0}% | {:.0}% |",
            100.0 * x / c,
            100.0 * xe / ce
        );
    }
    Ok(())
}

/// A 64-bit mix for pseudo-random ids and payloads (no dependency).
fn mix(mut x: u64) -> u64 {
    x ^= x >> 33;
    x = x.wrapping_mul(0xff51afd7ed558ccd);
    x ^= x >> 33;
    x = x.wrapping_mul(0xc4ceb9fe1a85ec53);
    x ^ (x >> 33)
}

fn payload(i: u64, len: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(len + 8);
    let mut x = i;
    while out.len() < len {
        x = mix(x.wrapping_add(0x9e3779b97f4a7c15));
        out.extend_from_slice(&x.to_le_bytes());
    }
    out.truncate(len);
    out
}

fn main() -> Fallible<()> {
    let mut args = std::env::args().skip(1);
    let root = PathBuf::from(
        args.next()
            .unwrap_or_else(|| "/dev/shm/sealdb-backup-bench".into()),
    );
    let store_mb: u64 = args.next().map_or(Ok(1024), |s| s.parse())?;
    let rounds: usize = std::env::var("BACKUP_BENCH_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let reuse = std::env::var_os("BACKUP_BENCH_REUSE").is_some();
    if reuse && root.join("full").join(backup::MANIFEST_FILE).exists() {
        return restore_rounds(&root, rounds.max(1));
    }
    // What `threads: 0` picks (one per CPU, at most 4), for the labels.
    let default_threads = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .clamp(1, 4);
    if root.exists() {
        std::fs::remove_dir_all(&root)?;
    }
    std::fs::create_dir_all(&root)?;
    let src = root.join("src");
    let row_bytes = 1000usize;
    let rows = store_mb * 1024 * 1024 / (row_bytes as u64 + 60);

    println!(
        "# sealdb backup benchmark: {rows} rows of {row_bytes} bytes in {}",
        root.display()
    );
    let db = Db::open(&src, key(1)?)?;
    let s = db.root_session();
    s.execute(
        "CREATE TABLE t (id INTEGER PRIMARY KEY, grp INTEGER, body BLOB)",
        &[],
    )?;
    let t = Instant::now();
    println!(
        "(load average at start: {})",
        std::fs::read_to_string("/proc/loadavg")
            .unwrap_or_default()
            .trim()
    );
    let mut i = 0u64;
    while i < rows {
        s.execute("BEGIN", &[])?;
        {
            let ins = s.prepare("INSERT INTO t VALUES (?, ?, ?)")?;
            for _ in 0..10_000.min(rows - i) {
                let body = payload(i, row_bytes);
                ins.execute(&[&(i as i64) as &dyn ToValue, &((i % 97) as i64), &body])?;
                i += 1;
            }
        }
        s.execute("COMMIT", &[])?;
    }
    let load_s = t.elapsed().as_secs_f64();
    db.engine().compact()?;
    settle(&db);
    let store = dir_bytes(&src)?;
    println!(
        "loaded {:.0} MB in {load_s:.1} s, compacted and settled",
        mb(store)
    );

    // 1. The baseline.
    let (copied, copy_s, copy_cpu) = timed(|| plain_copy(&src, &root.join("copy")))?;
    std::fs::remove_dir_all(root.join("copy"))?;

    // 2. Full backups (the default threads, then 1), verify, restore.
    let keys = BackupKeys::provider(Arc::new(key(1)?));
    let full = root.join("full");
    let mut read = 0;
    let (summary, backup_s, backup_cpu) =
        timed(|| Ok(db.backup(&full, &BackupOptions::default(), |p| read = p.bytes_total)?))?;
    let (_, backup1_s, backup1_cpu) = timed(|| {
        Ok(db.backup(
            root.join("full2"),
            &BackupOptions {
                threads: 1,
                ..BackupOptions::default()
            },
            |_| {},
        )?)
    })?;
    std::fs::remove_dir_all(root.join("full2"))?;
    let (_, verify_s, verify_cpu) = timed(|| Ok(backup::verify(&full, &keys, None, |_| {})?))?;
    let restored = root.join("restored");
    let (_, restore_s, restore_cpu) = timed(|| {
        Ok(Db::restore(
            &full,
            &restored,
            key(2)?,
            &RestoreOptions {
                keys: keys.clone(),
                ..RestoreOptions::default()
            },
            |_| {},
        )?)
    })?;
    std::fs::remove_dir_all(&restored)?;

    println!();
    println!("| operation | bytes | wall | MB/s | vs copy | CPU | MB per CPU-s | vs copy |");
    println!("|---|---:|---:|---:|---:|---:|---:|---:|");
    let copy_rate = mb(copied) / copy_s;
    let copy_eff = mb(copied) / copy_cpu.max(0.01);
    let row = |what: &str, bytes: u64, secs: f64, cpu: f64| {
        let (rate, eff) = (mb(bytes) / secs, mb(bytes) / cpu.max(0.01));
        println!(
            "| {what} | {:.0} MB | {secs:.1} s | {rate:.0} | {:.0}% | {cpu:.1} s | {eff:.0} | {:.0}% |",
            mb(bytes),
            100.0 * rate / copy_rate,
            100.0 * eff / copy_eff
        );
    };
    row(
        "plain copy of the store (std::fs::copy + fsync)",
        copied,
        copy_s,
        copy_cpu,
    );
    row(
        &format!("full backup, default threads ({default_threads})"),
        read,
        backup_s,
        backup_cpu,
    );
    row("full backup, 1 thread", read, backup1_s, backup1_cpu);
    row("verify", summary.bytes, verify_s, verify_cpu);
    row(
        &format!("restore, default threads ({default_threads})"),
        summary.bytes,
        restore_s,
        restore_cpu,
    );
    if rounds > 0 {
        restore_rounds(&root, rounds)?;
    }
    if reuse {
        drop(s);
        drop(db);
        println!("(kept {} for BACKUP_BENCH_REUSE)", root.display());
        return Ok(());
    }

    // 3. 1% of the rows change; an incremental backup after each pattern.
    let changed = rows / 100;
    println!();
    println!("| incremental after 1% changes ({changed} rows) | time | bytes | tables copied |");
    println!("|---|---:|---:|---:|");
    println!(
        "| (the full backup) | {backup_s:.2} s | {:.0} MB | {} of {} |",
        mb(summary.bytes),
        summary.tables_copied,
        summary.tables
    );
    let mut parent = full.clone();
    for (n, pattern) in [
        "rows appended (new keys at the end)",
        "rows updated at random",
    ]
    .into_iter()
    .enumerate()
    {
        s.execute("BEGIN", &[])?;
        {
            let ins = s.prepare("INSERT INTO t VALUES (?, ?, ?)")?;
            let upd = s.prepare("UPDATE t SET body = ? WHERE id = ?")?;
            for k in 0..changed {
                if n == 0 {
                    let id = rows + (n as u64 + 1) * changed + k;
                    let body = payload(id, row_bytes);
                    ins.execute(&[&(id as i64) as &dyn ToValue, &0i64, &body])?;
                } else {
                    let id = mix(k) % rows;
                    let body = payload(id ^ 0xabcdef, row_bytes);
                    upd.execute(&[&body as &dyn ToValue, &(id as i64)])?;
                }
            }
        }
        s.execute("COMMIT", &[])?;
        settle(&db);
        let dir = root.join(format!("inc{n}"));
        let t = Instant::now();
        let inc = db.backup(
            &dir,
            &BackupOptions {
                parent: Some(parent.clone()),
                ..BackupOptions::default()
            },
            |_| {},
        )?;
        let inc_s = t.elapsed().as_secs_f64();
        println!(
            "| {pattern} | {inc_s:.2} s | {:.1} MB | {} of {} |",
            mb(inc.bytes),
            inc.tables_copied,
            inc.tables
        );
        parent = dir;
    }

    // 4. Writes while a backup runs.
    let stop = Arc::new(AtomicBool::new(false));
    let count = Arc::new(AtomicU64::new(0));
    let writer = {
        let (db, stop, count) = (db.clone(), stop.clone(), count.clone());
        std::thread::spawn(move || -> sealdb::Result<()> {
            let s = db.root_session();
            let ins = s.prepare("INSERT INTO t VALUES (?, ?, ?)")?;
            let mut id = rows as i64 + 1_000_000;
            while !stop.load(Ordering::SeqCst) {
                let body = payload(id as u64, 100);
                ins.execute(&[&id as &dyn ToValue, &0i64, &body])?;
                id += 1;
                count.fetch_add(1, Ordering::Relaxed);
            }
            Ok(())
        })
    };
    let sample = |secs: f64| -> Vec<f64> {
        let mut out = Vec::new();
        let end = Instant::now() + Duration::from_secs_f64(secs);
        while Instant::now() < end {
            let before = count.load(Ordering::Relaxed);
            std::thread::sleep(Duration::from_millis(100));
            out.push((count.load(Ordering::Relaxed) - before) as f64 * 10.0);
        }
        out
    };
    let stats = |v: &[f64]| {
        let mean = v.iter().sum::<f64>() / v.len().max(1) as f64;
        let min = v.iter().copied().fold(f64::INFINITY, f64::min);
        (mean, min)
    };
    println!();
    println!("| single-row autocommit inserts | mean/s | worst 100 ms window (/s) |");
    println!("|---|---:|---:|");
    let (b, bmin) = stats(&sample(10.0));
    println!("| no backup (10 s) | {b:.0} | {bmin:.0} |");
    for threads in [0, 1] {
        let (db, dir) = (db.clone(), root.join(format!("under-load-{threads}")));
        let backup = std::thread::spawn(move || {
            db.backup(
                &dir,
                &BackupOptions {
                    threads,
                    ..BackupOptions::default()
                },
                |_| {},
            )
        });
        let mut samples = Vec::new();
        let t = Instant::now();
        while !backup.is_finished() {
            samples.extend(sample(0.1));
        }
        let took = t.elapsed().as_secs_f64();
        backup.join().map_err(|_| "backup thread panicked")??;
        let (d, dmin) = stats(&samples);
        println!(
            "| while a backup runs ({} thread(s), {took:.1} s) | {d:.0} ({:+.0}%) | {dmin:.0} |",
            if threads == 0 {
                format!("default: {default_threads}")
            } else {
                threads.to_string()
            },
            100.0 * (d - b) / b
        );
        let (a, amin) = stats(&sample(2.0));
        println!("| after it | {a:.0} | {amin:.0} |");
    }
    stop.store(true, Ordering::SeqCst);
    writer.join().map_err(|_| "writer panicked")??;
    drop(s);
    drop(db);
    std::fs::remove_dir_all(&root)?;
    Ok(())
}
