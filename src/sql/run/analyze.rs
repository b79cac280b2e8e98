//! ANALYZE: measures tables and indexes as SQLite's `analyze.c` does for
//! `sqlite_stat1`, and stores the numbers in the catalog (in the
//! statement's transaction, see [`Schema::set_stats`]).
//!
//! Per index with entries, the stat string `"N d1 ... dk"`: N entries (a
//! partial index counts only the rows its WHERE selects), then for each
//! prefix of the k key columns the average number of entries sharing one
//! value of it, `ceil(N / distinct)`, written 1 when it would be 2 but
//! `N * 10 <= distinct * 11` (SQLite's rounding). Values compare under the
//! index's collations with NULLs equal to each other (SQLite's
//! `SQLITE_NULLEQ`); for a UNIQUE index whose columns are all NOT NULL
//! (and a WITHOUT ROWID table's key) the last prefix is taken as distinct
//! without comparing. A full index with no entries gets no row, an empty
//! partial one `"0 0 ..."` (SQLite 3.54). The table row
//! `(tbl, NULL, N)` is written only when no index of the table is a full
//! one and the table has rows.
//!
//! `ANALYZE` replaces every table's statistics, `ANALYZE t` the table's,
//! `ANALYZE i` only that index's row; a view or a schema table is a
//! no-op, as in SQLite. Who may run which is decided above (`db`).

use super::*;
use crate::catalog::{Index, TableStats};
use crate::sql::exec::distinct_key;

/// What ANALYZE names, as it resolves in `schema`: SQLite looks for an
/// index first, then a table.
pub enum AnalyzeTarget<'a> {
    /// Every table.
    All,
    /// One table, all its indexes.
    Table(&'a Arc<Table>),
    /// One index of its table.
    Index(&'a Arc<Table>, &'a Index),
    /// A view or a schema table: nothing to measure.
    Nothing,
}

/// Resolves the name ANALYZE was given; `None`: no such object.
pub fn analyze_target<'a>(schema: &'a Schema, name: Option<&str>) -> Option<AnalyzeTarget<'a>> {
    let Some(n) = name else {
        return Some(AnalyzeTarget::All);
    };
    for t in schema.tables.values() {
        if let Some(i) = t.indexes.iter().find(|i| i.name.eq_ignore_ascii_case(n)) {
            return Some(AnalyzeTarget::Index(t, i));
        }
    }
    if let Some(t) = schema.table(n) {
        return Some(AnalyzeTarget::Table(t));
    }
    let schema_table = crate::sql::introspect::Introspect::of_table(n).is_some()
        || n.eq_ignore_ascii_case(crate::catalog::SEQUENCE_TABLE);
    (schema.view(n).is_some() || schema_table).then_some(AnalyzeTarget::Nothing)
}

/// Runs ANALYZE [name]; returns the new schema.
pub fn analyze_stats(
    cx: &mut ExecCtx,
    schema: &Schema,
    name: Option<&str>,
) -> Result<Option<Schema>> {
    let target = analyze_target(schema, name).ok_or_else(|| {
        Error::sql(
            SqlErrorKind::UnknownTable,
            format!("no such table: {}", name.unwrap_or_default()),
        )
    })?;
    let mut next = schema.clone();
    match target {
        AnalyzeTarget::Nothing => return Ok(None),
        AnalyzeTarget::All => {
            let mut tables: Vec<&Arc<Table>> = schema.tables.values().collect();
            tables.sort_by_key(|t| t.id);
            for t in tables {
                let st = measure(cx, t, None)?;
                next = next.set_stats(&t.name, Some(st), &mut TxnWriter(cx.txn))?;
            }
        }
        AnalyzeTarget::Table(t) => {
            let st = measure(cx, t, None)?;
            next = next.set_stats(&t.name, Some(st), &mut TxnWriter(cx.txn))?;
        }
        AnalyzeTarget::Index(t, idx) => {
            let fresh = measure(cx, t, Some(idx))?;
            let mut st = t.stats.as_deref().cloned().unwrap_or_default();
            st.indexes.retain(|(i, _)| *i != idx.id);
            st.indexes.extend(fresh.indexes);
            st.indexes.sort_by_key(|(i, _)| *i);
            next = next.set_stats(&t.name, Some(st), &mut TxnWriter(cx.txn))?;
        }
    }
    Ok(Some(next))
}

/// Measures `t`: every index, and the table row where SQLite writes one;
/// or only index `only`.
fn measure(cx: &mut ExecCtx, t: &Arc<Table>, only: Option<&Index>) -> Result<TableStats> {
    let mut st = TableStats::default();
    for idx in &t.indexes {
        if only.is_some_and(|o| o.id != idx.id) {
            continue;
        }
        let entries = index_entries(cx, t, idx)?;
        if let Some(nums) = index_stat(t, idx, entries.into_iter().map(|(v, _)| v).collect()) {
            st.indexes.push((idx.id, nums));
        }
    }
    if only.is_none() && t.indexes.iter().all(|i| i.filter.is_some()) {
        let n = count_rows(cx, t)?;
        if n > 0 {
            st.rows = Some(n);
        }
    }
    Ok(st)
}

fn count_rows(cx: &mut ExecCtx, t: &Arc<Table>) -> Result<u64> {
    let plan = Planner::full_scan(t);
    let mut it = open(&plan, cx, &[])?;
    let mut n = 0u64;
    while it.next(cx)?.is_some() {
        n += 1;
    }
    Ok(n)
}

/// Whether SQLite compares only the leading key columns of `idx` and takes
/// the last as distinct (`uniqNotNull`, or a WITHOUT ROWID table's key).
fn last_is_distinct(t: &Table, idx: &Index) -> bool {
    if t.without_rowid && idx.auto && idx.columns == t.primary_key {
        return true;
    }
    idx.unique
        && idx.columns.iter().enumerate().all(|(k, &c)| {
            idx.expr(k).is_none() && t.columns.get(c).is_some_and(|col| col.not_null)
        })
}

/// The stat numbers of an index holding `entries` (their key values);
/// `None` when a full index holds none.
fn index_stat(t: &Table, idx: &Index, entries: Vec<Vec<Value>>) -> Option<Vec<u64>> {
    let n = entries.len() as u64;
    // SQLite skips an empty full index, but writes a partial one's zeros.
    if n == 0 && idx.filter.is_none() {
        return None;
    }
    let cols = idx.columns.len();
    // Each entry as one comparable key per column (collation-folded, NULLs
    // equal), sorted so that equal prefixes are adjacent.
    let mut keys: Vec<Vec<Vec<u8>>> = entries
        .iter()
        .map(|vals| {
            (0..cols)
                .map(|k| {
                    let v = vals.get(k).cloned().unwrap_or(Value::Null);
                    distinct_key(&[v], &[idx.collation(k)])
                })
                .collect()
        })
        .collect();
    keys.sort_unstable();
    let tested = if last_is_distinct(t, idx) {
        cols.saturating_sub(1)
    } else {
        cols
    };
    // distinct[k]: how many distinct values the prefix of k + 1 columns has.
    let mut distinct = vec![1u64; cols];
    for pair in keys.windows(2) {
        let first_change = (0..tested)
            .find(|&k| pair[0][k] != pair[1][k])
            .unwrap_or(tested);
        for d in distinct.iter_mut().skip(first_change) {
            *d += 1;
        }
    }
    let mut out = Vec::with_capacity(cols + 1);
    out.push(n);
    for d in distinct {
        let mut avg = n.div_ceil(d);
        if avg == 2 && n * 10 <= d * 11 {
            avg = 1;
        }
        out.push(avg);
    }
    Some(out)
}
