//! INSERT, UPDATE and DELETE on a view: its INSTEAD OF triggers run for
//! each row, with NEW and OLD, and the view itself is never written, as in
//! SQLite.
//!
//! Invariants: a view without an INSTEAD OF trigger for the statement's
//! event (for UPDATE, one whose `UPDATE OF` names an assigned column)
//! stays read-only ("cannot modify v because it is a view"). The rows an
//! UPDATE or DELETE acts on are read from the view first (as reading it
//! would: the view with its owner's rights, its rows filtered by the
//! WHERE), then each fires the triggers; NEW and OLD have the view's
//! columns, without affinity, and a NULL rowid. The triggers run with
//! their owners' rights, as every trigger does. Upserts are refused
//! ("cannot UPSERT a view"), and so is RETURNING (as SQLite 3.54 does);
//! a conflict clause (`INSERT OR IGNORE INTO
//! v`) is passed on to the triggers' statements, as for table triggers.
//! `changes()` is not moved: SQLite counts no change made through an
//! INSTEAD OF trigger for the statement on the view (only those its
//! statements make themselves, inside the trigger).

use super::*;

use crate::catalog::Column;
use crate::syntax::ast::{FromItem, Select, SelectItem, SetExpr};
use crate::types::Collation;

/// The view `v` as the table its triggers see: NEW and OLD have its
/// columns (named as reading it names them), of no declared type and no
/// affinity, with no rowid alias, index or constraint; its id is the
/// view's (triggers and grants hang on it).
pub fn view_row_table(schema: &Schema, v: &View) -> Result<Arc<Table>> {
    let mut p = Planner::new(schema).executing();
    let planned = p.query(&v.query)?;
    let names = if v.columns.is_empty() {
        planned.columns
    } else {
        v.columns.clone()
    };
    let columns: Vec<Column> = names
        .into_iter()
        .enumerate()
        .map(|(i, name)| Column {
            id: i as u32 + 1,
            name,
            decl_type: String::new(),
            affinity: crate::types::Affinity::Blob,
            not_null: false,
            default: None,
            collation: Collation::Binary,
            generated: None,
        })
        .collect();
    Ok(Arc::new(Table {
        id: v.id,
        name: v.name.clone(),
        next_column_id: columns.len() as u32 + 1,
        columns,
        rowid_alias: None,
        primary_key: Vec::new(),
        indexes: Vec::new(),
        without_rowid: false,
        strict: false,
        autoincrement: false,
        checks: Vec::new(),
        foreign_keys: Vec::new(),
        stats: None,
    }))
}

fn read_only(name: &str) -> Error {
    Error::sql(
        SqlErrorKind::Misuse,
        format!("cannot modify {name} because it is a view"),
    )
}

fn no_returning(returning: &[SelectItem]) -> Result<()> {
    if returning.is_empty() {
        Ok(())
    } else {
        // SQLite 3.54 refuses it too.
        Err(Error::sql(
            SqlErrorKind::Misuse,
            "cannot use RETURNING on a view",
        ))
    }
}

/// Whether an INSTEAD OF trigger on `vt` fires for `event` (an UPDATE
/// assigning `cols`).
fn fires(schema: &Schema, vt: &Table, event: RowEvent, cols: &[usize]) -> bool {
    schema.triggers_on(&vt.name).iter().any(|tr| {
        tr.timing == TriggerTiming::InsteadOf
            && match (&tr.event, event) {
                (TriggerEvent::Insert, RowEvent::Insert) => true,
                (TriggerEvent::Delete, RowEvent::Delete) => true,
                (TriggerEvent::Update(of), RowEvent::Update) => {
                    of.is_empty()
                        || of
                            .iter()
                            .any(|c| vt.column(c).is_some_and(|p| cols.contains(&p)))
                }
                _ => false,
            }
    })
}

/// `SELECT [*,] extra... FROM v WHERE filter`: the rows an UPDATE or
/// DELETE on view `v` acts on (`star`), with the values of `extra` for
/// each; without `star`, what the statement reads of the view (its
/// authorization: SELECT on the columns WHERE and SET read).
pub fn view_rows_query(v: &View, filter: Option<&Expr>, extra: &[Expr], star: bool) -> Query {
    let mut items = if star {
        vec![SelectItem::Wildcard]
    } else {
        Vec::new()
    };
    items.extend(extra.iter().map(|e| SelectItem::Expr {
        expr: e.clone(),
        alias: None,
        text: None,
    }));
    Query {
        with: None,
        body: SetExpr::Select(Box::new(Select {
            distinct: false,
            items,
            // Qualified: the view itself, never a CTE of that name.
            from: Some(FromItem::Table {
                name: v.name.clone(),
                qualified: true,
                alias: None,
                hint: None,
            }),
            filter: filter.cloned(),
            group_by: Vec::new(),
            having: None,
            windows: Vec::new(),
        })),
        order_by: Vec::new(),
        limit: None,
        offset: None,
    }
}

fn changed_nothing() -> Changed {
    Changed {
        changes: 0,
        returning: None,
        last_rowid: None,
    }
}

/// INSERT INTO a view.
pub(super) fn insert_into_view(
    cx: &mut ExecCtx,
    schema: &Schema,
    ins: &Insert,
    v: &View,
) -> Result<Changed> {
    if ins.upsert.is_some() {
        return Err(Error::sql(SqlErrorKind::Misuse, "cannot UPSERT a view"));
    }
    let vt = view_row_table(schema, v)?;
    if !fires(schema, &vt, RowEvent::Insert, &[]) {
        return Err(read_only(&v.name));
    }
    no_returning(&ins.returning)?;
    let width = vt.columns.len();
    let targets: Vec<usize> = match &ins.columns {
        Some(cols) => cols
            .iter()
            .map(|c| {
                vt.column(c).ok_or_else(|| {
                    Error::sql(
                        SqlErrorKind::UnknownColumn,
                        format!("table {} has no column named {c}", v.name),
                    )
                })
            })
            .collect::<Result<_>>()?,
        None => (0..width).collect(),
    };
    let rows: Vec<Row> = match &ins.source {
        Some(q) => {
            let planned = planner_for(schema, cx)
                .with_ctes_of(DataChange::Insert(ins))
                .query(q)?;
            if planned.columns.len() != targets.len() {
                return Err(Error::sql(
                    SqlErrorKind::Misuse,
                    format!(
                        "table {} has {} columns but {} values were supplied",
                        v.name,
                        targets.len(),
                        planned.columns.len()
                    ),
                ));
            }
            let mut it = open(&planned.plan, cx, &[])?;
            let mut rows = Vec::new();
            while let Some(r) = it.next(cx)? {
                rows.push(r);
            }
            rows
        }
        None => vec![Vec::new()],
    };
    let named = effective_conflict(ins.on_conflict);
    for src in rows {
        let mut new = vec![Value::Null; width + 1];
        for (val, &pos) in src.into_iter().zip(&targets) {
            new[pos] = val;
        }
        // RAISE(IGNORE) ends this row's triggers; the next row goes on.
        let _ = fire(
            cx,
            schema,
            &vt,
            TriggerTiming::InsteadOf,
            RowEvent::Insert,
            Some(&new),
            None,
            &[],
            named,
        )?;
    }
    Ok(changed_nothing())
}

/// UPDATE of a view.
pub(super) fn update_view(
    cx: &mut ExecCtx,
    schema: &Schema,
    up: &Update,
    v: &View,
) -> Result<Changed> {
    let vt = view_row_table(schema, v)?;
    let mut cols = Vec::with_capacity(up.assignments.len());
    for (c, _) in &up.assignments {
        cols.push(vt.column(c).ok_or_else(|| {
            Error::sql(SqlErrorKind::UnknownColumn, format!("no such column: {c}"))
        })?);
    }
    if !fires(schema, &vt, RowEvent::Update, &cols) {
        return Err(read_only(&v.name));
    }
    no_returning(&up.returning)?;
    let exprs: Vec<Expr> = up.assignments.iter().map(|(_, e)| e.clone()).collect();
    let q = view_rows_query(v, up.filter.as_ref(), &exprs, true);
    let planned = planner_for(schema, cx)
        .with_ctes_of(DataChange::Update(up))
        .query(&q)?;
    let mut it = open(&planned.plan, cx, &[])?;
    let mut rows = Vec::new();
    while let Some(r) = it.next(cx)? {
        rows.push(r);
    }
    drop(it);
    let width = vt.columns.len();
    let named = effective_conflict(up.on_conflict);
    for r in rows {
        let mut old: Row = r[..width].to_vec();
        old.push(Value::Null);
        let mut new = old.clone();
        // A column assigned twice takes its last value.
        for (k, &pos) in cols.iter().enumerate() {
            new[pos] = r[width + k].clone();
        }
        // RAISE(IGNORE) ends this row's triggers; the next row goes on.
        let _ = fire(
            cx,
            schema,
            &vt,
            TriggerTiming::InsteadOf,
            RowEvent::Update,
            Some(&new),
            Some(&old),
            &cols,
            named,
        )?;
    }
    Ok(changed_nothing())
}

/// DELETE from a view.
pub(super) fn delete_from_view(
    cx: &mut ExecCtx,
    schema: &Schema,
    d: &Delete,
    v: &View,
) -> Result<Changed> {
    let vt = view_row_table(schema, v)?;
    if !fires(schema, &vt, RowEvent::Delete, &[]) {
        return Err(read_only(&v.name));
    }
    no_returning(&d.returning)?;
    let q = view_rows_query(v, d.filter.as_ref(), &[], true);
    let planned = planner_for(schema, cx)
        .with_ctes_of(DataChange::Delete(d))
        .query(&q)?;
    let mut it = open(&planned.plan, cx, &[])?;
    let mut rows = Vec::new();
    while let Some(r) = it.next(cx)? {
        rows.push(r);
    }
    drop(it);
    let width = vt.columns.len();
    for r in rows {
        let mut old: Row = r[..width].to_vec();
        old.push(Value::Null);
        // RAISE(IGNORE) ends this row's triggers; the next row goes on.
        let _ = fire(
            cx,
            schema,
            &vt,
            TriggerTiming::InsteadOf,
            RowEvent::Delete,
            None,
            Some(&old),
            &[],
            None,
        )?;
    }
    Ok(changed_nothing())
}
