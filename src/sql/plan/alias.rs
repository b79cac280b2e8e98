//! Result-column aliases named in WHERE, GROUP BY and HAVING, as SQLite
//! resolves them (its `NC_UEList` name context): an unqualified name that
//! is no column of the SELECT's own FROM tables but is the `AS` alias of
//! one of its result columns stands for that result expression.
//!
//! Invariants: a column of the FROM tables always wins over an alias
//! (`SELECT x AS y FROM t WHERE y > 2` reads `t.y`); only `AS` aliases
//! count, not the texts unaliased columns are named by; a substituted
//! expression is not searched again (an alias naming another alias is
//! "no such column", as in SQLite, whose result list cannot use aliases);
//! subqueries are left alone, so an alias named inside one stays
//! unresolved there ("no such column" where SQLite would find it: a
//! refusal, never a different answer).

use super::*;

/// `sel` with the aliases its WHERE, GROUP BY and HAVING name replaced by
/// their expressions; `None` when they name none. `cols`: the columns of
/// its FROM tables.
pub(super) fn with_aliases(sel: &Select, cols: &[ScopeCol]) -> Option<Select> {
    let aliases: Vec<(&str, &Expr)> = sel
        .items
        .iter()
        .filter_map(|it| match it {
            SelectItem::Expr {
                expr,
                alias: Some(a),
                ..
            } if !is_column(a, cols) => Some((a.as_str(), expr)),
            _ => None,
        })
        .collect();
    if aliases.is_empty() {
        return None;
    }
    let names_one = |e: &Expr| {
        let mut found = false;
        analysis::walk(e, &mut |x| {
            if let Expr::Column { table: None, name } = x {
                found |= find(&aliases, name).is_some();
            }
        });
        found
    };
    if !(sel.filter.as_ref().is_some_and(names_one)
        || sel.group_by.iter().any(names_one)
        || sel.having.as_ref().is_some_and(names_one))
    {
        return None;
    }
    let mut out = sel.clone();
    let mut clauses: Vec<&mut Expr> = out.filter.iter_mut().collect();
    clauses.extend(out.group_by.iter_mut());
    clauses.extend(out.having.iter_mut());
    for e in clauses {
        substitute(e, &aliases);
    }
    Some(out)
}

/// Whether `name` is a column of the FROM tables (the rowid's other names
/// included).
fn is_column(name: &str, cols: &[ScopeCol]) -> bool {
    let rowid = ["rowid", "_rowid_", "oid"]
        .iter()
        .any(|r| r.eq_ignore_ascii_case(name));
    cols.iter()
        .any(|c| c.name.eq_ignore_ascii_case(name) || (rowid && c.hidden && c.name == "rowid"))
}

fn find<'a>(aliases: &[(&str, &'a Expr)], name: &str) -> Option<&'a Expr> {
    aliases
        .iter()
        .find(|(a, _)| a.eq_ignore_ascii_case(name))
        .map(|(_, e)| *e)
}

fn substitute(e: &mut Expr, aliases: &[(&str, &Expr)]) {
    depth::guarded(|| substitute_node(e, aliases))
}

fn substitute_node(e: &mut Expr, aliases: &[(&str, &Expr)]) {
    let sub = |e: &mut Expr| substitute(e, aliases);
    match e {
        Expr::Column { table: None, name } => {
            if let Some(x) = find(aliases, name) {
                *e = x.clone();
            }
        }
        Expr::Unary(_, x) | Expr::IsNull(x, _) | Expr::Cast(x, _) | Expr::Collate(x, _) => sub(x),
        Expr::Raise(_, message) => {
            if let Some(x) = message {
                sub(x);
            }
        }
        Expr::Binary(_, a, b) => {
            sub(a);
            sub(b);
        }
        Expr::InList { expr, list, .. } => {
            sub(expr);
            list.iter_mut().for_each(sub);
        }
        Expr::InSubquery { expr, .. } => sub(expr),
        Expr::Between {
            expr, low, high, ..
        } => {
            sub(expr);
            sub(low);
            sub(high);
        }
        Expr::Like {
            expr,
            pattern,
            escape,
            ..
        } => {
            sub(expr);
            sub(pattern);
            if let Some(x) = escape {
                sub(x);
            }
        }
        Expr::Case {
            operand,
            whens,
            otherwise,
        } => {
            if let Some(o) = operand {
                sub(o);
            }
            for (a, b) in whens {
                sub(a);
                sub(b);
            }
            if let Some(o) = otherwise {
                sub(o);
            }
        }
        Expr::Function { args, filter, .. } => {
            args.iter_mut().for_each(sub);
            if let Some(f) = filter {
                sub(f);
            }
        }
        Expr::Row(items) => items.iter_mut().for_each(sub),
        Expr::Literal(_)
        | Expr::Column { .. }
        | Expr::Param(_)
        | Expr::Exists(..)
        | Expr::Subquery(_)
        | Expr::RowField { .. }
        // Not allowed in these clauses: its error is the same either way.
        | Expr::Window(_) => {}
    }
}
