//! The planner: binds names to positions and chooses how to read tables.
//!
//! A query becomes a tree of [`Node`]s (a plan). Row layout is positional:
//! a table source yields its columns in declared order plus a hidden last
//! column, the rowid; a join yields left ++ right. The binder resolves every
//! column name against the scope chain (this query's sources, then the
//! enclosing queries' for correlated subqueries) and fails with a clear
//! error for unknown or ambiguous names.
//!
//! Access paths: the WHERE (and inner-join ON) conditions are split into
//! conjuncts; each is applied right after the join step that makes all its
//! columns available, and a table picks the best of:
//!
//! ```text
//!   rowid = e        → point lookup          (INTEGER PRIMARY KEY)
//!   rowid IN (…)     → several lookups
//!   rowid <, >, … e  → range over the rows
//!   idx cols = e …   → index prefix lookup, optionally IN (…) or a range on the next column
//!   otherwise        → full scan
//! ```
//!
//! where `e` may use constants, parameters, outer rows and columns of the
//! tables joined before (a nested-loop index join). Conditions stay as
//! filters too, so an access path only has to be a superset of the answer.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use std::collections::BTreeSet;

use crate::auth::{AuthState, PolicyCmd, Privilege, Roles};
use crate::catalog::{Schema, Table};
use crate::error::{Error, Result, SqlErrorKind};
use crate::sql::aggregate::{agg_kind, AggKind};
use crate::sql::eval::{PExpr, SubPlan};
use crate::sql::functions::ScalarCall;
use crate::sql::typing::{cast_affinity, function_collation, CmpRule, ExprType};
use crate::syntax::ast::*;
use crate::types::{Affinity, Collation, Value};

/// A plan (shared, immutable).
pub type Plan = Arc<Node>;

/// How a table source is read.
#[derive(Clone, Debug)]
pub enum Access {
    /// Every row.
    Full,
    /// Rows whose rowid is one of these values.
    Rowids(Vec<PExpr>),
    /// Rows with rowid in a range (bounds inclusive when true).
    RowidRange(Option<(PExpr, bool)>, Option<(PExpr, bool)>),
    /// Index lookup: `eq` values for the first columns (each a list of
    /// alternatives, for IN), then an optional range on the next column.
    Index {
        /// Position of the index in the table's index list.
        index: usize,
        /// Per leading column: the values it may equal.
        eq: Vec<Vec<PExpr>>,
        /// Range on the next column.
        range: Option<Bounds>,
    },
}

/// A plan node.
#[derive(Debug)]
pub enum Node {
    /// A single row with no columns (SELECT without FROM).
    Unit,
    /// Read a table: its columns then the rowid.
    Scan {
        /// The table.
        table: Arc<Table>,
        /// How.
        access: Access,
    },
    /// Literal rows.
    Values(Vec<Vec<PExpr>>),
    /// Keep rows where `pred` is true.
    Filter(Plan, PExpr),
    /// Nested-loop join; the right side is opened per left row with the
    /// left row as environment.
    Join {
        /// Outer side.
        left: Plan,
        /// Inner side.
        right: Plan,
        /// LEFT JOIN.
        outer: bool,
        /// Join condition over the combined row.
        on: Option<PExpr>,
        /// Width of the right rows (for NULL extension).
        right_width: usize,
    },
    /// Compute expressions.
    Project(Plan, Vec<PExpr>),
    /// Group and aggregate: output = the group's representative input row
    /// (padded to `width`) ++ group values ++ aggregates, so input columns
    /// keep their positions (bare columns and correlated subqueries read
    /// them).
    Aggregate {
        /// Input.
        input: Plan,
        /// Input row width.
        width: usize,
        /// Group keys, each with the collation that says which are equal.
        group: Vec<(PExpr, Collation)>,
        /// Aggregates.
        aggs: Vec<AggCall>,
    },
    /// Sort by keys.
    Sort(Plan, Vec<SortKey>),
    /// Remove duplicate rows (equal under each column's collation).
    Distinct(Plan, Vec<Collation>),
    /// Keep the first `width` columns.
    Trim(Plan, usize),
    /// LIMIT / OFFSET.
    Limit(Plan, Option<PExpr>, Option<PExpr>),
    /// UNION / INTERSECT / EXCEPT, rows equal under each column's
    /// collation.
    SetOp(SetOp, bool, Plan, Plan, Vec<Collation>),
}

/// One ORDER BY key.
#[derive(Clone, Debug)]
pub struct SortKey {
    /// The value sorted by.
    pub expr: PExpr,
    /// DESC.
    pub desc: bool,
    /// NULLs before other values.
    pub nulls_first: bool,
    /// The collation text sorts under.
    pub coll: Collation,
}

/// An ORDER BY term of a SELECT, resolved against its result columns.
struct OrderTerm {
    /// The expression (a position or alias replaced by its result item).
    expr: Expr,
    desc: bool,
    nulls_first: bool,
    /// The result column it names or repeats, if any.
    item: Option<usize>,
}

impl OrderTerm {
    /// The sort key for this term bound as `p` of type `t`.
    fn key(&self, p: PExpr, t: ExprType) -> SortKey {
        SortKey {
            expr: p,
            desc: self.desc,
            nulls_first: self.nulls_first,
            coll: t.coll.unwrap_or_default(),
        }
    }
}

/// The position an ORDER BY or GROUP BY term names, if it is an integer
/// literal (SQLite's `sqlite3ExprIsInteger`: one written with a value that
/// fits in 32 bits, under any unary + and -, so `+(3)` and `-(1)` are
/// positions too, and `-2147483648`, whose digits do not fit, is not).
fn ordinal_of(e: &Expr) -> Option<i64> {
    let mut sign = 1;
    let mut cur = e;
    loop {
        match cur {
            Expr::Unary(UnOp::Plus, x) => cur = x,
            Expr::Unary(UnOp::Neg, x) => {
                sign = -sign;
                cur = x;
            }
            // The parser folds `-N` into one literal: N must fit.
            Expr::Literal(Value::Integer(n))
                if (-(i32::MAX as i64)..=i32::MAX as i64).contains(n) =>
            {
                return Some(n * sign)
            }
            _ => return None,
        }
    }
}

/// `e` without COLLATE wrappers, and the outermost collation named.
fn strip_collate(e: &Expr) -> (&Expr, Option<Collation>) {
    let mut cur = e;
    let mut coll = None;
    while let Expr::Collate(inner, c) = cur {
        coll = coll.or(Some(*c));
        cur = inner;
    }
    (cur, coll)
}

/// One aggregate call.
#[derive(Clone, Debug)]
pub struct AggCall {
    /// Which aggregate.
    pub kind: AggKind,
    /// DISTINCT.
    pub distinct: bool,
    /// Arguments.
    pub args: Vec<PExpr>,
    /// The collating sequence it compares under (min, max, DISTINCT).
    pub coll: Collation,
}

/// A planned query: the plan and its output column names.
#[derive(Debug)]
pub struct Planned {
    /// The plan.
    pub plan: Plan,
    /// Output column names.
    pub columns: Vec<String>,
    /// Output column types (affinity, collation), SQLite's
    /// `sqlite3SubqueryColumnTypes` for the columns of a view or subquery.
    pub types: Vec<ExprType>,
}

#[derive(Clone, Debug)]
struct ScopeCol {
    table: Option<String>,
    name: String,
    hidden: bool,
    affinity: Option<Affinity>,
    /// Its collating sequence (None: none, as `excluded.x`).
    collation: Option<Collation>,
    /// The table or view use this column is read from (an index into
    /// `Planner::uses`), for privilege checks.
    origin: Option<usize>,
}

struct Scope<'a> {
    cols: Vec<ScopeCol>,
    parent: Option<&'a Scope<'a>>,
    /// Set when a name resolved to an enclosing scope.
    correlated: std::cell::Cell<bool>,
    /// A marker scope between a subquery and its enclosing query: it adds
    /// no row level of its own.
    transparent: bool,
}

/// A resolved column name.
struct Resolved {
    /// Query levels out (0: this query's row).
    depth: usize,
    /// Position in that row.
    index: usize,
    affinity: Option<Affinity>,
    collation: Option<Collation>,
    /// The (use, column) it reads, for privilege checks.
    origin: Option<(usize, String)>,
}

static SUB_IDS: AtomicUsize = AtomicUsize::new(1);

fn err(kind: SqlErrorKind, msg: impl Into<String>) -> Error {
    Error::sql(kind, msg)
}

impl<'a> Scope<'a> {
    fn new(cols: Vec<ScopeCol>, parent: Option<&'a Scope<'a>>) -> Scope<'a> {
        Scope {
            cols,
            parent,
            correlated: std::cell::Cell::new(false),
            transparent: false,
        }
    }

    /// Finds `table.name` here (depth 0) or in a parent.
    fn resolve(&self, table: Option<&str>, name: &str) -> Result<Resolved> {
        let find = |name: &str| -> Vec<(usize, &ScopeCol)> {
            self.cols
                .iter()
                .enumerate()
                .filter(|(_, c)| {
                    c.name.eq_ignore_ascii_case(name)
                        && match table {
                            Some(t) => c
                                .table
                                .as_deref()
                                .is_some_and(|ct| ct.eq_ignore_ascii_case(t)),
                            None => true,
                        }
                })
                .collect()
        };
        let mut hits = find(name);
        if hits.is_empty()
            && (name.eq_ignore_ascii_case("_rowid_") || name.eq_ignore_ascii_case("oid"))
        {
            hits = find("rowid")
                .into_iter()
                .filter(|(_, c)| c.hidden)
                .collect();
        }
        let visible: Vec<&(usize, &ScopeCol)> = hits.iter().filter(|(_, c)| !c.hidden).collect();
        if visible.len() > 1 {
            return Err(err(
                SqlErrorKind::Ambiguous,
                format!("ambiguous column name: {name}"),
            ));
        }
        if let Some((i, c)) = visible
            .first()
            .map(|x| **x)
            .or_else(|| hits.first().copied())
        {
            return Ok(Resolved {
                depth: 0,
                index: i,
                affinity: c.affinity,
                collation: c.collation,
                origin: c.origin.map(|o| (o, c.name.clone())),
            });
        }
        match self.parent {
            Some(p) => {
                let mut r = p.resolve(table, name)?;
                self.correlated.set(true);
                r.depth += usize::from(!self.transparent);
                Ok(r)
            }
            None => {
                let full = match table {
                    Some(t) => format!("{t}.{name}"),
                    None => name.to_string(),
                };
                Err(err(
                    SqlErrorKind::UnknownColumn,
                    format!("no such column: {full}"),
                ))
            }
        }
    }
}

/// Plans queries against one schema.
pub struct Planner<'s> {
    schema: &'s Schema,
    /// Views being expanded (to reject recursion).
    expanding: Vec<String>,
    /// Whose rights the uses being recorded are checked against, innermost
    /// last (views, row policies, the trigger being analysed); empty: the
    /// session user's.
    acting: Vec<Definer>,
    /// Tables whose row policies are being bound (to reject recursion).
    binding_policies: Vec<u32>,
    /// Inside a trigger: the use that NEW and OLD columns are recorded on.
    row_use: Option<usize>,
    /// The trigger row's scope, outermost, when planning a trigger body.
    root: Option<std::rc::Rc<Scope<'static>>>,
    /// Who the statement runs as (row-level security, `current_user`).
    sec: Option<Arc<Security>>,
    /// Tables and views the statement reads, with the columns it reads.
    uses: Vec<ObjectUse>,
    /// Whether column references are recorded in `uses` (off while
    /// binding row policies, which the table's owner wrote).
    record: bool,
    /// Whether uses are collected at all (off when executing).
    collect: bool,
}

/// Who a statement runs as, for planning: the session's user and the
/// security catalog it checks against.
pub struct Security {
    /// Whose rights the statement runs with (`current_user`): the
    /// session's user, or a trigger's owner while its body runs.
    pub user: String,
    /// The session's user (`session_user`).
    pub session_user: String,
    /// Its effective roles.
    pub roles: Roles,
    /// The security catalog of the statement's snapshot.
    pub auth: Arc<AuthState>,
    /// Parsed row-policy expressions by their text (shared by the
    /// database's sessions; parsing costs more than the check itself).
    pub policy_exprs: Arc<parking_lot::Mutex<std::collections::HashMap<String, Expr>>>,
}

impl Security {
    fn policy_expr(&self, text: &str) -> Result<Expr> {
        if let Some(e) = self.policy_exprs.lock().get(text) {
            return Ok(e.clone());
        }
        let e = crate::syntax::parse::parse_expr(text)?;
        let mut cache = self.policy_exprs.lock();
        if cache.len() > 1024 {
            cache.clear();
        }
        cache.insert(text.to_string(), e.clone());
        Ok(e)
    }
}

/// One table or view a statement touches, with the privilege it needs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ObjectUse {
    /// Table or view name (lowercase).
    pub object: String,
    /// The privilege needed.
    pub privilege: Privilege,
    /// Columns used (empty: only the object, e.g. `count(*)`).
    pub columns: BTreeSet<String>,
    /// Reached through a view's definition, a trigger or a row policy:
    /// checked against its owner's rights instead of the session's.
    pub definer: Option<Definer>,
}

/// Whose rights a use is checked against when not the session user's.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Definer {
    /// In a view's definition: the view's owner.
    View(String),
    /// In a trigger's WHEN clause or body: the trigger's owner.
    Trigger(String),
    /// In a row policy's expressions: the owner of the policy's table.
    Policy(String),
}

impl Definer {
    /// The roles whose rights apply (none if the owner is unknown).
    pub fn roles(&self, schema: &Schema, auth: &AuthState) -> Roles {
        let id = match self {
            Definer::View(n) | Definer::Policy(n) => schema.object_id(n),
            Definer::Trigger(n) => schema.triggers.get(&n.to_lowercase()).map(|t| t.id),
        };
        match id {
            Some(id) => auth.owner_roles(u64::from(id)),
            None => Roles::nobody(),
        }
    }

    /// How messages name it ("view v", "trigger t", "policies of t").
    pub fn describe(&self) -> String {
        match self {
            Definer::View(n) => format!("view {n}"),
            Definer::Trigger(n) => format!("trigger {n}"),
            Definer::Policy(n) => format!("the row-level security policies of {n}"),
        }
    }
}

fn is_current_user(name: &str) -> bool {
    name.eq_ignore_ascii_case("current_user") || name.eq_ignore_ascii_case("session_user")
}

/// Whether `e` contains an aggregate call (not looking into subqueries).
fn has_aggregate(e: &Expr) -> bool {
    let mut found = false;
    walk(e, &mut |x| {
        if let Expr::Function {
            name, args, star, ..
        } = x
        {
            if agg_kind(name, args.len(), *star).is_some()
                && !(args.len() > 1 && is_scalar_minmax(name))
            {
                found = true;
            }
        }
    });
    found
}

fn is_scalar_minmax(name: &str) -> bool {
    name.eq_ignore_ascii_case("min") || name.eq_ignore_ascii_case("max")
}

/// Visits `e` and its sub-expressions (not subqueries).
fn walk(e: &Expr, f: &mut dyn FnMut(&Expr)) {
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
        Expr::Function { args, .. } => args.iter().for_each(|x| walk(x, f)),
        Expr::Literal(_)
        | Expr::Column { .. }
        | Expr::Param(_)
        | Expr::Exists(..)
        | Expr::Subquery(_) => {}
    }
}

/// Whether `q` calls a function anywhere (SQLite then prepares to undo the
/// statement on any error: its `sqlite3MayAbort`).
pub fn query_calls_function(q: &Query) -> bool {
    fn in_expr(e: &Expr) -> bool {
        let mut found = false;
        walk(e, &mut |x| match x {
            Expr::Function { .. } => found = true,
            Expr::Exists(q, _) | Expr::Subquery(q) => found |= query_calls_function(q),
            Expr::InSubquery { query, .. } => found |= query_calls_function(query),
            _ => {}
        });
        found
    }
    fn in_set(s: &SetExpr) -> bool {
        match s {
            SetExpr::Select(sel) => {
                sel.items
                    .iter()
                    .any(|it| matches!(it, SelectItem::Expr { expr, .. } if in_expr(expr)))
                    || sel.filter.as_ref().is_some_and(in_expr)
                    || sel.having.as_ref().is_some_and(in_expr)
                    || sel.group_by.iter().any(in_expr)
            }
            SetExpr::Values(rows) => rows.iter().flatten().any(in_expr),
            SetExpr::Query(q) => query_calls_function(q),
            SetExpr::SetOp { left, right, .. } => in_set(left) || in_set(right),
        }
    }
    in_set(&q.body) || q.order_by.iter().any(|o| in_expr(&o.expr))
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
            Expr::Exists(..) | Expr::Subquery(_) | Expr::InSubquery { .. }
        ) {
            found = true;
        }
    });
    found
}

/// The columns of the index a single-table plan reads its rows through,
/// if it reads through one.
pub fn scanned_index_columns(plan: &Plan) -> Option<Vec<usize>> {
    match &**plan {
        Node::Filter(inner, _) => scanned_index_columns(inner),
        Node::Scan {
            table,
            access: Access::Index { index, .. },
        } => table.indexes.get(*index).map(|i| i.columns.clone()),
        _ => None,
    }
}

/// Whether `e` consists of constants and the GROUP BY terms `groups`
/// (Debug forms, COLLATE stripped): SQLite's
/// `sqlite3ExprIsConstantOrGroupBy`.
fn constant_or_group_by(e: &Expr, groups: &[String]) -> bool {
    if groups.contains(&format!("{:?}", strip_collate(e).0)) {
        return true;
    }
    match e {
        Expr::Literal(_) | Expr::Param(_) => true,
        Expr::Column { .. } | Expr::Exists(..) | Expr::Subquery(_) | Expr::InSubquery { .. } => {
            false
        }
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
fn direct_children(e: &Expr) -> Vec<&Expr> {
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
        Expr::Function { args, .. } => args.iter().collect(),
        Expr::Literal(_)
        | Expr::Column { .. }
        | Expr::Param(_)
        | Expr::Exists(..)
        | Expr::Subquery(_) => Vec::new(),
    }
}

/// Whether `op` compares its operands (and so takes a [`CmpRule`]).
fn is_comparison(op: BinOp) -> bool {
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
fn is_constant(e: &Expr) -> bool {
    let mut constant = true;
    walk(e, &mut |x| {
        if matches!(
            x,
            Expr::Column { .. } | Expr::Exists(..) | Expr::Subquery(_) | Expr::InSubquery { .. }
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

fn split_and(e: Expr, out: &mut Vec<Expr>) {
    match e {
        Expr::Binary(BinOp::And, a, b) => {
            split_and(*a, out);
            split_and(*b, out);
        }
        other => out.push(other),
    }
}

/// Highest depth-0 column index `e` reads (None: reads none).
fn max_col(e: &PExpr) -> Option<usize> {
    let mut m: Option<usize> = None;
    pwalk(e, &mut |x| {
        if let PExpr::Col(i) = x {
            m = Some(m.map_or(*i, |m| m.max(*i)));
        }
    });
    m
}

fn min_col(e: &PExpr) -> Option<usize> {
    let mut m: Option<usize> = None;
    pwalk(e, &mut |x| {
        if let PExpr::Col(i) = x {
            m = Some(m.map_or(*i, |m| m.min(*i)));
        }
    });
    m
}

fn pwalk(e: &PExpr, f: &mut dyn FnMut(&PExpr)) {
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
        PExpr::Lit(_)
        | PExpr::Col(_)
        | PExpr::Outer(..)
        | PExpr::Param(_)
        | PExpr::Exists(..)
        | PExpr::Scalar(_) => {}
    }
}

/// Whether `e` reads correlated subqueries (which may read any column).
fn has_subquery(e: &PExpr) -> bool {
    let mut found = false;
    pwalk(e, &mut |x| {
        if let PExpr::InSub(_, s, ..) | PExpr::Exists(s, _) | PExpr::Scalar(s) = x {
            if s.correlated {
                found = true;
            }
        }
    });
    found
}

/// The source for reading table `t` under name `label`: its columns, then
/// the hidden rowid.
fn table_source_of(t: &Arc<Table>, label: String) -> Source {
    let mut cols: Vec<ScopeCol> = t
        .columns
        .iter()
        .map(|c| ScopeCol {
            table: Some(label.clone()),
            name: c.name.clone(),
            hidden: false,
            affinity: Some(c.affinity),
            collation: Some(c.collation),
            origin: None,
        })
        .collect();
    // The hidden last column is the rowid (also reachable as _rowid_
    // and oid, see Scope::resolve).
    // A WITHOUT ROWID table shows none: the column keeps its place (the
    // engine reads rows by it) under a name no SQL can write.
    cols.push(ScopeCol {
        table: Some(label.clone()),
        name: if t.without_rowid {
            String::new()
        } else if t.column("rowid").is_none() {
            "rowid".into()
        } else {
            "_rowid_".into()
        },
        hidden: true,
        affinity: Some(Affinity::Integer),
        collation: Some(Collation::Binary),
        origin: None,
    });
    Source {
        plan: None,
        table: Some(t.clone()),
        cols,
        outer: false,
        on: Vec::new(),
        policy: None,
        hint: None,
    }
}

/// The proposed row of an upsert, `excluded.*`: hidden, so an unqualified
/// name means the existing row's column; as in SQLite (registers, not
/// columns) its values have no affinity and no collation.
fn excluded_cols(t: &Arc<Table>) -> Vec<ScopeCol> {
    let mut cols = table_source_of(t, "excluded".into()).cols;
    for c in cols.iter_mut() {
        c.hidden = true;
        c.affinity = None;
        c.collation = None;
    }
    cols
}

/// A trigger's row, `label.*` (NEW or OLD): as in SQLite its columns keep
/// their collation but have no affinity (only the rowid is INTEGER).
fn trigger_row_cols(t: &Arc<Table>, label: &str) -> Vec<ScopeCol> {
    let mut cols = table_source_of(t, label.into()).cols;
    let n = cols.len();
    for c in cols.iter_mut().take(n - 1) {
        c.affinity = None;
    }
    cols
}

/// A FROM source during planning.
struct Source {
    plan: Option<Plan>,
    table: Option<Arc<Table>>,
    cols: Vec<ScopeCol>,
    outer: bool,
    on: Vec<Expr>,
    /// Row-level security filter over this source's own row.
    policy: Option<PExpr>,
    /// INDEXED BY (the index's position) / NOT INDEXED.
    hint: Option<AccessHint>,
}

/// An index hint resolved against its table.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum AccessHint {
    /// NOT INDEXED.
    NoIndex,
    /// INDEXED BY the table's index at this position.
    Index(usize),
}

/// Resolves `hint` against table `t`: SQLite's "no such index" when the
/// index does not exist (on this table).
fn resolve_hint(t: &Table, hint: Option<&IndexHint>) -> Result<Option<AccessHint>> {
    Ok(match hint {
        None => None,
        Some(IndexHint::NotIndexed) => Some(AccessHint::NoIndex),
        Some(IndexHint::IndexedBy(name)) => {
            let pos = t
                .indexes
                .iter()
                .position(|i| i.name.eq_ignore_ascii_case(name))
                .ok_or_else(|| err(SqlErrorKind::UnknownTable, format!("no such index: {name}")))?;
            Some(AccessHint::Index(pos))
        }
    })
}

/// Text shown as the column name of an expression.
fn expr_name(e: &Expr) -> String {
    match e {
        Expr::Column { name, .. } => name.clone(),
        Expr::Literal(v) => v.to_text().unwrap_or_else(|| "NULL".into()),
        Expr::Function {
            name, args, star, ..
        } => {
            if *star {
                format!("{name}(*)")
            } else {
                format!(
                    "{name}({})",
                    args.iter().map(expr_name).collect::<Vec<_>>().join(", ")
                )
            }
        }
        Expr::Param(i) => format!("?{i}"),
        _ => "expr".into(),
    }
}

impl<'s> Planner<'s> {
    /// A planner over `schema`.
    pub fn new(schema: &'s Schema) -> Self {
        Planner {
            schema,
            expanding: Vec::new(),
            acting: Vec::new(),
            binding_policies: Vec::new(),
            row_use: None,
            root: None,
            sec: None,
            uses: Vec::new(),
            record: true,
            collect: true,
        }
    }

    /// A planner for statements in the body of a trigger on `table`: NEW
    /// and OLD name the trigger's row, which runs as the outermost row
    /// (`NEW` columns ++ rowid ++ `OLD` columns ++ rowid). With `trigger`
    /// (when analysing it for authorization), uses are checked against
    /// the trigger owner's rights, and reading a column of NEW or OLD
    /// needs SELECT on that column of `table`.
    pub fn for_trigger(schema: &'s Schema, table: &Arc<Table>, trigger: Option<&str>) -> Self {
        // NEW and OLD carry no affinity (SQLite: a trigger's row registers
        // hold values, not columns).
        let mut cols = trigger_row_cols(table, "new");
        cols.extend(trigger_row_cols(table, "old"));
        let mut p = Planner::new(schema);
        if let Some(name) = trigger {
            p.acting.push(Definer::Trigger(name.to_lowercase()));
            p.row_use = p.track_reads(&table.name, &mut cols);
        }
        p.root = Some(std::rc::Rc::new(Scope::new(cols, None)));
        p
    }

    /// Plans as `sec`'s user: row policies apply, `current_user` is known.
    pub fn with_security(mut self, sec: Option<Arc<Security>>) -> Self {
        self.sec = sec;
        self
    }

    /// A planner for running a statement already authorized: it does not
    /// collect uses (nothing would read them).
    pub fn executing(mut self) -> Self {
        self.collect = false;
        self
    }

    /// Records a SELECT use of `object`, read through `cols` (whose
    /// resolved columns are then recorded on it); returns its index.
    fn track_reads(&mut self, object: &str, cols: &mut [ScopeCol]) -> Option<usize> {
        if !self.collect {
            return None;
        }
        let origin = self.uses.len();
        self.record_use(object, Privilege::Select, &[]);
        for c in cols.iter_mut() {
            c.origin = Some(origin);
        }
        Some(origin)
    }

    /// The tables and views used so far (see [`ObjectUse`]).
    pub fn take_uses(&mut self) -> Vec<ObjectUse> {
        let mut uses = std::mem::take(&mut self.uses);
        // A trigger that reads no column of NEW or OLD needs no SELECT.
        if let Some(i) = self.row_use.take() {
            if uses.get(i).is_some_and(|u| u.columns.is_empty()) {
                uses.remove(i);
            }
        }
        uses
    }

    /// Records that the statement needs `privilege` on `object` (the
    /// target of INSERT/UPDATE/DELETE, with the columns it writes).
    pub fn record_use(&mut self, object: &str, privilege: Privilege, columns: &[String]) {
        if !self.collect {
            return;
        }
        let definer = self.acting.last().cloned();
        self.uses.push(ObjectUse {
            object: object.to_lowercase(),
            privilege,
            columns: columns.iter().map(|c| c.to_lowercase()).collect(),
            definer,
        });
    }

    fn current_user(&self) -> String {
        self.sec
            .as_ref()
            .map(|s| s.user.clone())
            .unwrap_or_else(|| crate::auth::ROOT.to_string())
    }

    /// `current_user` or `session_user`.
    fn user_named(&self, name: &str) -> String {
        if name.eq_ignore_ascii_case("session_user") {
            self.session_user()
        } else {
            self.current_user()
        }
    }

    fn session_user(&self) -> String {
        self.sec
            .as_ref()
            .map(|s| s.session_user.clone())
            .unwrap_or_else(|| crate::auth::ROOT.to_string())
    }

    /// The roles whose rights apply here: the owner's inside a view's
    /// definition, a row policy or a trigger, else the session user's.
    fn principal(&self) -> Option<Roles> {
        let sec = self.sec.as_ref()?;
        Some(match self.acting.last() {
            Some(d) => d.roles(self.schema, &sec.auth),
            None => sec.roles.clone(),
        })
    }

    /// Inside a view's definition, `name` must still lead to the object it
    /// led to when the view was created (see `catalog::View::binds`).
    fn check_view_binding(&self, name: &str) -> Result<()> {
        let Some(view) = self.expanding.last().and_then(|v| self.schema.view(v)) else {
            return Ok(());
        };
        let Some(binds) = &view.binds else {
            return Ok(());
        };
        let Some(now) = self.schema.object_id(name) else {
            return Ok(());
        };
        let lower = name.to_lowercase();
        if binds.iter().any(|(n, id)| *n == lower && *id == now) {
            return Ok(());
        }
        Err(err(
            SqlErrorKind::Misuse,
            format!(
                "view {} was made on another {name}: {name} was dropped and replaced since; recreate the view",
                view.name
            ),
        ))
    }

    /// Refuses a policy whose names no longer lead to what they named when
    /// it was created (see [`crate::auth::state::PolicyRef`]).
    fn check_policy_refs(&self, t: &Table, p: &crate::auth::Policy) -> Result<()> {
        for r in &p.refs {
            // The policy's own table is bound by id (renaming it keeps
            // its policies); other tables must still be what they were.
            let own = r.object == u64::from(t.id);
            let id = match own {
                true => Some(r.object),
                false => self.schema.object_id(&r.name).map(u64::from),
            };
            let table = match own {
                true => Some(t),
                false => self.schema.table(&r.name).map(|x| &**x),
            };
            let columns_hold = || match table {
                Some(tbl) => r.columns.iter().all(|(cid, cname)| {
                    tbl.column_by_id(*cid)
                        .is_some_and(|i| tbl.columns[i].name.eq_ignore_ascii_case(cname))
                }),
                None => true,
            };
            if id != Some(r.object) || !columns_hold() {
                return Err(Error::PermissionDenied {
                    message: format!(
                        "row-level security policy {} on {} no longer means what it did: {} \
                         was renamed, replaced or changed since; the table's owner must recreate the policy",
                        p.name, t.name, r.name
                    ),
                });
            }
        }
        Ok(())
    }

    /// The row filter of `t` for `cmd` under row-level security, bound
    /// over the table's row (columns ++ rowid); `None` when RLS does not
    /// apply. With `check`, the WITH CHECK condition for new rows.
    pub fn row_policy(
        &mut self,
        t: &Arc<Table>,
        cmd: PolicyCmd,
        check: bool,
    ) -> Result<Option<PExpr>> {
        let Some(roles) = self.principal() else {
            return Ok(None);
        };
        let Some(sec) = self.sec.clone() else {
            return Ok(None);
        };
        let id = u64::from(t.id);
        if !sec.auth.rls_applies(&roles, id) {
            return Ok(None);
        }
        if self.binding_policies.contains(&t.id) {
            return Err(Error::PermissionDenied {
                message: format!(
                    "infinite recursion in the row-level security policies of {}",
                    t.name
                ),
            });
        }
        let mut any: Option<Expr> = None;
        for p in sec.auth.policies_for(&roles, id, cmd) {
            self.check_policy_refs(t, p)?;
            let text = if check {
                p.check.as_ref().or(p.using.as_ref())
            } else {
                p.using.as_ref()
            };
            let Some(text) = text else { continue };
            let e = sec.policy_expr(text)?;
            any = Some(match any {
                None => e,
                Some(prev) => Expr::Binary(BinOp::Or, Box::new(prev), Box::new(e)),
            });
        }
        // No applicable policy: no rows (deny by default).
        let e = any.unwrap_or(Expr::Literal(Value::Integer(0)));
        // The policy's own table's columns need no privilege (its owner
        // wrote it); what else it reads is checked against the owner.
        let scope = Scope::new(table_source_of(t, t.name.clone()).cols, None);
        self.acting.push(Definer::Policy(t.name.to_lowercase()));
        self.binding_policies.push(t.id);
        let bound = self.expr(&e, &scope);
        self.binding_policies.pop();
        self.acting.pop();
        Ok(Some(bound?))
    }

    /// Binds a row policy's expression over its table's row as the
    /// table's owner would run it, and returns what it reads (the table's
    /// own columns included).
    pub fn policy_uses(&mut self, t: &Arc<Table>, e: &Expr) -> Result<Vec<ObjectUse>> {
        let mut cols = table_source_of(t, t.name.clone()).cols;
        self.acting.push(Definer::Policy(t.name.to_lowercase()));
        self.track_reads(&t.name, &mut cols);
        let scope = Scope::new(cols, None);
        let r = self.expr(e, &scope);
        self.acting.pop();
        r?;
        Ok(self.take_uses())
    }

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

    fn query_in(&mut self, q: &Query, parent: Option<&Scope>) -> Result<Planned> {
        match &q.body {
            SetExpr::Select(sel) => self.select(sel, &q.order_by, &q.limit, &q.offset, parent),
            body => {
                let planned = self.set_expr(body, parent)?;
                let width = planned.columns.len();
                let mut plan = planned.plan;
                if !q.order_by.is_empty() {
                    // The result columns by name, each with its collation
                    // (a compound's: SQLite's multiSelectCollSeq).
                    let scope = Scope::new(
                        planned
                            .columns
                            .iter()
                            .zip(&planned.types)
                            .map(|(c, t)| ScopeCol {
                                table: None,
                                name: c.clone(),
                                hidden: false,
                                affinity: t.aff,
                                collation: t.coll,
                                origin: None,
                            })
                            .collect(),
                        parent,
                    );
                    let mut keys = Vec::new();
                    for it in &q.order_by {
                        let (bare, explicit) = strip_collate(&it.expr);
                        let (e, coll) = match ordinal_of(bare) {
                            Some(n) if n >= 1 && (n as usize) <= width => {
                                let i = n as usize - 1;
                                let natural = planned.types.get(i).and_then(|t| t.coll);
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
                    plan = Arc::new(Node::Sort(plan, keys));
                }
                if q.limit.is_some() || q.offset.is_some() {
                    let scope = Scope::new(Vec::new(), parent);
                    let l = q.limit.as_ref().map(|e| self.expr(e, &scope)).transpose()?;
                    let o = q
                        .offset
                        .as_ref()
                        .map(|e| self.expr(e, &scope))
                        .transpose()?;
                    plan = Arc::new(Node::Limit(plan, l, o));
                }
                Ok(Planned {
                    plan,
                    columns: planned.columns,
                    types: planned.types,
                })
            }
        }
    }

    fn set_expr(&mut self, s: &SetExpr, parent: Option<&Scope>) -> Result<Planned> {
        match s {
            SetExpr::Select(sel) => self.select(sel, &[], &None, &None, parent),
            SetExpr::Query(q) => self.query_in(q, parent),
            SetExpr::Values(rows) => {
                let width = rows.first().map_or(0, |r| r.len());
                let scope = Scope::new(Vec::new(), parent);
                let mut out = Vec::new();
                let mut types = Vec::new();
                for r in rows {
                    if r.len() != width {
                        return Err(err(
                            SqlErrorKind::Misuse,
                            "all VALUES must have the same number of terms",
                        ));
                    }
                    let mut row = Vec::with_capacity(width);
                    for e in r {
                        let (p, t) = self.bind(e, &scope, None)?;
                        row.push(p);
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
                // Each column compares under the collation of its leftmost
                // SELECT that defines one, and takes the affinity of its
                // leftmost SELECT that has one.
                let types: Vec<ExprType> = l
                    .types
                    .iter()
                    .zip(&r.types)
                    .map(|(a, b)| ExprType {
                        aff: a.aff.or(b.aff),
                        coll: a.coll.or(b.coll),
                        explicit: false,
                    })
                    .collect();
                let colls = types.iter().map(|t| t.coll.unwrap_or_default()).collect();
                Ok(Planned {
                    plan: Arc::new(Node::SetOp(*op, *all, l.plan, r.plan, colls)),
                    columns: l.columns,
                    types,
                })
            }
        }
    }

    fn table_source(
        &mut self,
        name: &str,
        alias: Option<&str>,
        hint: Option<&IndexHint>,
        parent: Option<&Scope>,
    ) -> Result<Source> {
        let label = alias.unwrap_or(name).to_string();
        self.check_view_binding(name)?;
        if let Some(t) = self.schema.table(name) {
            let mut src = table_source_of(t, label);
            self.track_reads(&t.name, &mut src.cols);
            src.policy = self.row_policy(t, PolicyCmd::Select, false)?;
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
            let origin = self.track_reads(&v.name, &mut []);
            self.expanding.push(key.clone());
            self.acting.push(Definer::View(key));
            let planned = self.query_in(&v.query, None);
            self.acting.pop();
            self.expanding.pop();
            let planned = planned?;
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
                    .map(|(n, t)| ScopeCol {
                        table: Some(label.clone()),
                        name: n,
                        hidden: false,
                        affinity: t.aff,
                        collation: t.coll.or(Some(Collation::Binary)),
                        origin,
                    })
                    .collect(),
                outer: false,
                on: Vec::new(),
                policy: None,
                hint: None,
            });
        }
        let _ = parent;
        Err(err(
            SqlErrorKind::UnknownTable,
            format!("no such table: {name}"),
        ))
    }

    fn flatten_from(
        &mut self,
        item: &FromItem,
        parent: Option<&Scope>,
        out: &mut Vec<Source>,
    ) -> Result<()> {
        match item {
            FromItem::Table { name, alias, hint } => {
                out.push(self.table_source(name, alias.as_deref(), hint.as_ref(), parent)?)
            }
            FromItem::Subquery { query, alias } => {
                let planned = self.query_in(query, parent)?;
                let label = alias.clone();
                out.push(Source {
                    plan: Some(planned.plan),
                    table: None,
                    cols: planned
                        .columns
                        .into_iter()
                        .zip(&planned.types)
                        .map(|(n, t)| ScopeCol {
                            table: label.clone(),
                            name: n,
                            hidden: false,
                            affinity: t.aff,
                            collation: t.coll.or(Some(Collation::Binary)),
                            origin: None,
                        })
                        .collect(),
                    outer: false,
                    on: Vec::new(),
                    policy: None,
                    hint: None,
                });
            }
            FromItem::Join {
                left,
                right,
                kind,
                on,
                using,
            } => {
                self.flatten_from(left, parent, out)?;
                let left_cols: Vec<ScopeCol> = out.iter().flat_map(|s| s.cols.clone()).collect();
                let mut src = match &**right {
                    FromItem::Join { .. } => {
                        return Err(err(
                            SqlErrorKind::Unsupported,
                            "a join nested on the right of a join",
                        ));
                    }
                    r => {
                        let mut tmp = Vec::new();
                        self.flatten_from(r, parent, &mut tmp)?;
                        tmp.pop()
                            .ok_or_else(|| err(SqlErrorKind::Misuse, "empty join"))?
                    }
                };
                src.outer = *kind == JoinKind::Left;
                if let Some(on) = on {
                    split_and(on.clone(), &mut src.on);
                }
                for u in using {
                    let lt = left_cols
                        .iter()
                        .rev()
                        .find(|c| c.name.eq_ignore_ascii_case(u) && !c.hidden)
                        .and_then(|c| c.table.clone())
                        .ok_or_else(|| {
                            err(
                                SqlErrorKind::UnknownColumn,
                                format!("cannot join using column {u}"),
                            )
                        })?;
                    let rt = src.cols.first().and_then(|c| c.table.clone());
                    src.on.push(Expr::Binary(
                        BinOp::Eq,
                        Box::new(Expr::Column {
                            table: Some(lt),
                            name: u.clone(),
                        }),
                        Box::new(Expr::Column {
                            table: rt,
                            name: u.clone(),
                        }),
                    ));
                    // The right copy of a USING column is hidden from `*`.
                    for c in src.cols.iter_mut() {
                        if c.name.eq_ignore_ascii_case(u) {
                            c.hidden = true;
                        }
                    }
                }
                out.push(src);
            }
        }
        Ok(())
    }

    fn select(
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

        // Conjuncts: WHERE plus ON of inner joins, bound over the full scope.
        let mut where_parts = Vec::new();
        if let Some(f) = &sel.filter {
            split_and(f.clone(), &mut where_parts);
        }
        let mut pending: Vec<(PExpr, bool)> = Vec::new(); // (expr, used)
        for w in &where_parts {
            pending.push((self.expr(w, &scope)?, false));
        }
        let mut plan: Option<Plan> = None;
        let mut width = 0usize;
        let n_sources = sources.len();
        for (si, src) in sources.iter_mut().enumerate() {
            let start = width;
            let end = start + src.cols.len();
            let on: Vec<PExpr> = src
                .on
                .iter()
                .map(|e| self.expr(e, &scope))
                .collect::<Result<_>>()?;
            // Conditions usable to pick the access path of this source.
            let mut cands: Vec<&PExpr> = on.iter().collect();
            if !src.outer {
                cands.extend(pending.iter().filter(|(_, used)| !used).map(|(e, _)| e));
            }
            let node = match (&src.table, src.plan.take()) {
                (Some(t), _) => {
                    let access = choose_access(t, start, &cands, src.hint)?;
                    Arc::new(Node::Scan {
                        table: t.clone(),
                        access,
                    })
                }
                (None, Some(p)) => p,
                (None, None) => return Err(err(SqlErrorKind::Misuse, "empty source")),
            };
            // Row-level security first, right on the source's rows.
            let node = match src.policy.take() {
                Some(p) => Arc::new(Node::Filter(node, p)),
                None => node,
            };
            // Single-source filters go below the join, re-based to 0.
            let mut own = Vec::new();
            if !src.outer {
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
            let mut node = node;
            for f in own {
                node = Arc::new(Node::Filter(node, f));
            }
            plan = Some(match plan {
                None => {
                    let mut n = node;
                    for o in on {
                        n = Arc::new(Node::Filter(n, o));
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
                        outer: src.outer,
                        on: on_expr,
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
                if !*used && (max_col(e).is_none_or(|m| m < width) && (!has_subquery(e) || last)) {
                    p = Arc::new(Node::Filter(p, e.clone()));
                    *used = true;
                }
            }
            plan = Some(p);
        }
        let mut plan = plan.unwrap_or_else(|| Arc::new(Node::Unit));
        for (e, used) in pending {
            if !used {
                plan = Arc::new(Node::Filter(plan, e));
            }
        }

        // Aggregation?
        let aggregate = !sel.group_by.is_empty()
            || sel.having.is_some()
            || sel
                .items
                .iter()
                .any(|it| matches!(it, SelectItem::Expr { expr, .. } if has_aggregate(expr)))
            || order_by.iter().any(|o| has_aggregate(&o.expr));

        // Expand result items.
        let mut items: Vec<(Expr, String)> = Vec::new();
        for it in &sel.items {
            match it {
                SelectItem::Wildcard => {
                    if all_cols.is_empty() {
                        return Err(err(SqlErrorKind::Misuse, "no tables specified"));
                    }
                    for c in all_cols.iter().filter(|c| !c.hidden) {
                        items.push((
                            Expr::Column {
                                table: c.table.clone(),
                                name: c.name.clone(),
                            },
                            c.name.clone(),
                        ));
                    }
                }
                SelectItem::QualifiedWildcard(t) => {
                    let mut any = false;
                    for c in all_cols.iter().filter(|c| {
                        !c.hidden
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
                SelectItem::Expr { expr, alias } => {
                    let name = alias.clone().unwrap_or_else(|| expr_name(expr));
                    items.push((expr.clone(), name));
                }
            }
        }
        let columns: Vec<String> = items.iter().map(|(_, n)| n.clone()).collect();
        let width_out = items.len();

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

        let (mut proj, types, having, keys) = if aggregate {
            let sel = self.having_to_where(&mut plan, sel, &items, &scope, &all_cols)?;
            self.plan_aggregate(&mut plan, &sel, &items, &order_exprs, &scope, &all_cols)?
        } else {
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
            plan = Arc::new(Node::Filter(plan, h));
        }
        // ORDER BY satisfied by the rowid or an index: read in that order.
        let mut keys = keys;
        if !aggregate && !sel.distinct && !keys.is_empty() && n_sources == 1 {
            if let Some(t) = sources.first().and_then(|src| src.table.clone()) {
                if let Some(p) = ordered_scan(&plan, &t, &keys) {
                    plan = p;
                    keys.clear();
                }
            }
        }
        let colls: Vec<Collation> = types.iter().map(|t| t.coll.unwrap_or_default()).collect();
        if sel.distinct {
            plan = Arc::new(Node::Project(plan, proj));
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
            plan = Arc::new(Node::Project(plan, proj));
            plan = Arc::new(Node::Sort(plan, sort));
            plan = Arc::new(Node::Trim(plan, width_out));
        } else {
            plan = Arc::new(Node::Project(plan, proj));
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
            types,
        })
    }

    /// SQLite's `havingToWhere`: a HAVING conjunct made only of constants
    /// and GROUP BY terms (that group under BINARY) filters the rows before
    /// grouping instead (it is the same for every row of a group). The
    /// answer is the same; what differs is which groups are computed at
    /// all, which shows when an aggregate fails (sum overflowing).
    fn having_to_where(
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
                *plan = Arc::new(Node::Filter(plan.clone(), bound));
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
    fn plan_aggregate(
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
            group_dbg: group_exprs.iter().map(|e| format!("{e:?}")).collect(),
            group_types,
            aggs: Vec::new(),
            agg_dbg: Vec::new(),
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
        let having = sel
            .having
            .as_ref()
            .map(|h| self.post_agg(h, scope, &mut cx))
            .transpose()?;
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

    /// Binds an expression evaluated over an aggregate's output row: group
    /// keys and aggregate calls read their output columns.
    fn post_agg(&mut self, e: &Expr, scope: &Scope, cx: &mut AggBind) -> Result<PExpr> {
        Ok(self.bind(e, scope, Some(cx))?.0)
    }

    /// Binds an expression in `scope`.
    fn expr(&mut self, e: &Expr, scope: &Scope) -> Result<PExpr> {
        Ok(self.bind(e, scope, None)?.0)
    }

    /// Binds an expression in `scope` and types it by SQLite's rules (see
    /// [`ExprType`]); comparisons get their [`CmpRule`] here. With `agg`,
    /// the expression is evaluated over an aggregate's output row: a group
    /// key or an aggregate call reads its output column, and bare columns
    /// read the group's representative row, which sits at the input's
    /// positions.
    fn bind(
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
            Expr::Function { name, args, .. } if args.is_empty() && is_current_user(name) => (
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
                // The rowid aliases: _rowid_ and oid name the rowid column.
                if r.depth == 0 {
                    (PExpr::Col(r.index), t)
                } else {
                    (PExpr::Outer(r.depth, r.index), t)
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
                (
                    PExpr::InList(b(x), items, *negated, rule),
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
            Expr::Function {
                name, args, star, ..
            } => {
                if agg_kind(name, args.len(), *star).is_some()
                    && !(args.len() > 1 && is_scalar_minmax(name))
                {
                    return Err(err(
                        SqlErrorKind::Misuse,
                        format!("misuse of aggregate function {name}()"),
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
                (
                    PExpr::Func(ScalarCall::resolve_args_collated(name, args, coll), a),
                    ExprType::combine(&types),
                )
            }
        })
    }

    /// Over an aggregate's output: `e` as a group key or an aggregate call
    /// (its output column and type), or `None` for anything else.
    fn agg_output(
        &mut self,
        e: &Expr,
        scope: &Scope,
        cx: &mut AggBind,
    ) -> Result<Option<(PExpr, ExprType)>> {
        let dbg = format!("{e:?}");
        let ng = cx.group_dbg.len();
        if let Some(i) = cx.group_dbg.iter().position(|g| *g == dbg) {
            return Ok(Some((PExpr::Col(cx.width + i), cx.group_types[i])));
        }
        let Expr::Function {
            name,
            args,
            distinct,
            star,
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
        if let Some(j) = cx.agg_dbg.iter().position(|a| *a == dbg) {
            return Ok(Some((PExpr::Col(cx.width + ng + j), cx.agg_types[j])));
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
        for a in args {
            let (p, t) = self.bind(a, scope, None)?;
            bound.push(p);
            types.push(t);
        }
        cx.aggs.push(AggCall {
            kind: kind.marking_json(args),
            distinct: *distinct,
            args: bound,
            coll: function_collation(&types),
        });
        cx.agg_dbg.push(dbg);
        let t = ExprType::combine(&types);
        cx.agg_types.push(t);
        Ok(Some((PExpr::Col(cx.width + ng + cx.aggs.len() - 1), t)))
    }

    fn subplan(
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
        Ok((
            Arc::new(SubPlan {
                id: SUB_IDS.fetch_add(1, Ordering::Relaxed),
                plan: planned.plan,
                correlated,
            }),
            planned.types,
        ))
    }

    /// Every row of `table` (columns ++ rowid) straight from its rows,
    /// through no index (for rebuilding or checking indexes).
    pub fn full_scan(table: &Arc<Table>) -> Plan {
        Arc::new(Node::Scan {
            table: table.clone(),
            access: Access::Full,
        })
    }

    /// Plans a single-table read for UPDATE/DELETE: rows of the table
    /// (columns ++ rowid) matching `filter`.
    pub fn table_rows(&mut self, table: &Arc<Table>, filter: Option<&Expr>) -> Result<Plan> {
        self.table_rows_for(table, filter, None, None, false)
    }

    /// [`Self::table_rows`] for UPDATE or DELETE (`cmd`): only the rows
    /// row-level security lets the user change — and, when the statement
    /// reads the rows (`reads_rows`, see [`reads_target`]), only rows the
    /// SELECT policies let it see, as in PostgreSQL — with the columns read
    /// by `filter` recorded as needing SELECT. The policies are applied
    /// before `filter`, so a WHERE clause never runs on a hidden row (no
    /// error oracle).
    pub fn table_rows_for(
        &mut self,
        table: &Arc<Table>,
        filter: Option<&Expr>,
        cmd: Option<PolicyCmd>,
        hint: Option<&IndexHint>,
        reads_rows: bool,
    ) -> Result<Plan> {
        let hint = resolve_hint(table, hint)?;
        let select_policy = match cmd {
            Some(_) if reads_rows => self.row_policy(table, PolicyCmd::Select, false)?,
            _ => None,
        };
        let policy = match cmd {
            Some(c) => self.row_policy(table, c, false)?,
            None => None,
        };
        let mut src = table_source_of(table, table.name.clone());
        let origin = match cmd {
            Some(_) => self.track_reads(&table.name, &mut src.cols),
            None => None,
        };
        let root = self.root.clone();
        let scope = Scope::new(src.cols, root.as_deref());
        let mut parts = Vec::new();
        if let Some(f) = filter {
            split_and(f.clone(), &mut parts);
        }
        let bound: Vec<PExpr> = parts
            .iter()
            .map(|p| self.expr(p, &scope))
            .collect::<Result<_>>()?;
        // A filter that reads no column (or none at all) needs no SELECT,
        // as in PostgreSQL: `DELETE FROM t` needs only DELETE.
        if let Some(o) = origin.filter(|o| {
            self.uses
                .get(*o)
                .is_some_and(|u| u.privilege == Privilege::Select && u.columns.is_empty())
        }) {
            self.uses.remove(o);
        }
        let access = choose_access(table, 0, &bound.iter().collect::<Vec<_>>(), hint)?;
        let mut plan: Plan = Arc::new(Node::Scan {
            table: table.clone(),
            access,
        });
        if let Some(p) = select_policy {
            plan = Arc::new(Node::Filter(plan, p));
        }
        if let Some(p) = policy {
            plan = Arc::new(Node::Filter(plan, p));
        }
        for b in bound {
            plan = Arc::new(Node::Filter(plan, b));
        }
        Ok(plan)
    }

    /// Binds expressions over one table's row (columns ++ rowid), for
    /// UPDATE SET, RETURNING and DEFAULT.
    pub fn table_exprs(&mut self, table: &Arc<Table>, exprs: &[Expr]) -> Result<Vec<PExpr>> {
        let src = table_source_of(table, table.name.clone());
        let root = self.root.clone();
        let scope = Scope::new(src.cols, root.as_deref());
        exprs.iter().map(|e| self.expr(e, &scope)).collect()
    }

    /// Records the columns of `table` that `exprs` read (SET expressions,
    /// ON CONFLICT) as needing SELECT.
    pub fn reads_of(&mut self, table: &Arc<Table>, exprs: &[Expr]) -> Result<()> {
        let mut cols = table_source_of(table, table.name.clone()).cols;
        let origin = self.track_reads(&table.name, &mut cols);
        // `excluded` (the proposed row) is the statement's own data.
        cols.extend(excluded_cols(table));
        let root = self.root.clone();
        let scope = Scope::new(cols, root.as_deref());
        for e in exprs {
            self.expr(e, &scope)?;
        }
        // A SET of constants reads nothing: no SELECT needed.
        if let Some(o) = origin.filter(|o| self.uses.get(*o).is_some_and(|u| u.columns.is_empty()))
        {
            self.uses.remove(o);
        }
        Ok(())
    }

    /// Records the columns RETURNING reads as needing SELECT.
    pub fn returning_reads(&mut self, table: &Arc<Table>, items: &[SelectItem]) -> Result<()> {
        let mut exprs = Vec::new();
        for it in items {
            match it {
                SelectItem::Wildcard | SelectItem::QualifiedWildcard(_) => {
                    for c in &table.columns {
                        exprs.push(Expr::Column {
                            table: None,
                            name: c.name.clone(),
                        });
                    }
                }
                SelectItem::Expr { expr, .. } => exprs.push(expr.clone()),
            }
        }
        self.reads_of(table, &exprs)
    }

    /// Binds an ON CONFLICT DO UPDATE expression over (existing row ++
    /// the proposed row, named `excluded`).
    pub fn upsert_expr(&mut self, table: &Arc<Table>, e: &Expr) -> Result<PExpr> {
        let mut cols = table_source_of(table, table.name.clone()).cols;
        cols.extend(excluded_cols(table));
        let root = self.root.clone();
        let scope = Scope::new(cols, root.as_deref());
        self.expr(e, &scope)
    }

    /// Result items over one table's row (RETURNING).
    pub fn returning(
        &mut self,
        table: &Arc<Table>,
        items: &[SelectItem],
    ) -> Result<(Vec<PExpr>, Vec<String>)> {
        let mut exprs = Vec::new();
        let mut names = Vec::new();
        for it in items {
            match it {
                SelectItem::Wildcard | SelectItem::QualifiedWildcard(_) => {
                    for c in &table.columns {
                        exprs.push(Expr::Column {
                            table: None,
                            name: c.name.clone(),
                        });
                        names.push(c.name.clone());
                    }
                }
                SelectItem::Expr { expr, alias } => {
                    names.push(alias.clone().unwrap_or_else(|| expr_name(expr)));
                    exprs.push(expr.clone());
                }
            }
        }
        Ok((self.table_exprs(table, &exprs)?, names))
    }
}

/// State while binding the expressions over an aggregate's output.
struct AggBind {
    group_dbg: Vec<String>,
    group_types: Vec<ExprType>,
    aggs: Vec<AggCall>,
    agg_dbg: Vec<String>,
    agg_types: Vec<ExprType>,
    width: usize,
}

fn shift_cols(e: &PExpr, by: usize) -> PExpr {
    map_cols(e.clone(), &|i| i - by)
}

/// Rewrites every depth-0 column index with `f`.
fn map_cols(e: PExpr, f: &dyn Fn(usize) -> usize) -> PExpr {
    let m = |x: Box<PExpr>| Box::new(map_cols(*x, f));
    match e {
        PExpr::Col(i) => PExpr::Col(f(i)),
        PExpr::Unary(o, x) => PExpr::Unary(o, m(x)),
        PExpr::Binary(o, a, b) => PExpr::Binary(o, m(a), m(b)),
        PExpr::Cmp(o, a, b, r) => PExpr::Cmp(o, m(a), m(b), r),
        PExpr::IsNull(x, n) => PExpr::IsNull(m(x), n),
        PExpr::InList(x, l, n, r) => {
            PExpr::InList(m(x), l.into_iter().map(|y| map_cols(y, f)).collect(), n, r)
        }
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
        PExpr::Func(n, a) => PExpr::Func(n, a.into_iter().map(|y| map_cols(y, f)).collect()),
        other => other,
    }
}

/// Whether `e` can be evaluated before source starting at `start` is read:
/// it reads only earlier columns, outer rows, parameters and constants.
fn available_before(e: &PExpr, start: usize) -> bool {
    max_col(e).is_none_or(|m| m < start) && !has_subquery(e)
}

/// If `e` compares column `col` of the source at `start` with something
/// available before it under a rule `usable` accepts, returns (operator as
/// seen from the column, other side).
fn column_cmp(
    e: &PExpr,
    col: usize,
    start: usize,
    usable: &dyn Fn(&CmpRule) -> bool,
) -> Option<(BinOp, PExpr)> {
    let PExpr::Cmp(op, a, b, rule) = e else {
        return None;
    };
    let is_col = |x: &PExpr| matches!(x, PExpr::Col(i) if *i == start + col);
    let flip = |op: BinOp| match op {
        BinOp::Lt => BinOp::Gt,
        BinOp::Le => BinOp::Ge,
        BinOp::Gt => BinOp::Lt,
        BinOp::Ge => BinOp::Le,
        o => o,
    };
    if !matches!(
        op,
        BinOp::Eq | BinOp::Lt | BinOp::Le | BinOp::Gt | BinOp::Ge
    ) || !usable(rule)
    {
        return None;
    }
    if is_col(a) && available_before(b, start) {
        return Some((*op, (**b).clone()));
    }
    if is_col(b) && available_before(a, start) {
        return Some((flip(*op), (**a).clone()));
    }
    None
}

fn in_list_on(
    e: &PExpr,
    col: usize,
    start: usize,
    usable: &dyn Fn(&CmpRule) -> bool,
) -> Option<Vec<PExpr>> {
    match e {
        PExpr::InList(x, list, false, rule)
            if matches!(**x, PExpr::Col(i) if i == start + col) && usable(rule) =>
        {
            if list.iter().all(|l| available_before(l, start)) {
                Some(list.clone())
            } else {
                None
            }
        }
        _ => None,
    }
}

/// Optional lower and upper bounds, each with "inclusive".
pub type Bounds = (Option<(PExpr, bool)>, Option<(PExpr, bool)>);

/// A candidate index access: position, score, equality values, range.
type IndexChoice = (usize, usize, Vec<Vec<PExpr>>, Option<Bounds>);

fn range_on(
    conds: &[&PExpr],
    col: usize,
    start: usize,
    usable: &dyn Fn(&CmpRule) -> bool,
) -> Option<Bounds> {
    let mut lo = None;
    let mut hi = None;
    for c in conds {
        if let Some((op, other)) = column_cmp(c, col, start, usable) {
            match op {
                BinOp::Gt => lo = lo.or(Some((other, false))),
                BinOp::Ge => lo = lo.or(Some((other, true))),
                BinOp::Lt => hi = hi.or(Some((other, false))),
                BinOp::Le => hi = hi.or(Some((other, true))),
                _ => {}
            }
        }
        if let PExpr::Between(x, a, b, false, [ra, rb]) = c {
            if matches!(**x, PExpr::Col(i) if i == start + col)
                && available_before(a, start)
                && available_before(b, start)
            {
                if usable(ra) {
                    lo = lo.or(Some(((**a).clone(), true)));
                }
                if usable(rb) {
                    hi = hi.or(Some(((**b).clone(), true)));
                }
            }
        }
    }
    if lo.is_some() || hi.is_some() {
        Some((lo, hi))
    } else {
        None
    }
}

fn eq_on(
    conds: &[&PExpr],
    col: usize,
    start: usize,
    usable: &dyn Fn(&CmpRule) -> bool,
) -> Option<Vec<PExpr>> {
    for c in conds {
        if let Some((BinOp::Eq, other)) = column_cmp(c, col, start, usable) {
            return Some(vec![other]);
        }
    }
    conds.iter().find_map(|c| in_list_on(c, col, start, usable))
}

/// Picks the access path of `table` (whose columns start at `start` in the
/// combined row) from the conditions `conds`. A comparison serves an index
/// column only when the index holds what it compares (SQLite's
/// `sqlite3IndexAffinityOk`) under the same collation. A partial index is
/// not used (its rows are only those its WHERE selects). With INDEXED BY
/// the named index is read, whole if no condition narrows it; NOT INDEXED
/// reads by rowid or in full.
fn choose_access(
    table: &Table,
    start: usize,
    conds: &[&PExpr],
    hint: Option<AccessHint>,
) -> Result<Access> {
    let rowid_col = table.columns.len();
    let rowid_cols: Vec<usize> = std::iter::once(rowid_col)
        .chain(table.rowid_alias)
        .collect();
    let by_rowid = |r: &CmpRule| r.index_affinity_ok(Affinity::Integer);
    if hint.is_none() || hint == Some(AccessHint::NoIndex) {
        for &rc in &rowid_cols {
            if let Some(vals) = eq_on(conds, rc, start, &by_rowid) {
                return Ok(Access::Rowids(vals));
            }
        }
    }
    if let Some(AccessHint::Index(i)) = hint {
        if table.indexes[i].filter.is_some() {
            return Err(err(SqlErrorKind::Misuse, "no query solution"));
        }
    }
    // Best index: most leading equality columns, then a range.
    let mut best: Option<IndexChoice> = None;
    for (ii, idx) in table.indexes.iter().enumerate() {
        let allowed = match hint {
            None => idx.filter.is_none(),
            Some(AccessHint::NoIndex) => false,
            Some(AccessHint::Index(i)) => i == ii,
        };
        if !allowed {
            continue;
        }
        let usable_on = |k: usize| {
            let c = idx.columns[k];
            let aff = table.columns[c].affinity;
            let coll = idx.collation(k);
            move |r: &CmpRule| r.index_affinity_ok(aff) && r.coll == coll
        };
        let mut eq = Vec::new();
        for (k, &c) in idx.columns.iter().enumerate() {
            match eq_on(conds, c, start, &usable_on(k)) {
                Some(v) => eq.push(v),
                None => break,
            }
        }
        let k = eq.len();
        let range = idx
            .columns
            .get(k)
            .filter(|_| !idx.desc.get(k).copied().unwrap_or(false))
            .and_then(|&c| range_on(conds, c, start, &usable_on(k)));
        let score = eq.len() * 2 + usize::from(range.is_some());
        if score > 0 && best.as_ref().is_none_or(|b| score > b.1) {
            best = Some((ii, score, eq, range));
        }
    }
    if let Some((index, _, eq, range)) = best {
        if !eq.is_empty() || range.is_some() {
            return Ok(Access::Index { index, eq, range });
        }
    }
    if let Some(AccessHint::Index(index)) = hint {
        // The whole index, in its order.
        return Ok(Access::Index {
            index,
            eq: Vec::new(),
            range: Some((None, None)),
        });
    }
    if !table.without_rowid {
        for &rc in &rowid_cols {
            if let Some((lo, hi)) = range_on(conds, rc, start, &by_rowid) {
                return Ok(Access::RowidRange(lo, hi));
            }
        }
    }
    // A WITHOUT ROWID table is read in key order, as SQLite stores it
    // (which decides which of tied rows min()/max() or a GROUP BY shows,
    // and in which order UPDATE and DELETE meet its rows).
    if table.without_rowid {
        if let Some(index) = table
            .indexes
            .iter()
            .position(|i| i.auto && i.columns == table.primary_key)
        {
            return Ok(Access::Index {
                index,
                eq: Vec::new(),
                range: Some((None, None)),
            });
        }
    }
    Ok(Access::Full)
}

/// If reading `t` in rowid or index order yields rows already sorted by
/// `keys` (plain ascending columns), the plan that does so (the scan's
/// access path changed or kept), else `None`.
fn ordered_scan(plan: &Plan, t: &Table, keys: &[SortKey]) -> Option<Plan> {
    let cols: Vec<usize> = keys
        .iter()
        .map(|k| match k.expr {
            PExpr::Col(i) if !k.desc && k.nulls_first => Some(i),
            _ => None,
        })
        .collect::<Option<_>>()?;
    let colls: Vec<Collation> = keys.iter().map(|k| k.coll).collect();
    // The index's columns from `skip` on sort as the keys do.
    let index_sorts = |idx: &crate::catalog::Index, skip: usize| {
        idx.filter.is_none()
            && idx.columns.len() >= skip + cols.len()
            && idx.columns[skip..skip + cols.len()] == cols[..]
            && idx.desc[skip..skip + cols.len()].iter().all(|d| !d)
            && (0..cols.len()).all(|k| idx.collation(skip + k) == colls[k])
    };
    match &**plan {
        Node::Filter(inner, pred) => {
            let p = ordered_scan(inner, t, keys)?;
            Some(Arc::new(Node::Filter(p, pred.clone())))
        }
        Node::Scan { table, access } => {
            let rowid = t.columns.len();
            let by_rowid = cols.len() == 1 && (cols[0] == rowid || Some(cols[0]) == t.rowid_alias);
            match access {
                Access::Full | Access::RowidRange(..) | Access::Rowids(_) if by_rowid => {
                    Some(plan.clone())
                }
                Access::Full => {
                    let index = table.indexes.iter().position(|idx| index_sorts(idx, 0))?;
                    Some(Arc::new(Node::Scan {
                        table: table.clone(),
                        access: Access::Index {
                            index,
                            eq: Vec::new(),
                            range: Some((None, None)),
                        },
                    }))
                }
                Access::Index { index, eq, .. } if eq.iter().all(|alts| alts.len() == 1) => {
                    let idx = &table.indexes[*index];
                    // Leading equality columns are constant; the rest of
                    // the index order must match the keys.
                    let ok = (0..=eq.len()).any(|skip| {
                        index_sorts(idx, skip)
                            && cols
                                .iter()
                                .all(|c| !idx.columns[..skip].contains(c) || skip == 0)
                    });
                    ok.then(|| plan.clone())
                }
                _ => None,
            }
        }
        _ => None,
    }
}

/// GROUP BY terms as SQLite reads them: an integer literal K names the
/// K-th result column; a bare name that is no column of the FROM sources
/// but a result column's alias names that result column; anything else is
/// an expression over the sources.
fn group_terms(
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
fn ordinal(n: usize) -> String {
    let suffix = match (n % 10, n % 100) {
        (1, x) if x != 11 => "st",
        (2, x) if x != 12 => "nd",
        (3, x) if x != 13 => "rd",
        _ => "th",
    };
    format!("{n}{suffix}")
}
