//! CHECK constraints: what a CHECK expression may be, binding it over a
//! table's row, and testing a row about to be written, as SQLite does.
//!
//! Invariants: a row passes when every CHECK is true or NULL (SQLite's
//! `SQLITE_JUMPIFNULL`); the first false one, in the order they were
//! written, is the one reported ("CHECK constraint failed: NAME", NAME the
//! constraint's name or else its expression). OR IGNORE skips the row; OR
//! REPLACE has nothing to replace and aborts; the other modes fail as
//! their mode says. A CHECK reads only the row: subqueries, parameters and
//! functions whose result is not fixed by their arguments are refused when
//! the table is created, so a CHECK gives the same answer for the same row
//! forever (rows written once stay valid).

use std::sync::Arc;

use crate::catalog::Table;
use crate::error::{Error, Result, SqlErrorKind};
use crate::sql::eval::{eval, PExpr};
use crate::sql::exec::ExecCtx;
use crate::sql::plan::{has_subquery_expr, walk, Planner};
use crate::syntax::ast::{Conflict, Expr};
use crate::syntax::parse::parse_expr;

/// A CHECK bound over its table's row (columns ++ rowid).
pub struct BoundCheck {
    /// What a failure names.
    label: String,
    expr: PExpr,
}

/// Functions whose result is not fixed by their arguments.
const VOLATILE: &[&str] = &[
    "random",
    "randomblob",
    "changes",
    "total_changes",
    "last_insert_rowid",
];

/// Date and time functions: 'now' (or no argument at all) reads the clock.
const CLOCK: &[&str] = &[
    "date",
    "time",
    "datetime",
    "julianday",
    "unixepoch",
    "strftime",
    "timediff",
];

/// Binds every CHECK of `t` (refusing what a CHECK may not hold).
pub fn bind_checks(t: &Arc<Table>) -> Result<Vec<BoundCheck>> {
    let mut out = Vec::with_capacity(t.checks.len());
    for c in &t.checks {
        let e = parse_expr(&c.expr)?;
        allowed_in(&e, "CHECK constraints")?;
        let empty = crate::catalog::Schema::default();
        let bound = Planner::new(&empty)
            .executing()
            .table_exprs(t, std::slice::from_ref(&e))?;
        let expr = bound
            .into_iter()
            .next()
            .ok_or_else(|| Error::sql(SqlErrorKind::Misuse, "empty CHECK constraint"))?;
        out.push(BoundCheck {
            label: c.name.clone().unwrap_or_else(|| c.expr.clone()),
            expr,
        });
    }
    Ok(out)
}

/// The CHECKs of `t` bound, as text (column positions included): two
/// tables whose CHECKs give the same text test rows the same way.
pub fn bound_shapes(t: &Arc<Table>) -> Result<String> {
    Ok(bind_checks(t)?
        .iter()
        .map(|c| format!("{:?}", c.expr))
        .collect::<Vec<_>>()
        .join("; "))
}

/// SQLite's refusals for an expression that must give the same answer
/// for the same row forever (a CHECK, a generated column, an index
/// expression); `place` names it in the error ("CHECK constraints").
pub(crate) fn allowed_in(e: &Expr, place: &str) -> Result<()> {
    let misuse = |m: &str| Err(Error::sql(SqlErrorKind::Misuse, format!("{m} {place}")));
    if has_subquery_expr(e) {
        return misuse("subqueries prohibited in");
    }
    let mut bad: Option<&'static str> = None;
    walk(e, &mut |x| match x {
        Expr::Param(_) => bad = Some("parameters prohibited in"),
        Expr::Function { name, args, .. } => {
            let n = name.to_ascii_lowercase();
            let reads_clock = CLOCK.contains(&n.as_str())
                && (args.is_empty()
                    || args.iter().any(|a| {
                        matches!(a, Expr::Literal(crate::types::Value::Text(s))
                            if s.eq_ignore_ascii_case("now"))
                    }));
            if VOLATILE.contains(&n.as_str()) || reads_clock || n.starts_with("current_") {
                bad = Some("non-deterministic functions prohibited in");
            }
        }
        _ => {}
    });
    match bad {
        Some(m) => misuse(m),
        None => Ok(()),
    }
}

/// Whether `row` (columns ++ rowid) passes `checks`: `Ok(false)` when one
/// is false and `mode` is IGNORE (skip the row), an error under the other
/// modes.
pub fn passes(
    cx: &mut ExecCtx,
    checks: &[BoundCheck],
    row: &[crate::types::Value],
    mode: Conflict,
) -> Result<bool> {
    for c in checks {
        if eval(&c.expr, row, cx)?.truthy() == Some(false) {
            if mode == Conflict::Ignore {
                return Ok(false);
            }
            let e = Error::sql(
                SqlErrorKind::Check,
                format!("CHECK constraint failed: {}", c.label),
            );
            let mode = if mode == Conflict::Replace {
                Conflict::Abort
            } else {
                mode
            };
            return Err(crate::sql::write::constraint_error(cx, mode, e));
        }
    }
    Ok(true)
}
