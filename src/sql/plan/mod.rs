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
//! columns available (with a RIGHT or FULL join, not before the last such
//! join: it keeps the rows no earlier row matched), and a table picks the
//! best of:
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

mod access_path;
mod alias;
mod analysis;
mod bind;
mod cte;
mod explain;
mod join;
mod query;
mod rows;
mod rowvalue;
mod scope;
mod select;
mod source;
mod update_from;
mod window;

pub use self::access_path::{Bounds, EqValues};
pub(crate) use self::analysis::walk;
pub use self::analysis::{
    has_subquery_expr, has_subquery_text, query_calls_function, reads_target, scanned_index_columns,
};
pub use self::cte::DataChange;
pub use self::explain::{query_plan, ExplainMasks, PlanLine};
pub use self::update_from::UpdateFrom;
pub use self::window::{BoundPlan, FramePlan, WindowFnCall, WindowFunc, WindowPlan, WindowSort};
use self::{access_path::*, analysis::*, bind::*, scope::*, source::*, window::*};

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use std::collections::BTreeSet;

use crate::auth::{AuthState, PolicyCmd, Privilege, Roles};
use crate::catalog::{Schema, Table};
use crate::depth;
use crate::error::{Error, Result, SqlErrorKind};
use crate::sql::aggregate::{agg_kind, AggKind};
use crate::sql::eval::{PExpr, SubPlan};
use crate::sql::functions::ScalarCall;
use crate::sql::rowvalue::{RowCmp, RowIn, RowOperand};
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
        /// Per leading column: the values it may equal, and the affinity
        /// the probe gives them.
        eq: Vec<EqValues>,
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
        /// Read the rowid range or index backwards (descending keys): an
        /// ORDER BY that the reversed order satisfies needs no sort.
        reverse: bool,
    },
    /// Literal rows.
    Values(Vec<Vec<PExpr>>),
    /// Keep rows where `pred` is true.
    Filter(Plan, Arc<PExpr>),
    /// Nested-loop join. Inner and LEFT: the right side is opened per
    /// left row with the left row as environment; RIGHT and FULL: it is
    /// read once, with none (see `sql::outer_join`).
    Join {
        /// Outer side.
        left: Plan,
        /// Inner side.
        right: Plan,
        /// Inner, LEFT, RIGHT or FULL.
        kind: JoinKind,
        /// Join condition over the combined row.
        on: Option<PExpr>,
        /// Width of the left rows (for NULL extension).
        left_width: usize,
        /// Width of the right rows (for NULL extension).
        right_width: usize,
    },
    /// Compute expressions.
    Project(Plan, Arc<[PExpr]>),
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
    /// A common table expression's rows, computed at its first use in a
    /// statement and kept (under `id` in the statement's cache) for the
    /// others; see `sql::cte`.
    Materialize {
        /// The CTE's name (EXPLAIN).
        name: String,
        /// Where the rows are kept, shared by every reference.
        id: usize,
        /// The CTE's plan.
        plan: Plan,
    },
    /// A recursive common table expression (see `sql::cte`).
    Recursive(RecursiveCte),
    /// The one row a recursive CTE's recursive SELECT reads: the row just
    /// taken from the queue of the [`Node::Recursive`] with this id.
    RecursiveRow(usize),
    /// `sqlite_schema` or a table-valued pragma (see `sql::introspect`):
    /// its rows are made when it is opened, for its arguments (evaluated
    /// then, so they may read the tables joined before), from the schema
    /// as the principal could see it when the statement was planned.
    Introspect {
        /// Which.
        what: crate::sql::introspect::Introspect,
        /// The arguments (a pragma's name and schema).
        args: Vec<PExpr>,
        /// What the principal may see.
        seen: Arc<crate::sql::introspect::Visible>,
    },
    /// `json_each` or `json_tree` (see `sql::functions::json::each`): its
    /// rows are made as they are pulled, for its arguments (evaluated
    /// when it is opened, so they may read the tables joined before).
    JsonEach {
        /// `json_tree` (else `json_each`).
        tree: bool,
        /// The document and, optionally, the path of the root.
        args: Vec<PExpr>,
    },
    /// Window functions: each input row followed by one value per call
    /// (see `sql::window`).
    Window(Arc<WindowPlan>),
}

/// How a recursive common table expression runs (SQLite's queue): the
/// setup's rows are queued; then, until the queue is empty, one row is
/// taken (the first, or the smallest under `order`), output, and each
/// recursive SELECT is run with it as the CTE's only row, their rows
/// queued. With `distinct` (UNION), a row equal to one queued before is
/// dropped. LIMIT counts output rows; OFFSET rows are not output but
/// still recursed on.
#[derive(Debug)]
pub struct RecursiveCte {
    /// The CTE's name (messages, EXPLAIN).
    pub name: String,
    /// The id its recursive SELECTs read the current row under.
    pub id: usize,
    /// The non-recursive SELECTs.
    pub setup: Plan,
    /// The recursive SELECTs.
    pub steps: Vec<Plan>,
    /// UNION: the collation of each column rows are compared under.
    pub distinct: Option<Vec<Collation>>,
    /// ORDER BY: the queue's order (ties first in, first out).
    pub order: Vec<SortKey>,
    /// LIMIT.
    pub limit: Option<PExpr>,
    /// OFFSET.
    pub offset: Option<PExpr>,
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
    /// FILTER (WHERE ...): only rows it is true for are fed to it.
    pub filter: Option<PExpr>,
    /// A JSON aggregate whose value argument is a `json_each` value column:
    /// where its `type` is, (query levels out, row position); the value is
    /// JSON when that is `array` or `object`.
    pub json_type: Option<(usize, usize)>,
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
    /// The types its columns have as an expression's subquery (IN, a
    /// scalar or row subquery): a compound's are its rightmost SELECT's,
    /// the one SQLite's expression points to.
    pub in_types: Vec<ExprType>,
    /// Each output column's declared type when it reads a table column
    /// directly (also through views, subqueries in FROM and CTEs), as
    /// SQLite's `sqlite3_column_decltype`; `None` for an expression.
    pub decltypes: Vec<Option<Arc<str>>>,
    /// `columns` shared, made on the first run of the query: every run's
    /// rows name their columns through it (a prepared query run again
    /// copies no names).
    pub shared_columns: std::sync::OnceLock<Arc<[String]>>,
}

impl Planned {
    /// [`Planned::columns`] as the rows of a run hold them.
    pub fn shared_columns(&self) -> Arc<[String]> {
        self.shared_columns
            .get_or_init(|| Arc::from(self.columns.clone()))
            .clone()
    }
}

fn err(kind: SqlErrorKind, msg: impl Into<String>) -> Error {
    Error::sql(kind, msg)
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
    /// The WITH clauses in scope, innermost last (see `cte.rs`).
    ctes: Vec<cte::CteFrame>,
    /// The CTEs whose queries are being planned, innermost last.
    cte_planning: Vec<cte::CteInProgress>,
    /// How many queries deep planning is (a recursive SELECT may name its
    /// CTE only in its own FROM clause, not in a subquery).
    nest: usize,
    /// Planning a view only for its column names (for `table_info`):
    /// introspection inside it does not plan views again.
    describing: bool,
    /// The window calls of the SELECT whose result columns or ORDER BY
    /// are being bound; None where window calls are not allowed.
    window: Option<WindowBind>,
    /// The row subqueries of `SET (a, b) = (SELECT ...)` bound so far, by
    /// the query their terms share: each is planned once, so that its
    /// terms read one run of it (see [`Expr::RowField`]).
    row_fields: Vec<(Arc<Query>, Arc<SubPlan>, Vec<ExprType>)>,
    /// What EXPLAIN QUERY PLAN may have to hide: the views expanded and
    /// the subqueries of row policies (see `explain.rs`).
    masks: ExplainMasks,
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
    /// The name as written where it was used (a view's or trigger's text
    /// included), for messages that must read like a missing table's.
    pub written: String,
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
            ctes: Vec::new(),
            cte_planning: Vec::new(),
            nest: 0,
            describing: false,
            window: None,
            row_fields: Vec::new(),
            masks: ExplainMasks::default(),
        }
    }

    /// The views this planner expanded and the row-policy subqueries it
    /// bound, for EXPLAIN QUERY PLAN to hide what the reader may not see.
    pub fn take_explain_masks(&mut self) -> ExplainMasks {
        std::mem::take(&mut self.masks)
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

    /// Notes how the use at `origin` was written.
    fn written_as(&mut self, origin: Option<usize>, name: &str) {
        if let Some(u) = origin.and_then(|i| self.uses.get_mut(i)) {
            u.written = name.to_string();
        }
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
            written: object.to_string(),
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
    /// led to when the view was created (see `catalog::View::binds`). Only
    /// names of the view's own text: not those of a row policy bound while
    /// the view is expanded (policies are bound by id, `check_policy_refs`).
    fn check_view_binding(&self, name: &str) -> Result<()> {
        let Some(Definer::View(v)) = self.acting.last() else {
            return Ok(());
        };
        let Some(view) = self.schema.view(v) else {
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
        // A policy is its owner's expression: the statement's CTEs must
        // not change what the names in it mean.
        let ctes = std::mem::take(&mut self.ctes);
        self.acting.push(Definer::Policy(t.name.to_lowercase()));
        self.binding_policies.push(t.id);
        let bound = self.expr(&e, &scope);
        self.binding_policies.pop();
        self.acting.pop();
        self.ctes = ctes;
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
}
