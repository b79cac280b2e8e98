//! Regression scripts: every divergence the tester found, minimized, with
//! SQLite's answers as the expected results, replayed on sealdb (and on
//! SQLite, to keep the expectations honest) in every `cargo test`.
//!
//! Format (`tests/difftest/regress/*.test`), records separated by blank
//! lines, `#` lines are comments:
//!
//! ```text
//!   statement ok               the statement succeeds
//!   statement count 2          it succeeds and changes 2 rows
//!   statement error            it fails (any message)
//!   SQL ...                    (one or more lines)
//!
//!   query [loose] [order C,..] rows, as a multiset; `loose`: every column
//!   SQL ...                    compared under case and trailing-space
//!   ----                       folding with 1 = 1.0 (a group's
//!   1|'a'|NULL|2.5|x'00'       representative); `order`: the rows must
//!                              also be ordered like these on the given
//!                              result columns (0-based)
//!   query error
//!   SQL ...
//! ```
//!
//! `query numeric ...`: integers and reals compared by value (RETURNING,
//! see `compare::QuerySpec::numeric`). `query overflow ...`: the rows, or sealdb may fail with "integer
//! overflow" instead (and SQLite too): a sum() whose running total
//! overflows or not depending on the order the plan adds the rows in (see
//! `check`'s documentation). The rows are the exact total's, which any
//! order that does not overflow gives. `order C:coll` (coll `binary`,
//! `nocase`, `rtrim` or `loosest`; default binary) compares that ORDER BY
//! key under its collation, so rows tied under it may come in any order.
//!
//! A `params: 1, 'a'` line before the SQL binds `?1`, `?2`, ...
//!
//! A script with a line `paired` is run on both engines through the
//! campaign's checker instead (`check::Pair::check`; its expected answers
//! are then SQLite's, for the reader): it must show no divergence, and
//! the visit-order oracle for UPDATE and DELETE (`order`) must have accepted at least
//! one statement. That is how the UPDATEs whose outcome depends on the
//! order of the rows are kept: sealdb's answer is not SQLite's, but
//! SQLite's own in sealdb's order.
//!
//! Every script that passes is then replayed on sealdb once more with
//! `ANALYZE` before each query ([`replay_analyzed`]): the statistics may
//! change the plan, never the rows.

use std::fmt::Write as _;

use crate::check::{Pair, Stats};
use crate::compare::{compare_rows, show_rows, ColCmp, Coll, QuerySpec};
use crate::engine::{Mode, Outcome, V};
use crate::gen::Step;

/// What a record expects.
#[derive(Debug, Clone)]
enum Expect {
    Ok(Option<u64>),
    Error,
    /// The rows; `true`: or an "integer overflow" error.
    Rows(Vec<Vec<V>>, QuerySpec, bool),
}

#[derive(Debug, Clone)]
struct Record {
    sql: String,
    params: Vec<V>,
    mode: Mode,
    expect: Expect,
    line: usize,
}

/// Parses one SQL literal of a result line or a params line.
fn parse_literal(s: &str) -> Result<V, String> {
    let s = s.trim();
    if s == "NULL" {
        return Ok(V::Null);
    }
    if let Some(body) = s.strip_prefix('\'').and_then(|b| b.strip_suffix('\'')) {
        return Ok(V::Text(body.replace("''", "'")));
    }
    if let Some(hex) = s.strip_prefix("x'").and_then(|b| b.strip_suffix('\'')) {
        let bytes: Result<Vec<u8>, _> = (0..hex.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(hex.get(i..i + 2).unwrap_or("zz"), 16))
            .collect();
        return bytes.map(V::Blob).map_err(|e| format!("bad blob {s}: {e}"));
    }
    if let Ok(i) = s.parse::<i64>() {
        return Ok(V::Int(i));
    }
    match s {
        "1e999" => return Ok(V::Real(f64::INFINITY)),
        "-1e999" => return Ok(V::Real(f64::NEG_INFINITY)),
        _ => {}
    }
    s.parse::<f64>()
        .map(V::Real)
        .map_err(|_| format!("bad literal {s:?}"))
}

/// Splits a line of `|`-separated literals (quotes may hold `|`).
fn split_values(line: &str) -> Result<Vec<V>, String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut quoted = false;
    for c in line.chars() {
        match c {
            '\'' => {
                quoted = !quoted;
                cur.push(c);
            }
            '|' if !quoted => out.push(parse_literal(&std::mem::take(&mut cur))?),
            _ => cur.push(c),
        }
    }
    out.push(parse_literal(&cur)?);
    Ok(out)
}

fn split_params(line: &str) -> Result<Vec<V>, String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut quoted = false;
    for c in line.chars() {
        match c {
            '\'' => {
                quoted = !quoted;
                cur.push(c);
            }
            ',' if !quoted => out.push(parse_literal(&std::mem::take(&mut cur))?),
            _ => cur.push(c),
        }
    }
    if !cur.trim().is_empty() {
        out.push(parse_literal(&cur)?);
    }
    Ok(out)
}

fn parse(text: &str) -> Result<Vec<Record>, String> {
    let mut records = Vec::new();
    let lines: Vec<&str> = text.lines().collect();
    let mut i = 0;
    while i < lines.len() {
        let line = lines[i].trim_end();
        if line.is_empty() || line.starts_with('#') {
            i += 1;
            continue;
        }
        let start = i + 1;
        let words: Vec<&str> = line.split_whitespace().collect();
        i += 1;
        let mut params = Vec::new();
        if let Some(p) = lines.get(i).and_then(|l| l.strip_prefix("params:")) {
            params = split_params(p).map_err(|e| format!("line {}: {e}", i + 1))?;
            i += 1;
        }
        let mut sql = Vec::new();
        while i < lines.len() && !lines[i].trim().is_empty() && lines[i].trim() != "----" {
            sql.push(lines[i]);
            i += 1;
        }
        let sql = sql.join("\n");
        let (mode, expect) = match words.as_slice() {
            ["statement", "ok"] => (Mode::Exec, Expect::Ok(None)),
            ["statement", "count", n] => (
                Mode::Exec,
                Expect::Ok(Some(
                    n.parse().map_err(|_| format!("line {start}: bad count"))?,
                )),
            ),
            ["statement", "error"] => (Mode::Exec, Expect::Error),
            ["query", "error"] => (Mode::Rows, Expect::Error),
            ["query", opts @ ..] => {
                let mut spec = QuerySpec::default();
                let mut loose = false;
                let mut overflow = false;
                let mut it = opts.iter();
                while let Some(o) = it.next() {
                    match *o {
                        "loose" => loose = true,
                        "overflow" => overflow = true,
                        "numeric" => spec.numeric = true,
                        "order" => {
                            let cols = it
                                .next()
                                .ok_or(format!("line {start}: order needs columns"))?;
                            for c in cols.split(',') {
                                let (c, coll) = c.split_once(':').unwrap_or((c, "binary"));
                                let c =
                                    c.parse().map_err(|_| format!("line {start}: bad column"))?;
                                let coll = match coll {
                                    "binary" => Coll::Binary,
                                    "nocase" => Coll::NoCase,
                                    "rtrim" => Coll::Rtrim,
                                    "loosest" => Coll::Loosest,
                                    other => {
                                        return Err(format!(
                                            "line {start}: unknown collation {other}"
                                        ))
                                    }
                                };
                                spec.order.push((c, coll));
                            }
                        }
                        other => return Err(format!("line {start}: unknown option {other}")),
                    }
                }
                if lines.get(i).map(|l| l.trim()) != Some("----") {
                    return Err(format!("line {start}: query without ----"));
                }
                i += 1;
                let mut rows = Vec::new();
                while i < lines.len() && !lines[i].trim().is_empty() {
                    rows.push(split_values(lines[i]).map_err(|e| format!("line {}: {e}", i + 1))?);
                    i += 1;
                }
                if loose {
                    let n = rows.first().map_or(0, Vec::len);
                    spec.cols = vec![ColCmp::Loose(Coll::Loosest); n];
                }
                (Mode::Rows, Expect::Rows(rows, spec, overflow))
            }
            _ => return Err(format!("line {start}: unknown record {line:?}")),
        };
        records.push(Record {
            sql,
            params,
            mode,
            expect,
            line: start,
        });
    }
    Ok(records)
}

fn judge(got: &Outcome, expect: &Expect) -> Result<(), String> {
    match (got, expect) {
        (Outcome::Changed(_), Expect::Ok(None)) => Ok(()),
        (Outcome::Changed(n), Expect::Ok(Some(m))) if n == m => Ok(()),
        (Outcome::Error(_), Expect::Error) => Ok(()),
        (Outcome::Error(e), Expect::Rows(_, _, true)) if e.contains("integer overflow") => Ok(()),
        (Outcome::Rows(rows), Expect::Rows(want, spec, _)) => compare_rows(rows, want, spec)
            .map_err(|e| {
                format!(
                    "{e}\n  got:\n{}  expected:\n{}",
                    show_rows(rows, 30),
                    show_rows(want, 30)
                )
            }),
        (got, want) => Err(format!("got {got:?}, expected {want:?}")),
    }
}

/// Runs a `paired` script's statements through the checker (see the
/// module documentation).
fn replay_paired(records: &[Record]) -> Result<(), Vec<String>> {
    let mut pair = Pair::new();
    let mut stats = Stats::default();
    let mut errors = Vec::new();
    for r in records {
        let step = match (&r.mode, &r.expect) {
            (Mode::Rows, Expect::Rows(_, spec, _)) => Step::Query {
                sql: r.sql.clone(),
                params: r.params.clone(),
                spec: spec.clone(),
            },
            (Mode::Rows, _) => Step::Query {
                sql: r.sql.clone(),
                params: r.params.clone(),
                spec: QuerySpec::default(),
            },
            (Mode::Exec, e) => Step::Exec {
                sql: r.sql.clone(),
                params: r.params.clone(),
                counts: matches!(e, Expect::Ok(Some(_))),
            },
        };
        if let Err(e) = pair.check(&step, &mut stats) {
            errors.push(format!("line {}: {e}\n  {}", r.line, r.sql));
        }
    }
    if stats.update_order + stats.delete_order == 0 {
        errors.push("no UPDATE or DELETE was accepted by the visit-order oracle (does sealdb follow SQLite's order now? then record the script plainly)".into());
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(errors)
    }
}

/// Replays one script on sealdb and SQLite; every mismatch with the
/// expectations.
pub fn replay(text: &str) -> Result<(), Vec<String>> {
    let paired = text.lines().any(|l| l.trim() == "paired");
    let text: String = text
        .lines()
        .filter(|l| l.trim() != "paired")
        .collect::<Vec<_>>()
        .join("\n");
    let records = parse(&text).map_err(|e| vec![e])?;
    if paired {
        return replay_paired(&records);
    }
    let mut pair = Pair::new();
    let mut errors = Vec::new();
    for r in &records {
        let seal = pair.sealdb(&r.sql, &r.params, r.mode);
        if let Err(e) = judge(&seal, &r.expect) {
            errors.push(format!("line {}: sealdb: {e}\n  {}", r.line, r.sql));
        }
        let lite = pair.sqlite(&r.sql, &r.params, r.mode);
        if let Err(e) = judge(&lite, &r.expect) {
            errors.push(format!(
                "line {}: SQLite (stale expectation?): {e}\n  {}",
                r.line, r.sql
            ));
        }
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(errors)
    }
}

/// Replays one script on sealdb alone with `ANALYZE` run before each
/// query, against the same expectations: statistics may change the plan,
/// never the rows. Scripts that read the statistics or the plans
/// themselves (ANALYZE, sqlite_stat1, EXPLAIN), paired ones, and queries
/// of the last statement's effects (`changes()`, `total_changes()`,
/// `last_insert_rowid()`, which an ANALYZE in between would not keep as
/// SQLite does) are left out.
pub fn replay_analyzed(text: &str) -> Result<(), Vec<String>> {
    let lower = text.to_ascii_lowercase();
    if ["analyze", "stat1", "explain"]
        .iter()
        .any(|w| lower.contains(w))
        || text.lines().any(|l| l.trim() == "paired")
    {
        return Ok(());
    }
    let records = parse(text).map_err(|e| vec![e])?;
    let mut pair = Pair::new();
    let mut errors = Vec::new();
    for r in &records {
        let sql = r.sql.trim_start().to_ascii_lowercase();
        let query = matches!(r.mode, Mode::Rows)
            && (sql.starts_with("select") || sql.starts_with("with") || sql.starts_with("values"))
            && !["changes(", "last_insert_rowid("]
                .iter()
                .any(|f| sql.contains(f));
        if query {
            let out = pair.sealdb("ANALYZE", &[], Mode::Exec);
            if let Err(e) = judge(&out, &Expect::Ok(None)) {
                errors.push(format!("line {}: ANALYZE before it: {e}", r.line));
            }
        }
        let seal = pair.sealdb(&r.sql, &r.params, r.mode);
        if let Err(e) = judge(&seal, &r.expect) {
            errors.push(format!(
                "line {}: sealdb after ANALYZE: {e}\n  {}",
                r.line, r.sql
            ));
        }
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(errors)
    }
}

fn spec_options(spec: &QuerySpec) -> String {
    let mut s = String::new();
    if spec.cols.iter().any(|c| matches!(c, ColCmp::Loose(_))) {
        s.push_str(" loose");
    }
    if spec.numeric {
        s.push_str(" numeric");
    }
    // A LIMIT window's rows are not fixed by the order among ties; such a
    // query is recorded as a multiset check only when it has no ties.
    if !spec.order.is_empty() && !spec.limited {
        let cols: Vec<String> = spec
            .order
            .iter()
            .map(|(c, coll)| match coll {
                Coll::Binary => c.to_string(),
                Coll::NoCase => format!("{c}:nocase"),
                Coll::Rtrim => format!("{c}:rtrim"),
                Coll::Loosest => format!("{c}:loosest"),
            })
            .collect();
        let _ = write!(s, " order {}", cols.join(","));
    }
    s
}

fn record(out: &mut String, head: &str, sql: &str, params: &[V], result: Option<&Outcome>) {
    out.push_str(head);
    out.push('\n');
    if !params.is_empty() {
        let p: Vec<String> = params.iter().map(V::literal).collect();
        let _ = writeln!(out, "params: {}", p.join(", "));
    }
    out.push_str(sql);
    out.push('\n');
    if let Some(Outcome::Rows(rows)) = result {
        out.push_str("----\n");
        for r in rows {
            let line: Vec<String> = r.iter().map(V::literal).collect();
            out.push_str(&line.join("|"));
            out.push('\n');
        }
    }
    out.push('\n');
}

/// A regression script for `steps`, with SQLite's results as expected.
pub fn render(steps: &[Step], title: &str) -> String {
    let mut out = String::new();
    for l in title.lines() {
        let _ = writeln!(out, "# {l}");
    }
    out.push('\n');
    let mut pair = Pair::new();
    let query = |out: &mut String, sql: &str, params: &[V], spec: &QuerySpec, pair: &mut Pair| {
        let r = pair.sqlite(sql, params, Mode::Rows);
        match &r {
            Outcome::Rows(_) => record(
                out,
                &format!("query{}", spec_options(spec)),
                sql,
                params,
                Some(&r),
            ),
            _ => record(out, "query error", sql, params, None),
        }
    };
    for st in steps {
        match st {
            Step::Exec {
                sql,
                params,
                counts,
            } => {
                let head = match pair.sqlite(sql, params, Mode::Exec) {
                    Outcome::Changed(n) if *counts => format!("statement count {n}"),
                    Outcome::Changed(_) => "statement ok".to_string(),
                    _ => "statement error".to_string(),
                };
                record(&mut out, &head, sql, params, None);
            }
            Step::Query { sql, params, spec } => query(&mut out, sql, params, spec, &mut pair),
            Step::Tlp { base, parts, spec } => {
                query(&mut out, base, &[], spec, &mut pair);
                query(&mut out, parts, &[], spec, &mut pair);
            }
            Step::NoRec { opt, unopt } => {
                query(&mut out, opt, &[], &QuerySpec::default(), &mut pair);
                query(&mut out, unopt, &[], &QuerySpec::default(), &mut pair);
            }
        }
    }
    out
}
