//! Comparing two results: the same rows (as a multiset, unless the
//! query's ORDER BY fixes an order), errors against errors, change counts.
//!
//! Three things may legitimately differ between two correct engines, and
//! the comparison allows exactly these:
//!
//! * The order of rows that ORDER BY does not fix. Rows are compared as a
//!   multiset; with ORDER BY, the sort keys must also agree position by
//!   position (equal under the key's collation), and with LIMIT/OFFSET the
//!   rows of the first and last runs of tied keys may differ (which of the
//!   tied rows falls inside the window is unspecified).
//! * Which member of a group stands for it (GROUP BY, DISTINCT, compound
//!   selects, `min`/`max` over values equal under a collation, such as
//!   'a' and 'A' under NOCASE or 1 and 1.0): such result columns are
//!   compared "loosely", under the collation, with integers and reals
//!   equal when numerically equal.
//! * The last bits of a REAL (summation order; SQLite's newer float
//!   conversions): reals are compared to 12 significant digits.
//! * INTEGER against REAL in RETURNING (see [`QuerySpec::numeric`]).

use crate::engine::V;

/// A collating sequence.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Coll {
    /// memcmp.
    Binary,
    /// ASCII case folded.
    NoCase,
    /// Trailing spaces ignored.
    Rtrim,
    /// Case folded and trailing spaces ignored: for a result column whose
    /// collation the generator does not track (never written in SQL).
    Loosest,
}

impl Coll {
    /// The SQL name.
    pub fn name(self) -> &'static str {
        match self {
            Coll::Binary => "BINARY",
            Coll::NoCase => "NOCASE",
            Coll::Rtrim | Coll::Loosest => "RTRIM",
        }
    }

    fn fold(self, s: &str) -> String {
        match self {
            Coll::Binary => s.to_string(),
            Coll::NoCase => nocase(s),
            Coll::Rtrim => s.trim_end_matches(' ').to_string(),
            Coll::Loosest => nocase(s.trim_end_matches(' ')),
        }
    }
}

/// Text equal under SQLite's NOCASE folds alike: ASCII case folded, and
/// after a NUL only the length counts (`sqlite3StrNICmp` stops there).
fn nocase(s: &str) -> String {
    match s.find('\0') {
        Some(nul) => format!("{}\0{}", s[..nul].to_ascii_lowercase(), s.len()),
        None => s.to_ascii_lowercase(),
    }
}

/// How one result column is compared.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ColCmp {
    /// Same storage class and value.
    Exact,
    /// Equal under the collation (a group's representative).
    Loose(Coll),
}

/// What the generator knows about a query's result.
#[derive(Clone, Debug, Default)]
pub struct QuerySpec {
    /// Per result column, how to compare it (missing: exact).
    pub cols: Vec<ColCmp>,
    /// ORDER BY keys as (result column, collation); empty: no order.
    pub order: Vec<(usize, Coll)>,
    /// LIMIT or OFFSET present (only generated with ORDER BY).
    pub limited: bool,
    /// Integers and reals compared by value in every column: RETURNING,
    /// whose values SQLite takes from the registers the row was just
    /// written from, where a REAL column's integral value is held as an
    /// integer (`MEM_IntReal`); an expression that passes it through
    /// unchanged (CASE, coalesce) hands it out as an INTEGER.
    pub numeric: bool,
}

/// A REAL to 12 significant digits.
fn real_key(r: f64) -> String {
    if r == 0.0 {
        return "0".into();
    }
    format!("{r:.11e}")
}

/// The canonical text of one value under a column's comparison.
fn canon(v: &V, how: ColCmp) -> String {
    match (v, how) {
        (V::Null, _) => "N".into(),
        (V::Int(i), ColCmp::Exact) => format!("I{i}"),
        (V::Real(r), ColCmp::Exact) => format!("R{}", real_key(*r)),
        (V::Int(i), ColCmp::Loose(_)) => format!("#{}", real_key(*i as f64)),
        (V::Real(r), ColCmp::Loose(_)) => format!("#{}", real_key(*r)),
        (V::Text(s), ColCmp::Exact) => format!("T{s}"),
        (V::Text(s), ColCmp::Loose(c)) => format!("T{}", c.fold(s)),
        (V::Blob(b), _) => format!("B{b:?}"),
    }
}

fn canon_row(row: &[V], spec: &QuerySpec) -> Vec<String> {
    row.iter()
        .enumerate()
        .map(|(i, v)| {
            let how = spec.cols.get(i).copied().unwrap_or(ColCmp::Exact);
            match (v, how) {
                (V::Int(_) | V::Real(_), ColCmp::Exact) if spec.numeric => {
                    canon(v, ColCmp::Loose(Coll::Binary))
                }
                _ => canon(v, how),
            }
        })
        .collect()
}

/// Key equality under a collation (numbers numerically, to 12 digits).
fn key_eq(a: &V, b: &V, coll: Coll) -> bool {
    canon(a, ColCmp::Loose(coll)) == canon(b, ColCmp::Loose(coll))
}

fn sorted(rows: &[Vec<V>], spec: &QuerySpec) -> Vec<Vec<String>> {
    let mut v: Vec<Vec<String>> = rows.iter().map(|r| canon_row(r, spec)).collect();
    v.sort();
    v
}

/// Compares sealdb's rows with SQLite's; `Err` says how they differ.
pub fn compare_rows(seal: &[Vec<V>], lite: &[Vec<V>], spec: &QuerySpec) -> Result<(), String> {
    if seal.len() != lite.len() {
        return Err(format!(
            "row count: sealdb {} rows, SQLite {} rows",
            seal.len(),
            lite.len()
        ));
    }
    if let (Some(a), Some(b)) = (seal.first(), lite.first()) {
        if a.len() != b.len() {
            return Err(format!(
                "column count: sealdb {}, SQLite {}",
                a.len(),
                b.len()
            ));
        }
    }
    if spec.order.is_empty() {
        return if sorted(seal, spec) == sorted(lite, spec) {
            Ok(())
        } else {
            Err("different rows".into())
        };
    }
    // A key on a column whose value is a group's representative (loose)
    // under a coarser collation than the key's fixes no order: 'abc' and
    // 'ABC' may stand for the same NOCASE group (which one is the plan's
    // row order), and ORDER BY 1 COLLATE BINARY puts 'Abd' between them.
    // The order is checked on the keys before the first such key; the
    // rows tied on those are compared as multisets.
    let coarser = |c: usize, coll: Coll| match spec.cols.get(c) {
        Some(ColCmp::Loose(lc)) => *lc != coll && *lc != Coll::Binary,
        _ => false,
    };
    let fixed = spec
        .order
        .iter()
        .position(|&(c, coll)| coarser(c, coll))
        .unwrap_or(spec.order.len());
    let key_of = |r: &Vec<V>| -> Vec<(V, Coll)> {
        spec.order[..fixed]
            .iter()
            .map(|&(c, coll)| (r.get(c).cloned().unwrap_or(V::Null), coll))
            .collect()
    };
    let same_key = |a: &Vec<V>, b: &Vec<V>| {
        key_of(a)
            .iter()
            .zip(key_of(b))
            .all(|((x, coll), (y, _))| key_eq(x, &y, *coll))
    };
    for (i, (a, b)) in seal.iter().zip(lite).enumerate() {
        if !same_key(a, b) {
            return Err(format!("order differs at row {i}"));
        }
    }
    // Runs of tied keys: the same rows in each run, except the first and
    // last run of a LIMIT/OFFSET window, which may hold different ties.
    let mut start = 0;
    let mut runs = Vec::new();
    for i in 1..=seal.len() {
        if i == seal.len() || !same_key(&seal[i - 1], &seal[i]) {
            runs.push((start, i));
            start = i;
        }
    }
    let last = runs.len().saturating_sub(1);
    for (n, &(s, e)) in runs.iter().enumerate() {
        if spec.limited && (n == 0 || n == last) {
            continue;
        }
        if sorted(&seal[s..e], spec) != sorted(&lite[s..e], spec) {
            return Err(format!("different rows among rows {s}..{e}"));
        }
    }
    Ok(())
}

/// Rows as text for a report (at most `max` rows).
pub fn show_rows(rows: &[Vec<V>], max: usize) -> String {
    let mut s = String::new();
    for r in rows.iter().take(max) {
        let line: Vec<String> = r.iter().map(V::literal).collect();
        s.push_str("    ");
        s.push_str(&line.join("|"));
        s.push('\n');
    }
    if rows.len() > max {
        s.push_str(&format!("    ... ({} rows)\n", rows.len()));
    }
    s
}
