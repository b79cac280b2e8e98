//! The ON DELETE / ON UPDATE actions (SQLite's action triggers): run
//! after the parent row is written or removed, as ordinary changes of the
//! child rows under ABORT, nested at most [`MAX_ACTION_DEPTH`] deep on
//! guarded stack segments.

use super::*;

/// Deepest chain of actions causing actions (a CASCADE through a
/// self-referencing tree is one level per generation): SQLite's
/// `SQLITE_MAX_TRIGGER_DEPTH`, since its actions are trigger programs.
pub const MAX_ACTION_DEPTH: usize = 1000;

/// Runs the actions of the constraints referencing `t` for a row removed
/// (`new` `None`: DELETE, or a row REPLACE deleted) or updated (`new`,
/// assigning `changed`), after the change was written.
pub(in crate::sql::run) fn actions(
    cx: &mut ExecCtx,
    schema: &Schema,
    t: &Arc<Table>,
    old: &[Value],
    new: Option<(&[Value], &[usize])>,
) -> Result<()> {
    if !enforced() {
        return Ok(());
    }
    for (child, k) in schema.foreign_keys_to(&t.name) {
        let fk = &child.foreign_keys[k];
        let action = match new {
            None => fk.on_delete,
            Some((_, cols)) => {
                if !parent_modified(t, fk, cols) {
                    continue;
                }
                fk.on_update
            }
        };
        if action == FkAction::NoAction || (action == FkAction::Restrict && defer_all()) {
            continue;
        }
        let pk = locate(t, &child, fk)?;
        let old_key = pk.key_of_parent(old);
        let new_key = new.map(|(n, _)| pk.key_of_parent(n));
        // ON UPDATE acts only when the key changed (WHEN NOT (old.k IS
        // new.k ...), under the parent columns' collations).
        if let Some(nk) = &new_key {
            let same = old_key.iter().zip(nk).enumerate().all(|(i, (a, b))| {
                let (_, coll) = pk.column_rules(i);
                match (a, b) {
                    (Value::Null, Value::Null) => true,
                    (Value::Null, _) | (_, Value::Null) => false,
                    _ => coll.sql_cmp(a, b) == Some(Ordering::Equal),
                }
            });
            if same {
                continue;
            }
        }
        if old_key.iter().any(|v| matches!(v, Value::Null)) {
            continue;
        }
        let rows = matching_children(cx, &pk, &child, &old_key, None)?;
        if rows.is_empty() {
            continue;
        }
        if action == FkAction::Restrict {
            return Err(failed());
        }
        let depth = ACTION_DEPTH.with(|d| d.get());
        if depth >= MAX_ACTION_DEPTH {
            return Err(crate::depth::too_complex(format!(
                "too many levels of trigger recursion (foreign key actions, at most {MAX_ACTION_DEPTH})"
            )));
        }
        ACTION_DEPTH.with(|d| d.set(depth + 1));
        let r = crate::depth::guarded(|| {
            run_action(cx, schema, &child, &pk, action, new_key.as_deref(), rows)
        });
        ACTION_DEPTH.with(|d| d.set(depth));
        r?;
    }
    Ok(())
}

/// CASCADE, SET NULL or SET DEFAULT on the child rows `rows`, as an
/// action trigger's one statement (under ABORT, triggers firing).
pub(super) fn run_action(
    cx: &mut ExecCtx,
    schema: &Schema,
    child: &Arc<Table>,
    pk: &ParentKey,
    action: FkAction,
    new_key: Option<&[Value]>,
    rows: Vec<Row>,
) -> Result<()> {
    let writer = TableWriter::new(child)?;
    let no_checks = RowChecks {
        update: &None,
        returning: &None,
        replace: &[],
    };
    if action == FkAction::Cascade && new_key.is_none() {
        for r in rows {
            if let Some(old) = current_row(cx, child, &r)? {
                delete_one(cx, schema, &writer, old, None)?;
            }
        }
        return Ok(());
    }
    let dflt = if action == FkAction::SetDefault {
        defaults(child, cx)?
    } else {
        Vec::new()
    };
    let cols = pk.child_cols.clone();
    for r in rows {
        let Some(old) = current_row(cx, child, &r)? else {
            continue;
        };
        let mut values = old.clone();
        for (i, &c) in cols.iter().enumerate() {
            values[c] = match (action, new_key) {
                (FkAction::Cascade, Some(k)) => k[i].clone(),
                (FkAction::SetDefault, _) => dflt.get(c).cloned().unwrap_or(Value::Null),
                _ => Value::Null,
            };
        }
        let checks = RowChecks {
            update: no_checks.update,
            returning: no_checks.returning,
            replace: no_checks.replace,
        };
        update_row(
            cx,
            schema,
            &writer,
            old,
            values,
            &cols,
            Some(Conflict::Abort),
            checks,
            None,
        )?;
    }
    Ok(())
}
