//! Questions asked of expressions before and after binding: does it hold
//! an aggregate or a subquery, which columns does it read, is it constant,
//! walking and splitting conjunctions.

use super::*;

pub(super) fn is_current_user(name: &str) -> bool {
    name.eq_ignore_ascii_case("current_user") || name.eq_ignore_ascii_case("session_user")
}

/// Whether `e` contains an aggregate call (not looking into subqueries).
pub(super) fn has_aggregate(e: &Expr) -> bool {
    first_aggregate(e).is_some()
}

/// The name of the first aggregate call in `e` (not looking into
/// subqueries), as written.
pub(super) fn first_aggregate(e: &Expr) -> Option<String> {
    let mut found = None;
    walk(e, &mut |x| {
        if let Expr::Function {
            name, args, star, ..
        } = x
        {
            if found.is_none()
                && agg_kind(name, args.len(), *star).is_some()
                && !(args.len() > 1 && is_scalar_minmax(name))
            {
                found = Some(name.clone());
            }
        }
    });
    found
}

/// The functions that exist only as window functions.
pub(super) fn is_window_only(name: &str) -> bool {
    [
        "row_number",
        "rank",
        "dense_rank",
        "percent_rank",
        "cume_dist",
        "ntile",
        "lag",
        "lead",
        "first_value",
        "last_value",
        "nth_value",
    ]
    .iter()
    .any(|w| name.eq_ignore_ascii_case(w))
}

pub(super) fn is_scalar_minmax(name: &str) -> bool {
    name.eq_ignore_ascii_case("min") || name.eq_ignore_ascii_case("max")
}

/// Visits `e` and its sub-expressions (not subqueries).
pub(crate) fn walk(e: &Expr, f: &mut dyn FnMut(&Expr)) {
    depth::guarded(|| walk_node(e, f))
}

fn walk_node(e: &Expr, f: &mut dyn FnMut(&Expr)) {
    f(e);
    match e {
        Expr::Unary(_, x) | Expr::IsNull(x, _) | Expr::Cast(x, _) | Expr::Collate(x, _) => {
            walk(x, f)
        }
        Expr::Binary(_, a, b) => {
            walk(a, f);
            walk(b, f);
        }
        Expr::InList { expr, list, .. } => {
            walk(expr, f);
            list.iter().for_each(|x| walk(x, f));
        }
        Expr::InSubquery { expr, .. } => walk(expr, f),
        Expr::Between {
            expr, low, high, ..
        } => {
            walk(expr, f);
            walk(low, f);
            walk(high, f);
        }
        Expr::Like {
            expr,
            pattern,
            escape,
            ..
        } => {
            walk(expr, f);
            walk(pattern, f);
            if let Some(e) = escape {
                walk(e, f);
            }
        }
        Expr::Case {
            operand,
            whens,
            otherwise,
        } => {
            if let Some(o) = operand {
                walk(o, f);
            }
            for (a, b) in whens {
                walk(a, f);
                walk(b, f);
            }
            if let Some(o) = otherwise {
                walk(o, f);
            }
        }
        Expr::Function { args, filter, .. } => {
            args.iter().for_each(|x| walk(x, f));
            if let Some(x) = filter {
                walk(x, f);
            }
        }
        Expr::Row(items) => items.iter().for_each(|x| walk(x, f)),
        Expr::Raise(_, message) => {
            if let Some(x) = message {
                walk(x, f);
            }
        }
        Expr::Window(w) => w.exprs().into_iter().for_each(|x| walk(x, f)),
        Expr::Literal(_)
        | Expr::Column { .. }
        | Expr::Param(_)
        | Expr::Exists(..)
        | Expr::Subquery(_)
        | Expr::RowField { .. } => {}
    }
}

/// Whether `q` calls a function anywhere (SQLite then prepares to undo the
/// statement on any error: its `sqlite3MayAbort`).
pub fn query_calls_function(q: &Query) -> bool {
    pub(super) fn in_expr(e: &Expr) -> bool {
        let mut found = false;
        walk(e, &mut |x| match x {
            Expr::Function { .. } | Expr::Window(_) => found = true,
            // SQLite's sqlite3MayAbort for RAISE(ABORT) only.
            Expr::Raise(Conflict::Abort, _) => found = true,
            Expr::Exists(q, _) | Expr::Subquery(q) => found |= query_calls_function(q),
            Expr::InSubquery { query, .. } => found |= query_calls_function(query),
            Expr::RowField { query, .. } => found |= query_calls_function(query),
            _ => {}
        });
        found
    }
    pub(super) fn in_set(s: &SetExpr) -> bool {
        match s {
            SetExpr::Select(sel) => {
                sel.items
                    .iter()
                    .any(|it| matches!(it, SelectItem::Expr { expr, .. } if in_expr(expr)))
                    || sel.filter.as_ref().is_some_and(in_expr)
                    || sel.having.as_ref().is_some_and(in_expr)
                    || sel.group_by.iter().any(in_expr)
                    || !sel.windows.is_empty()
            }
            SetExpr::Values(rows) => rows.iter().flatten().any(in_expr),
            SetExpr::Query(q) => query_calls_function(q),
            SetExpr::SetOp { left, right, .. } => in_set(left) || in_set(right),
        }
    }
    in_set(&q.body)
        || q.order_by.iter().any(|o| in_expr(&o.expr))
        || q.with
            .iter()
            .flat_map(|w| &w.ctes)
            .any(|c| query_calls_function(&c.query))
}

/// Whether the expression `sql` holds a subquery.
pub fn has_subquery_text(sql: &str) -> Result<bool> {
    let e = crate::syntax::parse::parse_expr(sql)?;
    Ok(has_subquery_expr(&e))
}

/// Whether `e` holds a subquery.
pub fn has_subquery_expr(e: &Expr) -> bool {
    let mut found = false;
    walk(e, &mut |x| {
        if matches!(
            x,
            Expr::Exists(..) | Expr::Subquery(_) | Expr::InSubquery { .. } | Expr::RowField { .. }
        ) {
            found = true;
        }
    });
    found
}

/// The columns of the index a single-table plan reads its rows through,
/// if it reads through one (for a key expression, the columns it reads).
pub fn scanned_index_columns(plan: &Plan) -> Option<Vec<usize>> {
    match &**plan {
        Node::Filter(inner, _) => scanned_index_columns(inner),
        Node::Scan {
            table,
            access: Access::Index { index, .. },
            ..
        } => table.indexes.get(*index).map(|i| {
            let mut cols = i.columns.clone();
            cols.extend(crate::sql::index_expr::columns_read(table, i));
            cols
        }),
        _ => None,
    }
}

/// Whether `e` consists of constants and the GROUP BY terms `groups`
/// (Debug forms, COLLATE stripped): SQLite's
/// `sqlite3ExprIsConstantOrGroupBy`.
pub(super) fn constant_or_group_by(e: &Expr, groups: &[String]) -> bool {
    if groups.contains(&format!("{:?}", strip_collate(e).0)) {
        return true;
    }
    match e {
        Expr::Literal(_) | Expr::Param(_) => true,
        Expr::Column { .. }
        | Expr::Exists(..)
        | Expr::Subquery(_)
        | Expr::InSubquery { .. }
        | Expr::RowField { .. } => false,
        Expr::Function {
            name, args, star, ..
        } if agg_kind(name, args.len(), *star).is_some()
            && !(args.len() > 1 && is_scalar_minmax(name)) =>
        {
            false
        }
        _ => direct_children(e)
            .into_iter()
            .all(|c| constant_or_group_by(c, groups)),
    }
}

/// The direct sub-expressions of `e` (not looking into subqueries).
pub(super) fn direct_children(e: &Expr) -> Vec<&Expr> {
    match e {
        Expr::Unary(_, x) | Expr::IsNull(x, _) | Expr::Cast(x, _) | Expr::Collate(x, _) => {
            vec![x]
        }
        Expr::Binary(_, a, b) => vec![a, b],
        Expr::InList { expr, list, .. } => {
            let mut v: Vec<&Expr> = vec![expr];
            v.extend(list.iter());
            v
        }
        Expr::InSubquery { expr, .. } => vec![expr],
        Expr::Between {
            expr, low, high, ..
        } => vec![expr, low, high],
        Expr::Like {
            expr,
            pattern,
            escape,
            ..
        } => {
            let mut v: Vec<&Expr> = vec![expr, pattern];
            v.extend(escape.as_deref());
            v
        }
        Expr::Case {
            operand,
            whens,
            otherwise,
        } => {
            let mut v: Vec<&Expr> = operand.as_deref().into_iter().collect();
            for (a, b) in whens {
                v.push(a);
                v.push(b);
            }
            v.extend(otherwise.as_deref());
            v
        }
        Expr::Function { args, filter, .. } => {
            let mut v: Vec<&Expr> = args.iter().collect();
            v.extend(filter.as_deref());
            v
        }
        Expr::Row(items) => items.iter().collect(),
        Expr::Raise(_, message) => message.as_deref().into_iter().collect(),
        Expr::Window(w) => w.exprs(),
        Expr::Literal(_)
        | Expr::Column { .. }
        | Expr::Param(_)
        | Expr::Exists(..)
        | Expr::Subquery(_)
        | Expr::RowField { .. } => Vec::new(),
    }
}

/// Whether `op` compares its operands (and so takes a [`CmpRule`]).
pub(super) fn is_comparison(op: BinOp) -> bool {
    matches!(
        op,
        BinOp::Eq
            | BinOp::Ne
            | BinOp::Lt
            | BinOp::Le
            | BinOp::Gt
            | BinOp::Ge
            | BinOp::Is
            | BinOp::IsNot
    )
}

/// Whether `e` is constant as SQLite's parser sees it: no column and no
/// subquery (literals, parameters and functions of them).
pub(super) fn is_constant(e: &Expr) -> bool {
    let mut constant = true;
    walk(e, &mut |x| {
        if matches!(
            x,
            Expr::Column { .. }
                | Expr::Exists(..)
                | Expr::Subquery(_)
                | Expr::InSubquery { .. }
                | Expr::RowField { .. }
        ) {
            constant = false;
        }
    });
    constant
}

/// Whether a data change reads its target's rows (so row-level security's
/// SELECT policies apply to the rows it changes, as in PostgreSQL): its
/// WHERE clause, SET expressions or RETURNING items name a column or hold
/// a subquery (which may be correlated to the row).
pub fn reads_target<'e>(
    exprs: impl IntoIterator<Item = &'e Expr>,
    returning: &[SelectItem],
) -> bool {
    let reads = |e: &Expr| {
        let mut found = false;
        walk(e, &mut |x| {
            found |= matches!(
                x,
                Expr::Column { .. }
                    | Expr::Exists(..)
                    | Expr::Subquery(_)
                    | Expr::InSubquery { .. }
                    | Expr::RowField { .. }
            )
        });
        found
    };
    exprs.into_iter().any(reads)
        || returning.iter().any(|it| match it {
            SelectItem::Expr { expr, .. } => reads(expr),
            _ => true,
        })
}

pub(super) fn split_and(e: Expr, out: &mut Vec<Expr>) {
    depth::guarded(|| split_and_node(e, out))
}

fn split_and_node(e: Expr, out: &mut Vec<Expr>) {
    match e {
        Expr::Binary(BinOp::And, a, b) => {
            split_and(*a, out);
            split_and(*b, out);
        }
        other => out.push(other),
    }
}

/// Highest depth-0 column index `e` reads (None: reads none).
pub(super) fn max_col(e: &PExpr) -> Option<usize> {
    let mut m: Option<usize> = None;
    pwalk(e, &mut |x| {
        if let PExpr::Col(i) = x {
            m = Some(m.map_or(*i, |m| m.max(*i)));
        }
    });
    m
}

pub(super) fn min_col(e: &PExpr) -> Option<usize> {
    let mut m: Option<usize> = None;
    pwalk(e, &mut |x| {
        if let PExpr::Col(i) = x {
            m = Some(m.map_or(*i, |m| m.min(*i)));
        }
    });
    m
}

pub(super) fn pwalk(e: &PExpr, f: &mut dyn FnMut(&PExpr)) {
    depth::guarded(|| pwalk_node(e, f))
}

fn pwalk_node(e: &PExpr, f: &mut dyn FnMut(&PExpr)) {
    f(e);
    match e {
        PExpr::Unary(_, x) | PExpr::IsNull(x, _) | PExpr::Cast(x, _) | PExpr::InSub(x, ..) => {
            pwalk(x, f)
        }
        PExpr::Binary(_, a, b) | PExpr::Cmp(_, a, b, _) => {
            pwalk(a, f);
            pwalk(b, f);
        }
        PExpr::InList(x, l, ..) => {
            pwalk(x, f);
            l.iter().for_each(|y| pwalk(y, f));
        }
        PExpr::Between(a, b, c, ..) => {
            pwalk(a, f);
            pwalk(b, f);
            pwalk(c, f);
        }
        PExpr::Like {
            expr,
            pattern,
            escape,
            ..
        } => {
            pwalk(expr, f);
            pwalk(pattern, f);
            if let Some(e) = escape {
                pwalk(e, f);
            }
        }
        PExpr::Case(o, w, e, _) => {
            if let Some(o) = o {
                pwalk(o, f);
            }
            for (a, b) in w {
                pwalk(a, f);
                pwalk(b, f);
            }
            if let Some(e) = e {
                pwalk(e, f);
            }
        }
        PExpr::Func(_, a) => a.iter().for_each(|y| pwalk(y, f)),
        PExpr::Raise(_, m) => {
            if let Some(m) = m {
                pwalk(m, f);
            }
        }
        PExpr::RowCmp(c) => {
            c.left.items().iter().for_each(|y| pwalk(y, f));
            c.right.items().iter().for_each(|y| pwalk(y, f));
        }
        PExpr::RowIn(c) => c.left.items().iter().for_each(|y| pwalk(y, f)),
        PExpr::Lit(_)
        | PExpr::Col(_)
        | PExpr::Outer(..)
        | PExpr::Param(_)
        | PExpr::Exists(..)
        | PExpr::Scalar(_)
        | PExpr::RowField(..) => {}
    }
}

/// Whether `e` reads correlated subqueries (which may read any column).
pub(super) fn has_subquery(e: &PExpr) -> bool {
    let mut found = false;
    pwalk(e, &mut |x| {
        let subs: Vec<&Arc<SubPlan>> = match x {
            PExpr::InSub(_, s, ..) | PExpr::Exists(s, _) | PExpr::Scalar(s) => vec![s],
            PExpr::RowField(s, _) => vec![s],
            PExpr::RowCmp(c) => c.left.sub().into_iter().chain(c.right.sub()).collect(),
            PExpr::RowIn(c) => c.left.sub().into_iter().chain([&c.sub]).collect(),
            _ => Vec::new(),
        };
        if subs.iter().any(|s| s.correlated) {
            found = true;
        }
    });
    found
}
