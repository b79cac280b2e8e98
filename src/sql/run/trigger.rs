//! Triggers: firing them for a row event (WHEN, owner's rights, depth),
//! running their bodies, CREATE TRIGGER.

use super::*;

/// How the triggers for one row change ended.
#[must_use]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Fired {
    /// All of them ran (or none applied): the row's processing goes on.
    Done,
    /// One ran `RAISE(IGNORE)`: the rest of its program and the triggers
    /// after it did not run, and the row's processing ends here (a BEFORE
    /// trigger's row is not written), without an error (SQLite).
    Ignored,
}

/// Runs the triggers on `t` for one row change.
#[allow(clippy::too_many_arguments)]
pub(super) fn fire(
    cx: &mut ExecCtx,
    schema: &Schema,
    t: &Arc<Table>,
    timing: TriggerTiming,
    event: RowEvent,
    new: Option<&[Value]>,
    old: Option<&[Value]>,
    changed: &[usize],
    named: Option<Conflict>,
) -> Result<Fired> {
    if schema.triggers.is_empty() {
        return Ok(Fired::Done);
    }
    // SQLite keeps a table's triggers newest first and fires them in that
    // order: the reverse of their creation (ids are never reused, so they
    // give the order of creation).
    let mut triggers = schema.triggers_on(&t.name);
    triggers.sort_by_key(|tr| std::cmp::Reverse(tr.id));
    for trig in triggers {
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
        let saved_sec = cx.sec.replace(std::borrow::Cow::Owned(owner));
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
        // RAISE(IGNORE) in this program (its WHEN, its statements, not a
        // trigger they fired: that one's firing took the mark).
        let ignored = std::mem::take(&mut cx.raised_ignore);
        match r {
            Err(Error::Sql {
                kind: SqlErrorKind::Raised,
                ..
            }) if ignored => return Ok(Fired::Ignored),
            r => r?,
        }
    }
    Ok(Fired::Done)
}

/// Who trigger `trig` runs as — its owner, with `session_user` still the
/// session's — after checking that the owner may do what its WHEN clause
/// and body do (once per trigger per statement).
pub(super) fn trigger_rights(
    cx: &mut ExecCtx,
    schema: &Schema,
    t: &Arc<Table>,
    trig: &Trigger,
) -> Result<Arc<Security>> {
    if let Some((_, s)) = cx.trigger_rights.iter().find(|(id, _)| *id == trig.id) {
        return Ok(s.clone());
    }
    let Some(sec) = cx.sec.as_deref().cloned() else {
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
    // The uses carry the trigger as their definer (checked against its
    // owner's rights); what the owner may not see is reported as the
    // session's user sees it (see `access::check`).
    let session = Security {
        user: sec.session_user.clone(),
        session_user: sec.session_user.clone(),
        roles: sec.auth.roles_of(&sec.session_user),
        auth: sec.auth.clone(),
        policy_exprs: sec.policy_exprs.clone(),
    };
    check(&session, schema, &uses)?;
    cx.trigger_rights.push((trig.id, owner.clone()));
    Ok(owner)
}

pub(super) fn run_trigger_body(
    cx: &mut ExecCtx,
    schema: &Schema,
    t: &Arc<Table>,
    trig: &CreateTrigger,
) -> Result<()> {
    let mut p = Planner::for_trigger(schema, t, None)
        .with_security(cx.sec.as_deref().cloned())
        .executing();
    if let Some(w) = &trig.when {
        let e = p.trigger_expr(w)?;
        if truth(&e, &[], cx)? != Some(true) {
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
    // As SQLite: INSTEAD OF on views only, BEFORE and AFTER on tables.
    let on = match (schema.table(&ct.table), schema.view(&ct.table), ct.timing) {
        (Some(_), _, TriggerTiming::InsteadOf) => {
            return Err(Error::sql(
                SqlErrorKind::Misuse,
                format!("cannot create INSTEAD OF trigger on table: {}", ct.table),
            ))
        }
        (None, Some(_), TriggerTiming::Before | TriggerTiming::After) => {
            let when = if ct.timing == TriggerTiming::Before {
                "BEFORE"
            } else {
                "AFTER"
            };
            return Err(Error::sql(
                SqlErrorKind::Misuse,
                format!("cannot create {when} trigger on view: {}", ct.table),
            ));
        }
        (Some(t), _, _) => Some(t.clone()),
        (None, Some(v), _) => Some(super::view_row_table(schema, v)?),
        (None, None, _) => None,
    };
    // Bind the WHEN clause now so mistakes show at CREATE time.
    if let (Some(w), Some(t)) = (&ct.when, &on) {
        Planner::for_trigger(schema, t, None).trigger_expr(w)?;
    }
    schema.create_trigger(ct, &mut TxnWriter(cx.txn))
}
