//! Turns the workers' raw times into the three outputs: `results.json`
//! (median, min, max and repetitions per engine and workload, plus every raw
//! sample), `results.md` (a times table, a ratios table, the issue's goals
//! checked against the ratios) and `ratios.svg` (a bar chart of the ratios,
//! log scale, drawn by hand so the runner needs no plotting crate).
//!
//! Ratios are always *peer ÷ sealdb* (time, or bytes for the file size), so
//! above 1 means sealdb is faster (smaller); "cost of encryption" is
//! *encrypted ÷ plaintext* time, so above 1 means encryption costs time.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use sealdb_sql_bench_common::{Kind, Sizes, WORKLOADS};

/// Median, min, max of one engine on one workload.
#[derive(Clone, Copy, Debug)]
pub struct Stat {
    /// Median (mean of the middle two for an even count).
    pub median: f64,
    /// Smallest sample.
    pub min: f64,
    /// Largest sample.
    pub max: f64,
    /// Number of samples.
    pub reps: usize,
}

impl Stat {
    /// Summary of `samples` (not empty).
    pub fn of(samples: &[f64]) -> Stat {
        let mut s = samples.to_vec();
        s.sort_by(f64::total_cmp);
        let n = s.len();
        let median = if n % 2 == 1 {
            s[n / 2]
        } else {
            (s[n / 2 - 1] + s[n / 2]) / 2.0
        };
        Stat {
            median,
            min: s[0],
            max: s[n - 1],
            reps: n,
        }
    }
}

/// engine → workload → stat.
pub type Table = BTreeMap<String, BTreeMap<String, Stat>>;

/// What the run was, for the reports.
pub struct RunInfo {
    /// `ci` or `full`.
    pub size_name: String,
    /// Sizes used.
    pub sizes: Sizes,
    /// Repetitions.
    pub reps: usize,
    /// Engines in report order.
    pub engines: Vec<String>,
    /// engine → library version.
    pub versions: BTreeMap<String, String>,
    /// Machine description lines.
    pub machine: Vec<String>,
    /// Wall time of the measured part.
    pub total_secs: f64,
    /// Share of the machine's CPU used by other processes meanwhile.
    pub others_cpu: Option<f64>,
    /// sealdb commit.
    pub commit: String,
}

fn label(name: &str, s: &Sizes) -> String {
    let k = |n: usize| {
        if n >= 1_000_000 && n.is_multiple_of(1_000_000) {
            format!("{}M", n / 1_000_000)
        } else if n >= 1000 && n.is_multiple_of(1000) {
            format!("{}k", n / 1000)
        } else {
            n.to_string()
        }
    };
    match name {
        "load_1txn" => format!("load {} rows, 1 txn", k(s.rows)),
        "load_txn100" => format!("load {} rows, txns of {}", k(s.batched_rows), s.txn_rows),
        "single_commits" => format!("{} single-row commits", k(s.single_commits)),
        "point_lookup" => format!("{} point lookups by PK", k(s.point_lookups)),
        "range_scan" => format!("{} range scans × {} rows", k(s.range_scans), s.range_len),
        "aggregate" => "full-table aggregate".to_string(),
        "count_star" => "COUNT(*)".to_string(),
        "full_scan" => format!("full scan, {} rows", k(s.rows)),
        "create_index" => "CREATE INDEX on k".to_string(),
        "index_lookup" => format!("{} lookups by k (index)", k(s.index_lookups)),
        "open_first_query" => "open + first query".to_string(),
        "file_size" => "file size after load".to_string(),
        other => other.to_string(),
    }
}

fn fmt_secs(t: f64) -> String {
    if t >= 10.0 {
        format!("{t:.1} s")
    } else if t >= 1.0 {
        format!("{t:.2} s")
    } else if t >= 0.001 {
        format!("{:.1} ms", t * 1e3)
    } else {
        format!("{:.0} µs", t * 1e6)
    }
}

fn fmt_bytes(b: f64) -> String {
    format!("{:.1} MiB", b / (1024.0 * 1024.0))
}

fn fmt_value(unit: &str, v: f64) -> String {
    if unit == "bytes" {
        fmt_bytes(v)
    } else {
        fmt_secs(v)
    }
}

/// A ratio with two significant digits below 0.1 (0.0011), else two decimals.
fn fmt_ratio(r: f64) -> String {
    if r >= 0.1 || r == 0.0 {
        format!("{r:.2}")
    } else {
        let decimals = (1 - r.log10().floor() as i32).max(2) as usize;
        format!("{r:.decimals$}")
    }
}

/// peer ÷ sealdb on the medians.
fn ratio(t: &Table, peer: &str, ours: &str, w: &str) -> Option<f64> {
    let p = t.get(peer)?.get(w)?.median;
    let o = t.get(ours)?.get(w)?.median;
    (o > 0.0).then(|| p / o)
}

const PEERS: &[(&str, &str)] = &[("sqlite", "SQLite"), ("sqlcipher", "SQLCipher")];
const OURS: &[(&str, &str)] = &[
    ("sealdb-aes256", "AES-256"),
    ("sealdb-aes128", "AES-128"),
    ("sealdb-plain", "plain"),
];

/// The markdown report.
pub fn markdown(info: &RunInfo, t: &Table) -> String {
    let mut m = String::new();
    let s = &info.sizes;
    let _ = writeln!(
        m,
        "Size `{}`: {}. {} repetitions per engine (a fresh process and fresh databases \
         each), engines interleaved; median (min–max). Total run {:.0} s{}.\n",
        info.size_name,
        s.describe(),
        info.reps,
        info.total_secs,
        match info.others_cpu {
            Some(p) => format!(
                "; other processes used {:.0}% of the machine's CPU meanwhile",
                p * 100.0
            ),
            None => String::new(),
        }
    );
    let _ = write!(m, "| workload |");
    for e in &info.engines {
        let _ = write!(m, " {e} |");
    }
    let _ = write!(m, "\n|---|");
    for _ in &info.engines {
        let _ = write!(m, "---:|");
    }
    m.push('\n');
    for w in WORKLOADS {
        let _ = write!(m, "| {} |", label(w.name, s));
        for e in &info.engines {
            match t.get(e).and_then(|x| x.get(w.name)) {
                Some(st) => {
                    let _ = write!(
                        m,
                        " **{}** ({}–{}) |",
                        fmt_value(w.unit, st.median),
                        fmt_value(w.unit, st.min),
                        fmt_value(w.unit, st.max)
                    );
                }
                None => m.push_str(" – |"),
            }
        }
        m.push('\n');
    }

    let _ = writeln!(
        m,
        "\nRatios of medians: peer ÷ sealdb (>1: sealdb faster, or smaller for the file size); \
         last column: AES-256 ÷ plaintext sealdb (>1: what encryption costs).\n"
    );
    let mut header = "| workload |".to_string();
    let mut rule = "|---|".to_string();
    for (o, on) in OURS {
        for (p, pn) in PEERS {
            if info.engines.iter().any(|e| e == o) && info.engines.iter().any(|e| e == p) {
                let _ = write!(header, " {pn} ÷ {on} |");
                rule.push_str("---:|");
            }
        }
    }
    header.push_str(" AES-256 ÷ plain |");
    rule.push_str("---:|");
    let _ = writeln!(m, "{header}\n{rule}");
    for w in WORKLOADS {
        let _ = write!(m, "| {} |", label(w.name, s));
        for (o, _) in OURS {
            for (p, _) in PEERS {
                if info.engines.iter().any(|e| e == o) && info.engines.iter().any(|e| e == p) {
                    match ratio(t, p, o, w.name) {
                        Some(r) => {
                            let _ = write!(m, " {} |", fmt_ratio(r));
                        }
                        None => m.push_str(" – |"),
                    }
                }
            }
        }
        // peer ÷ ours with AES-256 as the "peer": encrypted ÷ plaintext time.
        match ratio(t, "sealdb-aes256", "sealdb-plain", w.name) {
            Some(r) => {
                let _ = write!(m, " {} |", fmt_ratio(r));
            }
            None => m.push_str(" – |"),
        }
        m.push('\n');
    }

    m.push_str("\nGoals (issue 6), from the medians above:\n\n");
    for line in goals(t) {
        let _ = writeln!(m, "- {line}");
    }
    m
}

fn verdict(ok: bool) -> &'static str {
    if ok {
        "**met**"
    } else {
        "**not met**"
    }
}

/// The issue's goals, each checked against the table.
fn goals(t: &Table) -> Vec<String> {
    let a = "sealdb-aes256";
    let mut out = Vec::new();
    let list = |xs: &[(String, f64)]| {
        xs.iter()
            .map(|(w, r)| format!("{w} {}", fmt_ratio(*r)))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let ratios = |peer: &str, pick: &dyn Fn(Kind, &str) -> bool| -> Vec<(String, f64)> {
        WORKLOADS
            .iter()
            .filter(|w| pick(w.kind, w.name))
            .filter_map(|w| ratio(t, peer, a, w.name).map(|r| (w.name.to_string(), r)))
            .collect()
    };
    let timed = |k: Kind, _: &str| k != Kind::Size;
    let all = ratios("sqlcipher", &timed);
    if !all.is_empty() {
        let slow: Vec<_> = all.iter().filter(|(_, r)| *r < 1.0).cloned().collect();
        out.push(format!(
            "AES-256 faster than SQLCipher on every workload: {} ({})",
            verdict(slow.is_empty()),
            if slow.is_empty() {
                "all above 1".to_string()
            } else {
                format!("slower on {}", list(&slow))
            }
        ));
        let load = ratios("sqlcipher", &|k, _| k == Kind::Load);
        out.push(format!(
            "≥ 2× SQLCipher on bulk load: {} ({})",
            verdict(load.iter().all(|(_, r)| *r >= 2.0)),
            list(&load)
        ));
        let look = ratios("sqlcipher", &|_, n| {
            n == "point_lookup" || n == "index_lookup"
        });
        out.push(format!(
            "≥ 2.5× SQLCipher on point and index lookups: {} ({})",
            verdict(look.iter().all(|(_, r)| *r >= 2.5)),
            list(&look)
        ));
    }
    let reads = ratios("sqlite", &|k, _| k == Kind::Read);
    if !reads.is_empty() {
        out.push(format!(
            "AES-256 within 1.3× of SQLite on reads (ratio ≥ 0.77): {} ({})",
            verdict(reads.iter().all(|(_, r)| *r >= 1.0 / 1.3)),
            list(&reads)
        ));
        let load = ratios("sqlite", &|k, _| k == Kind::Load);
        out.push(format!(
            "AES-256 at least as fast as SQLite on bulk load: {} ({})",
            verdict(load.iter().all(|(_, r)| *r >= 1.0)),
            list(&load)
        ));
    }
    let overhead: Vec<(String, f64)> = WORKLOADS
        .iter()
        .filter(|w| w.kind != Kind::Size)
        .filter_map(|w| ratio(t, "sealdb-plain", a, w.name).map(|r| (w.name.to_string(), 1.0 / r)))
        .collect();
    if !overhead.is_empty() {
        out.push(format!(
            "encryption overhead ≤ 10% over plaintext sealdb (AES-256 ÷ plain ≤ 1.10): {} ({})",
            verdict(overhead.iter().all(|(_, r)| *r <= 1.10)),
            list(&overhead)
        ));
    }
    if let Some(r) = ratio(t, "sqlite", a, "file_size") {
        out.push(format!(
            "file size within 1.2× of SQLite's: {} (AES-256 is {:.2}× SQLite's size)",
            verdict(1.0 / r <= 1.2),
            1.0 / r
        ));
    }
    out
}

/// `results.json`.
pub fn json(info: &RunInfo, t: &Table, raw: &[serde_json::Value]) -> serde_json::Value {
    let mut results = serde_json::Map::new();
    for e in &info.engines {
        let mut per = serde_json::Map::new();
        if let Some(x) = t.get(e) {
            for w in WORKLOADS {
                if let Some(st) = x.get(w.name) {
                    per.insert(
                        w.name.to_string(),
                        serde_json::json!({
                            "unit": w.unit,
                            "median": st.median,
                            "min": st.min,
                            "max": st.max,
                            "reps": st.reps,
                        }),
                    );
                }
            }
        }
        results.insert(e.clone(), per.into());
    }
    let workloads: Vec<serde_json::Value> = WORKLOADS
        .iter()
        .map(|w| {
            serde_json::json!({
                "name": w.name,
                "label": label(w.name, &info.sizes),
                "unit": w.unit,
            })
        })
        .collect();
    serde_json::json!({
        "size": info.size_name,
        "rows": info.sizes.rows,
        "sizes": info.sizes.describe(),
        "reps": info.reps,
        "engines": info.engines,
        "versions": info.versions,
        "machine": info.machine,
        "sealdb_commit": info.commit,
        "total_secs": info.total_secs,
        "others_cpu_share": info.others_cpu,
        "workloads": workloads,
        "results": results,
        "raw": raw,
    })
}

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// `ratios.svg`: for each peer a panel, for each workload one bar per
/// sealdb configuration, peer ÷ sealdb on a log axis centred on 1.
pub fn svg(info: &RunInfo, t: &Table) -> String {
    let ours: Vec<(&str, &str, &str)> = [
        ("sealdb-aes256", "sealdb AES-256", "#1f5fa8"),
        ("sealdb-aes128", "sealdb AES-128", "#4f9bd9"),
        ("sealdb-plain", "sealdb plaintext", "#a9a9a9"),
    ]
    .into_iter()
    .filter(|(e, _, _)| info.engines.iter().any(|x| x == e))
    .collect();
    let peers: Vec<(&str, &str)> = PEERS
        .iter()
        .copied()
        .filter(|(p, _)| info.engines.iter().any(|x| x == p))
        .collect();
    let mut all = Vec::new();
    for (p, _) in &peers {
        for (o, _, _) in &ours {
            for w in WORKLOADS {
                if let Some(r) = ratio(t, p, o, w.name) {
                    all.push(r);
                }
            }
        }
    }
    // Whole decades, with room for the value labels at the bar ends.
    let lo = (all.iter().copied().fold(0.5f64, f64::min).log10() - 0.15).floor();
    let hi = (all.iter().copied().fold(2.0f64, f64::max).log10() + 0.1).ceil();
    let (label_w, plot_w, bar_h, gap) = (190.0, 560.0, 9.0, 10.0);
    let group_h = bar_h * ours.len() as f64 + gap;
    let panel_h = 40.0 + group_h * WORKLOADS.len() as f64 + 24.0;
    let width = label_w + plot_w + 30.0;
    let top = 70.0;
    let height = top + panel_h * peers.len() as f64 + 10.0;
    let x = |r: f64| label_w + (r.log10() - lo) / (hi - lo) * plot_w;

    let mut s = String::new();
    let _ = writeln!(
        s,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" viewBox="0 0 {width} {height}" font-family="sans-serif" font-size="11">"#
    );
    let _ = writeln!(s, r#"<rect width="100%" height="100%" fill="white"/>"#);
    let _ = writeln!(
        s,
        r#"<text x="10" y="20" font-size="14" font-weight="bold">sealdb vs SQLite and SQLCipher — peer time ÷ sealdb time (log scale; &gt; 1: sealdb faster)</text>"#
    );
    let _ = writeln!(
        s,
        r#"<text x="10" y="38" fill="dimgray">size {} ({} rows), median of {} runs; file size: peer bytes ÷ sealdb bytes</text>"#,
        esc(&info.size_name),
        info.sizes.rows,
        info.reps
    );
    for (i, (_, name, color)) in ours.iter().enumerate() {
        let lx = 10.0 + i as f64 * 170.0;
        let _ = writeln!(
            s,
            r#"<rect x="{lx}" y="48" width="12" height="10" fill="{color}"/><text x="{}" y="57">{}</text>"#,
            lx + 16.0,
            esc(name)
        );
    }
    for (pi, (p, pname)) in peers.iter().enumerate() {
        let y0 = top + pi as f64 * panel_h;
        let plot_top = y0 + 24.0;
        let plot_bottom = plot_top + group_h * WORKLOADS.len() as f64;
        let _ = writeln!(
            s,
            r#"<text x="10" y="{}" font-size="13" font-weight="bold">vs {}</text>"#,
            y0 + 14.0,
            esc(pname)
        );
        // Grid: 1, 2, 5 per decade, or only the decades on a wide axis.
        let marks: &[f64] = if hi - lo > 3.0 {
            &[1.0]
        } else {
            &[1.0, 2.0, 5.0]
        };
        let mut e = lo as i32;
        while e as f64 <= hi {
            for &m in marks {
                let r = m * 10f64.powi(e);
                if r.log10() < lo - 1e-9 || r.log10() > hi + 1e-9 {
                    continue;
                }
                let gx = x(r);
                let (stroke, w) = if (r - 1.0).abs() < 1e-9 {
                    ("#000", 1.2)
                } else {
                    ("#ddd", 0.8)
                };
                let _ = writeln!(
                    s,
                    r#"<line x1="{gx:.1}" y1="{plot_top}" x2="{gx:.1}" y2="{plot_bottom}" stroke="{stroke}" stroke-width="{w}"/><text x="{gx:.1}" y="{}" text-anchor="middle" fill="dimgray">{}×</text>"#,
                    plot_bottom + 13.0,
                    if r < 1.0 {
                        let d = (-r.log10().floor()) as usize;
                        format!("{r:.d$}")
                    } else {
                        format!("{r:.0}")
                    }
                );
            }
            e += 1;
        }
        for (wi, w) in WORKLOADS.iter().enumerate() {
            let gy = plot_top + wi as f64 * group_h + gap / 2.0;
            let _ = writeln!(
                s,
                r#"<text x="{}" y="{}" text-anchor="end">{}</text>"#,
                label_w - 6.0,
                gy + group_h / 2.0,
                esc(&label(w.name, &info.sizes))
            );
            for (oi, (o, _, color)) in ours.iter().enumerate() {
                let Some(r) = ratio(t, p, o, w.name) else {
                    continue;
                };
                let by = gy + oi as f64 * bar_h;
                let (x1, x2) = if r >= 1.0 {
                    (x(1.0), x(r))
                } else {
                    (x(r), x(1.0))
                };
                let _ = writeln!(
                    s,
                    r#"<rect x="{x1:.1}" y="{by:.1}" width="{:.1}" height="{:.1}" fill="{color}"/>"#,
                    (x2 - x1).max(0.5),
                    bar_h - 1.0
                );
                let (tx, anchor) = if r >= 1.0 {
                    (x2 + 3.0, "start")
                } else {
                    (x1 - 3.0, "end")
                };
                let _ = writeln!(
                    s,
                    r#"<text x="{tx:.1}" y="{:.1}" font-size="8" text-anchor="{anchor}">{}</text>"#,
                    by + bar_h - 2.0,
                    fmt_ratio(r)
                );
            }
        }
    }
    s.push_str("</svg>\n");
    s
}
