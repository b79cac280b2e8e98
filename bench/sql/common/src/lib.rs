//! What every engine of the SQL benchmark shares: the data (made from a
//! fixed seed, before any timed part), the workloads and their order, the
//! timing, and the one-line JSON a worker prints.
//!
//! A *worker* is one process that runs one repetition of every workload on
//! one engine, on fresh databases, and prints its times. The runner starts
//! one worker per engine per repetition (engines interleaved), so no engine
//! inherits another's caches or heap; sealdb's workers are the runner's own
//! binary (`worker` subcommand), the peers' are the `sealdb-sql-peer`
//! binaries. Each engine implements [`SqlDb`]; [`run_worker`] drives it:
//!
//! ```text
//!   db A (fresh):  CREATE TABLE t(id INTEGER PRIMARY KEY, k INTEGER, v TEXT)
//!     load_1txn        N rows in one transaction          (timed)
//!     close; file_size                                    (bytes on disk)
//!     open_first_query open + one lookup by id            (timed)
//!     point_lookup     100k lookups by id, prepared       (timed)
//!     range_scan       1000 scans of 100 rows by id       (timed)
//!     aggregate        COUNT, SUM(k), SUM(LENGTH(v))      (timed)
//!     count_star       SELECT COUNT(*) FROM t             (timed)
//!     full_scan        every row's id and v, in id order  (timed)
//!     create_index     CREATE INDEX ON t(k)               (timed)
//!     index_lookup     10k lookups by k                   (timed)
//!   db B (fresh):  same table
//!     load_txn100      100k rows in transactions of 100   (timed)
//!     single_commits   1000 single-row commits            (timed)
//! ```
//!
//! Rows: `id` = 1..=N in order, `k` uniform in `0..N`, `v` 100 random
//! alphanumeric characters. Every read returns a check value (row count and
//! a sum over what was read) that the runner compares across engines, so a
//! fast wrong answer cannot pass.
//!
//! Profiling: with `SQLBENCH_MARKS=1` a worker prints `mark NAME START,END`
//! (CLOCK_MONOTONIC seconds) to stderr per workload; record with
//! `perf record -g -k CLOCK_MONOTONIC` and pass `START,END` to
//! `perf report --time` to see one workload alone.

use std::path::Path;
use std::time::Instant;

use anyhow::{bail, Context, Result};

/// Seed of every random choice.
pub const SEED: u64 = 0x5EA1_DB5E_ED00_0006;
/// Length of `v`.
pub const V_LEN: usize = 100;
/// Cache size given to every engine (sealdb block cache, SQLite page cache).
pub const CACHE_BYTES: usize = 64 << 20;
/// Page size (SQLite, SQLCipher) and block size (sealdb).
pub const PAGE_BYTES: usize = 4096;

/// One workload: its key in the results and what it does.
pub struct Workload {
    /// Key in `results.json`.
    pub name: &'static str,
    /// Unit of the measurement: "s" or "bytes".
    pub unit: &'static str,
    /// Whether it reads (for the "within 1.3× of SQLite on reads" goal).
    pub kind: Kind,
}

/// What a workload mostly does.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Kind {
    /// Inserts.
    Load,
    /// Queries.
    Read,
    /// Schema change.
    Ddl,
    /// Open an existing database.
    Open,
    /// File size.
    Size,
}

/// Every workload, in report order.
pub const WORKLOADS: &[Workload] = &[
    Workload {
        name: "load_1txn",
        unit: "s",
        kind: Kind::Load,
    },
    Workload {
        name: "load_txn100",
        unit: "s",
        kind: Kind::Load,
    },
    Workload {
        name: "single_commits",
        unit: "s",
        kind: Kind::Load,
    },
    Workload {
        name: "point_lookup",
        unit: "s",
        kind: Kind::Read,
    },
    Workload {
        name: "range_scan",
        unit: "s",
        kind: Kind::Read,
    },
    Workload {
        name: "aggregate",
        unit: "s",
        kind: Kind::Read,
    },
    Workload {
        name: "count_star",
        unit: "s",
        kind: Kind::Read,
    },
    Workload {
        name: "full_scan",
        unit: "s",
        kind: Kind::Read,
    },
    Workload {
        name: "create_index",
        unit: "s",
        kind: Kind::Ddl,
    },
    Workload {
        name: "index_lookup",
        unit: "s",
        kind: Kind::Read,
    },
    Workload {
        name: "open_first_query",
        unit: "s",
        kind: Kind::Open,
    },
    Workload {
        name: "file_size",
        unit: "bytes",
        kind: Kind::Size,
    },
];

/// How much of everything.
#[derive(Clone, Debug)]
pub struct Sizes {
    /// Rows of the one-transaction load (`ci` 200k, `full` 1M).
    pub rows: usize,
    /// Rows loaded in transactions of [`Sizes::txn_rows`].
    pub batched_rows: usize,
    /// Rows per transaction of the batched load.
    pub txn_rows: usize,
    /// Single-row commits.
    pub single_commits: usize,
    /// Point lookups by id.
    pub point_lookups: usize,
    /// Range scans, and rows per scan.
    pub range_scans: usize,
    /// Rows per range scan.
    pub range_len: usize,
    /// Lookups by `k` through the index.
    pub index_lookups: usize,
}

impl Sizes {
    /// `ci` (200k rows) or `full` (1M rows); `rows` overrides the row count.
    pub fn named(name: &str, rows: Option<usize>) -> Result<Sizes> {
        let base = match name {
            "ci" => 200_000,
            "full" => 1_000_000,
            other => bail!("unknown size {other:?} (ci or full)"),
        };
        let rows = rows.unwrap_or(base);
        if rows < 1000 {
            bail!("--rows must be at least 1000");
        }
        Ok(Sizes {
            rows,
            batched_rows: 100_000.min(rows),
            txn_rows: 100,
            single_commits: 1000,
            point_lookups: 100_000,
            range_scans: 1000,
            range_len: 100,
            index_lookups: 10_000,
        })
    }

    /// One line for reports.
    pub fn describe(&self) -> String {
        format!(
            "{} rows in one transaction; {} rows in transactions of {}; {} single-row commits; \
             {} point lookups; {} scans of {} rows; {} lookups by k",
            self.rows,
            self.batched_rows,
            self.txn_rows,
            self.single_commits,
            self.point_lookups,
            self.range_scans,
            self.range_len,
            self.index_lookups
        )
    }
}

/// One row of `t`.
pub struct Row {
    /// Primary key.
    pub id: i64,
    /// Indexed later.
    pub k: i64,
    /// 100 characters.
    pub v: String,
}

/// What a read saw: rows, and a sum over their contents.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Check {
    /// Rows returned.
    pub rows: u64,
    /// Sum over the rows (wrapping).
    pub sum: u64,
}

impl Check {
    /// Adds one row with an id and a text value.
    pub fn add(&mut self, id: i64, v: &str) {
        self.rows += 1;
        self.sum = self.sum.wrapping_add(id as u64).wrapping_add(text_sum(v));
    }
}

/// A cheap fingerprint of a text value: length, first and last byte.
pub fn text_sum(v: &str) -> u64 {
    let b = v.as_bytes();
    let first = b.first().copied().unwrap_or(0) as u64;
    let last = b.last().copied().unwrap_or(0) as u64;
    (b.len() as u64) << 16 | first << 8 | last
}

/// An engine under test. Each method prepares its statement once and loops.
pub trait SqlDb: Sized {
    /// Opens (creating if needed) the database kept in directory `dir`.
    fn open(engine: &str, dir: &Path) -> Result<Self>;
    /// Runs statements that return no rows (DDL).
    fn exec(&mut self, sql: &str) -> Result<()>;
    /// `INSERT INTO t (id, k, v) VALUES (?, ?, ?)` for every row, prepared
    /// once, committing every `per_txn` rows (1: each row its own
    /// autocommit statement).
    fn insert(&mut self, rows: &[Row], per_txn: usize) -> Result<()>;
    /// `SELECT v FROM t WHERE id = ?` per id.
    fn get_by_id(&mut self, ids: &[i64]) -> Result<Check>;
    /// `SELECT id, v FROM t WHERE id >= ? AND id < ?` per start (`len` rows).
    fn scan_by_id(&mut self, starts: &[i64], len: i64) -> Result<Check>;
    /// `SELECT COUNT(*), SUM(k), SUM(LENGTH(v)) FROM t`.
    fn aggregate(&mut self) -> Result<Check>;
    /// `SELECT COUNT(*) FROM t` (the check's `rows` is the count).
    fn count_star(&mut self) -> Result<Check>;
    /// `SELECT id, v FROM t`, every row read.
    fn full_scan(&mut self) -> Result<Check>;
    /// `SELECT id, v FROM t WHERE k = ?` per k.
    fn get_by_k(&mut self, ks: &[i64]) -> Result<Check>;
    /// Library versions, for the report.
    fn version(&mut self) -> Result<String>;
}

/// xorshift64*: small, fast, reproducible.
pub struct XorShift(u64);

impl XorShift {
    /// A generator; seed 0 is replaced by 1.
    pub fn new(seed: u64) -> Self {
        XorShift(seed.max(1))
    }
    /// Next value.
    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    /// Uniform in `0..n`.
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n
    }
}

/// Everything a worker needs, made before anything is timed.
pub struct Data {
    /// Sizes used.
    pub sizes: Sizes,
    /// `max(rows, batched_rows + single_commits)` rows, ids 1.. in order.
    pub rows: Vec<Row>,
    /// Ids for the point lookups.
    pub lookup_ids: Vec<i64>,
    /// First id of every range scan.
    pub scan_starts: Vec<i64>,
    /// `k` values (each present in the table) for the index lookups.
    pub lookup_ks: Vec<i64>,
}

impl Data {
    /// Generates the data set for `sizes` from [`SEED`].
    pub fn generate(sizes: &Sizes) -> Data {
        const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
        let mut rng = XorShift::new(SEED);
        let n = sizes.rows.max(sizes.batched_rows + sizes.single_commits);
        let rows: Vec<Row> = (0..n)
            .map(|i| {
                let k = rng.below(sizes.rows as u64) as i64;
                let v: String = (0..V_LEN)
                    .map(|_| ALPHABET[rng.below(ALPHABET.len() as u64) as usize] as char)
                    .collect();
                Row {
                    id: i as i64 + 1,
                    k,
                    v,
                }
            })
            .collect();
        let n_loaded = sizes.rows as u64;
        let lookup_ids = (0..sizes.point_lookups)
            .map(|_| rng.below(n_loaded) as i64 + 1)
            .collect();
        let span = n_loaded - sizes.range_len as u64;
        let scan_starts = (0..sizes.range_scans)
            .map(|_| rng.below(span) as i64 + 1)
            .collect();
        let lookup_ks = (0..sizes.index_lookups)
            .map(|_| rows[rng.below(n_loaded) as usize].k)
            .collect();
        Data {
            sizes: sizes.clone(),
            rows,
            lookup_ids,
            scan_starts,
            lookup_ks,
        }
    }
}

/// Bytes of the files under `dir`: (sum of lengths, allocated blocks × 512).
pub fn dir_bytes(dir: &Path) -> Result<(u64, u64)> {
    use std::os::unix::fs::MetadataExt;
    let mut len = 0;
    let mut alloc = 0;
    for e in std::fs::read_dir(dir).with_context(|| format!("read {}", dir.display()))? {
        let e = e?;
        let m = e.metadata()?;
        if m.is_dir() {
            let (l, a) = dir_bytes(&e.path())?;
            len += l;
            alloc += a;
        } else {
            len += m.len();
            alloc += m.blocks() * 512;
        }
    }
    Ok((len, alloc))
}

/// The table every workload uses.
pub const CREATE_TABLE: &str = "CREATE TABLE t (id INTEGER PRIMARY KEY, k INTEGER, v TEXT)";

/// Parsed worker command line: `--engine NAME --size ci|full [--rows N] --dir DIR`.
pub struct WorkerArgs {
    /// Engine name (e.g. `sealdb-aes256`, `sqlite`).
    pub engine: String,
    /// Sizes.
    pub sizes: Sizes,
    /// Scratch directory (emptied and reused).
    pub dir: std::path::PathBuf,
}

impl WorkerArgs {
    /// Parses the arguments after the `worker` subcommand.
    pub fn parse(args: &[String]) -> Result<WorkerArgs> {
        let mut engine = None;
        let mut size = "ci".to_string();
        let mut rows = None;
        let mut dir = None;
        let mut it = args.iter();
        while let Some(a) = it.next() {
            let mut val = || it.next().with_context(|| format!("{a} needs a value"));
            match a.as_str() {
                "--engine" => engine = Some(val()?.clone()),
                "--size" => size = val()?.clone(),
                "--rows" => rows = Some(val()?.parse().context("--rows")?),
                "--dir" => dir = Some(std::path::PathBuf::from(val()?)),
                other => bail!("unknown worker argument {other:?}"),
            }
        }
        Ok(WorkerArgs {
            engine: engine.context("--engine is required")?,
            sizes: Sizes::named(&size, rows)?,
            dir: dir.context("--dir is required")?,
        })
    }
}

fn fresh_dir(dir: &Path) -> Result<()> {
    if dir.exists() {
        std::fs::remove_dir_all(dir).with_context(|| format!("remove {}", dir.display()))?;
    }
    std::fs::create_dir_all(dir).with_context(|| format!("create {}", dir.display()))
}

fn timed<T>(
    times: &mut serde_json::Map<String, serde_json::Value>,
    name: &str,
    f: impl FnOnce() -> Result<T>,
) -> Result<T> {
    let cpu0 = thread_cpu_ns();
    let t = Instant::now();
    let r = f().with_context(|| format!("workload {name}"))?;
    let end = Instant::now();
    times.insert(name.into(), (end - t).as_secs_f64().into());
    if let (Some(a), Some(b)) = (cpu0, thread_cpu_ns()) {
        if let Ok(mut m) = CPU_TIMES.lock() {
            m.push((name.into(), b.saturating_sub(a) as f64 / 1e9));
        }
    }
    if std::env::var_os("SQLBENCH_MARKS").is_some() {
        eprintln!("mark {name} {},{}", monotonic(t), monotonic(end));
    }
    Ok(r)
}

/// CPU time of each workload on the worker's thread (seconds; background
/// threads such as compaction not included), from `/proc/thread-self/schedstat`.
static CPU_TIMES: std::sync::Mutex<Vec<(String, f64)>> = std::sync::Mutex::new(Vec::new());

/// Nanoseconds this thread has run on a CPU (Linux; `None` elsewhere).
fn thread_cpu_ns() -> Option<u64> {
    let s = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    s.split_whitespace().next()?.parse().ok()
}

/// An `Instant` as `CLOCK_MONOTONIC` seconds (what `perf record -k
/// CLOCK_MONOTONIC` stamps samples with), read from its `Debug` form
/// (`Instant { tv_sec: …, tv_nsec: … }` on Linux). Only for the profiling
/// marks; "?" if the form ever changes.
fn monotonic(t: Instant) -> String {
    let d = format!("{t:?}");
    let num = |key: &str| -> Option<u64> {
        let rest = &d[d.find(key)? + key.len()..];
        let digits: String = rest
            .trim_start_matches([':', ' '])
            .chars()
            .take_while(char::is_ascii_digit)
            .collect();
        digits.parse().ok()
    };
    match (num("tv_sec"), num("tv_nsec")) {
        (Some(s), Some(n)) => format!("{s}.{:06}", n / 1000),
        _ => "?".to_string(),
    }
}

fn check_json(c: Check) -> serde_json::Value {
    serde_json::json!({ "rows": c.rows, "sum": c.sum })
}

/// Runs one repetition of every workload on engine `E` and prints one line
/// of JSON: `{"engine", "version", "times": {name: seconds},
/// "file_size": bytes, "file_size_allocated": bytes, "checks": {...}}`.
pub fn run_worker<E: SqlDb>(args: &WorkerArgs) -> Result<()> {
    let data = Data::generate(&args.sizes);
    let s = &data.sizes;
    let mut times = serde_json::Map::new();
    let mut checks = serde_json::Map::new();

    let a = args.dir.join("a");
    fresh_dir(&a)?;
    let mut db = E::open(&args.engine, &a)?;
    let version = db.version()?;
    db.exec(CREATE_TABLE)?;
    timed(&mut times, "load_1txn", || {
        db.insert(&data.rows[..s.rows], s.rows)
    })?;
    drop(db);
    let (len, alloc) = dir_bytes(&a)?;

    let probe = [data.lookup_ids[0]];
    let mut db = timed(&mut times, "open_first_query", || {
        let mut db = E::open(&args.engine, &a)?;
        let c = db.get_by_id(&probe)?;
        if c.rows != 1 {
            bail!("first query found {} rows", c.rows);
        }
        Ok(db)
    })?;
    let c = timed(&mut times, "point_lookup", || {
        db.get_by_id(&data.lookup_ids)
    })?;
    checks.insert("point_lookup".into(), check_json(c));
    let c = timed(&mut times, "range_scan", || {
        db.scan_by_id(&data.scan_starts, s.range_len as i64)
    })?;
    checks.insert("range_scan".into(), check_json(c));
    let c = timed(&mut times, "aggregate", || db.aggregate())?;
    checks.insert("aggregate".into(), check_json(c));
    let c = timed(&mut times, "count_star", || db.count_star())?;
    checks.insert("count_star".into(), check_json(c));
    let c = timed(&mut times, "full_scan", || db.full_scan())?;
    checks.insert("full_scan".into(), check_json(c));
    timed(&mut times, "create_index", || {
        db.exec("CREATE INDEX t_k ON t (k)")
    })?;
    let c = timed(&mut times, "index_lookup", || db.get_by_k(&data.lookup_ks))?;
    checks.insert("index_lookup".into(), check_json(c));
    drop(db);
    std::fs::remove_dir_all(&a)?;

    let b = args.dir.join("b");
    fresh_dir(&b)?;
    let mut db = E::open(&args.engine, &b)?;
    db.exec(CREATE_TABLE)?;
    let batched = &data.rows[..s.batched_rows];
    let singles = &data.rows[s.batched_rows..s.batched_rows + s.single_commits];
    timed(&mut times, "load_txn100", || db.insert(batched, s.txn_rows))?;
    timed(&mut times, "single_commits", || db.insert(singles, 1))?;
    let c = db.aggregate()?;
    checks.insert("after_commits".into(), check_json(c));
    drop(db);
    std::fs::remove_dir_all(&b)?;

    let out = serde_json::json!({
        "engine": args.engine,
        "version": version,
        "times": times,
        "cpu_times": CPU_TIMES
            .lock()
            .map(|m| m.iter().map(|(k, v)| (k.clone(), serde_json::Value::from(*v))).collect())
            .unwrap_or_else(|_| serde_json::Map::new()),
        "file_size": len,
        "file_size_allocated": alloc,
        "checks": checks,
    });
    println!("{out}");
    Ok(())
}
