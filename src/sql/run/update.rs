//! UPDATE and DELETE: the rows matched (under row policies), the changes
//! applied in table order, triggers fired, RETURNING.

use super::*;

use std::collections::HashSet;

use crate::types::Value;

/// Updates row `old` (columns ++ rowid) of `writer`'s table to `values`
/// (the same layout, SET applied; the rowid position may be assigned), the
/// columns `cols` assigned: affinity, NOT NULL and STRICT, the rowid
/// (changed through the INTEGER PRIMARY KEY or `rowid`), the uniqueness
/// constraints under `named` (the conflict resolution), row-level
/// security, UPDATE triggers. Returns the new row, or `None` when the
/// resolution skipped it.
#[allow(clippy::too_many_arguments)]
pub(super) fn update_row(
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
    let mut old_rowid = match old.last() {
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
    let mut rowid = must_be_int(new_rowid_val)?;
    if let Some(a) = t.rowid_alias {
        if cols.contains(&a) {
            rowid = explicit_rowid(&t, &new)?
                .ok_or_else(|| Error::sql(SqlErrorKind::TypeMismatch, "datatype mismatch"))?;
        }
        new[a] = Value::Integer(rowid);
    }
    new.push(Value::Integer(rowid));
    writer.compute_generated(cx, &mut new)?;
    // As SQLite: BEFORE triggers see the new row after affinity (a STRICT
    // table's types checked first); then the row is sought again as SQLite
    // does, by its rowid or, WITHOUT ROWID, by its old key (so a row whose
    // key the triggers changed is gone, and a row that took that key is
    // the one updated); if none is found nothing more happens, and the
    // columns the UPDATE does not set are read again from the row found
    // (the triggers may have changed them).
    let before = update_triggers_fire_at(schema, &t, cols, TriggerTiming::Before);
    if before {
        check_strict(&t, &new)?;
        let fired = fire(
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
        if fired == Fired::Ignored {
            return Ok(None);
        }
        let Some(now) = current_row(cx, &t, &old)? else {
            return Ok(None);
        };
        if t.without_rowid {
            if let Some(Value::Integer(r)) = now.last() {
                old_rowid = *r;
                rowid = *r;
                if let Some(last) = new.last_mut() {
                    *last = Value::Integer(*r);
                }
            }
        }
        for (i, v) in now.into_iter().enumerate().take(t.columns.len()) {
            if !cols.contains(&i) && Some(i) != t.rowid_alias {
                new[i] = v;
            }
        }
        // From the inputs as the triggers left them.
        writer.compute_generated(cx, &mut new)?;
    }
    let rowid_v = new.pop().unwrap_or(Value::Null);
    let Some(mut checked) = check_not_null(cx, &t, new, mode, &dflt)? else {
        return Ok(None);
    };
    checked.push(rowid_v);
    let new = checked;
    if !writer.passes_checks(cx, &new, mode)? {
        return Ok(None);
    }
    let order = check_order(&t, None);
    let gone = match resolve(cx, writer, &new, rowid, Some(old_rowid), mode, &order, None)? {
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
        replace_delete(cx, schema, writer, r, &o)?;
    }
    check_new_row(cx, checks.update, &t, &new)?;
    check_new_row(cx, checks.returning, &t, &new)?;
    // The row as it is now (a REPLACE above may not have touched it, but
    // its index entries must be the stored ones).
    let Some(current) = read_row(cx.txn, &t, old_rowid)? else {
        return Ok(None);
    };
    // As SQLite: the old row is counted while stored, the new one after
    // the old is gone and before it is stored; the actions follow.
    foreign_key::before_remove(cx, schema, &t, &old, Some(cols), false)?;
    writer.delete(cx, old_rowid, &current)?;
    foreign_key::before_add(cx, schema, &t, &new, Some(cols))?;
    writer.write(cx, rowid, &new)?;
    foreign_key::actions(cx, schema, &t, &old, Some((&new, cols)))?;
    if let Some((exprs, rows)) = returning {
        rows.push(returning_row(cx, exprs, &new)?);
    }
    // RAISE(IGNORE) here ends only the triggers: the row is updated.
    let _ = fire(
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

/// Deletes row `old` (at `rowid`) that REPLACE resolution removes: no
/// triggers (SQLite fires them only with recursive triggers on), but the
/// foreign keys are counted and their actions run, as SQLite's
/// `sqlite3GenerateRowDelete` does when they are enforced.
pub(super) fn replace_delete(
    cx: &mut ExecCtx,
    schema: &Schema,
    writer: &TableWriter,
    rowid: i64,
    old: &[Value],
) -> Result<()> {
    let t = writer.t.clone();
    foreign_key::before_remove(cx, schema, &t, old, None, false)?;
    writer.delete(cx, rowid, old)?;
    foreign_key::actions(cx, schema, &t, old, None)
}

/// The RETURNING values for one changed `row`. SQLite computes them as
/// the first AFTER trigger of that row, so a subquery sees the rows
/// changed so far and is run again for every row (a trigger program's
/// one-time subqueries are per invocation).
pub(super) fn returning_row(cx: &mut ExecCtx, exprs: &[PExpr], row: &[Value]) -> Result<Row> {
    let saved = std::mem::take(cx.cache);
    let out = exprs.iter().map(|e| eval(e, row, cx)).collect();
    *cx.cache = saved;
    out
}

/// Whether an UPDATE of `t` assigning `cols` fires a trigger with `timing`.
pub(super) fn update_triggers_fire_at(
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
pub(super) fn current_row(cx: &mut ExecCtx, t: &Table, chosen: &[Value]) -> Result<Option<Row>> {
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
pub(super) fn update_triggers_fire(schema: &Schema, t: &Table, cols: &[usize]) -> bool {
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
pub(super) fn sort_in_table_order(t: &Table, rows: &mut [Row]) {
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
    // Its triggers may insert into AUTOINCREMENT tables.
    let seq = SequenceScope::begin();
    let r = match (schema.table(&up.table), schema.view(&up.table)) {
        (None, Some(v)) => super::view_write::update_view(cx, schema, up, v),
        _ => update_rows(cx, schema, up),
    };
    end_statement(
        cx,
        schema,
        seq,
        || Statement::Update(Box::new(up.clone())),
        r,
    )
}

fn update_rows(cx: &mut ExecCtx, schema: &Schema, up: &Update) -> Result<Changed> {
    let t = table(schema, &up.table)?.clone();
    let mut planner = planner_for(schema, cx).with_ctes_of(DataChange::Update(up));
    let reads = reads_target(
        up.filter
            .iter()
            .chain(up.assignments.iter().map(|(_, e)| e)),
        &up.returning,
    );
    if up.from.is_some() {
        return update_from_rows(cx, schema, up, &t, planner);
    }
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
    // A column assigned twice takes its last value; SQLite never codes the
    // earlier one, so it is not evaluated (an error in it is not raised).
    let sets: Vec<(usize, PExpr)> = {
        let positions: Vec<usize> = sets.iter().map(|(p, _)| *p).collect();
        sets.into_iter()
            .enumerate()
            .filter(|(i, (p, _))| !positions[i + 1..].contains(p))
            .map(|(_, s)| s)
            .collect()
    };
    let returning = if up.returning.is_empty() {
        None
    } else {
        Some(planner.returning(&t, &up.returning)?)
    };
    let writer = TableWriter::new(&t)?;
    let cols_assigned: Vec<usize> = sets.iter().map(|(p, _)| *p).collect();
    foreign_key::prepare(cx, schema, &t, foreign_key::Change::Update(&cols_assigned))?;
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
    // A generated column changed through its inputs is not counted as
    // assigned: `UPDATE OF g` does not fire (SQLite).
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
        && !foreign_key::required(schema, &t, Some(&cols))
        && !cols.iter().any(|c| key_cols.contains(c))
        && named != Some(Conflict::Replace)
        && !up
            .filter
            .as_ref()
            .is_some_and(crate::sql::plan::has_subquery_expr)
        && !crate::sql::plan::scanned_index_columns(&plan).is_some_and(|ic| {
            // A generated column changes with its inputs.
            let changed = crate::sql::generated::with_dependents(&t, &cols);
            ic.iter().any(|c| changed.contains(c))
        });
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
        crate::sql::rowvalue::assign(&sets, &old, &mut values, cx)?;
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

/// UPDATE ... FROM: the target's rows joined with the FROM list (see
/// `plan::UpdateFrom`). As SQLite, the SET values are computed while the
/// join is read, a target row matched several times is updated once (with
/// its first match), and the rows are then updated in table order.
fn update_from_rows(
    cx: &mut ExecCtx,
    schema: &Schema,
    up: &Update,
    t: &Arc<Table>,
    mut planner: Planner,
) -> Result<Changed> {
    let joined = planner.update_from(t, up)?;
    let update_check = planner.row_policy(t, PolicyCmd::Update, true)?;
    let replace_checks = using_checks(&mut planner, t, &[PolicyCmd::Delete])?;
    let returning_check = match up.returning.is_empty() {
        true => None,
        false => planner.row_policy(t, PolicyCmd::Select, false)?,
    };
    let mut positions = Vec::with_capacity(up.assignments.len());
    for (col, _) in &up.assignments {
        positions.push(set_target(t, col)?);
    }
    // A column assigned twice takes its last value (see `update_rows`).
    let keep: Vec<bool> = (0..positions.len())
        .map(|i| !positions[i + 1..].contains(&positions[i]))
        .collect();
    let returning = if up.returning.is_empty() {
        None
    } else {
        Some(planner.returning(t, &up.returning)?)
    };
    let writer = TableWriter::new(t)?;
    let named = effective_conflict(up.on_conflict);
    let mut it = open(&joined.plan, cx, &[])?;
    let mut seen = HashSet::new();
    let mut chosen: Vec<(Row, Vec<Value>)> = Vec::new();
    while let Some(r) = it.next(cx)? {
        let Some(target) = r.get(joined.target.clone()) else {
            continue;
        };
        // Its rowid (the hidden row number of a WITHOUT ROWID table)
        // tells a repeated match: only the first is used.
        let key = match target.last() {
            Some(Value::Integer(rowid)) => *rowid,
            _ => continue,
        };
        if !seen.insert(key) {
            continue;
        }
        let mut values = Vec::with_capacity(joined.sets.len());
        for (i, e) in joined.sets.iter().enumerate() {
            values.push(if keep[i] {
                eval(e, &r, cx)?
            } else {
                Value::Null
            });
        }
        chosen.push((target.to_vec(), values));
    }
    drop(it);
    let mut order: Vec<Row> = chosen.iter().map(|(row, _)| row.clone()).collect();
    sort_in_table_order(t, &mut order);
    let mut by_key: HashMap<i64, Vec<Value>> = chosen
        .into_iter()
        .filter_map(|(row, v)| match row.last() {
            Some(Value::Integer(k)) => Some((*k, v)),
            _ => None,
        })
        .collect();
    let mut changed = Changed {
        changes: 0,
        returning: returning.as_ref().map(|(_, n)| (n.clone(), Vec::new())),
        last_rowid: None,
    };
    let cols: Vec<usize> = positions
        .iter()
        .zip(&keep)
        .filter(|(_, k)| **k)
        .map(|(p, _)| *p)
        .collect();
    for row in order {
        let Some(Value::Integer(k)) = row.last() else {
            continue;
        };
        let Some(set) = by_key.remove(k) else {
            continue;
        };
        // An earlier row's trigger may have changed or removed it.
        let Some(old) = current_row(cx, t, &row)? else {
            continue;
        };
        let mut values = old.clone();
        for ((pos, v), k) in positions.iter().zip(set).zip(&keep) {
            if *k {
                values[*pos] = v;
            }
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
    // Its triggers may insert into AUTOINCREMENT tables.
    let seq = SequenceScope::begin();
    let r = match (schema.table(&del.table), schema.view(&del.table)) {
        (None, Some(v)) => super::view_write::delete_from_view(cx, schema, del, v),
        _ => delete_rows(cx, schema, del),
    };
    end_statement(
        cx,
        schema,
        seq,
        || Statement::Delete(Box::new(del.clone())),
        r,
    )
}

fn delete_rows(cx: &mut ExecCtx, schema: &Schema, del: &Delete) -> Result<Changed> {
    let t = table(schema, &del.table)?.clone();
    let mut planner = planner_for(schema, cx).with_ctes_of(DataChange::Delete(del));
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
    foreign_key::prepare(cx, schema, &t, foreign_key::Change::Delete)?;
    let mut it = open(&plan, cx, &[])?;
    let mut rows = Vec::new();
    while let Some(r) = it.next(cx)? {
        rows.push(r);
    }
    drop(it);
    // With DELETE triggers or foreign keys to count SQLite collects the
    // rows first and deletes them in rowid (WITHOUT ROWID: key) order; the
    // triggers and the actions see that order.
    if schema
        .triggers_on(&t.name)
        .iter()
        .any(|tr| tr.event == TriggerEvent::Delete)
        || foreign_key::required(schema, &t, None)
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
        let out = match (&returning, changed.returning.as_mut()) {
            (Some((exprs, _)), Some((_, out))) => Some((exprs.as_slice(), out)),
            _ => None,
        };
        if delete_one(cx, schema, &writer, old, out)? {
            changed.changes += 1;
        }
    }
    Ok(changed)
}

/// Deletes row `old` (columns ++ rowid, as found) of `writer`'s table as
/// DELETE does: BEFORE triggers, the row sought again, the foreign keys
/// counted, the row removed, their actions, RETURNING, AFTER triggers.
/// Returns whether a row was deleted.
pub(super) fn delete_one(
    cx: &mut ExecCtx,
    schema: &Schema,
    writer: &TableWriter,
    old: Row,
    returning: Option<(&[PExpr], &mut Vec<Row>)>,
) -> Result<bool> {
    let t = writer.t.clone();
    let fired = fire(
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
    if fired == Fired::Ignored {
        return Ok(false);
    }
    // As SQLite: the row is sought again after the BEFORE triggers, by
    // its rowid or, WITHOUT ROWID, by its key (a row whose key they
    // changed is not deleted; one that took the key is). RETURNING
    // and the AFTER triggers see OLD as it was before them.
    let Some(current) = current_row(cx, &t, &old)? else {
        return Ok(false);
    };
    let Some(Value::Integer(rowid)) = current.last().cloned() else {
        return Ok(false);
    };
    foreign_key::before_remove(cx, schema, &t, &old, None, false)?;
    writer.delete(cx, rowid, &current)?;
    foreign_key::actions(cx, schema, &t, &old, None)?;
    if let Some((exprs, out)) = returning {
        out.push(returning_row(cx, exprs, &old)?);
    }
    // RAISE(IGNORE) here ends only the triggers: the row is deleted.
    let _ = fire(
        cx,
        schema,
        &t,
        TriggerTiming::After,
        RowEvent::Delete,
        None,
        Some(&old),
        &[],
        None,
    )?;
    Ok(true)
}
