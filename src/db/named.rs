//! The tables and views a statement names, spelled as its author wrote
//! them: so that an object the user may not see is reported exactly like
//! one that does not exist (`no such table: Name`, in the user's spelling,
//! not the catalog's and not lower-cased), whether the statement names it
//! at its top, in a subquery, or in the body of a trigger it fires.
//!
//! Triggers run with their owner's rights, so what another user's trigger
//! names is that owner's business: it counts for spelling only, not among
//! the names whose visibility decides how a planning error is reported
//! (a table the session's user cannot see but the trigger's owner can is
//! no secret the trigger gives away).

use crate::catalog::{Schema, Trigger};
use crate::depth;
use crate::syntax::ast::{
    Expr, FromItem, ObjectKind, Query, SelectItem, SetExpr, Statement as Ast, Upsert, UpsertAction,
    With,
};

/// Names in order of first appearance (duplicates kept out).
#[derive(Default)]
pub(super) struct Named {
    /// Named by the session's user: in the statement, or in the bodies of
    /// her own triggers it fires.
    names: Vec<String>,
    /// Named in the bodies of other users' triggers it fires.
    others: Vec<String>,
    /// Inside the body of another user's trigger.
    in_others: bool,
    triggers_seen: Vec<String>,
    /// The names of the common table expressions in scope: a FROM item
    /// naming one names no table (a CTE shadowing a hidden table must not
    /// make an unrelated error read "no such table").
    ctes: Vec<String>,
}

impl Named {
    /// The names `stmt` uses, with those in the triggers it can fire
    /// (`own` says which triggers are the session user's).
    pub(super) fn of_statement(
        schema: &Schema,
        stmt: &Ast,
        own: &dyn Fn(&Trigger) -> bool,
    ) -> Named {
        let mut n = Named::default();
        n.statement(schema, stmt, own);
        n
    }

    /// The names a query uses.
    pub(super) fn of_query(q: &Query) -> Named {
        let mut n = Named::default();
        n.query(q);
        n
    }

    /// The names the session's user wrote (in the statement or her own
    /// triggers), as written.
    pub(super) fn names(&self) -> &[String] {
        &self.names
    }

    /// How the statement, or a trigger it fires, spells `object`
    /// (compared without case), or `object` itself if none names it.
    pub(super) fn spelling(&self, object: &str) -> String {
        self.names
            .iter()
            .chain(&self.others)
            .find(|n| n.eq_ignore_ascii_case(object))
            .cloned()
            .unwrap_or_else(|| object.to_string())
    }

    fn push(&mut self, name: &str) {
        let list = if self.in_others {
            &mut self.others
        } else {
            &mut self.names
        };
        if !list.iter().any(|n| n.eq_ignore_ascii_case(name)) {
            list.push(name.to_string());
        }
    }

    fn statement(&mut self, schema: &Schema, stmt: &Ast, own: &dyn Fn(&Trigger) -> bool) {
        depth::guarded(|| self.statement_node(schema, stmt, own))
    }

    fn statement_node(&mut self, schema: &Schema, stmt: &Ast, own: &dyn Fn(&Trigger) -> bool) {
        let with = match stmt {
            Ast::Insert(i) => i.with.as_deref(),
            Ast::Update(u) => u.with.as_deref(),
            Ast::Delete(d) => d.with.as_deref(),
            _ => None,
        };
        let scope = self.ctes.len();
        self.with(with);
        self.statement_parts(schema, stmt, own);
        self.ctes.truncate(scope);
    }

    /// Brings `with`'s names into scope and walks its queries (each sees
    /// every name of the clause, as in SQLite).
    fn with(&mut self, with: Option<&With>) {
        let Some(w) = with else { return };
        self.ctes
            .extend(w.ctes.iter().map(|c| c.name.to_lowercase()));
        for c in &w.ctes {
            self.query(&c.query);
        }
    }

    fn statement_parts(&mut self, schema: &Schema, stmt: &Ast, own: &dyn Fn(&Trigger) -> bool) {
        match stmt {
            Ast::Query(q) => self.query(q),
            Ast::Explain(inner, _) => self.statement(schema, inner, own),
            Ast::Insert(i) => {
                self.push(&i.table);
                if let Some(q) = &i.source {
                    self.query(q);
                }
                if let Some(Upsert {
                    action: UpsertAction::Update(sets, filter),
                    ..
                }) = &i.upsert
                {
                    for (_, e) in sets {
                        self.expr(e);
                    }
                    if let Some(f) = filter {
                        self.expr(f);
                    }
                }
                self.items(&i.returning);
                self.triggers(schema, &i.table, own);
            }
            Ast::Update(u) => {
                self.push(&u.table);
                if let Some(f) = &u.from {
                    self.from(f);
                }
                for (_, e) in &u.assignments {
                    self.expr(e);
                }
                if let Some(f) = &u.filter {
                    self.expr(f);
                }
                self.items(&u.returning);
                self.triggers(schema, &u.table, own);
            }
            Ast::Delete(d) => {
                self.push(&d.table);
                if let Some(f) = &d.filter {
                    self.expr(f);
                }
                self.items(&d.returning);
                self.triggers(schema, &d.table, own);
            }
            Ast::CreateTable(ct) => {
                if let Some(q) = &ct.as_query {
                    self.query(q);
                }
            }
            Ast::CreateView { query, .. } => self.query(query),
            Ast::CreateIndex(ci) => self.push(&ci.table),
            Ast::CreateTrigger(ct) => {
                self.push(&ct.table);
                if let Some(w) = &ct.when {
                    self.expr(w);
                }
                for s in &ct.body {
                    self.statement(schema, s, own);
                }
            }
            Ast::AlterTable { table, .. } => self.push(table),
            Ast::Drop {
                kind: ObjectKind::Table | ObjectKind::View,
                names,
                ..
            } => {
                for n in names {
                    self.push(n);
                }
            }
            Ast::Reindex(Some(n)) | Ast::Analyze(Some(n)) => self.push(n),
            _ => {}
        }
    }

    /// The bodies of the triggers on `table` (each once).
    fn triggers(&mut self, schema: &Schema, table: &str, own: &dyn Fn(&Trigger) -> bool) {
        for t in schema.triggers_on(table) {
            let key = t.name.to_lowercase();
            if self.triggers_seen.contains(&key) {
                continue;
            }
            self.triggers_seen.push(key);
            let outer = std::mem::replace(&mut self.in_others, !own(&t));
            if let Some(w) = &t.when {
                self.expr(w);
            }
            for s in &t.body {
                self.statement(schema, s, own);
            }
            self.in_others = outer;
        }
    }

    fn query(&mut self, q: &Query) {
        depth::guarded(|| {
            let scope = self.ctes.len();
            self.with(q.with.as_deref());
            self.set_expr(&q.body);
            for o in &q.order_by {
                self.expr(&o.expr);
            }
            for e in q.limit.iter().chain(q.offset.iter()) {
                self.expr(e);
            }
            self.ctes.truncate(scope);
        })
    }

    fn set_expr(&mut self, s: &SetExpr) {
        depth::guarded(|| match s {
            SetExpr::Select(sel) => {
                if let Some(f) = &sel.from {
                    self.from(f);
                }
                self.items(&sel.items);
                for e in sel
                    .filter
                    .iter()
                    .chain(sel.group_by.iter())
                    .chain(sel.having.iter())
                    .chain(sel.windows.iter().flat_map(|(_, w)| w.exprs()))
                {
                    self.expr(e);
                }
            }
            SetExpr::Values(rows) => {
                for e in rows.iter().flatten() {
                    self.expr(e);
                }
            }
            SetExpr::Query(q) => self.query(q),
            SetExpr::SetOp { left, right, .. } => {
                self.set_expr(left);
                self.set_expr(right);
            }
        })
    }

    fn from(&mut self, f: &FromItem) {
        depth::guarded(|| match f {
            FromItem::Table {
                name,
                qualified: false,
                ..
            } if self.ctes.contains(&name.to_lowercase()) => {}
            FromItem::Table { name, .. } => self.push(name),
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
        })
    }

    fn items(&mut self, items: &[SelectItem]) {
        for it in items {
            if let SelectItem::Expr { expr, .. } = it {
                self.expr(expr);
            }
        }
    }

    fn expr(&mut self, e: &Expr) {
        depth::guarded(|| match e {
            Expr::Literal(_) | Expr::Column { .. } | Expr::Param(_) => {}
            Expr::Unary(_, x) | Expr::IsNull(x, _) | Expr::Cast(x, _) | Expr::Collate(x, _) => {
                self.expr(x)
            }
            Expr::Binary(_, a, b) => {
                self.expr(a);
                self.expr(b);
            }
            Expr::InList { expr, list, .. } => {
                self.expr(expr);
                for x in list {
                    self.expr(x);
                }
            }
            Expr::InSubquery { expr, query, .. } => {
                self.expr(expr);
                self.query(query);
            }
            Expr::Exists(q, _) | Expr::Subquery(q) => self.query(q),
            Expr::Raise(_, message) => {
                if let Some(x) = message {
                    self.expr(x);
                }
            }
            Expr::Between {
                expr, low, high, ..
            } => {
                self.expr(expr);
                self.expr(low);
                self.expr(high);
            }
            Expr::Like {
                expr,
                pattern,
                escape,
                ..
            } => {
                self.expr(expr);
                self.expr(pattern);
                if let Some(x) = escape {
                    self.expr(x);
                }
            }
            Expr::Case {
                operand,
                whens,
                otherwise,
            } => {
                for x in operand.iter().chain(otherwise.iter()) {
                    self.expr(x);
                }
                for (a, b) in whens {
                    self.expr(a);
                    self.expr(b);
                }
            }
            Expr::Function { args, filter, .. } => {
                for x in args.iter().chain(filter.as_deref()) {
                    self.expr(x);
                }
            }
            Expr::Row(items) => {
                for x in items {
                    self.expr(x);
                }
            }
            Expr::RowField { query, .. } => self.query(query),
            Expr::Window(w) => {
                for x in w.exprs() {
                    self.expr(x);
                }
            }
        })
    }
}
