//! Bound expressions and their evaluation.
//!
//! The binder (plan.rs) turns [`crate::syntax::ast::Expr`] into [`PExpr`],
//! where every column reference is a position: in the current row
//! ([`PExpr::Col`]) or in an enclosing query's row ([`PExpr::Outer`], for
//! correlated subqueries). Evaluation follows SQLite's three-valued logic:
//! NULL propagates, AND/OR short-circuit with NULL as "unknown".

use std::borrow::Cow;
use std::cmp::Ordering;
use std::sync::Arc;

use crate::error::{Error, Result, SqlErrorKind};
use crate::sql::exec::{run_subplan, ErrorScope, ExecCtx, SubKind};
use crate::sql::functions::{ScalarCall, ShortCircuit};
use crate::sql::plan::Plan;
use crate::sql::rowvalue::{self, RowCmp, RowIn};
use crate::sql::typing::{CmpRule, InSet};
use crate::syntax::ast::{BinOp, Conflict, UnOp};
use crate::types::{self, CastType, Value};

/// A bound expression.
#[derive(Clone, Debug)]
pub enum PExpr {
    /// A constant.
    Lit(Value),
    /// Column `i` of the current row.
    Col(usize),
    /// Column `i` of the row of the query `depth` levels out (1 = parent).
    Outer(usize, usize),
    /// Parameter `i` (1-based).
    Param(usize),
    /// Unary operation.
    Unary(UnOp, Box<PExpr>),
    /// Binary operation other than a comparison.
    Binary(BinOp, Box<PExpr>, Box<PExpr>),
    /// A comparison (`=`, `<>`, `<`, `<=`, `>`, `>=`, IS, IS NOT) under a
    /// rule.
    Cmp(BinOp, Box<PExpr>, Box<PExpr>, CmpRule),
    /// IS [NOT] NULL (true = NOT).
    IsNull(Box<PExpr>, bool),
    /// [NOT] IN (list): the value compared with each item under the rule
    /// (or looked up in the items' set, for a long list of constants).
    InList(Box<PExpr>, Vec<PExpr>, bool, CmpRule, Option<Arc<InSet>>),
    /// [NOT] IN (subquery).
    InSub(Box<PExpr>, Arc<SubPlan>, bool, CmpRule),
    /// [NOT] EXISTS.
    Exists(Arc<SubPlan>, bool),
    /// Scalar subquery.
    Scalar(Arc<SubPlan>),
    /// [NOT] BETWEEN: `x >= low` under the first rule and `x <= high`
    /// under the second.
    Between(Box<PExpr>, Box<PExpr>, Box<PExpr>, bool, [CmpRule; 2]),
    /// LIKE / GLOB.
    Like {
        /// Text.
        expr: Box<PExpr>,
        /// Pattern.
        pattern: Box<PExpr>,
        /// ESCAPE.
        escape: Option<Box<PExpr>>,
        /// NOT.
        negated: bool,
        /// GLOB.
        glob: bool,
    },
    /// CASE [operand] WHEN .. THEN .. ELSE; with an operand, each WHEN
    /// value is compared with it under that WHEN's rule.
    Case(
        Option<Box<PExpr>>,
        Vec<(PExpr, PExpr)>,
        Option<Box<PExpr>>,
        Vec<CmpRule>,
    ),
    /// CAST.
    Cast(Box<PExpr>, CastType),
    /// A scalar function (resolved when bound).
    Func(ScalarCall, Vec<PExpr>),
    /// A comparison of row values (see [`crate::sql::rowvalue`]).
    RowCmp(Box<RowCmp>),
    /// `(a, b) [NOT] IN (subquery)`.
    RowIn(Box<RowIn>),
    /// Term `i` of the first row of a row subquery (`SET (a, b) =
    /// (SELECT ...)`).
    RowField(Arc<SubPlan>, usize),
    /// A trigger program's `RAISE(action[, message])` (bound only inside
    /// one): evaluating it is an error, see [`raise`].
    Raise(Conflict, Option<Box<PExpr>>),
}

/// A subquery inside an expression.
#[derive(Debug)]
pub struct SubPlan {
    /// Unique id (for caching uncorrelated results during one statement).
    pub id: usize,
    /// The plan.
    pub plan: Plan,
    /// Whether it refers to enclosing rows (then it cannot be cached).
    pub correlated: bool,
}

pub(crate) fn bool_val(b: Option<bool>) -> Value {
    match b {
        Some(true) => Value::Integer(1),
        Some(false) => Value::Integer(0),
        None => Value::Null,
    }
}

fn cmp_op(op: BinOp, a: &Value, b: &Value, rule: &CmpRule) -> Value {
    bool_val(cmp_truth(op, a, b, rule))
}

/// A comparison's answer: true, false or NULL (`None`).
fn cmp_truth(op: BinOp, a: &Value, b: &Value, rule: &CmpRule) -> Option<bool> {
    match op {
        BinOp::Is => return Some(rule.is(a, b)),
        BinOp::IsNot => return Some(!rule.is(a, b)),
        _ => {}
    }
    let o = rule.cmp(a, b)?;
    Some(match op {
        BinOp::Eq => o == Ordering::Equal,
        BinOp::Ne => o != Ordering::Equal,
        BinOp::Lt => o == Ordering::Less,
        BinOp::Le => o != Ordering::Greater,
        BinOp::Gt => o == Ordering::Greater,
        BinOp::Ge => o != Ordering::Less,
        _ => return None,
    })
}

fn int_of(v: &Value) -> Option<i64> {
    match types::cast(v, CastType::Integer) {
        Value::Integer(i) => Some(i),
        _ => None,
    }
}

/// Evaluates `e` against `row`.
///
/// Leaves (columns, constants, parameters) are answered here, so that the
/// operands of an operator do not each go through the full evaluator.
pub fn eval(e: &PExpr, row: &[Value], cx: &mut ExecCtx) -> Result<Value> {
    match e {
        PExpr::Lit(v) => Ok(v.clone()),
        PExpr::Col(i) => Ok(row.get(*i).cloned().unwrap_or(Value::Null)),
        PExpr::Param(i) => cx.param(*i),
        // A comparison, an operator or a plain function of one argument
        // over leaves cannot recurse: evaluated here as `eval_inner` would,
        // without the stack check and the dispatch of the full evaluator
        // (a third of a filtered scan's time).
        PExpr::Cmp(op, l, r, rule) if is_leaf(l) && is_leaf(r) => {
            Ok(bool_val(compare(*op, l, r, rule, row, cx)?))
        }
        PExpr::Binary(op, l, r)
            if !matches!(op, BinOp::And | BinOp::Or) && is_leaf(l) && is_leaf(r) =>
        {
            let a = operand(l, row, cx)?;
            let b = operand(r, row, cx)?;
            binary(*op, &a, &b)
        }
        PExpr::Func(f, args)
            if f.short_circuit().is_none()
                && !f.wants_json_marks()
                && matches!(args.as_slice(), [a] if is_leaf(a)) =>
        {
            let a = operand(&args[0], row, cx)?;
            f.call(std::slice::from_ref(&*a), cx.session)
        }
        _ => eval_node(e, row, cx),
    }
}

/// The truth of `e` as a condition (WHERE, ON): what
/// `eval(e)?.truthy()` gives, with the same errors in the same order, but
/// AND, OR, NOT and comparisons answer true, false or NULL (`None`)
/// directly instead of building a value for the node above to test
/// again, and go through neither the full evaluator's dispatch nor,
/// except AND, OR and NOT (which recurse here), its stack check: a
/// filter's own nodes, once per row.
pub fn truth(e: &PExpr, row: &[Value], cx: &mut ExecCtx) -> Result<Option<bool>> {
    match e {
        PExpr::Binary(op @ (BinOp::And | BinOp::Or), l, r) => {
            crate::depth::guarded(|| logic(*op == BinOp::And, l, r, row, cx))
        }
        PExpr::Unary(UnOp::Not, x) => crate::depth::guarded(|| Ok(truth(x, row, cx)?.map(|b| !b))),
        PExpr::Cmp(op, l, r, rule) => compare(*op, l, r, rule, row, cx),
        _ => Ok(eval(e, row, cx)?.truthy()),
    }
}

/// Comparison `l op r` under `rule`, its operands by reference where
/// they can be: true, false or NULL (`None`). One body for `eval`'s
/// shortcut, `eval_inner` and `truth`, inlined into each.
#[inline(always)]
fn compare(
    op: BinOp,
    l: &PExpr,
    r: &PExpr,
    rule: &CmpRule,
    row: &[Value],
    cx: &mut ExecCtx,
) -> Result<Option<bool>> {
    let a = operand(l, row, cx)?;
    let b = operand(r, row, cx)?;
    Ok(cmp_truth(op, &a, &b, rule))
}

/// AND (`and`) or OR of `l` and `r` in three-valued logic, `r` evaluated
/// only when the answer depends on it (as `eval_inner` does).
fn logic(and: bool, l: &PExpr, r: &PExpr, row: &[Value], cx: &mut ExecCtx) -> Result<Option<bool>> {
    // OR is AND with true and false swapped.
    let decides = !and;
    let a = truth(l, row, cx)?;
    if a == Some(decides) {
        return Ok(Some(decides));
    }
    let b = truth(r, row, cx)?;
    Ok(match (a, b) {
        (_, Some(x)) if x == decides => Some(decides),
        (Some(x), Some(y)) if x != decides && y != decides => Some(!decides),
        _ => None,
    })
}

/// A constant, a parameter or a column: evaluated without recursion.
fn is_leaf(e: &PExpr) -> bool {
    matches!(e, PExpr::Lit(_) | PExpr::Col(_) | PExpr::Param(_))
}

/// An operand by reference where it can be (a column or a constant, so a
/// text is not copied to be compared or measured), else evaluated.
fn operand<'a>(e: &'a PExpr, row: &'a [Value], cx: &mut ExecCtx) -> Result<Cow<'a, Value>> {
    Ok(match e {
        PExpr::Lit(v) => Cow::Borrowed(v),
        PExpr::Col(i) => match row.get(*i) {
            Some(v) => Cow::Borrowed(v),
            None => Cow::Owned(Value::Null),
        },
        _ => Cow::Owned(eval(e, row, cx)?),
    })
}

/// Evaluates an inner node (see [`eval`]), on a fresh stack segment when
/// this one runs low (expressions nest up to `depth::MAX_EXPR_DEPTH`).
fn eval_node(e: &PExpr, row: &[Value], cx: &mut ExecCtx) -> Result<Value> {
    crate::depth::guarded(|| eval_inner(e, row, cx))
}

fn eval_inner(e: &PExpr, row: &[Value], cx: &mut ExecCtx) -> Result<Value> {
    Ok(match e {
        PExpr::Lit(v) => v.clone(),
        PExpr::Col(i) => row.get(*i).cloned().unwrap_or(Value::Null),
        PExpr::Outer(depth, i) => cx.outer_value(*depth, *i),
        PExpr::Param(i) => cx.param(*i)?,
        PExpr::Unary(op, x) => {
            let v = eval(x, row, cx)?;
            match op {
                UnOp::Neg => types::neg(&v)?,
                UnOp::Plus => v,
                UnOp::Not => bool_val(v.truthy().map(|b| !b)),
                UnOp::BitNot => match int_of(&v) {
                    Some(i) => Value::Integer(!i),
                    None => Value::Null,
                },
                UnOp::IsTrue => bool_val(Some(v.truthy() == Some(true))),
                UnOp::IsNotTrue => bool_val(Some(v.truthy() != Some(true))),
                UnOp::IsFalse => bool_val(Some(v.truthy() == Some(false))),
                UnOp::IsNotFalse => bool_val(Some(v.truthy() != Some(false))),
            }
        }
        PExpr::Binary(op, l, r) => match op {
            BinOp::And => {
                let a = eval(l, row, cx)?.truthy();
                if a == Some(false) {
                    return Ok(Value::Integer(0));
                }
                let b = eval(r, row, cx)?.truthy();
                bool_val(match (a, b) {
                    (_, Some(false)) => Some(false),
                    (Some(true), Some(true)) => Some(true),
                    _ => None,
                })
            }
            BinOp::Or => {
                let a = eval(l, row, cx)?.truthy();
                if a == Some(true) {
                    return Ok(Value::Integer(1));
                }
                let b = eval(r, row, cx)?.truthy();
                bool_val(match (a, b) {
                    (_, Some(true)) => Some(true),
                    (Some(false), Some(false)) => Some(false),
                    _ => None,
                })
            }
            _ => {
                let a = operand(l, row, cx)?;
                let b = operand(r, row, cx)?;
                binary(*op, &a, &b)?
            }
        },
        PExpr::IsNull(x, not) => {
            let v = eval(x, row, cx)?;
            bool_val(Some(matches!(v, Value::Null) != *not))
        }
        PExpr::Cmp(op, l, r, rule) => bool_val(compare(*op, l, r, rule, row, cx)?),
        PExpr::InList(x, _, negated, _, Some(set)) => {
            let v = eval(x, row, cx)?;
            match set.contains(&v) {
                Some(found) => in_result(found, false, *negated, false),
                None => in_result(false, true, *negated, false),
            }
        }
        PExpr::InList(x, list, negated, rule, None) => {
            let v = eval(x, row, cx)?;
            let mut saw_null = matches!(v, Value::Null);
            let mut found = false;
            if !saw_null {
                for item in list {
                    let c = operand(item, row, cx)?;
                    match rule.cmp(&v, &c) {
                        Some(Ordering::Equal) => {
                            found = true;
                            break;
                        }
                        None => saw_null = true,
                        _ => {}
                    }
                }
            }
            in_result(
                found,
                saw_null && !list.is_empty(),
                *negated,
                list.is_empty(),
            )
        }
        PExpr::InSub(x, sub, negated, rule) => {
            let v = eval(x, row, cx)?;
            let rows = run_subplan(sub, row, cx, SubKind::All)?;
            let mut saw_null = matches!(v, Value::Null) && !rows.is_empty();
            let mut found = false;
            if !matches!(v, Value::Null) {
                for r in rows.iter() {
                    let c = r.first().unwrap_or(&Value::Null);
                    match rule.cmp(&v, c) {
                        Some(Ordering::Equal) => {
                            found = true;
                            break;
                        }
                        None => saw_null = true,
                        _ => {}
                    }
                }
            }
            in_result(found, saw_null, *negated, rows.is_empty())
        }
        PExpr::Exists(sub, negated) => {
            let rows = run_subplan(sub, row, cx, SubKind::First)?;
            bool_val(Some(rows.is_empty() == *negated))
        }
        PExpr::Scalar(sub) => {
            let rows = run_subplan(sub, row, cx, SubKind::First)?;
            rows.first()
                .and_then(|r| r.first().cloned())
                .unwrap_or(Value::Null)
        }
        PExpr::Between(x, lo, hi, negated, [rlo, rhi]) => {
            let v = eval(x, row, cx)?;
            let a = eval(lo, row, cx)?;
            let b = eval(hi, row, cx)?;
            let ge = cmp_truth(BinOp::Ge, &v, &a, rlo);
            let le = cmp_truth(BinOp::Le, &v, &b, rhi);
            let r = match (ge, le) {
                (Some(false), _) | (_, Some(false)) => Some(false),
                (Some(true), Some(true)) => Some(true),
                _ => None,
            };
            bool_val(if *negated { r.map(|b| !b) } else { r })
        }
        PExpr::Like {
            expr,
            pattern,
            escape,
            negated,
            glob,
        } => {
            // By reference: a column's text is not copied to be matched.
            let t = operand(expr, row, cx)?;
            let p = operand(pattern, row, cx)?;
            let esc = match escape {
                Some(e) => eval(e, row, cx)?.text().and_then(|s| s.chars().next()),
                None => None,
            };
            // Texts borrowed, not copied (numbers and blobs made texts).
            match (t.text(), p.text()) {
                (Some(t), Some(p)) => {
                    let m = if *glob {
                        types::glob(&p, &t)
                    } else {
                        types::like(&p, &t, esc)
                    };
                    bool_val(Some(m != *negated))
                }
                _ => Value::Null,
            }
        }
        PExpr::Case(operand, whens, otherwise, rules) => {
            let base = match operand {
                Some(o) => Some(eval(o, row, cx)?),
                None => None,
            };
            for (i, (w, t)) in whens.iter().enumerate() {
                let c = eval(w, row, cx)?;
                let hit = match &base {
                    Some(b) => {
                        let rule = rules.get(i).copied().unwrap_or_default();
                        rule.cmp(b, &c) == Some(Ordering::Equal)
                    }
                    None => c.truthy() == Some(true),
                };
                if hit {
                    return eval(t, row, cx);
                }
            }
            match otherwise {
                Some(e) => eval(e, row, cx)?,
                None => Value::Null,
            }
        }
        PExpr::Cast(x, t) => types::cast(&eval(x, row, cx)?, *t),
        PExpr::RowCmp(c) => rowvalue::compare(c, row, cx)?,
        PExpr::RowIn(c) => rowvalue::contains(c, row, cx)?,
        PExpr::RowField(sub, i) => rowvalue::field(sub, *i, row, cx)?,
        PExpr::Raise(action, message) => return Err(raise(*action, message.as_deref(), row, cx)),
        // A call's result is returned as it comes (not unwrapped and
        // wrapped again: a result is as wide as an error, five words).
        PExpr::Func(f, args) if f.short_circuit().is_some() => {
            return short_circuit(f, args, row, cx)
        }
        PExpr::Func(f, args) if f.wants_json_marks() => call_marked(f, args, row, cx)?.0,
        PExpr::Func(f, args) if args.len() == 1 => {
            let a = operand(&args[0], row, cx)?;
            return f.call(std::slice::from_ref(&*a), cx.session);
        }
        PExpr::Func(f, args) => {
            let vals = args
                .iter()
                .map(|a| eval(a, row, cx))
                .collect::<Result<Vec<_>>>()?;
            return f.call(&vals, cx.session);
        }
    })
}

/// A function SQLite codes in line (`coalesce`, `ifnull`, `iif`): an
/// argument is evaluated only when the value depends on it, so an error in
/// one it skips (`coalesce(1, abs(-9223372036854775808))`) is not raised.
fn short_circuit(f: &ScalarCall, args: &[PExpr], row: &[Value], cx: &mut ExecCtx) -> Result<Value> {
    match f.short_circuit() {
        Some(ShortCircuit::FirstNotNull) => {
            for a in args {
                let v = eval(a, row, cx)?;
                if !v.is_null() {
                    return Ok(v);
                }
            }
            Ok(Value::Null)
        }
        Some(ShortCircuit::Case) => {
            let mut pairs = args.chunks_exact(2);
            for p in pairs.by_ref() {
                if eval(&p[0], row, cx)?.truthy() == Some(true) {
                    return eval(&p[1], row, cx);
                }
            }
            match pairs.remainder().first() {
                Some(e) => eval(e, row, cx),
                None => Ok(Value::Null),
            }
        }
        None => {
            let vals = args
                .iter()
                .map(|a| eval(a, row, cx))
                .collect::<Result<Vec<_>>>()?;
            f.call(&vals, cx.session)
        }
    }
}

/// Calls a JSON function, telling it which arguments are results of
/// other functions that carry SQLite's JSON mark (`json_array(json('[1]'))`
/// nests the array); returns the value and its own mark.
fn call_marked(
    f: &ScalarCall,
    args: &[PExpr],
    row: &[Value],
    cx: &mut ExecCtx,
) -> Result<(Value, bool)> {
    let mut vals = Vec::with_capacity(args.len());
    let mut marks = 0u64;
    for (i, a) in args.iter().enumerate() {
        let (v, json) = eval_json_marked(a, f.json_column(i), row, cx)?;
        if json && i < 64 {
            marks |= 1 << i;
        }
        vals.push(v);
    }
    f.call_marked(&vals, marks, cx.session)
}

/// Whether the `json_each` row's `type` at (query levels out, position)
/// says its value is an array or an object (so the value carries SQLite's
/// JSON subtype).
fn json_container_at((depth, i): (usize, usize), row: &[Value], cx: &ExecCtx) -> bool {
    let is = |v: &Value| matches!(v, Value::Text(t) if &**t == "array" || &**t == "object");
    if depth == 0 {
        row.get(i).is_some_and(is)
    } else {
        is(&cx.outer_value(depth, i))
    }
}

/// Evaluates `e`, an argument of a JSON function or a JSON aggregate's
/// value, with its JSON mark: a `json_each` value column (`json_type`:
/// where its row's `type` is) whose type is array or object, or a
/// function whose result carries the mark (`json_extract` of an array or
/// object is known only as it runs).
pub(crate) fn eval_json_marked(
    e: &PExpr,
    json_type: Option<(usize, usize)>,
    row: &[Value],
    cx: &mut ExecCtx,
) -> Result<(Value, bool)> {
    match (e, json_type) {
        (_, Some(t)) => Ok((eval(e, row, cx)?, json_container_at(t, row, cx))),
        (PExpr::Func(g, inner), _) => {
            if g.short_circuit().is_some() {
                Ok((short_circuit(g, inner, row, cx)?, false))
            } else if g.wants_json_marks() {
                call_marked(g, inner, row, cx)
            } else {
                let vs = inner
                    .iter()
                    .map(|x| eval(x, row, cx))
                    .collect::<Result<Vec<_>>>()?;
                g.call_marked(&vs, 0, cx.session)
            }
        }
        _ => Ok((eval(e, row, cx)?, false)),
    }
}

pub(crate) fn in_result(found: bool, saw_null: bool, negated: bool, empty: bool) -> Value {
    if empty {
        return bool_val(Some(negated));
    }
    let r = if found {
        Some(true)
    } else if saw_null {
        None
    } else {
        Some(false)
    };
    bool_val(if negated { r.map(|b| !b) } else { r })
}

/// A binary operator on two evaluated operands (not AND/OR).
pub fn binary(op: BinOp, a: &Value, b: &Value) -> Result<Value> {
    Ok(match op {
        BinOp::Add => types::add(a, b)?,
        BinOp::Sub => types::sub(a, b)?,
        BinOp::Mul => types::mul(a, b)?,
        BinOp::Div => types::div(a, b)?,
        BinOp::Rem => types::rem(a, b)?,
        BinOp::Concat => types::concat(a, b),
        BinOp::Eq
        | BinOp::Ne
        | BinOp::Lt
        | BinOp::Le
        | BinOp::Gt
        | BinOp::Ge
        | BinOp::Is
        | BinOp::IsNot => cmp_op(op, a, b, &CmpRule::default()),
        BinOp::BitAnd | BinOp::BitOr | BinOp::Shl | BinOp::Shr => match (int_of(a), int_of(b)) {
            (Some(x), Some(y)) if !matches!(a, Value::Null) && !matches!(b, Value::Null) => {
                Value::Integer(match op {
                    BinOp::BitAnd => x & y,
                    BinOp::BitOr => x | y,
                    BinOp::Shl => shift(x, y),
                    _ => shift(x, y.checked_neg().unwrap_or(i64::MAX)),
                })
            }
            _ => Value::Null,
        },
        BinOp::And | BinOp::Or => {
            return Err(Error::sql(
                SqlErrorKind::Misuse,
                "logical operator evaluated eagerly",
            ));
        }
    })
}

fn shift(x: i64, by: i64) -> i64 {
    if by >= 64 {
        0
    } else if by >= 0 {
        x << by
    } else if by <= -64 {
        if x < 0 {
            -1
        } else {
            0
        }
    } else {
        x >> (-by)
    }
}

/// The error `RAISE(action, message)` ends its trigger program with, as
/// SQLite's OP_Halt: ROLLBACK, ABORT and FAIL fail the statement with the
/// message (its text; NULL as an empty one) and undo what the conflict
/// resolution of that name undoes; IGNORE marks `cx` so that the firing of
/// the trigger ends the row's processing quietly.
fn raise(action: Conflict, message: Option<&PExpr>, row: &[Value], cx: &mut ExecCtx) -> Error {
    let text = match message.map(|m| eval(m, row, cx)) {
        Some(Err(e)) => return e,
        Some(Ok(v)) => v.to_text().unwrap_or_default(),
        None => String::new(),
    };
    cx.on_error = match action {
        Conflict::Ignore => {
            cx.raised_ignore = true;
            return Error::sql(
                SqlErrorKind::Raised,
                "RAISE(IGNORE) outside a trigger's row",
            );
        }
        Conflict::Fail => ErrorScope::Nothing,
        Conflict::Rollback => ErrorScope::Transaction,
        _ => ErrorScope::Statement,
    };
    Error::sql(SqlErrorKind::Raised, text)
}
