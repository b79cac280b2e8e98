//! The visit-order oracle for UPDATE and DELETE: when sealdb and SQLite
//! disagree on an UPDATE whose rows conflict with each other (OR IGNORE
//! keeps a different row, a UNIQUE violation happens in one order only,
//! OR FAIL stops at a different row), or on a DELETE whose rows' triggers
//! or RETURNING subqueries see the rows deleted before them, the outcome
//! may be the order the rows were visited in, which SQLite leaves
//! unspecified (it is its plan's). Then the statement is replayed in
//! SQLite one row at a time in an order sealdb visits rows in, and
//! sealdb's outcome must be exactly that replay's.
//!
//! ```text
//!   pre-state ── sealdb: SELECT key FROM t WHERE w         (its plan's order)
//!             │  SQLite: SELECT key FROM t NOT INDEXED     (table order)
//!             └─ SQLite: SAVEPOINT in a transaction, else a copy of it
//!   both run the UPDATE; outcome + every table compared
//!   differ ─► for each candidate order O, on SQLite's state before it
//!             (ROLLBACK TO the savepoint, or a fresh copy):
//!             UPDATE OR <c> t SET <sets> WHERE key = k, for k in O
//!             (DELETE FROM t WHERE key = k);
//!             same outcome, change count (or RETURNING rows) and tables
//!             as sealdb: tolerated, and SQLite's database is the replay's
//! ```
//!
//! Outside a transaction SQLite's state is copied (backup API) rather
//! than saved with a SAVEPOINT: that would open a transaction, and a
//! statement failing without a statement journal (a STRICT type error)
//! then keeps its earlier rows where autocommit undoes them.
//!
//! Why the replay is SQLite's own UPDATE in order O (so the tolerance
//! only accepts an outcome SQLite itself gives when its plan visits the
//! rows in O):
//!
//! * SQLite decides which rows an UPDATE changes on the state before it
//!   (two-pass: it collects the keys, then re-seeks each row and updates
//!   it as it is then, skipping a row that is gone); the candidates are
//!   read on that state, and each one-row statement reads the row as it
//!   is then. Its one-pass mode (no triggers, no REPLACE, no key change,
//!   no subquery in WHERE) cannot tell the difference: there a row
//!   changes only by its own update.
//! * Row triggers fire per row, in the order the rows are updated, and
//!   the statement's conflict clause overrides the triggers' own, in the
//!   one-row statements as in the whole one.
//! * Statement-level effects are rebuilt: a constraint failure (the only
//!   error tolerated) ends the statement; under ABORT (the default, and
//!   IGNORE or REPLACE when they fall back to it) the earlier rows are
//!   undone with the statement (a savepoint rolled back), under FAIL they
//!   stay, under ROLLBACK SQLite ends the transaction itself. The change
//!   count is the sum of the rows'. Any other error (a STRICT type
//!   error) undoes what the statement changed when SQLite keeps a
//!   statement journal for it and nothing when it does not (inside a
//!   transaction; in autocommit the transaction, so the statement, is
//!   undone either way). SQLite decides that from the statement's text
//!   and schema, not its rows, and does not expose it: when its own run
//!   ended with such an error and its tables not as before, it kept no
//!   journal, and only that replay counts; otherwise both are tried
//!   (`Journal`). Which one sealdb takes is then not checked here, but in
//!   every statement whose error both engines meet after the same rows.
//! * DELETE: SQLite deletes in one pass only without triggers, RETURNING
//!   or a subquery in WHERE, where a row's deletion cannot change what
//!   another row's does; otherwise it collects the keys first and then
//!   deletes each row still there (BEFORE triggers fired, the row sought
//!   again, deleted, AFTER triggers fired), as `DELETE ... WHERE key = k`
//!   does for one row.
//! * A subquery in SET that names nothing of the updated row is computed
//!   once per statement by SQLite (OP_Once; a correlated one, marked
//!   EP_VarSelect, for every row), when first evaluated. As the whole
//!   value of a column (`c = (SELECT ...)`, nothing around it that
//!   evaluates it only for some rows, as CASE, coalesce() or AND would)
//!   it is evaluated for every row visited, so first for the first row,
//!   before anything is changed (the row's new values are computed
//!   before its BEFORE triggers fire): its value is the one it has on the
//!   state before the statement, in any order. The replay, which would
//!   compute it again in every one-row statement on the changed tables,
//!   puts that value in its place (read at the start of the replay, on
//!   the state before). Uncorrelated is decided by SQLite's own name
//!   resolution: `SELECT (subquery)` on its own must prepare; names
//!   resolve innermost scope first, so one that resolves on its own
//!   resolves inside the subquery in the UPDATE too. Quoted names are
//!   not judged (a double-quoted name that does not resolve reads as a
//!   string on its own, as the updated row's column in the UPDATE). The
//!   value stands as a literal: as a column's whole value only the value
//!   counts (the column's affinity applies), not the subquery's affinity
//!   or collation.
//! * A subquery in RETURNING: SQLite codes RETURNING in line
//!   (codeReturningTrigger), so one that names neither the updated row
//!   nor, directly in its FROM, the updated table is computed once per
//!   statement, after the first row returned is changed; the replay's
//!   one-row statements compute it for every row. One that names the
//!   table in its own FROM is computed for every row, after the row is
//!   changed, by both; judged when every subquery is such (and holds
//!   none of its own), or when the difference cannot show: no subquery reads the updated table (SQLite's plan of
//!   the RETURNING list over a stand-in row opens no cursor on its
//!   b-trees) and the UPDATE writes nothing else (no trigger on the
//!   table, foreign keys off), so every subquery has one value
//!   throughout, whenever and however often it is computed.
//! * Not eligible (compared as any statement): a subquery in SET other
//!   than as a column's whole value, a function of the statement's state
//!   (`changes()`, `random()`, `last_insert_rowid()`), a parameter
//!   holding text with a NUL (the replay spells parameters as literals).
//!   RETURNING is replayed with each row (its rows compared as a
//!   multiset, as any RETURNING).
//!
//! The candidates are the orders sealdb uses: its plan's (SELECT of the
//! keys with the same WHERE, which it plans as its UPDATE), and table
//! order (rowid, or a WITHOUT ROWID table's key), which it follows when
//! SQLite would not update in one pass.

use crate::engine::{real_literal, Engine, Mode, Outcome, Sealdb, Sqlite, V};

/// An UPDATE or DELETE statement cut into the parts the replay needs.
#[derive(Debug, Clone, PartialEq)]
pub struct DmlParts {
    /// A DELETE (`conflict` and `sets` empty).
    pub delete: bool,
    /// `OR IGNORE ` and the like, or empty.
    pub conflict: String,
    /// The table name.
    pub table: String,
    /// The SET list.
    pub sets: String,
    /// The WHERE condition.
    pub pred: Option<String>,
    /// The RETURNING list.
    pub returning: Option<String>,
}

/// The byte offset of keyword `kw` (with its surrounding spaces) outside
/// quotes and parentheses.
fn top_level(s: &str, kw: &str) -> Option<usize> {
    let b = s.as_bytes();
    let (mut depth, mut quote) = (0i32, None::<u8>);
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        match quote {
            Some(q) if c == q => quote = None,
            Some(_) => {}
            None => match c {
                b'\'' | b'"' | b'`' => quote = Some(c),
                b'(' => depth += 1,
                b')' => depth -= 1,
                _ if depth == 0
                    && s.get(i..i + kw.len())
                        .is_some_and(|w| w.eq_ignore_ascii_case(kw)) =>
                {
                    return Some(i);
                }
                _ => {}
            },
        }
        i += 1;
    }
    None
}

/// `UPDATE [OR x] t SET ... [WHERE ...] [RETURNING ...]`, or `None`.
pub fn split_update(sql: &str) -> Option<DmlParts> {
    let rest = sql.trim();
    if !rest.get(..7)?.eq_ignore_ascii_case("UPDATE ") {
        return None;
    }
    let mut rest = rest[7..].trim_start();
    let mut conflict = String::new();
    if rest.get(..3).is_some_and(|w| w.eq_ignore_ascii_case("OR ")) {
        let word = rest[3..].split_whitespace().next()?;
        conflict = format!("OR {} ", word.to_ascii_uppercase());
        rest = rest[3..].trim_start()[word.len()..].trim_start();
    }
    let set = top_level(rest, " SET ")?;
    let table = rest[..set].trim().to_string();
    if table.contains(char::is_whitespace) {
        return None;
    }
    let mut body = &rest[set + 5..];
    let mut returning = None;
    if let Some(r) = top_level(body, " RETURNING ") {
        returning = Some(body[r + 11..].trim().to_string());
        body = &body[..r];
    }
    let (sets, pred) = match top_level(body, " WHERE ") {
        Some(w) => (&body[..w], Some(body[w + 7..].trim().to_string())),
        None => (body, None),
    };
    Some(DmlParts {
        delete: false,
        conflict,
        table,
        sets: sets.trim().to_string(),
        pred,
        returning,
    })
}

/// `DELETE FROM t [WHERE ...] [RETURNING ...]`, or `None`.
pub fn split_delete(sql: &str) -> Option<DmlParts> {
    let rest = sql.trim();
    if !rest.get(..12)?.eq_ignore_ascii_case("DELETE FROM ") {
        return None;
    }
    let mut body = rest[12..].trim_start();
    let mut returning = None;
    if let Some(r) = top_level(body, " RETURNING ") {
        returning = Some(body[r + 11..].trim().to_string());
        body = &body[..r];
    }
    let (table, pred) = match top_level(body, " WHERE ") {
        Some(w) => (&body[..w], Some(body[w + 7..].trim().to_string())),
        None => (body, None),
    };
    let table = table.trim().to_string();
    if table.is_empty() || table.contains(char::is_whitespace) {
        return None;
    }
    Some(DmlParts {
        delete: true,
        conflict: String::new(),
        table,
        sets: String::new(),
        pred,
        returning,
    })
}

/// An UPDATE or a DELETE the oracle may judge (see [`eligible`]).
pub fn split_dml(sql: &str) -> Option<DmlParts> {
    split_update(sql)
        .or_else(|| split_delete(sql))
        .filter(eligible)
}

/// A value as SQL text meaning the same in an expression (no affinity,
/// like a bound parameter); `None` for text holding a NUL (a literal
/// cannot).
fn literal(v: &V) -> Option<String> {
    match v {
        V::Int(i64::MIN) => Some("(-9223372036854775807 - 1)".into()),
        V::Real(r) => Some(format!("({})", real_literal(*r))),
        V::Int(i) if *i < 0 => Some(format!("({i})")),
        V::Text(s) if s.contains('\0') => None,
        other => Some(other.literal()),
    }
}

/// `sql` with `?N` replaced by the literals of `params`.
pub fn inline_params(sql: &str, params: &[V]) -> Option<String> {
    let mut out = String::new();
    let mut quote = None::<char>;
    let mut chars = sql.chars().peekable();
    while let Some(c) = chars.next() {
        match quote {
            Some(q) if c == q => quote = None,
            Some(_) => {}
            None if c == '\'' || c == '"' => quote = Some(c),
            None if c == '?' => {
                let mut n = String::new();
                while let Some(d) = chars.peek().filter(|d| d.is_ascii_digit()) {
                    n.push(*d);
                    chars.next();
                }
                let i: usize = n.parse().ok()?;
                out.push_str(&literal(params.get(i.checked_sub(1)?)?)?);
                continue;
            }
            None => {}
        }
        out.push(c);
    }
    Some(out)
}

/// `s` cut at its commas outside quotes and parentheses.
fn split_top(s: &str) -> Vec<&str> {
    let b = s.as_bytes();
    let (mut depth, mut quote, mut start) = (0i32, None::<u8>, 0);
    let mut out = Vec::new();
    for (i, &c) in b.iter().enumerate() {
        match quote {
            Some(q) if c == q => quote = None,
            Some(_) => {}
            None => match c {
                b'\'' | b'"' | b'`' => quote = Some(c),
                b'(' => depth += 1,
                b')' => depth -= 1,
                b',' if depth == 0 => {
                    out.push(&s[start..i]);
                    start = i + 1;
                }
                _ => {}
            },
        }
    }
    out.push(&s[start..]);
    out
}

/// `(SELECT ...)` when `rhs` is exactly one parenthesized subquery (its
/// opening parenthesis closes at its end), else `None`.
fn whole_subquery(rhs: &str) -> Option<&str> {
    let rhs = rhs.trim();
    if !rhs.starts_with('(') || group_len(rhs)? != rhs.len() {
        return None;
    }
    let inner = rhs[1..rhs.len() - 1].trim_start();
    let select = inner
        .get(..7)
        .is_some_and(|w| w.eq_ignore_ascii_case("SELECT "));
    select.then_some(rhs)
}

/// Whether the text names something in a way the judging of subqueries
/// cannot follow: a quoted identifier (SQLite takes a double-quoted name
/// it cannot resolve for a string, so a subquery run on its own could
/// read as a literal what the statement reads as the updated row's
/// column).
fn quoted_names(s: &str) -> bool {
    s.contains(['"', '`', '['])
}

/// Whether the oracle may judge this UPDATE (see the module
/// documentation): no function of the statement's state; a subquery in
/// SET only as the whole value of a column (whether it is uncorrelated
/// is decided in the replay, by SQLite's name resolution).
pub fn eligible(parts: &DmlParts) -> bool {
    let ret = parts.returning.as_deref().unwrap_or_default();
    let s = format!("{} {ret}", parts.sets).to_ascii_lowercase();
    if ["changes(", "random", "last_insert_rowid("]
        .iter()
        .any(|w| s.contains(w))
    {
        return false;
    }
    if s.contains("select") && quoted_names(&s) {
        return false;
    }
    split_top(&parts.sets)
        .iter()
        .all(|a| !a.to_ascii_lowercase().contains("select") || set_subquery(a).is_some())
}

/// `(column, subquery)` for an assignment `column = (SELECT ...)`.
fn set_subquery(assignment: &str) -> Option<(&str, &str)> {
    let (col, rhs) = assignment.split_once('=')?;
    let col = col.trim();
    if col.is_empty() || !col.bytes().all(|c| c.is_ascii_alphanumeric() || c == b'_') {
        return None;
    }
    Some((col, whole_subquery(rhs)?))
}

/// The SET list with each subquery replaced by its value on SQLite's
/// present state (the state before the UPDATE when the replay starts).
/// `None` when a subquery does not resolve on its own (it names a column
/// of the updated row, or fails), its value has no literal, or it is not
/// one value.
fn freeze_set_subqueries(lite: &mut Sqlite, sets: &str) -> Option<String> {
    let mut out = Vec::new();
    for a in split_top(sets) {
        if !a.to_ascii_lowercase().contains("select") {
            out.push(a.trim().to_string());
            continue;
        }
        let (col, sub) = set_subquery(a)?;
        let Outcome::Rows(r) = lite.run(&format!("SELECT {sub}"), &[], Mode::Rows) else {
            return None;
        };
        let [row] = r.as_slice() else {
            return None;
        };
        let [v] = row.as_slice() else {
            return None;
        };
        out.push(format!("{col} = {}", literal(v)?));
    }
    Some(out.join(", "))
}

/// The rows of a query on SQLite, `None` if it fails.
fn query_rows(lite: &mut Sqlite, sql: &str, params: &[V]) -> Option<Vec<Vec<V>>> {
    match lite.run(sql, params, Mode::Rows) {
        Outcome::Rows(r) => Some(r),
        _ => None,
    }
}

/// Whether every subquery of the RETURNING list has one value throughout
/// the UPDATE, so that computing it once (SQLite, for one that names
/// neither the updated row nor, directly, the updated table) or for every
/// row (the replay) cannot differ: the UPDATE writes only its table (no
/// trigger on it, no temporary object named for it, foreign keys off),
/// and no subquery reads that table (no cursor on its b-trees in SQLite's
/// plan of the list over a stand-in row of the same columns, views and
/// nested subqueries included).
fn returning_subqueries_fixed(lite: &mut Sqlite, table: &str, returning: &str) -> Option<()> {
    if !returning.to_ascii_lowercase().contains("select") {
        return Some(());
    }
    let name = [V::Text(table.to_string())];
    let others = query_rows(
        lite,
        "SELECT (SELECT count(*) FROM sqlite_schema WHERE type = 'trigger' AND tbl_name = ?1) \
         + (SELECT count(*) FROM sqlite_temp_schema WHERE tbl_name = ?1)",
        &name,
    )?;
    let fk = query_rows(lite, "PRAGMA foreign_keys", &[])?;
    if others != [vec![V::Int(0)]] || fk != [vec![V::Int(0)]] {
        return None;
    }
    let mut cols = Vec::new();
    for r in query_rows(lite, "SELECT name FROM pragma_table_xinfo(?1)", &name)? {
        match r.first() {
            Some(V::Text(n)) if n.bytes().all(|c| c.is_ascii_alphanumeric() || c == b'_') => {
                cols.push(format!("NULL AS {n}"));
            }
            _ => return None,
        }
    }
    let pages: Vec<V> = query_rows(
        lite,
        "SELECT rootpage FROM sqlite_schema WHERE tbl_name = ?1 AND rootpage > 0",
        &name,
    )?
    .into_iter()
    .filter_map(|r| r.into_iter().next())
    .collect();
    if cols.is_empty() || pages.is_empty() {
        return None;
    }
    // MATERIALIZED: the stand-in's NULLs are read from a cursor, never
    // folded into the subqueries as constants; the alias names the row as
    // the statement does, while a subquery's `FROM t` still means the
    // table.
    let plan = format!(
        "EXPLAIN WITH difftest_row AS MATERIALIZED (SELECT {}) \
         SELECT {returning} FROM difftest_row AS {table}",
        cols.join(", ")
    );
    // EXPLAIN's columns: addr, opcode, p1, p2 (root page), p3 (database).
    let reads_table = query_rows(lite, &plan, &[])?.iter().any(|op| {
        matches!(op.get(1), Some(V::Text(o)) if o == "OpenRead" || o == "ReopenIdx")
            && (op.get(4) != Some(&V::Int(0)) || op.get(3).is_some_and(|p| pages.contains(p)))
    });
    (!reads_table).then_some(())
}

/// How the rows of a table are named: `rowid`, or a WITHOUT ROWID
/// table's key columns.
pub fn key_columns(lite: &mut Sqlite, table: &str) -> Option<Vec<String>> {
    let Outcome::Rows(r) = lite.run(
        "SELECT sql FROM sqlite_master WHERE type = 'table' AND name = ?1",
        &[V::Text(table.to_string())],
        Mode::Rows,
    ) else {
        return None;
    };
    let without_rowid = match r.first()?.first()? {
        V::Text(s) => s.to_ascii_uppercase().contains("WITHOUT ROWID"),
        _ => return None,
    };
    if !without_rowid {
        return Some(vec!["rowid".into()]);
    }
    let Outcome::Rows(cols) = lite.run(
        &format!("SELECT name, pk FROM pragma_table_info('{table}') WHERE pk > 0 ORDER BY pk"),
        &[],
        Mode::Rows,
    ) else {
        return None;
    };
    cols.iter()
        .map(|c| match c.first() {
            Some(V::Text(n)) => Some(n.clone()),
            _ => None,
        })
        .collect()
}

/// The orders to try: sealdb's plan's and table order, each the keys of
/// the rows the WHERE matches on the state before the UPDATE (read before
/// it runs). `None` when they cannot be read.
pub fn candidates(
    seal: &mut Sealdb,
    lite: &mut Sqlite,
    parts: &DmlParts,
    keys: &[String],
    params: &[V],
) -> Option<Vec<Vec<Vec<V>>>> {
    let cols = keys.join(", ");
    let pred = match &parts.pred {
        Some(p) => format!(" WHERE {}", inline_params(p, params)?),
        None => String::new(),
    };
    let Outcome::Rows(plan) = seal.run(
        &format!("SELECT {cols} FROM {}{pred}", parts.table),
        &[],
        Mode::Rows,
    ) else {
        return None;
    };
    let Outcome::Rows(all) = lite.run(
        &format!("SELECT {cols} FROM {} NOT INDEXED", parts.table),
        &[],
        Mode::Rows,
    ) else {
        return None;
    };
    let mut table: Vec<(usize, Vec<V>)> = Vec::new();
    for k in &plan {
        let pos = all.iter().position(|a| a == k)?;
        table.push((pos, k.clone()));
    }
    table.sort_by_key(|(p, _)| *p);
    let table: Vec<Vec<V>> = table.into_iter().map(|(_, k)| k).collect();
    let mut out = vec![plan];
    if table != out[0] {
        out.push(table);
    }
    Some(out)
}

/// What SQLite undoes of a statement that fails with an error other than
/// a constraint failure (a STRICT type error) after it changed rows:
/// everything when it keeps a statement journal, nothing when it does not
/// (inside a transaction; see the module documentation).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Journal {
    /// A statement journal: the statement is undone.
    Undone,
    /// None: the rows changed before the error stay.
    Kept,
}

/// Whether every subquery of the RETURNING list is computed for every row
/// by SQLite as by the one-row statements of the replay: each one not
/// inside another names `table` directly in its own FROM (which
/// `sqlite3ProcessReturningSubqueries` marks correlated) and holds no
/// subquery of its own (one that did would be computed once).
fn returning_subqueries_per_row(table: &str, returning: &str) -> bool {
    let lower = returning.to_ascii_lowercase();
    let b = lower.as_bytes();
    let (mut quote, mut i) = (None::<u8>, 0);
    let mut found = false;
    while i < b.len() {
        let c = b[i];
        match quote {
            Some(q) if c == q => quote = None,
            Some(_) => {}
            None => match c {
                b'\'' | b'"' | b'`' => quote = Some(c),
                b'(' if lower[i + 1..].trim_start().starts_with("select ") => {
                    let Some(len) = group_len(&lower[i..]) else {
                        return false;
                    };
                    let inner = &lower[i + 1..i + len - 1];
                    if inner.matches("select").count() != 1 || !names_in_from(inner, table) {
                        return false;
                    }
                    found = true;
                    i += len;
                    continue;
                }
                _ => {}
            },
        }
        i += 1;
    }
    found
}

/// The length of the parenthesized group `s` starts with, or `None`.
fn group_len(s: &str) -> Option<usize> {
    let (mut depth, mut quote) = (0i32, None::<u8>);
    for (i, &c) in s.as_bytes().iter().enumerate() {
        match quote {
            Some(q) if c == q => quote = None,
            Some(_) => {}
            None => match c {
                b'\'' | b'"' | b'`' => quote = Some(c),
                b'(' => depth += 1,
                b')' => {
                    depth -= 1;
                    if depth == 0 {
                        return Some(i + 1);
                    }
                }
                _ => {}
            },
        }
    }
    None
}

/// Whether the FROM clause of `select` (lower case, no subquery) names
/// `table` as one of its tables.
fn names_in_from(select: &str, table: &str) -> bool {
    let Some(f) = top_level(select, " from ") else {
        return false;
    };
    let from = &select[f + 6..];
    let end = [" where ", " group ", " order ", " limit ", " window "]
        .iter()
        .filter_map(|k| top_level(from, k))
        .min()
        .unwrap_or(from.len());
    let table = table.to_ascii_lowercase();
    from[..end]
        .split(|c: char| c.is_whitespace() || c == ',')
        .any(|w| w == table)
}

/// SQLite's outcome of the UPDATE or DELETE applied row by row in `order`
/// (see the module documentation), with `journal` deciding what an error
/// other than a constraint failure undoes; `None` when the replay cannot
/// stand for the statement.
pub fn replay(
    lite: &mut Sqlite,
    parts: &DmlParts,
    keys: &[String],
    order: &[Vec<V>],
    params: &[V],
    journal: Journal,
) -> Option<Outcome> {
    let sets = if parts.delete {
        String::new()
    } else {
        freeze_set_subqueries(lite, &inline_params(&parts.sets, params)?)?
    };
    let returning = match &parts.returning {
        Some(r) => Some(inline_params(r, params)?),
        None => None,
    };
    if let Some(r) = &returning {
        if !returning_subqueries_per_row(&parts.table, r) {
            returning_subqueries_fixed(lite, &parts.table, r)?;
        }
    }
    let mut rows = Vec::new();
    let exec = |lite: &mut Sqlite, sql: &str| lite.run(sql, &[], Mode::Exec);
    if !matches!(exec(lite, "SAVEPOINT difftest_replay"), Outcome::Changed(_)) {
        return None;
    }
    // Every table before the first row (see the module documentation:
    // an error that leaves them all so is judged whatever the journal).
    let before = dump_tables(lite)?;
    let mut changes = 0;
    let mut failed = None;
    let mut undo = false;
    for k in order {
        let mut cond = Vec::new();
        for (c, v) in keys.iter().zip(k) {
            let v = literal(v)?;
            cond.push(if c == "rowid" {
                format!("rowid = {v}")
            } else {
                format!("{c} = {v} COLLATE BINARY")
            });
        }
        let mut sql = if parts.delete {
            format!("DELETE FROM {} WHERE {}", parts.table, cond.join(" AND "))
        } else {
            format!(
                "UPDATE {}{} SET {sets} WHERE {}",
                parts.conflict,
                parts.table,
                cond.join(" AND ")
            )
        };
        let outcome = match &returning {
            Some(r) => {
                sql.push_str(&format!(" RETURNING {r}"));
                lite.run(&sql, &[], Mode::Rows)
            }
            None => exec(lite, &sql),
        };
        match outcome {
            Outcome::Changed(n) => changes += n,
            Outcome::Rows(r) => rows.extend(r),
            Outcome::Error(e) if e.contains("constraint failed") => {
                undo = !matches!(parts.conflict.as_str(), "OR FAIL " | "OR ROLLBACK ");
                failed = Some(e);
                break;
            }
            Outcome::Error(e) => {
                let unchanged = dump_tables(lite).as_ref() == Some(&before);
                undo = !unchanged && journal == Journal::Undone;
                failed = Some(e);
                break;
            }
            _ => {
                let _ = exec(lite, "ROLLBACK TO difftest_replay");
                let _ = exec(lite, "RELEASE difftest_replay");
                return None;
            }
        }
    }
    if undo {
        let _ = exec(lite, "ROLLBACK TO difftest_replay");
    }
    // After OR ROLLBACK failed the savepoint is gone with the transaction.
    let _ = exec(lite, "RELEASE difftest_replay");
    Some(match failed {
        Some(e) => Outcome::Error(e),
        None if returning.is_some() => Outcome::Rows(rows),
        None => Outcome::Changed(changes),
    })
}

/// Every table of SQLite's (name and rows, rowids included, in table
/// order), `None` when one cannot be read.
pub fn dump_tables(lite: &mut Sqlite) -> Option<Vec<(String, Vec<Vec<V>>)>> {
    let tables = query_rows(
        lite,
        "SELECT name, sql FROM sqlite_master WHERE type = 'table' ORDER BY name",
        &[],
    )?;
    let mut out = Vec::new();
    for t in &tables {
        let (Some(V::Text(name)), Some(V::Text(sql))) = (t.first(), t.get(1)) else {
            return None;
        };
        let q = if name == "sqlite_sequence" || sql.to_ascii_uppercase().contains("WITHOUT ROWID") {
            format!("SELECT * FROM {name}")
        } else {
            format!("SELECT rowid, * FROM {name}")
        };
        out.push((name.clone(), query_rows(lite, &q, &[])?));
    }
    Some(out)
}

/// Every table's rows on both engines (rowid included where there is
/// one; `sqlite_sequence` too): `Err` names the first that differs.
pub fn same_tables(seal: &mut Sealdb, lite: &mut Sqlite) -> Result<(), String> {
    let Outcome::Rows(tables) = lite.run(
        "SELECT name, sql FROM sqlite_master WHERE type = 'table' ORDER BY name",
        &[],
        Mode::Rows,
    ) else {
        return Err("cannot list SQLite's tables".into());
    };
    for t in &tables {
        let (Some(V::Text(name)), Some(V::Text(sql))) = (t.first(), t.get(1)) else {
            continue;
        };
        let q = if name == "sqlite_sequence" || sql.to_ascii_uppercase().contains("WITHOUT ROWID") {
            format!("SELECT * FROM {name}")
        } else {
            format!("SELECT rowid, * FROM {name}")
        };
        let s = seal.run(&q, &[], Mode::Rows);
        let l = lite.run(&q, &[], Mode::Rows);
        match (&s, &l) {
            (Outcome::Rows(a), Outcome::Rows(b)) => {
                if crate::compare::compare_rows(a, b, &Default::default()).is_err() {
                    return Err(format!("table {name} differs"));
                }
            }
            _ => return Err(format!("table {name} cannot be read on both")),
        }
    }
    Ok(())
}

/// Checks of the statement splitting (the difftest binary has no unit
/// test harness; `main` runs these before the regressions).
pub fn split_checks() -> Result<(), String> {
    let p = split_update(
        "UPDATE OR IGNORE t0 SET c1 = (SELECT 1 WHERE 1), c2 = 'a WHERE b' WHERE c0 > 1",
    )
    .ok_or("no split")?;
    let want = DmlParts {
        delete: false,
        conflict: "OR IGNORE ".into(),
        table: "t0".into(),
        sets: "c1 = (SELECT 1 WHERE 1), c2 = 'a WHERE b'".into(),
        pred: Some("c0 > 1".into()),
        returning: None,
    };
    if p != want {
        return Err(format!("split_update: {p:?}"));
    }
    let q = split_update("UPDATE t1 SET c0 = ?1").ok_or("no split")?;
    if q.conflict.is_empty() && q.table == "t1" && q.pred.is_none() && q.sets == "c0 = ?1" {
    } else {
        return Err(format!("split_update: {q:?}"));
    }
    let r = split_update("UPDATE t1 SET c0 = 1 WHERE c1 RETURNING c0, (SELECT 1 WHERE 1)")
        .ok_or("no split")?;
    if r.pred.as_deref() != Some("c1") || r.returning.as_deref() != Some("c0, (SELECT 1 WHERE 1)") {
        return Err(format!("split_update: {r:?}"));
    }
    let i = inline_params(
        "c0 = ?1 AND c1 = '?2' AND c2 = ?2",
        &[V::Int(-3), V::Text("x".into())],
    )
    .ok_or("no inline")?;
    if i != "c0 = (-3) AND c1 = '?2' AND c2 = 'x'" {
        return Err(format!("inline_params: {i}"));
    }
    if inline_params("c0 = ?1", &[V::Text("a\0b".into())]).is_some() {
        return Err("inline_params spelled a NUL".into());
    }
    let judged = |sql: &str| split_update(sql).is_some_and(|p| eligible(&p));
    for (sql, want) in [
        (
            "UPDATE t0 SET c0 = (SELECT sum(a.c1) FROM t0 AS a), c1 = 2",
            true,
        ),
        (
            "UPDATE t0 SET c1 = 2, c0 = ( SELECT 1 ) WHERE c1 IN (SELECT 1)",
            true,
        ),
        (
            "UPDATE t0 SET c0 = (SELECT 1) RETURNING (SELECT count(*) FROM t1)",
            true,
        ),
        ("UPDATE t0 SET c0 = (SELECT 1) + 1", false),
        ("UPDATE t0 SET c0 = coalesce(c1, (SELECT 1))", false),
        ("UPDATE t0 SET c0 = (SELECT 1) || (SELECT 2)", false),
        ("UPDATE t0 SET c0 = (SELECT \"c1\" FROM t1 AS a)", false),
        ("UPDATE t0 SET c0 = 1 RETURNING (SELECT random())", false),
        ("UPDATE t0 SET c0 = changes()", false),
    ] {
        if judged(sql) != want {
            return Err(format!("eligible: {sql} should be {want}"));
        }
    }
    let d = split_delete("DELETE FROM t0 WHERE c1 > ' WHERE ' RETURNING c0, (SELECT 1)")
        .ok_or("no split")?;
    if !d.delete
        || d.table != "t0"
        || d.pred.as_deref() != Some("c1 > ' WHERE '")
        || d.returning.as_deref() != Some("c0, (SELECT 1)")
    {
        return Err(format!("split_delete: {d:?}"));
    }
    for (ret, want) in [
        (
            "c2, (SELECT total(a5.c1) FROM t0 AS a5 WHERE a5.c0 IS NOT 1)",
            true,
        ),
        ("(SELECT count(*) FROM t1, t0 AS b) + 1", true),
        ("(SELECT count(*) FROM t1)", false),
        (
            "(SELECT count(*) FROM t0 WHERE c1 IN (SELECT c1 FROM t1))",
            false,
        ),
        ("c0", false),
    ] {
        if returning_subqueries_per_row("t0", ret) != want {
            return Err(format!(
                "returning_subqueries_per_row: {ret} should be {want}"
            ));
        }
    }
    if split_top("a = (1, 2), b = 'x,y', c") != ["a = (1, 2)", " b = 'x,y'", " c"] {
        return Err("split_top".into());
    }
    Ok(())
}
