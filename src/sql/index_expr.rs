//! Indexes on expressions (`CREATE INDEX i ON t (lower(name))`), as SQLite
//! has them: what a key expression may hold, binding it over the table's
//! row to compute an entry's key, and recognizing it in a WHERE term so
//! the planner may read by it.
//!
//! Invariants: a key expression reads only its table's row (no rowid, no
//! subquery, no parameter, no aggregate or window, no function whose
//! result is not fixed by its arguments), so an entry computed when a row
//! is written still matches the row when it is read or removed. Its key
//! has no affinity and the collation written after it (else BINARY), as in
//! SQLite; a UNIQUE one is enforced on the expressions' values (NULLs
//! never conflict) and reported as `UNIQUE constraint failed: index 'i'`.
//! The planner uses the index for a WHERE term comparing an expression
//! that binds to exactly the key's expression (SQLite requires the same
//! expression too) under a comparison that converts nothing and the
//! key's collation; every WHERE term is still tested on the rows read, so
//! the index only narrows the scan.

use std::sync::Arc;

use crate::catalog::{Index, Table};
use crate::error::{Error, Result, SqlErrorKind};
use crate::sql::eval::PExpr;
use crate::sql::plan::{walk, Planner};
use crate::syntax::ast::Expr;
use crate::syntax::parse::parse_expr;

/// SQLite's refusals for the key expressions of an index on `t` (when
/// it is created).
pub fn check_index_exprs(t: &Table, idx: &Index) -> Result<()> {
    for e in idx.exprs.iter().flatten() {
        let e = parse_expr(e)?;
        crate::sql::check::allowed_in(&e, "index expressions")?;
        let mut missing: Option<String> = None;
        walk(&e, &mut |x| {
            if let Expr::Column { table, name } = x {
                let own = table
                    .as_ref()
                    .is_none_or(|q| q.eq_ignore_ascii_case(&t.name));
                if missing.is_none() && (!own || t.column(name).is_none()) {
                    missing = Some(match table {
                        Some(q) => format!("{q}.{name}"),
                        None => name.clone(),
                    });
                }
            }
        });
        if let Some(m) = missing {
            return Err(Error::sql(
                SqlErrorKind::UnknownColumn,
                format!("no such column: {m}"),
            ));
        }
    }
    Ok(())
}

/// The key expressions of `idx` bound over `t`'s row (columns ++ rowid):
/// per key column, its expression if it is one; empty when the index has
/// none.
pub fn bind_index_exprs(t: &Arc<Table>, idx: &Index) -> Result<Vec<Option<PExpr>>> {
    if !idx.has_exprs() {
        return Ok(Vec::new());
    }
    let empty = crate::catalog::Schema::default();
    let mut planner = Planner::new(&empty).executing();
    let mut out = Vec::with_capacity(idx.exprs.len());
    for e in &idx.exprs {
        out.push(match e {
            Some(sql) => {
                let parsed = parse_expr(sql)?;
                planner
                    .table_exprs(t, std::slice::from_ref(&parsed))?
                    .into_iter()
                    .next()
            }
            None => None,
        });
    }
    Ok(out)
}

/// The columns of `t` the key expressions of `idx` read.
pub fn columns_read(t: &Table, idx: &Index) -> Vec<usize> {
    let mut out = Vec::new();
    for e in idx.exprs.iter().flatten() {
        let Ok(e) = parse_expr(e) else {
            continue;
        };
        walk(&e, &mut |x| {
            if let Expr::Column { name, .. } = x {
                if let Some(c) = t.column(name) {
                    out.push(c);
                }
            }
        });
    }
    out.sort_unstable();
    out.dedup();
    out
}
