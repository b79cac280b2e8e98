//! Writing the rows of one table: what a new row must pass before it is
//! stored, where it goes, and the row with its index entries.
//!
//! ```text
//!   values ─apply_affinities, check_not_null, check_strict (in SQLite's
//!           order: check_order)
//!          ─new_rowid──► largest rowid + 1 (AUTOINCREMENT: also above
//!                        every rowid sqlite_sequence remembers; a random
//!                        free one when the largest rowid is taken)
//!          ─violations─► the uniqueness constraints it breaks, in
//!                        SQLite's order: the rowid, then each UNIQUE
//!                        index (a partial one only if it holds the row)
//!          ─write──────► the row and the entries of the indexes that
//!                        hold it
//! ```
//!
//! A partial index holds only the rows its WHERE is true for; the
//! [`TableWriter`] binds those WHEREs once per statement.
//!
//! `sqlite_sequence(name, seq)` is an ordinary table, made with the first
//! AUTOINCREMENT table; it keeps, per such table, the largest rowid ever
//! inserted, so that rowids are never used again after a delete. As in
//! SQLite it is written when a data change ends without error
//! ([`SequenceScope`]), not row by row.

use std::sync::Arc;

use crate::catalog::{rows_prefix, Schema, Table, SEQUENCE_TABLE};
use crate::error::{Error, Result, SqlErrorKind};
use crate::sql::eval::{eval, truth, PExpr};
use crate::sql::exec::{
    delete_row, index_values, max_rowid, read_row, rowid_may_exist, unique_conflicts, write_row,
    ErrorScope, ExecCtx, Row,
};
use crate::sql::plan::Planner;
use crate::syntax::ast::Conflict;
use crate::syntax::parse::parse_expr;
use crate::types::{apply_affinity, Affinity, Value};

/// A uniqueness constraint of a table.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Constraint {
    /// The rowid (INTEGER PRIMARY KEY).
    Rowid,
    /// The UNIQUE index at this position in the table's index list.
    Index(usize),
}

/// A uniqueness constraint a row breaks.
#[derive(Clone, Debug)]
pub struct Violation {
    /// Which one.
    pub on: Constraint,
    /// The rows it conflicts with.
    pub rows: Vec<i64>,
    /// Its name in messages (`t.a, t.b`).
    pub what: String,
}

impl Violation {
    /// SQLite's error for it.
    pub fn error(&self) -> Error {
        Error::sql(
            SqlErrorKind::Unique,
            format!("UNIQUE constraint failed: {}", self.what),
        )
    }
}

/// The constraint error `e` under conflict resolution `mode`: FAIL keeps
/// what the statement changed before, ROLLBACK undoes the transaction.
pub fn constraint_error(cx: &mut ExecCtx, mode: Conflict, e: Error) -> Error {
    cx.on_error = match mode {
        Conflict::Fail => ErrorScope::Nothing,
        Conflict::Rollback => ErrorScope::Transaction,
        _ => ErrorScope::Statement,
    };
    e
}

/// Writes the rows of one table (see the module documentation).
pub struct TableWriter {
    /// The table.
    pub t: Arc<Table>,
    /// Per index, its WHERE if partial, bound over the table's row.
    filters: Vec<Option<PExpr>>,
    /// Per index, per key column, its expression if it is one, bound over
    /// the table's row (empty for an index without expressions).
    key_exprs: Vec<Vec<Option<PExpr>>>,
    /// The table's CHECK constraints, bound over its row.
    checks: Vec<crate::sql::check::BoundCheck>,
    /// The table's generated columns, bound over its row.
    generated: crate::sql::generated::BoundGenerated,
}

/// How SQLite names a UNIQUE index in its error: `t.a, t.b`, an
/// expression key as `index 'NAME'` (all of it, as SQLite does when one
/// key is an expression).
pub fn index_constraint_name(t: &Table, idx: &crate::catalog::Index) -> String {
    if idx.has_exprs() {
        return format!("index '{}'", idx.name);
    }
    constraint_name(t, &idx.columns)
}

fn constraint_name(t: &Table, cols: &[usize]) -> String {
    cols.iter()
        .map(|&c| format!("{}.{}", t.name, t.columns[c].name))
        .collect::<Vec<_>>()
        .join(", ")
}

impl TableWriter {
    /// The writer of `t` (binding its partial indexes' WHEREs and its
    /// CHECK constraints).
    pub fn new(t: &Arc<Table>) -> Result<TableWriter> {
        let mut filters = Vec::with_capacity(t.indexes.len());
        let mut key_exprs = Vec::with_capacity(t.indexes.len());
        for idx in &t.indexes {
            filters.push(match &idx.filter {
                Some(sql) => Some(bind_index_filter(t, sql)?),
                None => None,
            });
            key_exprs.push(crate::sql::index_expr::bind_index_exprs(t, idx)?);
        }
        Ok(TableWriter {
            t: t.clone(),
            filters,
            key_exprs,
            checks: crate::sql::check::bind_checks(t)?,
            generated: crate::sql::generated::bind_generated(t)?,
        })
    }

    /// Computes the generated columns of `row` (columns, maybe ++ rowid)
    /// from its other columns (see [`crate::sql::generated`]).
    pub fn compute_generated(&self, cx: &mut ExecCtx, row: &mut [Value]) -> Result<()> {
        if self.generated.is_empty() {
            return Ok(());
        }
        self.generated.compute(&self.t, cx, row)
    }

    /// Whether `row` (columns ++ rowid, after NOT NULL) passes the table's
    /// CHECK constraints: `Ok(false)` when OR IGNORE skips it (see
    /// [`crate::sql::check`]).
    pub fn passes_checks(&self, cx: &mut ExecCtx, row: &[Value], mode: Conflict) -> Result<bool> {
        if self.checks.is_empty() {
            return Ok(true);
        }
        crate::sql::check::passes(cx, &self.checks, row, mode)
    }

    /// Whether index `i` holds `row` (columns ++ rowid).
    pub fn holds(&self, cx: &mut ExecCtx, i: usize, row: &[Value]) -> Result<bool> {
        match self.filters.get(i).and_then(Option::as_ref) {
            None => Ok(true),
            Some(f) => Ok(truth(f, row, cx)? == Some(true)),
        }
    }

    /// The key values of index `i` for `row` (columns ++ rowid): its
    /// columns' values, its expressions' results.
    pub fn key_values(&self, cx: &mut ExecCtx, i: usize, row: &[Value]) -> Result<Vec<Value>> {
        let idx = &self.t.indexes[i];
        match self.key_exprs.get(i) {
            Some(exprs) if !exprs.is_empty() => {
                let mut out = Vec::with_capacity(idx.columns.len());
                for (k, &c) in idx.columns.iter().enumerate() {
                    out.push(match exprs.get(k).and_then(Option::as_ref) {
                        Some(e) => eval(e, row, cx)?,
                        None => row.get(c).cloned().unwrap_or(Value::Null),
                    });
                }
                Ok(out)
            }
            _ => Ok(index_values(idx, row)),
        }
    }

    /// The entry of every index for `row`: its key values, or `None`
    /// where a partial index does not hold it.
    fn entries(&self, cx: &mut ExecCtx, row: &[Value]) -> Result<Vec<Option<Vec<Value>>>> {
        (0..self.t.indexes.len())
            .map(|i| {
                if self.holds(cx, i, row)? {
                    self.key_values(cx, i, row).map(Some)
                } else {
                    Ok(None)
                }
            })
            .collect()
    }

    /// Stores `row` (columns ++ rowid) at `rowid`, with its index entries.
    pub fn write(&self, cx: &mut ExecCtx, rowid: i64, row: &[Value]) -> Result<()> {
        let keys = self.entries(cx, row)?;
        write_row(cx.txn, &self.t, rowid, row, &keys);
        Ok(())
    }

    /// Removes `row` (as stored at `rowid`) and its index entries.
    pub fn delete(&self, cx: &mut ExecCtx, rowid: i64, row: &[Value]) -> Result<()> {
        let keys = self.entries(cx, row)?;
        delete_row(cx.txn, &self.t, rowid, row, &keys);
        Ok(())
    }

    /// Whether `row`, to be stored at `rowid`, breaks constraint `on`
    /// (ignoring the row `except`, the one being updated).
    pub fn violation_of(
        &self,
        cx: &mut ExecCtx,
        row: &[Value],
        rowid: i64,
        except: Option<i64>,
        on: Constraint,
    ) -> Result<Option<Violation>> {
        let t = &self.t;
        let rows = match on {
            Constraint::Rowid => {
                if Some(rowid) != except
                    && rowid_may_exist(cx.txn, t, rowid)?
                    && read_row(cx.txn, t, rowid)?.is_some()
                {
                    vec![rowid]
                } else {
                    Vec::new()
                }
            }
            Constraint::Index(i) => {
                let idx = &t.indexes[i];
                if !idx.unique || !self.holds(cx, i, row)? {
                    Vec::new()
                } else {
                    let key = self.key_values(cx, i, row)?;
                    unique_conflicts(cx.txn, t, idx, &key, except)?
                }
            }
        };
        if rows.is_empty() {
            return Ok(None);
        }
        let what = match on {
            Constraint::Rowid => match t.rowid_alias {
                Some(a) => constraint_name(t, &[a]),
                None => format!("{}.rowid", t.name),
            },
            Constraint::Index(i) => index_constraint_name(t, &t.indexes[i]),
        };
        Ok(Some(Violation { on, rows, what }))
    }

    /// Every uniqueness constraint `row` breaks, in SQLite's order: the
    /// rowid, then the UNIQUE indexes.
    pub fn violations(
        &self,
        cx: &mut ExecCtx,
        row: &[Value],
        rowid: i64,
        except: Option<i64>,
    ) -> Result<Vec<Violation>> {
        let mut out = Vec::new();
        let all = std::iter::once(Constraint::Rowid)
            .chain((0..self.t.indexes.len()).map(Constraint::Index));
        for on in all {
            if let Some(v) = self.violation_of(cx, row, rowid, except, on)? {
                out.push(v);
            }
        }
        Ok(out)
    }
}

/// Binds a partial index's WHERE over `t`'s row (columns ++ rowid).
pub fn bind_index_filter(t: &Arc<Table>, sql: &str) -> Result<PExpr> {
    let e = parse_expr(sql)?;
    let empty = Schema::default();
    let bound = Planner::new(&empty)
        .executing()
        .table_exprs(t, std::slice::from_ref(&e))?;
    bound
        .into_iter()
        .next()
        .ok_or_else(|| Error::sql(SqlErrorKind::Misuse, "empty index WHERE"))
}

/// The name of a STRICT type, for messages.
fn strict_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "NULL",
        Value::Integer(_) => "INTEGER",
        Value::Real(_) => "REAL",
        Value::Text(_) => "TEXT",
        Value::Blob(_) => "BLOB",
    }
}

/// Whether a STRICT column declared `decl` takes `v` (after its affinity
/// was applied): INT and INTEGER take integers, REAL reals, TEXT text,
/// BLOB blobs, ANY anything; NULL goes anywhere NOT NULL allows it.
fn strict_accepts(decl: &str, v: &Value) -> bool {
    matches!(
        (decl.to_ascii_uppercase().as_str(), v),
        (_, Value::Null)
            | ("ANY", _)
            | ("INT" | "INTEGER", Value::Integer(_))
            | ("REAL", Value::Real(_))
            | ("TEXT", Value::Text(_))
            | ("BLOB", Value::Blob(_))
    )
}

/// Applies the columns' affinities to a row's values.
pub fn apply_affinities(t: &Table, row: &mut [Value]) {
    for (c, v) in t.columns.iter().zip(row.iter_mut()) {
        crate::types::apply_affinity_in_place(v, c.affinity);
    }
}

/// Checks NOT NULL on a row (values after affinity); returns the row, or
/// `None` when conflict resolution `mode` skips it (IGNORE), with a NULL
/// replaced by its column's DEFAULT under REPLACE where that is not NULL.
pub fn check_not_null(
    cx: &mut ExecCtx,
    t: &Table,
    mut row: Row,
    mode: Conflict,
    dflt: &[Value],
) -> Result<Option<Row>> {
    for (i, c) in t.columns.iter().enumerate() {
        if c.not_null && matches!(row[i], Value::Null) && Some(i) != t.rowid_alias {
            match mode {
                Conflict::Ignore => return Ok(None),
                Conflict::Replace if !matches!(dflt[i], Value::Null) => {
                    row[i] = apply_affinity(dflt[i].clone(), c.affinity)
                }
                _ => {
                    let e = Error::sql(
                        SqlErrorKind::NotNull,
                        format!("NOT NULL constraint failed: {}.{}", t.name, c.name),
                    );
                    return Err(constraint_error(cx, mode, e));
                }
            }
        }
    }
    Ok(Some(row))
}

/// One check of a row about to be written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Check {
    /// A uniqueness constraint.
    Unique(Constraint),
    /// A STRICT table's types.
    Types,
}

/// The checks of a row of `t`, in SQLite's order: the rowid, the types
/// (again when BEFORE triggers saw them checked: NOT NULL may have put
/// a DEFAULT in since), the UNIQUE indexes; an upsert's target comes
/// first, and an index target even before the types.
pub fn check_order(t: &Table, target: Option<Constraint>) -> Vec<Check> {
    let mut out = Vec::with_capacity(t.indexes.len() + 2);
    let types = t.strict.then_some(Check::Types);
    match target {
        Some(Constraint::Index(k)) => {
            out.extend(types);
            out.push(Check::Unique(Constraint::Index(k)));
            out.push(Check::Unique(Constraint::Rowid));
        }
        _ => {
            out.push(Check::Unique(Constraint::Rowid));
            out.extend(types);
        }
    }
    for i in 0..t.indexes.len() {
        if target != Some(Constraint::Index(i)) {
            out.push(Check::Unique(Constraint::Index(i)));
        }
    }
    out
}

/// In a STRICT table, checks that every value of a row about to be written
/// is of its column's type. As SQLite, this comes last, after the
/// constraints were resolved (a row OR IGNORE skips is not checked), and
/// no conflict resolution resolves it.
pub fn check_strict(t: &Table, row: &[Value]) -> Result<()> {
    if !t.strict {
        return Ok(());
    }
    for (c, v) in t.columns.iter().zip(row) {
        if !strict_accepts(&c.decl_type, v) {
            return Err(Error::sql(
                SqlErrorKind::TypeMismatch,
                format!(
                    "cannot store {} value in {} column {}.{}",
                    strict_name(v),
                    c.decl_type.to_ascii_uppercase(),
                    t.name,
                    c.name
                ),
            ));
        }
    }
    Ok(())
}

/// The rowid a row asks for through its INTEGER PRIMARY KEY column.
pub fn explicit_rowid(t: &Table, row: &[Value]) -> Result<Option<i64>> {
    let Some(a) = t.rowid_alias else {
        return Ok(None);
    };
    match &row[a] {
        Value::Null => Ok(None),
        v => must_be_int(v.clone()).map(Some),
    }
}

/// A value given as a rowid, as SQLite's `OP_MustBeInt` takes it: an
/// integer; a REAL holding an integer in the 64-bit range, both ends
/// included (-9223372036854775808.0 too, which INTEGER affinity leaves a
/// REAL); text under NUMERIC affinity; anything else is a datatype
/// mismatch.
pub fn must_be_int(v: Value) -> Result<i64> {
    let mismatch = || Error::sql(SqlErrorKind::TypeMismatch, "datatype mismatch");
    match v {
        Value::Integer(i) => Ok(i),
        Value::Real(r) => {
            if (-9_223_372_036_854_775_808.0..9_223_372_036_854_775_808.0).contains(&r)
                && (r as i64) as f64 == r
            {
                Ok(r as i64)
            } else {
                Err(mismatch())
            }
        }
        other => match apply_affinity(other, Affinity::Integer) {
            Value::Integer(i) => Ok(i),
            _ => Err(mismatch()),
        },
    }
}

/// The `sqlite_sequence` row of table `name`: (its rowid, seq).
fn sequence_row(cx: &mut ExecCtx, schema: &Schema, name: &str) -> Result<Option<(i64, i64)>> {
    let Some(seq) = schema.table(SEQUENCE_TABLE) else {
        return Ok(None);
    };
    let p = rows_prefix(seq.id);
    let mut end = p.clone();
    end.push(0xff);
    for e in cx.txn.scan(
        std::ops::Bound::Included(p),
        std::ops::Bound::Excluded(end),
        crate::storage::Direction::Forward,
    )? {
        let (k, v) = e?;
        let row = crate::encoding::decode_row(&v)?;
        if matches!(row.first(), Some(Value::Text(n)) if n == name) {
            let n = match row.get(1) {
                Some(Value::Integer(i)) => *i,
                Some(other) => other.to_i64(),
                None => 0,
            };
            return Ok(Some((crate::catalog::rowid_of_key(&k)?, n)));
        }
    }
    Ok(None)
}

/// A rowid for a new row of `t` that names none: the largest rowid plus
/// one (`next` caches it between the rows of one statement; the caller
/// raises it past each rowid it writes). With
/// AUTOINCREMENT also above the largest rowid `sqlite_sequence` keeps, and
/// an error when that is the largest possible; without, a random unused
/// rowid when the largest is taken, as SQLite.
pub fn new_rowid(
    cx: &mut ExecCtx,
    schema: &Schema,
    t: &Table,
    next: &mut Option<i64>,
) -> Result<i64> {
    let full = || {
        Error::sql(
            SqlErrorKind::Misuse,
            "database or disk is full (no rowid left)",
        )
    };
    if let Some(n) = *next {
        return Ok(n);
    }
    let max = max_rowid(cx.txn, t)?;
    if t.autoincrement {
        let stored = sequence_row(cx, schema, &t.name)?.map(|(_, s)| s);
        let seq = stored.max(pending_sequence(&t.name));
        let top = max.max(seq).unwrap_or(0);
        // Not cached: every rowid given (even to a row then skipped)
        // raises the sequence.
        return match top.checked_add(1) {
            Some(n) => Ok(n.max(1)),
            None => {
                NO_ROWID_LEFT.with(|f| f.set(true));
                Err(full())
            }
        };
    }
    match max {
        None => Ok(1),
        Some(m) if m < i64::MAX => {
            *next = Some(m + 1);
            Ok(m + 1)
        }
        Some(_) => {
            // SQLite: up to 100 random tries in [1, 2^62].
            for _ in 0..100 {
                let mut b = [0u8; 8];
                getrandom::fill(&mut b)
                    .map_err(|e| Error::sql(SqlErrorKind::Misuse, format!("no randomness: {e}")))?;
                let r = (i64::from_le_bytes(b) & (i64::MAX >> 1)) + 1;
                if read_row(cx.txn, t, r)?.is_none() {
                    return Ok(r);
                }
            }
            NO_ROWID_LEFT.with(|f| f.set(true));
            Err(full())
        }
    }
}

thread_local! {
    /// Set when [`new_rowid`] found no rowid left (SQLite's SQLITE_FULL)
    /// during the data change running on this thread.
    static NO_ROWID_LEFT: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
    /// The largest rowid given per AUTOINCREMENT table (by name) during
    /// the data change running on this thread, not yet in
    /// `sqlite_sequence`; `None` outside one.
    static PENDING: std::cell::RefCell<Option<std::collections::BTreeMap<String, i64>>> =
        const { std::cell::RefCell::new(None) };
}

thread_local! {
    /// The AUTOINCREMENT tables the trigger programs compiled with the
    /// next top-level data change insert into (see [`compiled_inserts`]).
    static COMPILED: std::cell::RefCell<Vec<String>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// The AUTOINCREMENT tables an INSERT of the trigger programs the next
/// statement may fire targets: as SQLite, that statement writes their
/// `sqlite_sequence` rows when it ends, even if no trigger fired (a new
/// row then holds 0; see [`touch_sequence`]).
pub fn compiled_inserts(tables: Vec<String>) {
    COMPILED.with(|c| *c.borrow_mut() = tables);
}

fn pending_sequence(name: &str) -> Option<i64> {
    PENDING.with(|p| p.borrow().as_ref().and_then(|m| m.get(name).copied()))
}

/// The `sqlite_sequence` bookkeeping of one top-level data change, as
/// SQLite's: it reads the table's sequence when the statement starts,
/// raises it in a register for every rowid given (trigger programs
/// included), and writes it back only when the statement ends without
/// error (`sqlite3AutoincrementEnd`), so a statement that fails, even one
/// whose earlier rows stay (OR FAIL), leaves `sqlite_sequence` as it was.
/// Begun by every data change; only the outermost one (not those of
/// trigger bodies) writes.
pub struct SequenceScope {
    top: bool,
}

impl SequenceScope {
    /// Begins the bookkeeping, unless a statement on this thread already
    /// did (a trigger body's statement).
    pub fn begin() -> SequenceScope {
        let top = PENDING.with(|p| {
            let mut p = p.borrow_mut();
            let top = p.is_none();
            if top {
                // (A BTreeMap: empty, it allocates nothing, and it is in
                // the order `finish` writes.)
                let mut m = std::collections::BTreeMap::<String, i64>::new();
                for name in COMPILED.with(|c| std::mem::take(&mut *c.borrow_mut())) {
                    m.entry(name).or_insert(0);
                }
                *p = Some(m);
                NO_ROWID_LEFT.with(|f| f.set(false));
            }
            top
        });
        SequenceScope { top }
    }

    /// Whether this is the outermost data change (not a trigger body's).
    pub fn is_top(&self) -> bool {
        self.top
    }

    /// Whether the statement ran out of rowids (only the outermost one
    /// asks).
    pub fn no_rowid_left(&self) -> bool {
        self.top && NO_ROWID_LEFT.with(|f| f.get())
    }

    /// Ends it: the outermost statement, when `ok`, writes what it noted.
    pub fn finish(mut self, cx: &mut ExecCtx, schema: &Schema, ok: bool) -> Result<()> {
        if !self.top {
            return Ok(());
        }
        // Taken here, so the drop has nothing left to take.
        self.top = false;
        let noted = PENDING.with(|p| p.borrow_mut().take());
        // Most statements touch no AUTOINCREMENT table: no loop over an
        // empty map.
        let Some(noted) = noted.filter(|m| ok && !m.is_empty()) else {
            return Ok(());
        };
        for (name, rowid) in noted {
            write_sequence(cx, schema, &name, rowid)?;
        }
        Ok(())
    }
}

impl Drop for SequenceScope {
    fn drop(&mut self) {
        // A statement that unwound without `finish` writes nothing.
        if self.top {
            PENDING.with(|p| p.borrow_mut().take());
        }
    }
}

/// An INSERT into AUTOINCREMENT table `t` ran: as SQLite, its statement
/// writes the table's `sqlite_sequence` row when it ends, even if it gave
/// no rowid (a new row then holds 0).
pub fn touch_sequence(t: &Table) {
    if t.autoincrement {
        PENDING.with(|p| {
            if let Some(m) = p.borrow_mut().as_mut() {
                m.entry(t.name.clone()).or_insert(0);
            }
        });
    }
}

/// Rowid `rowid` was given to a row of AUTOINCREMENT table `t` (written
/// or not): the statement's sequence rises to it (see [`SequenceScope`];
/// outside one it is written at once).
pub fn note_rowid(cx: &mut ExecCtx, schema: &Schema, t: &Table, rowid: i64) -> Result<()> {
    if !t.autoincrement {
        return Ok(());
    }
    let noted = PENDING.with(|p| match p.borrow_mut().as_mut() {
        Some(m) => {
            // SQLite's register starts at the stored sequence, or 0.
            let e = m.entry(t.name.clone()).or_insert(0);
            *e = (*e).max(rowid);
            true
        }
        None => false,
    });
    if noted {
        return Ok(());
    }
    write_sequence(cx, schema, &t.name, rowid)
}

/// Keeps the largest of `rowid` and table `name`'s `sqlite_sequence` row
/// (made if missing).
fn write_sequence(cx: &mut ExecCtx, schema: &Schema, name: &str, rowid: i64) -> Result<()> {
    let Some(seq) = schema.table(SEQUENCE_TABLE) else {
        return Ok(());
    };
    let (at, old) = match sequence_row(cx, schema, name)? {
        Some((at, old)) => (Some(at), Some(old)),
        None => (None, None),
    };
    if old.is_some_and(|o| o >= rowid) {
        return Ok(());
    }
    let at = match at {
        Some(a) => a,
        None => max_rowid(cx.txn, seq)?.map_or(1, |m| m.saturating_add(1)),
    };
    let row = vec![
        Value::Text(name.to_string()),
        Value::Integer(rowid),
        Value::Integer(at),
    ];
    write_row(cx.txn, seq, at, &row, &[]);
    Ok(())
}

/// Removes table `name`'s row from `sqlite_sequence` (DROP TABLE), or
/// renames it (`to`, ALTER TABLE RENAME).
pub fn forget_sequence(
    cx: &mut ExecCtx,
    schema: &Schema,
    name: &str,
    to: Option<&str>,
) -> Result<()> {
    let Some(seq) = schema.table(SEQUENCE_TABLE) else {
        return Ok(());
    };
    if let Some((at, n)) = sequence_row(cx, schema, name)? {
        let old = vec![
            Value::Text(name.to_string()),
            Value::Integer(n),
            Value::Integer(at),
        ];
        delete_row(cx.txn, seq, at, &old, &[]);
        if let Some(to) = to {
            let new = vec![
                Value::Text(to.to_string()),
                Value::Integer(n),
                Value::Integer(at),
            ];
            write_row(cx.txn, seq, at, &new, &[]);
        }
    }
    Ok(())
}
