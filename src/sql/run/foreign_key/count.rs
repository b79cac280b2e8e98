//! Counting the violations a row change makes or repairs (SQLite's
//! `sqlite3FkCheck`), what a statement must resolve before it runs, and
//! DROP TABLE's implicit DELETE (`sqlite3FkDropTable`). See the parent
//! module for the counting rule.

use super::*;

/// Whether a DELETE (`changed` `None`) or an UPDATE assigning `changed`
/// of `t` has foreign keys to count (SQLite's `sqlite3FkRequired`): then,
/// as in SQLite, it collects its rows and changes them in table order.
pub(in crate::sql::run) fn required(schema: &Schema, t: &Table, changed: Option<&[usize]>) -> bool {
    if !enforced() {
        return false;
    }
    match changed {
        None => !t.foreign_keys.is_empty() || !schema.foreign_keys_to(&t.name).is_empty(),
        Some(cols) => {
            t.foreign_keys.iter().any(|f| child_modified(t, f, cols))
                || schema
                    .foreign_keys_to(&t.name)
                    .iter()
                    .any(|(c, k)| parent_modified(t, &c.foreign_keys[*k], cols))
        }
    }
}

/// What a statement does to a table, for [`prepare`].
pub(in crate::sql::run) enum Change<'a> {
    /// INSERT (`replace`: under REPLACE, which may delete rows).
    Insert { replace: bool },
    /// UPDATE assigning these positions.
    Update(&'a [usize]),
    /// DELETE.
    Delete,
}

/// Resolves, before a statement on `t` runs, every parent key its rows
/// will need, so that a missing parent table or a mismatched key fails
/// the statement whatever rows it finds (SQLite raises them when it
/// compiles the statement).
pub(in crate::sql::run) fn prepare(
    cx: &ExecCtx,
    schema: &Schema,
    t: &Table,
    change: Change,
) -> Result<()> {
    if !enforced() {
        return Ok(());
    }
    for fk in t.foreign_keys.iter().rev() {
        if let Change::Update(cols) = change {
            if !fk.parent.eq_ignore_ascii_case(&t.name) && !child_modified(t, fk, cols) {
                continue;
            }
        }
        resolve_parent(cx, schema, t, fk)?;
    }
    for (child, k) in schema.foreign_keys_to(&t.name) {
        let fk = &child.foreign_keys[k];
        let needed = match change {
            Change::Insert { replace } => replace || fk.deferred || defer_all() || multi_write(),
            Change::Update(cols) => parent_modified(t, fk, cols),
            Change::Delete => true,
        };
        if needed {
            if let Some(parent) = schema.table(&t.name) {
                locate(parent, &child, fk)?;
            }
        }
    }
    Ok(())
}

/// The child side of one row of `t` added (`incr` +1) or removed (−1).
pub(super) fn count_child_row(
    cx: &mut ExecCtx,
    pk: &ParentKey,
    fk: &ForeignKeySpec,
    t: &Table,
    row: &[Value],
    incr: i64,
) -> Result<()> {
    if incr < 0 && is_zero(fk.deferred) {
        return Ok(());
    }
    let key: Vec<Value> = pk.child_cols.iter().map(|&c| row[c].clone()).collect();
    if key.iter().any(|v| matches!(v, Value::Null)) {
        return Ok(());
    }
    // A row added to a self-referencing table may be its own parent (it
    // is not stored yet): SQLite compares the values as they are.
    if incr > 0 && pk.parent.id == t.id {
        let own = pk.key_of_parent(row);
        let own_key: Vec<Value> = match pk.index {
            None => match must_be_int(key[0].clone()) {
                Ok(r) => vec![Value::Integer(r)],
                Err(_) => vec![Value::Null],
            },
            Some(_) => key.clone(),
        };
        if own
            .iter()
            .zip(&own_key)
            .all(|(a, b)| crate::types::sql_cmp(a, b) == Some(Ordering::Equal))
        {
            return Ok(());
        }
    }
    if !parent_exists(cx, pk, &key)? {
        bump(fk.deferred, incr);
    }
    Ok(())
}

/// The parent side of one row of `t` (columns ++ rowid) added (`incr`
/// −1 per child) or removed (+1 per child, the row itself not counted).
pub(super) fn count_children(
    cx: &mut ExecCtx,
    pk: &ParentKey,
    fk: &ForeignKeySpec,
    child: &Table,
    row: &[Value],
    incr: i64,
) -> Result<()> {
    if incr < 0 && is_zero(fk.deferred) {
        return Ok(());
    }
    let key = pk.key_of_parent(row);
    if key.iter().any(|v| matches!(v, Value::Null)) {
        return Ok(());
    }
    let except = match (incr > 0 && child.id == pk.parent.id, row.last()) {
        (true, Some(Value::Integer(r))) => Some(*r),
        _ => None,
    };
    let n = matching_children(cx, pk, child, &key, except)?.len() as i64;
    if n > 0 {
        bump(fk.deferred, incr * n);
    }
    Ok(())
}

/// Counts a row of `t` about to be removed (DELETE, a row REPLACE
/// deletes, or the old image of an UPDATE assigning `changed`).
/// `dropping`: the implicit DELETE of DROP TABLE, which treats a missing
/// parent as empty and skips mismatched keys (SQLite's `isIgnoreErrors`).
pub(in crate::sql::run) fn before_remove(
    cx: &mut ExecCtx,
    schema: &Schema,
    t: &Arc<Table>,
    old: &[Value],
    changed: Option<&[usize]>,
    dropping: bool,
) -> Result<()> {
    if !enforced() {
        return Ok(());
    }
    for fk in t.foreign_keys.iter().rev() {
        if let Some(cols) = changed {
            if !fk.parent.eq_ignore_ascii_case(&t.name) && !child_modified(t, fk, cols) {
                continue;
            }
        }
        let pk = match parent_table(cx, schema, t, fk) {
            None if dropping => {
                // The parent is gone: each child row with a full key was
                // a violation, resolved by removing it.
                let full = fk
                    .columns
                    .iter()
                    .filter_map(|c| t.column(c))
                    .all(|c| !matches!(old[c], Value::Null));
                if full {
                    bump(fk.deferred, -1);
                }
                continue;
            }
            None => return Err(no_such_parent(fk)),
            Some(p) => match locate(&p, t, fk) {
                Ok(pk) => pk,
                Err(_) if dropping => continue,
                Err(e) => return Err(e),
            },
        };
        count_child_row(cx, &pk, fk, t, old, -1)?;
    }
    for (child, k) in schema.foreign_keys_to(&t.name) {
        let fk = &child.foreign_keys[k];
        if let Some(cols) = changed {
            if !parent_modified(t, fk, cols) {
                continue;
            }
        }
        let pk = match locate(t, &child, fk) {
            Ok(pk) => pk,
            Err(_) if dropping => continue,
            Err(e) => return Err(e),
        };
        count_children(cx, &pk, fk, &child, old, 1)?;
    }
    Ok(())
}

/// Counts a row of `t` about to be stored (INSERT, or the new image of an
/// UPDATE assigning `changed`).
pub(in crate::sql::run) fn before_add(
    cx: &mut ExecCtx,
    schema: &Schema,
    t: &Arc<Table>,
    new: &[Value],
    changed: Option<&[usize]>,
) -> Result<()> {
    if !enforced() {
        return Ok(());
    }
    for fk in t.foreign_keys.iter().rev() {
        if let Some(cols) = changed {
            if !fk.parent.eq_ignore_ascii_case(&t.name) && !child_modified(t, fk, cols) {
                continue;
            }
        }
        let pk = resolve_parent(cx, schema, t, fk)?;
        count_child_row(cx, &pk, fk, t, new, 1)?;
    }
    for (child, k) in schema.foreign_keys_to(&t.name) {
        let fk = &child.foreign_keys[k];
        if let Some(cols) = changed {
            if !parent_modified(t, fk, cols) {
                continue;
            }
        }
        if !fk.deferred && !defer_all() && !multi_write() {
            continue;
        }
        let pk = locate(t, &child, fk)?;
        count_children(cx, &pk, fk, &child, new, -1)?;
    }
    Ok(())
}

/// DROP TABLE `t` under enforcement (SQLite's `sqlite3FkDropTable`): an
/// implicit `DELETE FROM t` without triggers (with the actions) when `t`
/// is a parent, or a child of a deferred constraint while deferred
/// violations are outstanding; an immediate violation it leaves fails the
/// DROP before the table goes.
pub(in crate::sql::run) fn before_drop(
    cx: &mut ExecCtx,
    schema: &Schema,
    t: &Arc<Table>,
) -> Result<()> {
    if !enforced() {
        return Ok(());
    }
    if schema.foreign_keys_to(&t.name).is_empty() {
        let deferred_child = defer_all() || t.foreign_keys.iter().any(|f| f.deferred);
        if !deferred_child || is_zero(true) {
            return Ok(());
        }
    }
    let writer = TableWriter::new(t)?;
    let p = crate::catalog::rows_prefix(t.id);
    let end = crate::sql::exec::prefix_end(&p);
    let mut rowids = Vec::new();
    for e in cx.txn.scan(
        std::ops::Bound::Included(p),
        std::ops::Bound::Excluded(end),
        crate::storage::Direction::Forward,
    )? {
        let (k, _) = e?;
        rowids.push(crate::catalog::rowid_of_key(&k)?);
    }
    for r in rowids {
        // An action of an earlier row may have removed it.
        let Some(old) = read_row(cx.txn, t, r)? else {
            continue;
        };
        before_remove(cx, schema, t, &old, None, true)?;
        writer.delete(cx, r, &old)?;
        actions(cx, schema, t, &old, None)?;
    }
    let immediate = COUNTERS.with(|c| c.borrow().as_ref().map_or(0, |c| c.statement));
    if !defer_all() && immediate > 0 {
        return Err(failed());
    }
    Ok(())
}
