//! Joining a FROM clause's sources: left-deep nested loops, each source's
//! access path and row-level security, and where each WHERE and ON term
//! is applied. Shared by SELECT and UPDATE ... FROM.
//!
//! Invariants: a source's row policies filter its rows before anything
//! else sees them; a WHERE term is applied as soon as its columns are
//! there, but never before the last RIGHT or FULL join (that join keeps
//! the right rows no earlier row matched, so an earlier filter would turn
//! a removed row into an unmatched one) — except a term of a RIGHT join's
//! right table alone, which every row after it holds; an ON term is
//! tested on the row of its source and those before it only.

use super::*;

impl Planner<'_> {
    /// The rows of `sources` joined (left-deep nested loops) with `filter`
    /// (WHERE) applied: each source's access path, its row-level security,
    /// the WHERE terms pushed down where they may be (see the RIGHT/FULL
    /// rules below). Shared by SELECT and UPDATE ... FROM.
    pub(super) fn join_sources(
        &mut self,
        sources: &mut [Source],
        filter: Option<&Expr>,
        scope: &Scope,
    ) -> Result<Plan> {
        // Conjuncts: WHERE plus ON of inner joins, bound over the full scope.
        let mut where_parts = Vec::new();
        if let Some(f) = filter {
            split_and(f.clone(), &mut where_parts);
        }
        let mut pending: Vec<(PExpr, bool)> = Vec::new(); // (expr, used)
        for w in &where_parts {
            pending.push((self.expr(w, scope)?, false));
        }
        let mut plan: Option<Plan> = None;
        let mut width = 0usize;
        let n_sources = sources.len();
        // A RIGHT or FULL join keeps right rows that no row of the sources
        // before it matches: a WHERE term must not remove a row of those
        // sources before that join is made (the row would vanish from the
        // match, not from the result), so WHERE terms wait until the last
        // RIGHT or FULL join.
        let last_rf = sources
            .iter()
            .rposition(|s| matches!(s.kind, JoinKind::Right | JoinKind::Full));
        for (si, src) in sources.iter_mut().enumerate() {
            let start = width;
            let end = start + src.cols.len();
            let mut on: Vec<PExpr> = src
                .on
                .iter()
                .map(|e| self.expr(e, scope))
                .collect::<Result<_>>()?;
            for (lefts, right) in &src.using_coalesce {
                on.push(self.using_coalesce(lefts, right, scope)?);
            }
            // The row an ON term is tested on holds only this source and
            // those before it. An inner join's term naming a table to its
            // right is a WHERE term, as in SQLite, unless a RIGHT or FULL
            // join follows (it would then filter rows that join keeps);
            // an outer join's is an error.
            let (later, here): (Vec<PExpr>, Vec<PExpr>) = on
                .into_iter()
                .partition(|e| max_col(e).is_some_and(|m| m >= end));
            on = here;
            if !later.is_empty() {
                if src.kind != JoinKind::Inner || last_rf.is_some_and(|k| si < k) {
                    return Err(err(
                        SqlErrorKind::Misuse,
                        "ON clause references tables to its right",
                    ));
                }
                pending.extend(later.into_iter().map(|e| (e, false)));
            }
            let where_here = last_rf.is_none_or(|k| si >= k);
            // WHERE terms of this source alone may filter it before the
            // join: it is not NULL-extended (inner, or the preserved side
            // of a RIGHT join) and no later RIGHT or FULL join keeps rows
            // it would have matched.
            let push_down = match src.kind {
                JoinKind::Inner => last_rf.is_none_or(|k| si > k),
                JoinKind::Right => last_rf == Some(si),
                JoinKind::Left | JoinKind::Full => false,
            };
            // Conditions usable to pick the access path of this source.
            // A RIGHT or FULL join's right side is read once, without a
            // left row: its access path reads no left column, and its ON
            // terms never narrow it (its unmatched rows are kept).
            let mut cands: Vec<&PExpr> = Vec::new();
            if matches!(src.kind, JoinKind::Inner | JoinKind::Left) {
                cands.extend(on.iter());
            }
            // Which WHERE term each candidate after the ON terms is.
            let first_where = cands.len();
            let mut where_terms = Vec::new();
            if push_down {
                for (i, (e, used)) in pending.iter().enumerate() {
                    if !used {
                        cands.push(e);
                        where_terms.push(i);
                    }
                }
            }
            if matches!(src.kind, JoinKind::Right | JoinKind::Full) {
                cands.retain(|e| min_col(e).is_none_or(|m| m >= start));
            }
            let mut served = Vec::new();
            let node = match (&src.table, src.plan.take()) {
                (Some(t), _) => {
                    let (access, serving) =
                        choose_access_serving(t, start, &cands, src.hint, true)?;
                    // A WHERE term the access path makes true of every row
                    // it reads is not tested again (as SQLite omits a term
                    // its loop codes): only on an inner join's source,
                    // where the term would filter right above the scan,
                    // and never one holding a subquery.
                    if src.kind == JoinKind::Inner {
                        served = serving
                            .into_iter()
                            .filter_map(|c| c.checked_sub(first_where))
                            .filter_map(|w| where_terms.get(w).copied())
                            .filter(|&p| pending.get(p).is_some_and(|(e, _)| !has_subquery(e)))
                            .collect();
                    }
                    Arc::new(Node::Scan {
                        table: t.clone(),
                        access,
                        reverse: false,
                    })
                }
                (None, Some(p)) => p,
                (None, None) => return Err(err(SqlErrorKind::Misuse, "empty source")),
            };
            // Row-level security first, right on the source's rows.
            let mut node = node;
            for p in std::mem::take(&mut src.policy) {
                node = Arc::new(Node::Filter(node, Arc::new(p)));
            }
            for p in served {
                if let Some((_, used)) = pending.get_mut(p) {
                    *used = true;
                }
            }
            // Single-source filters go below the join, re-based to 0.
            let mut own = Vec::new();
            if push_down {
                for (e, used) in pending.iter_mut() {
                    if !*used
                        && min_col(e).is_some_and(|m| m >= start)
                        && max_col(e).is_some_and(|m| m < end)
                        && !has_subquery(e)
                    {
                        own.push(shift_cols(e, start));
                        *used = true;
                    }
                }
            }
            for f in own {
                node = Arc::new(Node::Filter(node, Arc::new(f)));
            }
            plan = Some(match plan {
                None => {
                    let mut n = node;
                    for o in on {
                        n = Arc::new(Node::Filter(n, Arc::new(o)));
                    }
                    n
                }
                Some(left) => {
                    let mut on_expr: Option<PExpr> = None;
                    for o in on {
                        on_expr = Some(match on_expr {
                            None => o,
                            Some(prev) => PExpr::Binary(BinOp::And, Box::new(prev), Box::new(o)),
                        });
                    }
                    Arc::new(Node::Join {
                        left,
                        right: node,
                        kind: src.kind,
                        on: on_expr,
                        left_width: start,
                        right_width: end - start,
                    })
                }
            });
            width = end;
            // Conjuncts now fully available apply right here.
            // Conjuncts with correlated subqueries wait for the full row.
            let last = si + 1 == n_sources;
            let mut p = plan
                .take()
                .ok_or_else(|| err(SqlErrorKind::Misuse, "no plan"))?;
            for (e, used) in pending.iter_mut() {
                if !*used
                    && where_here
                    && (max_col(e).is_none_or(|m| m < width) && (!has_subquery(e) || last))
                {
                    p = Arc::new(Node::Filter(p, Arc::new(e.clone())));
                    *used = true;
                }
            }
            plan = Some(p);
        }
        let mut plan = plan.unwrap_or_else(|| Arc::new(Node::Unit));
        for (e, used) in pending {
            if !used {
                plan = Arc::new(Node::Filter(plan, Arc::new(e)));
            }
        }
        Ok(plan)
    }

    /// `coalesce(lefts) = right`: a USING term over several left copies
    /// (see `query::using_left`); the coalesce has its first argument's
    /// affinity and collation, as SQLite's AFF_DEFER coalesce.
    fn using_coalesce(&mut self, lefts: &[Expr], right: &Expr, scope: &Scope) -> Result<PExpr> {
        let mut args = Vec::with_capacity(lefts.len());
        let mut first: Option<ExprType> = None;
        for l in lefts {
            let (p, t) = self.bind(l, scope, None)?;
            first.get_or_insert(t);
            args.push(p);
        }
        let tl = first.unwrap_or_default();
        let (r, tr) = self.bind(right, scope, None)?;
        let call = ScalarCall::resolve("coalesce", args.len());
        Ok(PExpr::Cmp(
            BinOp::Eq,
            Box::new(PExpr::Func(call, args)),
            Box::new(r),
            CmpRule::between(&tl, &tr),
        ))
    }
}
