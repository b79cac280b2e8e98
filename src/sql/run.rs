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
use crate::sql::exec::{
    delete_prefix, delete_row, index_values, max_rowid, open, read_row, unique_conflicts,
    write_row, ExecCtx, Row,
};
use crate::sql::plan::{reads_target, Planner, Security};
use crate::syntax::ast::{AlterOp, CreateTrigger, Statement, TriggerEvent, TriggerTiming};
use crate::syntax::ast::{
    Conflict, CreateIndex, CreateTable, Delete, Expr, Insert, ObjectKind, Query, Update,
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

/// Checks NOT NULL and applies affinities; returns the finished row.
fn finish_row(t: &Table, mut row: Row, conflict: &Conflict, dflt: &Row) -> Result<Option<Row>> {
    for (i, c) in t.columns.iter().enumerate() {
        let v = std::mem::replace(&mut row[i], Value::Null);
        row[i] = apply_affinity(v, c.affinity);
        if c.not_null && matches!(row[i], Value::Null) && Some(i) != t.rowid_alias {
            match conflict {
                Conflict::Ignore => return Ok(None),
                Conflict::Replace if !matches!(dflt[i], Value::Null) => row[i] = dflt[i].clone(),
                _ => {
                    return Err(Error::sql(
                        SqlErrorKind::NotNull,
                        format!("NOT NULL constraint failed: {}.{}", t.name, c.name),
                    ))
                }
            }
        }
    }
    Ok(Some(row))
}

/// The rowid a row asks for through its INTEGER PRIMARY KEY column.
fn explicit_rowid(t: &Table, row: &[Value]) -> Result<Option<i64>> {
    let Some(a) = t.rowid_alias else {
        return Ok(None);
    };
    match apply_affinity(row[a].clone(), Affinity::Integer) {
        Value::Null => Ok(None),
        Value::Integer(i) => Ok(Some(i)),
        _ => Err(Error::sql(SqlErrorKind::TypeMismatch, "datatype mismatch")),
    }
}

/// Finds rows that `row` (to be stored at `rowid`) conflicts with:
/// the same rowid, or the same key in a unique index.
fn conflicts(
    txn: &mut Txn,
    t: &Table,
    row: &[Value],
    rowid: i64,
    replacing: Option<i64>,
) -> Result<(Vec<i64>, String)> {
    let mut out = Vec::new();
    let mut what = String::new();
    if Some(rowid) != replacing && read_row(txn, t, rowid)?.is_some() {
        out.push(rowid);
        what = match t.rowid_alias {
            Some(a) => constraint_name(t, &[a]),
            None => format!("{}.rowid", t.name),
        };
    }
    for idx in t.indexes.iter().filter(|i| i.unique) {
        let hits = unique_conflicts(
            txn,
            t,
            idx,
            &index_values(idx, row),
            replacing.or(Some(rowid)),
        )?;
        if !hits.is_empty() && what.is_empty() {
            what = constraint_name(t, &idx.columns);
        }
        out.extend(hits.into_iter().filter(|r| Some(*r) != replacing));
    }
    out.sort_unstable();
    out.dedup();
    Ok((out, what))
}

fn conflict_error(_t: &Table, what: &str) -> Error {
    Error::sql(
        SqlErrorKind::Unique,
        format!("UNIQUE constraint failed: {what}"),
    )
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
    /// USING conditions a row must pass for ON CONFLICT DO UPDATE to take
    /// it over (SELECT and UPDATE) or for OR REPLACE to delete it (SELECT
    /// and DELETE); empty when row-level security does not apply.
    conflict_checks: Vec<PExpr>,
    /// With RETURNING, new rows must pass the SELECT policies.
    returning_check: Option<PExpr>,
    upsert: Option<Upsert>,
}

/// ON CONFLICT DO UPDATE: (column, SET expression) pairs and the WHERE.
type Upsert = (Vec<(usize, PExpr)>, Option<PExpr>);

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
                if c.eq_ignore_ascii_case("rowid") && t.column(c).is_none() {
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
    let update_check = match &ins.on_conflict {
        Conflict::Update(..) => planner.row_policy(t, PolicyCmd::Update, true)?,
        _ => None,
    };
    let conflict_checks = match &ins.on_conflict {
        Conflict::Update(..) => using_checks(&mut planner, t, &[PolicyCmd::Update])?,
        Conflict::Replace => using_checks(&mut planner, t, &[PolicyCmd::Delete])?,
        _ => Vec::new(),
    };
    let returning_check = match &returning {
        Some(_) => planner.row_policy(t, PolicyCmd::Select, false)?,
        None => None,
    };
    // ON CONFLICT DO UPDATE: SET expressions over (existing row ++ excluded).
    let upsert = match &ins.on_conflict {
        Conflict::Update(sets, filter) => {
            let mut bound = Vec::new();
            for (col, e) in sets {
                let pos = t.column(col).ok_or_else(|| {
                    Error::sql(
                        SqlErrorKind::UnknownColumn,
                        format!("no such column: {col}"),
                    )
                })?;
                bound.push((pos, planner.upsert_expr(t, e)?));
            }
            let filter = filter
                .as_ref()
                .map(|f| planner.upsert_expr(t, f))
                .transpose()?;
            Some((bound, filter))
        }
        _ => None,
    };
    Ok(InsertRest {
        returning,
        defaults,
        insert_check,
        update_check,
        conflict_checks,
        returning_check,
        upsert,
    })
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
    let Some(InsertRest {
        returning,
        defaults,
        insert_check,
        update_check,
        conflict_checks,
        returning_check,
        upsert,
    }) = plan.rest.as_ref()
    else {
        return Err(Error::sql(SqlErrorKind::Misuse, "INSERT was not planned"));
    };
    let targets = &plan.targets;
    let dflt = eval_defaults(defaults, cx)?;
    let mut next_rowid: Option<i64> = None;
    let mut changed = Changed {
        changes: 0,
        returning: returning.as_ref().map(|(_, n)| (n.clone(), Vec::new())),
        last_rowid: None,
    };
    for src in source_rows {
        // Room for the rowid appended below.
        let mut row = Vec::with_capacity(width + 1);
        row.extend(dflt.iter().cloned());
        let mut rowid_given: Option<Value> = None;
        for (v, &pos) in src.into_iter().zip(targets) {
            if pos == width {
                rowid_given = Some(v);
            } else {
                row[pos] = v;
            }
        }
        let Some(row_done) = finish_row(&t, row, &ins.on_conflict, &dflt)? else {
            continue;
        };
        let mut row = row_done;
        let rowid = match (explicit_rowid(&t, &row)?, rowid_given) {
            (Some(r), _) => r,
            (None, Some(v)) if !matches!(v, Value::Null) => {
                match apply_affinity(v, Affinity::Integer) {
                    Value::Integer(i) => i,
                    _ => return Err(Error::sql(SqlErrorKind::TypeMismatch, "datatype mismatch")),
                }
            }
            _ => {
                let n = match next_rowid {
                    Some(n) => n,
                    None => max_rowid(cx.txn, &t)?.map_or(1, |m| m.saturating_add(1)),
                };
                if n == i64::MAX && max_rowid(cx.txn, &t)? == Some(i64::MAX) {
                    return Err(Error::sql(
                        SqlErrorKind::Misuse,
                        "database or disk is full (rowid space exhausted)",
                    ));
                }
                n
            }
        };
        if let Some(a) = t.rowid_alias {
            row[a] = Value::Integer(rowid);
        }
        row.push(Value::Integer(rowid));
        fire(
            cx,
            schema,
            &t,
            TriggerTiming::Before,
            RowEvent::Insert,
            Some(&row),
            None,
            &[],
        )?;
        let (hits, what) = conflicts(cx.txn, &t, &row, rowid, None)?;
        if !hits.is_empty() {
            match &ins.on_conflict {
                Conflict::Abort => return Err(conflict_error(&t, &what)),
                Conflict::Ignore => continue,
                Conflict::Replace => {
                    // Every row to delete must be one the user may see
                    // and delete; checked before any is deleted.
                    let mut olds = Vec::with_capacity(hits.len());
                    for r in hits {
                        if let Some(old) = read_row(cx.txn, &t, r)? {
                            require_visible(cx, conflict_checks, &t, &old, "replace")?;
                            olds.push((r, old));
                        }
                    }
                    for (r, old) in olds {
                        delete_row(cx.txn, &t, r, &old);
                    }
                }
                Conflict::Update(..) => {
                    let Some((sets, filter)) = &upsert else {
                        continue;
                    };
                    let Some(old) = read_row(cx.txn, &t, hits[0])? else {
                        continue;
                    };
                    // Before the WHERE and SET see it: a row the user may
                    // not see or update is refused, never read.
                    require_visible(cx, conflict_checks, &t, &old, "update")?;
                    // SET and WHERE see the existing row and `excluded`.
                    let mut both = old.clone();
                    both.extend(row.iter().cloned());
                    if let Some(f) = filter {
                        if eval(f, &both, cx)?.truthy() != Some(true) {
                            continue;
                        }
                    }
                    let mut new = old.clone();
                    for (pos, e) in sets {
                        new[*pos] = eval(e, &both, cx)?;
                    }
                    let old_rowid = hits[0];
                    new.pop();
                    let Some(mut new) = finish_row(&t, new, &Conflict::Abort, &dflt)? else {
                        continue;
                    };
                    new.push(Value::Integer(old_rowid));
                    let (others, what) = conflicts(cx.txn, &t, &new, old_rowid, Some(old_rowid))?;
                    if !others.is_empty() {
                        return Err(conflict_error(&t, &what));
                    }
                    check_new_row(cx, update_check, &t, &new)?;
                    check_new_row(cx, returning_check, &t, &new)?;
                    delete_row(cx.txn, &t, old_rowid, &old);
                    write_row(cx.txn, &t, old_rowid, &new);
                    changed.changes += 1;
                    if let (Some((exprs, _)), Some((_, rows))) =
                        (&returning, changed.returning.as_mut())
                    {
                        rows.push(
                            exprs
                                .iter()
                                .map(|e| eval(e, &new, cx))
                                .collect::<Result<Row>>()?,
                        );
                    }
                    continue;
                }
            }
        }
        check_new_row(cx, insert_check, &t, &row)?;
        check_new_row(cx, returning_check, &t, &row)?;
        write_row(cx.txn, &t, rowid, &row);
        fire(
            cx,
            schema,
            &t,
            TriggerTiming::After,
            RowEvent::Insert,
            Some(&row),
            None,
            &[],
        )?;
        next_rowid = Some(
            next_rowid
                .map_or(rowid, |n| n.max(rowid))
                .saturating_add(1)
                .max(rowid.saturating_add(1)),
        );
        changed.changes += 1;
        changed.last_rowid = Some(rowid);
        if let (Some((exprs, _)), Some((_, rows))) = (&returning, changed.returning.as_mut()) {
            rows.push(
                exprs
                    .iter()
                    .map(|e| eval(e, &row, cx))
                    .collect::<Result<Row>>()?,
            );
        }
    }
    Ok(changed)
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
    let plan = planner.table_rows_for(&t, up.filter.as_ref(), Some(PolicyCmd::Update), reads)?;
    let update_check = planner.row_policy(&t, PolicyCmd::Update, true)?;
    // OR REPLACE deletes the rows the changed ones collide with: only
    // rows the user may see and delete.
    let replace_checks = match up.on_conflict {
        Conflict::Replace => using_checks(&mut planner, &t, &[PolicyCmd::Delete])?,
        _ => Vec::new(),
    };
    let returning_check = match up.returning.is_empty() {
        true => None,
        false => planner.row_policy(&t, PolicyCmd::Select, false)?,
    };
    let mut sets: Vec<(usize, PExpr)> = Vec::new();
    for (col, e) in &up.assignments {
        let pos = if col.eq_ignore_ascii_case("rowid") && t.column(col).is_none() {
            t.columns.len()
        } else {
            t.column(col).ok_or_else(|| {
                Error::sql(
                    SqlErrorKind::UnknownColumn,
                    format!("no such column: {col}"),
                )
            })?
        };
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
    let mut it = open(&plan, cx, &[])?;
    let mut old_rows = Vec::new();
    while let Some(r) = it.next(cx)? {
        old_rows.push(r);
    }
    drop(it);
    let dflt = vec![Value::Null; t.columns.len()];
    let mut changed = Changed {
        changes: 0,
        returning: returning.as_ref().map(|(_, n)| (n.clone(), Vec::new())),
        last_rowid: None,
    };
    for old in old_rows {
        let old_rowid = match old.last() {
            Some(Value::Integer(r)) => *r,
            _ => continue,
        };
        let mut new = old.clone();
        for (pos, e) in &sets {
            new[*pos] = eval(e, &old, cx)?;
        }
        let new_rowid_val = new.pop().unwrap_or(Value::Null);
        let Some(mut new) = finish_row(&t, new, &up.on_conflict, &dflt)? else {
            continue;
        };
        let mut rowid = match apply_affinity(new_rowid_val, Affinity::Integer) {
            Value::Integer(i) => i,
            _ => return Err(Error::sql(SqlErrorKind::TypeMismatch, "datatype mismatch")),
        };
        if let Some(a) = t.rowid_alias {
            if sets.iter().any(|(p, _)| *p == a) {
                rowid = explicit_rowid(&t, &new)?
                    .ok_or_else(|| Error::sql(SqlErrorKind::TypeMismatch, "datatype mismatch"))?;
            }
            new[a] = Value::Integer(rowid);
        }
        new.push(Value::Integer(rowid));
        let changed_cols: Vec<usize> = sets.iter().map(|(p, _)| *p).collect();
        fire(
            cx,
            schema,
            &t,
            TriggerTiming::Before,
            RowEvent::Update,
            Some(&new),
            Some(&old),
            &changed_cols,
        )?;
        // Conflicts with rows other than this one.
        let (mut hits, what) = conflicts(cx.txn, &t, &new, rowid, Some(old_rowid))?;
        if rowid != old_rowid && read_row(cx.txn, &t, rowid)?.is_some() && !hits.contains(&rowid) {
            hits.push(rowid);
        }
        if !hits.is_empty() {
            match &up.on_conflict {
                Conflict::Ignore => continue,
                Conflict::Replace => {
                    let mut olds = Vec::with_capacity(hits.len());
                    for r in hits {
                        if let Some(o) = read_row(cx.txn, &t, r)? {
                            require_visible(cx, &replace_checks, &t, &o, "replace")?;
                            olds.push((r, o));
                        }
                    }
                    for (r, o) in olds {
                        delete_row(cx.txn, &t, r, &o);
                    }
                }
                _ => {
                    return Err(conflict_error(
                        &t,
                        if what.is_empty() { "rowid" } else { &what },
                    ))
                }
            }
        }
        check_new_row(cx, &update_check, &t, &new)?;
        check_new_row(cx, &returning_check, &t, &new)?;
        delete_row(cx.txn, &t, old_rowid, &old);
        write_row(cx.txn, &t, rowid, &new);
        fire(
            cx,
            schema,
            &t,
            TriggerTiming::After,
            RowEvent::Update,
            Some(&new),
            Some(&old),
            &changed_cols,
        )?;
        changed.changes += 1;
        if let (Some((exprs, _)), Some((_, rows))) = (&returning, changed.returning.as_mut()) {
            rows.push(
                exprs
                    .iter()
                    .map(|e| eval(e, &new, cx))
                    .collect::<Result<Row>>()?,
            );
        }
    }
    Ok(changed)
}

/// DELETE.
pub fn delete(cx: &mut ExecCtx, schema: &Schema, del: &Delete) -> Result<Changed> {
    let t = table(schema, &del.table)?.clone();
    let mut planner = planner_for(schema, cx);
    let reads = reads_target(del.filter.iter(), &del.returning);
    let plan = planner.table_rows_for(&t, del.filter.as_ref(), Some(PolicyCmd::Delete), reads)?;
    let returning = if del.returning.is_empty() {
        None
    } else {
        Some(planner.returning(&t, &del.returning)?)
    };
    let mut it = open(&plan, cx, &[])?;
    let mut rows = Vec::new();
    while let Some(r) = it.next(cx)? {
        rows.push(r);
    }
    drop(it);
    let mut changed = Changed {
        changes: 0,
        returning: returning.as_ref().map(|(_, n)| (n.clone(), Vec::new())),
        last_rowid: None,
    };
    for r in rows {
        let Some(Value::Integer(rowid)) = r.last().cloned() else {
            continue;
        };
        fire(
            cx,
            schema,
            &t,
            TriggerTiming::Before,
            RowEvent::Delete,
            None,
            Some(&r),
            &[],
        )?;
        delete_row(cx.txn, &t, rowid, &r);
        fire(
            cx,
            schema,
            &t,
            TriggerTiming::After,
            RowEvent::Delete,
            None,
            Some(&r),
            &[],
        )?;
        changed.changes += 1;
        if let (Some((exprs, _)), Some((_, out))) = (&returning, changed.returning.as_mut()) {
            out.push(
                exprs
                    .iter()
                    .map(|e| eval(e, &r, cx))
                    .collect::<Result<Row>>()?,
            );
        }
    }
    Ok(changed)
}

/// CREATE TABLE (and CREATE TABLE ... AS SELECT).
pub fn create_table(cx: &mut ExecCtx, schema: &Schema, ct: &CreateTable) -> Result<Option<Schema>> {
    if ct.if_not_exists && (schema.table(&ct.name).is_some() || schema.view(&ct.name).is_some()) {
        return Ok(None);
    }
    for c in &ct.columns {
        check_column_name(&c.name)?;
    }
    if let Some(q) = &ct.as_query {
        let planned = planner_for(schema, cx).query(q)?;
        for c in &planned.columns {
            check_column_name(c)?;
        }
        let spec = CreateTable {
            columns: planned
                .columns
                .iter()
                .map(|n| crate::syntax::ast::ColumnSpec {
                    name: n.clone(),
                    decl_type: String::new(),
                    not_null: false,
                    default: None,
                    primary_key: false,
                    unique: false,
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
        for mut r in rows {
            rowid += 1;
            r.push(Value::Integer(rowid));
            write_row(cx.txn, &t, rowid, &r);
        }
        return Ok(Some(next));
    }
    Ok(Some(schema.create_table(ct, &mut TxnWriter(cx.txn))?))
}

/// CREATE INDEX: adds it and fills it from the table.
pub fn create_index(cx: &mut ExecCtx, schema: &Schema, ci: &CreateIndex) -> Result<Option<Schema>> {
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

fn fill_index(cx: &mut ExecCtx, t: &Arc<Table>, idx: &crate::catalog::Index) -> Result<()> {
    let empty = Schema::default();
    let mut planner = Planner::new(&empty);
    let plan = planner.table_rows(t, None)?;
    let mut it = open(&plan, cx, &[])?;
    // Read everything first (only each row's key values and rowid, not
    // the row), then check and write.
    let mut entries: Vec<(Vec<Value>, i64)> = Vec::new();
    while let Some(r) = it.next(cx)? {
        let Some(Value::Integer(rowid)) = r.last() else {
            continue;
        };
        entries.push((index_values(idx, &r), *rowid));
    }
    drop(it);
    let mut seen: HashMap<Vec<u8>, i64> = HashMap::new();
    let mut keys = Vec::with_capacity(entries.len());
    for (vals, rowid) in entries {
        if idx.unique && !vals.iter().any(|v| matches!(v, Value::Null)) {
            let k = crate::sql::exec::distinct_key(&vals);
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

/// REINDEX: rebuilds every index of every table (or of one table).
pub fn reindex(cx: &mut ExecCtx, schema: &Schema, name: Option<&str>) -> Result<()> {
    for t in schema.tables.values() {
        for idx in &t.indexes {
            if let Some(n) = name {
                if !t.name.eq_ignore_ascii_case(n) && !idx.name.eq_ignore_ascii_case(n) {
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
        let empty = Schema::default();
        let plan = Planner::new(&empty).table_rows(&old, None)?;
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
            for mut r in rows(cx)? {
                let rowid = r.pop();
                r.push(dflt.clone());
                r.extend(rowid);
                if let Some(Value::Integer(id)) = r.last().cloned() {
                    write_row(cx.txn, &new, id, &r);
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
            for mut r in rows(cx)? {
                r.remove(pos);
                if let Some(Value::Integer(id)) = r.last().cloned() {
                    write_row(cx.txn, &new, id, &r);
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
        }
        AlterOp::RenameTable(to) => new.name = to.clone(),
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
        let empty = Schema::default();
        let plan = Planner::new(&empty).table_rows(t, None)?;
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
        for idx in &t.indexes {
            let mut expected = std::collections::HashSet::new();
            for r in &rows {
                let Some(Value::Integer(id)) = r.last() else {
                    continue;
                };
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
            if count != rows.len() {
                problems.push(format!(
                    "wrong # of entries in index {}: {count} for {} rows",
                    idx.name,
                    rows.len()
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
) -> Result<()> {
    if schema.triggers.is_empty() {
        return Ok(());
    }
    for trig in schema.triggers_on(&t.name) {
        if trig.timing != timing {
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
        let r = run_trigger_body(cx, schema, t, &trig);
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
