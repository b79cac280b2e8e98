//! Common table expressions (WITH): the clauses in scope while a statement
//! is planned, what a name in FROM finds among them, and how a reference
//! to one is planned — SQLite's rules throughout.
//!
//! * **Lookup.** A FROM name is looked up in the WITH clauses in scope,
//!   innermost first, before the schema (a CTE shadows a table); `main.x`
//!   never names a CTE. Every CTE of a clause sees every other, later ones
//!   included; a cycle is a "circular reference". The target of INSERT,
//!   UPDATE and DELETE is always a table.
//! * **Where a CTE is planned.** At each reference, like a subquery in
//!   FROM (SQLite copies the CTE there): its query may read the columns of
//!   the queries around the reference, and a CTE nobody names is never
//!   planned, nor checked, as in SQLite. Its query sees the WITH clause it
//!   belongs to and the outer ones, not those nearer the reference.
//! * **Views, row policies, triggers** are planned without the statement's
//!   CTEs in scope: a CTE must not change what a name in a view or a
//!   policy means — they run with their owner's rights.
//! * **Materialization.** A CTE named more than once in its statement, or
//!   marked MATERIALIZED, is computed once and kept
//!   ([`Node::Materialize`]); one named once, or marked NOT MATERIALIZED,
//!   runs at its reference (and streams: an endless recursive CTE under a
//!   LIMIT ends). A CTE whose query reads an enclosing query's row runs at
//!   each use whatever the hint. Either way the rows are the same.
//! * **Recursion.** A CTE whose query is a compound ending in UNION [ALL]
//!   SELECTs that name it directly in their FROM clause is recursive (the
//!   RECURSIVE keyword changes nothing, as in SQLite): those trailing
//!   SELECTs (joined by the same operator as the last) are the recursive
//!   part, the rest the setup. A recursive SELECT names the CTE once, not
//!   in a subquery, and does not aggregate; the setup never names it.
//!   ORDER BY, LIMIT and OFFSET of the CTE's query drive its queue
//!   ([`RecursiveCte`], run by `sql::cte`).
//!
//! Security: a CTE's query binds its tables through the same path as any
//! FROM item, so table and column privileges and row-level security apply
//! exactly as in a subquery, under the rights in force where the WITH
//! clause is (the session's, or a view owner's inside a view).

use super::*;

/// A WITH clause in scope.
pub(super) struct CteFrame {
    /// Unique among the frames of all statements (circular references are
    /// found by it).
    id: usize,
    with: Arc<With>,
    /// Per CTE: the id its kept rows are cached under.
    mat_ids: Vec<usize>,
    /// Per CTE: how often the statement names it.
    refs: Vec<usize>,
    /// Whose rights apply where the clause is.
    acting: Vec<Definer>,
}

/// A CTE whose query is being planned.
pub(super) struct CteInProgress {
    frame: usize,
    index: usize,
    phase: Phase,
}

#[derive(Clone, Debug)]
enum Phase {
    /// The query of a CTE that is not recursive, or a recursive one's
    /// setup: naming the CTE is a circular reference.
    Body,
    /// A recursive SELECT planned at query depth `nest`: its FROM clause
    /// (at that depth) reads the recursive row once.
    Step {
        nest: usize,
        used: bool,
        row: Arc<RecursiveRowSource>,
    },
}

/// What a recursive SELECT's reference to its CTE reads.
#[derive(Debug)]
struct RecursiveRowSource {
    id: usize,
    names: Vec<String>,
    types: Vec<ExprType>,
}

/// A data change whose WITH clause comes into scope.
pub enum DataChange<'a> {
    /// INSERT.
    Insert(&'a Insert),
    /// UPDATE.
    Update(&'a Update),
    /// DELETE.
    Delete(&'a Delete),
}

fn cte_error(msg: String) -> Error {
    err(SqlErrorKind::Misuse, msg)
}

impl<'s> Planner<'s> {
    /// Brings the WITH clause of `change` (if any) into scope for
    /// everything planned next.
    pub fn with_ctes_of(mut self, change: DataChange) -> Self {
        self.push_ctes_of(change);
        self
    }

    /// [`Self::with_ctes_of`] on a planner in use.
    pub fn push_ctes_of(&mut self, change: DataChange) {
        match change {
            DataChange::Insert(i) => {
                if let Some(w) = &i.with {
                    self.push_frame(w, &|n| refs_in_insert(i, n));
                }
            }
            DataChange::Update(u) => {
                if let Some(w) = &u.with {
                    self.push_frame(w, &|n| refs_in_update(u, n));
                }
            }
            DataChange::Delete(d) => {
                if let Some(w) = &d.with {
                    self.push_frame(w, &|n| refs_in_delete(d, n));
                }
            }
        }
    }

    fn push_frame(&mut self, with: &Arc<With>, refs: &dyn Fn(&str) -> usize) {
        self.ctes.push(CteFrame {
            id: SUB_IDS.fetch_add(1, Ordering::Relaxed),
            with: with.clone(),
            mat_ids: with
                .ctes
                .iter()
                .map(|_| SUB_IDS.fetch_add(1, Ordering::Relaxed))
                .collect(),
            refs: with.ctes.iter().map(|c| refs(&c.name)).collect(),
            acting: self.acting.clone(),
        });
    }

    /// Runs `f` with `with` in scope (`refs` counts how often the query
    /// it heads names a CTE).
    pub(super) fn in_with<T>(
        &mut self,
        with: &Arc<With>,
        refs: &dyn Fn(&str) -> usize,
        f: impl FnOnce(&mut Self) -> Result<T>,
    ) -> Result<T> {
        let depth = self.ctes.len();
        self.push_frame(with, refs);
        let r = f(self);
        self.ctes.truncate(depth);
        r
    }

    /// The CTE `name` names here, if any: (frame position, CTE index).
    pub(super) fn find_cte(&self, name: &str) -> Option<(usize, usize)> {
        self.ctes.iter().enumerate().rev().find_map(|(fi, f)| {
            f.with
                .ctes
                .iter()
                .position(|c| c.name.eq_ignore_ascii_case(name))
                .map(|ci| (fi, ci))
        })
    }

    /// The source for a reference to the CTE at `found` (see the module
    /// docs), under `alias`.
    pub(super) fn cte_source(
        &mut self,
        (fi, ci): (usize, usize),
        alias: Option<&str>,
        hint: Option<&IndexHint>,
        parent: Option<&Scope>,
    ) -> Result<Source> {
        let frame = &self.ctes[fi];
        let (frame_id, with) = (frame.id, frame.with.clone());
        let cte = &with.ctes[ci];
        // (SQLite quotes the name here, unlike for a table.)
        if let Some(IndexHint::IndexedBy(i)) = hint {
            return Err(err(
                SqlErrorKind::UnknownTable,
                format!("no such index: \"{i}\""),
            ));
        }
        let label = alias.unwrap_or(&cte.name).to_string();
        let nest = self.nest;
        if let Some(p) = self
            .cte_planning
            .iter_mut()
            .rev()
            .find(|p| p.frame == frame_id && p.index == ci)
        {
            return match &mut p.phase {
                Phase::Body => Err(cte_error(format!("circular reference: {}", cte.name))),
                Phase::Step { nest: at, .. } if *at != nest => Err(cte_error(format!(
                    "multiple recursive references: {}",
                    cte.name
                ))),
                Phase::Step { used: true, .. } => Err(cte_error(format!(
                    "multiple references to recursive table: {}",
                    cte.name
                ))),
                Phase::Step { used, row, .. } => {
                    *used = true;
                    let row = row.clone();
                    Ok(derived_source(
                        Arc::new(Node::RecursiveRow(row.id)),
                        &label,
                        row.names.clone(),
                        &row.types,
                        &[],
                    ))
                }
            };
        }
        // The query sees its own WITH clause and the outer ones, under the
        // rights in force there.
        let inner = self.ctes.split_off(fi + 1);
        let acting = std::mem::replace(&mut self.acting, self.ctes[fi].acting.clone());
        let mut child = Scope::new(Vec::new(), parent);
        child.transparent = true;
        let planned = self.cte_query(frame_id, ci, cte, &child);
        self.acting = acting;
        self.ctes.extend(inner);
        let (plan, names, types, decls) = planned?;
        let frame = &self.ctes[fi];
        let keep = !child.correlated.get()
            && cte
                .materialized
                .unwrap_or(frame.refs.get(ci).is_some_and(|n| *n > 1));
        let plan = if keep {
            Arc::new(Node::Materialize {
                name: cte.name.clone(),
                id: frame.mat_ids[ci],
                plan,
            })
        } else {
            plan
        };
        Ok(derived_source(plan, &label, names, &types, &decls))
    }

    /// Plans CTE `cte` (number `index` of frame `frame`): its plan, column
    /// names and types.
    fn cte_query(
        &mut self,
        frame: usize,
        index: usize,
        cte: &Cte,
        parent: &Scope,
    ) -> Result<CtePlan> {
        let q = &cte.query;
        let Some((setup, steps, distinct)) = recursive_parts(&q.body, &cte.name) else {
            self.cte_planning.push(CteInProgress {
                frame,
                index,
                phase: Phase::Body,
            });
            let planned = self.query_in(q, Some(parent));
            self.cte_planning.pop();
            let planned = planned?;
            let names = column_names(cte, planned.columns)?;
            return Ok((planned.plan, names, planned.types, planned.decltypes));
        };
        self.nest += 1;
        let r = match &q.with {
            Some(w) => self.in_with(w, &|n| refs_in_query(q, n), |p| {
                p.recursive(frame, index, cte, setup, &steps, distinct, parent)
            }),
            None => self.recursive(frame, index, cte, setup, &steps, distinct, parent),
        };
        self.nest -= 1;
        r
    }

    /// Plans a recursive CTE: `setup` ++ `steps` (see [`RecursiveCte`]).
    #[allow(clippy::too_many_arguments)]
    fn recursive(
        &mut self,
        frame: usize,
        index: usize,
        cte: &Cte,
        setup: &SetExpr,
        steps: &[&Select],
        distinct: bool,
        parent: &Scope,
    ) -> Result<CtePlan> {
        self.cte_planning.push(CteInProgress {
            frame,
            index,
            phase: Phase::Body,
        });
        let first = self.set_expr(setup, Some(parent));
        self.cte_planning.pop();
        let first = first?;
        let width = first.columns.len();
        let names = column_names(cte, first.columns.clone())?;
        let row = Arc::new(RecursiveRowSource {
            id: SUB_IDS.fetch_add(1, Ordering::Relaxed),
            names: names.clone(),
            types: first.types.clone(),
        });
        let mut types = first.types.clone();
        let mut plans = Vec::with_capacity(steps.len());
        for sel in steps {
            if aggregates(sel) {
                return Err(cte_error(
                    "recursive aggregate queries not supported".into(),
                ));
            }
            self.cte_planning.push(CteInProgress {
                frame,
                index,
                phase: Phase::Step {
                    nest: self.nest,
                    used: false,
                    row: row.clone(),
                },
            });
            let step = self.select(sel, &[], &None, &None, Some(parent));
            self.cte_planning.pop();
            let step = step?;
            if step.columns.len() != width {
                return Err(err(
                    SqlErrorKind::Misuse,
                    format!(
                        "SELECTs to the left and right of {} do not have the same number of result columns",
                        if distinct { "UNION" } else { "UNION ALL" }
                    ),
                ));
            }
            // Typed as any compound's columns.
            types = query::compound_types(&types, &step.types);
            plans.push(step.plan);
        }
        let colls: Vec<Collation> = types.iter().map(|t| t.coll.unwrap_or_default()).collect();
        let q = &cte.query;
        let order = self.compound_order(&q.order_by, &first.columns, &types, Some(parent))?;
        let (limit, offset) = self.limit_offset(&q.limit, &q.offset, Some(parent))?;
        let plan = Arc::new(Node::Recursive(RecursiveCte {
            name: cte.name.clone(),
            id: row.id,
            setup: first.plan,
            steps: plans,
            distinct: distinct.then_some(colls),
            order,
            limit,
            offset,
        }));
        Ok((plan, names, types, first.decltypes))
    }
}

/// A CTE's plan, column names, types and declared types.
type CtePlan = (Plan, Vec<String>, Vec<ExprType>, Vec<Option<Arc<str>>>);

/// A FROM source reading `plan`'s rows as columns `names` of `label`
/// (`decls`: their declared types; missing ones are none).
fn derived_source(
    plan: Plan,
    label: &str,
    names: Vec<String>,
    types: &[ExprType],
    decls: &[Option<Arc<str>>],
) -> Source {
    Source {
        plan: Some(plan),
        table: None,
        cols: names
            .into_iter()
            .zip(types)
            .enumerate()
            .map(|(i, (n, t))| ScopeCol {
                table: Some(label.to_string()),
                name: n,
                hidden: false,
                affinity: t.aff,
                collation: t.coll.or(Some(Collation::Binary)),
                origin: None,
                using_copy: None,
                json_value: false,
                decl: decls.get(i).cloned().flatten(),
            })
            .collect(),
        kind: JoinKind::Inner,
        on: Vec::new(),
        using_coalesce: Vec::new(),
        policy: Vec::new(),
        hint: None,
    }
}

/// The CTE's column names: its column list (as many as its query has
/// columns: SQLite's "table x has 2 values for 1 columns"), else the
/// query's.
fn column_names(cte: &Cte, planned: Vec<String>) -> Result<Vec<String>> {
    if cte.columns.is_empty() {
        return Ok(planned);
    }
    if cte.columns.len() != planned.len() {
        return Err(cte_error(format!(
            "table {} has {} values for {} columns",
            cte.name,
            planned.len(),
            cte.columns.len()
        )));
    }
    Ok(cte.columns.clone())
}

/// Splits the body of CTE `name` into its setup and its recursive SELECTs
/// (in order) and whether they are joined by UNION (not UNION ALL); None
/// when it is not recursive. SQLite's `resolveFromTermToCte`: from the
/// right, the SELECTs joined by the last compound operator (UNION or
/// UNION ALL) that name the CTE in their own FROM clause.
fn recursive_parts<'q>(
    body: &'q SetExpr,
    name: &str,
) -> Option<(&'q SetExpr, Vec<&'q Select>, bool)> {
    let SetExpr::SetOp {
        op: SetOp::Union,
        all: last_all,
        ..
    } = body
    else {
        return None;
    };
    let mut steps = Vec::new();
    let mut cur = body;
    while let SetExpr::SetOp {
        op: SetOp::Union,
        all,
        left,
        right,
    } = cur
    {
        match &**right {
            SetExpr::Select(sel) if all == last_all && names_in_from(sel, name) => {
                steps.push(&**sel);
                cur = left;
            }
            _ => break,
        }
    }
    if steps.is_empty() {
        return None;
    }
    steps.reverse();
    Some((cur, steps, !last_all))
}

/// Whether `sel`'s own FROM clause (not a subquery in it) names `name`.
fn names_in_from(sel: &Select, name: &str) -> bool {
    fn item(f: &FromItem, name: &str) -> bool {
        match f {
            FromItem::Table {
                name: n,
                qualified: false,
                ..
            } => n.eq_ignore_ascii_case(name),
            FromItem::Table { .. } | FromItem::Subquery { .. } | FromItem::Function { .. } => false,
            FromItem::Join { left, right, .. } => item(left, name) || item(right, name),
        }
    }
    sel.from.as_ref().is_some_and(|f| item(f, name))
}

/// Whether `sel` aggregates (GROUP BY, HAVING or an aggregate call).
fn aggregates(sel: &Select) -> bool {
    !sel.group_by.is_empty()
        || sel.having.is_some()
        || sel
            .items
            .iter()
            .any(|it| matches!(it, SelectItem::Expr { expr, .. } if has_aggregate(expr)))
}

/// How often `q` names `name` in a FROM clause (subqueries and CTE
/// queries included; a nearer CTE of the same name counted too, which
/// only makes a CTE kept that could have run in place).
pub(super) fn refs_in_query(q: &Query, name: &str) -> usize {
    let mut n = 0;
    count_query(q, name, &mut n);
    n
}

/// [`refs_in_query`] for an INSERT: its source, upsert and RETURNING.
fn refs_in_insert(i: &Insert, name: &str) -> usize {
    let mut n = 0;
    if let Some(q) = &i.source {
        count_query(q, name, &mut n);
    }
    if let Some(Upsert {
        action: UpsertAction::Update(sets, filter),
        ..
    }) = &i.upsert
    {
        for e in sets.iter().map(|(_, e)| e).chain(filter.iter()) {
            count_expr(e, name, &mut n);
        }
    }
    count_items(&i.returning, name, &mut n);
    count_with(i.with.as_deref(), name, &mut n);
    n
}

/// [`refs_in_query`] for an UPDATE: SET, FROM, WHERE, RETURNING.
fn refs_in_update(u: &Update, name: &str) -> usize {
    let mut n = 0;
    for e in u.assignments.iter().map(|(_, e)| e).chain(u.filter.iter()) {
        count_expr(e, name, &mut n);
    }
    if let Some(f) = &u.from {
        count_from(f, name, &mut n);
    }
    count_items(&u.returning, name, &mut n);
    count_with(u.with.as_deref(), name, &mut n);
    n
}

/// [`refs_in_query`] for a DELETE: WHERE, RETURNING.
fn refs_in_delete(d: &Delete, name: &str) -> usize {
    let mut n = 0;
    for e in d.filter.iter() {
        count_expr(e, name, &mut n);
    }
    count_items(&d.returning, name, &mut n);
    count_with(d.with.as_deref(), name, &mut n);
    n
}

fn count_with(w: Option<&With>, name: &str, n: &mut usize) {
    for c in w.iter().flat_map(|w| &w.ctes) {
        count_query(&c.query, name, n);
    }
}

fn count_query(q: &Query, name: &str, n: &mut usize) {
    depth::guarded(|| {
        count_with(q.with.as_deref(), name, n);
        count_set(&q.body, name, n);
        for e in q
            .order_by
            .iter()
            .map(|o| &o.expr)
            .chain(q.limit.iter())
            .chain(q.offset.iter())
        {
            count_expr(e, name, n);
        }
    })
}

fn count_set(s: &SetExpr, name: &str, n: &mut usize) {
    depth::guarded(|| match s {
        SetExpr::Select(sel) => {
            if let Some(f) = &sel.from {
                count_from(f, name, n);
            }
            count_items(&sel.items, name, n);
            for e in sel
                .filter
                .iter()
                .chain(&sel.group_by)
                .chain(sel.having.iter())
                .chain(sel.windows.iter().flat_map(|(_, w)| w.exprs()))
            {
                count_expr(e, name, n);
            }
        }
        SetExpr::Values(rows) => rows.iter().flatten().for_each(|e| count_expr(e, name, n)),
        SetExpr::Query(q) => count_query(q, name, n),
        SetExpr::SetOp { left, right, .. } => {
            count_set(left, name, n);
            count_set(right, name, n);
        }
    })
}

fn count_from(f: &FromItem, name: &str, n: &mut usize) {
    depth::guarded(|| match f {
        FromItem::Table {
            name: t,
            qualified: false,
            ..
        } if t.eq_ignore_ascii_case(name) => *n += 1,
        FromItem::Table { .. } => {}
        FromItem::Function { args, .. } => args.iter().for_each(|e| count_expr(e, name, n)),
        FromItem::Subquery { query, .. } => count_query(query, name, n),
        FromItem::Join {
            left, right, on, ..
        } => {
            count_from(left, name, n);
            count_from(right, name, n);
            if let Some(e) = on {
                count_expr(e, name, n);
            }
        }
    })
}

fn count_items(items: &[SelectItem], name: &str, n: &mut usize) {
    for it in items {
        if let SelectItem::Expr { expr, .. } = it {
            count_expr(expr, name, n);
        }
    }
}

fn count_expr(e: &Expr, name: &str, n: &mut usize) {
    walk(e, &mut |x| match x {
        Expr::Exists(q, _) | Expr::Subquery(q) | Expr::InSubquery { query: q, .. } => {
            count_query(q, name, n)
        }
        Expr::RowField { query, .. } => count_query(query, name, n),
        _ => {}
    });
}
