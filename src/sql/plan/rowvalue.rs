//! Binding row values: where SQLite takes a vector (an operand of a
//! comparison, IN, BETWEEN or CASE) a `(a, b, ...)` or a subquery of
//! several columns is bound as a [`RowOperand`]; anywhere else a row
//! value is "row value misused".
//!
//! Both sides must have as many terms ("row value misused" otherwise; for
//! IN "sub-select returns N columns - expected M"). Each pair of terms gets
//! the [`CmpRule`] a scalar comparison of the two would get. A subquery's
//! terms have the affinities of its result columns; their collations
//! count where it is tested with IN (either side) or is a CASE operand,
//! not in a comparison, BETWEEN or a WHEN value (SQLite 3.54's rules,
//! which differ from 3.40's there).
//! When every operand has one term the scalar forms are bound exactly as
//! before. `x BETWEEN a AND b` is `x >= a AND x <= b`; `CASE x WHEN y` is
//! `CASE WHEN x = y`.
//!
//! For access paths, a row comparison implies comparisons of single terms
//! ([`implied_terms`]): `(a, b) > (x, y)` implies `a >= x`, `(a, b) =
//! (x, y)` implies `a = x` and `b = y`, so that keyset pagination reads an
//! index range. The row comparison stays as the filter.

use super::*;

/// A bound operand where a row value may stand.
pub(super) enum Operand {
    /// One term: an ordinary expression (or a one-column subquery).
    Scalar(PExpr, ExprType),
    /// Several terms.
    Row(RowOperand, Vec<ExprType>),
}

impl Operand {
    fn width(&self) -> usize {
        match self {
            Operand::Scalar(..) => 1,
            Operand::Row(_, t) => t.len(),
        }
    }

    /// Its terms as a row operand with their types.
    fn into_row(self) -> (RowOperand, Vec<ExprType>) {
        match self {
            Operand::Scalar(p, t) => (RowOperand::Items(vec![p]), vec![t]),
            Operand::Row(r, t) => (r, t),
        }
    }

    /// Its terms with the types a comparison (not IN) sees: a subquery's
    /// keep their affinity but no collation (SQLite 3.54 compares them
    /// under the other side's, or BINARY).
    fn into_compared_row(self) -> (RowOperand, Vec<ExprType>) {
        let (r, t) = self.into_row();
        let t = match r {
            RowOperand::Sub(_) => t
                .into_iter()
                .map(|x| ExprType {
                    aff: x.aff,
                    ..ExprType::default()
                })
                .collect(),
            RowOperand::Items(_) => t,
        };
        (r, t)
    }
}

/// Whether `e` may be a row value (a subquery only is one when it has
/// several columns, known once planned).
pub(super) fn may_be_row(e: &Expr) -> bool {
    matches!(e, Expr::Row(_) | Expr::Subquery(_))
}

pub(super) fn misused() -> Error {
    err(SqlErrorKind::Misuse, "row value misused")
}

fn rules(l: &[ExprType], r: &[ExprType]) -> Vec<CmpRule> {
    l.iter()
        .zip(r)
        .map(|(a, b)| CmpRule::between(a, b))
        .collect()
}

impl<'s> Planner<'s> {
    /// Binds `e` where a row value may stand.
    pub(super) fn operand(
        &mut self,
        e: &Expr,
        scope: &Scope,
        mut agg: Option<&mut AggBind>,
    ) -> Result<Operand> {
        match e {
            Expr::Row(items) => {
                let mut bound = Vec::with_capacity(items.len());
                let mut types = Vec::with_capacity(items.len());
                for x in items {
                    let (p, t) = self.bind(x, scope, agg.as_deref_mut())?;
                    bound.push(p);
                    types.push(t);
                }
                Ok(Operand::Row(RowOperand::Items(bound), types))
            }
            Expr::Subquery(q) => {
                if let Some(cx) = agg {
                    if let Some((p, t)) = self.agg_output(e, scope, cx)? {
                        return Ok(Operand::Scalar(p, t));
                    }
                }
                let (sub, types) = self.subplan(q, scope, None)?;
                if types.len() == 1 {
                    let t = ExprType {
                        aff: types[0].aff,
                        ..ExprType::default()
                    };
                    return Ok(Operand::Scalar(PExpr::Scalar(sub), t));
                }
                Ok(Operand::Row(RowOperand::Sub(sub), types))
            }
            _ => {
                let (p, t) = self.bind(e, scope, agg)?;
                Ok(Operand::Scalar(p, t))
            }
        }
    }

    /// `l op r` where either side may be a row value.
    pub(super) fn row_compare(
        &mut self,
        op: BinOp,
        l: &Expr,
        r: &Expr,
        scope: &Scope,
        mut agg: Option<&mut AggBind>,
    ) -> Result<(PExpr, ExprType)> {
        let a = self.operand(l, scope, agg.as_deref_mut())?;
        let c = self.operand(r, scope, agg)?;
        compare_operands(op, a, c)
    }

    /// `e [NOT] IN (query)` where `e` may be a row value.
    pub(super) fn row_in(
        &mut self,
        e: &Expr,
        query: &Query,
        negated: bool,
        scope: &Scope,
        agg: Option<&mut AggBind>,
    ) -> Result<(PExpr, ExprType)> {
        let left = self.operand(e, scope, agg)?;
        let n = left.width();
        let (sub, types) = self.subplan(query, scope, Some(n))?;
        Ok(match left {
            Operand::Scalar(x, tx) => {
                let t0 = types.first().copied().unwrap_or_default();
                (
                    PExpr::InSub(Box::new(x), sub, negated, CmpRule::between(&tx, &t0)),
                    ExprType::combine(&[tx]),
                )
            }
            Operand::Row(left, tl) => (
                PExpr::RowIn(Box::new(RowIn {
                    left,
                    sub,
                    negated,
                    rules: rules(&tl, &types),
                })),
                ExprType::combine(&tl),
            ),
        })
    }

    /// `e [NOT] BETWEEN low AND high` where any may be a row value.
    pub(super) fn row_between(
        &mut self,
        (e, low, high): (&Expr, &Expr, &Expr),
        negated: bool,
        scope: &Scope,
        mut agg: Option<&mut AggBind>,
    ) -> Result<(PExpr, ExprType)> {
        let x = self.operand(e, scope, agg.as_deref_mut())?;
        let lo = self.operand(low, scope, agg.as_deref_mut())?;
        let hi = self.operand(high, scope, agg)?;
        let b = Box::new;
        if let (Operand::Scalar(x, tx), Operand::Scalar(lo, tlo), Operand::Scalar(hi, thi)) =
            (&x, &lo, &hi)
        {
            let rules = [CmpRule::between(tx, tlo), CmpRule::between(tx, thi)];
            return Ok((
                PExpr::Between(b(x.clone()), b(lo.clone()), b(hi.clone()), negated, rules),
                ExprType::combine(&[*tx, *tlo, *thi]),
            ));
        }
        if x.width() != lo.width() || x.width() != hi.width() {
            return Err(misused());
        }
        let (x, tx) = x.into_row();
        let (ge, tge) = compare_operands(BinOp::Ge, Operand::Row(x.clone(), tx.clone()), lo)?;
        let (le, _) = compare_operands(BinOp::Le, Operand::Row(x, tx), hi)?;
        let both = PExpr::Binary(BinOp::And, b(ge), b(le));
        Ok(match negated {
            true => (PExpr::Unary(UnOp::Not, b(both)), tge),
            false => (both, tge),
        })
    }

    /// `CASE operand WHEN ... END` where the operand or a WHEN value may
    /// be a row value.
    pub(super) fn row_case(
        &mut self,
        (operand, whens, otherwise): (&Expr, &[(Expr, Expr)], Option<&Expr>),
        scope: &Scope,
        mut agg: Option<&mut AggBind>,
    ) -> Result<(PExpr, ExprType)> {
        let base = self.operand(operand, scope, agg.as_deref_mut())?;
        let mut tests = Vec::with_capacity(whens.len());
        for (w, _) in whens {
            tests.push(self.operand(w, scope, agg.as_deref_mut())?);
        }
        let mut results = Vec::with_capacity(whens.len());
        for (_, t) in whens {
            results.push(self.bind(t, scope, agg.as_deref_mut())?);
        }
        let (el, te) = match otherwise {
            Some(x) => {
                let (p, t) = self.bind(x, scope, agg)?;
                (Some(Box::new(p)), Some(t))
            }
            None => (None, None),
        };
        if base.width() == 1 && tests.iter().all(|t| t.width() == 1) {
            // The scalar CASE, typed as the binder types it.
            let Operand::Scalar(o, to) = base else {
                return Err(misused());
            };
            let mut types = vec![to];
            let mut rules = Vec::with_capacity(tests.len());
            let mut ws = Vec::with_capacity(tests.len());
            for (t, (r, tr)) in tests.into_iter().zip(results) {
                let Operand::Scalar(pw, tw) = t else {
                    return Err(misused());
                };
                rules.push(CmpRule::between(&to, &tw));
                types.push(tw);
                types.push(tr);
                ws.push((pw, r));
            }
            types.extend(te);
            let ty = ExprType::combine(&types);
            return Ok((PExpr::Case(Some(Box::new(o)), ws, el, rules), ty));
        }
        let mut types: Vec<ExprType> = results.iter().map(|(_, t)| *t).collect();
        types.extend(te);
        let results = results.into_iter().map(|(p, _)| p);
        let (base, tb) = base.into_row();
        let mut ws = Vec::with_capacity(tests.len());
        for (t, r) in tests.into_iter().zip(results) {
            if t.width() != tb.len() {
                return Err(misused());
            }
            let base = Operand::Row(base.clone(), tb.clone());
            let (cond, _) = compare_typed(BinOp::Eq, base, t, true)?;
            ws.push((cond, r));
        }
        Ok((
            PExpr::Case(None, ws, el, Vec::new()),
            ExprType::combine(&types),
        ))
    }

    /// Term `index` of the `of` columns of `query`'s first row; the
    /// query is planned once for all its terms.
    pub(super) fn row_field(
        &mut self,
        query: &Arc<Query>,
        index: usize,
        of: usize,
        scope: &Scope,
    ) -> Result<(PExpr, ExprType)> {
        let known = self
            .row_fields
            .iter()
            .find(|(q, ..)| Arc::ptr_eq(q, query))
            .map(|(_, s, t)| (s.clone(), t.clone()));
        let (sub, types) = match known {
            Some(k) => k,
            None => {
                let (s, t) = self.subplan(query, scope, None)?;
                self.row_fields.push((query.clone(), s.clone(), t.clone()));
                (s, t)
            }
        };
        if types.len() != of {
            return Err(err(
                SqlErrorKind::Misuse,
                format!("{of} columns assigned {} values", types.len()),
            ));
        }
        let aff = types.get(index).and_then(|t| t.aff);
        Ok((
            PExpr::RowField(sub, index),
            ExprType {
                aff,
                ..ExprType::default()
            },
        ))
    }
}

/// `a op c` over two bound operands (scalar when both have one term).
fn compare_operands(op: BinOp, a: Operand, c: Operand) -> Result<(PExpr, ExprType)> {
    compare_typed(op, a, c, false)
}

/// [`compare_operands`]; with `case_operand`, `a` is a CASE operand, whose
/// subquery's terms keep their collations (SQLite 3.54 reads them from the
/// subquery there, unlike in a comparison).
fn compare_typed(
    op: BinOp,
    a: Operand,
    c: Operand,
    case_operand: bool,
) -> Result<(PExpr, ExprType)> {
    if a.width() != c.width() {
        return Err(misused());
    }
    if let (Operand::Scalar(a, ta), Operand::Scalar(c, tc)) = (&a, &c) {
        return Ok((
            PExpr::Cmp(
                op,
                Box::new(a.clone()),
                Box::new(c.clone()),
                CmpRule::between(ta, tc),
            ),
            ExprType::combine(&[*ta, *tc]),
        ));
    }
    let (left, tl) = match case_operand {
        true => a.into_row(),
        false => a.into_compared_row(),
    };
    let (right, tr) = c.into_compared_row();
    let mut all = tl.clone();
    all.extend(tr.iter().copied());
    Ok((
        PExpr::RowCmp(Box::new(RowCmp {
            op,
            left,
            right,
            rules: rules(&tl, &tr),
        })),
        ExprType::combine(&all),
    ))
}

/// The comparisons of single terms that the row comparisons among
/// `conds` imply (see the module's comment), for choosing access paths.
pub(super) fn implied_terms(conds: &[&PExpr]) -> Vec<PExpr> {
    let mut out = Vec::new();
    for c in conds {
        let PExpr::RowCmp(rc) = c else { continue };
        let (RowOperand::Items(l), RowOperand::Items(r)) = (&rc.left, &rc.right) else {
            continue;
        };
        let term = |op: BinOp, i: usize| {
            PExpr::Cmp(
                op,
                Box::new(l[i].clone()),
                Box::new(r[i].clone()),
                rc.rules[i],
            )
        };
        match rc.op {
            BinOp::Eq => out.extend((0..rc.rules.len()).map(|i| term(BinOp::Eq, i))),
            BinOp::Lt | BinOp::Le if !rc.rules.is_empty() => out.push(term(BinOp::Le, 0)),
            BinOp::Gt | BinOp::Ge if !rc.rules.is_empty() => out.push(term(BinOp::Ge, 0)),
            _ => {}
        }
    }
    out
}
