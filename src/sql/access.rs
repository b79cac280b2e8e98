//! What a statement touches, and whether that is allowed: the tables and
//! views it reads or changes, the columns, and the privilege each use
//! needs — computed after parsing and before execution, so the `db`
//! layer can authorize the whole statement (and audit it) before
//! anything runs — and [`check`], the one rule every use is held to.
//!
//! Queries are analysed by planning them (the planner records every
//! table and view it binds, and every column it resolves). For data
//! changes the target needs INSERT/UPDATE/DELETE on the written columns,
//! and every column read (WHERE, SET expressions, RETURNING, ON CONFLICT)
//! needs SELECT, as in PostgreSQL; a conflict clause that deletes rows
//! (OR REPLACE) needs DELETE. Inside a view's definition, uses carry the
//! view's name and are checked against the view owner's rights; inside a
//! row policy, against the policy table's owner's.
//!
//! Triggers run with their owner's rights (the SQL standard's rule): the
//! triggers a statement may fire are analysed here too — WHEN clause and
//! body, where reading a column of NEW or OLD needs SELECT on it — with
//! their uses checked against each trigger's owner, following chains up
//! to [`MAX_TRIGGER_DEPTH`], the same limit execution enforces. A chain
//! the analysis cannot follow to its end is refused, never run
//! unchecked. Execution checks each trigger again when it fires
//! ([`trigger_uses`]), so what runs is what was authorized even if the
//! analysis and the run were to disagree.

use std::collections::HashSet;
use std::sync::Arc;

use crate::auth::Privilege;
use crate::catalog::{Schema, Table, Trigger};
use crate::error::{Error, Result, SqlErrorKind};
use crate::sql::plan::{reads_target, DataChange, ObjectUse, Planner, Security};
use crate::syntax::ast::*;

pub use crate::depth::MAX_TRIGGER_DEPTH;

/// The error for a trigger chain deeper than [`MAX_TRIGGER_DEPTH`] (a
/// depth limit like the others of `depth`).
pub fn too_deep() -> Error {
    crate::depth::too_complex(format!(
        "too many levels of trigger recursion (at most {MAX_TRIGGER_DEPTH})"
    ))
}

/// The tables and views `stmt` uses (empty for statements that need no
/// privilege, such as BEGIN; see also [`needs_admin`]), the triggers it
/// may fire included.
pub fn analyze(
    schema: &Schema,
    stmt: &Statement,
    sec: &Option<Arc<Security>>,
) -> Result<Vec<ObjectUse>> {
    let mut out = Vec::new();
    let mut seen = HashSet::new();
    walk(schema, stmt, sec, None, &mut out, &mut seen, 0)?;
    Ok(out)
}

/// What trigger `trig` on `table` uses when it fires — its WHEN clause and
/// each statement of its body, not the triggers those fire — to be
/// checked against its owner's rights (see [`check`]).
pub fn trigger_uses(
    schema: &Schema,
    table: &Arc<Table>,
    trig: &Trigger,
    sec: &Option<Arc<Security>>,
) -> Result<Vec<ObjectUse>> {
    let mut out = Vec::new();
    trigger_walk(schema, table, trig, sec, &mut out, None)?;
    Ok(out)
}

/// Whether only admins may run `stmt` (maintenance that reads every table).
pub fn needs_admin(stmt: &Statement) -> bool {
    match stmt {
        Statement::Pragma(p) => p.name == "integrity_check",
        Statement::Reindex(None) | Statement::ShowCluster | Statement::Vacuum => true,
        Statement::Explain(inner, _) => needs_admin(inner),
        _ => false,
    }
}

fn denied(msg: String) -> Error {
    Error::PermissionDenied { message: msg }
}

/// The column a use names: rowid aliases map to the INTEGER PRIMARY KEY
/// column; `None` for the rowid of a table without one (a hidden column:
/// only whole-table privileges cover it).
fn real_column(schema: &Schema, object: &str, col: &str) -> Option<String> {
    let is_rowid = ["rowid", "_rowid_", "oid"].contains(&col);
    match schema.table(object) {
        Some(t) if is_rowid && t.column(col).is_none() => {
            t.rowid_alias.map(|a| t.columns[a].name.to_lowercase())
        }
        _ => Some(col.to_string()),
    }
}

/// Checks every use against the rights of whoever it runs as: the
/// session's user, or the owner of the view, trigger or policy it was
/// reached through. Hidden = missing, from the session user's side: a
/// table or view she cannot see is reported exactly as a missing one,
/// also when the view, trigger or policy she reached names it and its
/// owner cannot see it either. Only if she can see it herself is a
/// definer's gap named (a permission error: the definer is broken).
pub fn check(sec: &Security, schema: &Schema, uses: &[ObjectUse]) -> Result<()> {
    check_spelled(sec, schema, uses, &|o| o.to_string())
}

/// The roles use `u` runs with: the session's, or its definer's owner's.
fn principal<'a>(
    sec: &'a Security,
    schema: &Schema,
    u: &ObjectUse,
) -> std::borrow::Cow<'a, crate::auth::Roles> {
    match &u.definer {
        None => std::borrow::Cow::Borrowed(&sec.roles),
        Some(d) => std::borrow::Cow::Owned(d.roles(schema, &sec.auth)),
    }
}

/// Whether `roles` may learn that `u.object` exists — or, for a name that
/// is no table or view, whether the statement goes on to report it missing
/// itself (fails as missing, or does nothing with IF EXISTS). A name the
/// principal could not know, holding no grant on the database that
/// reaches tables, is missing right here.
fn named_visible(
    sec: &Security,
    schema: &Schema,
    roles: &crate::auth::Roles,
    u: &ObjectUse,
) -> bool {
    match schema.object_id(&u.object) {
        Some(id) => sec.auth.visible(roles, u64::from(id)),
        None => {
            !matches!(u.privilege, Privilege::Create | Privilege::Trigger)
                && sec
                    .auth
                    .allowed(roles, crate::auth::state::DATABASE_ID, u.privilege, None)
        }
    }
}

/// [`check`], naming objects as `spell` says the statement wrote them
/// (given the name as the use wrote it: see [`ObjectUse::written`]).
///
/// Two passes. First, every table and view the session's user named
/// (directly, or in a view or trigger she owns) must be visible to her: a
/// missing object fails while planning, before any privilege is checked,
/// so a hidden one must fail before a denial elsewhere in the same
/// statement could tell the two apart (hidden = missing). Then every use
/// must hold its privilege.
pub fn check_spelled(
    sec: &Security,
    schema: &Schema,
    uses: &[ObjectUse],
    spell: &dyn Fn(&str) -> String,
) -> Result<()> {
    let missing = |u: &ObjectUse| {
        Error::sql(
            SqlErrorKind::UnknownTable,
            format!("no such table: {}", spell(&u.written)),
        )
    };
    for u in uses.iter().filter(|u| !u.object.is_empty()) {
        let roles = principal(sec, schema, u);
        // Another owner's view or trigger is the second pass's business,
        // as is an ownerless one.
        if roles.admin || roles.user.is_empty() || roles.id != sec.roles.id {
            continue;
        }
        if !named_visible(sec, schema, &roles, u) {
            return Err(missing(u));
        }
    }
    for u in uses {
        let roles = principal(sec, schema, u);
        let roles = roles.as_ref();
        if roles.admin {
            continue;
        }
        let who = match &u.definer {
            None => format!("user {}", roles.user),
            Some(d) if roles.user.is_empty() => {
                return Err(denied(format!("{} has no owner", d.describe())))
            }
            Some(d) => format!("the owner of {} ({})", d.describe(), roles.user),
        };
        let p = u.privilege.name();
        if u.object.is_empty() {
            if !sec
                .auth
                .allowed(roles, crate::auth::state::DATABASE_ID, u.privilege, None)
            {
                return Err(denied(format!(
                    "{who} has no {p} privilege on database main"
                )));
            }
            continue;
        }
        let id = schema.object_id(&u.object).map(u64::from);
        // A name that is no table: what the statement does with it fails
        // as missing (or does nothing, with IF EXISTS) — unless the
        // principal could not even know (see `named_visible`).
        if !named_visible(sec, schema, roles, u) {
            let seen = sec.roles.admin || id.is_some_and(|id| sec.auth.visible(&sec.roles, id));
            return Err(match &u.definer {
                Some(_) if seen => denied(format!("{who} has no privilege on {}", u.object)),
                _ => missing(u),
            });
        }
        let Some(id) = id else { continue };
        let whole = sec.auth.allowed(roles, id, u.privilege, None);
        if whole {
            continue;
        }
        let table = schema.table(&u.object);
        let view_cols = match table {
            None if !u.columns.is_empty() => view_columns(schema, &u.object),
            _ => Vec::new(),
        };
        let mut cols: Vec<(String, Option<crate::auth::state::ColumnId>)> = Vec::new();
        for c in &u.columns {
            let Some(name) = real_column(schema, &u.object, c) else {
                // Writing the rowid of a table without an INTEGER PRIMARY
                // KEY moves rows: only a whole-table privilege covers it.
                if u.privilege != Privilege::Select {
                    return Err(denied(format!(
                        "{who} has no {p} privilege on the rowid of {}",
                        u.object
                    )));
                }
                continue;
            };
            let cid = match table {
                Some(t) => t.column(&name).map(|i| t.columns[i].id),
                // A view's columns are numbered in order (a view cannot
                // be altered, only replaced, which gives it a new id).
                None => view_cols
                    .iter()
                    .position(|v| v.eq_ignore_ascii_case(&name))
                    .map(|i| i as u32 + 1),
            };
            cols.push((name, cid));
        }
        if cols.is_empty() {
            if !(u.privilege.column_level() && sec.auth.allowed_any_column(roles, id, u.privilege))
            {
                return Err(denied(format!(
                    "{who} has no {p} privilege on {}",
                    u.object
                )));
            }
            continue;
        }
        for (name, cid) in &cols {
            if !cid.is_some_and(|cid| sec.auth.allowed(roles, id, u.privilege, Some(cid))) {
                return Err(denied(format!(
                    "{who} has no {p} privilege on column {name} of {}",
                    u.object
                )));
            }
        }
    }
    Ok(())
}

/// Binds a new row policy's expressions (`texts`) on `table`: checks that
/// the table's owner may read what they read, and returns what they name,
/// by id, so later renames cannot change their meaning (see
/// [`crate::auth::state::PolicyRef`]).
pub fn policy_refs(
    schema: &Schema,
    table: &str,
    texts: &[&str],
    sec: &Arc<Security>,
) -> Result<Vec<crate::auth::state::PolicyRef>> {
    let (refs, uses) = bind_policy_uses(schema, table, texts, sec)?;
    check(sec, schema, &uses)?;
    Ok(refs)
}

/// [`policy_refs`] without the check of the owner's rights (for policies
/// already stored: using them checks those rights).
pub fn bind_policy(
    schema: &Schema,
    table: &str,
    texts: &[&str],
    sec: &Arc<Security>,
) -> Result<Vec<crate::auth::state::PolicyRef>> {
    Ok(bind_policy_uses(schema, table, texts, sec)?.0)
}

type PolicyBinding = (Vec<crate::auth::state::PolicyRef>, Vec<ObjectUse>);

fn bind_policy_uses(
    schema: &Schema,
    table: &str,
    texts: &[&str],
    sec: &Arc<Security>,
) -> Result<PolicyBinding> {
    let Some(t) = schema.table(table) else {
        return Err(Error::sql(
            SqlErrorKind::UnknownTable,
            format!("no such table: {table}"),
        ));
    };
    let mut uses = Vec::new();
    for text in texts {
        let e = crate::syntax::parse::parse_expr(text)?;
        uses.extend(
            Planner::new(schema)
                .with_security(Some(sec.clone()))
                .policy_uses(t, &e)?,
        );
    }
    let direct = Some(crate::sql::plan::Definer::Policy(t.name.to_lowercase()));
    let mut refs: Vec<crate::auth::state::PolicyRef> = Vec::new();
    for u in uses.iter().filter(|u| u.definer == direct) {
        let Some(id) = schema.object_id(&u.object) else {
            continue;
        };
        let columns: Vec<(u32, String)> = match schema.table(&u.object) {
            Some(tbl) => u
                .columns
                .iter()
                .filter_map(|c| real_column(schema, &u.object, c))
                .filter_map(|c| tbl.column(&c).map(|i| (tbl.columns[i].id, c)))
                .collect(),
            None => Vec::new(),
        };
        match refs.iter_mut().find(|r| r.object == u64::from(id)) {
            Some(r) => {
                for c in columns {
                    if !r.columns.contains(&c) {
                        r.columns.push(c);
                    }
                }
            }
            None => refs.push(crate::auth::state::PolicyRef {
                object: u64::from(id),
                name: u.object.clone(),
                columns,
            }),
        }
    }
    Ok((refs, uses))
}

/// A view's column names (its column list, else its query's).
pub fn view_columns(schema: &Schema, view: &str) -> Vec<String> {
    let Some(v) = schema.view(view) else {
        return Vec::new();
    };
    if !v.columns.is_empty() {
        return v.columns.clone();
    }
    Planner::new(schema)
        .query(&v.query)
        .map(|p| p.columns)
        .unwrap_or_default()
}

fn planner<'s>(
    schema: &'s Schema,
    sec: &Option<Arc<Security>>,
    trigger: Option<(&Arc<Table>, &str)>,
) -> Planner<'s> {
    match trigger {
        Some((t, name)) => Planner::for_trigger(schema, t, Some(name)),
        None => Planner::new(schema),
    }
    .with_security(sec.clone())
}

/// The triggers on `table` that `stmt`'s kind of change fires.
fn fired_by(schema: &Schema, table: &str, stmt: &Statement) -> Vec<Arc<Trigger>> {
    schema
        .triggers_on(table)
        .into_iter()
        .filter(|t| {
            matches!(
                (&t.event, stmt),
                (TriggerEvent::Insert, Statement::Insert(_))
                    | (TriggerEvent::Update(_), Statement::Update(_))
                    | (TriggerEvent::Delete, Statement::Delete(_))
            )
        })
        .collect()
}

/// Uses of trigger `trig`'s WHEN clause and body (as its owner), and of
/// the triggers those fire when `chain` is given (the analysis' state).
fn trigger_walk(
    schema: &Schema,
    table: &Arc<Table>,
    trig: &Trigger,
    sec: &Option<Arc<Security>>,
    out: &mut Vec<ObjectUse>,
    mut chain: Option<(&mut HashSet<String>, usize)>,
) -> Result<()> {
    if let Some(w) = &trig.when {
        let mut p = planner(schema, sec, Some((table, &trig.name)));
        p.trigger_expr(w)?;
        out.extend(p.take_uses());
    }
    for body in &trig.body {
        match chain.as_mut() {
            Some((seen, depth)) => walk(
                schema,
                body,
                sec,
                Some((table, &trig.name)),
                out,
                seen,
                *depth,
            )?,
            None => {
                // Nested triggers are checked when they fire.
                let mut nested: Vec<Arc<Trigger>> = Vec::new();
                walk_one(
                    schema,
                    body,
                    sec,
                    Some((table, &trig.name)),
                    out,
                    &mut nested,
                )?;
            }
        }
    }
    Ok(())
}

fn walk(
    schema: &Schema,
    stmt: &Statement,
    sec: &Option<Arc<Security>>,
    trigger: Option<(&Arc<Table>, &str)>,
    out: &mut Vec<ObjectUse>,
    seen: &mut HashSet<String>,
    depth: usize,
) -> Result<()> {
    let mut fires = Vec::new();
    let target = walk_one(schema, stmt, sec, trigger, out, &mut fires)?;
    let Some(t) = target else { return Ok(()) };
    for trig in fires {
        if !seen.insert(trig.name.to_lowercase()) {
            continue;
        }
        // Fail closed: a chain deeper than execution allows is refused
        // here, never run with its tail unchecked.
        if depth >= MAX_TRIGGER_DEPTH {
            return Err(too_deep());
        }
        trigger_walk(schema, &t, &trig, sec, out, Some((seen, depth + 1)))?;
    }
    Ok(())
}

/// The uses of one statement; returns the table whose triggers it may
/// fire (those triggers in `fires`).
fn walk_one(
    schema: &Schema,
    stmt: &Statement,
    sec: &Option<Arc<Security>>,
    trigger: Option<(&Arc<Table>, &str)>,
    out: &mut Vec<ObjectUse>,
    fires: &mut Vec<Arc<Trigger>>,
) -> Result<Option<Arc<Table>>> {
    let mut p = planner(schema, sec, trigger);
    let mut target = None;
    match stmt {
        Statement::Query(q) => {
            p.query(q)?;
        }
        Statement::Explain(inner, _) => {
            let mut all = Vec::new();
            let r = walk_one(schema, inner, sec, trigger, out, &mut all)?;
            fires.extend(all);
            return Ok(r);
        }
        Statement::Insert(i) => {
            let Some(t) = schema.table(&i.table) else {
                p.record_use(&i.table, Privilege::Insert, &[]);
                out.extend(p.take_uses());
                return Ok(None);
            };
            p.push_ctes_of(DataChange::Insert(i));
            let cols: Vec<String> = match &i.columns {
                Some(c) => c.clone(),
                None => t.columns.iter().map(|c| c.name.clone()).collect(),
            };
            p.record_use(&t.name, Privilege::Insert, &cols);
            if let Some(q) = &i.source {
                p.query(q)?;
            }
            if let Some(Upsert {
                action: UpsertAction::Update(sets, filter),
                ..
            }) = &i.upsert
            {
                let cols: Vec<String> = sets.iter().map(|(c, _)| c.clone()).collect();
                p.record_use(&t.name, Privilege::Update, &cols);
                let exprs: Vec<Expr> = sets
                    .iter()
                    .map(|(_, e)| e.clone())
                    .chain(filter.clone())
                    .collect();
                p.reads_of(t, &exprs)?;
            }
            if i.on_conflict == Some(Conflict::Replace) {
                p.record_use(&t.name, Privilege::Delete, &[]);
            }
            if !i.returning.is_empty() {
                p.returning_reads(t, &i.returning)?;
            }
            target = Some(t.clone());
        }
        Statement::Update(u) => {
            let Some(t) = schema.table(&u.table) else {
                p.record_use(&u.table, Privilege::Update, &[]);
                out.extend(p.take_uses());
                return Ok(None);
            };
            p.push_ctes_of(DataChange::Update(u));
            let cols: Vec<String> = u.assignments.iter().map(|(c, _)| c.clone()).collect();
            p.record_use(&t.name, Privilege::Update, &cols);
            // OR REPLACE deletes the rows the changed ones collide with.
            if u.on_conflict == Some(Conflict::Replace) {
                p.record_use(&t.name, Privilege::Delete, &[]);
            }
            let reads = reads_target(
                u.filter.iter().chain(u.assignments.iter().map(|(_, e)| e)),
                &u.returning,
            );
            p.table_rows_for(
                t,
                u.filter.as_ref(),
                Some(crate::auth::PolicyCmd::Update),
                u.hint.as_ref(),
                reads,
            )?;
            let exprs: Vec<Expr> = u.assignments.iter().map(|(_, e)| e.clone()).collect();
            p.reads_of(t, &exprs)?;
            if !u.returning.is_empty() {
                p.returning_reads(t, &u.returning)?;
            }
            target = Some(t.clone());
        }
        Statement::Delete(d) => {
            let Some(t) = schema.table(&d.table) else {
                p.record_use(&d.table, Privilege::Delete, &[]);
                out.extend(p.take_uses());
                return Ok(None);
            };
            p.push_ctes_of(DataChange::Delete(d));
            p.record_use(&t.name, Privilege::Delete, &[]);
            let reads = reads_target(d.filter.iter(), &d.returning);
            p.table_rows_for(
                t,
                d.filter.as_ref(),
                Some(crate::auth::PolicyCmd::Delete),
                d.hint.as_ref(),
                reads,
            )?;
            if !d.returning.is_empty() {
                p.returning_reads(t, &d.returning)?;
            }
            target = Some(t.clone());
        }
        Statement::CreateTable(ct) => {
            p.record_use("", Privilege::Create, &[]);
            if let Some(q) = &ct.as_query {
                p.query(q)?;
            }
        }
        Statement::CreateView { query, .. } => {
            p.record_use("", Privilege::Create, &[]);
            p.query(query)?;
        }
        Statement::CreateIndex(ci) => p.record_use(&ci.table, Privilege::Create, &[]),
        // The schema's version is the schema's: changing it needs what
        // creating tables does.
        Statement::Pragma(pr) if pr.name == "user_version" && pr.value.is_some() => {
            p.record_use("", Privilege::Create, &[])
        }
        // Triggers run with their owner's rights, so planting one needs
        // the TRIGGER privilege (or ownership), not just CREATE.
        Statement::CreateTrigger(ct) => p.record_use(&ct.table, Privilege::Trigger, &[]),
        Statement::AlterTable { table, .. } => p.record_use(table, Privilege::Create, &[]),
        Statement::Reindex(Some(name)) => {
            let table = index_table(schema, name).unwrap_or_else(|| name.clone());
            p.record_use(&table, Privilege::Create, &[]);
        }
        Statement::Drop { kind, names, .. } => {
            for n in names {
                match kind {
                    ObjectKind::Table | ObjectKind::View => p.record_use(n, Privilege::Drop, &[]),
                    ObjectKind::Index => {
                        if let Some(t) = index_table(schema, n) {
                            p.record_use(&t, Privilege::Create, &[]);
                        }
                    }
                    // Who may drop a trigger (its owner, its table's
                    // owner, an admin) is checked when it is dropped.
                    ObjectKind::Trigger => {}
                }
            }
        }
        _ => {}
    }
    out.extend(p.take_uses());
    if let Some(t) = &target {
        fires.extend(fired_by(schema, &t.name, stmt));
    }
    Ok(target)
}

/// The table index `index` belongs to.
pub fn index_table(schema: &Schema, index: &str) -> Option<String> {
    schema.tables.values().find_map(|t| {
        t.indexes
            .iter()
            .any(|i| i.name.eq_ignore_ascii_case(index))
            .then(|| t.name.clone())
    })
}
