//! Generated columns (`GENERATED ALWAYS AS (expr) VIRTUAL | STORED`, or
//! `AS (expr)`), as SQLite has them: binding their expressions over the
//! table's row, the order they are computed in, and computing them on a
//! row about to be written.
//!
//! Invariants: a generated column's expression reads only the columns of
//! its own row, unqualified (no rowid, no subquery, no parameter, no
//! aggregate or window, no function whose result is not fixed by its
//! arguments), so the value is a function of the row. Hence sealdb keeps
//! VIRTUAL columns computed in the stored row as it does STORED ones: the
//! answers are the same, and reads need no extra work; the difference
//! left is the one SQLite makes at ALTER TABLE ADD COLUMN (only VIRTUAL
//! may be added). Every INSERT and UPDATE computes all generated columns
//! again, in dependency order (one may read another; a loop is refused
//! when the table is written, as SQLite refuses it when it is used), with
//! the column's affinity applied, before NOT NULL, CHECK and uniqueness
//! are tested, so constraints and indexes on them see the real values.
//!
//! Privileges: the expression is part of the table's definition, which
//! only its owner makes or alters; reading a generated column needs
//! SELECT on that column alone (the owner chose what it exposes, as with
//! a view), writing one is impossible (INSERT or UPDATE naming it is an
//! error), and writing its inputs needs only their own privileges. See
//! `docs/security.md`.

use std::sync::Arc;

use crate::catalog::Table;
use crate::error::{Error, Result, SqlErrorKind};
use crate::sql::eval::{eval, PExpr};
use crate::sql::exec::ExecCtx;
use crate::sql::plan::{walk, Planner};
use crate::syntax::ast::Expr;
use crate::syntax::parse::parse_expr;
use crate::types::{apply_affinity, Value};

/// The generated columns of a table, bound over its row (columns ++
/// rowid), in the order they must be computed.
#[derive(Default)]
pub struct BoundGenerated {
    /// (column position, expression), inputs before the columns reading
    /// them.
    order: Vec<(usize, PExpr)>,
}

fn misuse(m: String) -> Error {
    Error::sql(SqlErrorKind::Misuse, m)
}

/// The columns `e` (the expression of a generated column of `t`) reads,
/// refusing what SQLite refuses in a generated column.
fn columns_read(t: &Table, e: &Expr) -> Result<Vec<usize>> {
    crate::sql::check::allowed_in(e, "generated columns")?;
    let mut out = Vec::new();
    let mut err: Option<Error> = None;
    walk(e, &mut |x| {
        if err.is_some() {
            return;
        }
        if let Expr::Column { table, name } = x {
            match (table, t.column(name)) {
                (Some(q), Some(_)) if q.eq_ignore_ascii_case(&t.name) => {
                    err = Some(misuse(
                        "the \".\" operator prohibited in generated columns".into(),
                    ))
                }
                (Some(q), _) => {
                    err = Some(Error::sql(
                        SqlErrorKind::UnknownColumn,
                        format!("no such column: {q}.{name}"),
                    ))
                }
                (None, Some(p)) => out.push(p),
                // The rowid is no column here (SQLite).
                (None, None) => {
                    err = Some(Error::sql(
                        SqlErrorKind::UnknownColumn,
                        format!("no such column: {name}"),
                    ))
                }
            }
        }
    });
    match err {
        Some(e) => Err(e),
        None => Ok(out),
    }
}

/// Binds the generated columns of `t` (see the module documentation).
pub fn bind_generated(t: &Arc<Table>) -> Result<BoundGenerated> {
    let mut parsed = Vec::new();
    let mut reads = Vec::new();
    for (i, c) in t.columns.iter().enumerate() {
        if let Some(g) = &c.generated {
            let e = parse_expr(&g.expr)?;
            reads.push((i, columns_read(t, &e)?));
            parsed.push((i, e));
        }
    }
    if parsed.is_empty() {
        return Ok(BoundGenerated::default());
    }
    // Depth-first from each generated column in table order; meeting a
    // column still being visited is a loop.
    #[derive(Clone, Copy, PartialEq)]
    enum Mark {
        New,
        Visiting,
        Done,
    }
    let mut mark = vec![Mark::New; t.columns.len()];
    let mut order_pos = Vec::with_capacity(parsed.len());
    fn visit(
        t: &Table,
        c: usize,
        reads: &[(usize, Vec<usize>)],
        mark: &mut [Mark],
        out: &mut Vec<usize>,
    ) -> Result<()> {
        match mark[c] {
            Mark::Done => return Ok(()),
            Mark::Visiting => {
                return Err(misuse(format!(
                    "generated column loop on \"{}\"",
                    t.columns[c].name
                )))
            }
            Mark::New => {}
        }
        let Some((_, deps)) = reads.iter().find(|(p, _)| *p == c) else {
            mark[c] = Mark::Done;
            return Ok(());
        };
        mark[c] = Mark::Visiting;
        for &d in deps {
            crate::depth::guarded(|| visit(t, d, reads, mark, out))?;
        }
        mark[c] = Mark::Done;
        out.push(c);
        Ok(())
    }
    for (i, _) in &parsed {
        visit(t, *i, &reads, &mut mark, &mut order_pos)?;
    }
    let empty = crate::catalog::Schema::default();
    let mut planner = Planner::new(&empty).executing();
    let mut order = Vec::with_capacity(order_pos.len());
    for p in order_pos {
        let Some((_, e)) = parsed.iter().find(|(i, _)| *i == p) else {
            continue;
        };
        let bound = planner.table_exprs(t, std::slice::from_ref(e))?;
        let expr = bound
            .into_iter()
            .next()
            .ok_or_else(|| misuse("empty generated column".into()))?;
        order.push((p, expr));
    }
    Ok(BoundGenerated { order })
}

/// Checks the generated columns of `t` when the table is created or a
/// column added: each binds over the row, nothing it may not hold, no
/// loop (SQLite refuses these at that point).
pub fn check_generated(t: &Arc<Table>) -> Result<()> {
    bind_generated(t).map(|_| ())
}

impl BoundGenerated {
    /// Whether the table has generated columns.
    pub fn is_empty(&self) -> bool {
        self.order.is_empty()
    }

    /// Computes every generated column of `row` (columns, maybe ++ rowid)
    /// from the others, with its column's affinity.
    pub fn compute(&self, t: &Table, cx: &mut ExecCtx, row: &mut [Value]) -> Result<()> {
        for (p, e) in &self.order {
            let v = eval(e, row, cx)?;
            row[*p] = apply_affinity(v, t.columns[*p].affinity);
        }
        Ok(())
    }
}

/// `cols` and the generated columns of `t` reading one of them, directly
/// or through another: what an UPDATE assigning `cols` changes, as SQLite
/// counts it for the indexes it rewrites and its one-pass decision (not
/// for `UPDATE OF` triggers).
pub fn with_dependents(t: &Table, cols: &[usize]) -> Vec<usize> {
    let mut out = cols.to_vec();
    let reads: Vec<(usize, Vec<usize>)> = t
        .columns
        .iter()
        .enumerate()
        .filter_map(|(i, c)| {
            let e = parse_expr(&c.generated.as_ref()?.expr).ok()?;
            let mut read = Vec::new();
            walk(&e, &mut |x| {
                if let Expr::Column { name, .. } = x {
                    read.extend(t.column(name));
                }
            });
            Some((i, read))
        })
        .collect();
    loop {
        let more: Vec<usize> = reads
            .iter()
            .filter(|(i, read)| !out.contains(i) && read.iter().any(|r| out.contains(r)))
            .map(|(i, _)| *i)
            .collect();
        if more.is_empty() {
            return out;
        }
        out.extend(more);
    }
}
