//! Scaling probes for issue 19: DDL cost against the number of existing
//! tables, an IN list of many literals, and a 4-way cross join.
//!
//! `cargo run --release --example scale19 -- ddl DIR N`   (N tables, then timed CREATE/INDEX/DROP)
//! `cargo run --release --example scale19 -- inlist DIR N` (SELECT with IN of N literals)
//! `cargo run --release --example scale19 -- cross DIR ROWS [cols]`
//! `cargo run --release --example scale19 -- prefix DIR N [LEN]` (N indexed texts sharing a LEN-byte prefix)
//! `cargo run --release --example scale19 -- insert DIR N [REPS]` (N prepared inserts in one transaction, REPS times)
//! `cargo run --release --example scale19 -- scan DIR N [REPS]` (the runner's aggregate and full scan over N rows, plaintext)

use std::time::Instant;

use sealdb::crypto::provider::generate_key_file;
use sealdb::{Db, FileKeyProvider};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let mode = args[1].as_str();
    let dir = std::path::PathBuf::from(&args[2]);
    let n: usize = args[3].parse()?;
    let _ = std::fs::remove_dir_all(&dir);
    if mode == "scan" {
        let reps: usize = args.get(4).map(|r| r.parse()).transpose()?.unwrap_or(1);
        return scan(&dir, n, reps);
    }
    let key_file = dir.with_extension("key");
    if !key_file.exists() {
        generate_key_file(&key_file, 256)?;
    }
    let db = Db::open(&dir, FileKeyProvider::new(&key_file)?)?;
    let s = db.root_session();
    match mode {
        "ddl" => {
            // Create N tables, reporting time per CREATE over each block.
            let step = std::env::var("STEP")
                .ok()
                .and_then(|v| v.parse().ok())
                .unwrap_or(1000usize);
            let t0 = Instant::now();
            let mut tb = Instant::now();
            for i in 0..n {
                s.execute(
                    &format!("CREATE TABLE t{i} (id INTEGER PRIMARY KEY, a TEXT, b INTEGER)"),
                    &[],
                )?;
                if (i + 1) % step == 0 {
                    let el = tb.elapsed();
                    println!(
                        "tables {:>6}: {:.1} us/create over last {step}",
                        i + 1,
                        el.as_secs_f64() * 1e6 / step as f64
                    );
                    tb = Instant::now();
                }
            }
            println!("total create {n}: {:.3} s", t0.elapsed().as_secs_f64());
            // Single-row inserts with foreign keys checked (a write looks
            // up the tables whose constraints name its table).
            s.execute("PRAGMA foreign_keys = ON", &[])?;
            let t = Instant::now();
            for i in 0..1000i64 {
                s.execute("INSERT INTO t0 (a, b) VALUES ('x', ?)", &[&i])?;
            }
            println!(
                "insert with foreign_keys on: {:.1} us",
                t.elapsed().as_secs_f64() * 1e6 / 1000.0
            );
            s.execute("PRAGMA foreign_keys = OFF", &[])?;
            let k = 100;
            // µs per statement over k statements made by `sql`.
            let timed = |sql: &dyn Fn(usize) -> String| -> Result<f64, sealdb::Error> {
                let t = Instant::now();
                for i in 0..k {
                    s.execute(&sql(i), &[])?;
                }
                Ok(t.elapsed().as_secs_f64() * 1e6 / k as f64)
            };
            let c = timed(&|i| format!("CREATE TABLE x{i} (id INTEGER PRIMARY KEY, a TEXT)"))?;
            let ci = timed(&|i| format!("CREATE INDEX xi{i} ON x{i} (a)"))?;
            let add = timed(&|i| format!("ALTER TABLE x{i} ADD COLUMN c INTEGER"))?;
            let ren = timed(&|i| format!("ALTER TABLE x{i} RENAME TO y{i}"))?;
            let d = timed(&|i| format!("DROP TABLE y{i}"))?;
            let t = Instant::now();
            for i in 0..k {
                let mut r = s.query(
                    &format!("SELECT count(*) FROM t{}", i * (n / k).max(1) % n.max(1)),
                    &[],
                )?;
                while r.next()?.is_some() {}
            }
            let q = t.elapsed().as_secs_f64() * 1e6 / k as f64;
            println!("at {n} tables: create {c:.1} us, create index {ci:.1} us, add column {add:.1} us, rename table {ren:.1} us, drop table {d:.1} us, select {q:.1} us");
            drop(s);
            drop(db);
            let t = Instant::now();
            let db = Db::open(&dir, FileKeyProvider::new(&key_file)?)?;
            let s = db.root_session();
            let mut r = s.query("SELECT count(*) FROM t0", &[])?;
            while r.next()?.is_some() {}
            println!(
                "reopen + first query: {:.1} ms",
                t.elapsed().as_secs_f64() * 1e3
            );
        }
        "prefix" => {
            // N texts sharing a LEN-byte prefix (argument 4, default 2000),
            // indexed: the build, 2000 lookups by value through the index,
            // and a scan in index order.
            let len: usize = args.get(4).map_or(Ok(2000), |a| a.parse())?;
            s.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, p TEXT)", &[])?;
            let head = "p".repeat(len);
            let tx = s.transaction()?;
            for i in 0..n as i64 {
                tx.execute(
                    "INSERT INTO t VALUES (?, ?)",
                    &[&i, &format!("{head}{i:08}").as_str()],
                )?;
            }
            tx.commit()?;
            let t = Instant::now();
            s.execute("CREATE INDEX tp ON t (p)", &[])?;
            println!("create index: {:.3} s", t.elapsed().as_secs_f64());
            // Reopened (a close flushes), so reads go to the tables.
            drop(s);
            drop(db);
            let db = Db::open(&dir, FileKeyProvider::new(&key_file)?)?;
            let s = db.root_session();
            let st = s.prepare("SELECT id FROM t WHERE p = ?")?;
            let t = Instant::now();
            let mut found = 0;
            for j in 0..2000i64 {
                let v = format!("{head}{:08}", (j * 7919) % n as i64);
                let mut r = st.query(&[&v.as_str()])?;
                while r.next()?.is_some() {
                    found += 1;
                }
            }
            println!(
                "2000 lookups by p: {:.3} s ({found} found)",
                t.elapsed().as_secs_f64()
            );
            let t = Instant::now();
            let mut r = s.query("SELECT count(*) FROM (SELECT p FROM t ORDER BY p)", &[])?;
            while r.next()?.is_some() {}
            println!("scan in index order: {:.3} s", t.elapsed().as_secs_f64());
        }
        "inlist" => {
            s.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, v INTEGER)", &[])?;
            let tx = s.transaction()?;
            for i in 0..1000i64 {
                tx.execute("INSERT INTO t VALUES (?, ?)", &[&i, &(i * 7)])?;
            }
            tx.commit()?;
            let mut sql = String::from("SELECT count(*) FROM t WHERE v IN (");
            for i in 0..n {
                if i > 0 {
                    sql.push(',');
                }
                sql.push_str(&(i * 3).to_string());
            }
            sql.push(')');
            let t = Instant::now();
            let mut r = s.query(&sql, &[])?;
            while let Some(row) = r.next()? {
                println!("count = {}", row.get::<i64>(0)?);
            }
            println!("in-list of {n}: {:.3} s", t.elapsed().as_secs_f64());
        }
        "cross" => {
            for t in ["a", "b", "c", "d"] {
                s.execute(
                    &format!("CREATE TABLE {t} (id INTEGER PRIMARY KEY, v INTEGER)"),
                    &[],
                )?;
                let tx = s.transaction()?;
                for i in 0..n as i64 {
                    tx.execute(&format!("INSERT INTO {t} VALUES (?, ?)"), &[&i, &(i % 10)])?;
                }
                tx.commit()?;
            }
            let q = if args.get(4).map(|s| s.as_str()) == Some("cols") {
                "SELECT count(*), sum(a.v + b.v + c.v + d.v) FROM a, b, c, d"
            } else {
                "SELECT count(*) FROM a, b, c, d"
            };
            let t = Instant::now();
            let mut r = s.query(q, &[])?;
            while let Some(row) = r.next()? {
                println!("{q} -> {}", row.get::<i64>(0)?);
            }
            println!("cross join of 4 x {n}: {:.3} s", t.elapsed().as_secs_f64());
        }
        "insert" => {
            // The shape of python/bench/bulk.py's executemany, through the
            // Rust API: the engine's floor for a binding's bulk insert.
            let reps: usize = args.get(4).map(|r| r.parse()).transpose()?.unwrap_or(1);
            for rep in 0..reps {
                s.execute("DROP TABLE IF EXISTS t", &[])?;
                s.execute(
                    "CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT, score REAL)",
                    &[],
                )?;
                let t = Instant::now();
                s.execute("BEGIN", &[])?;
                {
                    let st = s.prepare("INSERT INTO t VALUES (?, ?, ?)")?;
                    for i in 0..n as i64 {
                        let name = format!("name-{i:07}");
                        st.execute(&[&i, &name, &(i as f64 * 0.5)])?;
                    }
                }
                let ti = t.elapsed();
                s.execute("COMMIT", &[])?;
                println!(
                    "rep {rep}: {n} inserts {:.1} ms, with commit {:.1} ms",
                    ti.as_secs_f64() * 1e3,
                    t.elapsed().as_secs_f64() * 1e3
                );
            }
        }
        _ => panic!("mode"),
    }
    Ok(())
}

/// The runner's table and read workloads (bench/sql), in a plaintext
/// store with its 4 KiB blocks and 64 MiB cache: N rows loaded in one
/// transaction, the store reopened (a cold cache, the load flushed, as the
/// runner reads), then the aggregate and the full scan, fastest of `reps`.
fn scan(dir: &std::path::Path, n: usize, reps: usize) -> Result<(), Box<dyn std::error::Error>> {
    let open = || {
        Db::open_with(
            dir,
            sealdb::UnencryptedKeyProvider::dangerous_new(),
            sealdb::Options {
                storage: sealdb::storage::StorageOptions {
                    block_bytes: 4096,
                    block_cache_bytes: 64 << 20,
                    ..Default::default()
                },
                ..Default::default()
            },
        )
    };
    {
        let db = open()?;
        let s = db.root_session();
        s.execute(
            "CREATE TABLE t (id INTEGER PRIMARY KEY, k INTEGER, v TEXT)",
            &[],
        )?;
        s.execute("BEGIN", &[])?;
        let st = s.prepare("INSERT INTO t VALUES (?, ?, ?)")?;
        let mut x = 88172645463325252u64;
        for i in 0..n as i64 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let v: String = (0..100)
                .map(|j| (b'a' + ((x >> (j % 60)) % 26) as u8) as char)
                .collect();
            st.execute(&[&(i + 1), &((x % n as u64) as i64), &v])?;
        }
        drop(st);
        s.execute("COMMIT", &[])?;
    }
    let db = open()?;
    let s = db.root_session();
    println!("loaded");
    for (label, q) in [
        (
            "aggregate",
            "SELECT COUNT(*), SUM(k), SUM(LENGTH(v)) FROM t",
        ),
        ("full scan", "SELECT id, v FROM t"),
    ] {
        let mut best = f64::MAX;
        let mut sum = 0i64;
        for _ in 0..reps {
            let t = Instant::now();
            let mut r = s.query(q, &[])?;
            while let Some(row) = r.next()? {
                sum = sum.wrapping_add(row.get::<i64>(0)?);
                if let Ok(v) = row.get::<String>(1) {
                    sum = sum.wrapping_add(v.len() as i64);
                }
            }
            best = best.min(t.elapsed().as_secs_f64());
        }
        println!("{label}: {:.2} ms, fastest of {reps} ({sum})", best * 1e3);
    }
    Ok(())
}
