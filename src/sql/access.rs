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
        Statement::Reindex(None)
        | Statement::Analyze(None)
        | Statement::ShowCluster
        | Statement::Vacuum => true,
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

/// The triggers on `table` that `stmt`'s kind of change fires (an UPDATE
/// OF trigger only when the statement sets one of its columns).
fn fired_by(schema: &Schema, table: &str, stmt: &Statement) -> Vec<Arc<Trigger>> {
    schema
        .triggers_on(table)
        .into_iter()
        .filter(|t| match (&t.event, stmt) {
            (TriggerEvent::Insert, Statement::Insert(_))
            | (TriggerEvent::Delete, Statement::Delete(_)) => true,
            (TriggerEvent::Update(cols), Statement::Update(u)) => {
                cols.is_empty()
                    || cols
                        .iter()
                        .any(|c| u.assignments.iter().any(|(a, _)| a.eq_ignore_ascii_case(c)))
            }
            _ => false,
        })
        .collect()
}

/// Fails `stmt` as SQLite fails a statement whose trigger programs do not
/// compile: SQLite compiles every trigger the statement may fire (and
/// those their bodies may fire) when it prepares the statement, so a
/// trigger naming a missing table, column or function fails it even when
/// no row fires the trigger or its WHEN clause is false. Run before the
/// statement changes anything (the analysis above covers it too, but it
/// is skipped for administrators when nothing is audited). Notes the
/// AUTOINCREMENT tables those programs insert into for the statement's
/// `sqlite_sequence` bookkeeping (`write::compiled_inserts`).
pub fn compile_triggers(schema: &Schema, stmt: &Statement) -> Result<()> {
    crate::sql::write::compiled_inserts(Vec::new());
    let target = match stmt {
        Statement::Insert(i) => &i.table,
        Statement::Update(u) => &u.table,
        Statement::Delete(d) => &d.table,
        _ => return Ok(()),
    };
    let Some(t) = schema.table(target) else {
        return Ok(());
    };
    let fires = fired_by(schema, &t.name, stmt);
    if fires.is_empty() {
        return Ok(());
    }
    let (mut seen, mut out) = (HashSet::new(), Vec::new());
    for trig in fires {
        if seen.insert(trig.name.to_lowercase()) {
            trigger_walk(schema, t, &trig, &None, &mut out, Some((&mut seen, 1)))?;
        }
    }
    // SQLite reads and writes back the sqlite_sequence row of every
    // AUTOINCREMENT table an INSERT of those programs targets, whether or
    // not it runs (`sqlite3AutoincrementBegin` of the compiled program).
    let mut targets = Vec::new();
    for trig in schema.triggers.values() {
        if !seen.contains(&trig.name.to_lowercase()) {
            continue;
        }
        for st in &trig.body {
            if let Statement::Insert(i) = st {
                if let Some(t) = schema.table(&i.table).filter(|t| t.autoincrement) {
                    targets.push(t.name.clone());
                }
            }
        }
    }
    crate::sql::write::compiled_inserts(targets);
    Ok(())
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
        Statement::Insert(i)
            if schema.table(&i.table).is_none() && schema.view(&i.table).is_some() =>
        {
            target = view_target(schema, &mut p, stmt)?;
        }
        Statement::Update(u)
            if schema.table(&u.table).is_none() && schema.view(&u.table).is_some() =>
        {
            target = view_target(schema, &mut p, stmt)?;
        }
        Statement::Delete(d)
            if schema.table(&d.table).is_none() && schema.view(&d.table).is_some() =>
        {
            target = view_target(schema, &mut p, stmt)?;
        }
        Statement::Insert(i) => {
            if trigger.is_some() {
                compiles_in_trigger(schema, &i.table, i.columns.as_deref().unwrap_or(&[]), true)?;
            }
            let Some(t) = schema.table(&i.table) else {
                p.record_use(&i.table, Privilege::Insert, &[]);
                out.extend(p.take_uses());
                return Ok(None);
            };
            p.push_ctes_of(DataChange::Insert(i));
            // Without a column list the values go to every column but
            // the generated ones (nobody writes those).
            let cols: Vec<String> = match &i.columns {
                Some(c) => c.clone(),
                None => t
                    .columns
                    .iter()
                    .filter(|c| c.generated.is_none())
                    .map(|c| c.name.clone())
                    .collect(),
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
            if trigger.is_some() {
                let set: Vec<String> = u.assignments.iter().map(|(c, _)| c.clone()).collect();
                compiles_in_trigger(schema, &u.table, &set, false)?;
            }
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
            if u.from.is_some() {
                // The FROM sources, WHERE and SET over the joined row.
                p.update_from(t, u)?;
            } else {
                p.table_rows_for(
                    t,
                    u.filter.as_ref(),
                    Some(crate::auth::PolicyCmd::Update),
                    u.hint.as_ref(),
                    reads,
                )?;
                let exprs: Vec<Expr> = u.assignments.iter().map(|(_, e)| e.clone()).collect();
                p.reads_of(t, &exprs)?;
            }
            if !u.returning.is_empty() {
                p.returning_reads(t, &u.returning)?;
            }
            target = Some(t.clone());
        }
        Statement::Delete(d) => {
            if trigger.is_some() {
                compiles_in_trigger(schema, &d.table, &[], false)?;
            }
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
        // An index's key expressions and WHERE compute from its table's
        // values (a UNIQUE or failing one is an oracle for them): the
        // columns they read must be readable by who makes it. (A key that
        // is a plain column needs only CREATE, as before.)
        Statement::CreateIndex(ci) => {
            p.record_use(&ci.table, Privilege::Create, &[]);
            let mut read: Vec<String> = Vec::new();
            for ic in &ci.columns {
                if let Some(e) = &ic.expr {
                    read.extend(columns_named(e));
                }
            }
            if let Some(f) = &ci.filter {
                read.extend(columns_named(f));
            }
            let read = known_columns(schema, &ci.table, read);
            if !read.is_empty() {
                p.record_use(&ci.table, Privilege::Select, &read);
            }
        }
        // The schema's version is the schema's: changing it needs what
        // creating tables does.
        Statement::Pragma(pr) if pr.name == "user_version" && pr.value.is_some() => {
            p.record_use("", Privilege::Create, &[])
        }
        // Triggers run with their owner's rights, so planting one needs
        // the TRIGGER privilege (or ownership), not just CREATE.
        Statement::CreateTrigger(ct) => p.record_use(&ct.table, Privilege::Trigger, &[]),
        Statement::AlterTable { table, op } => {
            p.record_use(table, Privilege::Create, &[]);
            // A generated column added computes from the table's values
            // (and NOT NULL on it would test them): who adds it must be
            // able to read what it reads.
            if let crate::syntax::ast::AlterOp::AddColumn(spec) = op {
                if let Some(g) = &spec.generated {
                    let read = known_columns(schema, table, columns_named(&g.expr));
                    if !read.is_empty() {
                        p.record_use(table, Privilege::Select, &read);
                    }
                }
            }
        }
        Statement::Reindex(Some(name)) => {
            let table = index_table(schema, name).unwrap_or_else(|| name.clone());
            p.record_use(&table, Privilege::Create, &[]);
        }
        // Ownership is checked by `db` (only the owner or an admin may);
        // the use puts it on record as the table's DDL.
        Statement::Analyze(Some(name))
            if schema.object_id(name).is_some() || index_table(schema, name).is_some() =>
        {
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

/// A trigger body statement's target and the columns it writes must
/// exist (SQLite's errors when it compiles the trigger program; outside a
/// trigger a missing table is refused by [`check`], as a hidden one is).
fn compiles_in_trigger(schema: &Schema, table: &str, cols: &[String], insert: bool) -> Result<()> {
    if schema.view(table).is_some() {
        return Ok(());
    }
    let Some(t) = schema.table(table) else {
        return Err(Error::sql(
            SqlErrorKind::UnknownTable,
            format!("no such table: {table}"),
        ));
    };
    let rowid = |c: &str| {
        ["rowid", "_rowid_", "oid"]
            .iter()
            .any(|r| c.eq_ignore_ascii_case(r))
            && !t.without_rowid
    };
    for c in cols {
        if t.column(c).is_none() && !rowid(c) {
            let message = if insert {
                format!("table {} has no column named {c}", t.name)
            } else {
                format!("no such column: {c}")
            };
            return Err(Error::sql(SqlErrorKind::UnknownColumn, message));
        }
    }
    Ok(())
}

/// The uses of an INSERT, UPDATE or DELETE on a view (its INSTEAD OF
/// triggers do the work): the privilege on the view (on the columns
/// written, for INSERT and UPDATE), SELECT on the view's columns its WHERE
/// and SET read (as a query of the view, which reads its tables with its
/// owner's rights), the INSERT's source; returns the view as its
/// triggers' table (`None` when the view cannot be planned: the statement
/// then fails on it when it runs, after its privileges were checked).
fn view_target(schema: &Schema, p: &mut Planner, stmt: &Statement) -> Result<Option<Arc<Table>>> {
    let (name, with_reads) = match stmt {
        Statement::Insert(i) => (&i.table, None),
        Statement::Update(u) => (
            &u.table,
            Some((
                u.filter.as_ref(),
                u.assignments
                    .iter()
                    .map(|(_, e)| e.clone())
                    .collect::<Vec<_>>(),
            )),
        ),
        Statement::Delete(d) => (&d.table, Some((d.filter.as_ref(), Vec::new()))),
        _ => return Ok(None),
    };
    let Some(v) = schema.view(name) else {
        return Ok(None);
    };
    // Failing closed: the privilege on the view is recorded even when the
    // view cannot be planned (the statement then fails on it).
    let vt = crate::sql::run::view_row_table(schema, v).ok();
    match stmt {
        Statement::Insert(i) => {
            p.push_ctes_of(DataChange::Insert(i));
            let cols: Vec<String> = match (&i.columns, &vt) {
                (Some(c), _) => c.clone(),
                (None, Some(vt)) => vt.columns.iter().map(|c| c.name.clone()).collect(),
                (None, None) => Vec::new(),
            };
            p.record_use(&v.name, Privilege::Insert, &cols);
            if let Some(q) = &i.source {
                p.query(q)?;
            }
        }
        Statement::Update(u) => {
            p.push_ctes_of(DataChange::Update(u));
            let cols: Vec<String> = u.assignments.iter().map(|(c, _)| c.clone()).collect();
            p.record_use(&v.name, Privilege::Update, &cols);
        }
        Statement::Delete(d) => {
            p.push_ctes_of(DataChange::Delete(d));
            p.record_use(&v.name, Privilege::Delete, &[]);
        }
        _ => {}
    }
    if let Some((filter, mut exprs)) = with_reads {
        if filter.is_some() || exprs.iter().any(|e| !is_constant(e)) {
            if exprs.is_empty() {
                exprs.push(Expr::Literal(crate::types::Value::Integer(1)));
            }
            p.query(&crate::sql::run::view_rows_query(v, filter, &exprs, false))?;
        }
    }
    Ok(vt)
}

/// Whether `e` reads no column and holds no subquery.
fn is_constant(e: &Expr) -> bool {
    let mut reads = crate::sql::plan::has_subquery_expr(e);
    crate::sql::plan::walk(e, &mut |x| {
        if matches!(x, Expr::Column { .. }) {
            reads = true;
        }
    });
    !reads
}

/// The column names an expression (as SQL text) reads; nothing when it
/// does not parse (the statement then fails on it).
fn columns_named(sql: &str) -> Vec<String> {
    let mut out = Vec::new();
    if let Ok(e) = crate::syntax::parse::parse_expr(sql) {
        crate::sql::plan::walk(&e, &mut |x| {
            if let Expr::Column { name, .. } = x {
                out.push(name.clone());
            }
        });
    }
    out
}

/// Of `names`, those naming a column of `table` (others fail when the
/// statement runs, as for a missing column), without repeats. A table
/// that is missing or hidden yields them all: the use fails on the table.
fn known_columns(schema: &Schema, table: &str, names: Vec<String>) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for n in names {
        let known = schema.table(table).is_none_or(|t| t.column(&n).is_some());
        if known && !out.iter().any(|o| o.eq_ignore_ascii_case(&n)) {
            out.push(n);
        }
    }
    out
}

/// The table index `index` belongs to.
pub fn index_table(schema: &Schema, index: &str) -> Option<String> {
    schema.tables.index_table(index).map(|t| t.name.clone())
}
