//! The SQL benchmark runner: sealdb (AES-256, AES-128, plaintext) against
//! SQLite and SQLCipher, the same workloads side by side in one run.
//!
//! ```text
//!   cargo run --release --manifest-path bench/sql/Cargo.toml -- --size ci --out DIR
//!
//!   runner ── cargo build peer --features sqlite     → target/peer-sqlite/…
//!          ── cargo build peer --features sqlcipher  → target/peer-sqlcipher/…
//!          ── for rep in 0..reps                    (engine order rotated)
//!               for engine in engines
//!                 spawn worker ── one JSON line ──► samples
//!          ── check every worker read the same rows
//!          ── DIR/results.json, DIR/results.md, DIR/ratios.svg
//! ```
//!
//! A worker is one process for one engine and one repetition (see
//! `sealdb_sql_bench_common::run_worker`): the sealdb engines run in this
//! binary (`worker` subcommand, which is also what to point `perf` at), the
//! peers in `sealdb-sql-peer`, built once per library because rusqlite's
//! bundled SQLite and bundled SQLCipher both link `sqlite3`.

mod report;
mod sealdb_engine;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use anyhow::{bail, Context, Result};
use sealdb_sql_bench_common::{run_worker, Sizes, WorkerArgs, WORKLOADS};

use report::{RunInfo, Stat, Table};
use sealdb_engine::SealDb;

const PEERS: &[&str] = &["sqlite", "sqlcipher"];

const USAGE: &str = "\
usage: sealdb-sql-bench [--size ci|full] [--rows N] [--reps R] --out DIR
                        [--engines a,b,...] [--work-dir DIR] [--no-build] [--report-only]
       sealdb-sql-bench worker --engine sealdb-aes256|sealdb-aes128|sealdb-plain
                        [--size ci|full] [--rows N] --dir DIR

engines: sealdb-aes256, sealdb-aes128, sealdb-plain, sqlite, sqlcipher (default: all)
--reps     repetitions per engine (default 5 for ci, 3 for full)
--work-dir where the databases live (default: the system temp directory)
--no-build use the peer binaries already built under bench/sql/target
--report-only  write the reports again from the raw samples in DIR/results.json";

struct Args {
    size: String,
    rows: Option<usize>,
    reps: Option<usize>,
    out: PathBuf,
    engines: Vec<String>,
    work_dir: PathBuf,
    build: bool,
    report_only: bool,
}

fn parse_args(args: &[String]) -> Result<Args> {
    let mut a = Args {
        size: "ci".into(),
        rows: None,
        reps: None,
        out: PathBuf::new(),
        engines: sealdb_engine::ENGINES
            .iter()
            .chain(PEERS)
            .map(|s| s.to_string())
            .collect(),
        work_dir: std::env::temp_dir().join(format!("sealdb-sqlbench-{}", std::process::id())),
        build: true,
        report_only: false,
    };
    let mut out = None;
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        let mut val = || {
            it.next()
                .with_context(|| format!("{arg} needs a value\n{USAGE}"))
        };
        match arg.as_str() {
            "--size" => a.size = val()?.clone(),
            "--rows" => a.rows = Some(val()?.parse().context("--rows")?),
            "--reps" => a.reps = Some(val()?.parse().context("--reps")?),
            "--out" => out = Some(PathBuf::from(val()?)),
            "--engines" => a.engines = val()?.split(',').map(str::to_string).collect(),
            "--work-dir" => a.work_dir = PathBuf::from(val()?),
            "--no-build" => a.build = false,
            "--report-only" => a.report_only = true,
            "-h" | "--help" => {
                println!("{USAGE}");
                std::process::exit(0);
            }
            other => bail!("unknown argument {other:?}\n{USAGE}"),
        }
    }
    a.out = out.with_context(|| format!("--out is required\n{USAGE}"))?;
    for e in &a.engines {
        if !sealdb_engine::ENGINES.contains(&e.as_str()) && !PEERS.contains(&e.as_str()) {
            bail!("unknown engine {e:?}\n{USAGE}");
        }
    }
    Ok(a)
}

fn bench_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn peer_binary(peer: &str) -> PathBuf {
    bench_dir()
        .join("target")
        .join(format!("peer-{peer}"))
        .join("release")
        .join("sealdb-sql-peer")
}

/// Builds the peer binary for `peer` (each in its own target directory).
fn build_peer(peer: &str) -> Result<()> {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    eprintln!("building the {peer} peer (the first build compiles {peer} from C, about a minute)");
    let status = Command::new(cargo)
        .arg("build")
        .arg("--release")
        .arg("--quiet")
        .arg("--manifest-path")
        .arg(bench_dir().join("Cargo.toml"))
        .args(["-p", "sealdb-sql-peer", "--features", peer])
        .arg("--target-dir")
        .arg(bench_dir().join("target").join(format!("peer-{peer}")))
        .status()
        .context("run cargo")?;
    if !status.success() {
        bail!("building the {peer} peer failed ({status})");
    }
    Ok(())
}

/// Runs one worker process and parses its JSON line.
fn run_one(args: &Args, engine: &str, rep: usize) -> Result<serde_json::Value> {
    let program = if PEERS.contains(&engine) {
        peer_binary(engine)
    } else {
        std::env::current_exe().context("current_exe")?
    };
    let dir = args.work_dir.join(engine);
    let mut cmd = Command::new(&program);
    cmd.arg("worker")
        .args(["--engine", engine, "--size", &args.size, "--dir"])
        .arg(&dir);
    if let Some(r) = args.rows {
        cmd.args(["--rows", &r.to_string()]);
    }
    let out = cmd
        .output()
        .with_context(|| format!("run {}", program.display()))?;
    if !out.status.success() {
        bail!(
            "{engine} worker (rep {rep}) failed ({}):\n{}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
    let line = String::from_utf8_lossy(&out.stdout);
    let mut v: serde_json::Value = serde_json::from_str(line.trim())
        .with_context(|| format!("{engine} worker printed {line:?}"))?;
    v["rep"] = rep.into();
    Ok(v)
}

/// CPU time in jiffies: (whole machine, whole machine busy, this process
/// and its reaped children).
fn cpu_jiffies() -> Option<(u64, u64, u64)> {
    let stat = std::fs::read_to_string("/proc/stat").ok()?;
    let f: Vec<u64> = stat
        .lines()
        .next()?
        .split_whitespace()
        .skip(1)
        .filter_map(|x| x.parse().ok())
        .collect();
    let total: u64 = f.iter().take(8).sum();
    let idle = f.get(3)? + f.get(4)?;
    let me = std::fs::read_to_string("/proc/self/stat").ok()?;
    let rest = me.rsplit_once(')')?.1;
    let g: Vec<&str> = rest.split_whitespace().collect();
    // After the command name: state is field 3, utime..cstime are 14..=17.
    let field = |n: usize| g.get(n - 3)?.parse::<u64>().ok();
    let mine = field(14)? + field(15)? + field(16)? + field(17)?;
    Some((total, total - idle, mine))
}

fn machine() -> Vec<String> {
    let mut m = Vec::new();
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let model = cpuinfo
        .lines()
        .find(|l| l.starts_with("model name"))
        .and_then(|l| l.split(':').nth(1))
        .map(str::trim)
        .unwrap_or("unknown CPU");
    let cpus = std::thread::available_parallelism().map_or(0, |n| n.get());
    let flags = cpuinfo
        .lines()
        .find(|l| l.starts_with("flags"))
        .unwrap_or_default();
    let has = |f: &str| flags.split_whitespace().any(|x| x == f);
    let aes: Vec<&str> = ["aes", "vaes", "vpclmulqdq", "sha_ni"]
        .into_iter()
        .filter(|f| has(f))
        .collect();
    m.push(format!("{cpus} CPUs, {model}, flags: {}", aes.join(" ")));
    if let Ok(mem) = std::fs::read_to_string("/proc/meminfo") {
        if let Some(l) = mem.lines().next() {
            m.push(l.split_whitespace().collect::<Vec<_>>().join(" "));
        }
    }
    if let Ok(k) = std::fs::read_to_string("/proc/sys/kernel/osrelease") {
        m.push(format!("Linux {}", k.trim()));
    }
    m
}

fn git_commit() -> String {
    Command::new("git")
        .args(["rev-parse", "--short", "HEAD"])
        .current_dir(bench_dir())
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_else(|| "unknown".into())
}

/// Every worker of one repetition must have read the same rows.
fn check_agreement(rep: usize, samples: &[serde_json::Value]) -> Result<()> {
    let Some(first) = samples.first() else {
        return Ok(());
    };
    for s in &samples[1..] {
        if s["checks"] != first["checks"] {
            bail!(
                "rep {rep}: {} read {} but {} read {}",
                s["engine"],
                s["checks"],
                first["engine"],
                first["checks"]
            );
        }
    }
    Ok(())
}

fn run(args: Args) -> Result<()> {
    if args.report_only {
        return rewrite_reports(&args.out);
    }
    let sizes = Sizes::named(&args.size, args.rows)?;
    let reps = args.reps.unwrap_or(if args.size == "full" { 3 } else { 5 });
    std::fs::create_dir_all(&args.out).with_context(|| format!("create {}", args.out.display()))?;
    for peer in PEERS {
        if args.engines.iter().any(|e| e == peer) {
            if args.build {
                build_peer(peer)?;
            }
            if !peer_binary(peer).exists() {
                bail!("{} is missing", peer_binary(peer).display());
            }
        }
    }
    std::fs::create_dir_all(&args.work_dir)?;

    let start = Instant::now();
    let cpu0 = cpu_jiffies();
    let mut raw = Vec::new();
    let n = args.engines.len();
    for rep in 0..reps {
        let mut this_rep = Vec::new();
        for i in 0..n {
            let engine = &args.engines[(i + rep) % n];
            eprint!("rep {}/{reps}: {engine} ... ", rep + 1);
            let t = Instant::now();
            let v = run_one(&args, engine, rep)?;
            eprintln!("{:.1} s", t.elapsed().as_secs_f64());
            this_rep.push(v);
        }
        check_agreement(rep, &this_rep)?;
        raw.extend(this_rep);
    }
    let total_secs = start.elapsed().as_secs_f64();
    // Share of the machine's CPU time in the window used by processes
    // other than this one and its workers.
    let others_cpu = match (cpu0, cpu_jiffies()) {
        (Some((t0, b0, m0)), Some((t1, b1, m1))) if t1 > t0 => {
            Some((b1 - b0).saturating_sub(m1 - m0) as f64 / (t1 - t0) as f64)
        }
        _ => None,
    };
    let _ = std::fs::remove_dir_all(&args.work_dir);
    write_reports(
        &args.out,
        RunInfo {
            size_name: args.size.clone(),
            sizes,
            reps,
            engines: args.engines.clone(),
            versions: BTreeMap::new(),
            machine: machine(),
            total_secs,
            others_cpu,
            commit: git_commit(),
        },
        raw,
    )
}

/// Summarizes the raw samples and writes `results.md`, `ratios.svg` and
/// `results.json` to `out` (`info.versions` is filled from the samples).
fn write_reports(out: &Path, mut info: RunInfo, raw: Vec<serde_json::Value>) -> Result<()> {
    let mut table: Table = BTreeMap::new();
    for e in &info.engines {
        let mine: Vec<&serde_json::Value> = raw.iter().filter(|v| v["engine"] == **e).collect();
        if let Some(v) = mine.first().and_then(|v| v["version"].as_str()) {
            info.versions.insert(e.clone(), v.to_string());
        }
        let mut per = BTreeMap::new();
        for w in WORKLOADS {
            let samples: Vec<f64> = mine
                .iter()
                .filter_map(|v| {
                    if w.name == "file_size" {
                        v["file_size"].as_f64()
                    } else {
                        v["times"][w.name].as_f64()
                    }
                })
                .collect();
            if !samples.is_empty() {
                per.insert(w.name.to_string(), Stat::of(&samples));
            }
        }
        table.insert(e.clone(), per);
    }
    let md = format!(
        "{}\nMachine: {}. sealdb at {}; {}.\n",
        report::markdown(&info, &table),
        info.machine.join("; "),
        info.commit,
        info.versions
            .iter()
            .filter(|(e, _)| PEERS.contains(&e.as_str()))
            .map(|(e, v)| format!("{e}: {v}"))
            .collect::<Vec<_>>()
            .join("; ")
    );
    write(&out.join("results.md"), &md)?;
    write(&out.join("ratios.svg"), &report::svg(&info, &table))?;
    let json = serde_json::to_string_pretty(&report::json(&info, &table, &raw))?;
    write(&out.join("results.json"), &json)?;
    println!("{md}");
    eprintln!(
        "wrote results.json, results.md and ratios.svg to {}",
        out.display()
    );
    Ok(())
}

/// `--report-only`: writes the reports again from the raw samples kept in
/// `out/results.json` (after a change to the report format; measures
/// nothing).
fn rewrite_reports(out: &Path) -> Result<()> {
    let path = out.join("results.json");
    let text =
        std::fs::read_to_string(&path).with_context(|| format!("read {}", path.display()))?;
    let j: serde_json::Value = serde_json::from_str(&text).context("parse results.json")?;
    let size = j["size"]
        .as_str()
        .context("results.json: size")?
        .to_string();
    let rows = j["rows"].as_u64().map(|r| r as usize);
    let strings = |v: &serde_json::Value| -> Vec<String> {
        v.as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|x| x.as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default()
    };
    let info = RunInfo {
        sizes: Sizes::named(&size, rows)?,
        size_name: size,
        reps: j["reps"].as_u64().context("results.json: reps")? as usize,
        engines: strings(&j["engines"]),
        versions: BTreeMap::new(),
        machine: strings(&j["machine"]),
        total_secs: j["total_secs"].as_f64().unwrap_or(0.0),
        others_cpu: j["others_cpu_share"].as_f64(),
        commit: j["sealdb_commit"].as_str().unwrap_or("unknown").to_string(),
    };
    let raw = j["raw"].as_array().cloned().unwrap_or_default();
    write_reports(out, info, raw)
}

fn write(path: &Path, text: &str) -> Result<()> {
    std::fs::write(path, text).with_context(|| format!("write {}", path.display()))
}

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("worker") {
        return run_worker::<SealDb>(&WorkerArgs::parse(&args[1..])?);
    }
    run(parse_args(&args)?)
}
