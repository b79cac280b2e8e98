//! Whether a data-changing statement keeps a statement journal, decided as
//! SQLite's code generator decides it, so that an error it did not foresee
//! undoes what SQLite undoes.
//!
//! SQLite opens a statement journal (and so can undo a statement that
//! fails part way, inside a transaction) only when the statement may write
//! several rows (`sqlite3MultiWrite`: an INSERT from a SELECT or several
//! VALUES rows, a statement with triggers or RETURNING (SQLite's RETURNING
//! trigger is in the statement's trigger list), an UPDATE or DELETE not
//! known to touch one row) and its code contains something that may abort
//! it (`sqlite3MayAbort`: a constraint resolved by ABORT, the new rowid's
//! uniqueness among them, a REPLACE of a NOT NULL column, a rowid given
//! that must be made an integer (not the NULL literal of a single VALUES
//! row, which becomes a new rowid, unless a BEFORE INSERT trigger sees
//! it), a function call, a non-literal LIMIT or an OFFSET), counting every
//! trigger program it may run, nested ones included (only what is coded:
//! of a column assigned twice in SET, the last value). An error without a
//! journal (a STRICT type error) leaves the rows written before it inside
//! a transaction.
//!
//! Invariant: the decision depends only on the statement's text and the
//! schema, never on the data, as in SQLite (it is made when the statement
//! is compiled).

use crate::catalog::{Index, Schema, Table};
use crate::sql::aggregate::agg_kind;
use crate::syntax::ast::{
    Conflict, Delete, Expr, FromItem, Insert, Query, SelectItem, SetExpr, Statement, TriggerEvent,
    Update, UpsertAction, With,
};
use crate::syntax::parse::parse_expr;
use crate::types::Collation;

/// Whether SQLite would keep a statement journal for `stmt` (true for
/// anything but INSERT, UPDATE and DELETE: their errors undo the
/// statement).
pub fn keeps_statement_journal(schema: &Schema, stmt: &Statement) -> bool {
    let mut d = Decision::default();
    match stmt {
        Statement::Insert(i) => d.insert(schema, i, None),
        Statement::Update(u) => d.update(schema, u, None),
        Statement::Delete(x) => d.delete(schema, x, None),
        _ => return true,
    }
    d.multi_write && d.may_abort
}

/// Whether SQLite codes `stmt` as a write of several rows
/// (`isMultiWrite`): an UPDATE or DELETE on a table with foreign keys
/// always is (SQLite's `sqlite3FkRequired`), an INSERT when it has a
/// SELECT or several VALUES rows, triggers, RETURNING or REPLACE
/// resolution. Foreign key enforcement asks (see
/// `sql::run::foreign_key`).
pub fn multi_write(schema: &Schema, stmt: &Statement) -> bool {
    let mut d = Decision::default();
    match stmt {
        Statement::Insert(i) => {
            if i.on_conflict == Some(Conflict::Replace) {
                return true;
            }
            d.insert(schema, i, None)
        }
        _ => return true,
    }
    d.multi_write
}

#[derive(Default)]
struct Decision {
    multi_write: bool,
    may_abort: bool,
    /// Trigger programs coded already (trigger id, conflict resolution).
    coded: Vec<(u32, Option<Conflict>)>,
}

/// SQLite's functions coded inline (no function call).
const INLINE: &[&str] = &[
    "coalesce",
    "ifnull",
    "iif",
    "if",
    "likely",
    "unlikely",
    "likelihood",
];

impl Decision {
    fn expr(&mut self, e: &Expr) {
        if self.may_abort {
            return;
        }
        crate::sql::plan::walk(e, &mut |x| match x {
            Expr::Function {
                name, args, star, ..
            } => {
                let lower = name.to_ascii_lowercase();
                let aggregate = agg_kind(&lower, args.len(), *star).is_some()
                    && !(args.len() > 1 && (lower == "min" || lower == "max"));
                if !aggregate && !INLINE.contains(&lower.as_str()) {
                    self.may_abort = true;
                }
            }
            // LIKE and GLOB are function calls in SQLite; a window
            // checks its frame offsets and arguments as it runs.
            Expr::Like { .. } | Expr::Window(_) => self.may_abort = true,
            // RAISE(ABORT) must undo the statement (sqlite3MayAbort);
            // IGNORE, FAIL and ROLLBACK need no statement journal.
            Expr::Raise(Conflict::Abort, _) => self.may_abort = true,
            _ => {}
        });
        // `walk` does not enter subqueries.
        walk_queries(e, &mut |q| self.query(q));
    }

    fn query(&mut self, q: &Query) {
        self.with(q.with.as_deref());
        self.set_expr(&q.body);
        for o in &q.order_by {
            self.expr(&o.expr);
        }
        // A LIMIT that is not an integer literal, and any OFFSET, must be
        // made integers at run time.
        if let Some(l) = &q.limit {
            if !is_integer_literal(l) {
                self.may_abort = true;
            }
        }
        if q.offset.is_some() {
            self.may_abort = true;
        }
    }

    /// A WITH clause's queries (coded where they are named, which SQLite
    /// decides on the same text).
    fn with(&mut self, w: Option<&With>) {
        for c in w.iter().flat_map(|w| &w.ctes) {
            self.query(&c.query);
        }
    }

    fn set_expr(&mut self, s: &SetExpr) {
        match s {
            SetExpr::Select(sel) => {
                self.items(&sel.items);
                if let Some(f) = &sel.from {
                    self.from(f);
                }
                for e in sel.filter.iter().chain(&sel.group_by).chain(&sel.having) {
                    self.expr(e);
                }
                if !sel.windows.is_empty() {
                    self.may_abort = true;
                }
            }
            SetExpr::Values(rows) => rows.iter().flatten().for_each(|e| self.expr(e)),
            SetExpr::Query(q) => self.query(q),
            SetExpr::SetOp { left, right, .. } => {
                self.set_expr(left);
                self.set_expr(right);
            }
        }
    }

    fn from(&mut self, f: &FromItem) {
        match f {
            FromItem::Table { .. } => {}
            FromItem::Function { args, .. } => args.iter().for_each(|e| self.expr(e)),
            FromItem::Subquery { query, .. } => self.query(query),
            FromItem::Join {
                left, right, on, ..
            } => {
                self.from(left);
                self.from(right);
                if let Some(e) = on {
                    self.expr(e);
                }
            }
        }
    }

    /// A RETURNING list: SQLite codes it as a trigger on the statement
    /// (its RETURNING trigger is in the statement's trigger list), so a
    /// statement with one counts as writing several rows.
    fn returning(&mut self, items: &[SelectItem]) {
        if !items.is_empty() {
            self.multi_write = true;
        }
        self.items(items);
    }

    fn items(&mut self, items: &[SelectItem]) {
        for it in items {
            if let SelectItem::Expr { expr, .. } = it {
                self.expr(expr);
            }
        }
    }

    /// The trigger programs `stmt` on `t` may run (`event` and, for
    /// UPDATE, the columns it assigns), under conflict resolution `orconf`
    /// (the firing statement's, if named).
    fn triggers(
        &mut self,
        schema: &Schema,
        t: &Table,
        event: &TriggerEvent,
        assigned: &[usize],
        orconf: Option<Conflict>,
    ) {
        for tr in schema.triggers_on(&t.name) {
            let fires = match (&tr.event, event) {
                (TriggerEvent::Insert, TriggerEvent::Insert)
                | (TriggerEvent::Delete, TriggerEvent::Delete) => true,
                (TriggerEvent::Update(of), TriggerEvent::Update(_)) => {
                    of.is_empty()
                        || of.iter().any(|c| {
                            t.columns
                                .iter()
                                .position(|col| col.name.eq_ignore_ascii_case(c))
                                .is_some_and(|p| assigned.contains(&p))
                        })
                }
                _ => false,
            };
            if !fires {
                continue;
            }
            // Writing through triggers is writing several rows.
            self.multi_write = true;
            if self.coded.contains(&(tr.id, orconf)) {
                continue;
            }
            self.coded.push((tr.id, orconf));
            if let Some(w) = &tr.when {
                self.expr(w);
            }
            for s in &tr.body {
                match s {
                    Statement::Insert(i) => self.insert(schema, i, orconf),
                    Statement::Update(u) => self.update(schema, u, orconf),
                    Statement::Delete(d) => self.delete(schema, d, orconf),
                    Statement::Query(q) => self.query(q),
                    _ => {}
                }
            }
        }
    }

    /// A data change on a view: its INSTEAD OF triggers run for each row
    /// (writing several rows), after the rows are read (the view and the
    /// WHERE and SET, coded as a query). False when `name` is no view.
    fn view_change(
        &mut self,
        schema: &Schema,
        name: &str,
        event: &TriggerEvent,
        read: Option<(Option<&Expr>, Vec<Expr>)>,
        named: Option<Conflict>,
    ) -> bool {
        let Some(v) = schema.view(name) else {
            return false;
        };
        let Ok(vt) = crate::sql::run::view_row_table(schema, v) else {
            return true;
        };
        self.multi_write = true;
        if let Some((filter, exprs)) = read {
            self.query(&crate::sql::run::view_rows_query(v, filter, &exprs, true));
        }
        let assigned: Vec<usize> = match event {
            TriggerEvent::Update(cols) => assigned_columns(&vt, cols.iter().map(String::as_str)),
            _ => Vec::new(),
        };
        self.triggers(schema, &vt, event, &assigned, named);
        true
    }

    fn insert(&mut self, schema: &Schema, ins: &Insert, over: Option<Conflict>) {
        let Some(t) = schema.table(&ins.table) else {
            self.with(ins.with.as_deref());
            if let Some(q) = &ins.source {
                self.query(q);
            }
            let named = over.or(ins.on_conflict);
            self.view_change(schema, &ins.table, &TriggerEvent::Insert, None, named);
            return;
        };
        self.with(ins.with.as_deref());
        let named = over.or(ins.on_conflict);
        let mode = named.unwrap_or(Conflict::Abort);
        // From a SELECT or several VALUES rows (SQLite's pSelect).
        if let Some(q) = &ins.source {
            if !matches!(&q.body, SetExpr::Values(rows) if rows.len() == 1)
                || !q.order_by.is_empty()
                || q.limit.is_some()
            {
                self.multi_write = true;
            }
            self.query(q);
        }
        // An explicit rowid must be made an integer (and may collide).
        let rowid_given = match &ins.columns {
            Some(cols) => cols.iter().any(|c| {
                let named_alias = t
                    .rowid_alias
                    .is_some_and(|a| t.columns[a].name.eq_ignore_ascii_case(c));
                named_alias
                    || (!t.without_rowid
                        && t.columns
                            .iter()
                            .all(|col| !col.name.eq_ignore_ascii_case(c))
                        && ["rowid", "oid", "_rowid_"]
                            .iter()
                            .any(|r| r.eq_ignore_ascii_case(c)))
            }),
            None => t.rowid_alias.is_some() && ins.source.is_some(),
        };
        // SQLite codes OP_MustBeInt for it (sqlite3MayAbort), except for
        // the NULL literal of a single VALUES row, which becomes
        // OP_NewRowid; a BEFORE INSERT trigger's NEW row is still made an
        // integer.
        let single_null = match (&ins.source, &ins.columns) {
            (Some(q), cols) if q.order_by.is_empty() && q.limit.is_none() => match &q.body {
                SetExpr::Values(rows) if rows.len() == 1 => {
                    let pos = match cols {
                        Some(cols) => cols.iter().position(|c| {
                            t.rowid_alias
                                .is_some_and(|a| t.columns[a].name.eq_ignore_ascii_case(c))
                                || ["rowid", "oid", "_rowid_"]
                                    .iter()
                                    .any(|r| r.eq_ignore_ascii_case(c))
                        }),
                        None => t.rowid_alias,
                    };
                    pos.and_then(|p| rows[0].get(p))
                        .is_some_and(|e| matches!(e, Expr::Literal(crate::types::Value::Null)))
                }
                _ => false,
            },
            _ => false,
        };
        let before_insert = schema.triggers_on(&t.name).iter().any(|tr| {
            tr.timing == crate::syntax::ast::TriggerTiming::Before
                && matches!(tr.event, TriggerEvent::Insert)
        });
        if rowid_given && (!single_null || before_insert) {
            self.may_abort = true;
        }
        // The new rowid's uniqueness is checked under ABORT unless an
        // upsert handles it (no target, or the rowid alias as target).
        let rowid_upsert = ins
            .upsert
            .as_ref()
            .map(|u| upsert_index(t, u.target.as_deref()))
            .is_some_and(|k| matches!(k, None | Some(usize::MAX)));
        if rowid_given && mode == Conflict::Abort && !rowid_upsert {
            self.may_abort = true;
        }
        self.generated(t);
        self.not_null(t, None, mode);
        // A new row's entry in every index is computed.
        self.partial_indexes(t, |_, _| true);
        self.index_exprs(t, |_| true);
        // The uniqueness constraints: an upsert resolves its target's (or
        // all, without a target) by DO NOTHING or DO UPDATE.
        let target = ins
            .upsert
            .as_ref()
            .map(|u| upsert_index(t, u.target.as_deref()));
        for (k, ix) in t.indexes.iter().enumerate() {
            if !ix.unique {
                continue;
            }
            let handled = match target {
                Some(None) => true,
                Some(Some(tk)) => tk == k,
                None => false,
            };
            if !handled && mode == Conflict::Abort {
                self.may_abort = true;
            }
        }
        // SQLite codes the DO UPDATE only at a uniqueness check it
        // resolves, and the new rowid's is coded only when the INSERT gives
        // the rowid: `ON CONFLICT (ipk) DO UPDATE` of an INSERT that does
        // not name it is never coded, nor is a target-less one on a table
        // without a unique index.
        let upsert_coded = match target {
            Some(Some(usize::MAX)) => rowid_given,
            Some(Some(_)) => true,
            Some(None) => rowid_given || t.without_rowid || t.indexes.iter().any(|ix| ix.unique),
            None => false,
        };
        if let Some(u) = ins.upsert.as_ref().filter(|_| upsert_coded) {
            if let UpsertAction::Update(sets, filter) = &u.action {
                // An UPDATE OR ABORT of the conflicting row.
                let assigned = assigned_columns(t, sets.iter().map(|(c, _)| c.as_str()));
                for e in coded_assignments(t, sets) {
                    self.expr(e);
                }
                if let Some(f) = filter {
                    self.expr(f);
                }
                self.update_constraints(t, &assigned, Conflict::Abort);
                self.triggers(
                    schema,
                    t,
                    &TriggerEvent::Update(Vec::new()),
                    &assigned,
                    Some(Conflict::Abort),
                );
            }
        }
        self.returning(&ins.returning);
        self.triggers(schema, t, &TriggerEvent::Insert, &[], named);
    }

    /// NOT NULL checks of the columns `only` (all when `None`) under
    /// `mode`: ABORT may abort, and so may REPLACE (a column without a
    /// DEFAULT, or on its second pass).
    fn not_null(&mut self, t: &Table, only: Option<&[usize]>, mode: Conflict) {
        let checked = t.columns.iter().enumerate().any(|(i, c)| {
            c.not_null && Some(i) != t.rowid_alias && only.is_none_or(|o| o.contains(&i))
        });
        if checked && matches!(mode, Conflict::Abort | Conflict::Replace) {
            self.may_abort = true;
        }
    }

    /// Codes the WHERE of each partial index of `t` that `coded` selects:
    /// SQLite evaluates it (a LIKE or another function call may abort)
    /// to decide whether the index holds a row being written or removed.
    fn partial_indexes(&mut self, t: &Table, coded: impl Fn(&Index, &Expr) -> bool) {
        for ix in &t.indexes {
            let Some(Ok(filter)) = ix.filter.as_deref().map(parse_expr) else {
                continue;
            };
            if coded(ix, &filter) {
                self.expr(&filter);
            }
        }
    }

    /// Codes the expressions of `t`'s generated columns (SQLite computes
    /// them all for every new row, of an INSERT or an UPDATE).
    fn generated(&mut self, t: &Table) {
        for c in &t.columns {
            if let Some(Ok(e)) = c.generated.as_ref().map(|g| parse_expr(&g.expr)) {
                self.expr(&e);
            }
        }
    }

    /// Codes the key expressions of each index of `t` that `coded`
    /// selects (computed for the entries written or removed).
    fn index_exprs(&mut self, t: &Table, coded: impl Fn(&Index) -> bool) {
        for ix in &t.indexes {
            if !coded(ix) {
                continue;
            }
            for e in ix.exprs.iter().flatten() {
                if let Ok(e) = parse_expr(e) {
                    self.expr(&e);
                }
            }
        }
    }

    /// An UPDATE's constraint checks of the columns `assigned` (the
    /// generated columns reading them included).
    fn update_constraints(&mut self, t: &Table, assigned: &[usize], mode: Conflict) {
        let assigned = &crate::sql::generated::with_dependents(t, assigned);
        self.generated(t);
        self.not_null(t, Some(assigned), mode);
        let rowid_changes = t.rowid_alias.is_some_and(|a| assigned.contains(&a))
            || assigned.contains(&t.columns.len());
        if rowid_changes {
            self.may_abort = true;
        }
        // SQLite rewrites the entries of the indexes the UPDATE may move
        // (all when the rowid or a WITHOUT ROWID key changes; those on an
        // assigned column; partial ones whose WHERE reads one), coding
        // their WHEREs; a REPLACE deletes whole rows, coding them all.
        let key_changes = rowid_changes
            || (t.without_rowid && t.primary_key.iter().any(|c| assigned.contains(c)));
        let keyed = |ix: &Index| index_reads_any(t, ix, assigned);
        // SQLite's indexWhereClauseMightChange: a partial index counts as
        // changed only when its WHERE reads an assigned column (1200710).
        let where_reads = |ix: &Index| {
            ix.filter
                .as_deref()
                .and_then(|f| parse_expr(f).ok())
                .is_some_and(|f| reads_any(t, &f, assigned))
        };
        let moved =
            |ix: &Index, filter: &Expr| key_changes || keyed(ix) || reads_any(t, filter, assigned);
        let replaces = mode == Conflict::Replace
            && (key_changes
                || t.indexes
                    .iter()
                    .any(|ix| ix.unique && (keyed(ix) || where_reads(ix))));
        self.partial_indexes(t, |ix, f| replaces || moved(ix, f));
        self.index_exprs(t, |ix| {
            replaces || key_changes || keyed(ix) || where_reads(ix)
        });
        if mode != Conflict::Abort {
            return;
        }
        for ix in &t.indexes {
            let affected = key_changes || keyed(ix) || where_reads(ix);
            if ix.unique && affected {
                self.may_abort = true;
            }
        }
    }

    fn update(&mut self, schema: &Schema, u: &Update, over: Option<Conflict>) {
        let Some(t) = schema.table(&u.table) else {
            self.with(u.with.as_deref());
            let cols = u.assignments.iter().map(|(c, _)| c.clone()).collect();
            let exprs = u.assignments.iter().map(|(_, e)| e.clone()).collect();
            let named = over.or(u.on_conflict);
            let event = TriggerEvent::Update(cols);
            self.view_change(
                schema,
                &u.table,
                &event,
                Some((u.filter.as_ref(), exprs)),
                named,
            );
            return;
        };
        self.with(u.with.as_deref());
        let named = over.or(u.on_conflict);
        let mode = named.unwrap_or(Conflict::Abort);
        let assigned = assigned_columns(t, u.assignments.iter().map(|(c, _)| c.as_str()));
        for e in coded_assignments(t, &u.assignments) {
            self.expr(e);
        }
        if let Some(f) = &u.filter {
            self.expr(f);
        }
        if let Some(f) = &u.from {
            self.from(f);
        }
        if u.from.is_some() || !one_row(t, u.filter.as_ref()) {
            self.multi_write = true;
        }
        self.update_constraints(t, &assigned, mode);
        self.returning(&u.returning);
        self.triggers(
            schema,
            t,
            &TriggerEvent::Update(Vec::new()),
            &assigned,
            named,
        );
    }

    fn delete(&mut self, schema: &Schema, d: &Delete, over: Option<Conflict>) {
        let Some(t) = schema.table(&d.table) else {
            self.with(d.with.as_deref());
            let read = Some((d.filter.as_ref(), Vec::new()));
            self.view_change(schema, &d.table, &TriggerEvent::Delete, read, over);
            return;
        };
        self.with(d.with.as_deref());
        if let Some(f) = &d.filter {
            self.expr(f);
        }
        if !one_row(t, d.filter.as_ref()) {
            self.multi_write = true;
        }
        // Removing a row removes its entry from every index.
        self.partial_indexes(t, |_, _| true);
        self.index_exprs(t, |_| true);
        self.returning(&d.returning);
        self.triggers(schema, t, &TriggerEvent::Delete, &[], over);
    }
}

/// Calls `f` on every query directly inside `e` (not inside those).
fn walk_queries(e: &Expr, f: &mut dyn FnMut(&Query)) {
    crate::sql::plan::walk(e, &mut |x| match x {
        Expr::Exists(q, _) | Expr::Subquery(q) => f(q),
        Expr::InSubquery { query, .. } => f(query),
        Expr::RowField { query, .. } => f(query),
        _ => {}
    });
}

/// Whether a key of `ix` is one of the columns `cols` of `t` or an
/// expression reading one.
fn index_reads_any(t: &Table, ix: &Index, cols: &[usize]) -> bool {
    ix.columns.iter().any(|c| cols.contains(c))
        || crate::sql::index_expr::columns_read(t, ix)
            .iter()
            .any(|c| cols.contains(c))
}

/// Whether `e` reads one of the columns `cols` of `t`.
fn reads_any(t: &Table, e: &Expr, cols: &[usize]) -> bool {
    let mut found = false;
    crate::sql::plan::walk(e, &mut |x| {
        if let Expr::Column { name, .. } = x {
            if assigned_columns(t, std::iter::once(name.as_str()))
                .iter()
                .any(|c| cols.contains(c))
            {
                found = true;
            }
        }
    });
    found
}

fn is_integer_literal(e: &Expr) -> bool {
    match e {
        Expr::Literal(crate::types::Value::Integer(_)) => true,
        Expr::Unary(crate::syntax::ast::UnOp::Neg | crate::syntax::ast::UnOp::Plus, x) => {
            is_integer_literal(x)
        }
        _ => false,
    }
}

/// The positions of the columns named (the rowid: the column count).
fn assigned_columns<'a>(t: &Table, names: impl Iterator<Item = &'a str>) -> Vec<usize> {
    names
        .filter_map(|n| {
            t.columns
                .iter()
                .position(|c| c.name.eq_ignore_ascii_case(n))
                .or_else(|| {
                    (!t.without_rowid
                        && ["rowid", "oid", "_rowid_"]
                            .iter()
                            .any(|r| r.eq_ignore_ascii_case(n)))
                    .then_some(t.columns.len())
                })
        })
        .collect()
}

/// The values of a SET list SQLite codes: a column assigned twice takes
/// its last value, and the earlier expression is never coded (its
/// function calls cannot abort the statement). A rowid alias and `rowid`
/// are one target.
fn coded_assignments<'a>(t: &Table, sets: &'a [(String, Expr)]) -> Vec<&'a Expr> {
    let target = |name: &str| {
        assigned_columns(t, std::iter::once(name))
            .first()
            .map(|&p| {
                if Some(p) == t.rowid_alias {
                    t.columns.len()
                } else {
                    p
                }
            })
    };
    sets.iter()
        .enumerate()
        .filter(|(i, (c, _))| {
            let Some(mine) = target(c) else {
                return true;
            };
            sets[i + 1..]
                .iter()
                .all(|(later, _)| target(later) != Some(mine))
        })
        .map(|(_, (_, e))| e)
        .collect()
}

/// The unique index an upsert's target names (`None`: no target, every
/// constraint).
fn upsert_index(t: &Table, target: Option<&[String]>) -> Option<usize> {
    let target = target?;
    let cols: Vec<usize> = assigned_columns(t, target.iter().map(String::as_str));
    let mut want = cols.clone();
    want.sort_unstable();
    // Newest first, as `run::insert::upsert_target`.
    t.indexes
        .iter()
        .rposition(|ix| {
            let mut have = ix.columns.clone();
            have.sort_unstable();
            ix.unique && ix.filter.is_none() && have == want
        })
        // A target naming the rowid alias: no index; `usize::MAX` matches none.
        .or(Some(usize::MAX))
}

/// Whether `filter` pins at most one row of `t` by equality on its rowid
/// or on every column of a unique index (SQLite's one-pass single-row
/// UPDATE and DELETE, which do not count as writing several rows). An
/// equality pins a column only as SQLite's planner can use it for a
/// lookup: its other side reads no column (`c0 = c0` pins nothing), and
/// it compares under the index column's collation (`c0 = 'x' COLLATE
/// BINARY` does not probe a NOCASE key).
fn one_row(t: &Table, filter: Option<&Expr>) -> bool {
    let Some(f) = filter else {
        return false;
    };
    let mut pinned = Vec::new();
    conjuncts_pinning(t, f, &mut pinned);
    let rowid = t.columns.len();
    let rowid_pinned = pinned
        .iter()
        .any(|(c, _)| *c == rowid || t.rowid_alias == Some(*c));
    rowid_pinned
        || t.indexes.iter().any(|ix| {
            ix.unique
                && ix.filter.is_none()
                && ix
                    .columns
                    .iter()
                    .enumerate()
                    .all(|(k, c)| pinned.contains(&(*c, ix.collation(k))))
        })
}

/// The columns an equality of `e`'s conjuncts pins, with the collation it
/// compares them under.
fn conjuncts_pinning(t: &Table, e: &Expr, out: &mut Vec<(usize, Collation)>) {
    use crate::syntax::ast::BinOp;
    match e {
        Expr::Binary(BinOp::And, a, b) => {
            conjuncts_pinning(t, a, out);
            conjuncts_pinning(t, b, out);
        }
        Expr::Binary(BinOp::Eq, a, b) => {
            for (col, other) in [(a, b), (b, a)] {
                if let Expr::Column { table, name } = col.as_ref() {
                    let own = table
                        .as_ref()
                        .is_none_or(|q| q.eq_ignore_ascii_case(&t.name));
                    let (mut reads, mut coll) = (false, None);
                    crate::sql::plan::walk(other, &mut |x| match x {
                        Expr::Column { .. } => reads = true,
                        Expr::Collate(_, c) if coll.is_none() => coll = Some(*c),
                        _ => {}
                    });
                    if own && !reads {
                        for c in assigned_columns(t, std::iter::once(name.as_str())) {
                            let column = t.columns.get(c).map(|x| x.collation);
                            let used = coll.or(column).unwrap_or_default();
                            out.push((c, used));
                        }
                    }
                }
            }
        }
        _ => {}
    }
}
