//! Row values (SQLite's rowvalue.html): comparing `(a, b, ...)` with
//! another row of as many terms, `(a, b) IN (SELECT x, y ...)`, and the
//! terms of a row subquery that `UPDATE ... SET (a, b) = (SELECT ...)`
//! assigns.
//!
//! A row operand is a list of expressions or a subquery, whose first row
//! gives the terms (all NULL without rows). Each pair of terms compares
//! under its own rule (affinity and collation of that pair, as SQLite's
//! `codeVectorCompare`), and the result follows SQLite's NULL rules:
//!
//! ```text
//!   =, <>       every pair equal → true; a pair definitely unequal →
//!               false (<>: the opposite); else (a NULL pair) NULL
//!   <, <=, >, >= left to right: the first pair that is not equal decides;
//!               a NULL in it → NULL; the last pair takes the operator
//!   IS, IS NOT  every pair IS (NULL IS NULL)
//!   IN          some row of the subquery equal → true; else a row that
//!               only NULLs kept from equal → NULL; else (or no rows) false
//! ```
//!
//! Terms are evaluated left to right and only as far as the answer needs
//! them, as SQLite's code does, so an error in a term after the deciding
//! pair is not raised.

use std::cmp::Ordering;
use std::sync::Arc;

use crate::error::Result;
use crate::sql::eval::{bool_val, eval, in_result, PExpr, SubPlan};
use crate::sql::exec::{run_subplan, ExecCtx, Row, SubKind};
use crate::sql::typing::CmpRule;
use crate::syntax::ast::BinOp;
use crate::types::Value;

/// One side of a row comparison.
#[derive(Clone, Debug)]
pub enum RowOperand {
    /// `(a, b, ...)`: one expression per term.
    Items(Vec<PExpr>),
    /// `(SELECT x, y ...)`: the terms of its first row.
    Sub(Arc<SubPlan>),
}

/// `left op right` over row values of `rules.len()` terms.
#[derive(Clone, Debug)]
pub struct RowCmp {
    /// `=`, `<>`, `<`, `<=`, `>`, `>=`, IS or IS NOT.
    pub op: BinOp,
    /// Left operand.
    pub left: RowOperand,
    /// Right operand.
    pub right: RowOperand,
    /// The rule each pair of terms compares under.
    pub rules: Vec<CmpRule>,
}

/// `left [NOT] IN (subquery)` with a row value on the left.
#[derive(Clone, Debug)]
pub struct RowIn {
    /// The tested row.
    pub left: RowOperand,
    /// The subquery (as many columns as `left` has terms).
    pub sub: Arc<SubPlan>,
    /// NOT IN.
    pub negated: bool,
    /// The rule each term compares with its column under.
    pub rules: Vec<CmpRule>,
}

impl RowOperand {
    /// The expressions of its terms (none for a subquery).
    pub fn items(&self) -> &[PExpr] {
        match self {
            RowOperand::Items(v) => v,
            RowOperand::Sub(_) => &[],
        }
    }

    /// The subquery it reads, if any.
    pub fn sub(&self) -> Option<&Arc<SubPlan>> {
        match self {
            RowOperand::Items(_) => None,
            RowOperand::Sub(s) => Some(s),
        }
    }

    /// The same operand with every expression rewritten by `f`.
    pub fn map(self, f: &dyn Fn(PExpr) -> PExpr) -> RowOperand {
        match self {
            RowOperand::Items(v) => RowOperand::Items(v.into_iter().map(f).collect()),
            sub => sub,
        }
    }

    fn open<'a>(&'a self, row: &[Value], cx: &mut ExecCtx) -> Result<Terms<'a>> {
        Ok(match self {
            RowOperand::Items(v) => Terms::Lazy(v),
            RowOperand::Sub(s) => Terms::Fetched(run_subplan(s, row, cx, SubKind::First)?),
        })
    }
}

/// The terms of an operand being compared: expressions evaluated when
/// asked for, or a subquery's rows already fetched.
enum Terms<'a> {
    Lazy(&'a [PExpr]),
    Fetched(Arc<Vec<Row>>),
}

impl Terms<'_> {
    fn get(&self, i: usize, row: &[Value], cx: &mut ExecCtx) -> Result<Value> {
        match self {
            Terms::Lazy(v) => match v.get(i) {
                Some(e) => eval(e, row, cx),
                None => Ok(Value::Null),
            },
            Terms::Fetched(rows) => Ok(first_row_term(rows, i)),
        }
    }
}

fn first_row_term(rows: &[Row], i: usize) -> Value {
    rows.first()
        .and_then(|r| r.get(i))
        .cloned()
        .unwrap_or(Value::Null)
}

/// Evaluates a row comparison (see the module's table).
pub fn compare(c: &RowCmp, row: &[Value], cx: &mut ExecCtx) -> Result<Value> {
    let left = c.left.open(row, cx)?;
    let right = c.right.open(row, cx)?;
    let n = c.rules.len();
    match c.op {
        BinOp::Is | BinOp::IsNot => {
            let mut same = true;
            for (i, rule) in c.rules.iter().enumerate() {
                if !rule.is(&left.get(i, row, cx)?, &right.get(i, row, cx)?) {
                    same = false;
                    break;
                }
            }
            Ok(bool_val(Some(same == (c.op == BinOp::Is))))
        }
        BinOp::Eq | BinOp::Ne => {
            let mut eq = Some(true);
            for (i, rule) in c.rules.iter().enumerate() {
                match rule.cmp(&left.get(i, row, cx)?, &right.get(i, row, cx)?) {
                    Some(Ordering::Equal) => {}
                    Some(_) => {
                        eq = Some(false);
                        break;
                    }
                    None => eq = None,
                }
            }
            Ok(bool_val(if c.op == BinOp::Eq {
                eq
            } else {
                eq.map(|b| !b)
            }))
        }
        op => {
            for (i, rule) in c.rules.iter().enumerate() {
                let o = rule.cmp(&left.get(i, row, cx)?, &right.get(i, row, cx)?);
                let Some(o) = o else {
                    return Ok(Value::Null);
                };
                if o == Ordering::Equal && i + 1 < n {
                    continue;
                }
                return Ok(bool_val(Some(match op {
                    BinOp::Lt => o == Ordering::Less,
                    BinOp::Le => o != Ordering::Greater,
                    BinOp::Gt => o == Ordering::Greater,
                    _ => o != Ordering::Less,
                })));
            }
            Ok(Value::Null)
        }
    }
}

/// Evaluates `(a, b) [NOT] IN (SELECT x, y ...)`.
pub fn contains(c: &RowIn, row: &[Value], cx: &mut ExecCtx) -> Result<Value> {
    let left = c.left.open(row, cx)?;
    let mut terms = Vec::with_capacity(c.rules.len());
    for i in 0..c.rules.len() {
        terms.push(left.get(i, row, cx)?);
    }
    let rows = run_subplan(&c.sub, row, cx, SubKind::All)?;
    let mut found = false;
    let mut saw_null = false;
    for r in rows.iter() {
        let mut eq = Some(true);
        for (i, rule) in c.rules.iter().enumerate() {
            match rule.cmp(&terms[i], r.get(i).unwrap_or(&Value::Null)) {
                Some(Ordering::Equal) => {}
                Some(_) => {
                    eq = Some(false);
                    break;
                }
                None => eq = None,
            }
        }
        match eq {
            Some(true) => {
                found = true;
                break;
            }
            None => saw_null = true,
            Some(false) => {}
        }
    }
    Ok(in_result(found, saw_null, c.negated, rows.is_empty()))
}

/// Term `i` of the first row of `sub`. The terms of one `SET (a, b) =
/// (SELECT ...)` share `sub`: a correlated one runs once per row for all
/// of them (so that `random()` in it gives every column the same row's
/// values, as in SQLite), its result kept in the statement's cache under
/// its id — which only uncorrelated subqueries use otherwise — with the
/// row it was run for in front, until [`assign`] is done with the row.
pub fn field(sub: &Arc<SubPlan>, i: usize, row: &[Value], cx: &mut ExecCtx) -> Result<Value> {
    if !sub.correlated {
        let rows = run_subplan(sub, row, cx, SubKind::First)?;
        return Ok(first_row_term(&rows, i));
    }
    if let Some(kept) = cx.cache.get(&sub.id) {
        if kept.first().is_some_and(|r| r.as_slice() == row) {
            return Ok(first_row_term(&kept[1..], i));
        }
    }
    let rows = run_subplan(sub, row, cx, SubKind::First)?;
    let mut kept = Vec::with_capacity(2);
    // (Kept only until `assign` finishes this row's SET.)
    kept.push(row.to_vec());
    kept.extend(rows.iter().take(1).cloned());
    cx.cache.insert(sub.id, Arc::new(kept));
    Ok(first_row_term(&rows, i))
}

/// Evaluates the SET list `sets` (column position, value) of an UPDATE or
/// upsert over `row` into `values`, then forgets the runs of correlated
/// row subqueries kept for it: the next row (or the same row met again
/// by a later upsert, after other changes) runs them afresh.
pub fn assign(
    sets: &[(usize, PExpr)],
    row: &[Value],
    values: &mut [Value],
    cx: &mut ExecCtx,
) -> Result<()> {
    let r = (|| {
        for (pos, e) in sets {
            let v = eval(e, row, cx)?;
            if let Some(slot) = values.get_mut(*pos) {
                *slot = v;
            }
        }
        Ok(())
    })();
    for (_, e) in sets {
        if let PExpr::RowField(sub, _) = e {
            if sub.correlated {
                cx.cache.remove(&sub.id);
            }
        }
    }
    r
}
