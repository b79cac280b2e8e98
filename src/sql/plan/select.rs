//! Planning one SELECT: filters and access paths, grouping and HAVING,
//! aggregates, ordering, DISTINCT, LIMIT.

use super::*;

impl<'s> Planner<'s> {
    /// Plans one SELECT (its own window calls only: an enclosing
    /// SELECT's window context does not reach into it).
    pub(super) fn select(
        &mut self,
        sel: &Select,
        order_by: &[OrderItem],
        limit: &Option<Expr>,
        offset: &Option<Expr>,
        parent: Option<&Scope>,
    ) -> Result<Planned> {
        let outer = self.window.take();
        let r = self.select_core(sel, order_by, limit, offset, parent);
        self.window = outer;
        r
    }

    fn select_core(
        &mut self,
        sel: &Select,
        order_by: &[OrderItem],
        limit: &Option<Expr>,
        offset: &Option<Expr>,
        parent: Option<&Scope>,
    ) -> Result<Planned> {
        let mut sources = Vec::new();
        if let Some(from) = &sel.from {
            self.flatten_from(from, parent, &mut sources)?;
        }
        let all_cols: Vec<ScopeCol> = sources.iter().flat_map(|s| s.cols.clone()).collect();
        let scope = Scope::new(all_cols.clone(), parent);
        let aliased = alias::with_aliases(sel, &all_cols);
        let sel = aliased.as_ref().unwrap_or(sel);

        let n_sources = sources.len();
        let mut plan = self.join_sources(&mut sources, sel.filter.as_ref(), &scope)?;

        // Aggregation?
        let aggregate = !sel.group_by.is_empty()
            || sel.having.is_some()
            || sel
                .items
                .iter()
                .any(|it| matches!(it, SelectItem::Expr { expr, .. } if has_aggregate(expr)))
            || order_by.iter().any(|o| has_aggregate(&o.expr));

        // Expand result items.
        let star_name = StarNames::new(&sources);
        let mut items: Vec<(Expr, String)> = Vec::new();
        for it in &sel.items {
            match it {
                SelectItem::Wildcard => {
                    if all_cols.is_empty() {
                        return Err(err(SqlErrorKind::Misuse, "no tables specified"));
                    }
                    for (i, c) in all_cols.iter().enumerate().filter(|(_, c)| !c.hidden) {
                        items.push((star_name.column(i, c), c.name.clone()));
                    }
                }
                SelectItem::QualifiedWildcard(t) => {
                    let mut any = false;
                    for c in all_cols.iter().filter(|c| {
                        (!c.hidden || c.using_copy.is_some())
                            && c.table
                                .as_deref()
                                .is_some_and(|x| x.eq_ignore_ascii_case(t))
                    }) {
                        any = true;
                        items.push((
                            Expr::Column {
                                table: c.table.clone(),
                                name: c.name.clone(),
                            },
                            c.name.clone(),
                        ));
                    }
                    if !any {
                        return Err(err(
                            SqlErrorKind::UnknownTable,
                            format!("no such table: {t}"),
                        ));
                    }
                }
                SelectItem::Expr { expr, alias, text } => {
                    let name = alias
                        .clone()
                        .or_else(|| text.clone())
                        .unwrap_or_else(|| expr_name(expr));
                    items.push((expr.clone(), name));
                }
            }
        }
        let columns: Vec<String> = items.iter().map(|(_, n)| n.clone()).collect();
        let width_out = items.len();
        // SQLite's columnType: a result that is a column (not COLLATE, not
        // an operator on one) has that column's declared type.
        let decltypes = items
            .iter()
            .map(|(e, _)| match e {
                Expr::Column { table, name } => scope
                    .resolve(table.as_deref(), name)
                    .ok()
                    .and_then(|r| r.decl),
                _ => None,
            })
            .collect();

        // ORDER BY terms: by position, by output alias, or an expression;
        // a COLLATE on a position or alias applies to that result column.
        let mut order_exprs: Vec<OrderTerm> = Vec::new();
        for o in order_by {
            let nulls_first = o.nulls_first.unwrap_or(!o.desc);
            let (bare, explicit) = strip_collate(&o.expr);
            let item = match bare {
                e if ordinal_of(e).is_some() => {
                    let n = ordinal_of(e).unwrap_or(0);
                    if n < 1 || n as usize > width_out {
                        return Err(err(
                            SqlErrorKind::Misuse,
                            format!("ORDER BY term {n} out of range - should be between 1 and {width_out}"),
                        ));
                    }
                    Some(n as usize - 1)
                }
                Expr::Column { table: None, name }
                    if all_cols.iter().all(|c| !c.name.eq_ignore_ascii_case(name)) =>
                {
                    items.iter().position(|(_, n)| n.eq_ignore_ascii_case(name))
                }
                _ => None,
            };
            let expr = match (item, explicit) {
                (Some(i), Some(c)) => Expr::Collate(Box::new(items[i].0.clone()), c),
                (Some(i), None) => items[i].0.clone(),
                (None, _) => o.expr.clone(),
            };
            // Which result column the term sorts by (DISTINCT needs one).
            let item = item.or_else(|| {
                let dbg = format!("{:?}", bare);
                items.iter().position(|(ie, _)| format!("{ie:?}") == dbg)
            });
            order_exprs.push(OrderTerm {
                expr,
                desc: o.desc,
                nulls_first,
                item,
            });
        }

        // Window calls: in the result columns and ORDER BY only.
        let windowed = items.iter().any(|(e, _)| has_window(e))
            || order_exprs.iter().any(|o| has_window(&o.expr));
        let windows = WindowBind::new(&sel.windows)?;
        if windowed && aggregate && !aggregated_without_order(sel) {
            // SQLite's disallowAggregatesInOrderByCb.
            let mut name = None;
            for o in order_by {
                walk(&o.expr, &mut |x| {
                    if let Expr::Function {
                        name: n,
                        args,
                        star,
                        ..
                    } = x
                    {
                        if name.is_none() && agg_kind(n, args.len(), *star).is_some() {
                            name = Some(n.clone());
                        }
                    }
                });
            }
            return Err(err(
                SqlErrorKind::Misuse,
                format!("misuse of aggregate: {}()", name.unwrap_or_default()),
            ));
        }
        let (mut proj, types, having, keys) = if aggregate {
            let sel = self.having_to_where(&mut plan, sel, &items, &scope, &all_cols)?;
            self.window = windowed.then_some(windows);
            self.plan_aggregate(&mut plan, &sel, &items, &order_exprs, &scope, &all_cols)?
        } else {
            self.window = windowed.then_some(windows);
            let mut proj = Vec::with_capacity(items.len());
            let mut types = Vec::with_capacity(items.len());
            for (e, _) in &items {
                let (p, t) = self.bind(e, &scope, None)?;
                proj.push(p);
                types.push(t);
            }
            let mut keys = Vec::with_capacity(order_exprs.len());
            for o in &order_exprs {
                let (p, t) = self.bind(&o.expr, &scope, None)?;
                keys.push(o.key(p, t));
            }
            (proj, types, None, keys)
        };
        if let Some(h) = having {
            plan = Arc::new(Node::Filter(plan, Arc::new(h)));
        }
        let mut keys = keys;
        if let Some(cx) = self.window.take() {
            let width = if aggregate {
                input_width(&plan)
            } else {
                all_cols.len()
            };
            let mut exprs: Vec<&mut PExpr> = proj.iter_mut().collect();
            exprs.extend(keys.iter_mut().map(|k| &mut k.expr));
            self.add_window(&mut plan, width, cx, &mut exprs);
        }
        // ORDER BY satisfied by the rowid or an index: read in that order.
        if !aggregate && !windowed && !sel.distinct && !keys.is_empty() && n_sources == 1 {
            let table = sources
                .first()
                .and_then(|src| src.table.clone().map(|t| (t, src.hint)));
            if let Some((t, hint)) = table {
                if let Some(p) = ordered_scan(&plan, &t, &keys, hint) {
                    plan = p;
                    keys.clear();
                }
            }
        }
        let colls: Vec<Collation> = types.iter().map(|t| t.coll.unwrap_or_default()).collect();
        if sel.distinct {
            plan = Arc::new(Node::Project(plan, proj.into()));
            // DISTINCT over the result columns, then sort by the result
            // columns the terms name.
            plan = Arc::new(Node::Distinct(plan, colls));
            if !keys.is_empty() {
                let remapped = order_exprs
                    .iter()
                    .zip(keys)
                    .map(|(o, k)| {
                        o.item
                            .map(|p| SortKey {
                                expr: PExpr::Col(p),
                                ..k
                            })
                            .ok_or_else(|| {
                                err(
                                    SqlErrorKind::Misuse,
                                    "ORDER BY term does not match any column in the result set",
                                )
                            })
                    })
                    .collect::<Result<Vec<_>>>()?;
                plan = Arc::new(Node::Sort(plan, remapped));
            }
        } else if !keys.is_empty() {
            // Sort keys ride along as hidden output columns.
            let mut sort = Vec::with_capacity(keys.len());
            for (i, k) in keys.into_iter().enumerate() {
                proj.push(k.expr);
                sort.push(SortKey {
                    expr: PExpr::Col(width_out + i),
                    ..k
                });
            }
            plan = Arc::new(Node::Project(plan, proj.into()));
            plan = Arc::new(Node::Sort(plan, sort));
            plan = Arc::new(Node::Trim(plan, width_out));
        } else {
            plan = Arc::new(Node::Project(plan, proj.into()));
        }
        if limit.is_some() || offset.is_some() {
            let s = Scope::new(Vec::new(), parent);
            let l = limit.as_ref().map(|e| self.expr(e, &s)).transpose()?;
            let o = offset.as_ref().map(|e| self.expr(e, &s)).transpose()?;
            plan = Arc::new(Node::Limit(plan, l, o));
        }
        Ok(Planned {
            plan,
            columns,
            in_types: types.clone(),
            types,
            decltypes,
            shared_columns: Default::default(),
        })
    }

    /// SQLite's `havingToWhere`: a HAVING conjunct made only of constants
    /// and GROUP BY terms (that group under BINARY) filters the rows before
    /// grouping instead (it is the same for every row of a group). The
    /// answer is the same; what differs is which groups are computed at
    /// all, which shows when an aggregate fails (sum overflowing).
    pub(super) fn having_to_where(
        &mut self,
        plan: &mut Plan,
        sel: &Select,
        items: &[(Expr, String)],
        scope: &Scope,
        all_cols: &[ScopeCol],
    ) -> Result<Select> {
        let Some(having) = &sel.having else {
            return Ok(sel.clone());
        };
        if sel.group_by.is_empty() {
            return Ok(sel.clone());
        }
        let group = group_terms(&sel.group_by, items, all_cols)?;
        let mut binary_groups = Vec::new();
        for g in &group {
            let (_, t) = self.bind(g, scope, None)?;
            if t.coll.unwrap_or_default() == Collation::Binary {
                binary_groups.push(format!("{:?}", strip_collate(g).0));
            }
        }
        let mut conjuncts = Vec::new();
        split_and(having.clone(), &mut conjuncts);
        let mut kept: Option<Expr> = None;
        for c in conjuncts {
            let always_false = matches!(c, Expr::Literal(Value::Integer(0)));
            if !always_false && constant_or_group_by(&c, &binary_groups) {
                let bound = self.expr(&c, scope)?;
                *plan = Arc::new(Node::Filter(plan.clone(), Arc::new(bound)));
            } else {
                kept = Some(match kept {
                    None => c,
                    Some(k) => Expr::Binary(BinOp::And, Box::new(k), Box::new(c)),
                });
            }
        }
        let mut out = sel.clone();
        out.having = kept;
        Ok(out)
    }

    /// Plans the aggregation of `plan` (GROUP BY, aggregates), and binds
    /// the result items, HAVING and ORDER BY over its output: (result
    /// expressions, their types, HAVING, sort keys).
    #[allow(clippy::type_complexity)]
    pub(super) fn plan_aggregate(
        &mut self,
        plan: &mut Plan,
        sel: &Select,
        items: &[(Expr, String)],
        order: &[OrderTerm],
        scope: &Scope,
        all_cols: &[ScopeCol],
    ) -> Result<(Vec<PExpr>, Vec<ExprType>, Option<PExpr>, Vec<SortKey>)> {
        let width = all_cols.len();
        let group_exprs = group_terms(&sel.group_by, items, all_cols)?;
        let mut group = Vec::with_capacity(group_exprs.len());
        let mut group_types = Vec::with_capacity(group_exprs.len());
        for e in &group_exprs {
            let (p, t) = self.bind(e, scope, None)?;
            group.push((p, t.coll.unwrap_or_default()));
            group_types.push(t);
        }
        let mut cx = AggBind {
            group_exprs,
            group_types,
            aggs: Vec::new(),
            agg_exprs: Vec::new(),
            agg_types: Vec::new(),
            width,
        };
        let mut proj = Vec::with_capacity(items.len());
        let mut types = Vec::with_capacity(items.len());
        for (e, _) in items {
            let (p, t) = self.bind(e, scope, Some(&mut cx))?;
            proj.push(p);
            types.push(t);
        }
        // No window call in HAVING.
        let window = self.window.take();
        let having = sel
            .having
            .as_ref()
            .map(|h| self.post_agg(h, scope, &mut cx))
            .transpose();
        self.window = window;
        let having = having?;
        let mut keys = Vec::with_capacity(order.len());
        for o in order {
            let (p, t) = self.bind(&o.expr, scope, Some(&mut cx))?;
            keys.push(o.key(p, t));
        }
        *plan = Arc::new(Node::Aggregate {
            input: plan.clone(),
            width,
            group,
            aggs: cx.aggs,
        });
        Ok((proj, types, having, keys))
    }
}

/// Whether `sel` aggregates by its own clauses (GROUP BY, HAVING, an
/// aggregate in a result column), not only through its ORDER BY.
fn aggregated_without_order(sel: &Select) -> bool {
    !sel.group_by.is_empty()
        || sel.having.is_some()
        || sel
            .items
            .iter()
            .any(|it| matches!(it, SelectItem::Expr { expr, .. } if has_aggregate(expr)))
}

/// The width of the rows `plan` yields, seen through filters: an
/// aggregate's output (its input width, group keys, aggregates).
fn input_width(plan: &Plan) -> usize {
    match &**plan {
        Node::Filter(input, _) => input_width(input),
        Node::Aggregate {
            width, group, aggs, ..
        } => width + group.len() + aggs.len(),
        _ => 0,
    }
}

/// GROUP BY terms as SQLite reads them: an integer literal K names the
/// K-th result column; a bare name that is no column of the FROM sources
/// but a result column's alias names that result column; anything else is
/// an expression over the sources.
pub(super) fn group_terms(
    terms: &[Expr],
    items: &[(Expr, String)],
    all_cols: &[ScopeCol],
) -> Result<Vec<Expr>> {
    let mut out = Vec::with_capacity(terms.len());
    for (i, term) in terms.iter().enumerate() {
        let (t, explicit) = strip_collate(term);
        let e = match ordinal_of(t) {
            Some(k) => {
                let n = items.len();
                if k < 1 || k as usize > n {
                    return Err(err(
                        SqlErrorKind::Misuse,
                        format!(
                            "{} GROUP BY term out of range - should be between 1 and {n}",
                            ordinal(i + 1)
                        ),
                    ));
                }
                let e = items[k as usize - 1].0.clone();
                if has_aggregate(&e) {
                    return Err(err(
                        SqlErrorKind::Misuse,
                        "aggregate functions are not allowed in the GROUP BY clause",
                    ));
                }
                e
            }
            None => match t {
                Expr::Column { table: None, name }
                    if all_cols.iter().all(|c| !c.name.eq_ignore_ascii_case(name)) =>
                {
                    match items.iter().find(|(_, n)| n.eq_ignore_ascii_case(name)) {
                        Some((e, _)) if !has_aggregate(e) => e.clone(),
                        _ => t.clone(),
                    }
                }
                _ => term.clone(),
            },
        };
        // A COLLATE on a position or alias applies to what it names.
        let e = match explicit {
            Some(c) if !std::ptr::eq(t, term) && !matches!(e, Expr::Collate(..)) => {
                Expr::Collate(Box::new(e), c)
            }
            _ => e,
        };
        out.push(e);
    }
    Ok(out)
}

/// "1st", "2nd", "3rd", "4th", ... (SQLite's wording in errors).
pub(super) fn ordinal(n: usize) -> String {
    let suffix = match (n % 10, n % 100) {
        (1, x) if x != 11 => "st",
        (2, x) if x != 12 => "nd",
        (3, x) if x != 13 => "rd",
        _ => "th",
    };
    format!("{n}{suffix}")
}

/// How `*` names each column it expands to (SQLite's
/// selectExpander; `t.*` always qualifies): by its table, except a column of a table to
/// the left of the last RIGHT or FULL join whose name a later join's USING
/// shares: that is the unqualified name, so it shows the copy the name
/// means (see `scope::using_match`), not a NULL of an unmatched row.
struct StarNames {
    /// Per column of the FROM clause: named unqualified.
    bare: Vec<bool>,
}

impl StarNames {
    fn new(sources: &[Source]) -> StarNames {
        let last_rf = sources
            .iter()
            .rposition(|s| matches!(s.kind, JoinKind::Right | JoinKind::Full));
        let mut bare = Vec::new();
        for (si, src) in sources.iter().enumerate() {
            for c in &src.cols {
                let left_of_rf = last_rf.is_some_and(|k| si < k);
                bare.push(
                    left_of_rf
                        && sources[si + 1..].iter().any(|later| {
                            later.cols.iter().any(|l| {
                                l.using_copy.is_some() && l.name.eq_ignore_ascii_case(&c.name)
                            })
                        }),
                );
            }
        }
        StarNames { bare }
    }

    fn column(&self, i: usize, c: &ScopeCol) -> Expr {
        Expr::Column {
            table: if self.bare.get(i).copied().unwrap_or(false) {
                None
            } else {
                c.table.clone()
            },
            name: c.name.clone(),
        }
    }
}
