//! INSERT: planning the rows and conflict handling (OR IGNORE / REPLACE /
//! FAIL / ABORT / ROLLBACK, upserts), STRICT checks, and what an aborted
//! statement keeps.

use super::*;

/// What an INSERT needs besides its parameters, planned once per
/// (schema, security catalog) when a prepared statement runs again: the
/// target columns and the source plan, then (planned after the source was
/// read the first time, so errors keep their order) RETURNING, defaults
/// (their values too, when all are constants), the order of the
/// uniqueness checks, row-level security checks and the ON CONFLICT DO
/// UPDATE expressions. The caller owns the validity: a plan is only
/// reused under the same schema and security catalog it was made with
/// (so a plan present means the target is a table: no lookup by name).
pub struct InsertPlan {
    t: Arc<Table>,
    targets: Vec<usize>,
    source: Option<crate::sql::plan::Planned>,
    rest: Option<InsertRest>,
    /// The row the last run wrote, kept for its vector and its text and
    /// blob buffers: a one-row VALUES evaluates into it ([`eval_row_into`]).
    spare: std::cell::Cell<Row>,
}

pub(super) struct InsertRest {
    pub(super) returning: Option<(Vec<PExpr>, Vec<String>)>,
    pub(super) defaults: Vec<Option<PExpr>>,
    pub(super) insert_check: Option<PExpr>,
    pub(super) update_check: Option<PExpr>,
    /// ON CONFLICT DO UPDATE must be let take an existing row over: the
    /// SELECT and UPDATE policies' USING conditions (empty without
    /// row-level security or without DO UPDATE).
    pub(super) upsert_checks: Vec<PExpr>,
    /// OR REPLACE may delete only rows that pass the SELECT and DELETE
    /// policies' USING conditions (empty without row-level security).
    pub(super) replace_checks: Vec<PExpr>,
    /// With RETURNING, new rows must pass the SELECT policies.
    pub(super) returning_check: Option<PExpr>,
    pub(super) upsert: Option<UpsertPlan>,
    pub(super) writer: TableWriter,
    /// The defaults when none needs evaluating (each absent or a
    /// constant): computed once instead of per run of a prepared INSERT.
    pub(super) const_defaults: Option<Row>,
    /// The order of the uniqueness checks ([`check_order`]), fixed by the
    /// table and the upsert's target.
    pub(super) order: Vec<Check>,
}

/// The row-level security checks of one row's UPDATE (each empty or
/// `None` where row-level security does not apply).
pub(super) struct RowChecks<'a> {
    /// The new row must pass the UPDATE policies' WITH CHECK.
    pub(super) update: &'a Option<PExpr>,
    /// With RETURNING, the new row must pass the SELECT policies.
    pub(super) returning: &'a Option<PExpr>,
    /// Rows OR REPLACE deletes must pass these USING conditions.
    pub(super) replace: &'a [PExpr],
}

/// ON CONFLICT [(target)] DO ...
pub(super) struct UpsertPlan {
    /// The constraint the target names (None: any).
    pub(super) target: Option<Constraint>,
    /// DO UPDATE: (column, SET expression) pairs and the WHERE, over
    /// (existing row ++ excluded); None: DO NOTHING.
    pub(super) update: Option<UpsertUpdate>,
}

/// DO UPDATE's (column position, SET expression) pairs and its WHERE.
type UpsertUpdate = (Vec<(usize, PExpr)>, Option<PExpr>);

/// Binds the DEFAULT of every column (`None` where there is none).
pub(super) fn bind_defaults(t: &Table) -> Result<Vec<Option<PExpr>>> {
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

/// The values of one VALUES row.
fn eval_row(exprs: &[PExpr], cx: &mut ExecCtx) -> Result<Row> {
    // Room for the rowid `insert_rows` appends to a row it takes whole.
    let mut row = Vec::with_capacity(exprs.len() + 1);
    for e in exprs {
        row.push(eval(e, &[], cx)?);
    }
    Ok(row)
}

/// [`eval_row`] into `row`, a row an earlier run left: a parameter's text
/// or blob goes into the buffer the value in its place holds
/// ([`ExecCtx::param_into`]), so a prepared one-row INSERT allocates
/// neither the row nor its texts again.
fn eval_row_into(exprs: &[PExpr], cx: &mut ExecCtx, row: &mut Row) -> Result<()> {
    row.truncate(exprs.len());
    row.reserve(exprs.len() + 1 - row.len());
    for (i, e) in exprs.iter().enumerate() {
        match (e, row.get_mut(i)) {
            (PExpr::Param(p), Some(slot)) => cx.param_into(*p, slot)?,
            (_, Some(slot)) => *slot = eval(e, &[], cx)?,
            (_, None) => row.push(eval(e, &[], cx)?),
        }
    }
    Ok(())
}

/// Keeps `row` for the next run of `plan`, unless a text or blob in it
/// is larger than a statement keeps ([`crate::types::KEPT_BUFFER_BYTES`]).
fn keep_spare(plan: &InsertPlan, row: Row) {
    if row
        .iter()
        .all(|v| v.buffer_capacity() <= crate::types::KEPT_BUFFER_BYTES)
    {
        plan.spare.set(row);
    }
}

/// Evaluates bound defaults (NULL where none).
pub(super) fn eval_defaults(defaults: &[Option<PExpr>], cx: &mut ExecCtx) -> Result<Row> {
    let mut out = Vec::with_capacity(defaults.len());
    for d in defaults {
        out.push(match d {
            Some(b) => eval(b, &[], cx)?,
            None => Value::Null,
        });
    }
    Ok(out)
}

pub(super) fn plan_insert_head(cx: &ExecCtx, schema: &Schema, ins: &Insert) -> Result<InsertPlan> {
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
                let pos = t.column(c).ok_or_else(|| {
                    Error::sql(
                        SqlErrorKind::UnknownColumn,
                        format!("table {} has no column named {c}", t.name),
                    )
                })?;
                if t.columns[pos].generated.is_some() {
                    return Err(Error::sql(
                        SqlErrorKind::Misuse,
                        format!(
                            "cannot INSERT into generated column \"{}\"",
                            t.columns[pos].name
                        ),
                    ));
                }
                Ok(pos)
            })
            .collect::<Result<_>>()?,
        // Generated columns take no values (SQLite).
        None => (0..width)
            .filter(|&i| t.columns[i].generated.is_none())
            .collect(),
    };
    let source = match &ins.source {
        Some(q) => {
            let planned = planner_for(schema, cx)
                .with_ctes_of(DataChange::Insert(ins))
                .query(q)?;
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
        spare: Default::default(),
    })
}

pub(super) fn plan_insert_rest(
    cx: &ExecCtx,
    schema: &Schema,
    t: &Arc<Table>,
    ins: &Insert,
) -> Result<InsertRest> {
    let mut planner = planner_for(schema, cx).with_ctes_of(DataChange::Insert(ins));
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
    let const_defaults = defaults
        .iter()
        .map(|d| match d {
            None => Some(Value::Null),
            Some(PExpr::Lit(v)) => Some(v.clone()),
            Some(_) => None,
        })
        .collect();
    let order = check_order(t, upsert.as_ref().and_then(|u| u.target));
    Ok(InsertRest {
        const_defaults,
        order,
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
pub(super) fn upsert_target(t: &Table, cols: &[String]) -> Result<Constraint> {
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
    // Newest first, as SQLite's index list: the first UNIQUE index on
    // these columns is the target, whatever its collations (a target
    // column without COLLATE matches any).
    for (i, idx) in t.indexes.iter().enumerate().rev() {
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

pub(super) fn is_rowid_name(n: &str) -> bool {
    ["rowid", "_rowid_", "oid"]
        .iter()
        .any(|r| r.eq_ignore_ascii_case(n))
}

/// The position a SET assigns (a column, or the rowid by one of its names).
pub(super) fn set_target(t: &Table, col: &str) -> Result<usize> {
    match t.column(col) {
        Some(p) if t.columns[p].generated.is_some() => Err(Error::sql(
            SqlErrorKind::Misuse,
            format!("cannot UPDATE generated column \"{}\"", t.columns[p].name),
        )),
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
    slot: &mut Option<Box<InsertPlan>>,
) -> Result<Changed> {
    let seq = SequenceScope::begin();
    // A plan in the slot was made under this schema (the caller keeps it
    // for that schema only), for a table: no need to look the name up.
    let r = match slot {
        Some(_) => insert_rows(cx, schema, ins, slot),
        None => match (schema.table(&ins.table), schema.view(&ins.table)) {
            (None, Some(v)) => super::view_write::insert_into_view(cx, schema, ins, v),
            _ => insert_rows(cx, schema, ins, slot),
        },
    };
    end_statement(
        cx,
        schema,
        seq,
        || Statement::Insert(Box::new(ins.clone())),
        r,
    )
}

fn insert_rows(
    cx: &mut ExecCtx,
    schema: &Schema,
    ins: &Insert,
    slot: &mut Option<Box<InsertPlan>>,
) -> Result<Changed> {
    if slot.is_none() {
        *slot = Some(Box::new(plan_insert_head(cx, schema, ins)?));
    }
    let Some(plan) = slot.as_mut() else {
        return Err(Error::sql(SqlErrorKind::Misuse, "INSERT was not planned"));
    };
    let width = plan.t.columns.len();
    // A single source row (a prepared one-row INSERT's every run) is not
    // put in a Vec of its own: `many` stays empty, unallocated.
    let (one, many): (Option<Row>, Vec<Row>) = match &plan.source {
        Some(planned) => match &*planned.plan {
            // VALUES rows straight from their expressions: no cursor.
            crate::sql::plan::Node::Values(rows) => match rows.as_slice() {
                [r] => {
                    let mut row = plan.spare.take();
                    eval_row_into(r, cx, &mut row)?;
                    (Some(row), Vec::new())
                }
                _ => (
                    None,
                    rows.iter()
                        .map(|r| eval_row(r, cx))
                        .collect::<Result<Vec<Row>>>()?,
                ),
            },
            _ => {
                // Read everything first: INSERT INTO t SELECT FROM t must
                // not see its own rows.
                let mut it = open(&planned.plan, cx, &[])?;
                let mut rows = Vec::new();
                while let Some(r) = it.next(cx)? {
                    rows.push(r);
                }
                (None, rows)
            }
        },
        None => (Some(Vec::new()), Vec::new()),
    };
    if plan.rest.is_none() {
        plan.rest = Some(plan_insert_rest(cx, schema, &plan.t, ins)?);
    }
    // Planned: from here the plan is only read (its table borrowed, not
    // counted once more per run).
    let plan = &**plan;
    let t = &plan.t;
    let Some(rest) = plan.rest.as_ref() else {
        return Err(Error::sql(SqlErrorKind::Misuse, "INSERT was not planned"));
    };
    let targets = &plan.targets;
    foreign_key::prepare(
        cx,
        schema,
        t,
        foreign_key::Change::Insert {
            replace: effective_conflict(ins.on_conflict) == Some(Conflict::Replace),
        },
    )?;
    if let Some(UpsertPlan {
        update: Some((sets, _)),
        ..
    }) = &rest.upsert
    {
        let cols: Vec<usize> = sets.iter().map(|(p, _)| *p).collect();
        foreign_key::prepare(cx, schema, t, foreign_key::Change::Update(&cols))?;
    }
    touch_sequence(t);
    let dflt: std::borrow::Cow<'_, [Value]> = match &rest.const_defaults {
        Some(d) => std::borrow::Cow::Borrowed(d),
        None => std::borrow::Cow::Owned(eval_defaults(&rest.defaults, cx)?),
    };
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
    let order = &rest.order;
    let all_in_order = targets.len() == width && targets.iter().enumerate().all(|(i, &p)| i == p);
    for src in one.into_iter().chain(many) {
        // A trigger may have written rows since the last new rowid was
        // read, even for a row then skipped: read the largest again.
        if !schema.triggers.is_empty() {
            next_rowid = None;
        }
        let mut rowid_given: Option<Value> = None;
        let mut row = if all_in_order && src.len() == width {
            // The source gives every column, in order: it is the row (no
            // default applies; the rowid alias is one of them). Room for
            // the rowid appended below.
            let mut row = src;
            row.reserve(1);
            row
        } else {
            // Room for the rowid appended below.
            let mut row = Vec::with_capacity(width + 1);
            row.extend(dflt.iter().cloned());
            // A rowid alias the INSERT does not name gets a new rowid, not
            // its DEFAULT (SQLite).
            if let Some(a) = t.rowid_alias {
                row[a] = Value::Null;
            }
            for (v, &pos) in src.into_iter().zip(targets) {
                if pos == width {
                    rowid_given = Some(v);
                } else {
                    row[pos] = v;
                }
            }
            row
        };
        apply_affinities(t, &mut row);
        let explicit = match (explicit_rowid(t, &row)?, rowid_given) {
            (Some(r), _) => Some(r),
            (None, Some(v)) if !matches!(v, Value::Null) => Some(must_be_int(v)?),
            _ => None,
        };
        // As SQLite: BEFORE triggers see the row after affinity (a STRICT
        // table's types checked first), with -1 for a rowid still to be
        // chosen; NOT NULL and the other constraints come after them.
        if before_triggers {
            check_strict(t, &row)?;
            let mut seen = row.clone();
            let r = explicit.unwrap_or(-1);
            if let Some(a) = t.rowid_alias {
                seen[a] = Value::Integer(r);
            }
            seen.push(Value::Integer(r));
            writer.compute_generated(cx, &mut seen)?;
            let fired = fire(
                cx,
                schema,
                t,
                TriggerTiming::Before,
                RowEvent::Insert,
                Some(&seen),
                None,
                &[],
                named,
            )?;
            if fired == Fired::Ignored {
                continue;
            }
        }
        let rowid = match explicit {
            Some(r) => r,
            None => new_rowid(cx, schema, t, &mut next_rowid)?,
        };
        // AUTOINCREMENT remembers every rowid a row was given, written or
        // not (SQLite).
        note_rowid(cx, schema, t, rowid)?;
        // Generated columns are computed from the final row, rowid alias
        // included, before any constraint looks at them (SQLite).
        if let Some(a) = t.rowid_alias {
            row[a] = Value::Integer(rowid);
        }
        writer.compute_generated(cx, &mut row)?;
        let Some(row_done) = check_not_null(cx, t, row, mode, &dflt)? else {
            continue;
        };
        let mut row = row_done;
        if let Some(a) = t.rowid_alias {
            row[a] = Value::Integer(rowid);
        }
        row.push(Value::Integer(rowid));
        // CHECK constraints come after NOT NULL, before uniqueness (SQLite).
        if !writer.passes_checks(cx, &row, mode)? {
            continue;
        }
        let gone = match resolve(cx, writer, &row, rowid, None, mode, order, upsert_target)? {
            Resolution::Skip => continue,
            Resolution::Write(gone) => gone,
            Resolution::Upsert(v) => {
                // DO UPDATE may move a row to another rowid.
                next_rowid = None;
                let Some(Some((sets, filter))) = rest.upsert.as_ref().map(|u| &u.update) else {
                    continue; // DO NOTHING
                };
                let conflicting = v.rows[0];
                let Some(old) = read_row(cx.txn, t, conflicting)? else {
                    continue;
                };
                // Before the WHERE and SET see it: a row the user may not
                // see or update is refused, never read.
                require_visible(cx, &rest.upsert_checks, t, &old, "update")?;
                // SET and WHERE see the existing row and `excluded`.
                let mut both = old.clone();
                both.extend(row.iter().cloned());
                if let Some(f) = filter {
                    if truth(f, &both, cx)? != Some(true) {
                        continue;
                    }
                }
                let mut values = old.clone();
                crate::sql::rowvalue::assign(sets, &both, &mut values, cx)?;
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
            if let Some(old) = read_row(cx.txn, t, r)? {
                require_visible(cx, &rest.replace_checks, t, &old, "replace")?;
                olds.push((r, old));
            }
        }
        // A row REPLACE deletes may have been the largest: the next new
        // rowid is read again (SQLite reads the largest for every row).
        if !olds.is_empty() {
            next_rowid = None;
        }
        for (r, old) in olds {
            replace_delete(cx, schema, writer, r, &old)?;
        }
        check_new_row(cx, &rest.insert_check, t, &row)?;
        check_new_row(cx, &rest.returning_check, t, &row)?;
        foreign_key::before_add(cx, schema, t, &row, None)?;
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
        // RAISE(IGNORE) here ends only the triggers: the row is written.
        let _ = fire(
            cx,
            schema,
            t,
            TriggerTiming::After,
            RowEvent::Insert,
            Some(&row),
            None,
            &[],
            named,
        )?;
        changed.changes += 1;
        changed.last_rowid = Some(rowid);
        keep_spare(plan, row);
    }
    Ok(changed)
}

/// What the checks of a row to be written decided.
pub(super) enum Resolution {
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
pub(super) fn resolve(
    cx: &mut ExecCtx,
    writer: &TableWriter,
    row: &[Value],
    rowid: i64,
    except: Option<i64>,
    mode: Conflict,
    order: &[Check],
    upsert: Option<Option<Constraint>>,
) -> Result<Resolution> {
    let mut gone = Vec::new();
    for check in order {
        match check {
            Check::Types => check_strict(&writer.t, row)?,
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
