//! Queries: compound selects, SELECT with its clauses, result items, joins
//! and FROM items.

use super::*;

impl Cx {
    pub(super) fn query(&mut self, q: sp::Query) -> Result<Query> {
        self.guarded(|cx| cx.query_node(q))
    }

    fn query_node(&mut self, q: sp::Query) -> Result<Query> {
        // Every field named, so that a new one in sqlparser is looked at.
        let sp::Query {
            with,
            body,
            order_by: ob,
            limit_clause,
            fetch,
            locks,
            for_clause,
            settings,
            format_clause,
            pipe_operators,
        } = q;
        let with = with.map(|w| self.with(w)).transpose()?;
        if fetch.is_some()
            || !locks.is_empty()
            || for_clause.is_some()
            || settings.is_some()
            || format_clause.is_some()
            || !pipe_operators.is_empty()
        {
            return Err(unsupported("FETCH, FOR UPDATE and other query clauses"));
        }
        let body = self.set_expr(*body)?;
        let mut order_by = Vec::new();
        if let Some(ob) = ob {
            if ob.interpolate.is_some() {
                return Err(unsupported("ORDER BY ... INTERPOLATE"));
            }
            match ob.kind {
                sp::OrderByKind::Expressions(items) => {
                    for it in items {
                        if it.with_fill.is_some() {
                            return Err(unsupported("ORDER BY ... WITH FILL"));
                        }
                        order_by.push(OrderItem {
                            expr: self.expr(it.expr)?,
                            desc: matches!(it.options.sort, Some(sp::OrderBySort::Desc)),
                            nulls_first: it.options.nulls_first,
                        });
                    }
                }
                sp::OrderByKind::All(_) => return Err(unsupported("ORDER BY ALL")),
            }
        }
        let (limit, offset) = match limit_clause {
            None => (None, None),
            Some(sp::LimitClause::LimitOffset { limit_by, .. }) if !limit_by.is_empty() => {
                return Err(unsupported("LIMIT ... BY"))
            }
            Some(sp::LimitClause::LimitOffset { limit, offset, .. }) => (
                limit.map(|e| self.expr(e)).transpose()?,
                offset.map(|o| self.expr(o.value)).transpose()?,
            ),
            Some(sp::LimitClause::OffsetCommaLimit { offset, limit }) => {
                (Some(self.expr(limit)?), Some(self.expr(offset)?))
            }
        };
        Ok(Query {
            with,
            body,
            order_by,
            limit,
            offset,
        })
    }

    /// A WITH clause: names unique (SQLite's "duplicate WITH table name"),
    /// a column list without types, the MATERIALIZED hints read back from
    /// the token rewrite (see `rewrite_cte_hints`).
    pub(super) fn with(&mut self, w: sp::With) -> Result<Arc<With>> {
        let sp::With {
            with_token: _,
            recursive,
            cte_tables,
        } = w;
        let mut ctes: Vec<Cte> = Vec::with_capacity(cte_tables.len());
        for c in cte_tables {
            let sp::Cte {
                alias,
                query,
                from,
                materialized,
                closing_paren_token: _,
            } = c;
            if from.is_some() || alias.at.is_some() {
                return Err(unsupported(format!(
                    "this common table expression ({alias})"
                )));
            }
            let name = alias.name.value.clone();
            if ctes.iter().any(|c| c.name.eq_ignore_ascii_case(&name)) {
                return Err(Error::sql(
                    SqlErrorKind::Misuse,
                    format!("duplicate WITH table name: {name}"),
                ));
            }
            let mut columns = Vec::with_capacity(alias.columns.len());
            for col in alias.columns {
                if col.data_type.is_some() {
                    return Err(unsupported(
                        "a type in the column list of a common table expression",
                    ));
                }
                columns.push(col.name.value);
            }
            let hint = self.cte_hints.get(&span_key(&alias.name)).copied();
            let materialized = match materialized {
                Some(sp::CteAsMaterialized::Materialized) => Some(true),
                Some(sp::CteAsMaterialized::NotMaterialized) => Some(false),
                None => hint,
            };
            ctes.push(Cte {
                name,
                columns,
                query: self.query(*query)?,
                materialized,
            });
        }
        Ok(Arc::new(With { recursive, ctes }))
    }

    pub(super) fn set_expr(&mut self, s: sp::SetExpr) -> Result<SetExpr> {
        // A compound SELECT is a left-deep chain: count its terms first.
        let mut terms = 1;
        let mut left = &s;
        while let sp::SetExpr::SetOperation { left: l, .. } = left {
            terms += 1;
            left = l;
        }
        if terms > depth::MAX_COMPOUND_SELECT {
            return Err(depth::too_complex(format!(
                "too many terms in compound SELECT (maximum {})",
                depth::MAX_COMPOUND_SELECT
            )));
        }
        self.guarded(|cx| cx.set_expr_node(s))
    }

    fn set_expr_node(&mut self, s: sp::SetExpr) -> Result<SetExpr> {
        Ok(match s {
            sp::SetExpr::Select(sel) => SetExpr::Select(Box::new(self.select(*sel)?)),
            sp::SetExpr::Query(q) => SetExpr::Query(Box::new(self.query(*q)?)),
            sp::SetExpr::Values(v) => SetExpr::Values(
                v.rows
                    .into_iter()
                    .map(|r| {
                        r.content
                            .into_iter()
                            .map(|e| self.expr(e))
                            .collect::<Result<Vec<_>>>()
                    })
                    .collect::<Result<_>>()?,
            ),
            sp::SetExpr::SetOperation {
                left,
                op,
                set_quantifier,
                right,
            } => SetExpr::SetOp {
                op: match op {
                    sp::SetOperator::Union => SetOp::Union,
                    sp::SetOperator::Intersect => SetOp::Intersect,
                    sp::SetOperator::Except | sp::SetOperator::Minus => SetOp::Except,
                },
                // Only UNION has an ALL form (SQLite's grammar); BY NAME
                // matches columns by name, which sealdb does not do.
                all: match (set_quantifier, op) {
                    (sp::SetQuantifier::None | sp::SetQuantifier::Distinct, _) => false,
                    (sp::SetQuantifier::All, sp::SetOperator::Union) => true,
                    (q, _) => return Err(unsupported(format!("{op} {q}"))),
                },
                left: Box::new(self.set_expr(*left)?),
                right: Box::new(self.set_expr(*right)?),
            },
            other => return Err(unsupported(format!("query body {other}"))),
        })
    }

    pub(super) fn select(&mut self, s: sp::Select) -> Result<Select> {
        // Every field named, so that a new one in sqlparser is looked at.
        let sp::Select {
            select_token,
            optimizer_hints,
            distinct,
            select_modifiers,
            top,
            top_before_distinct: _,
            projection,
            exclude,
            into,
            from,
            lateral_views,
            prewhere,
            selection,
            connect_by,
            group_by,
            cluster_by,
            distribute_by,
            sort_by,
            having,
            named_window,
            qualify,
            window_before_qualify: _,
            value_table_mode,
            flavor,
        } = s;
        if !optimizer_hints.is_empty()
            || select_modifiers.is_some()
            || top.is_some()
            || exclude.is_some()
            || into.is_some()
            || !lateral_views.is_empty()
            || prewhere.is_some()
            || !connect_by.is_empty()
            || !cluster_by.is_empty()
            || !distribute_by.is_empty()
            || !sort_by.is_empty()
            || qualify.is_some()
            || value_table_mode.is_some()
            || flavor != sp::SelectFlavor::Standard
        {
            return Err(unsupported(
                "this SELECT clause (TOP, INTO, QUALIFY, SORT BY, CLUSTER BY and the like)",
            ));
        }
        let distinct = match distinct {
            None | Some(sp::Distinct::All) => false,
            Some(sp::Distinct::Distinct) => true,
            Some(sp::Distinct::On(_)) => return Err(unsupported("DISTINCT ON")),
        };
        let joined = self.joined_from(from)?;
        let group_by = match group_by {
            sp::GroupByExpr::Expressions(_, modifiers) if !modifiers.is_empty() => {
                return Err(unsupported("GROUP BY ... WITH ROLLUP, CUBE or TOTALS"))
            }
            sp::GroupByExpr::Expressions(es, _) => es
                .into_iter()
                .map(|e| self.expr(e))
                .collect::<Result<_>>()?,
            sp::GroupByExpr::All(_) => return Err(unsupported("GROUP BY ALL")),
        };
        Ok(Select {
            distinct,
            items: {
                let texts = self
                    .texts
                    .select(select_token.0.span.start)
                    .map(<[_]>::to_vec);
                self.items(projection, texts)?
            },
            from: joined,
            filter: selection.map(|e| self.expr(e)).transpose()?,
            group_by,
            having: having.map(|e| self.expr(e)).transpose()?,
            windows: self.named_windows(named_window)?,
        })
    }

    /// A FROM list (of a SELECT, or of UPDATE ... FROM) as one item,
    /// left-deep: `a, b JOIN c` is `(a, b) JOIN c`, as in SQLite.
    pub(super) fn joined_from(
        &mut self,
        from: Vec<sp::TableWithJoins>,
    ) -> Result<Option<FromItem>> {
        let tables = count_tables(&from);
        if tables > depth::MAX_JOIN_TABLES {
            return Err(depth::too_complex(format!(
                "at most {} tables in a join ({tables} given)",
                depth::MAX_JOIN_TABLES
            )));
        }
        let mut joined: Option<FromItem> = None;
        for twj in from {
            let rel = self.table_factor(twj.relation)?;
            let mut item = match joined.take() {
                None => rel,
                Some(left) => FromItem::Join {
                    left: Box::new(left),
                    right: Box::new(rel),
                    kind: JoinKind::Inner,
                    on: None,
                    using: Vec::new(),
                    natural: false,
                },
            };
            for j in twj.joins {
                item = self.join(item, j)?;
            }
            joined = Some(item);
        }
        Ok(joined)
    }

    /// A result list; `texts` are its items as written (see [`super::names`]).
    pub(super) fn items(
        &mut self,
        items: Vec<sp::SelectItem>,
        texts: Option<Vec<String>>,
    ) -> Result<Vec<SelectItem>> {
        let mut texts = texts
            .filter(|t| t.len() == items.len())
            .map(|t| t.into_iter());
        items
            .into_iter()
            .map(|it| {
                let text = texts.as_mut().and_then(Iterator::next);
                Ok(match it {
                    sp::SelectItem::UnnamedExpr(e) => {
                        let plain_column =
                            matches!(e, sp::Expr::Identifier(_) | sp::Expr::CompoundIdentifier(_));
                        SelectItem::Expr {
                            expr: self.expr(e)?,
                            alias: None,
                            text: text.filter(|_| !plain_column),
                        }
                    }
                    sp::SelectItem::ExprWithAlias { expr, alias } => SelectItem::Expr {
                        expr: self.expr(expr)?,
                        alias: Some(alias.value),
                        text: None,
                    },
                    sp::SelectItem::Wildcard(_) => SelectItem::Wildcard,
                    sp::SelectItem::QualifiedWildcard(
                        sp::SelectItemQualifiedWildcardKind::ObjectName(n),
                        _,
                    ) => SelectItem::QualifiedWildcard(object_name(&n)?),
                    other => return Err(unsupported(format!("result column {other}"))),
                })
            })
            .collect()
    }

    /// `left` joined with `j` (inner, cross, comma, left, right or full).
    pub(super) fn join(&mut self, left: FromItem, j: sp::Join) -> Result<FromItem> {
        let right = self.table_factor(j.relation)?;
        let (kind, constraint) = match j.join_operator {
            sp::JoinOperator::Join(c)
            | sp::JoinOperator::Inner(c)
            | sp::JoinOperator::CrossJoin(c) => (JoinKind::Inner, c),
            sp::JoinOperator::Left(c) | sp::JoinOperator::LeftOuter(c) => (JoinKind::Left, c),
            sp::JoinOperator::Right(c) | sp::JoinOperator::RightOuter(c) => (JoinKind::Right, c),
            sp::JoinOperator::FullOuter(c) => (JoinKind::Full, c),
            other => return Err(unsupported(format!("join {}", join_name(&other)))),
        };
        let natural = matches!(constraint, sp::JoinConstraint::Natural);
        let (on, using) = match constraint {
            sp::JoinConstraint::On(e) => (Some(self.expr(e)?), Vec::new()),
            sp::JoinConstraint::Using(cols) => (
                None,
                cols.iter().map(object_name).collect::<Result<Vec<_>>>()?,
            ),
            sp::JoinConstraint::None | sp::JoinConstraint::Natural => (None, Vec::new()),
        };
        Ok(FromItem::Join {
            left: Box::new(left),
            right: Box::new(right),
            kind,
            on,
            using,
            natural,
        })
    }

    pub(super) fn table_factor(&mut self, t: sp::TableFactor) -> Result<FromItem> {
        Ok(match t {
            sp::TableFactor::Table {
                name,
                alias,
                args,
                with_hints,
                version,
                with_ordinality,
                partitions,
                json_path,
                sample,
                index_hints,
            } => {
                if !with_hints.is_empty()
                    || version.is_some()
                    || with_ordinality
                    || !partitions.is_empty()
                    || json_path.is_some()
                    || sample.is_some()
                {
                    return Err(unsupported(format!("this table reference ({name})")));
                }
                let alias = plain_alias(alias)?;
                if let Some(args) = args {
                    if args.settings.is_some() || !index_hints.is_empty() {
                        return Err(unsupported(format!("this table reference ({name})")));
                    }
                    let mut list = Vec::with_capacity(args.args.len());
                    for a in args.args {
                        match a {
                            sp::FunctionArg::Unnamed(sp::FunctionArgExpr::Expr(e)) => {
                                list.push(self.expr(e)?)
                            }
                            other => {
                                return Err(unsupported(format!(
                                    "the argument {other} of a table-valued function"
                                )))
                            }
                        }
                    }
                    return Ok(FromItem::Function {
                        name: object_name(&name)?,
                        args: list,
                        alias,
                    });
                }
                // INDEXED BY and NOT INDEXED arrive as USE INDEX (name)
                // and USE INDEX () (see rewrite_index_hints).
                let hint = match index_hints.as_slice() {
                    [] => None,
                    [h] if h.for_clause.is_none() => match (&h.hint_type, h.index_names.as_slice())
                    {
                        (sp::TableIndexHintType::Use, [i]) => {
                            Some(IndexHint::IndexedBy(i.value.clone()))
                        }
                        (sp::TableIndexHintType::Use, []) => Some(IndexHint::NotIndexed),
                        _ => return Err(unsupported(format!("index hint {h}"))),
                    },
                    _ => return Err(unsupported("several index hints")),
                };
                FromItem::Table {
                    qualified: name.0.len() > 1,
                    name: object_name(&name)?,
                    alias,
                    hint,
                }
            }
            sp::TableFactor::Derived {
                lateral,
                subquery,
                alias,
                sample,
            } => {
                if lateral || sample.is_some() {
                    return Err(unsupported("LATERAL or TABLESAMPLE on a subquery"));
                }
                FromItem::Subquery {
                    query: Box::new(self.query(*subquery)?),
                    alias: plain_alias(alias)?,
                }
            }
            sp::TableFactor::NestedJoin {
                table_with_joins,
                alias,
            } => {
                if alias.is_some() {
                    return Err(unsupported("an alias for a parenthesized join"));
                }
                let twj = *table_with_joins;
                let mut item = self.table_factor(twj.relation)?;
                for j in twj.joins {
                    item = self.join(item, j)?;
                }
                item
            }
            other => return Err(unsupported(format!("FROM item {other}"))),
        })
    }
}

/// Tables and subqueries in a FROM clause, nested joins included.
fn count_tables(from: &[sp::TableWithJoins]) -> usize {
    fn factor(t: &sp::TableFactor) -> usize {
        match t {
            sp::TableFactor::NestedJoin {
                table_with_joins, ..
            } => count_tables(std::slice::from_ref(table_with_joins)),
            _ => 1,
        }
    }
    from.iter()
        .map(|twj| {
            factor(&twj.relation) + twj.joins.iter().map(|j| factor(&j.relation)).sum::<usize>()
        })
        .sum()
}

/// A table or subquery alias's name; column names or `AT` after it are
/// refused, not ignored.
pub(super) fn plain_alias(alias: Option<sp::TableAlias>) -> Result<Option<String>> {
    match alias {
        None => Ok(None),
        Some(a) if a.columns.is_empty() && a.at.is_none() => Ok(Some(a.name.value)),
        Some(_) => Err(unsupported("column names in a table alias")),
    }
}

/// A join operator's name for a "not supported" message (its debug form
/// would print the whole ON expression).
fn join_name(op: &sp::JoinOperator) -> String {
    let debug = format!("{op:?}");
    let name = debug.split('(').next().unwrap_or("this kind of join");
    name.to_string()
}
