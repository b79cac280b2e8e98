//! Runs data-changing and schema-changing statements inside a transaction.
//!
//! Queries are planned and opened by the caller (they stream); everything
//! here runs to completion and reports how many rows changed. Each function
//! works on a transaction's write set; statement atomicity (undo on error)
//! is the caller's, through `Txn::mark` / `Txn::rollback_to`.

use std::collections::HashMap;
use std::sync::Arc;

use crate::auth::PolicyCmd;
use crate::catalog::Trigger;
use crate::catalog::{index_prefix, table_prefix, CatalogWriter, Schema, Table, View};
use crate::error::{Error, Result, SqlErrorKind};
use crate::sql::access::{check, too_deep, trigger_uses, MAX_TRIGGER_DEPTH};
use crate::sql::depend::{check_column_name, referrers, refuse_if_referred};
use crate::sql::eval::{eval, PExpr};
use crate::sql::exec::{delete_prefix, index_values, open, read_row, ExecCtx, Row};
use crate::sql::plan::{reads_target, Planner, Security};
use crate::sql::write::{
    apply_affinities, check_not_null, check_order, check_strict, constraint_error, explicit_rowid,
    forget_sequence, new_rowid, note_rowid, Check, Constraint, TableWriter, Violation,
};
use crate::syntax::ast::{AlterOp, CreateTrigger, Statement, TriggerEvent, TriggerTiming};
use crate::syntax::ast::{
    Conflict, CreateIndex, CreateTable, Delete, Expr, Insert, ObjectKind, Query, Update,
    UpsertAction,
};
use crate::syntax::parse::parse_expr;
use crate::txn::Txn;
use crate::types::{apply_affinity, Affinity, Value};

/// What a statement produced besides its changes: RETURNING rows.
pub struct Changed {
    /// Rows changed.
    pub changes: u64,
    /// RETURNING column names and rows (empty when there was no RETURNING).
    pub returning: Option<(Vec<String>, Vec<Row>)>,
    /// The last inserted rowid, if the statement inserted.
    pub last_rowid: Option<i64>,
}

struct TxnWriter<'a>(&'a mut Txn);

impl CatalogWriter for TxnWriter<'_> {
    fn put(&mut self, key: Vec<u8>, value: Vec<u8>) -> Result<()> {
        self.0.put(key, value);
        Ok(())
    }
    fn delete(&mut self, key: Vec<u8>) -> Result<()> {
        self.0.delete(key);
        Ok(())
    }
}

fn table<'s>(schema: &'s Schema, name: &str) -> Result<&'s Arc<Table>> {
    schema.table(name).ok_or_else(|| {
        if schema.view(name).is_some() {
            Error::sql(
                SqlErrorKind::Misuse,
                format!("cannot modify {name} because it is a view"),
            )
        } else {
            Error::sql(SqlErrorKind::UnknownTable, format!("no such table: {name}"))
        }
    })
}

fn constraint_name(t: &Table, cols: &[usize]) -> String {
    cols.iter()
        .map(|&c| format!("{}.{}", t.name, t.columns[c].name))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Evaluates the DEFAULT of every column (NULL where none).
fn defaults(t: &Table, cx: &mut ExecCtx) -> Result<Row> {
    eval_defaults(&bind_defaults(t)?, cx)
}

/// What an INSERT needs besides its parameters, planned once per
/// (schema, security catalog) when a prepared statement runs again: the
/// target columns and the source plan, then (planned after the source was
/// read the first time, so errors keep their order) RETURNING, defaults,
/// row-level security checks and the ON CONFLICT DO UPDATE expressions.
/// The caller owns the validity: a plan is only reused under the same
/// schema and security catalog it was made with.
pub struct InsertPlan {
    t: Arc<Table>,
    targets: Vec<usize>,
    source: Option<crate::sql::plan::Planned>,
    rest: Option<InsertRest>,
}

struct InsertRest {
    returning: Option<(Vec<PExpr>, Vec<String>)>,
    defaults: Vec<Option<PExpr>>,
    insert_check: Option<PExpr>,
    update_check: Option<PExpr>,
    /// ON CONFLICT DO UPDATE must be let take an existing row over: the
    /// SELECT and UPDATE policies' USING conditions (empty without
    /// row-level security or without DO UPDATE).
    upsert_checks: Vec<PExpr>,
    /// OR REPLACE may delete only rows that pass the SELECT and DELETE
    /// policies' USING conditions (empty without row-level security).
    replace_checks: Vec<PExpr>,
    /// With RETURNING, new rows must pass the SELECT policies.
    returning_check: Option<PExpr>,
    upsert: Option<UpsertPlan>,
    writer: TableWriter,
}

/// The row-level security checks of one row's UPDATE (each empty or
/// `None` where row-level security does not apply).
struct RowChecks<'a> {
    /// The new row must pass the UPDATE policies' WITH CHECK.
    update: &'a Option<PExpr>,
    /// With RETURNING, the new row must pass the SELECT policies.
    returning: &'a Option<PExpr>,
    /// Rows OR REPLACE deletes must pass these USING conditions.
    replace: &'a [PExpr],
}

/// ON CONFLICT [(target)] DO ...
struct UpsertPlan {
    /// The constraint the target names (None: any).
    target: Option<Constraint>,
    /// DO UPDATE: (column, SET expression) pairs and the WHERE, over
    /// (existing row ++ excluded); None: DO NOTHING.
    update: Option<UpsertUpdate>,
}

/// DO UPDATE's (column position, SET expression) pairs and its WHERE.
type UpsertUpdate = (Vec<(usize, PExpr)>, Option<PExpr>);

/// Binds the DEFAULT of every column (`None` where there is none).
fn bind_defaults(t: &Table) -> Result<Vec<Option<PExpr>>> {
    let mut out = Vec::with_capacity(t.columns.len());
    for c in &t.columns {
        out.push(match &c.default {
            Some(sql) => {
                let e = parse_expr(sql)?;
                let empty = Schema::default();
                let mut p = Planner::new(&empty);
                let bound = p.table_exprs(
                    &Arc::new(Table {
                        indexes: Vec::new(),
                        ..t.clone()
                    }),
                    &[e],
                )?;
                bound.into_iter().next()
            }
            None => None,
        });
    }
    Ok(out)
}

/// Evaluates bound defaults (NULL where none).
fn eval_defaults(defaults: &[Option<PExpr>], cx: &mut ExecCtx) -> Result<Row> {
    let mut out = Vec::with_capacity(defaults.len());
    for d in defaults {
        out.push(match d {
            Some(b) => eval(b, &[], cx)?,
            None => Value::Null,
        });
    }
    Ok(out)
}

fn plan_insert_head(cx: &ExecCtx, schema: &Schema, ins: &Insert) -> Result<InsertPlan> {
    let t = table(schema, &ins.table)?.clone();
    let width = t.columns.len();
    // Target positions for the source columns.
    let targets: Vec<usize> = match &ins.columns {
        Some(cols) => cols
            .iter()
            .map(|c| {
                if is_rowid_name(c) && t.column(c).is_none() && !t.without_rowid {
                    return Ok(width);
                }
                t.column(c).ok_or_else(|| {
                    Error::sql(
                        SqlErrorKind::UnknownColumn,
                        format!("table {} has no column named {c}", t.name),
                    )
                })
            })
            .collect::<Result<_>>()?,
        None => (0..width).collect(),
    };
    let source = match &ins.source {
        Some(q) => {
            let planned = planner_for(schema, cx).query(q)?;
            if planned.columns.len() != targets.len() {
                return Err(Error::sql(
                    SqlErrorKind::Misuse,
                    format!(
                        "table {} has {} columns but {} values were supplied",
                        t.name,
                        targets.len(),
                        planned.columns.len()
                    ),
                ));
            }
            Some(planned)
        }
        None => None,
    };
    Ok(InsertPlan {
        t,
        targets,
        source,
        rest: None,
    })
}

fn plan_insert_rest(
    cx: &ExecCtx,
    schema: &Schema,
    t: &Arc<Table>,
    ins: &Insert,
) -> Result<InsertRest> {
    let mut planner = planner_for(schema, cx);
    let returning = if ins.returning.is_empty() {
        None
    } else {
        Some(planner.returning(t, &ins.returning)?)
    };
    let defaults = bind_defaults(t)?;
    let insert_check = planner.row_policy(t, PolicyCmd::Insert, true)?;
    let upsert = match &ins.upsert {
        None => None,
        Some(up) => {
            let target = match &up.target {
                Some(cols) => Some(upsert_target(t, cols)?),
                None => None,
            };
            // DO UPDATE: SET and WHERE over (existing row ++ excluded).
            let update = match &up.action {
                UpsertAction::Nothing => None,
                UpsertAction::Update(sets, filter) => {
                    let mut bound = Vec::new();
                    for (col, e) in sets {
                        let pos = set_target(t, col)?;
                        bound.push((pos, planner.upsert_expr(t, e)?));
                    }
                    let filter = filter
                        .as_ref()
                        .map(|f| planner.upsert_expr(t, f))
                        .transpose()?;
                    Some((bound, filter))
                }
            };
            Some(UpsertPlan { target, update })
        }
    };
    let update_check = match &upsert {
        Some(UpsertPlan {
            update: Some(_), ..
        }) => planner.row_policy(t, PolicyCmd::Update, true)?,
        _ => None,
    };
    let upsert_checks = match &upsert {
        Some(UpsertPlan {
            update: Some(_), ..
        }) => using_checks(&mut planner, t, &[PolicyCmd::Update])?,
        _ => Vec::new(),
    };
    // Also for a REPLACE a firing statement imposes on a trigger's INSERT.
    let replace_checks = using_checks(&mut planner, t, &[PolicyCmd::Delete])?;
    let returning_check = match &returning {
        Some(_) => planner.row_policy(t, PolicyCmd::Select, false)?,
        None => None,
    };
    Ok(InsertRest {
        returning,
        defaults,
        insert_check,
        update_check,
        upsert_checks,
        replace_checks,
        returning_check,
        upsert,
        writer: TableWriter::new(t)?,
    })
}

/// The constraint an upsert's target names (SQLite's
/// `sqlite3UpsertAnalyzeTarget`): the rowid, or the UNIQUE index (not
/// partial) on exactly these columns, in any order.
fn upsert_target(t: &Table, cols: &[String]) -> Result<Constraint> {
    let mut positions = Vec::with_capacity(cols.len());
    for c in cols {
        let pos = match t.column(c) {
            Some(p) => p,
            None if is_rowid_name(c) && !t.without_rowid => t.columns.len(),
            None => {
                return Err(Error::sql(
                    SqlErrorKind::UnknownColumn,
                    format!("no such column: {c}"),
                ))
            }
        };
        positions.push(pos);
    }
    if let [p] = positions.as_slice() {
        if *p == t.columns.len() || Some(*p) == t.rowid_alias {
            return Ok(Constraint::Rowid);
        }
    }
    let mut wanted = positions.clone();
    wanted.sort_unstable();
    wanted.dedup();
    for (i, idx) in t.indexes.iter().enumerate() {
        // SQLite keeps a rowid alias in an index as the rowid, which no
        // target column matches.
        let has_rowid = t.rowid_alias.is_some_and(|a| idx.columns.contains(&a));
        if !idx.unique || idx.filter.is_some() || idx.columns.len() != positions.len() || has_rowid
        {
            continue;
        }
        let mut have = idx.columns.clone();
        have.sort_unstable();
        if have == wanted {
            return Ok(Constraint::Index(i));
        }
    }
    Err(Error::sql(
        SqlErrorKind::Misuse,
        "ON CONFLICT clause does not match any PRIMARY KEY or UNIQUE constraint",
    ))
}

fn is_rowid_name(n: &str) -> bool {
    ["rowid", "_rowid_", "oid"]
        .iter()
        .any(|r| r.eq_ignore_ascii_case(n))
}

/// The position a SET assigns (a column, or the rowid by one of its names).
fn set_target(t: &Table, col: &str) -> Result<usize> {
    match t.column(col) {
        Some(p) => Ok(p),
        None if is_rowid_name(col) && !t.without_rowid => Ok(t.columns.len()),
        None => Err(Error::sql(
            SqlErrorKind::UnknownColumn,
            format!("no such column: {col}"),
        )),
    }
}

/// INSERT.
pub fn insert(cx: &mut ExecCtx, schema: &Schema, ins: &Insert) -> Result<Changed> {
    insert_planned(cx, schema, ins, &mut None)
}

/// INSERT with a plan kept in `slot` between runs: used when present,
/// filled (as far as planning got) when not. The caller empties `slot`
/// whenever the schema or the security catalog changes.
pub fn insert_planned(
    cx: &mut ExecCtx,
    schema: &Schema,
    ins: &Insert,
    slot: &mut Option<InsertPlan>,
) -> Result<Changed> {
    if slot.is_none() {
        *slot = Some(plan_insert_head(cx, schema, ins)?);
    }
    let Some(plan) = slot.as_mut() else {
        return Err(Error::sql(SqlErrorKind::Misuse, "INSERT was not planned"));
    };
    let t = plan.t.clone();
    let width = t.columns.len();
    let source_rows: Vec<Row> = match &plan.source {
        Some(planned) => {
            // Read everything first: INSERT INTO t SELECT FROM t must not
            // see its own rows.
            let mut it = open(&planned.plan, cx, &[])?;
            let mut rows = Vec::new();
            while let Some(r) = it.next(cx)? {
                rows.push(r);
            }
            rows
        }
        None => vec![Vec::new()],
    };
    if plan.rest.is_none() {
        plan.rest = Some(plan_insert_rest(cx, schema, &t, ins)?);
    }
    let Some(rest) = plan.rest.as_ref() else {
        return Err(Error::sql(SqlErrorKind::Misuse, "INSERT was not planned"));
    };
    let targets = &plan.targets;
    let dflt = eval_defaults(&rest.defaults, cx)?;
    // The conflict resolution: the statement's, or the one a firing
    // statement imposes on its triggers' statements.
    let named = effective_conflict(ins.on_conflict);
    let mode = named.unwrap_or(Conflict::Abort);
    let mut next_rowid: Option<i64> = None;
    let mut changed = Changed {
        changes: 0,
        returning: rest
            .returning
            .as_ref()
            .map(|(_, n)| (n.clone(), Vec::new())),
        last_rowid: None,
    };
    let writer = &rest.writer;
    let before_triggers = schema
        .triggers_on(&t.name)
        .iter()
        .any(|tr| tr.timing == TriggerTiming::Before && tr.event == TriggerEvent::Insert);
    let upsert_target = rest.upsert.as_ref().map(|u| u.target);
    let order = check_order(&t, upsert_target.flatten(), before_triggers);
    let journal = keeps_statement_journal(schema, &t, ins, mode, targets);
    for src in source_rows {
        // Room for the rowid appended below.
        let mut row = Vec::with_capacity(width + 1);
        row.extend(dflt.iter().cloned());
        // A rowid alias the INSERT does not name gets a new rowid, not its
        // DEFAULT (SQLite).
        if let Some(a) = t.rowid_alias {
            row[a] = Value::Null;
        }
        let mut rowid_given: Option<Value> = None;
        for (v, &pos) in src.into_iter().zip(targets) {
            if pos == width {
                rowid_given = Some(v);
            } else {
                row[pos] = v;
            }
        }
        apply_affinities(&t, &mut row);
        let explicit = match (explicit_rowid(&t, &row)?, rowid_given) {
            (Some(r), _) => Some(r),
            (None, Some(v)) if !matches!(v, Value::Null) => {
                match apply_affinity(v, Affinity::Integer) {
                    Value::Integer(i) => Some(i),
                    _ => return Err(Error::sql(SqlErrorKind::TypeMismatch, "datatype mismatch")),
                }
            }
            _ => None,
        };
        // As SQLite: BEFORE triggers see the row after affinity (a STRICT
        // table's types checked first), with -1 for a rowid still to be
        // chosen; NOT NULL and the other constraints come after them.
        if before_triggers {
            strict_checked(cx, &t, &row, journal)?;
            let mut seen = row.clone();
            let r = explicit.unwrap_or(-1);
            if let Some(a) = t.rowid_alias {
                seen[a] = Value::Integer(r);
            }
            seen.push(Value::Integer(r));
            fire(
                cx,
                schema,
                &t,
                TriggerTiming::Before,
                RowEvent::Insert,
                Some(&seen),
                None,
                &[],
                named,
            )?;
        }
        let rowid = match explicit {
            Some(r) => r,
            None => new_rowid(cx, schema, &t, &mut next_rowid)?,
        };
        // AUTOINCREMENT remembers every rowid a row was given, written or
        // not (SQLite).
        note_rowid(cx, schema, &t, rowid)?;
        let Some(row_done) = check_not_null(cx, &t, row, mode, &dflt)? else {
            continue;
        };
        let mut row = row_done;
        if let Some(a) = t.rowid_alias {
            row[a] = Value::Integer(rowid);
        }
        row.push(Value::Integer(rowid));
        let gone = match resolve(
            cx,
            writer,
            &row,
            rowid,
            None,
            mode,
            &order,
            upsert_target,
            journal,
        )? {
            Resolution::Skip => continue,
            Resolution::Write(gone) => gone,
            Resolution::Upsert(v) => {
                let Some(Some((sets, filter))) = rest.upsert.as_ref().map(|u| &u.update) else {
                    continue; // DO NOTHING
                };
                let conflicting = v.rows[0];
                let Some(old) = read_row(cx.txn, &t, conflicting)? else {
                    continue;
                };
                // Before the WHERE and SET see it: a row the user may not
                // see or update is refused, never read.
                require_visible(cx, &rest.upsert_checks, &t, &old, "update")?;
                // SET and WHERE see the existing row and `excluded`.
                let mut both = old.clone();
                both.extend(row.iter().cloned());
                if let Some(f) = filter {
                    if eval(f, &both, cx)?.truthy() != Some(true) {
                        continue;
                    }
                }
                let mut values = old.clone();
                for (pos, e) in sets {
                    values[*pos] = eval(e, &both, cx)?;
                }
                let cols: Vec<usize> = sets.iter().map(|(p, _)| *p).collect();
                // As SQLite: the update is an UPDATE OR ABORT of that row.
                let new = update_row(
                    cx,
                    schema,
                    writer,
                    old,
                    values,
                    &cols,
                    Some(Conflict::Abort),
                    RowChecks {
                        update: &rest.update_check,
                        returning: &rest.returning_check,
                        replace: &[],
                    },
                    match (&rest.returning, changed.returning.as_mut()) {
                        (Some((exprs, _)), Some((_, rows))) => Some((exprs.as_slice(), rows)),
                        _ => None,
                    },
                )?;
                if new.is_some() {
                    changed.changes += 1;
                }
                continue;
            }
        };
        // REPLACE: the conflicting rows go (no DELETE triggers: SQLite
        // fires them only with recursive triggers on). Every one must be a
        // row the user may see and delete; checked before any goes.
        let mut olds = Vec::with_capacity(gone.len());
        for r in gone {
            if let Some(old) = read_row(cx.txn, &t, r)? {
                require_visible(cx, &rest.replace_checks, &t, &old, "replace")?;
                olds.push((r, old));
            }
        }
        for (r, old) in olds {
            writer.delete(cx, r, &old)?;
        }
        check_new_row(cx, &rest.insert_check, &t, &row)?;
        check_new_row(cx, &rest.returning_check, &t, &row)?;
        writer.write(cx, rowid, &row)?;
        if let (Some((exprs, _)), Some((_, rows))) = (&rest.returning, changed.returning.as_mut()) {
            rows.push(returning_row(cx, exprs, &row)?);
        }
        // The next new rowid is the largest rowid plus one: known from
        // here on once it was read (a trigger could have added rows, so it
        // is read again where triggers exist).
        next_rowid = match (next_rowid, rowid.checked_add(1)) {
            (Some(n), Some(after)) if schema.triggers.is_empty() && !t.autoincrement => {
                Some(n.max(after))
            }
            _ => None,
        };
        fire(
            cx,
            schema,
            &t,
            TriggerTiming::After,
            RowEvent::Insert,
            Some(&row),
            None,
            &[],
            named,
        )?;
        changed.changes += 1;
        changed.last_rowid = Some(rowid);
    }
    Ok(changed)
}

/// [`check_strict`], noting for the caller that an error leaves the rows
/// written before when the statement keeps no journal to undo them.
fn strict_checked(cx: &mut ExecCtx, t: &Table, row: &[Value], journal: bool) -> Result<()> {
    let r = check_strict(t, row);
    if r.is_err() && !journal {
        cx.on_error = crate::sql::exec::ErrorScope::NoStatementJournal;
    }
    r
}

/// Whether SQLite would keep a statement journal for this INSERT (to undo
/// it on an error part way): when it writes several rows (a SELECT or
/// several VALUES rows, or triggers) and something in it may abort (its
/// `sqlite3MayAbort`): a constraint resolved by ABORT, a REPLACE that
/// cannot fill a NOT NULL column, an explicit rowid (which must be an
/// integer), a function call, a trigger.
fn keeps_statement_journal(
    schema: &Schema,
    t: &Table,
    ins: &Insert,
    mode: Conflict,
    targets: &[usize],
) -> bool {
    let triggers = !schema.triggers_on(&t.name).is_empty();
    let several = match ins.source.as_deref() {
        Some(q) => !matches!(&q.body, crate::syntax::ast::SetExpr::Values(rows) if rows.len() == 1),
        None => false,
    };
    if !(several || triggers) {
        return true; // nothing to undo but the one row
    }
    let rowid_given = targets
        .iter()
        .any(|&p| p == t.columns.len() || Some(p) == t.rowid_alias);
    let constraint_aborts = match mode {
        Conflict::Abort => {
            t.columns.iter().any(|c| c.not_null)
                || t.indexes.iter().any(|i| i.unique)
                || rowid_given
        }
        Conflict::Replace => t.columns.iter().any(|c| c.not_null && c.default.is_none()),
        _ => false,
    };
    constraint_aborts
        || rowid_given
        || triggers
        || ins
            .source
            .as_deref()
            .is_some_and(crate::sql::plan::query_calls_function)
}

/// What the checks of a row to be written decided.
enum Resolution {
    /// Write it, after deleting these rows (REPLACE).
    Write(Vec<i64>),
    /// Skip it (IGNORE).
    Skip,
    /// The upsert applies: this is the constraint it hit.
    Upsert(Violation),
}

/// Runs the checks `order` on `row` (to be stored at `rowid`, replacing
/// the row `except` if any) under conflict resolution `mode`. `upsert`:
/// an upsert's target (`Some(None)`: any constraint), whose violations
/// the upsert handles.
#[allow(clippy::too_many_arguments)]
fn resolve(
    cx: &mut ExecCtx,
    writer: &TableWriter,
    row: &[Value],
    rowid: i64,
    except: Option<i64>,
    mode: Conflict,
    order: &[Check],
    upsert: Option<Option<Constraint>>,
    journal: bool,
) -> Result<Resolution> {
    let mut gone = Vec::new();
    for check in order {
        match check {
            Check::Types => strict_checked(cx, &writer.t, row, journal)?,
            Check::Unique(c) => {
                let Some(v) = writer.violation_of(cx, row, rowid, except, *c)? else {
                    continue;
                };
                if let Some(target) = upsert {
                    if target.is_none() || target == Some(*c) {
                        return Ok(Resolution::Upsert(v));
                    }
                }
                match mode {
                    Conflict::Ignore => return Ok(Resolution::Skip),
                    Conflict::Replace => gone.extend(v.rows.iter().copied()),
                    _ => return Err(constraint_error(cx, mode, v.error())),
                }
            }
        }
    }
    gone.sort_unstable();
    gone.dedup();
    Ok(Resolution::Write(gone))
}

/// Updates row `old` (columns ++ rowid) of `writer`'s table to `values`
/// (the same layout, SET applied; the rowid position may be assigned), the
/// columns `cols` assigned: affinity, NOT NULL and STRICT, the rowid
/// (changed through the INTEGER PRIMARY KEY or `rowid`), the uniqueness
/// constraints under `named` (the conflict resolution), row-level
/// security, UPDATE triggers. Returns the new row, or `None` when the
/// resolution skipped it.
#[allow(clippy::too_many_arguments)]
fn update_row(
    cx: &mut ExecCtx,
    schema: &Schema,
    writer: &TableWriter,
    old: Row,
    mut values: Row,
    cols: &[usize],
    named: Option<Conflict>,
    checks: RowChecks,
    returning: Option<(&[PExpr], &mut Vec<Row>)>,
) -> Result<Option<Row>> {
    let t = writer.t.clone();
    let mode = named.unwrap_or(Conflict::Abort);
    let old_rowid = match old.last() {
        Some(Value::Integer(r)) => *r,
        _ => return Ok(None),
    };
    // REPLACE puts a column's DEFAULT in place of a NULL it may not hold.
    let dflt = if mode == Conflict::Replace {
        defaults(&t, cx)?
    } else {
        vec![Value::Null; t.columns.len()]
    };
    let new_rowid_val = values.pop().unwrap_or(Value::Null);
    apply_affinities(&t, &mut values);
    let mut new = values;
    let mut rowid = match apply_affinity(new_rowid_val, Affinity::Integer) {
        Value::Integer(i) => i,
        _ => return Err(Error::sql(SqlErrorKind::TypeMismatch, "datatype mismatch")),
    };
    if let Some(a) = t.rowid_alias {
        if cols.contains(&a) {
            rowid = explicit_rowid(&t, &new)?
                .ok_or_else(|| Error::sql(SqlErrorKind::TypeMismatch, "datatype mismatch"))?;
        }
        new[a] = Value::Integer(rowid);
    }
    new.push(Value::Integer(rowid));
    // As SQLite: BEFORE triggers see the new row after affinity (a STRICT
    // table's types checked first); if they removed the row nothing more
    // happens, and the columns the UPDATE does not set are read again
    // (the triggers may have changed them).
    let before = update_triggers_fire_at(schema, &t, cols, TriggerTiming::Before);
    if before {
        check_strict(&t, &new)?;
        fire(
            cx,
            schema,
            &t,
            TriggerTiming::Before,
            RowEvent::Update,
            Some(&new),
            Some(&old),
            cols,
            named,
        )?;
        let Some(now) = read_row(cx.txn, &t, old_rowid)? else {
            return Ok(None);
        };
        for (i, v) in now.into_iter().enumerate().take(t.columns.len()) {
            if !cols.contains(&i) && Some(i) != t.rowid_alias {
                new[i] = v;
            }
        }
    }
    let rowid_v = new.pop().unwrap_or(Value::Null);
    let Some(mut checked) = check_not_null(cx, &t, new, mode, &dflt)? else {
        return Ok(None);
    };
    checked.push(rowid_v);
    let new = checked;
    let order = check_order(&t, None, before);
    let gone = match resolve(
        cx,
        writer,
        &new,
        rowid,
        Some(old_rowid),
        mode,
        &order,
        None,
        true,
    )? {
        Resolution::Skip | Resolution::Upsert(_) => return Ok(None),
        Resolution::Write(gone) => gone,
    };
    let mut olds = Vec::with_capacity(gone.len());
    for r in gone {
        if let Some(o) = read_row(cx.txn, &t, r)? {
            require_visible(cx, checks.replace, &t, &o, "replace")?;
            olds.push((r, o));
        }
    }
    for (r, o) in olds {
        writer.delete(cx, r, &o)?;
    }
    check_new_row(cx, checks.update, &t, &new)?;
    check_new_row(cx, checks.returning, &t, &new)?;
    // The row as it is now (a REPLACE above may not have touched it, but
    // its index entries must be the stored ones).
    let Some(current) = read_row(cx.txn, &t, old_rowid)? else {
        return Ok(None);
    };
    writer.delete(cx, old_rowid, &current)?;
    writer.write(cx, rowid, &new)?;
    if let Some((exprs, rows)) = returning {
        rows.push(returning_row(cx, exprs, &new)?);
    }
    fire(
        cx,
        schema,
        &t,
        TriggerTiming::After,
        RowEvent::Update,
        Some(&new),
        Some(&old),
        cols,
        named,
    )?;
    Ok(Some(new))
}

/// The RETURNING values for one changed `row`. SQLite computes them as
/// the first AFTER trigger of that row, so a subquery sees the rows
/// changed so far and is run again for every row (a trigger program's
/// one-time subqueries are per invocation).
fn returning_row(cx: &mut ExecCtx, exprs: &[PExpr], row: &[Value]) -> Result<Row> {
    let saved = std::mem::take(cx.cache);
    let out = exprs.iter().map(|e| eval(e, row, cx)).collect();
    *cx.cache = saved;
    out
}

/// Whether an UPDATE of `t` assigning `cols` fires a trigger with `timing`.
fn update_triggers_fire_at(
    schema: &Schema,
    t: &Table,
    cols: &[usize],
    timing: TriggerTiming,
) -> bool {
    schema.triggers_on(&t.name).iter().any(|tr| {
        tr.timing == timing
            && match &tr.event {
                TriggerEvent::Update(of) => {
                    of.is_empty()
                        || of
                            .iter()
                            .any(|c| t.column(c).is_some_and(|p| cols.contains(&p)))
                }
                _ => false,
            }
    })
}

/// The row `chosen` (columns ++ rowid, as a scan found it) as it is now:
/// by its rowid, or in a WITHOUT ROWID table by its key (as SQLite finds
/// it again: another row may have taken that key meanwhile).
fn current_row(cx: &mut ExecCtx, t: &Table, chosen: &[Value]) -> Result<Option<Row>> {
    let pk_index = t
        .without_rowid
        .then(|| {
            t.indexes
                .iter()
                .find(|i| i.auto && i.columns == t.primary_key)
        })
        .flatten();
    if let Some(idx) = pk_index {
        let key = index_values(idx, chosen);
        let found = crate::sql::exec::unique_conflicts(cx.txn, t, idx, &key, None)?;
        return match found.first() {
            Some(&r) => read_row(cx.txn, t, r),
            None => Ok(None),
        };
    }
    match chosen.last() {
        Some(Value::Integer(r)) => read_row(cx.txn, t, *r),
        _ => Ok(None),
    }
}

/// Whether an UPDATE of `t` assigning `cols` fires a trigger.
fn update_triggers_fire(schema: &Schema, t: &Table, cols: &[usize]) -> bool {
    schema
        .triggers_on(&t.name)
        .iter()
        .any(|tr| match &tr.event {
            TriggerEvent::Update(of) => {
                of.is_empty()
                    || of
                        .iter()
                        .any(|c| t.column(c).is_some_and(|p| cols.contains(&p)))
            }
            _ => false,
        })
}

/// Sorts rows (columns ++ rowid) of `t` by rowid, or for a WITHOUT ROWID
/// table by its key (as its key index orders them).
fn sort_in_table_order(t: &Table, rows: &mut [Row]) {
    let pk_index = t
        .without_rowid
        .then(|| {
            t.indexes
                .iter()
                .find(|i| i.auto && i.columns == t.primary_key)
        })
        .flatten();
    match pk_index {
        Some(idx) => rows.sort_by_cached_key(|r| {
            let mut k = Vec::new();
            for (i, v) in index_values(idx, r).iter().enumerate() {
                idx.encode_key_column(i, v, &mut k);
            }
            k
        }),
        None => rows.sort_by_key(|r| match r.last() {
            Some(Value::Integer(i)) => *i,
            _ => 0,
        }),
    }
}

/// UPDATE.
pub fn update(cx: &mut ExecCtx, schema: &Schema, up: &Update) -> Result<Changed> {
    let t = table(schema, &up.table)?.clone();
    let mut planner = planner_for(schema, cx);
    let reads = reads_target(
        up.filter
            .iter()
            .chain(up.assignments.iter().map(|(_, e)| e)),
        &up.returning,
    );
    let plan = planner.table_rows_for(
        &t,
        up.filter.as_ref(),
        Some(PolicyCmd::Update),
        up.hint.as_ref(),
        reads,
    )?;
    let update_check = planner.row_policy(&t, PolicyCmd::Update, true)?;
    // OR REPLACE deletes the rows the changed ones collide with: only
    // rows the user may see and delete.
    // (Also for a REPLACE a firing statement imposes on a trigger's UPDATE.)
    let replace_checks = using_checks(&mut planner, &t, &[PolicyCmd::Delete])?;
    let returning_check = match up.returning.is_empty() {
        true => None,
        false => planner.row_policy(&t, PolicyCmd::Select, false)?,
    };
    let mut sets: Vec<(usize, PExpr)> = Vec::new();
    for (col, e) in &up.assignments {
        let pos = set_target(&t, col)?;
        let bound = planner.table_exprs(&t, std::slice::from_ref(e))?;
        if let Some(b) = bound.into_iter().next() {
            sets.push((pos, b));
        }
    }
    let returning = if up.returning.is_empty() {
        None
    } else {
        Some(planner.returning(&t, &up.returning)?)
    };
    let writer = TableWriter::new(&t)?;
    let named = effective_conflict(up.on_conflict);
    let mut it = open(&plan, cx, &[])?;
    let mut old_rows = Vec::new();
    while let Some(r) = it.next(cx)? {
        old_rows.push(r);
    }
    drop(it);
    let mut changed = Changed {
        changes: 0,
        returning: returning.as_ref().map(|(_, n)| (n.clone(), Vec::new())),
        last_rowid: None,
    };
    let cols: Vec<usize> = sets.iter().map(|(p, _)| *p).collect();
    // SQLite updates the rows in the order it finds them only when
    // nothing can disturb that ("one-pass"): no UPDATE trigger that fires,
    // no change of the rowid or key, no REPLACE, no subquery in WHERE, and
    // no change to the index it reads by. Otherwise it collects them first
    // and updates them in rowid (WITHOUT ROWID: key) order. With OR IGNORE
    // or OR FAIL the order decides the outcome, so it is followed here.
    let key_cols: Vec<usize> = match t.rowid_alias {
        Some(a) => vec![a, t.columns.len()],
        None if t.without_rowid => t.primary_key.clone(),
        None => vec![t.columns.len()],
    };
    let one_pass = !update_triggers_fire(schema, &t, &cols)
        && !cols.iter().any(|c| key_cols.contains(c))
        && named != Some(Conflict::Replace)
        && !up
            .filter
            .as_ref()
            .is_some_and(crate::sql::plan::has_subquery_expr)
        && !crate::sql::plan::scanned_index_columns(&plan)
            .is_some_and(|ic| ic.iter().any(|c| cols.contains(c)));
    if !one_pass {
        sort_in_table_order(&t, &mut old_rows);
    }
    for chosen in old_rows {
        // As SQLite: the rows are chosen first, then each is updated as it
        // is now (an earlier row's trigger may have changed or removed it).
        let Some(old) = current_row(cx, &t, &chosen)? else {
            continue;
        };
        let mut values = old.clone();
        for (pos, e) in &sets {
            values[*pos] = eval(e, &old, cx)?;
        }
        if update_row(
            cx,
            schema,
            &writer,
            old,
            values,
            &cols,
            named,
            RowChecks {
                update: &update_check,
                returning: &returning_check,
                replace: &replace_checks,
            },
            match (&returning, changed.returning.as_mut()) {
                (Some((exprs, _)), Some((_, rows))) => Some((exprs.as_slice(), rows)),
                _ => None,
            },
        )?
        .is_some()
        {
            changed.changes += 1;
        }
    }
    Ok(changed)
}

/// DELETE.
pub fn delete(cx: &mut ExecCtx, schema: &Schema, del: &Delete) -> Result<Changed> {
    let t = table(schema, &del.table)?.clone();
    let mut planner = planner_for(schema, cx);
    let reads = reads_target(del.filter.iter(), &del.returning);
    let plan = planner.table_rows_for(
        &t,
        del.filter.as_ref(),
        Some(PolicyCmd::Delete),
        del.hint.as_ref(),
        reads,
    )?;
    let returning = if del.returning.is_empty() {
        None
    } else {
        Some(planner.returning(&t, &del.returning)?)
    };
    let writer = TableWriter::new(&t)?;
    let mut it = open(&plan, cx, &[])?;
    let mut rows = Vec::new();
    while let Some(r) = it.next(cx)? {
        rows.push(r);
    }
    drop(it);
    // With DELETE triggers SQLite collects the rows first and deletes
    // them in rowid (WITHOUT ROWID: key) order; the triggers see that order.
    if schema
        .triggers_on(&t.name)
        .iter()
        .any(|tr| tr.event == TriggerEvent::Delete)
    {
        sort_in_table_order(&t, &mut rows);
    }
    let mut changed = Changed {
        changes: 0,
        returning: returning.as_ref().map(|(_, n)| (n.clone(), Vec::new())),
        last_rowid: None,
    };
    for r in rows {
        // An earlier row's trigger may have changed or removed it.
        let Some(old) = current_row(cx, &t, &r)? else {
            continue;
        };
        let Some(Value::Integer(rowid)) = old.last().cloned() else {
            continue;
        };
        fire(
            cx,
            schema,
            &t,
            TriggerTiming::Before,
            RowEvent::Delete,
            None,
            Some(&old),
            &[],
            None,
        )?;
        let Some(current) = read_row(cx.txn, &t, rowid)? else {
            continue;
        };
        writer.delete(cx, rowid, &current)?;
        if let (Some((exprs, _)), Some((_, out))) = (&returning, changed.returning.as_mut()) {
            out.push(returning_row(cx, exprs, &current)?);
        }
        fire(
            cx,
            schema,
            &t,
            TriggerTiming::After,
            RowEvent::Delete,
            None,
            Some(&current),
            &[],
            None,
        )?;
        changed.changes += 1;
    }
    Ok(changed)
}

/// CREATE TABLE (and CREATE TABLE ... AS SELECT).
pub fn create_table(cx: &mut ExecCtx, schema: &Schema, ct: &CreateTable) -> Result<Option<Schema>> {
    if ct.if_not_exists && (schema.table(&ct.name).is_some() || schema.view(&ct.name).is_some()) {
        return Ok(None);
    }
    reserved(&ct.name)?;
    for c in &ct.columns {
        check_column_name(&c.name)?;
    }
    if let Some(q) = &ct.as_query {
        let planned = planner_for(schema, cx).query(q)?;
        for c in &planned.columns {
            check_column_name(c)?;
        }
        let spec = CreateTable {
            // As SQLite: each column's declared type names the affinity
            // of its expression.
            columns: planned
                .columns
                .iter()
                .zip(&planned.types)
                .map(|(n, t)| crate::syntax::ast::ColumnSpec {
                    name: n.clone(),
                    decl_type: match t.aff {
                        Some(Affinity::Text) => "TEXT",
                        Some(Affinity::Numeric) => "NUM",
                        Some(Affinity::Integer) => "INT",
                        Some(Affinity::Real) => "REAL",
                        Some(Affinity::Blob) | None => "",
                    }
                    .to_string(),
                    ..Default::default()
                })
                .collect(),
            as_query: None,
            ..ct.clone()
        };
        let next = schema.create_table(&spec, &mut TxnWriter(cx.txn))?;
        let t = table(&next, &ct.name)?.clone();
        let mut it = open(&planned.plan, cx, &[])?;
        let mut rowid = 0;
        let mut rows = Vec::new();
        while let Some(r) = it.next(cx)? {
            rows.push(r);
        }
        drop(it);
        for r in rows {
            rowid += 1;
            let mut r: Row = r
                .into_iter()
                .zip(&t.columns)
                .map(|(v, c)| apply_affinity(v, c.affinity))
                .collect();
            r.push(Value::Integer(rowid));
            crate::sql::exec::write_row(cx.txn, &t, rowid, &r, &[]);
        }
        return Ok(Some(next));
    }
    Ok(Some(schema.create_table(ct, &mut TxnWriter(cx.txn))?))
}

/// CREATE INDEX: adds it and fills it from the table.
pub fn create_index(cx: &mut ExecCtx, schema: &Schema, ci: &CreateIndex) -> Result<Option<Schema>> {
    reserved(&ci.name)?;
    if let Some(f) = &ci.filter {
        if crate::sql::plan::has_subquery_text(f)? {
            return Err(Error::sql(
                SqlErrorKind::Misuse,
                "subqueries prohibited in partial index WHERE clauses",
            ));
        }
    }
    let lower = ci.name.to_lowercase();
    if ci.if_not_exists
        && schema
            .tables
            .values()
            .any(|t| t.indexes.iter().any(|i| i.name.to_lowercase() == lower))
    {
        return Ok(None);
    }
    let (next, t, idx) = schema.create_index(ci, &mut TxnWriter(cx.txn))?;
    fill_index(cx, &t, &idx)?;
    Ok(Some(next))
}

/// SQLite's error for a user object named like the ones it makes.
fn reserved(name: &str) -> Result<()> {
    if crate::catalog::is_reserved_name(name) {
        return Err(Error::sql(
            SqlErrorKind::Misuse,
            format!("object name reserved for internal use: {name}"),
        ));
    }
    Ok(())
}

/// Writes the entries of index `idx` of `t` (which lists it) for the
/// table's rows (a partial index: the rows its WHERE selects), checking
/// uniqueness.
fn fill_index(cx: &mut ExecCtx, t: &Arc<Table>, idx: &crate::catalog::Index) -> Result<()> {
    let plan = Planner::full_scan(t);
    let writer = TableWriter::new(t)?;
    let pos = t.indexes.iter().position(|i| i.id == idx.id).unwrap_or(0);
    let mut it = open(&plan, cx, &[])?;
    // Read everything first (only each row's key values and rowid, not
    // the row), then check and write.
    let mut rows: Vec<Row> = Vec::new();
    while let Some(r) = it.next(cx)? {
        rows.push(r);
    }
    drop(it);
    let mut entries: Vec<(Vec<Value>, i64)> = Vec::new();
    for r in rows {
        let Some(Value::Integer(rowid)) = r.last() else {
            continue;
        };
        if writer.holds(cx, pos, &r)? {
            entries.push((index_values(idx, &r), *rowid));
        }
    }
    let mut seen: HashMap<Vec<u8>, i64> = HashMap::new();
    let mut keys = Vec::with_capacity(entries.len());
    for (vals, rowid) in entries {
        if idx.unique && !vals.iter().any(|v| matches!(v, Value::Null)) {
            let k = crate::sql::exec::distinct_key(&vals, &idx.collations);
            if seen.insert(k, rowid).is_some() {
                return Err(Error::sql(
                    SqlErrorKind::Unique,
                    format!(
                        "UNIQUE constraint failed: {}",
                        constraint_name(t, &idx.columns)
                    ),
                ));
            }
        }
        keys.push(crate::catalog::index_key(t.id, idx, &vals, rowid));
    }
    // In key order, the write set's tree is filled at its right edge.
    keys.sort_unstable();
    for k in keys {
        cx.txn.put(k, Vec::new());
    }
    Ok(())
}

/// REINDEX: rebuilds every index, or those of one table, or one index, or
/// those using one collation; SQLite's error when the name is none of
/// these.
pub fn reindex(cx: &mut ExecCtx, schema: &Schema, name: Option<&str>) -> Result<()> {
    let is_table = name.is_some_and(|n| schema.table(n).is_some());
    let is_index = name.is_some_and(|n| {
        schema
            .tables
            .values()
            .any(|t| t.indexes.iter().any(|i| i.name.eq_ignore_ascii_case(n)))
    });
    let collation = name.and_then(crate::types::Collation::from_name);
    if name.is_some() && !is_table && !is_index && collation.is_none() {
        return Err(Error::sql(
            SqlErrorKind::UnknownTable,
            "unable to identify the object to be reindexed",
        ));
    }
    for t in schema.tables.values() {
        for idx in &t.indexes {
            if let Some(n) = name {
                let chosen = if is_table {
                    t.name.eq_ignore_ascii_case(n)
                } else if is_index {
                    idx.name.eq_ignore_ascii_case(n)
                } else {
                    idx.collations.iter().any(|c| Some(*c) == collation)
                };
                if !chosen {
                    continue;
                }
            }
            delete_prefix(cx.txn, &index_prefix(t.id, idx.id))?;
            fill_index(cx, t, idx)?;
        }
    }
    Ok(())
}

/// CREATE VIEW.
pub fn create_view(
    cx: &mut ExecCtx,
    schema: &Schema,
    name: &str,
    columns: &[String],
    query: &Query,
    sql: &str,
    if_not_exists: bool,
) -> Result<Option<Schema>> {
    if if_not_exists && (schema.view(name).is_some() || schema.table(name).is_some()) {
        return Ok(None);
    }
    // Plan it once now so errors show at CREATE time.
    let planned = planner_for(schema, cx).query(query)?;
    if !columns.is_empty() && columns.len() != planned.columns.len() {
        return Err(Error::sql(
            SqlErrorKind::Misuse,
            format!(
                "expected {} columns for '{name}' but got {}",
                columns.len(),
                planned.columns.len()
            ),
        ));
    }
    // What the query names, by id (see `View::binds`).
    let mut binder = Planner::new(schema);
    binder.query(query)?;
    let mut binds: Vec<(String, u32)> = Vec::new();
    for u in binder
        .take_uses()
        .into_iter()
        .filter(|u| u.definer.is_none())
    {
        if let Some(id) = schema.object_id(&u.object) {
            if !binds.iter().any(|(n, _)| *n == u.object) {
                binds.push((u.object, id));
            }
        }
    }
    let view = View {
        id: 0,
        name: name.to_string(),
        columns: columns.to_vec(),
        query: query.clone(),
        sql: sql.to_string(),
        binds: Some(binds),
    };
    Ok(Some(schema.create_view(view, &mut TxnWriter(cx.txn))?))
}

/// DROP TABLE / INDEX / VIEW.
pub fn drop_objects(
    cx: &mut ExecCtx,
    schema: &Schema,
    kind: ObjectKind,
    names: &[String],
    if_exists: bool,
) -> Result<Option<Schema>> {
    let mut s = schema.clone();
    let mut changed = false;
    for name in names {
        match kind {
            ObjectKind::Table => {
                if s.table(name).is_none() {
                    if if_exists {
                        continue;
                    }
                    return Err(Error::sql(
                        SqlErrorKind::UnknownTable,
                        format!("no such table: {name}"),
                    ));
                }
                let auth = cx.sec.as_ref().map(|x| &*x.auth);
                refuse_if_referred(
                    &format!("drop table {name}"),
                    not_views(referrers(&s, auth, name, None, true)),
                )?;
                let (next, t) = s.drop_table(name, &mut TxnWriter(cx.txn))?;
                delete_prefix(cx.txn, &table_prefix(t.id))?;
                forget_sequence(cx, &next, &t.name, None)?;
                s = next;
            }
            ObjectKind::Index => {
                let exists = s
                    .tables
                    .values()
                    .any(|t| t.indexes.iter().any(|i| i.name.eq_ignore_ascii_case(name)));
                if !exists {
                    if if_exists {
                        continue;
                    }
                    return Err(Error::sql(
                        SqlErrorKind::UnknownTable,
                        format!("no such index: {name}"),
                    ));
                }
                let (next, t, idx) = s.drop_index(name, &mut TxnWriter(cx.txn))?;
                delete_prefix(cx.txn, &index_prefix(t.id, idx.id))?;
                s = next;
            }
            ObjectKind::View => {
                if s.view(name).is_none() {
                    if if_exists {
                        continue;
                    }
                    return Err(Error::sql(
                        SqlErrorKind::UnknownTable,
                        format!("no such view: {name}"),
                    ));
                }
                let auth = cx.sec.as_ref().map(|x| &*x.auth);
                refuse_if_referred(
                    &format!("drop view {name}"),
                    not_views(referrers(&s, auth, name, None, true)),
                )?;
                s = s.drop_view(name, &mut TxnWriter(cx.txn))?;
            }
            ObjectKind::Trigger => {
                let seen = match s.triggers.get(&name.to_lowercase()) {
                    Some(trig) => may_drop_trigger(cx, &s, trig)?,
                    None => false,
                };
                if !seen {
                    if if_exists {
                        continue;
                    }
                    return Err(Error::sql(
                        SqlErrorKind::UnknownTable,
                        format!("no such trigger: {name}"),
                    ));
                }
                s = s.drop_trigger(name, &mut TxnWriter(cx.txn))?;
            }
        }
        changed = true;
    }
    Ok(changed.then_some(s))
}

/// The referrers that are not views: a view may outlive what it names (as
/// in SQLite), because it is bound to the ids it named when created and
/// fails rather than pick up a new object of the same name.
fn not_views(referrers: Vec<String>) -> Vec<String> {
    referrers
        .into_iter()
        .filter(|r| !r.starts_with("view "))
        .collect()
}

/// Whether the user may drop trigger `trig`: its owner, its table's owner
/// or an admin may (`Ok(true)`); one who may see the table gets a refusal;
/// to anyone else it does not exist (`Ok(false)`).
fn may_drop_trigger(cx: &ExecCtx, schema: &Schema, trig: &Trigger) -> Result<bool> {
    let Some(sec) = &cx.sec else {
        return Ok(true);
    };
    let r = &sec.roles;
    let table = schema.object_id(&trig.table).map(u64::from);
    if r.admin || sec.auth.owns(r, u64::from(trig.id)) || table.is_some_and(|t| sec.auth.owns(r, t))
    {
        return Ok(true);
    }
    if table.is_some_and(|t| sec.auth.visible(r, t)) {
        return Err(Error::PermissionDenied {
            message: format!(
                "only the owner of trigger {}, the owner of {} or an admin may drop it",
                trig.name, trig.table
            ),
        });
    }
    Ok(false)
}

/// Used by tests and EXPLAIN: evaluates a constant expression.
pub fn eval_const(cx: &mut ExecCtx, e: &Expr) -> Result<Value> {
    let empty = Schema::default();
    let mut p = Planner::new(&empty);
    let t = Arc::new(Table {
        id: 0,
        name: String::new(),
        columns: Vec::new(),
        rowid_alias: None,
        primary_key: Vec::new(),
        indexes: Vec::new(),
        without_rowid: false,
        strict: false,
        autoincrement: false,
        next_column_id: 1,
    });
    let b = p.table_exprs(&t, std::slice::from_ref(e))?;
    match b.first() {
        Some(x) => eval(x, &[], cx),
        None => Ok(Value::Null),
    }
}

/// ALTER TABLE.
pub fn alter_table(cx: &mut ExecCtx, schema: &Schema, name: &str, op: &AlterOp) -> Result<Schema> {
    let old = table(schema, name)?.clone();
    // Nothing that refers to the table or a column by name may come to
    // mean something else (see `depend`).
    let auth = cx.sec.as_ref().map(|x| x.auth.clone());
    let refs = |column: Option<&str>| referrers(schema, auth.as_deref(), name, column, true);
    match op {
        AlterOp::AddColumn(spec) => check_column_name(&spec.name)?,
        AlterOp::DropColumn(col) => refuse_if_referred(
            &format!("drop column {col} of {}", old.name),
            refs(Some(col)),
        )?,
        AlterOp::RenameColumn(from, to) => {
            check_column_name(to)?;
            refuse_if_referred(
                &format!("rename column {from} of {}", old.name),
                refs(Some(from)),
            )?
        }
        AlterOp::RenameTable(_) => {
            let mut r = refs(None);
            r.extend(
                schema
                    .triggers_on(&old.name)
                    .iter()
                    .map(|t| format!("trigger {} on it", t.name)),
            );
            refuse_if_referred(&format!("rename table {}", old.name), r)?
        }
    }
    let mut new = (*old).clone();
    let misuse = |m: String| Error::sql(SqlErrorKind::Misuse, m);
    let rows = |cx: &mut ExecCtx| -> Result<Vec<Row>> {
        let plan = Planner::full_scan(&old);
        let mut it = open(&plan, cx, &[])?;
        let mut out = Vec::new();
        while let Some(r) = it.next(cx)? {
            out.push(r);
        }
        Ok(out)
    };
    match op {
        AlterOp::AddColumn(spec) => {
            if new.column(&spec.name).is_some() {
                return Err(Error::sql(
                    SqlErrorKind::AlreadyExists,
                    format!("duplicate column name: {}", spec.name),
                ));
            }
            if spec.primary_key || spec.unique {
                return Err(misuse("Cannot add a PRIMARY KEY or UNIQUE column".into()));
            }
            if spec.not_null && spec.default.is_none() {
                return Err(misuse(
                    "Cannot add a NOT NULL column with default value NULL".into(),
                ));
            }
            new.add_column(spec);
            let dflt = defaults(&new, cx)?.pop().unwrap_or(Value::Null);
            let dflt = apply_affinity(dflt, new.columns[new.columns.len() - 1].affinity);
            let writer = TableWriter::new(&Arc::new(new.clone()))?;
            for mut r in rows(cx)? {
                let rowid = r.pop();
                r.push(dflt.clone());
                r.extend(rowid);
                if let Some(Value::Integer(id)) = r.last().cloned() {
                    writer.write(cx, id, &r)?;
                }
            }
        }
        AlterOp::DropColumn(col) => {
            let pos = new.column(col).ok_or_else(|| {
                Error::sql(
                    SqlErrorKind::UnknownColumn,
                    format!("no such column: \"{col}\""),
                )
            })?;
            if new.rowid_alias == Some(pos) || new.primary_key.contains(&pos) {
                return Err(misuse(format!("cannot drop PRIMARY KEY column: \"{col}\"")));
            }
            if new.indexes.iter().any(|i| i.columns.contains(&pos)) {
                return Err(misuse(format!(
                    "cannot drop indexed or UNIQUE column: \"{col}\""
                )));
            }
            if new.columns.len() == 1 {
                return Err(misuse(format!(
                    "cannot drop column \"{col}\": no other columns exist"
                )));
            }
            new.columns.remove(pos);
            let shift = |c: &mut usize| {
                if *c > pos {
                    *c -= 1
                }
            };
            new.rowid_alias.iter_mut().for_each(shift);
            new.primary_key.iter_mut().for_each(shift);
            for i in new.indexes.iter_mut() {
                i.columns.iter_mut().for_each(shift);
            }
            // A partial index's WHERE naming the column fails to bind.
            let writer = TableWriter::new(&Arc::new(new.clone()))?;
            for mut r in rows(cx)? {
                r.remove(pos);
                if let Some(Value::Integer(id)) = r.last().cloned() {
                    writer.write(cx, id, &r)?;
                }
            }
        }
        AlterOp::RenameColumn(from, to) => {
            let pos = new.column(from).ok_or_else(|| {
                Error::sql(
                    SqlErrorKind::UnknownColumn,
                    format!("no such column: \"{from}\""),
                )
            })?;
            if new.column(to).is_some() {
                return Err(Error::sql(
                    SqlErrorKind::AlreadyExists,
                    format!("duplicate column name: {to}"),
                ));
            }
            new.columns[pos].name = to.clone();
            if TableWriter::new(&Arc::new(new.clone())).is_err() {
                return Err(Error::sql(
                    SqlErrorKind::Unsupported,
                    format!("renaming a column a partial index uses ({from}) is not supported"),
                ));
            }
        }
        AlterOp::RenameTable(to) => {
            forget_sequence(cx, schema, &old.name, Some(to))?;
            new.name = to.clone();
        }
    }
    Ok(schema.replace_table(&old, new, &mut TxnWriter(cx.txn))?.0)
}

/// PRAGMA integrity_check: every row decodes, every index has exactly the
/// entries its table's rows call for. Returns the problems ("ok" if none).
pub fn integrity_check(cx: &mut ExecCtx, schema: &Schema) -> Result<Vec<String>> {
    let mut problems = Vec::new();
    let mut names: Vec<&String> = schema.tables.keys().collect();
    names.sort();
    for name in names {
        let Some(t) = schema.tables.get(name) else {
            continue;
        };
        let plan = Planner::full_scan(t);
        let mut it = open(&plan, cx, &[])?;
        let mut rows = Vec::new();
        loop {
            match it.next(cx) {
                Ok(Some(r)) => rows.push(r),
                Ok(None) => break,
                Err(e) => {
                    problems.push(format!("table {}: {e}", t.name));
                    break;
                }
            }
        }
        drop(it);
        let writer = TableWriter::new(t)?;
        for (pos, idx) in t.indexes.iter().enumerate() {
            let mut expected = std::collections::HashSet::new();
            let mut held = 0usize;
            for r in &rows {
                let Some(Value::Integer(id)) = r.last() else {
                    continue;
                };
                if !writer.holds(cx, pos, r)? {
                    continue;
                }
                held += 1;
                let key = crate::catalog::index_key(t.id, idx, &index_values(idx, r), *id);
                if cx.txn.get(&key)?.is_none() {
                    problems.push(format!("row {id} missing from index {}", idx.name));
                }
                expected.insert(key);
            }
            let prefix = index_prefix(t.id, idx.id);
            let mut end = prefix.clone();
            end.push(0xff);
            let mut count = 0usize;
            for e in cx.txn.scan(
                std::ops::Bound::Included(prefix),
                std::ops::Bound::Excluded(end),
                crate::storage::Direction::Forward,
            )? {
                let (k, _) = e?;
                count += 1;
                if !expected.contains(&k) {
                    problems.push(format!(
                        "index {} has an entry for a row that does not match",
                        idx.name
                    ));
                }
            }
            if count != held {
                problems.push(format!(
                    "wrong # of entries in index {}: {count} for {held} rows",
                    idx.name
                ));
            }
        }
    }
    if problems.is_empty() {
        problems.push("ok".into());
    }
    Ok(problems)
}

/// Which row change fires triggers.
#[derive(Clone, Copy, PartialEq, Eq)]
enum RowEvent {
    Insert,
    Update,
    Delete,
}

thread_local! {
    static TRIGGER_DEPTH: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
    /// The triggers running on this thread (lowercase names), innermost
    /// last.
    static ACTIVE_TRIGGERS: std::cell::RefCell<Vec<String>> = const { std::cell::RefCell::new(Vec::new()) };
    /// The conflict resolution the statement that fired the running
    /// trigger named, which its body's statements use instead of theirs.
    static CONFLICT_OVERRIDE: std::cell::Cell<Option<Conflict>> = const { std::cell::Cell::new(None) };
}

/// The conflict resolution a statement naming `own` runs under: the one
/// the statement that fired the running trigger named, if any (SQLite).
fn effective_conflict(own: Option<Conflict>) -> Option<Conflict> {
    CONFLICT_OVERRIDE.with(|c| c.get()).or(own)
}

/// The planner for statements run in `cx` (inside a trigger body, NEW and
/// OLD are in scope).
fn planner_for<'s>(schema: &'s Schema, cx: &ExecCtx) -> Planner<'s> {
    match &cx.trigger {
        Some(t) => Planner::for_trigger(schema, t, None),
        None => Planner::new(schema),
    }
    .with_security(cx.sec.clone())
    .executing()
}

/// Refuses a new row that row-level security's WITH CHECK rejects.
fn check_new_row(cx: &mut ExecCtx, check: &Option<PExpr>, t: &Table, row: &[Value]) -> Result<()> {
    if let Some(c) = check {
        if eval(c, row, cx)?.truthy() != Some(true) {
            return Err(Error::PermissionDenied {
                message: format!(
                    "new row violates row-level security policy for table {}",
                    t.name
                ),
            });
        }
    }
    Ok(())
}

/// The USING conditions an existing row must pass before a conflict
/// clause takes it over or deletes it: the SELECT policies and those of
/// each of `cmds` (empty when row-level security does not apply).
fn using_checks(planner: &mut Planner, t: &Arc<Table>, cmds: &[PolicyCmd]) -> Result<Vec<PExpr>> {
    let mut out = Vec::new();
    for cmd in std::iter::once(&PolicyCmd::Select).chain(cmds) {
        if let Some(p) = planner.row_policy(t, *cmd, false)? {
            out.push(p);
        }
    }
    Ok(out)
}

/// Refuses to `what` (update, replace) an existing row that row-level
/// security hides from the user or does not let it change. The refusal
/// says only that such a row exists (as a UNIQUE error would), nothing of
/// its values.
fn require_visible(
    cx: &mut ExecCtx,
    checks: &[PExpr],
    t: &Table,
    row: &[Value],
    what: &str,
) -> Result<()> {
    for c in checks {
        if eval(c, row, cx)?.truthy() != Some(true) {
            return Err(Error::PermissionDenied {
                message: format!(
                    "row-level security policy for table {} does not let you {what} the existing row this one conflicts with",
                    t.name
                ),
            });
        }
    }
    Ok(())
}

/// Runs the triggers on `t` for one row change.
#[allow(clippy::too_many_arguments)]
fn fire(
    cx: &mut ExecCtx,
    schema: &Schema,
    t: &Arc<Table>,
    timing: TriggerTiming,
    event: RowEvent,
    new: Option<&[Value]>,
    old: Option<&[Value]>,
    changed: &[usize],
    named: Option<Conflict>,
) -> Result<()> {
    if schema.triggers.is_empty() {
        return Ok(());
    }
    for trig in schema.triggers_on(&t.name) {
        if trig.timing != timing {
            continue;
        }
        // SQLite's recursive_triggers is off by default: a trigger does
        // not fire while it is running, directly or through others.
        let key = trig.name.to_lowercase();
        if ACTIVE_TRIGGERS.with(|a| a.borrow().contains(&key)) {
            continue;
        }
        let fires = match (&trig.event, event) {
            (TriggerEvent::Insert, RowEvent::Insert) | (TriggerEvent::Delete, RowEvent::Delete) => {
                true
            }
            (TriggerEvent::Update(cols), RowEvent::Update) => {
                cols.is_empty()
                    || cols
                        .iter()
                        .any(|c| t.column(c).is_some_and(|p| changed.contains(&p)))
            }
            _ => false,
        };
        if !fires {
            continue;
        }
        let depth = TRIGGER_DEPTH.with(|d| d.get());
        if depth >= MAX_TRIGGER_DEPTH {
            return Err(too_deep());
        }
        // The body runs with the trigger owner's rights, checked now,
        // before anything of it runs (WHEN included).
        let owner = trigger_rights(cx, schema, t, &trig)?;
        let w = t.columns.len() + 1;
        let mut row: Row = new.map(|r| r.to_vec()).unwrap_or_default();
        row.resize(w, Value::Null);
        let mut o: Row = old.map(|r| r.to_vec()).unwrap_or_default();
        o.resize(w, Value::Null);
        row.extend(o);
        // The body runs with the trigger row as its only outer row, and
        // with fresh subquery results (the tables may have changed).
        let saved_outer = std::mem::replace(cx.outer, vec![row]);
        let saved_cache = std::mem::take(cx.cache);
        let saved_trigger = cx.trigger.replace(t.clone());
        let saved_sec = cx.sec.replace(owner);
        TRIGGER_DEPTH.with(|d| d.set(depth + 1));
        ACTIVE_TRIGGERS.with(|a| a.borrow_mut().push(key));
        // A conflict resolution named by the firing statement replaces
        // those of the body's statements.
        let saved_override = CONFLICT_OVERRIDE.with(|c| c.replace(named));
        let r = run_trigger_body(cx, schema, t, &trig);
        CONFLICT_OVERRIDE.with(|c| c.set(saved_override));
        ACTIVE_TRIGGERS.with(|a| a.borrow_mut().pop());
        TRIGGER_DEPTH.with(|d| d.set(depth));
        cx.sec = saved_sec;
        cx.trigger = saved_trigger;
        *cx.cache = saved_cache;
        *cx.outer = saved_outer;
        r?;
    }
    Ok(())
}

/// Who trigger `trig` runs as — its owner, with `session_user` still the
/// session's — after checking that the owner may do what its WHEN clause
/// and body do (once per trigger per statement).
fn trigger_rights(
    cx: &mut ExecCtx,
    schema: &Schema,
    t: &Arc<Table>,
    trig: &Trigger,
) -> Result<Arc<Security>> {
    if let Some(s) = cx.trigger_rights.get(&trig.id) {
        return Ok(s.clone());
    }
    let Some(sec) = cx.sec.clone() else {
        return Err(Error::PermissionDenied {
            message: format!("trigger {} cannot run without a user", trig.name),
        });
    };
    let roles = sec.auth.owner_roles(u64::from(trig.id));
    if roles.user.is_empty() {
        return Err(Error::PermissionDenied {
            message: format!("trigger {} has no owner, so it does not run", trig.name),
        });
    }
    let owner = Arc::new(Security {
        user: roles.user.clone(),
        session_user: sec.session_user.clone(),
        roles,
        auth: sec.auth.clone(),
        policy_exprs: sec.policy_exprs.clone(),
    });
    let as_owner = Some(owner.clone());
    let uses = trigger_uses(schema, t, trig, &as_owner)?;
    check(&owner, schema, &uses)?;
    cx.trigger_rights.insert(trig.id, owner.clone());
    Ok(owner)
}

fn run_trigger_body(
    cx: &mut ExecCtx,
    schema: &Schema,
    t: &Arc<Table>,
    trig: &CreateTrigger,
) -> Result<()> {
    let mut p = Planner::for_trigger(schema, t, None)
        .with_security(cx.sec.clone())
        .executing();
    if let Some(w) = &trig.when {
        let e = p.trigger_expr(w)?;
        if eval(&e, &[], cx)?.truthy() != Some(true) {
            return Ok(());
        }
    }
    for st in &trig.body {
        match st {
            Statement::Insert(i) => {
                insert(cx, schema, i)?;
            }
            Statement::Update(u) => {
                update(cx, schema, u)?;
            }
            Statement::Delete(d) => {
                delete(cx, schema, d)?;
            }
            Statement::Query(q) => {
                let planned = p.query(q)?;
                let mut it = open(&planned.plan, cx, &[])?;
                while it.next(cx)?.is_some() {}
            }
            _ => {
                return Err(Error::sql(
                    SqlErrorKind::Unsupported,
                    format!(
                        "only INSERT, UPDATE, DELETE and SELECT may run in trigger {}",
                        trig.name
                    ),
                ))
            }
        }
    }
    Ok(())
}

/// CREATE TRIGGER.
pub fn create_trigger(cx: &mut ExecCtx, schema: &Schema, ct: &CreateTrigger) -> Result<Schema> {
    reserved(&ct.name)?;
    if schema.view(&ct.table).is_some() {
        return Err(Error::sql(
            SqlErrorKind::Unsupported,
            "triggers on views (INSTEAD OF) are not supported",
        ));
    }
    // Bind the WHEN clause now so mistakes show at CREATE time.
    if let (Some(w), Some(t)) = (&ct.when, schema.table(&ct.table)) {
        Planner::for_trigger(schema, t, None).trigger_expr(w)?;
    }
    schema.create_trigger(ct, &mut TxnWriter(cx.txn))
}
