//! Binding expressions: names to columns, functions and operators to their
//! typed forms (affinity, collation), aggregates to their outputs,
//! subqueries to subplans.

use super::rowvalue::{self, may_be_row};
use super::*;

impl<'s> Planner<'s> {
    /// Binds an expression evaluated over an aggregate's output row: group
    /// keys and aggregate calls read their output columns.
    pub(super) fn post_agg(&mut self, e: &Expr, scope: &Scope, cx: &mut AggBind) -> Result<PExpr> {
        Ok(self.bind(e, scope, Some(cx))?.0)
    }

    /// Binds an expression in `scope`.
    pub(super) fn expr(&mut self, e: &Expr, scope: &Scope) -> Result<PExpr> {
        Ok(self.bind(e, scope, None)?.0)
    }

    /// Binds an expression in `scope` and types it by SQLite's rules (see
    /// [`ExprType`]); comparisons get their [`CmpRule`] here. With `agg`,
    /// the expression is evaluated over an aggregate's output row: a group
    /// key or an aggregate call reads its output column, and bare columns
    /// read the group's representative row, which sits at the input's
    /// positions. On a fresh stack segment when this one runs low.
    pub(super) fn bind(
        &mut self,
        e: &Expr,
        scope: &Scope,
        agg: Option<&mut AggBind>,
    ) -> Result<(PExpr, ExprType)> {
        depth::guarded(|| self.bind_node(e, scope, agg))
    }

    fn bind_node(
        &mut self,
        e: &Expr,
        scope: &Scope,
        mut agg: Option<&mut AggBind>,
    ) -> Result<(PExpr, ExprType)> {
        let b = |x: PExpr| Box::new(x);
        if let Some(cx) = agg.as_deref_mut() {
            if let Some(found) = self.agg_output(e, scope, cx)? {
                return Ok(found);
            }
        }
        macro_rules! rec {
            ($x:expr) => {
                self.bind($x, scope, agg.as_deref_mut())?
            };
        }
        Ok(match e {
            Expr::Literal(v) => (PExpr::Lit(v.clone()), ExprType::default()),
            // Always the function (a keyword, as in PostgreSQL), never a
            // column: a column cannot change what a policy or view means.
            Expr::Column { table: None, name } if is_current_user(name) => (
                PExpr::Lit(Value::Text(self.user_named(name))),
                ExprType::default(),
            ),
            Expr::Function {
                name,
                args,
                filter: None,
                ..
            } if args.is_empty() && is_current_user(name) => (
                PExpr::Lit(Value::Text(self.user_named(name))),
                ExprType::default(),
            ),
            Expr::Column { table, name } => {
                let r = scope.resolve(table.as_deref(), name)?;
                if let (Some((o, col)), true) = (r.origin, self.record) {
                    if let Some(u) = self.uses.get_mut(o) {
                        u.columns.insert(col.to_lowercase());
                    }
                }
                let t = ExprType::column(r.affinity, r.collation);
                let at = |index: usize| {
                    if r.depth == 0 {
                        PExpr::Col(index)
                    } else {
                        PExpr::Outer(r.depth, index)
                    }
                };
                if r.coalesce.is_empty() {
                    // The rowid aliases: _rowid_ and oid name the rowid column.
                    (at(r.index), t)
                } else {
                    // A FULL join's USING column (see `scope::using_match`).
                    let mut args = vec![at(r.index)];
                    for (i, origin) in &r.coalesce {
                        if let (Some((o, col)), true) = (origin, self.record) {
                            if let Some(u) = self.uses.get_mut(*o) {
                                u.columns.insert(col.to_lowercase());
                            }
                        }
                        args.push(at(*i));
                    }
                    let call = ScalarCall::resolve("coalesce", args.len());
                    (PExpr::Func(call, args), t)
                }
            }
            Expr::Param(i) => (PExpr::Param(*i), ExprType::default()),
            Expr::Collate(x, c) => {
                let (p, t) = rec!(x);
                (
                    p,
                    ExprType {
                        aff: t.aff,
                        coll: Some(*c),
                        explicit: true,
                    },
                )
            }
            Expr::Unary(op, x) => {
                let (p, t) = rec!(x);
                // Unary plus keeps the operand's collation but not its
                // affinity (`+col` is SQLite's way to drop affinity).
                let ty = if *op == UnOp::Plus {
                    ExprType { aff: None, ..t }
                } else {
                    ExprType::combine(&[t])
                };
                (PExpr::Unary(*op, b(p)), ty)
            }
            Expr::Binary(op, l, r) if is_comparison(*op) && (may_be_row(l) || may_be_row(r)) => {
                self.row_compare(*op, l, r, scope, agg)?
            }
            Expr::InSubquery {
                expr,
                query,
                negated,
            } if may_be_row(expr) => self.row_in(expr, query, *negated, scope, agg)?,
            Expr::Between {
                expr,
                low,
                high,
                negated,
            } if may_be_row(expr) || may_be_row(low) || may_be_row(high) => {
                self.row_between((expr, low, high), *negated, scope, agg)?
            }
            Expr::Case {
                operand: Some(o),
                whens,
                otherwise,
            } if may_be_row(o) || whens.iter().any(|(w, _)| may_be_row(w)) => {
                self.row_case((o, whens, otherwise.as_deref()), scope, agg)?
            }
            Expr::Row(_) => return Err(rowvalue::misused()),
            Expr::RowField { query, index, of } => self.row_field(query, *index, *of, scope)?,
            Expr::Binary(op, l, r) => {
                let (a, ta) = rec!(l);
                let (c, tc) = rec!(r);
                let ty = ExprType::combine(&[ta, tc]);
                if is_comparison(*op) {
                    (PExpr::Cmp(*op, b(a), b(c), CmpRule::between(&ta, &tc)), ty)
                } else {
                    (PExpr::Binary(*op, b(a), b(c)), ty)
                }
            }
            Expr::IsNull(x, n) => {
                let (p, t) = rec!(x);
                (PExpr::IsNull(b(p), *n), ExprType::combine(&[t]))
            }
            Expr::InList {
                expr,
                list,
                negated,
            } => {
                // A row value on the left became a VALUES subquery when
                // parsed; one in the list is misused (as in SQLite).
                if list.iter().any(|x| matches!(x, Expr::Row(_))) {
                    return Err(rowvalue::misused());
                }
                let (x, tx) = rec!(expr);
                let mut items = Vec::with_capacity(list.len());
                let mut types = vec![tx];
                for y in list {
                    let (p, t) = rec!(y);
                    items.push(p);
                    types.push(t);
                }
                // SQLite: the left operand's affinity and collation; but
                // `x IN (c)` with one constant c (not a COLLATE) is read as
                // `x = +c`, where an explicit COLLATE inside c counts.
                let rule = match (list.as_slice(), types.get(1)) {
                    ([only], Some(t))
                        if is_constant(only) && !matches!(only, Expr::Collate(..)) =>
                    {
                        let plus = ExprType { aff: None, ..*t };
                        CmpRule::between(&tx, &plus)
                    }
                    _ => CmpRule {
                        aff: tx.aff,
                        coll: tx.coll.unwrap_or_default(),
                    },
                };
                let set = crate::sql::typing::InSet::of(
                    items.iter().map(|i| match i {
                        PExpr::Lit(v) => Some(v),
                        _ => None,
                    }),
                    rule,
                )
                .map(Arc::new);
                (
                    PExpr::InList(b(x), items, *negated, rule, set),
                    ExprType::combine(&types),
                )
            }
            Expr::InSubquery {
                expr,
                query,
                negated,
            } => {
                let (x, tx) = rec!(expr);
                let (sub, types) = self.subplan(query, scope, Some(1))?;
                let t0 = types.first().copied().unwrap_or_default();
                (
                    PExpr::InSub(b(x), sub, *negated, CmpRule::between(&tx, &t0)),
                    ExprType::combine(&[tx]),
                )
            }
            Expr::Exists(q, negated) => (
                PExpr::Exists(self.subplan(q, scope, None)?.0, *negated),
                ExprType::default(),
            ),
            Expr::Subquery(q) => {
                let (sub, types) = self.subplan(q, scope, Some(1))?;
                let aff = types.first().and_then(|t| t.aff);
                (
                    PExpr::Scalar(sub),
                    ExprType {
                        aff,
                        ..ExprType::default()
                    },
                )
            }
            Expr::Between {
                expr,
                low,
                high,
                negated,
            } => {
                let (x, tx) = rec!(expr);
                let (lo, tlo) = rec!(low);
                let (hi, thi) = rec!(high);
                let rules = [CmpRule::between(&tx, &tlo), CmpRule::between(&tx, &thi)];
                (
                    PExpr::Between(b(x), b(lo), b(hi), *negated, rules),
                    ExprType::combine(&[tx, tlo, thi]),
                )
            }
            Expr::Like {
                expr,
                pattern,
                escape,
                negated,
                glob,
            } => {
                let (x, tx) = rec!(expr);
                let (p, tp) = rec!(pattern);
                let mut types = vec![tp, tx];
                let esc = match escape {
                    Some(y) => {
                        let (pe, te) = rec!(y);
                        types.push(te);
                        Some(b(pe))
                    }
                    None => None,
                };
                (
                    PExpr::Like {
                        expr: b(x),
                        pattern: b(p),
                        escape: esc,
                        negated: *negated,
                        glob: *glob,
                    },
                    // SQLite's LIKE is the function like(pattern, x, esc).
                    ExprType::combine(&types),
                )
            }
            Expr::Case {
                operand,
                whens,
                otherwise,
            } => {
                let (o, to) = match operand {
                    Some(o) => {
                        let (p, t) = rec!(o);
                        (Some(b(p)), Some(t))
                    }
                    None => (None, None),
                };
                let mut types: Vec<ExprType> = to.into_iter().collect();
                let mut ws = Vec::with_capacity(whens.len());
                let mut rules = Vec::new();
                for (w, t) in whens {
                    let (pw, tw) = rec!(w);
                    let (pt, tt) = rec!(t);
                    if let Some(to) = &to {
                        rules.push(CmpRule::between(to, &tw));
                    }
                    types.push(tw);
                    types.push(tt);
                    ws.push((pw, pt));
                }
                let el = match otherwise {
                    Some(x) => {
                        let (p, t) = rec!(x);
                        types.push(t);
                        Some(b(p))
                    }
                    None => None,
                };
                (PExpr::Case(o, ws, el, rules), ExprType::combine(&types))
            }
            Expr::Cast(x, t) => {
                let (p, tx) = rec!(x);
                (
                    PExpr::Cast(b(p), *t),
                    ExprType {
                        aff: Some(cast_affinity(*t)),
                        ..tx
                    },
                )
            }
            Expr::Window(w) => self.bind_window(w, scope, agg)?,
            Expr::Raise(action, message) => {
                // SQLite: only where a trigger's table is in scope (its
                // WHEN clause and body), checked when coded.
                if self.root.is_none() {
                    return Err(err(
                        SqlErrorKind::Misuse,
                        "RAISE() may only be used within a trigger-program",
                    ));
                }
                let m = match message {
                    Some(x) => Some(b(rec!(x).0)),
                    None => None,
                };
                (PExpr::Raise(*action, m), ExprType::default())
            }
            Expr::Function {
                name,
                args,
                star,
                filter,
                ..
            } => {
                if is_window_only(name) {
                    return Err(err(
                        SqlErrorKind::Misuse,
                        format!("misuse of window function {name}()"),
                    ));
                }
                if agg_kind(name, args.len(), *star).is_some()
                    && !(args.len() > 1 && is_scalar_minmax(name))
                {
                    return Err(err(
                        SqlErrorKind::Misuse,
                        format!("misuse of aggregate function {name}()"),
                    ));
                }
                // An unknown function or a wrong argument count fails the
                // statement when it is prepared, as in SQLite, not only
                // when a row reaches the call (`WHERE 0` reaches none).
                crate::sql::functions::check_scalar(name, args.len())?;
                if filter.is_some() {
                    return Err(err(
                        SqlErrorKind::Misuse,
                        format!("FILTER may not be used with non-aggregate {name}()"),
                    ));
                }
                let mut a = Vec::with_capacity(args.len());
                let mut types = Vec::with_capacity(args.len());
                for x in args {
                    let (p, t) = rec!(x);
                    a.push(p);
                    types.push(t);
                }
                let coll = function_collation(&types);
                let call = ScalarCall::resolve_args_collated(name, args, coll)
                    .with_json_columns(json_columns(args, scope));
                (PExpr::Func(call, a), ExprType::combine(&types))
            }
        })
    }

    /// Over an aggregate's output: `e` as a group key or an aggregate call
    /// (its output column and type), or `None` for anything else.
    pub(super) fn agg_output(
        &mut self,
        e: &Expr,
        scope: &Scope,
        cx: &mut AggBind,
    ) -> Result<Option<(PExpr, ExprType)>> {
        let ng = cx.group_exprs.len();
        if let Some(i) = cx.group_exprs.iter().position(|g| g == e) {
            return Ok(Some((PExpr::Col(cx.width + i), cx.group_types[i])));
        }
        let Expr::Function {
            name,
            args,
            distinct,
            star,
            filter,
        } = e
        else {
            return Ok(None);
        };
        let Some(kind) = agg_kind(name, args.len(), *star) else {
            return Ok(None);
        };
        if args.len() > 1 && is_scalar_minmax(name) {
            return Ok(None);
        }
        if let Some(j) = cx.agg_exprs.iter().position(|a| a == e) {
            return Ok(Some((PExpr::Col(cx.width + ng + j), cx.agg_types[j])));
        }
        if let Some(inner) = filter.as_deref().and_then(first_aggregate) {
            return Err(err(
                SqlErrorKind::Misuse,
                format!("misuse of aggregate function {inner}()"),
            ));
        }
        for a in args {
            if has_aggregate(a) {
                return Err(err(
                    SqlErrorKind::Misuse,
                    format!("misuse of aggregate function {name}()"),
                ));
            }
        }
        let mut bound = Vec::with_capacity(args.len());
        let mut types = Vec::with_capacity(args.len());
        // No window call inside an aggregate's arguments.
        let window = self.window.take();
        for a in args {
            match self.bind(a, scope, None) {
                Ok((p, t)) => {
                    bound.push(p);
                    types.push(t);
                }
                Err(e) => {
                    self.window = window;
                    return Err(e);
                }
            }
        }
        // FILTER (WHERE ...) reads the input row, as the arguments do.
        let filter = filter.as_deref().map(|f| self.bind(f, scope, None));
        self.window = window;
        let filter = match filter {
            Some(f) => Some(f?.0),
            None => None,
        };
        let json_type = match kind {
            AggKind::JsonGroupArray { .. } | AggKind::JsonGroupObject { .. } => {
                args.last().and_then(|a| json_type_of(a, scope))
            }
            _ => None,
        };
        cx.aggs.push(AggCall {
            kind: kind.marking_json(args),
            json_type,
            distinct: *distinct,
            args: bound,
            coll: function_collation(&types),
            filter,
        });
        cx.agg_exprs.push(e.clone());
        let t = ExprType::combine(&types);
        cx.agg_types.push(t);
        Ok(Some((PExpr::Col(cx.width + ng + cx.aggs.len() - 1), t)))
    }

    pub(super) fn subplan(
        &mut self,
        q: &Query,
        scope: &Scope,
        want_cols: Option<usize>,
    ) -> Result<(Arc<SubPlan>, Vec<ExprType>)> {
        let mut child = Scope::new(Vec::new(), Some(scope));
        child.transparent = true;
        // The subquery's own FROM scope hangs below `child` through parent.
        let planned = self.query_in(q, Some(&child))?;
        if let Some(n) = want_cols {
            if planned.columns.len() != n {
                return Err(err(
                    SqlErrorKind::Misuse,
                    format!(
                        "sub-select returns {} columns - expected {n}",
                        planned.columns.len()
                    ),
                ));
            }
        }
        let correlated = child.correlated.get();
        let id = SUB_IDS.fetch_add(1, Ordering::Relaxed);
        if !self.binding_policies.is_empty() {
            self.masks.policy_subqueries.insert(id);
        }
        Ok((
            Arc::new(SubPlan {
                id,
                plan: planned.plan,
                correlated,
            }),
            planned.in_types,
        ))
    }
}

/// State while binding the expressions over an aggregate's output.
pub(super) struct AggBind {
    /// The GROUP BY terms (an equal expression reads the key), compared
    /// structurally: not as renderings of each subtree, which would cost
    /// the square of the depth and recurse unguarded.
    pub(super) group_exprs: Vec<Expr>,
    pub(super) group_types: Vec<ExprType>,
    pub(super) aggs: Vec<AggCall>,
    /// The aggregate calls bound so far (an equal call is computed once).
    pub(super) agg_exprs: Vec<Expr>,
    pub(super) agg_types: Vec<ExprType>,
    pub(super) width: usize,
}

pub(super) fn shift_cols(e: &PExpr, by: usize) -> PExpr {
    map_cols(e.clone(), &|i| i - by)
}

/// Rewrites every depth-0 column index with `f`.
pub(super) fn map_cols(e: PExpr, f: &dyn Fn(usize) -> usize) -> PExpr {
    depth::guarded(|| map_cols_node(e, f))
}

fn map_cols_node(e: PExpr, f: &dyn Fn(usize) -> usize) -> PExpr {
    let m = |x: Box<PExpr>| Box::new(map_cols(*x, f));
    match e {
        PExpr::Col(i) => PExpr::Col(f(i)),
        PExpr::Unary(o, x) => PExpr::Unary(o, m(x)),
        PExpr::Binary(o, a, b) => PExpr::Binary(o, m(a), m(b)),
        PExpr::Cmp(o, a, b, r) => PExpr::Cmp(o, m(a), m(b), r),
        PExpr::IsNull(x, n) => PExpr::IsNull(m(x), n),
        PExpr::InList(x, l, n, r, s) => PExpr::InList(
            m(x),
            l.into_iter().map(|y| map_cols(y, f)).collect(),
            n,
            r,
            s,
        ),
        PExpr::InSub(x, s, n, r) => PExpr::InSub(m(x), s, n, r),
        PExpr::Between(a, b, c, n, r) => PExpr::Between(m(a), m(b), m(c), n, r),
        PExpr::Like {
            expr,
            pattern,
            escape,
            negated,
            glob,
        } => PExpr::Like {
            expr: m(expr),
            pattern: m(pattern),
            escape: escape.map(m),
            negated,
            glob,
        },
        PExpr::Case(o, w, e, r) => PExpr::Case(
            o.map(m),
            w.into_iter()
                .map(|(a, b)| (map_cols(a, f), map_cols(b, f)))
                .collect(),
            e.map(m),
            r,
        ),
        PExpr::Cast(x, t) => PExpr::Cast(m(x), t),
        PExpr::Raise(a, x) => PExpr::Raise(a, x.map(m)),
        PExpr::Func(n, a) => PExpr::Func(n, a.into_iter().map(|y| map_cols(y, f)).collect()),
        PExpr::RowCmp(c) => {
            let RowCmp {
                op,
                left,
                right,
                rules,
            } = *c;
            PExpr::RowCmp(Box::new(RowCmp {
                op,
                left: left.map(&|y| map_cols(y, f)),
                right: right.map(&|y| map_cols(y, f)),
                rules,
            }))
        }
        PExpr::RowIn(c) => {
            let RowIn {
                left,
                sub,
                negated,
                rules,
            } = *c;
            PExpr::RowIn(Box::new(RowIn {
                left: left.map(&|y| map_cols(y, f)),
                sub,
                negated,
                rules,
            }))
        }
        other => other,
    }
}

/// Whether `e` can be evaluated before source starting at `start` is read:
/// it reads only earlier columns, outer rows, parameters and constants.
pub(super) fn available_before(e: &PExpr, start: usize) -> bool {
    max_col(e).is_none_or(|m| m < start) && !has_subquery(e)
}

/// Where the `type` of `e` is, when `e` names a `json_each` / `json_tree`
/// value column (see [`ScopeCol::json_value`]): (query levels out, row
/// position).
fn json_type_of(e: &Expr, scope: &Scope) -> Option<(usize, usize)> {
    let Expr::Column { table, name } = e else {
        return None;
    };
    let r = scope.resolve(table.as_deref(), name).ok()?;
    r.json_type.map(|t| (r.depth, t))
}

/// (argument, where its `type` is) for each argument of a call that names
/// a `json_each` value column.
fn json_columns(args: &[Expr], scope: &Scope) -> Vec<(usize, (usize, usize))> {
    args.iter()
        .enumerate()
        .filter_map(|(i, a)| json_type_of(a, scope).map(|t| (i, t)))
        .collect()
}
