//! db_bench-style key-value workloads: sealdb's storage engine (encrypted
//! with AES-128 and AES-256, and plaintext) against the `fjall` LSM, in one
//! run, on real files.
//!
//! ```text
//!   for rep in 0..reps:                       engines interleaved, order
//!     for family in [seq, random]:            rotated by one every rep
//!       for engine in engines:                fresh directory per run
//!         seq:    fillseq
//!         random: fillrandom ─ flush+settle ─ readrandom ─ readseq
//!                 ─ seekrandom+scan100 ─ overwrite ─ flush+compact
//!                 ─ close+reopen ─ verify every key
//! ```
//!
//! Every key is 16 bytes (`%016d` of its index, so the order of indexes is
//! the order of keys), every value 100 bytes cut from a pool of xorshift
//! bytes (incompressible). Keys, values and the random orders are made
//! before any timed loop, from fixed seeds, so every engine sees the same
//! operations. Writes are single puts (a batch of one), not fsynced: sealdb
//! `SyncMode::Normal`, fjall's default `PersistMode::Buffer` (both hand each
//! commit to the OS and fsync only at their own checkpoints).
//!
//! Write amplification is measured twice: uniformly for all engines as the
//! growth of `wchar` in `/proc/self/io` (bytes the process passed to
//! `write(2)`, so it includes the log, flushes and compactions) over
//! fillrandom plus the flush and background work it caused, divided by the
//! logical bytes `N * 116`; and, for sealdb, by its own
//! `Stats::write_amplification()`. Space amplification is the size of the
//! store directory after the family (every key overwritten once, then a
//! flush and a full compaction, and again after a reopen) divided by
//! `N * 116`, counting allocated blocks.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use sealdb::storage::{Direction, Engine, StorageOptions, SyncMode};
use sealdb::vfs::{KeyOptions, OsVfs};
use sealdb::{KeyBytes, KeyProvider, MemoryKeyProvider, UnencryptedKeyProvider};

const KEY_LEN: usize = 16;
const VALUE_LEN: usize = 100;
const SCAN_LEN: usize = 100;
/// Both engines get the same block cache (sealdb's default).
const CACHE_BYTES: u64 = 64 << 20;

type Res<T> = std::result::Result<T, String>;

// ---------------------------------------------------------------- data

/// xorshift64*: small, fast, reproducible.
struct XorShift(u64);

impl XorShift {
    fn new(seed: u64) -> Self {
        XorShift(seed.max(1))
    }
    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

/// The operations of one run, made before anything is timed.
struct Data {
    n: usize,
    keys: Vec<[u8; KEY_LEN]>,
    pool: Vec<u8>,
    /// Insertion order of fillrandom (a permutation of 0..n).
    fill_order: Vec<u32>,
    /// Keys read by readrandom (uniform, with repeats).
    read_order: Vec<u32>,
    /// Keys sought by seekrandom.
    seek_order: Vec<u32>,
    /// Order of overwrite (another permutation: every key once).
    overwrite_order: Vec<u32>,
}

fn permutation(n: usize, rng: &mut XorShift) -> Vec<u32> {
    let mut v: Vec<u32> = (0..n as u32).collect();
    for i in (1..n).rev() {
        v.swap(i, rng.below(i + 1));
    }
    v
}

impl Data {
    fn new(n: usize, seeks: usize) -> Data {
        let keys = (0..n)
            .map(|i| {
                let mut k = [0u8; KEY_LEN];
                k.copy_from_slice(format!("{i:016}").as_bytes());
                k
            })
            .collect();
        let mut rng = XorShift::new(0x5EA1_DB00_0000_0001);
        let mut pool = vec![0u8; (1 << 20) + VALUE_LEN];
        for chunk in pool.chunks_mut(8) {
            let r = rng.next().to_le_bytes();
            chunk.copy_from_slice(&r[..chunk.len()]);
        }
        let fill_order = permutation(n, &mut rng);
        let read_order = (0..n).map(|_| rng.below(n) as u32).collect();
        let seek_order = (0..seeks).map(|_| rng.below(n) as u32).collect();
        let overwrite_order = permutation(n, &mut rng);
        Data {
            n,
            keys,
            pool,
            fill_order,
            read_order,
            seek_order,
            overwrite_order,
        }
    }

    fn key(&self, i: u32) -> &[u8] {
        &self.keys[i as usize]
    }

    /// The value of key `i` after `generation` writes (0: the fills, 1: the
    /// overwrite).
    fn value(&self, i: u32, generation: u64) -> &[u8] {
        let span = (self.pool.len() - VALUE_LEN) as u64;
        let off =
            (u64::from(i) * 7919 + generation * 104_729 + generation * u64::from(i) * 31) % span;
        &self.pool[off as usize..off as usize + VALUE_LEN]
    }

    fn logical_bytes(&self) -> u64 {
        (self.n * (KEY_LEN + VALUE_LEN)) as u64
    }
}

// ---------------------------------------------------------------- engines

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum EngineKind {
    SealAes128,
    SealAes256,
    SealPlain,
    Fjall,
}

impl EngineKind {
    const ALL: [EngineKind; 4] = [
        EngineKind::SealAes128,
        EngineKind::SealAes256,
        EngineKind::SealPlain,
        EngineKind::Fjall,
    ];

    fn name(self) -> &'static str {
        match self {
            EngineKind::SealAes128 => "sealdb-aes128",
            EngineKind::SealAes256 => "sealdb-aes256",
            EngineKind::SealPlain => "sealdb-plain",
            EngineKind::Fjall => "fjall",
        }
    }

    fn from_name(s: &str) -> Option<EngineKind> {
        EngineKind::ALL.into_iter().find(|e| e.name() == s)
    }
}

/// What the runner needs from an engine. Reads check what they get, so a
/// fast wrong answer cannot pass for a fast right one.
trait Kv {
    fn put(&self, k: &[u8], v: &[u8]) -> Res<()>;
    /// Whether `k` is there with value `expect`.
    fn get_eq(&self, k: &[u8], expect: &[u8]) -> Res<bool>;
    /// Calls `f` on every entry in key order.
    fn scan_all(&self, f: &mut dyn FnMut(&[u8], &[u8])) -> Res<()>;
    /// Reads up to `n` entries from the first key >= `k`; returns how many
    /// and the first key.
    fn seek_scan(&self, k: &[u8], n: usize) -> Res<(usize, Option<Vec<u8>>)>;
    /// Writes the memtable out and waits for it.
    fn flush(&self) -> Res<()>;
    /// Compacts everything (after a flush).
    fn compact(&self) -> Res<()>;
    /// Whether background flushes/compactions are still running, if the
    /// engine says.
    fn busy(&self) -> bool;
    /// The engine's own write amplification, if it counts one.
    fn own_write_amp(&self) -> Option<f64>;
    /// Bytes of live tables, if the engine says.
    fn table_bytes(&self) -> Option<u64>;
    /// Block cache (hits, misses) so far, if the engine counts them.
    fn cache_counters(&self) -> Option<(u64, u64)>;
    fn close(self: Box<Self>) -> Res<()>;
}

struct Seal(Engine);

fn se(what: &str) -> impl Fn(sealdb::Error) -> String + '_ {
    move |e| format!("sealdb {what}: {e}")
}

impl Seal {
    fn open(kind: EngineKind, dir: &Path) -> Res<Seal> {
        let provider: Arc<dyn KeyProvider> = match kind {
            EngineKind::SealAes128 => Arc::new(
                MemoryKeyProvider::new(KeyBytes::from_slice(&[0x42; 16])).map_err(se("key"))?,
            ),
            EngineKind::SealAes256 => Arc::new(
                MemoryKeyProvider::new(KeyBytes::from_slice(&[0x42; 32])).map_err(se("key"))?,
            ),
            _ => Arc::new(UnencryptedKeyProvider::dangerous_new()),
        };
        let opts = StorageOptions {
            sync: SyncMode::Normal,
            block_cache_bytes: CACHE_BYTES as usize,
            ..StorageOptions::default()
        };
        let e = Engine::open(
            Arc::new(OsVfs::new()),
            dir,
            provider,
            KeyOptions::default(),
            opts,
        )
        .map_err(se("open"))?;
        Ok(Seal(e))
    }
}

impl Kv for Seal {
    fn put(&self, k: &[u8], v: &[u8]) -> Res<()> {
        self.0.put(k, v).map(|_| ()).map_err(se("put"))
    }
    fn get_eq(&self, k: &[u8], expect: &[u8]) -> Res<bool> {
        Ok(self.0.get(k).map_err(se("get"))?.as_deref() == Some(expect))
    }
    fn scan_all(&self, f: &mut dyn FnMut(&[u8], &[u8])) -> Res<()> {
        for e in self
            .0
            .iter(.., Direction::Forward, None)
            .map_err(se("iter"))?
        {
            let (k, v) = e.map_err(se("iter next"))?;
            f(&k, &v);
        }
        Ok(())
    }
    fn seek_scan(&self, k: &[u8], n: usize) -> Res<(usize, Option<Vec<u8>>)> {
        let mut it = self
            .0
            .iter(k.to_vec().., Direction::Forward, None)
            .map_err(se("iter"))?;
        let mut first = None;
        let mut count = 0;
        for e in it.by_ref().take(n) {
            let (k, _v) = e.map_err(se("iter next"))?;
            if first.is_none() {
                first = Some(k);
            }
            count += 1;
        }
        Ok((count, first))
    }
    fn flush(&self) -> Res<()> {
        self.0.flush().map_err(se("flush"))
    }
    fn compact(&self) -> Res<()> {
        self.0.compact().map_err(se("compact"))
    }
    fn busy(&self) -> bool {
        let s = self.0.stats();
        s.immutable_memtables > 0
    }
    fn own_write_amp(&self) -> Option<f64> {
        Some(self.0.stats().write_amplification())
    }
    fn table_bytes(&self) -> Option<u64> {
        Some(self.0.stats().table_bytes())
    }
    fn cache_counters(&self) -> Option<(u64, u64)> {
        let s = self.0.stats();
        Some((s.cache_hits, s.cache_misses))
    }
    fn close(self: Box<Self>) -> Res<()> {
        if let Some(p) = self.0.poisoned() {
            return Err(format!("sealdb poisoned: {p}"));
        }
        self.0.close().map_err(se("close"))
    }
}

struct Fjall {
    db: fjall::Database,
    ks: fjall::Keyspace,
}

fn fe(what: &str) -> impl Fn(fjall::Error) -> String + '_ {
    move |e| format!("fjall {what}: {e:?}")
}

impl Fjall {
    fn open(dir: &Path) -> Res<Fjall> {
        // Defaults (journal PersistMode::Buffer after each write, LZ4 block
        // compression, 64 MiB memtable), the same block cache as sealdb.
        let db = fjall::Database::builder(dir)
            .cache_size(CACHE_BYTES)
            .open()
            .map_err(fe("open"))?;
        let ks = db
            .keyspace("bench", fjall::KeyspaceCreateOptions::default)
            .map_err(fe("keyspace"))?;
        Ok(Fjall { db, ks })
    }
}

impl Kv for Fjall {
    fn put(&self, k: &[u8], v: &[u8]) -> Res<()> {
        self.ks.insert(k, v).map_err(fe("insert"))
    }
    fn get_eq(&self, k: &[u8], expect: &[u8]) -> Res<bool> {
        Ok(self.ks.get(k).map_err(fe("get"))?.as_deref() == Some(expect))
    }
    fn scan_all(&self, f: &mut dyn FnMut(&[u8], &[u8])) -> Res<()> {
        for g in self.ks.iter() {
            let (k, v) = g.into_inner().map_err(fe("iter next"))?;
            f(&k, &v);
        }
        Ok(())
    }
    fn seek_scan(&self, k: &[u8], n: usize) -> Res<(usize, Option<Vec<u8>>)> {
        let mut first = None;
        let mut count = 0;
        for g in self.ks.range::<&[u8], _>(k..).take(n) {
            let (k, _v) = g.into_inner().map_err(fe("iter next"))?;
            if first.is_none() {
                first = Some(k.to_vec());
            }
            count += 1;
        }
        Ok((count, first))
    }
    fn flush(&self) -> Res<()> {
        self.ks.rotate_memtable_and_wait().map_err(fe("flush"))
    }
    fn compact(&self) -> Res<()> {
        self.ks.major_compact().map_err(fe("compact"))
    }
    fn busy(&self) -> bool {
        self.db.active_compactions() > 0 || self.db.outstanding_flushes() > 0
    }
    fn own_write_amp(&self) -> Option<f64> {
        None
    }
    fn table_bytes(&self) -> Option<u64> {
        Some(self.ks.disk_space())
    }
    fn cache_counters(&self) -> Option<(u64, u64)> {
        None
    }
    fn close(self: Box<Self>) -> Res<()> {
        self.db
            .persist(fjall::PersistMode::SyncAll)
            .map_err(fe("persist"))
    }
}

fn open(kind: EngineKind, dir: &Path) -> Res<Box<dyn Kv>> {
    Ok(match kind {
        EngineKind::Fjall => Box::new(Fjall::open(dir)?),
        k => Box::new(Seal::open(k, dir)?),
    })
}

// ---------------------------------------------------------------- measuring

/// Bytes this process has passed to write(2) so far (all threads).
fn wchar() -> u64 {
    std::fs::read_to_string("/proc/self/io")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("wchar:").and_then(|n| n.trim().parse().ok()))
        })
        .unwrap_or(0)
}

/// Every file under `p` with its length and allocated bytes.
fn list_files(p: &Path, out: &mut Vec<(String, u64, u64)>) {
    use std::os::unix::fs::MetadataExt;
    let Ok(rd) = std::fs::read_dir(p) else { return };
    for e in rd.filter_map(|e| e.ok()) {
        match e.metadata() {
            Ok(m) if m.is_dir() => list_files(&e.path(), out),
            Ok(m) => out.push((e.path().display().to_string(), m.len(), m.blocks() * 512)),
            Err(_) => {}
        }
    }
}

/// Bytes allocated on disk under `p` (st_blocks, so a preallocated sparse
/// file such as fjall's journal counts only what it really holds).
/// With `KVBENCH_LIST_FILES` set, prints the files of a store.
fn list_if_asked(dir: &Path) {
    if std::env::var_os("KVBENCH_LIST_FILES").is_some() {
        let mut files = Vec::new();
        list_files(dir, &mut files);
        files.sort();
        for (f, len, alloc) in files {
            eprintln!("    {len:>12} {alloc:>12} {f}");
        }
    }
}

fn dir_bytes(p: &Path) -> u64 {
    use std::os::unix::fs::MetadataExt;
    let Ok(rd) = std::fs::read_dir(p) else {
        return 0;
    };
    rd.filter_map(|e| e.ok())
        .map(|e| match e.metadata() {
            Ok(m) if m.is_dir() => dir_bytes(&e.path()),
            Ok(m) => m.blocks() * 512,
            Err(_) => 0,
        })
        .sum()
}

/// (machine busy ticks over all cores, this process's ticks) so far, from
/// /proc/stat and /proc/self/stat; their difference over a span is the CPU
/// time other processes took from the machine during it.
fn cpu_ticks() -> (u64, u64) {
    let total = std::fs::read_to_string("/proc/stat")
        .ok()
        .and_then(|s| {
            let f: Vec<u64> = s
                .lines()
                .next()?
                .split_whitespace()
                .skip(1)
                .filter_map(|x| x.parse().ok())
                .collect();
            // user nice system idle iowait irq softirq steal
            Some(f.iter().take(8).sum::<u64>() - f.get(3)? - f.get(4)?)
        })
        .unwrap_or(0);
    let own = std::fs::read_to_string("/proc/self/stat")
        .ok()
        .and_then(|s| {
            let rest = &s[s.rfind(')')? + 2..];
            let f: Vec<u64> = rest
                .split_whitespace()
                .map(|x| x.parse().unwrap_or(0))
                .collect();
            // fields 14 and 15 (utime, stime), counted from the state field (3)
            Some(f.get(11)? + f.get(12)?)
        })
        .unwrap_or(0);
    (total, own)
}

/// Waits until the engine's background work has stopped writing: no
/// pending flush and no growth of `wchar` for a second (at most 120 s).
fn settle(kv: &dyn Kv) {
    let deadline = Instant::now() + Duration::from_secs(120);
    let mut last = wchar();
    let mut quiet_since = Instant::now();
    while Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
        let now = wchar();
        if now != last || kv.busy() {
            last = now;
            quiet_since = Instant::now();
        } else if quiet_since.elapsed() >= Duration::from_secs(1) {
            return;
        }
    }
}

/// Runs `ops` operations through `f`, returning ops/s.
fn timed(ops: usize, f: impl FnOnce() -> Res<()>) -> Res<f64> {
    let t = Instant::now();
    f()?;
    Ok(ops as f64 / t.elapsed().as_secs_f64())
}

#[derive(Default)]
struct Results {
    /// (engine, workload) → ops/s samples.
    ops: BTreeMap<(EngineKind, &'static str), Vec<f64>>,
    /// (engine, metric) → samples.
    metrics: BTreeMap<(EngineKind, &'static str), Vec<f64>>,
    problems: Vec<String>,
    /// CPU seconds other processes used during the whole run, and the
    /// run's wall time times the number of cores.
    foreign_cpu: (f64, f64),
}

impl Results {
    fn op(&mut self, e: EngineKind, w: &'static str, v: f64) {
        eprintln!("  {:<14} {:<18} {:>12.0} ops/s", e.name(), w, v);
        self.ops.entry((e, w)).or_default().push(v);
    }
    fn metric(&mut self, e: EngineKind, m: &'static str, v: f64) {
        eprintln!("  {:<14} {:<18} {:>12.3}", e.name(), m, v);
        self.metrics.entry((e, m)).or_default().push(v);
    }
}

const WORKLOADS: [&str; 6] = [
    "fillseq",
    "fillrandom",
    "readrandom",
    "readseq",
    "seekrandom+scan100",
    "overwrite",
];

fn run_seq(kind: EngineKind, dir: &Path, d: &Data, r: &mut Results) -> Res<()> {
    let kv = open(kind, dir)?;
    let ops = timed(d.n, || {
        for i in 0..d.n as u32 {
            kv.put(d.key(i), d.value(i, 0))?;
        }
        Ok(())
    })?;
    r.op(kind, "fillseq", ops);
    kv.close()
}

fn run_random(kind: EngineKind, dir: &Path, d: &Data, r: &mut Results) -> Res<()> {
    let kv = open(kind, dir)?;
    let logical = d.logical_bytes() as f64;

    // fillrandom, then flush and let background work finish (counted in
    // the write amplification, not in the time).
    let w0 = wchar();
    let ops = timed(d.n, || {
        for &i in &d.fill_order {
            kv.put(d.key(i), d.value(i, 0))?;
        }
        Ok(())
    })?;
    r.op(kind, "fillrandom", ops);
    kv.flush()?;
    settle(kv.as_ref());
    r.metric(kind, "write_amp_wchar", (wchar() - w0) as f64 / logical);
    if let Some(wa) = kv.own_write_amp() {
        r.metric(kind, "write_amp_own", wa);
    }

    let cache_before = kv.cache_counters();
    let mut wrong = 0usize;
    let ops = timed(d.n, || {
        for &i in &d.read_order {
            if !kv.get_eq(d.key(i), d.value(i, 0))? {
                wrong += 1;
            }
        }
        Ok(())
    })?;
    r.op(kind, "readrandom", ops);
    if let (Some((h0, m0)), Some((h1, m1))) = (cache_before, kv.cache_counters()) {
        let (h, m) = (h1 - h0, m1 - m0);
        r.metric(
            kind,
            "readrandom_cache_hit",
            h as f64 / (h + m).max(1) as f64,
        );
    }
    if wrong > 0 {
        return Err(format!(
            "readrandom: {wrong} of {} gets missing or wrong",
            d.n
        ));
    }

    let mut seen = 0usize;
    let mut bad = 0usize;
    let ops = timed(d.n, || {
        kv.scan_all(&mut |k, v| {
            let ok = d.keys.get(seen).is_some_and(|want| want.as_slice() == k)
                && v == d.value(seen as u32, 0);
            bad += usize::from(!ok);
            seen += 1;
        })
    })?;
    r.op(kind, "readseq", ops);
    if seen != d.n || bad > 0 {
        return Err(format!(
            "readseq: {seen} entries (want {}), {bad} wrong or out of order",
            d.n
        ));
    }

    let mut bad = 0usize;
    let ops = timed(d.seek_order.len(), || {
        for &i in &d.seek_order {
            let (count, first) = kv.seek_scan(d.key(i), SCAN_LEN)?;
            let want = SCAN_LEN.min(d.n - i as usize);
            if count != want || first.as_deref() != Some(d.key(i)) {
                bad += 1;
            }
        }
        Ok(())
    })?;
    r.op(kind, "seekrandom+scan100", ops);
    if bad > 0 {
        return Err(format!(
            "seekrandom: {bad} of {} seeks returned a wrong first key or count",
            d.seek_order.len()
        ));
    }

    let ops = timed(d.n, || {
        for &i in &d.overwrite_order {
            kv.put(d.key(i), d.value(i, 1))?;
        }
        Ok(())
    })?;
    r.op(kind, "overwrite", ops);

    // Space: flush, full compaction, settle, then the directory's size;
    // again after a close and reopen (both engines delete obsolete files
    // lazily, and at the latest when they open).
    kv.flush()?;
    kv.compact()?;
    settle(kv.as_ref());
    r.metric(kind, "space_amp", dir_bytes(dir) as f64 / logical);
    if let Some(t) = kv.table_bytes() {
        r.metric(kind, "space_amp_tables", t as f64 / logical);
    }
    list_if_asked(dir);
    kv.close()?;
    let kv = open(kind, dir)?;
    settle(kv.as_ref());
    r.metric(kind, "space_amp_reopen", dir_bytes(dir) as f64 / logical);
    list_if_asked(dir);

    // Every key must now hold its overwritten value, after the reopen too.
    let mut seen = 0usize;
    let mut bad = 0usize;
    kv.scan_all(&mut |k, v| {
        let ok = d.keys.get(seen).is_some_and(|want| want.as_slice() == k)
            && v == d.value(seen as u32, 1);
        bad += usize::from(!ok);
        seen += 1;
    })?;
    if seen != d.n || bad > 0 {
        return Err(format!(
            "after overwrite+compact+reopen: {seen} entries (want {}), {bad} wrong",
            d.n
        ));
    }
    let mut wrong = 0;
    for &i in d.read_order.iter().take(10_000) {
        if !kv.get_eq(d.key(i), d.value(i, 1))? {
            wrong += 1;
        }
    }
    if wrong > 0 {
        return Err(format!(
            "after overwrite+compact+reopen: {wrong} of 10000 gets missing or wrong"
        ));
    }
    kv.close()
}

// ---------------------------------------------------------------- report

fn stats(v: &[f64]) -> (f64, f64, f64) {
    let mut s = v.to_vec();
    s.sort_by(f64::total_cmp);
    let med = if s.len() % 2 == 1 {
        s[s.len() / 2]
    } else {
        (s[s.len() / 2 - 1] + s[s.len() / 2]) / 2.0
    };
    (med, s[0], s[s.len() - 1])
}

fn kops(v: f64) -> String {
    if v >= 100_000.0 {
        format!("{:.0}k", v / 1000.0)
    } else if v >= 1000.0 {
        format!("{:.1}k", v / 1000.0)
    } else {
        format!("{v:.0}")
    }
}

struct Config {
    n: usize,
    seeks: usize,
    reps: usize,
    engines: Vec<EngineKind>,
    out: Option<PathBuf>,
    dir: PathBuf,
}

fn markdown(c: &Config, r: &Results, secs: f64) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "N = {} keys (16-byte keys, 100-byte values), {} seeks of {SCAN_LEN} entries, {} repetitions, \
         single-put writes without fsync; ops/s as median (min–max). Total run {:.0} s; other processes \
         used {:.0}% of the machine's CPU meanwhile.\n",
        c.n,
        c.seeks,
        c.reps,
        secs,
        100.0 * r.foreign_cpu.0 / r.foreign_cpu.1.max(1e-9)
    );
    let _ = write!(s, "| workload |");
    for e in &c.engines {
        let _ = write!(s, " {} |", e.name());
    }
    let _ = write!(s, "\n|---|");
    for _ in &c.engines {
        let _ = write!(s, "---:|");
    }
    s.push('\n');
    for w in WORKLOADS {
        let _ = write!(s, "| {w} |");
        for e in &c.engines {
            match r.ops.get(&(*e, w)) {
                Some(v) if !v.is_empty() => {
                    let (m, lo, hi) = stats(v);
                    let _ = write!(s, " **{}** ({}–{}) |", kops(m), kops(lo), kops(hi));
                }
                _ => {
                    let _ = write!(s, " n/a |");
                }
            }
        }
        s.push('\n');
    }
    for (m, label) in [
        (
            "write_amp_wchar",
            "write amp (bytes written ÷ N·116, fillrandom+flush+settle)",
        ),
        ("write_amp_own", "write amp (engine's own counter)"),
        (
            "space_amp",
            "space amp (store dir on disk ÷ N·116, right after compact)",
        ),
        (
            "space_amp_reopen",
            "space amp (store dir on disk ÷ N·116, after compact + reopen)",
        ),
        (
            "space_amp_tables",
            "space amp (live tables only, engine's count)",
        ),
        ("readrandom_cache_hit", "block cache hit rate in readrandom"),
    ] {
        let _ = write!(s, "| {label} |");
        for e in &c.engines {
            match r.metrics.get(&(*e, m)) {
                Some(v) if !v.is_empty() => {
                    let (med, lo, hi) = stats(v);
                    if hi - lo < 0.005 {
                        let _ = write!(s, " {med:.2} |");
                    } else {
                        let _ = write!(s, " {med:.2} ({lo:.2}–{hi:.2}) |");
                    }
                }
                _ => {
                    let _ = write!(s, " n/a |");
                }
            }
        }
        s.push('\n');
    }

    // Ratios of medians.
    let med = |e: EngineKind, w: &str| {
        r.ops
            .get(&(e, w))
            .filter(|v| !v.is_empty())
            .map(|v| stats(v).0)
    };
    let pairs = [
        (EngineKind::SealAes128, EngineKind::SealPlain),
        (EngineKind::SealAes256, EngineKind::SealPlain),
        (EngineKind::SealAes128, EngineKind::Fjall),
        (EngineKind::SealPlain, EngineKind::Fjall),
    ];
    let pairs: Vec<_> = pairs
        .into_iter()
        .filter(|(a, b)| c.engines.contains(a) && c.engines.contains(b))
        .collect();
    if !pairs.is_empty() {
        let _ = write!(
            s,
            "\nRatios of medians (>1: the first is faster):\n\n| workload |"
        );
        for (a, b) in &pairs {
            let _ = write!(s, " {} ÷ {} |", a.name(), b.name());
        }
        let _ = write!(s, "\n|---|");
        for _ in &pairs {
            let _ = write!(s, "---:|");
        }
        s.push('\n');
        for w in WORKLOADS {
            let _ = write!(s, "| {w} |");
            for (a, b) in &pairs {
                match (med(*a, w), med(*b, w)) {
                    (Some(x), Some(y)) => {
                        let _ = write!(s, " {:.2} |", x / y);
                    }
                    _ => {
                        let _ = write!(s, " n/a |");
                    }
                }
            }
            s.push('\n');
        }
    }
    if !r.problems.is_empty() {
        let _ = writeln!(s, "\nProblems:\n");
        for p in &r.problems {
            let _ = writeln!(s, "- {p}");
        }
    }
    s
}

fn json_str(s: &str) -> String {
    let mut o = String::from("\"");
    for ch in s.chars() {
        match ch {
            '"' => o.push_str("\\\""),
            '\\' => o.push_str("\\\\"),
            c if (c as u32) < 0x20 => {
                let _ = write!(o, "\\u{:04x}", c as u32);
            }
            c => o.push(c),
        }
    }
    o.push('"');
    o
}

fn json(c: &Config, r: &Results, secs: f64) -> String {
    let mut s = String::new();
    let _ = write!(
        s,
        "{{\n  \"n\": {},\n  \"seeks\": {},\n  \"scan_len\": {SCAN_LEN},\n  \"key_bytes\": {KEY_LEN},\n  \
         \"value_bytes\": {VALUE_LEN},\n  \"reps\": {},\n  \"batch_size\": 1,\n  \"fsync_per_write\": false,\n  \
         \"total_seconds\": {secs:.1},\n  \"foreign_cpu_share\": {:.3},\n  \"engines\": {{",
        c.n,
        c.seeks,
        c.reps,
        r.foreign_cpu.0 / r.foreign_cpu.1.max(1e-9)
    );
    for (ei, e) in c.engines.iter().enumerate() {
        let _ = write!(
            s,
            "{}\n    {}: {{",
            if ei > 0 { "," } else { "" },
            json_str(e.name())
        );
        let mut first = true;
        let series = WORKLOADS
            .iter()
            .map(|w| (*w, "ops_per_sec", r.ops.get(&(*e, *w))))
            .chain(
                [
                    "write_amp_wchar",
                    "write_amp_own",
                    "space_amp",
                    "space_amp_reopen",
                    "space_amp_tables",
                    "readrandom_cache_hit",
                ]
                .iter()
                .map(|m| (*m, "value", r.metrics.get(&(*e, *m)))),
            );
        for (name, unit, v) in series {
            let Some(v) = v.filter(|v| !v.is_empty()) else {
                continue;
            };
            let (m, lo, hi) = stats(v);
            let samples: Vec<String> = v.iter().map(|x| format!("{x:.3}")).collect();
            let _ = write!(
                s,
                "{}\n      {}: {{\"unit\": \"{unit}\", \"median\": {m:.3}, \"min\": {lo:.3}, \"max\": {hi:.3}, \"samples\": [{}]}}",
                if first { "" } else { "," },
                json_str(name),
                samples.join(", ")
            );
            first = false;
        }
        let _ = write!(s, "\n    }}");
    }
    let probs: Vec<String> = r.problems.iter().map(|p| json_str(p)).collect();
    let _ = write!(s, "\n  }},\n  \"problems\": [{}]\n}}\n", probs.join(", "));
    s
}

// ---------------------------------------------------------------- main

fn usage() -> ! {
    eprintln!(
        "usage: sealdb-kv-bench [--n N | --quick] [--seeks S] [--reps R] [--engines a,b,..] [--dir TMPDIR] [--out DIR]\n\
         engines: sealdb-aes128, sealdb-aes256, sealdb-plain, fjall (default: all)"
    );
    std::process::exit(2)
}

fn parse_args() -> Config {
    let mut c = Config {
        n: 1_000_000,
        seeks: 0,
        reps: 3,
        engines: EngineKind::ALL.to_vec(),
        out: None,
        dir: std::env::temp_dir(),
    };
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let mut val = || args.next().unwrap_or_else(|| usage());
        match a.as_str() {
            "--n" => c.n = val().replace('_', "").parse().unwrap_or_else(|_| usage()),
            "--quick" => c.n = 100_000,
            "--seeks" => c.seeks = val().replace('_', "").parse().unwrap_or_else(|_| usage()),
            "--reps" => c.reps = val().parse().unwrap_or_else(|_| usage()),
            "--engines" => {
                c.engines = val()
                    .split(',')
                    .map(|s| EngineKind::from_name(s.trim()).unwrap_or_else(|| usage()))
                    .collect()
            }
            "--dir" => c.dir = PathBuf::from(val()),
            "--out" => c.out = Some(PathBuf::from(val())),
            "-h" | "--help" => usage(),
            _ => usage(),
        }
    }
    if c.seeks == 0 {
        c.seeks = (c.n / 10).max(1);
    }
    if c.n == 0 || c.reps == 0 || c.engines.is_empty() {
        usage();
    }
    c
}

fn main() {
    let c = parse_args();
    let root = c.dir.join(format!("sealdb-kvbench-{}", std::process::id()));
    if let Err(e) = std::fs::create_dir_all(&root) {
        eprintln!("cannot create {}: {e}", root.display());
        std::process::exit(1);
    }
    eprintln!("generating data for N = {} ...", c.n);
    let d = Data::new(c.n, c.seeks);
    let mut r = Results::default();
    let start = Instant::now();
    let cpu0 = cpu_ticks();
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get()) as f64;
    let mut run_id = 0;
    for rep in 0..c.reps {
        for family in ["seq", "random"] {
            let k = c.engines.len();
            for j in 0..k {
                let kind = c.engines[(j + rep) % k];
                run_id += 1;
                let dir = root.join(format!("{run_id:03}-{}-{family}", kind.name()));
                eprintln!("[rep {}/{}] {family} {}", rep + 1, c.reps, kind.name());
                let t = Instant::now();
                let c0 = cpu_ticks();
                let res = match family {
                    "seq" => run_seq(kind, &dir, &d, &mut r),
                    _ => run_random(kind, &dir, &d, &mut r),
                };
                if let Err(e) = res {
                    let msg = format!("{} ({family} family, rep {}): {e}", kind.name(), rep + 1);
                    eprintln!("  PROBLEM: {msg}");
                    r.problems.push(msg);
                }
                let c1 = cpu_ticks();
                let foreign = ((c1.0 - c0.0) as f64 - (c1.1 - c0.1) as f64).max(0.0) / 100.0;
                eprintln!(
                    "  ({:.1} s; other processes used {:.0}% of the CPU)",
                    t.elapsed().as_secs_f64(),
                    100.0 * foreign / (t.elapsed().as_secs_f64() * cores)
                );
                let _ = std::fs::remove_dir_all(&dir);
            }
        }
    }
    let secs = start.elapsed().as_secs_f64();
    let cpu1 = cpu_ticks();
    r.foreign_cpu = (
        ((cpu1.0 - cpu0.0) as f64 - (cpu1.1 - cpu0.1) as f64).max(0.0) / 100.0,
        secs * cores,
    );
    let _ = std::fs::remove_dir_all(&root);
    let md = markdown(&c, &r, secs);
    println!("{md}");
    if let Some(out) = &c.out {
        let wrote = std::fs::create_dir_all(out)
            .and_then(|_| std::fs::write(out.join("kv.md"), &md))
            .and_then(|_| std::fs::write(out.join("kv.json"), json(&c, &r, secs)));
        match wrote {
            Ok(()) => eprintln!(
                "wrote {} and {}",
                out.join("kv.md").display(),
                out.join("kv.json").display()
            ),
            Err(e) => {
                eprintln!("cannot write to {}: {e}", out.display());
                std::process::exit(1);
            }
        }
    }
    if !r.problems.is_empty() {
        std::process::exit(3);
    }
}
