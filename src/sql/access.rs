//! What a statement touches: the tables and views it reads or changes,
//! the columns, and the privilege each use needs — computed after
//! parsing and before execution, so the `db` layer can authorize the
//! whole statement (and audit it) before anything runs.
//!
//! Queries are analysed by planning them (the planner records every
//! table and view it binds, and every column it resolves). For data
//! changes the target needs INSERT/UPDATE/DELETE on the written columns,
//! and every column read (WHERE, SET expressions, RETURNING, ON CONFLICT)
//! needs SELECT, as in PostgreSQL. Triggers that the statement may fire
//! are analysed too: their bodies run with the invoker's rights. Inside a
//! view's definition, uses carry the view's name: they are checked
//! against the view owner's rights.

use std::collections::HashSet;
use std::sync::Arc;

use crate::auth::Privilege;
use crate::catalog::Schema;
use crate::error::Result;
use crate::sql::plan::{ObjectUse, Planner, Security};
use crate::syntax::ast::*;

/// Trigger nesting followed before giving up (runtime enforces its own
/// limit; this only bounds the analysis of trigger chains).
const MAX_TRIGGER_ANALYSIS: usize = 16;

/// The tables and views `stmt` uses (empty for statements that need no
/// privilege, such as BEGIN; see also [`needs_admin`]).
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

/// Whether only admins may run `stmt` (maintenance that reads every table).
pub fn needs_admin(stmt: &Statement) -> bool {
    match stmt {
        Statement::Pragma(_) | Statement::Reindex(None) | Statement::ShowCluster => true,
        Statement::Explain(inner) => needs_admin(inner),
        _ => false,
    }
}

fn planner<'s>(
    schema: &'s Schema,
    sec: &Option<Arc<Security>>,
    trigger: Option<&Arc<crate::catalog::Table>>,
) -> Planner<'s> {
    match trigger {
        Some(t) => Planner::for_trigger(schema, t),
        None => Planner::new(schema),
    }
    .with_security(sec.clone())
}

fn walk(
    schema: &Schema,
    stmt: &Statement,
    sec: &Option<Arc<Security>>,
    trigger: Option<&Arc<crate::catalog::Table>>,
    out: &mut Vec<ObjectUse>,
    seen: &mut HashSet<String>,
    depth: usize,
) -> Result<()> {
    let mut p = planner(schema, sec, trigger);
    let target_triggers = |table: &str, ev: fn(&TriggerEvent) -> bool| -> Vec<Arc<CreateTrigger>> {
        schema
            .triggers_on(table)
            .into_iter()
            .filter(|t| ev(&t.event))
            .collect()
    };
    let mut triggers: Vec<Arc<CreateTrigger>> = Vec::new();
    let mut trigger_table = None;
    match stmt {
        Statement::Query(q) => {
            p.query(q)?;
        }
        Statement::Explain(inner) => return walk(schema, inner, sec, trigger, out, seen, depth),
        Statement::Insert(i) => {
            let Some(t) = schema.table(&i.table) else {
                p.record_use(&i.table, Privilege::Insert, &[]);
                out.extend(p.take_uses());
                return Ok(());
            };
            let cols: Vec<String> = match &i.columns {
                Some(c) => c.clone(),
                None => t.columns.iter().map(|c| c.name.clone()).collect(),
            };
            p.record_use(&t.name, Privilege::Insert, &cols);
            if let Some(q) = &i.source {
                p.query(q)?;
            }
            if let Conflict::Update(sets, filter) = &i.on_conflict {
                let cols: Vec<String> = sets.iter().map(|(c, _)| c.clone()).collect();
                p.record_use(&t.name, Privilege::Update, &cols);
                let exprs: Vec<Expr> = sets
                    .iter()
                    .map(|(_, e)| e.clone())
                    .chain(filter.clone())
                    .collect();
                p.reads_of(t, &exprs)?;
            }
            if matches!(i.on_conflict, Conflict::Replace) {
                p.record_use(&t.name, Privilege::Delete, &[]);
            }
            if !i.returning.is_empty() {
                p.returning_reads(t, &i.returning)?;
            }
            triggers = target_triggers(&t.name, |e| matches!(e, TriggerEvent::Insert));
            trigger_table = Some(t.clone());
        }
        Statement::Update(u) => {
            let Some(t) = schema.table(&u.table) else {
                p.record_use(&u.table, Privilege::Update, &[]);
                out.extend(p.take_uses());
                return Ok(());
            };
            let cols: Vec<String> = u.assignments.iter().map(|(c, _)| c.clone()).collect();
            p.record_use(&t.name, Privilege::Update, &cols);
            p.table_rows_for(t, u.filter.as_ref(), Some(crate::auth::PolicyCmd::Update))?;
            let exprs: Vec<Expr> = u.assignments.iter().map(|(_, e)| e.clone()).collect();
            p.reads_of(t, &exprs)?;
            if !u.returning.is_empty() {
                p.returning_reads(t, &u.returning)?;
            }
            triggers = target_triggers(&t.name, |e| matches!(e, TriggerEvent::Update(_)));
            trigger_table = Some(t.clone());
        }
        Statement::Delete(d) => {
            let Some(t) = schema.table(&d.table) else {
                p.record_use(&d.table, Privilege::Delete, &[]);
                out.extend(p.take_uses());
                return Ok(());
            };
            p.record_use(&t.name, Privilege::Delete, &[]);
            p.table_rows_for(t, d.filter.as_ref(), Some(crate::auth::PolicyCmd::Delete))?;
            if !d.returning.is_empty() {
                p.returning_reads(t, &d.returning)?;
            }
            triggers = target_triggers(&t.name, |e| matches!(e, TriggerEvent::Delete));
            trigger_table = Some(t.clone());
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
        Statement::CreateTrigger(ct) => p.record_use(&ct.table, Privilege::Create, &[]),
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
                    ObjectKind::Trigger => {
                        if let Some(t) = schema.triggers.get(&n.to_lowercase()) {
                            p.record_use(&t.table, Privilege::Create, &[]);
                        }
                    }
                }
            }
        }
        _ => {}
    }
    out.extend(p.take_uses());
    if let Some(t) = trigger_table {
        if depth < MAX_TRIGGER_ANALYSIS {
            for trig in triggers {
                if !seen.insert(trig.name.to_lowercase()) {
                    continue;
                }
                for body in &trig.body {
                    walk(schema, body, sec, Some(&t), out, seen, depth + 1)?;
                }
            }
        }
    }
    Ok(())
}

fn index_table(schema: &Schema, index: &str) -> Option<String> {
    schema.tables.values().find_map(|t| {
        t.indexes
            .iter()
            .any(|i| i.name.eq_ignore_ascii_case(index))
            .then(|| t.name.clone())
    })
}
