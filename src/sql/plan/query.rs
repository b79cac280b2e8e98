//! Planning a query: compound selects, FROM items (tables, views,
//! subqueries) and joins flattened into one scope.

use super::*;

impl<'s> Planner<'s> {
    /// Plans a top-level query.
    pub fn query(&mut self, q: &Query) -> Result<Planned> {
        let root = self.root.clone();
        self.query_in(q, root.as_deref())
    }

    /// Binds an expression that sees only the trigger row (WHEN).
    pub fn trigger_expr(&mut self, e: &Expr) -> Result<PExpr> {
        let root = self.root.clone();
        let scope = Scope::new(Vec::new(), root.as_deref());
        self.expr(e, &scope)
    }

    pub(super) fn query_in(&mut self, q: &Query, parent: Option<&Scope>) -> Result<Planned> {
        self.nest += 1;
        let r = depth::guarded(|| match &q.with {
            Some(w) => self.in_with(w, &|name| cte::refs_in_query(q, name), |p| {
                p.query_in_node(q, parent)
            }),
            None => self.query_in_node(q, parent),
        });
        self.nest -= 1;
        r
    }

    /// The sort keys of a compound's ORDER BY, over its result columns
    /// (`columns`, `types`): positions, names, or expressions of them.
    pub(super) fn compound_order(
        &mut self,
        order_by: &[OrderItem],
        columns: &[String],
        types: &[ExprType],
        parent: Option<&Scope>,
    ) -> Result<Vec<SortKey>> {
        let width = columns.len();
        // The result columns by name, each with its collation (a
        // compound's: SQLite's multiSelectCollSeq).
        let scope = Scope::new(
            columns
                .iter()
                .zip(types)
                .map(|(c, t)| ScopeCol {
                    table: None,
                    name: c.clone(),
                    hidden: false,
                    affinity: t.aff,
                    collation: t.coll,
                    origin: None,
                    using_copy: None,
                    json_value: false,
                    decl: None,
                })
                .collect(),
            parent,
        );
        let mut keys = Vec::new();
        for it in order_by {
            let (bare, explicit) = strip_collate(&it.expr);
            let (e, coll) = match ordinal_of(bare) {
                Some(n) if n >= 1 && (n as usize) <= width => {
                    let i = n as usize - 1;
                    let natural = types.get(i).and_then(|t| t.coll);
                    (PExpr::Col(i), explicit.or(natural).unwrap_or_default())
                }
                Some(n) => {
                    return Err(err(
                        SqlErrorKind::Misuse,
                        format!("ORDER BY term {n} out of range - should be between 1 and {width}"),
                    ))
                }
                None => {
                    let (e, t) = self.bind(&it.expr, &scope, None)?;
                    (e, t.coll.unwrap_or_default())
                }
            };
            keys.push(SortKey {
                expr: e,
                desc: it.desc,
                nulls_first: it.nulls_first.unwrap_or(!it.desc),
                coll,
            });
        }
        Ok(keys)
    }

    /// LIMIT and OFFSET, bound where only enclosing queries' columns are
    /// in scope.
    pub(super) fn limit_offset(
        &mut self,
        limit: &Option<Expr>,
        offset: &Option<Expr>,
        parent: Option<&Scope>,
    ) -> Result<(Option<PExpr>, Option<PExpr>)> {
        let scope = Scope::new(Vec::new(), parent);
        let l = limit.as_ref().map(|e| self.expr(e, &scope)).transpose()?;
        let o = offset.as_ref().map(|e| self.expr(e, &scope)).transpose()?;
        Ok((l, o))
    }

    fn query_in_node(&mut self, q: &Query, parent: Option<&Scope>) -> Result<Planned> {
        match &q.body {
            SetExpr::Select(sel) => self.select(sel, &q.order_by, &q.limit, &q.offset, parent),
            body => {
                let planned = self.set_expr(body, parent)?;
                let mut plan = planned.plan;
                if !q.order_by.is_empty() {
                    let keys =
                        self.compound_order(&q.order_by, &planned.columns, &planned.types, parent)?;
                    plan = Arc::new(Node::Sort(plan, keys));
                }
                if q.limit.is_some() || q.offset.is_some() {
                    let (l, o) = self.limit_offset(&q.limit, &q.offset, parent)?;
                    plan = Arc::new(Node::Limit(plan, l, o));
                }
                Ok(Planned {
                    plan,
                    columns: planned.columns,
                    types: planned.types,
                    in_types: planned.in_types,
                    decltypes: planned.decltypes,
                    shared_columns: Default::default(),
                })
            }
        }
    }

    pub(super) fn set_expr(&mut self, s: &SetExpr, parent: Option<&Scope>) -> Result<Planned> {
        depth::guarded(|| self.set_expr_node(s, parent))
    }

    fn set_expr_node(&mut self, s: &SetExpr, parent: Option<&Scope>) -> Result<Planned> {
        match s {
            SetExpr::Select(sel) => self.select(sel, &[], &None, &None, parent),
            SetExpr::Query(q) => self.query_in(q, parent),
            SetExpr::Values(rows) => {
                let width = rows.first().map_or(0, |r| r.len());
                let scope = Scope::new(Vec::new(), parent);
                let mut out = Vec::new();
                let mut types = Vec::new();
                let mut last = Vec::new();
                for r in rows {
                    if r.len() != width {
                        return Err(err(
                            SqlErrorKind::Misuse,
                            "all VALUES must have the same number of terms",
                        ));
                    }
                    let mut row = Vec::with_capacity(width);
                    last.clear();
                    for e in r {
                        let (p, t) = self.bind(e, &scope, None)?;
                        row.push(p);
                        last.push(t);
                        // The first row types the columns (the leftmost
                        // SELECT of the compound SQLite makes of VALUES).
                        if types.len() < width {
                            types.push(t);
                        }
                    }
                    out.push(row);
                }
                Ok(Planned {
                    plan: Arc::new(Node::Values(out)),
                    columns: (1..=width).map(|i| format!("column{i}")).collect(),
                    types,
                    // The last row is the rightmost SELECT.
                    in_types: last,
                    decltypes: vec![None; width],
                    shared_columns: Default::default(),
                })
            }
            SetExpr::SetOp {
                op,
                all,
                left,
                right,
            } => {
                let l = self.set_expr(left, parent)?;
                let r = self.set_expr(right, parent)?;
                if l.columns.len() != r.columns.len() {
                    return Err(err(
                        SqlErrorKind::Misuse,
                        "SELECTs to the left and right of a compound operator do not have the same number of result columns",
                    ));
                }
                let types = compound_types(&l.types, &r.types);
                let colls = types.iter().map(|t| t.coll.unwrap_or_default()).collect();
                Ok(Planned {
                    plan: Arc::new(Node::SetOp(*op, *all, l.plan, r.plan, colls)),
                    columns: l.columns,
                    types,
                    in_types: r.in_types,
                    // SQLite's: the leftmost SELECT's.
                    decltypes: l.decltypes,
                    shared_columns: Default::default(),
                })
            }
        }
    }

    pub(super) fn table_source(
        &mut self,
        name: &str,
        qualified: bool,
        alias: Option<&str>,
        hint: Option<&IndexHint>,
        parent: Option<&Scope>,
    ) -> Result<Source> {
        if !qualified {
            if let Some(found) = self.find_cte(name) {
                return self.cte_source(found, alias, hint, parent);
            }
        }
        let label = alias.unwrap_or(name).to_string();
        self.check_view_binding(name)?;
        if let Some(what) = crate::sql::introspect::Introspect::of_table(name) {
            if let Some(IndexHint::IndexedBy(i)) = hint {
                return Err(err(
                    SqlErrorKind::UnknownTable,
                    format!("no such index: {i}"),
                ));
            }
            return self.introspect_source(what, Vec::new(), &label);
        }
        if let Some(t) = self.schema.table(name) {
            let mut src = table_source_of(t, label);
            let origin = self.track_reads(&t.name, &mut src.cols);
            self.written_as(origin, name);
            src.policy = self
                .row_policy(t, PolicyCmd::Select, false)?
                .into_iter()
                .collect();
            src.hint = resolve_hint(t, hint)?;
            return Ok(src);
        }
        if let Some(IndexHint::IndexedBy(i)) = hint {
            return Err(err(
                SqlErrorKind::UnknownTable,
                format!("no such index: {i}"),
            ));
        }
        if let Some(v) = self.schema.view(name) {
            let key = v.name.to_lowercase();
            if self.expanding.contains(&key) {
                return Err(err(
                    SqlErrorKind::Misuse,
                    format!("view {} is circularly defined", v.name),
                ));
            }
            if self.expanding.len() >= depth::MAX_VIEW_DEPTH {
                // (Not naming the view: the inner ones may be hidden.)
                return Err(depth::too_complex(format!(
                    "views nested too deeply (more than {} views defined over each other)",
                    depth::MAX_VIEW_DEPTH
                )));
            }
            let origin = self.track_reads(&v.name, &mut []);
            self.written_as(origin, name);
            self.expanding.push(key.clone());
            self.acting.push(Definer::View(key));
            // A view never sees the CTEs of the statement naming it (its
            // names mean what they meant to its owner).
            let ctes = std::mem::take(&mut self.ctes);
            let planned = self.query_in(&v.query, None);
            self.ctes = ctes;
            self.acting.pop();
            self.expanding.pop();
            let planned = planned?;
            self.masks
                .views
                .push((v.name.clone(), planned.plan.clone()));
            let names = if v.columns.is_empty() {
                planned.columns.clone()
            } else {
                v.columns.clone()
            };
            return Ok(Source {
                plan: Some(planned.plan),
                table: None,
                cols: names
                    .into_iter()
                    .zip(&planned.types)
                    .zip(&planned.decltypes)
                    .map(|((n, t), d)| ScopeCol {
                        table: Some(label.clone()),
                        name: n,
                        hidden: false,
                        affinity: t.aff,
                        collation: t.coll.or(Some(Collation::Binary)),
                        origin,
                        using_copy: None,
                        json_value: false,
                        decl: d.clone(),
                    })
                    .collect(),
                kind: JoinKind::Inner,
                on: Vec::new(),
                using_coalesce: Vec::new(),
                policy: Vec::new(),
                hint: None,
            });
        }
        if let Some(what) = crate::sql::introspect::Introspect::of_function(name) {
            // A table-valued pragma named without its argument.
            what.check_args(0)?;
        }
        if json_each_function(name).is_some() {
            return Err(json_each_without_arguments(name));
        }
        Err(err(
            SqlErrorKind::UnknownTable,
            format!("no such table: {name}"),
        ))
    }

    pub(super) fn flatten_from(
        &mut self,
        item: &FromItem,
        parent: Option<&Scope>,
        out: &mut Vec<Source>,
    ) -> Result<()> {
        let right_join = has_right_join(item);
        self.flatten_within(item, parent, out, right_join)
    }

    /// [`Self::flatten_from`] of a part of a FROM clause; `right_join`:
    /// the whole clause has a RIGHT or FULL join.
    fn flatten_within(
        &mut self,
        item: &FromItem,
        parent: Option<&Scope>,
        out: &mut Vec<Source>,
        right_join: bool,
    ) -> Result<()> {
        depth::guarded(|| self.flatten_from_node(item, parent, out, right_join))
    }

    fn flatten_from_node(
        &mut self,
        item: &FromItem,
        parent: Option<&Scope>,
        out: &mut Vec<Source>,
        right_join: bool,
    ) -> Result<()> {
        match item {
            FromItem::Table {
                name,
                qualified,
                alias,
                hint,
            } => out.push(self.table_source(
                name,
                *qualified,
                alias.as_deref(),
                hint.as_ref(),
                parent,
            )?),
            FromItem::Function { name, args, alias } => {
                let left: Vec<ScopeCol> = out.iter().flat_map(|s| s.cols.clone()).collect();
                let src = self.function_source(name, args, alias.as_deref(), left, parent)?;
                out.push(src);
            }
            FromItem::Subquery { query, alias } => {
                let planned = self.query_in(query, parent)?;
                // An unnamed subquery's columns still need a table to be
                // told apart by (a USING or NATURAL join qualifies them):
                // one no SQL can name, as SQLite's "subquery_N".
                let label = alias.clone().or_else(|| {
                    Some(format!(
                        "\u{0}subquery{}",
                        SUB_IDS.fetch_add(1, Ordering::Relaxed)
                    ))
                });
                out.push(Source {
                    plan: Some(planned.plan),
                    table: None,
                    cols: planned
                        .columns
                        .into_iter()
                        .zip(&planned.types)
                        .zip(&planned.decltypes)
                        .map(|((n, t), d)| ScopeCol {
                            table: label.clone(),
                            name: n,
                            hidden: false,
                            affinity: t.aff,
                            collation: t.coll.or(Some(Collation::Binary)),
                            origin: None,
                            using_copy: None,
                            json_value: false,
                            decl: d.clone(),
                        })
                        .collect(),
                    kind: JoinKind::Inner,
                    on: Vec::new(),
                    using_coalesce: Vec::new(),
                    policy: Vec::new(),
                    hint: None,
                });
            }
            FromItem::Join {
                left,
                right,
                kind,
                on,
                using,
                natural,
            } => {
                self.flatten_within(left, parent, out, right_join)?;
                let left_cols: Vec<ScopeCol> = out.iter().flat_map(|s| s.cols.clone()).collect();
                let mut src = match &**right {
                    FromItem::Join { .. } => {
                        return Err(err(
                            SqlErrorKind::Unsupported,
                            "a join nested on the right of a join",
                        ));
                    }
                    FromItem::Function { name, args, alias } => self.function_source(
                        name,
                        args,
                        alias.as_deref(),
                        left_cols.clone(),
                        parent,
                    )?,
                    r => {
                        let mut tmp = Vec::new();
                        self.flatten_from(r, parent, &mut tmp)?;
                        tmp.pop()
                            .ok_or_else(|| err(SqlErrorKind::Misuse, "empty join"))?
                    }
                };
                src.kind = *kind;
                if matches!(kind, JoinKind::Right | JoinKind::Full) && reads_left_row(&src) {
                    return Err(err(
                        SqlErrorKind::Unsupported,
                        "a table-valued function whose arguments read the tables to its left, \
                         on the right of a RIGHT or FULL JOIN, is not supported",
                    ));
                }
                if let Some(on) = on {
                    split_and(on.clone(), &mut src.on);
                }
                // NATURAL: USING each column of the right side (in its
                // order) that a table on the left has too (SQLite's
                // sqlite3ProcessJoin); none makes it a cross join.
                let natural_using: Vec<String>;
                let using = if *natural {
                    natural_using = src
                        .cols
                        .iter()
                        .filter(|c| !c.hidden)
                        .filter(|c| {
                            left_cols
                                .iter()
                                .any(|l| !l.hidden && l.name.eq_ignore_ascii_case(&c.name))
                        })
                        .map(|c| c.name.clone())
                        .collect();
                    &natural_using
                } else {
                    using
                };
                for u in using {
                    let mut left = using_left(&left_cols, u, right_join)?;
                    let right = Expr::Column {
                        table: src.cols.first().and_then(|c| c.table.clone()),
                        name: u.clone(),
                    };
                    if left.len() == 1 {
                        src.on.push(Expr::Binary(
                            BinOp::Eq,
                            Box::new(left.remove(0)),
                            Box::new(right),
                        ));
                    } else {
                        src.using_coalesce.push((left, right));
                    }
                    // The right copy of a USING column is hidden from `*`.
                    for c in src.cols.iter_mut() {
                        if c.name.eq_ignore_ascii_case(u) && !c.hidden {
                            c.hidden = true;
                            c.using_copy = Some(*kind);
                        }
                    }
                }
                out.push(src);
            }
        }
        Ok(())
    }
}

/// Whether a FROM clause has a RIGHT or FULL join (SQLite's JT_LTORJ on
/// its first table): its USING columns then compare the coalesced left
/// copies (see [`using_left`]).
fn has_right_join(item: &FromItem) -> bool {
    let mut at = item;
    while let FromItem::Join {
        left, right, kind, ..
    } = at
    {
        if matches!(kind, JoinKind::Right | JoinKind::Full) || has_right_join(right) {
            return true;
        }
        at = left;
    }
    false
}

/// Whether a source's rows depend on the row of the sources to its left
/// (a table-valued function's arguments naming their columns).
fn reads_left_row(src: &Source) -> bool {
    match src.plan.as_deref() {
        Some(Node::Introspect { args, .. }) => args.iter().any(|a| max_col(a).is_some()),
        _ => false,
    }
}

/// The left side of `USING (u)`, as SQLite's sqlite3ProcessJoin builds
/// it: the leftmost table's `u`; in a FROM clause with a RIGHT or FULL
/// join, `coalesce` of every left table's `u` (each after the first must
/// be a USING copy, else "ambiguous reference"), since the leftmost copy
/// may be a NULL of an unmatched row. Returns the columns (one: no
/// coalesce).
fn using_left(left_cols: &[ScopeCol], u: &str, right_join: bool) -> Result<Vec<Expr>> {
    let holders: Vec<&ScopeCol> = left_cols
        .iter()
        .filter(|c| c.name.eq_ignore_ascii_case(u) && (!c.hidden || c.using_copy.is_some()))
        .collect();
    let column = |c: &ScopeCol| Expr::Column {
        table: c.table.clone(),
        name: u.to_string(),
    };
    let Some(first) = holders.first() else {
        return Err(err(
            SqlErrorKind::UnknownColumn,
            format!("cannot join using column {u} - column not present in both tables"),
        ));
    };
    if !right_join || holders.len() == 1 {
        return Ok(vec![column(first)]);
    }
    if holders[1..].iter().any(|c| c.using_copy.is_none()) {
        return Err(err(
            SqlErrorKind::Ambiguous,
            format!("ambiguous reference to {u} in USING()"),
        ));
    }
    Ok(holders.iter().map(|c| column(c)).collect())
}

/// The column types of a compound of SELECTs typed `left` and `right`:
/// each column compares under the collation of its leftmost SELECT that
/// defines one, and takes the affinity of its leftmost SELECT that has
/// one. (Also a recursive CTE's columns, see `cte.rs`.)
pub(super) fn compound_types(left: &[ExprType], right: &[ExprType]) -> Vec<ExprType> {
    left.iter()
        .zip(right)
        .map(|(a, b)| ExprType {
            aff: a.aff.or(b.aff),
            coll: a.coll.or(b.coll),
            explicit: false,
        })
        .collect()
}
