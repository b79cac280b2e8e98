//! EXPLAIN QUERY PLAN: sealdb's plan described in SQLite's format, so
//! tools that parse SQLite's output (GUI browsers, ORMs' query loggers,
//! `sqlite3`'s `.eqp`) read it.
//!
//! ```text
//!   id  parent  notused  detail
//!    1       0        0  SCAN t                          (a table read)
//!    2       0        0  SCALAR SUBQUERY 1               (a subquery …
//!    3       2        0  SEARCH u USING INDEX u_a (a=?)   … and its reads)
//!    4       0        0  USE TEMP B-TREE FOR ORDER BY    (a sort)
//! ```
//!
//! Lines come in SQLite's order: a query's table reads (outer to inner
//! join order), then its temporary b-trees (GROUP BY, DISTINCT, ORDER BY),
//! then the subqueries of its expressions; a FROM subquery or view is a
//! `CO-ROUTINE` followed by `SCAN` of its name, a common table expression
//! computed once a `MATERIALIZE`, a compound `COMPOUND QUERY` with one
//! child per SELECT. The details are sealdb's plan, not SQLite's (the
//! planners differ); the words are SQLite's.
//!
//! Invariants: ids are 1, 2, … in output order and a line's parent is 0
//! or an earlier line's id. What the reader may not see is never named:
//! a table they may not see (reached through a view) reads `SCAN (hidden
//! table)`, with no index or column; a view whose definition is not
//! theirs (see [`ExplainMasks`]), or whose body reads such a table, is
//! one `SCAN v` line with nothing of its body; the subqueries of row-level security policies are left out
//! (a policy is its owner's business, and its filter shows no line).

use std::collections::HashSet;
use std::sync::Arc;

use super::analysis::pwalk;
use super::{Access, Node, Plan};
use crate::catalog::Table;
use crate::sql::eval::{PExpr, SubPlan};
use crate::syntax::ast::SetOp;

/// The line of a table the reader may not see.
const HIDDEN_SCAN: &str = "SCAN (hidden table)";

/// One line of EXPLAIN QUERY PLAN.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PlanLine {
    /// This line's id (1, 2, …).
    pub id: i64,
    /// The id of the line it belongs under; 0 at the top.
    pub parent: i64,
    /// What the step does, in SQLite's words.
    pub detail: String,
}

/// What the planner recorded for EXPLAIN QUERY PLAN to hide.
#[derive(Debug, Default)]
pub struct ExplainMasks {
    /// Every view expanded, with the plan of its query (found in the
    /// statement's plan by identity).
    pub views: Vec<(String, Plan)>,
    /// The ids of subqueries bound inside row-level security policies.
    pub policy_subqueries: HashSet<usize>,
}

/// Describes `plan` for EXPLAIN QUERY PLAN. `hidden_table` says which
/// tables the reader may not see; `opaque_view` which views' bodies are
/// not theirs to see.
pub fn query_plan(
    plan: &Plan,
    masks: &ExplainMasks,
    hidden_table: &dyn Fn(&str) -> bool,
    opaque_view: &dyn Fn(&str) -> bool,
) -> Vec<PlanLine> {
    let mut w = Writer {
        lines: Vec::new(),
        masks,
        hidden_table,
        opaque_view,
        subqueries: 0,
        seen_subs: HashSet::new(),
        materialized: HashSet::new(),
        recursive: Vec::new(),
    };
    w.query(plan, 0, false);
    w.lines
}

struct Writer<'a> {
    lines: Vec<PlanLine>,
    masks: &'a ExplainMasks,
    hidden_table: &'a dyn Fn(&str) -> bool,
    opaque_view: &'a dyn Fn(&str) -> bool,
    /// Subqueries numbered so far (`SCALAR SUBQUERY n`, `(subquery-n)`).
    subqueries: usize,
    /// Expression subqueries already shown (a condition may be kept in
    /// more than one place of the plan).
    seen_subs: HashSet<usize>,
    /// Common table expressions already shown as MATERIALIZE.
    materialized: HashSet<usize>,
    /// The recursive CTEs being described: (id, name).
    recursive: Vec<(usize, String)>,
}

impl Writer<'_> {
    fn push(&mut self, parent: i64, detail: impl Into<String>) -> i64 {
        let id = self.lines.len() as i64 + 1;
        self.lines.push(PlanLine {
            id,
            parent,
            detail: detail.into(),
        });
        id
    }

    /// The view whose query `p` is, if any.
    fn view_of(&self, p: &Plan) -> Option<String> {
        self.masks
            .views
            .iter()
            .find(|(_, v)| Arc::ptr_eq(v, p))
            .map(|(n, _)| n.clone())
    }

    /// Whether describing view body `plan` would show a table the reader
    /// may not see (then the body is not shown at all, as its text is
    /// not in `sqlite_schema`).
    fn reads_hidden(&self, plan: &Plan) -> bool {
        let mut probe = Writer {
            lines: Vec::new(),
            masks: self.masks,
            hidden_table: self.hidden_table,
            opaque_view: self.opaque_view,
            subqueries: self.subqueries,
            seen_subs: self.seen_subs.clone(),
            materialized: self.materialized.clone(),
            recursive: self.recursive.clone(),
        };
        probe.query(plan, 0, true);
        probe.lines.iter().any(|l| l.detail == HIDDEN_SCAN)
    }

    /// One query (a SELECT or compound) under `parent`. `is_view`: `plan`
    /// is a view's body already announced (do not stop at it again).
    fn query(&mut self, plan: &Plan, parent: i64, is_view: bool) {
        // As deep as the statement nests (subqueries, views).
        crate::depth::guarded(|| self.query_step(plan, parent, is_view))
    }

    fn query_step(&mut self, plan: &Plan, parent: i64, is_view: bool) {
        let mut post: Vec<&'static str> = Vec::new();
        let mut exprs: Vec<&PExpr> = Vec::new();
        let mut cur = plan;
        loop {
            if (!is_view || !Arc::ptr_eq(cur, plan)) && self.view_of(cur).is_some() {
                break;
            }
            match &**cur {
                Node::Project(i, es) => {
                    exprs.extend(es.iter());
                    cur = i;
                }
                Node::Trim(i, _) => cur = i,
                Node::Limit(i, l, o) => {
                    exprs.extend(l.iter().chain(o));
                    cur = i;
                }
                Node::Sort(i, keys) => {
                    post.insert(0, "USE TEMP B-TREE FOR ORDER BY");
                    exprs.extend(keys.iter().map(|k| &k.expr));
                    cur = i;
                }
                Node::Distinct(i, _) => {
                    post.insert(0, "USE TEMP B-TREE FOR DISTINCT");
                    cur = i;
                }
                Node::Aggregate {
                    input, group, aggs, ..
                } => {
                    if !group.is_empty() {
                        post.insert(0, "USE TEMP B-TREE FOR GROUP BY");
                    }
                    exprs.extend(group.iter().map(|(e, _)| e));
                    exprs.extend(aggs.iter().flat_map(|a| &a.args));
                    cur = input;
                }
                Node::Filter(i, pred) => {
                    exprs.push(pred);
                    cur = i;
                }
                _ => break,
            }
        }
        match &**cur {
            Node::SetOp(..) if self.view_of(cur).is_none() => self.compound(cur, parent),
            _ => self.source_item(cur, parent, &mut exprs),
        }
        for p in post {
            self.push(parent, p);
        }
        for e in exprs {
            self.subqueries_of(e, parent);
        }
    }

    /// A compound SELECT: its operands left to right.
    fn compound(&mut self, plan: &Plan, parent: i64) {
        let mut parts: Vec<(Option<(SetOp, bool)>, &Plan)> = Vec::new();
        let mut cur = plan;
        while let Node::SetOp(op, all, l, r, _) = &**cur {
            if self.view_of(cur).is_some() && !Arc::ptr_eq(cur, plan) {
                break;
            }
            parts.push((Some((*op, *all)), r));
            cur = l;
        }
        parts.push((None, cur));
        parts.reverse();
        let top = self.push(parent, "COMPOUND QUERY");
        for (op, p) in parts {
            let detail = match op {
                None => "LEFT-MOST SUBQUERY",
                Some((SetOp::Union, true)) => "UNION ALL",
                Some((SetOp::Union, false)) => "UNION USING TEMP B-TREE",
                Some((SetOp::Intersect, _)) => "INTERSECT USING TEMP B-TREE",
                Some((SetOp::Except, _)) => "EXCEPT USING TEMP B-TREE",
            };
            let id = self.push(top, detail);
            self.query(p, id, false);
        }
    }

    /// A FROM item, or the join of several; the conditions met on the
    /// way go to `exprs`.
    fn source_item<'p>(&mut self, plan: &'p Plan, parent: i64, exprs: &mut Vec<&'p PExpr>) {
        if let Some(name) = self.view_of(plan) {
            if (self.opaque_view)(&name) || self.reads_hidden(plan) {
                self.push(parent, format!("SCAN {name}"));
            } else {
                let id = self.push(parent, format!("CO-ROUTINE {name}"));
                self.query(plan, id, true);
                self.push(parent, format!("SCAN {name}"));
            }
            return;
        }
        match &**plan {
            Node::Scan { table, access, .. } => {
                let line = if (self.hidden_table)(&table.name) {
                    HIDDEN_SCAN.to_string()
                } else {
                    scan_detail(table, access)
                };
                self.push(parent, line);
            }
            Node::Filter(i, pred) => {
                exprs.push(pred);
                self.source_item(i, parent, exprs);
            }
            Node::Join {
                left, right, on, ..
            } => {
                self.source_item(left, parent, exprs);
                self.source_item(right, parent, exprs);
                exprs.extend(on);
            }
            Node::Unit => {
                self.push(parent, "SCAN CONSTANT ROW");
            }
            Node::Values(rows) => {
                let detail = match rows.len() {
                    1 => "SCAN CONSTANT ROW".to_string(),
                    n => format!("SCAN {n} CONSTANT ROWS"),
                };
                self.push(parent, detail);
                exprs.extend(rows.iter().flatten());
            }
            Node::Materialize { name, id, plan: p } => {
                let first = self.materialized.insert(*id);
                if first && matches!(**p, Node::Recursive(_)) {
                    // Kept for its other references; SQLite's words for a
                    // recursive one are those of its co-routine.
                    self.source_item(p, parent, exprs);
                    return;
                }
                if first {
                    let m = self.push(parent, format!("MATERIALIZE {name}"));
                    self.query(p, m, false);
                }
                self.push(parent, format!("SCAN {name}"));
            }
            Node::Recursive(r) => {
                let co = self.push(parent, format!("CO-ROUTINE {}", r.name));
                self.recursive.push((r.id, r.name.clone()));
                let setup = self.push(co, "SETUP");
                self.query(&r.setup, setup, false);
                let step = self.push(co, "RECURSIVE STEP");
                for s in &r.steps {
                    self.query(s, step, false);
                }
                self.recursive.pop();
                exprs.extend(r.limit.iter().chain(&r.offset));
                self.push(parent, format!("SCAN {}", r.name));
            }
            Node::RecursiveRow(id) => {
                let name = self
                    .recursive
                    .iter()
                    .rev()
                    .find(|(i, _)| i == id)
                    .map_or_else(String::new, |(_, n)| n.clone());
                self.push(parent, format!("SCAN {name}"));
            }
            Node::JsonEach { tree, args } => {
                let name = if *tree { "json_tree" } else { "json_each" };
                self.push(parent, format!("SCAN {name} VIRTUAL TABLE"));
                exprs.extend(args);
            }
            Node::Introspect { what, args, .. } => {
                let detail = if what.is_pragma() {
                    format!("SCAN pragma_{} VIRTUAL TABLE", what.name())
                } else {
                    format!("SCAN {}", what.name())
                };
                self.push(parent, detail);
                exprs.extend(args);
            }
            Node::Window(w) => {
                // SQLite runs the rows under the windows as a co-routine
                // sorted for them.
                self.subqueries += 1;
                let name = format!("(subquery-{})", self.subqueries);
                let co = self.push(parent, format!("CO-ROUTINE {name}"));
                self.query(&w.input, co, false);
                for s in &w.sorts {
                    if !s.partition.is_empty() || !s.order.is_empty() {
                        self.push(co, "USE TEMP B-TREE FOR ORDER BY");
                    }
                    exprs.extend(s.partition.iter().map(|(e, _)| e));
                    exprs.extend(s.order.iter().map(|k| &k.expr));
                }
                for c in &w.calls {
                    exprs.extend(c.args.iter().chain(&c.filter));
                }
                self.push(parent, format!("SCAN {name}"));
            }
            // A subquery in FROM.
            Node::Project(..)
            | Node::Trim(..)
            | Node::Limit(..)
            | Node::Sort(..)
            | Node::Distinct(..)
            | Node::Aggregate { .. }
            | Node::SetOp(..) => {
                self.subqueries += 1;
                let name = format!("(subquery-{})", self.subqueries);
                let co = self.push(parent, format!("CO-ROUTINE {name}"));
                self.query(plan, co, false);
                self.push(parent, format!("SCAN {name}"));
            }
        }
    }

    /// The subqueries in `e` (not those inside them: each is a query of
    /// its own, described under its line).
    fn subqueries_of(&mut self, e: &PExpr, parent: i64) {
        let mut subs: Vec<(Arc<SubPlan>, &'static str)> = Vec::new();
        pwalk(e, &mut |x| match x {
            PExpr::InSub(_, s, ..) => subs.push((s.clone(), "LIST SUBQUERY")),
            PExpr::Exists(s, _) | PExpr::Scalar(s) => subs.push((s.clone(), "SCALAR SUBQUERY")),
            _ => {}
        });
        for (s, kind) in subs {
            if self.masks.policy_subqueries.contains(&s.id) || !self.seen_subs.insert(s.id) {
                continue;
            }
            self.subqueries += 1;
            let detail = if s.correlated {
                format!("CORRELATED {kind} {}", self.subqueries)
            } else {
                format!("{kind} {}", self.subqueries)
            };
            let id = self.push(parent, detail);
            self.query(&s.plan, id, false);
        }
    }
}

/// SQLite's words for reading `table` by `access`: `SCAN t`, `SCAN t
/// USING INDEX i`, `SEARCH t USING INDEX i (a=? AND b>?)`, `SEARCH t USING
/// INTEGER PRIMARY KEY (rowid=?)`, `SEARCH w USING PRIMARY KEY (k=?)` (a
/// WITHOUT ROWID table's key). A range shows `>?` and `<?` whatever its
/// inclusiveness, as SQLite's does.
fn scan_detail(table: &Table, access: &Access) -> String {
    let name = &table.name;
    match access {
        Access::Full => format!("SCAN {name}"),
        Access::Rowids(_) => format!("SEARCH {name} USING INTEGER PRIMARY KEY (rowid=?)"),
        Access::RowidRange(lo, hi) => {
            let terms: Vec<&str> = [
                lo.as_ref().map(|_| "rowid>?"),
                hi.as_ref().map(|_| "rowid<?"),
            ]
            .into_iter()
            .flatten()
            .collect();
            format!(
                "SEARCH {name} USING INTEGER PRIMARY KEY ({})",
                terms.join(" AND ")
            )
        }
        Access::Index { index, eq, range } => {
            let Some(idx) = table.indexes.get(*index) else {
                return format!("SCAN {name}");
            };
            let col = |k: usize| {
                if idx.expr(k).is_some() {
                    return "<expr>";
                }
                idx.columns
                    .get(k)
                    .and_then(|&c| table.columns.get(c))
                    .map_or("?", |c| c.name.as_str())
            };
            let mut terms: Vec<String> = (0..eq.len()).map(|k| format!("{}=?", col(k))).collect();
            if let Some((lo, hi)) = range {
                if lo.is_some() {
                    terms.push(format!("{}>?", col(eq.len())));
                }
                if hi.is_some() {
                    terms.push(format!("{}<?", col(eq.len())));
                }
            }
            let key = table.without_rowid && idx.auto && idx.columns == table.primary_key;
            match (key, terms.is_empty()) {
                (true, true) => format!("SCAN {name}"),
                (false, true) => format!("SCAN {name} USING INDEX {}", idx.name),
                (true, false) => {
                    format!("SEARCH {name} USING PRIMARY KEY ({})", terms.join(" AND "))
                }
                (false, false) => format!(
                    "SEARCH {name} USING INDEX {} ({})",
                    idx.name,
                    terms.join(" AND ")
                ),
            }
        }
    }
}
