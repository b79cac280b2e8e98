//! Runs data-changing and schema-changing statements inside a transaction.
//!
//! Queries are planned and opened by the caller (they stream); everything
//! here runs to completion and reports how many rows changed. Each function
//! works on a transaction's write set; statement atomicity (undo on error)
//! is the caller's, through `Txn::mark` / `Txn::rollback_to`.

mod analyze;
mod ddl;
pub mod foreign_key;
mod insert;
mod trigger;
mod update;
mod view_write;

pub use self::analyze::{analyze_stats, analyze_target, AnalyzeTarget};
pub use self::ddl::*;
pub use self::insert::{insert, insert_planned, InsertPlan};
pub use self::trigger::create_trigger;
pub use self::update::{delete, update};
pub use self::view_write::{view_row_table, view_rows_query};
use self::{insert::*, trigger::*, update::*};

use std::collections::HashMap;
use std::sync::Arc;

use crate::auth::PolicyCmd;
use crate::catalog::Trigger;
use crate::catalog::{index_prefix, table_prefix, CatalogWriter, Schema, Table, View};
use crate::error::{Error, Result, SqlErrorKind};
use crate::sql::access::{check, too_deep, trigger_uses, MAX_TRIGGER_DEPTH};
use crate::sql::depend::{check_column_name, referrers, refuse_if_referred};
use crate::sql::eval::{eval, truth, PExpr};
use crate::sql::exec::{delete_prefix, index_values, open, read_row, ExecCtx, Row};
use crate::sql::plan::{reads_target, DataChange, Planner, Security};
use crate::sql::write::{
    apply_affinities, check_not_null, check_order, check_strict, constraint_error, explicit_rowid,
    forget_sequence, must_be_int, new_rowid, note_rowid, touch_sequence, Check, Constraint,
    SequenceScope, TableWriter, Violation,
};
use crate::syntax::ast::{AlterOp, CreateTrigger, Statement, TriggerEvent, TriggerTiming};
use crate::syntax::ast::{
    Conflict, CreateIndex, CreateTable, Delete, Expr, Insert, ObjectKind, Query, Update,
    UpsertAction,
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

/// Evaluates the DEFAULT of every column (NULL where none).
fn defaults(t: &Table, cx: &mut ExecCtx) -> Result<Row> {
    eval_defaults(&bind_defaults(t)?, cx)
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
    /// The triggers running on this thread (lowercase names), innermost
    /// last.
    static ACTIVE_TRIGGERS: std::cell::RefCell<Vec<String>> = const { std::cell::RefCell::new(Vec::new()) };
    /// The conflict resolution the statement that fired the running
    /// trigger named, which its body's statements use instead of theirs.
    static CONFLICT_OVERRIDE: std::cell::Cell<Option<Conflict>> = const { std::cell::Cell::new(None) };
}

/// Ends the data change `stmt` (built only if needed) that began `seq`,
/// with result `r`, as SQLite halts a statement: `sqlite_sequence` is
/// written if it succeeded, and when it failed for want of a rowid
/// (SQLITE_FULL) without a statement journal the whole transaction is
/// undone (`sqlite3VdbeHalt`), not just the statement.
fn end_statement<T>(
    cx: &mut ExecCtx,
    schema: &Schema,
    seq: SequenceScope,
    stmt: impl FnOnce() -> Statement,
    r: Result<T>,
) -> Result<T> {
    let full = r.is_err() && seq.no_rowid_left();
    seq.finish(cx, schema, r.is_ok())?;
    if full && !crate::sql::journal::keeps_statement_journal(schema, &stmt()) {
        cx.on_error = crate::sql::exec::ErrorScope::Transaction;
    }
    r
}

/// The conflict resolution a statement naming `own` runs under: the one
/// the statement that fired the running trigger named, if any (SQLite).
fn effective_conflict(own: Option<Conflict>) -> Option<Conflict> {
    CONFLICT_OVERRIDE.with(|c| c.get()).or(own)
}

/// The planner for statements run in `cx` (inside a trigger body, NEW and
/// OLD are in scope).
fn planner_for<'s>(schema: &'s Schema, cx: &ExecCtx) -> Planner<'s> {
    match &cx.trigger {
        Some(t) => Planner::for_trigger(schema, t, None),
        None => Planner::new(schema),
    }
    .with_security(cx.sec.as_deref().cloned())
    .executing()
}

/// Refuses a new row that row-level security's WITH CHECK rejects.
fn check_new_row(cx: &mut ExecCtx, check: &Option<PExpr>, t: &Table, row: &[Value]) -> Result<()> {
    if let Some(c) = check {
        if truth(c, row, cx)? != Some(true) {
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
        if truth(c, row, cx)? != Some(true) {
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
