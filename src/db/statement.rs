//! [`Statement`]: a prepared statement. It keeps what does not depend on its
//! parameters (a query's plan, a data change's authorization uses, an
//! INSERT's plan) with the schema and security catalog it was made under,
//! and uses them only while both are the same `Arc`s.

use std::cell::RefCell;
use std::sync::Arc;

use crate::auth::AuthState;
use crate::sql::plan::ObjectUse;
use crate::types::Value;

use crate::catalog::Schema;
use crate::error::Result;
use crate::sql::plan::Planned;
use crate::sql::run;
use crate::syntax::ast::Statement as Ast;
use crate::syntax::parse::Parsed;

use super::*;

/// A cached plan: valid while the schema and the security catalog are
/// the ones it was made under.
pub(super) type CachedPlan = (
    Arc<Schema>,
    Arc<AuthState>,
    Arc<Planned>,
    Arc<Vec<ObjectUse>>,
    Memo,
);

/// Whether a cached statement was already authorized under the catalog
/// its cache entry belongs to (the answer cannot change while both the
/// schema and the security catalog are the same immutable values).
/// (Atomic, so a statement stays free of thread-affine state: the C ABI
/// moves statements between threads under a lock.)
pub(super) type Memo = Arc<std::sync::atomic::AtomicBool>;

/// A prepared statement: parsed once; its plan is cached while the schema
/// does not change.
pub struct Statement<'s> {
    pub(super) session: &'s Session,
    pub(super) sql: String,
    pub(super) parsed: Arc<Parsed>,
    pub(super) plan: RefCell<Option<CachedPlan>>,
    pub(super) cache: WriteCache,
    /// The values [`Statement::execute`] bound last, kept for their text
    /// and blob buffers: the next run binds into them.
    pub(super) bound: RefCell<Vec<Value>>,
    /// What the last run of a query left for the next ([`KeptRun`]):
    /// `None` before the first, while a result set of it is open, or when
    /// its operators could not run again.
    pub(super) kept: RefCell<Option<KeptRun>>,
}

/// What a prepared data change keeps between runs, each part valid while
/// the schema and the security catalog are the ones it was made under
/// (compared with `Arc::ptr_eq`; both are replaced, never changed, when
/// they change).
#[derive(Default)]
pub(super) struct WriteCache {
    /// What the statement uses (for authorization and audit), and whether
    /// that was already authorized.
    pub(super) uses: RefCell<Option<UsesEntry>>,
    /// An INSERT's parameter-independent plan (`None` inside while a run
    /// holds it, or after a run that left none).
    pub(super) insert: RefCell<Option<Keyed<Option<Box<run::InsertPlan>>>>>,
    /// Whether the statement keeps a statement journal and whether it is
    /// a multi-row write (`sql::journal`), decided for this schema: they
    /// depend on nothing else.
    pub(super) journal: RefCell<Option<(Arc<Schema>, Journal)>>,
}

/// What `sql::journal` decided for a data change.
#[derive(Clone, Copy)]
pub(super) struct Journal {
    /// [`crate::sql::journal::keeps_statement_journal`].
    pub(super) keeps: bool,
    /// [`crate::sql::journal::multi_write`].
    pub(super) multi_write: bool,
}

/// A statement's uses, with the catalog they are valid for and whether
/// they were authorized.
pub(super) type UsesEntry = (Arc<Schema>, Arc<AuthState>, Arc<Vec<ObjectUse>>, Memo);

/// A cached item with the schema and security catalog it is valid for.
pub(super) type Keyed<T> = (Arc<Schema>, Arc<AuthState>, T);

impl Statement<'_> {
    /// Number of parameters.
    pub fn parameter_count(&self) -> usize {
        self.parsed.param_count
    }

    /// Index (1-based) of the named parameter (`:name`, `@name`, `$name`).
    pub fn parameter_index(&self, name: &str) -> Option<usize> {
        self.parsed
            .param_names
            .iter()
            .position(|n| n.as_deref() == Some(name))
            .map(|i| i + 1)
    }

    /// Runs the statement; returns rows changed.
    pub fn execute(&self, params: &[&dyn ToValue]) -> Result<u64> {
        // Nothing a statement runs can run it again, so the values are
        // never busy; were they, this run would bind its own.
        let Ok(mut bound) = self.bound.try_borrow_mut() else {
            return self.execute_values(&values(params));
        };
        values_into(params, &mut bound);
        let r = self.execute_values(&bound);
        crate::types::trim_kept(&mut bound);
        r
    }

    /// [`Statement::execute`] with the parameters already SQL values (a
    /// caller binding many rows reuses one buffer for them).
    pub fn execute_values(&self, params: &[Value]) -> Result<u64> {
        self.session
            .run_parsed_cached(&self.parsed, params, &self.sql, Some(&self.cache))
    }

    /// Runs a query statement.
    pub fn query(&self, params: &[&dyn ToValue]) -> Result<Rows<'_>> {
        let [Ast::Query(q)] = self.parsed.statements.as_slice() else {
            // A data change (with RETURNING, or none): run it with the
            // statement's write cache, as `execute` does.
            return self.session.query_parsed(
                &self.parsed,
                values(params),
                &self.sql,
                Some(&self.cache),
            );
        };
        // The last run's operators and buffers, if it left them (not while
        // a result set of this statement is open: it has them).
        let mut kept = self.kept.try_borrow_mut().ok().and_then(|mut k| k.take());
        let mut params_in = kept
            .as_mut()
            .map(|k| std::mem::take(&mut k.params))
            .unwrap_or_default();
        values_into(params, &mut params_in);
        let params = params_in;
        check_params(&self.parsed, &params)?;
        self.session.barrier_if_autocommit()?;
        let schema = self.session.schema();
        let sec = self.session.security()?;
        let (planned, uses, memo) = self.query_plan(&schema, &sec, q, &params)?;
        // Operators opened from another plan (the schema or the security
        // catalog changed since) are dropped.
        let kept = kept.filter(|k| Arc::ptr_eq(&k.planned, &planned));
        let reuse = Reuse {
            home: &self.kept,
            planned: planned.clone(),
            kept,
        };
        self.session.run_query(
            &schema,
            &sec,
            &planned,
            &uses,
            params,
            &self.sql,
            Some(&memo),
            q,
            Some(reuse),
        )
    }
}

impl Statement<'_> {
    /// The names of the result columns, known before the statement runs
    /// (SQLite's `sqlite3_column_name` after prepare): a query's, checked
    /// against the session's rights as running it would be (a table the
    /// user may not read is "no such table" here too); empty for a
    /// statement that returns no rows. `None` for a data change with
    /// RETURNING, whose names are known once it has run.
    pub fn columns(&self) -> Result<Option<Vec<String>>> {
        Ok(match self.described()? {
            Described::Query(p) => Some(p.columns.clone()),
            Described::Pragma(names) => Some(names),
            Described::Returning => None,
            Described::NoRows => Some(Vec::new()),
        })
    }

    /// The declared types of the result columns, known as
    /// [`Statement::columns`] are (SQLite's `sqlite3_column_decltype`):
    /// a column that reads a table column directly (also through a view,
    /// a subquery in FROM or a CTE) has that column's declared type as
    /// written in CREATE TABLE (`None` when it was declared without one, a
    /// rowid is `INTEGER`); an expression has `None`. `None` for a data
    /// change with RETURNING.
    pub fn decltypes(&self) -> Result<Option<Vec<Option<String>>>> {
        Ok(match self.described()? {
            Described::Query(p) => Some(
                p.decltypes
                    .iter()
                    .map(|d| d.as_deref().map(str::to_string))
                    .collect(),
            ),
            Described::Pragma(names) => Some(vec![None; names.len()]),
            Described::Returning => None,
            Described::NoRows => Some(Vec::new()),
        })
    }

    /// What the statement returns, planned and checked as running it would
    /// be.
    fn described(&self) -> Result<Described> {
        match self.parsed.statements.as_slice() {
            [Ast::Query(q)] => {
                let schema = self.session.schema();
                let sec = self.session.security()?;
                let (planned, uses, memo) = self.query_plan(&schema, &sec, q, &[])?;
                let named = || Named::of_query(q);
                self.session.admit_memo(
                    Some(&memo),
                    &sec,
                    &schema,
                    &uses,
                    &self.sql,
                    &[],
                    &named,
                )?;
                Ok(Described::Query(planned))
            }
            [Ast::Pragma(p)] => Ok(Described::Pragma(super::pragma::pragma_columns(p))),
            [Ast::Insert(i)] if !i.returning.is_empty() => Ok(Described::Returning),
            [Ast::Update(u)] if !u.returning.is_empty() => Ok(Described::Returning),
            [Ast::Delete(d)] if !d.returning.is_empty() => Ok(Described::Returning),
            _ => Ok(Described::NoRows),
        }
    }

    /// The query's plan under `schema` and `sec`: the cached one while both
    /// are the ones it was made under, else a new one (then cached).
    fn query_plan(
        &self,
        schema: &Arc<Schema>,
        sec: &Arc<crate::sql::plan::Security>,
        q: &crate::syntax::ast::Query,
        params: &[crate::types::Value],
    ) -> Result<(Arc<Planned>, Arc<Vec<ObjectUse>>, Memo)> {
        let cached = self
            .plan
            .borrow()
            .as_ref()
            .filter(|(s, a, _, _, _)| Arc::ptr_eq(s, schema) && Arc::ptr_eq(a, &sec.auth))
            .map(|(_, _, p, u, m)| (p.clone(), u.clone(), m.clone()));
        if let Some(x) = cached {
            return Ok(x);
        }
        let (p, u) = self.session.plan_query(schema, sec, q, &self.sql, params)?;
        let (p, u, m) = (Arc::new(p), Arc::new(u), Memo::default());
        *self.plan.borrow_mut() = Some((
            schema.clone(),
            sec.auth.clone(),
            p.clone(),
            u.clone(),
            m.clone(),
        ));
        Ok((p, u, m))
    }
}

/// What a prepared statement returns, as far as is known before it runs.
enum Described {
    /// A query, planned.
    Query(Arc<Planned>),
    /// A PRAGMA returning rows with these column names (no declared
    /// types).
    Pragma(Vec<String>),
    /// A data change with RETURNING: known once it has run.
    Returning,
    /// No rows.
    NoRows,
}
