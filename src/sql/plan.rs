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
use crate::syntax::ast::*;
use crate::types::{Affinity, Value};

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
    /// Group and aggregate: output = the group's first input row (padded to
    /// `width`) ++ group values ++ aggregates, so input columns keep their
    /// positions (bare columns and correlated subqueries read them).
    Aggregate {
        /// Input.
        input: Plan,
        /// Input row width.
        width: usize,
        /// Group keys.
        group: Vec<PExpr>,
        /// Aggregates.
        aggs: Vec<AggCall>,
    },
    /// Sort by keys (desc, nulls_first).
    Sort(Plan, Vec<(PExpr, bool, bool)>),
    /// Remove duplicate rows.
    Distinct(Plan),
    /// Keep the first `width` columns.
    Trim(Plan, usize),
    /// LIMIT / OFFSET.
    Limit(Plan, Option<PExpr>, Option<PExpr>),
    /// UNION / INTERSECT / EXCEPT.
    SetOp(SetOp, bool, Plan, Plan),
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
}

/// A planned query: the plan and its output column names.
#[derive(Debug)]
pub struct Planned {
    /// The plan.
    pub plan: Plan,
    /// Output column names.
    pub columns: Vec<String>,
}

#[derive(Clone, Debug)]
struct ScopeCol {
    table: Option<String>,
    name: String,
    hidden: bool,
    affinity: Option<Affinity>,
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

/// A resolved name: (depth, index, affinity, (use, column) it reads).
type Resolved = (usize, usize, Option<Affinity>, Option<(usize, String)>);

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
            return Ok((0, i, c.affinity, c.origin.map(|o| (o, c.name.clone()))));
        }
        match self.parent {
            Some(p) => {
                let (d, i, a, o) = p.resolve(table, name)?;
                self.correlated.set(true);
                Ok((d + usize::from(!self.transparent), i, a, o))
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
        Expr::Unary(_, x) | Expr::IsNull(x, _) | Expr::Cast(x, _) => walk(x, f),
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
        PExpr::Unary(_, x)
        | PExpr::IsNull(x, _)
        | PExpr::Cast(x, _)
        | PExpr::Affinity(x, _)
        | PExpr::InSub(x, _, _) => pwalk(x, f),
        PExpr::Binary(_, a, b) => {
            pwalk(a, f);
            pwalk(b, f);
        }
        PExpr::InList(x, l, _) => {
            pwalk(x, f);
            l.iter().for_each(|y| pwalk(y, f));
        }
        PExpr::Between(a, b, c, _) => {
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
        PExpr::Case(o, w, e) => {
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
        if let PExpr::InSub(_, s, _) | PExpr::Exists(s, _) | PExpr::Scalar(s) = x {
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
            origin: None,
        })
        .collect();
    // The hidden last column is the rowid (also reachable as _rowid_
    // and oid, see Scope::resolve).
    cols.push(ScopeCol {
        table: Some(label.clone()),
        name: if t.column("rowid").is_none() {
            "rowid".into()
        } else {
            "_rowid_".into()
        },
        hidden: true,
        affinity: Some(Affinity::Integer),
        origin: None,
    });
    Source {
        plan: None,
        table: Some(t.clone()),
        cols,
        outer: false,
        on: Vec::new(),
        policy: None,
    }
}

/// The proposed row of an upsert, `excluded.*`: hidden, so an unqualified
/// name means the existing row's column.
fn excluded_cols(t: &Arc<Table>) -> Vec<ScopeCol> {
    let mut cols = table_source_of(t, "excluded".into()).cols;
    for c in cols.iter_mut() {
        c.hidden = true;
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
        let mut cols = table_source_of(table, "new".into()).cols;
        cols.extend(table_source_of(table, "old".into()).cols);
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
                    let scope = Scope::new(
                        planned
                            .columns
                            .iter()
                            .map(|c| ScopeCol {
                                table: None,
                                name: c.clone(),
                                hidden: false,
                                affinity: None,
                                origin: None,
                            })
                            .collect(),
                        parent,
                    );
                    let mut keys = Vec::new();
                    for it in &q.order_by {
                        let e = match &it.expr {
                            Expr::Literal(Value::Integer(n)) if *n >= 1 && (*n as usize) <= width => PExpr::Col(*n as usize - 1),
                            Expr::Literal(Value::Integer(n)) => {
                                return Err(err(
                                    SqlErrorKind::Misuse,
                                    format!("ORDER BY term {n} out of range - should be between 1 and {width}"),
                                ))
                            }
                            e => self.expr(e, &scope)?,
                        };
                        keys.push((e, it.desc, it.nulls_first.unwrap_or(!it.desc)));
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
                for r in rows {
                    if r.len() != width {
                        return Err(err(
                            SqlErrorKind::Misuse,
                            "all VALUES must have the same number of terms",
                        ));
                    }
                    out.push(
                        r.iter()
                            .map(|e| self.expr(e, &scope))
                            .collect::<Result<Vec<_>>>()?,
                    );
                }
                Ok(Planned {
                    plan: Arc::new(Node::Values(out)),
                    columns: (1..=width).map(|i| format!("column{i}")).collect(),
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
                Ok(Planned {
                    plan: Arc::new(Node::SetOp(*op, *all, l.plan, r.plan)),
                    columns: l.columns,
                })
            }
        }
    }

    fn table_source(
        &mut self,
        name: &str,
        alias: Option<&str>,
        parent: Option<&Scope>,
    ) -> Result<Source> {
        let label = alias.unwrap_or(name).to_string();
        self.check_view_binding(name)?;
        if let Some(t) = self.schema.table(name) {
            let mut src = table_source_of(t, label);
            self.track_reads(&t.name, &mut src.cols);
            src.policy = self.row_policy(t, PolicyCmd::Select, false)?;
            return Ok(src);
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
                    .map(|n| ScopeCol {
                        table: Some(label.clone()),
                        name: n,
                        hidden: false,
                        affinity: None,
                        origin,
                    })
                    .collect(),
                outer: false,
                on: Vec::new(),
                policy: None,
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
            FromItem::Table { name, alias } => {
                out.push(self.table_source(name, alias.as_deref(), parent)?)
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
                        .map(|n| ScopeCol {
                            table: label.clone(),
                            name: n,
                            hidden: false,
                            affinity: None,
                            origin: None,
                        })
                        .collect(),
                    outer: false,
                    on: Vec::new(),
                    policy: None,
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
                    let access = choose_access(t, start, &cands);
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

        // ORDER BY terms: by position, by output alias, or an expression.
        let mut order_exprs: Vec<(Expr, bool, bool)> = Vec::new();
        for o in order_by {
            let nulls_first = o.nulls_first.unwrap_or(!o.desc);
            let e = match &o.expr {
                Expr::Literal(Value::Integer(n)) => {
                    if *n < 1 || *n as usize > width_out {
                        return Err(err(
                            SqlErrorKind::Misuse,
                            format!("ORDER BY term {n} out of range - should be between 1 and {width_out}"),
                        ));
                    }
                    items[*n as usize - 1].0.clone()
                }
                Expr::Column { table: None, name }
                    if all_cols.iter().all(|c| !c.name.eq_ignore_ascii_case(name)) =>
                {
                    match items.iter().position(|(_, n)| n.eq_ignore_ascii_case(name)) {
                        Some(i) => items[i].0.clone(),
                        None => o.expr.clone(),
                    }
                }
                e => e.clone(),
            };
            order_exprs.push((e, o.desc, nulls_first));
        }

        let (mut proj, having, keys) = if aggregate {
            self.plan_aggregate(&mut plan, sel, &items, &order_exprs, &scope, &all_cols)?
        } else {
            let proj = items
                .iter()
                .map(|(e, _)| self.expr(e, &scope))
                .collect::<Result<Vec<_>>>()?;
            let keys = order_exprs
                .iter()
                .map(|(e, d, n)| Ok((self.expr(e, &scope)?, *d, *n)))
                .collect::<Result<Vec<_>>>()?;
            (proj, None, keys)
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
        // Sort keys ride along as hidden output columns.
        let mut sort = Vec::new();
        for (i, (k, d, n)) in keys.into_iter().enumerate() {
            proj.push(k);
            sort.push((PExpr::Col(width_out + i), d, n));
        }
        plan = Arc::new(Node::Project(plan, proj));
        if sel.distinct {
            if !sort.is_empty() {
                // DISTINCT over the visible columns only: sort first is not
                // equivalent, so dedupe on visible then sort on visible keys.
                plan = Arc::new(Node::Distinct(Arc::new(Node::Trim(plan, width_out))));
                let remapped = order_exprs
                    .iter()
                    .map(|(e, d, n)| {
                        let pos = items
                            .iter()
                            .position(|(ie, _)| format!("{ie:?}") == format!("{e:?}"));
                        pos.map(|p| (PExpr::Col(p), *d, *n)).ok_or_else(|| {
                            err(
                                SqlErrorKind::Misuse,
                                "ORDER BY term does not match any column in the result set",
                            )
                        })
                    })
                    .collect::<Result<Vec<_>>>()?;
                plan = Arc::new(Node::Sort(plan, remapped));
            } else {
                plan = Arc::new(Node::Distinct(plan));
            }
        } else if !sort.is_empty() {
            plan = Arc::new(Node::Sort(plan, sort));
            plan = Arc::new(Node::Trim(plan, width_out));
        }
        if limit.is_some() || offset.is_some() {
            let s = Scope::new(Vec::new(), parent);
            let l = limit.as_ref().map(|e| self.expr(e, &s)).transpose()?;
            let o = offset.as_ref().map(|e| self.expr(e, &s)).transpose()?;
            plan = Arc::new(Node::Limit(plan, l, o));
        }
        Ok(Planned { plan, columns })
    }

    #[allow(clippy::type_complexity)]
    fn plan_aggregate(
        &mut self,
        plan: &mut Plan,
        sel: &Select,
        items: &[(Expr, String)],
        order: &[(Expr, bool, bool)],
        scope: &Scope,
        all_cols: &[ScopeCol],
    ) -> Result<(Vec<PExpr>, Option<PExpr>, Vec<(PExpr, bool, bool)>)> {
        let width = all_cols.len();
        let group: Vec<PExpr> = sel
            .group_by
            .iter()
            .map(|e| self.expr(e, scope))
            .collect::<Result<_>>()?;
        let mut cx = AggBind {
            group_dbg: sel.group_by.iter().map(|e| format!("{e:?}")).collect(),
            aggs: Vec::new(),
            agg_dbg: Vec::new(),
            width,
        };
        let proj = items
            .iter()
            .map(|(e, _)| self.post_agg(e, scope, &mut cx))
            .collect::<Result<Vec<_>>>()?;
        let having = sel
            .having
            .as_ref()
            .map(|h| self.post_agg(h, scope, &mut cx))
            .transpose()?;
        let keys = order
            .iter()
            .map(|(e, d, n)| Ok((self.post_agg(e, scope, &mut cx)?, *d, *n)))
            .collect::<Result<Vec<_>>>()?;
        *plan = Arc::new(Node::Aggregate {
            input: plan.clone(),
            width,
            group,
            aggs: cx.aggs,
        });
        Ok((proj, having, keys))
    }

    /// Binds an expression evaluated over an aggregate's output row.
    fn post_agg(&mut self, e: &Expr, scope: &Scope, cx: &mut AggBind) -> Result<PExpr> {
        let dbg = format!("{e:?}");
        let ng = cx.group_dbg.len();
        if let Some(i) = cx.group_dbg.iter().position(|g| *g == dbg) {
            return Ok(PExpr::Col(cx.width + i));
        }
        if let Expr::Function {
            name,
            args,
            distinct,
            star,
        } = e
        {
            if let Some(kind) = agg_kind(name, args.len(), *star) {
                if !(args.len() > 1 && is_scalar_minmax(name)) {
                    if let Some(j) = cx.agg_dbg.iter().position(|a| *a == dbg) {
                        return Ok(PExpr::Col(cx.width + ng + j));
                    }
                    for a in args {
                        if has_aggregate(a) {
                            return Err(err(
                                SqlErrorKind::Misuse,
                                format!("misuse of aggregate function {name}()"),
                            ));
                        }
                    }
                    let bound = args
                        .iter()
                        .map(|a| self.expr(a, scope))
                        .collect::<Result<Vec<_>>>()?;
                    cx.aggs.push(AggCall {
                        kind,
                        distinct: *distinct,
                        args: bound,
                    });
                    cx.agg_dbg.push(dbg);
                    return Ok(PExpr::Col(cx.width + ng + cx.aggs.len() - 1));
                }
            }
        }
        // Recurse structurally; bare columns read the group's first row,
        // which sits at the same positions as in the input.
        macro_rules! rec {
            ($x:expr) => {
                self.post_agg($x, scope, cx)?
            };
        }
        Ok(match e {
            Expr::Column { .. }
            | Expr::InSubquery { .. }
            | Expr::Exists(..)
            | Expr::Subquery(_) => self.expr(e, scope)?,
            Expr::Literal(v) => PExpr::Lit(v.clone()),
            Expr::Param(i) => PExpr::Param(*i),
            Expr::Unary(op, x) => PExpr::Unary(*op, Box::new(rec!(x))),
            Expr::Binary(op, a, b) => {
                let l = rec!(a);
                let r = rec!(b);
                PExpr::Binary(*op, Box::new(l), Box::new(r))
            }
            Expr::IsNull(x, n) => PExpr::IsNull(Box::new(rec!(x)), *n),
            Expr::InList {
                expr,
                list,
                negated,
            } => {
                let x = rec!(expr);
                let mut l = Vec::new();
                for y in list {
                    l.push(rec!(y));
                }
                PExpr::InList(Box::new(x), l, *negated)
            }
            Expr::Between {
                expr,
                low,
                high,
                negated,
            } => {
                let x = rec!(expr);
                let lo = rec!(low);
                let hi = rec!(high);
                PExpr::Between(Box::new(x), Box::new(lo), Box::new(hi), *negated)
            }
            Expr::Like {
                expr,
                pattern,
                escape,
                negated,
                glob,
            } => {
                let x = rec!(expr);
                let p = rec!(pattern);
                let esc = match escape {
                    Some(x) => Some(Box::new(rec!(x))),
                    None => None,
                };
                PExpr::Like {
                    expr: Box::new(x),
                    pattern: Box::new(p),
                    escape: esc,
                    negated: *negated,
                    glob: *glob,
                }
            }
            Expr::Case {
                operand,
                whens,
                otherwise,
            } => {
                let o = match operand {
                    Some(o) => Some(Box::new(rec!(o))),
                    None => None,
                };
                let mut w = Vec::new();
                for (a, b) in whens {
                    let x = rec!(a);
                    let y = rec!(b);
                    w.push((x, y));
                }
                let e = match otherwise {
                    Some(o) => Some(Box::new(rec!(o))),
                    None => None,
                };
                PExpr::Case(o, w, e)
            }
            Expr::Cast(x, t) => PExpr::Cast(Box::new(rec!(x)), *t),
            Expr::Function { name, args, .. } => {
                let mut a = Vec::new();
                for y in args {
                    a.push(rec!(y));
                }
                PExpr::Func(ScalarCall::resolve(name, a.len()), a)
            }
        })
    }

    /// Binds an expression in `scope`.
    fn expr(&mut self, e: &Expr, scope: &Scope) -> Result<PExpr> {
        let b = |x: PExpr| Box::new(x);
        Ok(match e {
            Expr::Literal(v) => PExpr::Lit(v.clone()),
            // Always the function (a keyword, as in PostgreSQL), never a
            // column: a column cannot change what a policy or view means.
            Expr::Column { table: None, name } if is_current_user(name) => {
                PExpr::Lit(Value::Text(self.user_named(name)))
            }
            Expr::Function { name, args, .. } if args.is_empty() && is_current_user(name) => {
                PExpr::Lit(Value::Text(self.user_named(name)))
            }
            Expr::Column { table, name } => {
                let (depth, idx, _, origin) = scope.resolve(table.as_deref(), name)?;
                if let (Some((o, col)), true) = (origin, self.record) {
                    if let Some(u) = self.uses.get_mut(o) {
                        u.columns.insert(col.to_lowercase());
                    }
                }
                // The rowid aliases: _rowid_ and oid name the rowid column.
                if depth == 0 {
                    PExpr::Col(idx)
                } else {
                    PExpr::Outer(depth, idx)
                }
            }
            Expr::Param(i) => PExpr::Param(*i),
            Expr::Unary(op, x) => PExpr::Unary(*op, b(self.expr(x, scope)?)),
            Expr::Binary(op, l, r) => {
                let mut a = self.expr(l, scope)?;
                let mut c = self.expr(r, scope)?;
                if matches!(
                    op,
                    BinOp::Eq | BinOp::Ne | BinOp::Lt | BinOp::Le | BinOp::Gt | BinOp::Ge
                ) {
                    // SQLite: a column's numeric affinity applies to the
                    // other operand when that one is not a column.
                    let la = self.affinity_of(l, scope);
                    let ra = self.affinity_of(r, scope);
                    match (la, ra) {
                        (Some(x), None) if is_numeric(x) => {
                            c = PExpr::Affinity(Box::new(c), Affinity::Numeric)
                        }
                        (None, Some(x)) if is_numeric(x) => {
                            a = PExpr::Affinity(Box::new(a), Affinity::Numeric)
                        }
                        (Some(Affinity::Text), None) if !matches!(**r, Expr::Column { .. }) => {
                            c = PExpr::Affinity(Box::new(c), Affinity::Text)
                        }
                        (None, Some(Affinity::Text)) if !matches!(**l, Expr::Column { .. }) => {
                            a = PExpr::Affinity(Box::new(a), Affinity::Text)
                        }
                        _ => {}
                    }
                }
                PExpr::Binary(*op, b(a), b(c))
            }
            Expr::IsNull(x, n) => PExpr::IsNull(b(self.expr(x, scope)?), *n),
            Expr::InList {
                expr,
                list,
                negated,
            } => PExpr::InList(
                b(self.expr(expr, scope)?),
                list.iter()
                    .map(|x| self.expr(x, scope))
                    .collect::<Result<_>>()?,
                *negated,
            ),
            Expr::InSubquery {
                expr,
                query,
                negated,
            } => {
                let x = self.expr(expr, scope)?;
                let sub = self.subplan(query, scope, Some(1))?;
                PExpr::InSub(b(x), sub, *negated)
            }
            Expr::Exists(q, negated) => PExpr::Exists(self.subplan(q, scope, None)?, *negated),
            Expr::Subquery(q) => PExpr::Scalar(self.subplan(q, scope, Some(1))?),
            Expr::Between {
                expr,
                low,
                high,
                negated,
            } => PExpr::Between(
                b(self.expr(expr, scope)?),
                b(self.expr(low, scope)?),
                b(self.expr(high, scope)?),
                *negated,
            ),
            Expr::Like {
                expr,
                pattern,
                escape,
                negated,
                glob,
            } => PExpr::Like {
                expr: b(self.expr(expr, scope)?),
                pattern: b(self.expr(pattern, scope)?),
                escape: match escape {
                    Some(x) => Some(b(self.expr(x, scope)?)),
                    None => None,
                },
                negated: *negated,
                glob: *glob,
            },
            Expr::Case {
                operand,
                whens,
                otherwise,
            } => PExpr::Case(
                match operand {
                    Some(o) => Some(b(self.expr(o, scope)?)),
                    None => None,
                },
                whens
                    .iter()
                    .map(|(w, t)| Ok((self.expr(w, scope)?, self.expr(t, scope)?)))
                    .collect::<Result<_>>()?,
                match otherwise {
                    Some(o) => Some(b(self.expr(o, scope)?)),
                    None => None,
                },
            ),
            Expr::Cast(x, t) => PExpr::Cast(b(self.expr(x, scope)?), *t),
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
                let a: Vec<PExpr> = args
                    .iter()
                    .map(|x| self.expr(x, scope))
                    .collect::<Result<_>>()?;
                PExpr::Func(ScalarCall::resolve(name, a.len()), a)
            }
        })
    }

    fn affinity_of(&self, e: &Expr, scope: &Scope) -> Option<Affinity> {
        match e {
            Expr::Column { table, name } => scope
                .resolve(table.as_deref(), name)
                .ok()
                .and_then(|(_, _, a, _)| a),
            _ => None,
        }
    }

    fn subplan(
        &mut self,
        q: &Query,
        scope: &Scope,
        want_cols: Option<usize>,
    ) -> Result<Arc<SubPlan>> {
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
        Ok(Arc::new(SubPlan {
            id: SUB_IDS.fetch_add(1, Ordering::Relaxed),
            plan: planned.plan,
            correlated,
        }))
    }

    /// Plans a single-table read for UPDATE/DELETE: rows of the table
    /// (columns ++ rowid) matching `filter`.
    pub fn table_rows(&mut self, table: &Arc<Table>, filter: Option<&Expr>) -> Result<Plan> {
        self.table_rows_for(table, filter, None, false)
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
        reads_rows: bool,
    ) -> Result<Plan> {
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
        let access = choose_access(table, 0, &bound.iter().collect::<Vec<_>>());
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

fn is_numeric(a: Affinity) -> bool {
    matches!(a, Affinity::Integer | Affinity::Real | Affinity::Numeric)
}

/// State while binding the expressions over an aggregate's output.
struct AggBind {
    group_dbg: Vec<String>,
    aggs: Vec<AggCall>,
    agg_dbg: Vec<String>,
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
        PExpr::IsNull(x, n) => PExpr::IsNull(m(x), n),
        PExpr::InList(x, l, n) => {
            PExpr::InList(m(x), l.into_iter().map(|y| map_cols(y, f)).collect(), n)
        }
        PExpr::InSub(x, s, n) => PExpr::InSub(m(x), s, n),
        PExpr::Between(a, b, c, n) => PExpr::Between(m(a), m(b), m(c), n),
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
        PExpr::Case(o, w, e) => PExpr::Case(
            o.map(m),
            w.into_iter()
                .map(|(a, b)| (map_cols(a, f), map_cols(b, f)))
                .collect(),
            e.map(m),
        ),
        PExpr::Cast(x, t) => PExpr::Cast(m(x), t),
        PExpr::Func(n, a) => PExpr::Func(n, a.into_iter().map(|y| map_cols(y, f)).collect()),
        PExpr::Affinity(x, a) => PExpr::Affinity(m(x), a),
        other => other,
    }
}

/// Whether `e` can be evaluated before source starting at `start` is read:
/// it reads only earlier columns, outer rows, parameters and constants.
fn available_before(e: &PExpr, start: usize) -> bool {
    max_col(e).is_none_or(|m| m < start) && !has_subquery(e)
}

/// If `e` compares column `col` of the source at `start` with something
/// available before it, returns (operator as seen from the column, other side).
fn column_cmp(e: &PExpr, col: usize, start: usize) -> Option<(BinOp, PExpr)> {
    let PExpr::Binary(op, a, b) = e else {
        return None;
    };
    let strip = |x: &PExpr| -> Option<usize> {
        match x {
            PExpr::Col(i) => Some(*i),
            _ => None,
        }
    };
    let unwrap_aff = |x: &PExpr| -> PExpr {
        match x {
            PExpr::Affinity(inner, _) => (**inner).clone(),
            other => other.clone(),
        }
    };
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
    ) {
        return None;
    }
    if strip(a) == Some(start + col) && available_before(b, start) {
        return Some((*op, (**b).clone()));
    }
    if strip(b) == Some(start + col) && available_before(a, start) {
        let _ = unwrap_aff;
        return Some((flip(*op), (**a).clone()));
    }
    None
}

fn in_list_on(e: &PExpr, col: usize, start: usize) -> Option<Vec<PExpr>> {
    match e {
        PExpr::InList(x, list, false) if matches!(**x, PExpr::Col(i) if i == start + col) => {
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

fn range_on(conds: &[&PExpr], col: usize, start: usize) -> Option<Bounds> {
    let mut lo = None;
    let mut hi = None;
    for c in conds {
        if let Some((op, other)) = column_cmp(c, col, start) {
            match op {
                BinOp::Gt => lo = lo.or(Some((other, false))),
                BinOp::Ge => lo = lo.or(Some((other, true))),
                BinOp::Lt => hi = hi.or(Some((other, false))),
                BinOp::Le => hi = hi.or(Some((other, true))),
                _ => {}
            }
        }
        if let PExpr::Between(x, a, b, false) = c {
            if matches!(**x, PExpr::Col(i) if i == start + col)
                && available_before(a, start)
                && available_before(b, start)
            {
                lo = lo.or(Some(((**a).clone(), true)));
                hi = hi.or(Some(((**b).clone(), true)));
            }
        }
    }
    if lo.is_some() || hi.is_some() {
        Some((lo, hi))
    } else {
        None
    }
}

fn eq_on(conds: &[&PExpr], col: usize, start: usize) -> Option<Vec<PExpr>> {
    for c in conds {
        if let Some((BinOp::Eq, other)) = column_cmp(c, col, start) {
            return Some(vec![other]);
        }
    }
    conds.iter().find_map(|c| in_list_on(c, col, start))
}

/// Picks the access path of `table` (whose columns start at `start` in the
/// combined row) from the conditions `conds`.
fn choose_access(table: &Table, start: usize, conds: &[&PExpr]) -> Access {
    let rowid_col = table.columns.len();
    let rowid_cols: Vec<usize> = std::iter::once(rowid_col)
        .chain(table.rowid_alias)
        .collect();
    for &rc in &rowid_cols {
        if let Some(vals) = eq_on(conds, rc, start) {
            return Access::Rowids(vals);
        }
    }
    // Best index: most leading equality columns, then a range.
    let mut best: Option<IndexChoice> = None;
    for (ii, idx) in table.indexes.iter().enumerate() {
        let mut eq = Vec::new();
        for &c in &idx.columns {
            match eq_on(conds, c, start) {
                Some(v) => eq.push(v),
                None => break,
            }
        }
        let range = idx
            .columns
            .get(eq.len())
            .filter(|_| !idx.desc.get(eq.len()).copied().unwrap_or(false))
            .and_then(|&c| range_on(conds, c, start));
        let score = eq.len() * 2 + usize::from(range.is_some());
        if score > 0 && best.as_ref().is_none_or(|b| score > b.1) {
            best = Some((ii, score, eq, range));
        }
    }
    if let Some((index, _, eq, range)) = best {
        if !eq.is_empty() || range.is_some() {
            return Access::Index { index, eq, range };
        }
    }
    for &rc in &rowid_cols {
        if let Some((lo, hi)) = range_on(conds, rc, start) {
            return Access::RowidRange(lo, hi);
        }
    }
    Access::Full
}

/// If reading `t` in rowid or index order yields rows already sorted by
/// `keys` (plain ascending columns), the plan that does so (the scan's
/// access path changed or kept), else `None`.
fn ordered_scan(plan: &Plan, t: &Table, keys: &[(PExpr, bool, bool)]) -> Option<Plan> {
    let cols: Vec<usize> = keys
        .iter()
        .map(|(e, desc, nulls_first)| match e {
            PExpr::Col(i) if !desc && *nulls_first => Some(*i),
            _ => None,
        })
        .collect::<Option<_>>()?;
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
                    let index = table.indexes.iter().position(|idx| {
                        idx.columns.len() >= cols.len()
                            && idx.columns[..cols.len()] == cols[..]
                            && idx.desc[..cols.len()].iter().all(|d| !d)
                    })?;
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
                        idx.columns.len() >= skip + cols.len()
                            && idx.columns[skip..skip + cols.len()] == cols[..]
                            && idx.desc[skip..skip + cols.len()].iter().all(|d| !d)
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
