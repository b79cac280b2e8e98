//! The SQL conformance run: every sqllogictest file of a directory against
//! a fresh sealdb database, with per-file, per-directory and total counts.
//!
//! Install as `tests/slt/main.rs`, next to `tests/slt/runner.rs`, with
//!
//! ```toml
//! [[test]]
//! name = "slt"
//! path = "tests/slt/main.rs"
//! harness = false
//! ```
//!
//! and run `cargo test --release --test slt`. Only the block marked ENGINE
//! ADAPTER below knows about sealdb; the rest drives `runner.rs`.
//!
//! ```text
//!   SEALDB_SLT_DIR ─► every *.test (sorted) ─► filter ─► worker threads
//!                                                         │ per file:
//!        fnv1a(relative path) even ─► make_db(true)  (encrypted, on disk)
//!                             odd  ─► make_db(false) (in memory)
//!                                                         │ runner::run_file
//!                                                         ▼
//!   stdout, in file order:   index/between/10/slt_good_0.test: 9 passed, 1 failed, 0 skipped
//!   then per directory:      index/between/: 900 passed, 10 failed, 5 skipped
//!   then:                    pass rate 0.989436 (baseline 0.985), 22497 skipped
//!   last line:               141000 passed, 1500 failed
//! ```
//!
//! Environment:
//! - `SEALDB_SLT_DIR`: the corpus; default `tests/slt/corpus` (vendored) from the crate
//!   root. Any SQLite-format sqllogictest tree runs the same way.
//! - `SEALDB_SLT_FILTER`: run only files whose relative path contains this
//!   substring. Positional arguments (`cargo test --test slt -- index/`, or
//!   the name filter `cargo test foo` hands to every test binary) filter
//!   the same way; a positional filter that matches nothing is a clean,
//!   empty run, so `cargo test some_unit_test` still passes.
//! - `SEALDB_SLT_FILE_SECS`: wall-clock seconds per file (default 120).
//!   After that the file's remaining statements and queries count as failed.
//!   The limit is checked between records; a record that never returns is
//!   caught by a watchdog at twice the limit plus a minute, which stops the
//!   whole run with an error.
//! - `SEALDB_SLT_JOBS`: files run at once (default: the machine's threads).
//! - `SEALDB_SLT_VERBOSE`: when set, the first failures of each file are
//!   printed under its line (SQL, expected, got).
//!
//! Exit status: non-zero when no file is found (without a positional
//! filter), when a setting does not parse, or when the pass fraction
//! `passed / (passed + failed)` is below the baseline in
//! `tests/slt_baseline.txt` (one float, e.g. `0.985`; missing means 0). The
//! baseline is not applied to a filtered run, whose fraction is not
//! comparable. Raise the baseline as the engine improves.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod runner;

use std::collections::BTreeMap;
use std::io::Write;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use runner::{run_file, FileOutcome, RunOptions, SltDb, SltValue};

// ---- ENGINE ADAPTER: sealdb ------------------------------------------------

/// A sealdb database for one file: encrypted on disk in a temporary
/// directory, or in memory.
struct Sealdb {
    session: sealdb::Session,
    _db: sealdb::Db,
    _dir: Option<tempfile::TempDir>,
}

fn make_db(encrypted: bool) -> Box<dyn SltDb> {
    let (db, dir) = if encrypted {
        let dir = tempfile::tempdir().expect("temp dir");
        let key = sealdb::crypto::KeyBytes::from_slice(&[0x5a; 32]);
        let provider = sealdb::crypto::MemoryKeyProvider::new(key).expect("key");
        let options = sealdb::Options {
            storage: sealdb::storage::StorageOptions {
                sync: sealdb::storage::SyncMode::Normal,
                ..Default::default()
            },
            ..Default::default()
        };
        let db = sealdb::Db::open_with(dir.path().join("db"), provider, options).expect("open");
        (db, Some(dir))
    } else {
        (sealdb::Db::open_in_memory().expect("open"), None)
    };
    Box::new(Sealdb {
        session: db.root_session(),
        _db: db,
        _dir: dir,
    })
}

fn slt_value(v: sealdb::Value) -> SltValue {
    match v {
        sealdb::Value::Null => SltValue::Null,
        sealdb::Value::Integer(i) => SltValue::Integer(i),
        sealdb::Value::Real(f) => SltValue::Real(f),
        sealdb::Value::Text(s) => SltValue::Text(s),
        sealdb::Value::Blob(b) => SltValue::Blob(b),
    }
}

impl SltDb for Sealdb {
    fn statement(&mut self, sql: &str) -> Result<(), String> {
        self.session
            .execute(sql, &[])
            .map(|_| ())
            .map_err(|e| e.to_string())
    }
    fn query(&mut self, sql: &str) -> Result<Vec<Vec<SltValue>>, String> {
        let mut rows = self.session.query(sql, &[]).map_err(|e| e.to_string())?;
        let mut out = Vec::new();
        while let Some(r) = rows.next().map_err(|e| e.to_string())? {
            out.push(r.into_values().into_iter().map(slt_value).collect());
        }
        Ok(out)
    }
}
// ---- END ENGINE ADAPTER ----------------------------------------------------

/// Settings read from the environment and the command line.
struct Config {
    dir: PathBuf,
    /// Substrings of the relative path; a file runs if it contains all.
    filters: Vec<String>,
    /// True when the only filters came from positional arguments.
    positional_only: bool,
    file_limit: Duration,
    jobs: usize,
    verbose: bool,
    baseline: f64,
}

impl Config {
    fn load() -> Result<Config, String> {
        let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
        let dir = std::env::var_os("SEALDB_SLT_DIR")
            .map(PathBuf::from)
            .unwrap_or_else(|| manifest.join("tests/slt/corpus"));
        let mut filters = Vec::new();
        let env_filter = std::env::var("SEALDB_SLT_FILTER")
            .ok()
            .filter(|f| !f.is_empty());
        filters.extend(env_filter.clone());
        // Flags (`--nocapture`, `--quiet`, ...) that cargo may pass are ignored.
        filters.extend(std::env::args().skip(1).filter(|a| !a.starts_with('-')));
        let positional_only = env_filter.is_none() && !filters.is_empty();

        let secs: f64 = parse_env("SEALDB_SLT_FILE_SECS", 120.0)?;
        if !(secs.is_finite() && secs > 0.0) {
            return Err(format!(
                "SEALDB_SLT_FILE_SECS must be a positive number, not {secs}"
            ));
        }
        let default_jobs = std::thread::available_parallelism().map_or(1, |n| n.get());
        let jobs: usize = parse_env("SEALDB_SLT_JOBS", default_jobs)?.max(1);
        let verbose = std::env::var_os("SEALDB_SLT_VERBOSE").is_some_and(|v| !v.is_empty());

        let baseline_path = manifest.join("tests/slt_baseline.txt");
        let baseline = match std::fs::read_to_string(&baseline_path) {
            Ok(text) => text.trim().parse::<f64>().map_err(|e| {
                format!(
                    "{}: expected one float like 0.985: {e}",
                    baseline_path.display()
                )
            })?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => 0.0,
            Err(e) => return Err(format!("{}: {e}", baseline_path.display())),
        };
        Ok(Config {
            dir,
            filters,
            positional_only,
            file_limit: Duration::from_secs_f64(secs),
            jobs,
            verbose,
            baseline,
        })
    }
}

fn parse_env<T: std::str::FromStr>(name: &str, default: T) -> Result<T, String>
where
    T::Err: std::fmt::Display,
{
    match std::env::var(name) {
        Ok(v) if !v.trim().is_empty() => v.trim().parse().map_err(|e| format!("{name}={v}: {e}")),
        _ => Ok(default),
    }
}

/// Every `*.test` file under `dir`, as (relative path with `/`, full path),
/// sorted by relative path.
fn test_files(dir: &Path) -> Result<Vec<(String, PathBuf)>, String> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
        for entry in std::fs::read_dir(dir)? {
            let path = entry?.path();
            if path.is_dir() {
                walk(&path, out)?;
            } else if path.extension().is_some_and(|e| e == "test") {
                out.push(path);
            }
        }
        Ok(())
    }
    let mut paths = Vec::new();
    walk(dir, &mut paths).map_err(|e| format!("{}: {e}", dir.display()))?;
    let mut files: Vec<(String, PathBuf)> = paths
        .into_iter()
        .map(|p| {
            let relative = p.strip_prefix(dir).unwrap_or(&p);
            let name = relative
                .components()
                .map(|c| c.as_os_str().to_string_lossy().into_owned())
                .collect::<Vec<_>>()
                .join("/");
            (name, p)
        })
        .collect();
    files.sort();
    Ok(files)
}

/// FNV-1a: a path hash that is the same on every machine and toolchain.
fn path_hash(relative: &str) -> u64 {
    relative.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

fn encrypted_for(relative: &str) -> bool {
    path_hash(relative).is_multiple_of(2)
}

/// Runs one file on a fresh database; a panic while opening the database
/// (outside any record) becomes a file error.
fn run_one(path: &Path, relative: &str, limit: Duration) -> FileOutcome {
    let encrypted = encrypted_for(relative);
    let options = RunOptions {
        deadline: Some(Instant::now() + limit),
        ..RunOptions::default()
    };
    catch_unwind(AssertUnwindSafe(|| {
        let mut db = make_db(encrypted);
        run_file(path, db.as_mut(), &options)
    }))
    .unwrap_or_else(|payload| {
        let message = payload
            .downcast_ref::<&str>()
            .map(|s| (*s).to_string())
            .or_else(|| payload.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "non-string panic payload".into());
        FileOutcome {
            failed: 1,
            file_error: Some(format!("panicked outside a record: {message}")),
            ..FileOutcome::default()
        }
    })
}

#[derive(Default, Clone, Copy)]
struct Totals {
    passed: usize,
    failed: usize,
    skipped: usize,
}

impl Totals {
    fn add(&mut self, o: &FileOutcome) {
        self.passed += o.passed;
        self.failed += o.failed;
        self.skipped += o.skipped;
    }
}

fn print_file(out: &mut impl Write, relative: &str, o: &FileOutcome, verbose: bool) {
    let _ = writeln!(
        out,
        "{relative}: {} passed, {} failed, {} skipped",
        o.passed, o.failed, o.skipped
    );
    let mode = if encrypted_for(relative) {
        "encrypted on disk"
    } else {
        "in memory"
    };
    if let Some(e) = &o.file_error {
        let _ = writeln!(out, "    note ({mode}): {e}");
    }
    if let Some(line) = o.timed_out_at {
        let _ = writeln!(out, "    note ({mode}): time limit reached at line {line}");
    }
    if let Some(line) = o.halted_at {
        let _ = writeln!(out, "    note: halted at line {line}");
    }
    if verbose {
        for failure in &o.failures {
            for text in failure.to_string().lines() {
                let _ = writeln!(out, "    {text}");
            }
        }
    }
}

/// Files whose result is known, printed in file order as soon as all before
/// them are done.
struct Progress {
    outcomes: Vec<Option<FileOutcome>>,
    printed: usize,
}

/// Per worker: the file it runs and since when.
type Running = Mutex<Vec<Option<(usize, Instant)>>>;

fn main() -> ExitCode {
    let config = match Config::load() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("slt: {e}");
            return ExitCode::FAILURE;
        }
    };
    let files = match test_files(&config.dir) {
        Ok(files) => files,
        Err(e) => {
            eprintln!("slt: cannot list the corpus (set SEALDB_SLT_DIR): {e}");
            return ExitCode::FAILURE;
        }
    };
    let files: Vec<(String, PathBuf)> = files
        .into_iter()
        .filter(|(name, _)| config.filters.iter().all(|f| name.contains(f.as_str())))
        .collect();
    if files.is_empty() {
        println!("0 passed, 0 failed");
        if config.positional_only {
            eprintln!("slt: no file matches {:?}", config.filters);
            return ExitCode::SUCCESS;
        }
        eprintln!(
            "slt: no .test files under {} matching {:?}",
            config.dir.display(),
            config.filters
        );
        return ExitCode::FAILURE;
    }
    let encrypted = files.iter().filter(|(n, _)| encrypted_for(n)).count();
    println!(
        "slt: {} files under {} ({encrypted} encrypted on disk, {} in memory), {} at a time",
        files.len(),
        config.dir.display(),
        files.len() - encrypted,
        config.jobs.min(files.len()),
    );

    let progress = Mutex::new(Progress {
        outcomes: vec![None; files.len()],
        printed: 0,
    });
    let next = AtomicUsize::new(0);
    let done = AtomicBool::new(false);
    let jobs = config.jobs.min(files.len());
    let running: Running = Mutex::new(vec![None; jobs]);
    let hard_limit = config.file_limit * 2 + Duration::from_secs(60);

    std::thread::scope(|scope| {
        let workers: Vec<_> = (0..jobs)
            .map(|worker| {
                let (files, progress, next, running, config) =
                    (&files, &progress, &next, &running, &config);
                // Generated expressions nest deeply; debug builds need room.
                std::thread::Builder::new()
                    .stack_size(256 << 20)
                    .spawn_scoped(scope, move || loop {
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        let Some((name, path)) = files.get(i) else {
                            break;
                        };
                        running.lock().unwrap()[worker] = Some((i, Instant::now()));
                        let outcome = run_one(path, name, config.file_limit);
                        running.lock().unwrap()[worker] = None;
                        let mut p = progress.lock().unwrap();
                        p.outcomes[i] = Some(outcome);
                        let mut out = std::io::stdout().lock();
                        while let Some(Some(o)) = p.outcomes.get(p.printed) {
                            print_file(&mut out, &files[p.printed].0, o, config.verbose);
                            p.printed += 1;
                        }
                        let _ = out.flush();
                    })
                    .expect("spawn a worker thread")
            })
            .collect();
        // Watchdog: a record that never returns would hang the run.
        scope.spawn(|| {
            while !done.load(Ordering::Relaxed) {
                std::thread::sleep(Duration::from_millis(500));
                for (i, since) in running.lock().unwrap().iter().flatten() {
                    if since.elapsed() > hard_limit {
                        let _ = std::io::stdout().flush();
                        eprintln!(
                            "slt: {} still running after {}s: a statement does not return; \
                             stopping the run",
                            files[*i].0,
                            since.elapsed().as_secs()
                        );
                        std::process::exit(2);
                    }
                }
            }
        });
        for worker in workers {
            let _ = worker.join();
        }
        done.store(true, Ordering::Relaxed);
    });

    let progress = progress.into_inner().unwrap();
    let mut total = Totals::default();
    let mut by_dir: BTreeMap<String, Totals> = BTreeMap::new();
    for ((name, _), outcome) in files.iter().zip(&progress.outcomes) {
        let Some(o) = outcome else { continue };
        total.add(o);
        let parts: Vec<&str> = name.split('/').collect();
        if parts.len() == 1 {
            by_dir.entry("./".into()).or_default().add(o);
        }
        for depth in 1..parts.len() {
            by_dir
                .entry(format!("{}/", parts[..depth].join("/")))
                .or_default()
                .add(o);
        }
    }
    for (dir, t) in &by_dir {
        println!(
            "{dir}: {} passed, {} failed, {} skipped",
            t.passed, t.failed, t.skipped
        );
    }

    let ran = total.passed + total.failed;
    let rate = if ran == 0 {
        0.0
    } else {
        total.passed as f64 / ran as f64
    };
    let filtered = !config.filters.is_empty();
    let below = !filtered && rate < config.baseline;
    println!(
        "pass rate {rate:.6} (baseline {}{}), {} skipped",
        config.baseline,
        if filtered {
            ", not applied to a filtered run"
        } else {
            ""
        },
        total.skipped
    );
    if below {
        println!("slt: FAILED: the pass rate fell below tests/slt_baseline.txt");
    }
    println!("{} passed, {} failed", total.passed, total.failed);
    if below {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}
