//! [`Session`]: one connection's state (its transaction, savepoints,
//! statement cache) and the path of a statement through it: parse (cached),
//! plan, authorize, run, commit or roll back.

use std::cell::RefCell;
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use crate::auth::{AuthState, ClientInfo};
use crate::sql::plan::{ObjectUse, Security};

use crate::catalog::Schema;
use crate::error::{Error, Result, SqlErrorKind};
use crate::sql::exec::{describe_masked, ExecCtx};
use crate::sql::plan::{query_plan, ExplainMasks, Planned, Planner};
use crate::syntax::ast::Statement as Ast;
use crate::syntax::parse::{parse, Parsed};
use crate::txn::{Mark, Txn};
use crate::types::Value;

use super::*;

/// A savepoint: its name, where the transaction's writes were, and the
/// schema, security catalog and deferred foreign key counters then.
pub(super) type Savepoint = (
    String,
    Mark,
    Option<Arc<Schema>>,
    Option<Arc<AuthState>>,
    crate::sql::run::foreign_key::Deferred,
);

/// The most writes a transaction's write set is given room for before its
/// first write (about 200 KB): an application committing the same number
/// of rows again and again (a load in transactions of 100) sets its write
/// set up once per transaction instead of growing it by doubling, each
/// step a copy (and past 1 KB a consolidation of the allocator's free
/// lists).
const WRITES_HINT_MAX: usize = 4096;

#[derive(Default)]
pub(super) struct SessionState {
    /// Boxed: a statement takes it out of the state and puts it back,
    /// and a transaction is a few hundred bytes to move each time.
    pub(super) txn: Option<Box<Txn>>,
    /// Schema changed by this session's open transaction.
    pub(super) local_schema: Option<Arc<Schema>>,
    /// Security catalog changed by this session's open transaction.
    pub(super) local_auth: Option<Arc<AuthState>>,
    pub(super) savepoints: Vec<Savepoint>,
    /// The transaction was opened by SAVEPOINT (released → committed).
    pub(super) txn_from_savepoint: bool,
    /// Writes of the last explicit transaction committed, at most
    /// [`WRITES_HINT_MAX`]: the next one's write set starts with room for
    /// that many (see [`crate::txn::Txn::reserve_writes`]).
    pub(super) writes_hint: usize,
    pub(super) statements: HashMap<String, Arc<Parsed>>,
    pub(super) last_rowid: i64,
    /// Rows changed by the last INSERT, UPDATE or DELETE (`changes()`).
    pub(super) dml_changes: u64,
    /// Rows changed by the last statement run, whatever its kind (what
    /// `execute` returns and the audit records).
    pub(super) changes: u64,
    /// `SET read_consistency`; `None`: the replication default.
    pub(super) read_consistency: Option<crate::repl::raft::ReadConsistency>,
    /// Rows changed by every INSERT, UPDATE and DELETE of this session.
    pub(super) total_changes: u64,
    /// `PRAGMA busy_timeout = ms`; `None`: the database's
    /// (`Options::busy_timeout`).
    pub(super) busy_timeout: Option<std::time::Duration>,
    /// `PRAGMA foreign_keys` (off by default, as SQLite).
    pub(super) foreign_keys: bool,
    /// `PRAGMA defer_foreign_keys`: every constraint is checked at COMMIT
    /// (switched off at the end of each transaction, as SQLite).
    pub(super) defer_foreign_keys: bool,
    /// The open transaction's deferred foreign key violations.
    pub(super) fk_deferred: crate::sql::run::foreign_key::Deferred,
}

/// The text each statement of `sql` (`n` statements) is audited with:
/// its own piece of the script, never the whole of it, which may hold
/// other statements' passwords. Should the split not line up with the
/// parse, a statement is named by its position instead.
pub(super) fn statement_texts(sql: &str, n: usize) -> Vec<std::borrow::Cow<'_, str>> {
    use std::borrow::Cow;
    if n == 1 {
        return vec![Cow::Borrowed(sql)];
    }
    match crate::syntax::parse_auth::split_statements(sql) {
        Ok(pieces) if pieces.len() == n => pieces.into_iter().map(Cow::Borrowed).collect(),
        _ => (1..=n)
            .map(|i| Cow::Owned(format!("statement {i} of {n} of a script")))
            .collect(),
    }
}

/// A connection to a [`Db`]: runs statements, holds a transaction. Not
/// shared between threads (make one session per thread).
pub struct Session {
    pub(super) db: Arc<DbInner>,
    pub(super) state: RefCell<SessionState>,
    pub(super) user: String,
    /// The user's id: the session acts only while that user exists.
    pub(super) user_id: crate::auth::state::RoleId,
    pub(super) client: ClientInfo,
    /// The user's roles under the current security catalog (recomputed
    /// when the catalog changes).
    pub(super) sec: RefCell<Option<Arc<Security>>>,
}

/// Column names and rows of a computed result.
pub(super) type ResultSet = (Vec<String>, Vec<Vec<Value>>);

impl Session {
    pub(super) fn schema(&self) -> Arc<Schema> {
        let st = self.state.borrow();
        match &st.local_schema {
            Some(s) => s.clone(),
            None => self.db.schema.read().clone(),
        }
    }

    pub(super) fn auth(&self) -> Arc<AuthState> {
        let st = self.state.borrow();
        match &st.local_auth {
            Some(a) => a.clone(),
            None => self.db.auth.read().clone(),
        }
    }

    /// Whether `a` is the security catalog [`Self::auth`] would return
    /// (without taking a count of it).
    pub(super) fn auth_is(&self, a: &Arc<AuthState>) -> bool {
        let st = self.state.borrow();
        match &st.local_auth {
            Some(l) => Arc::ptr_eq(l, a),
            None => Arc::ptr_eq(&self.db.auth.read(), a),
        }
    }

    /// How long this session's statements wait for the writer slot.
    pub(super) fn busy_timeout(&self) -> std::time::Duration {
        self.state
            .borrow()
            .busy_timeout
            .unwrap_or(self.db.busy_timeout)
    }

    /// The user this session runs as.
    pub fn user(&self) -> &str {
        &self.user
    }

    /// Where this session comes from.
    pub fn client(&self) -> &ClientInfo {
        &self.client
    }

    pub(super) fn parsed(&self, sql: &str) -> Result<Arc<Parsed>> {
        if let Some(p) = self.state.borrow().statements.get(sql) {
            return Ok(p.clone());
        }
        let p = Arc::new(parse(sql)?);
        // Statement text holding a password is not kept around.
        if p.statements
            .iter()
            .any(|s| matches!(s, Ast::Auth(_) | Ast::Backup(_)))
        {
            return Ok(p);
        }
        let mut st = self.state.borrow_mut();
        if st.statements.len() > 256 {
            st.statements.clear();
        }
        st.statements.insert(sql.to_string(), p.clone());
        Ok(p)
    }

    /// Runs one or more statements; returns the rows changed by the last.
    pub fn execute(&self, sql: &str, params: &[&dyn ToValue]) -> Result<u64> {
        let parsed = self.parsed(sql)?;
        self.run_parsed(&parsed, &values(params), sql)
    }

    /// Runs a query and streams its rows.
    pub fn query(&self, sql: &str, params: &[&dyn ToValue]) -> Result<Rows<'_>> {
        let parsed = self.parsed(sql)?;
        self.query_parsed(&parsed, values(params), sql, None)
    }

    /// Parses `sql` once for repeated execution.
    pub fn prepare(&self, sql: &str) -> Result<Statement<'_>> {
        let parsed = self.parsed(sql)?;
        if parsed.statements.len() != 1 {
            return Err(Error::sql(
                SqlErrorKind::Misuse,
                "prepare takes exactly one statement",
            ));
        }
        Ok(Statement {
            session: self,
            sql: sql.to_string(),
            parsed,
            plan: RefCell::new(None),
            cache: WriteCache::default(),
            bound: RefCell::new(Vec::new()),
            kept: RefCell::new(None),
        })
    }

    /// Runs every statement of `sql` in order, handing each result row to
    /// `on_row` with its column names (a script runner, like the shell's).
    /// Stops at the first failing statement.
    pub fn run_script(&self, sql: &str, mut on_row: impl FnMut(&[String], &Row)) -> Result<()> {
        let parsed = self.parsed(sql)?;
        let texts = statement_texts(sql, parsed.statements.len());
        for (st, text) in parsed.statements.iter().zip(&texts) {
            let single = Parsed {
                statements: vec![st.clone()],
                param_count: parsed.param_count,
                param_names: parsed.param_names.clone(),
            };
            let mut rows = self.query_parsed(&single, Vec::new(), text, None)?;
            let columns: Vec<String> = rows.columns().to_vec();
            while let Some(r) = rows.next()? {
                on_row(&columns, &r);
            }
        }
        Ok(())
    }

    /// Names of the tables and views this session can see, sorted.
    pub fn table_names(&self) -> Vec<String> {
        let schema = self.schema();
        let Ok(sec) = self.security() else {
            return Vec::new();
        };
        let mut names: Vec<String> = schema
            .tables
            .values()
            .map(|t| (t.name.clone(), t.id))
            .chain(schema.views.values().map(|v| (v.name.clone(), v.id)))
            .filter(|(_, id)| sec.auth.visible(&sec.roles, u64::from(*id)))
            .map(|(n, _)| n)
            .collect();
        names.sort();
        names
    }

    /// Starts an explicit transaction (like `BEGIN`).
    pub fn transaction(&self) -> Result<Transaction<'_>> {
        self.execute("BEGIN", &[])?;
        Ok(Transaction {
            session: self,
            done: false,
        })
    }

    /// Whether a transaction is open.
    pub fn in_transaction(&self) -> bool {
        self.state.borrow().txn.is_some()
    }

    /// Rowid of the last row inserted by this session.
    pub fn last_insert_rowid(&self) -> i64 {
        self.state.borrow().last_rowid
    }

    /// Rows changed by the last statement (0 for one that changes no
    /// rows; the SQL function `changes()` instead keeps the count of the
    /// last INSERT, UPDATE or DELETE, as SQLite's).
    pub fn changes(&self) -> u64 {
        self.state.borrow().changes
    }

    /// What the functions of a statement starting now may know of this
    /// session: its counters and the statement's moment.
    pub(super) fn snapshot(&self) -> crate::sql::functions::SessionSnapshot {
        let st = self.state.borrow();
        crate::sql::functions::SessionSnapshot::now(
            st.last_rowid,
            i64::try_from(st.dml_changes).unwrap_or(i64::MAX),
            i64::try_from(st.total_changes).unwrap_or(i64::MAX),
        )
    }

    /// Plans a query as `sec`'s user: the plan and what it uses.
    pub(super) fn plan_query(
        &self,
        schema: &Schema,
        sec: &Arc<Security>,
        q: &crate::syntax::ast::Query,
        text: &str,
        params: &[Value],
    ) -> Result<(Planned, Vec<ObjectUse>)> {
        self.plan_query_masked(schema, sec, q, text, params)
            .map(|(p, uses, _)| (p, uses))
    }

    /// [`Session::plan_query`], with what EXPLAIN QUERY PLAN must hide.
    fn plan_query_masked(
        &self,
        schema: &Schema,
        sec: &Arc<Security>,
        q: &crate::syntax::ast::Query,
        text: &str,
        params: &[Value],
    ) -> Result<(Planned, Vec<ObjectUse>, ExplainMasks)> {
        let mut planner = Planner::new(schema).with_security(Some(sec.clone()));
        let planned = planner.query(q);
        let uses = planner.take_uses();
        let masks = planner.take_explain_masks();
        match planned {
            Ok(p) => Ok((p, uses, masks)),
            Err(e) => {
                // Only what the user named: a view's base tables are the
                // view owner's business (and must not be revealed).
                let named = Named::of_query(q);
                Err(self.hide_unseen(e, sec, named.names(), text, params))
            }
        }
    }

    /// Authorizes, audits and opens a planned query. `reuse`: a prepared
    /// query's run (see [`Reuse`]).
    #[allow(clippy::too_many_arguments)]
    pub(super) fn run_query<'s>(
        &'s self,
        schema: &Schema,
        sec: &Arc<Security>,
        planned: &Planned,
        uses: &[ObjectUse],
        params: Vec<Value>,
        text: &str,
        memo: Option<&Memo>,
        q: &crate::syntax::ast::Query,
        reuse: Option<Reuse<'s>>,
    ) -> Result<Rows<'s>> {
        let named = || Named::of_query(q);
        self.admit_memo(memo, sec, schema, uses, text, &params, &named)?;
        let pending = self.audit_start(sec, "statement", text, &params, uses, false);
        self.audit_started(pending.as_ref())?;
        self.open_query(planned, params, sec.clone(), pending, reuse)
    }

    /// Runs one statement of `parsed` for its rows. `cache` is a prepared
    /// statement's `WriteCache`, used when that statement is a data
    /// change (as `run_parsed_cached` does).
    pub(super) fn query_parsed(
        &self,
        parsed: &Parsed,
        params: Vec<Value>,
        text: &str,
        cache: Option<&WriteCache>,
    ) -> Result<Rows<'_>> {
        check_params(parsed, &params)?;
        if let [Ast::Query(_) | Ast::Explain(..) | Ast::Pragma(_)] = parsed.statements.as_slice() {
            self.barrier_if_autocommit()?;
        }
        match parsed.statements.as_slice() {
            [Ast::Query(q)] => {
                let schema = self.schema();
                let sec = self.security()?;
                let (planned, uses) = self.plan_query(&schema, &sec, q, text, &params)?;
                self.run_query(&schema, &sec, &planned, &uses, params, text, None, q, None)
            }
            [stmt @ Ast::Pragma(p)] => self.run_pragma(stmt, p, params, text, cache),
            [Ast::Explain(inner, true)] => {
                let Ast::Query(q) = &**inner else {
                    return Err(Error::sql(
                        SqlErrorKind::Unsupported,
                        format!(
                            "EXPLAIN QUERY PLAN of {} is not supported (only of queries)",
                            statement_kind(inner)
                        ),
                    ));
                };
                let schema = self.schema();
                let sec = self.security()?;
                let (planned, uses, masks) =
                    self.plan_query_masked(&schema, &sec, q, text, &params)?;
                let named = || Named::of_query(q);
                self.admit(&sec, &schema, &uses, text, &params, &named)?;
                let visible = |name: &str| {
                    schema
                        .object_id(name)
                        .is_some_and(|id| sec.auth.visible(&sec.roles, u64::from(id)))
                };
                // A view's body is its owner's (as its text in
                // sqlite_schema): shown to the owner and admins only.
                let owns = |name: &str| {
                    sec.roles.admin
                        || schema
                            .object_id(name)
                            .is_some_and(|id| sec.auth.owns(&sec.roles, u64::from(id)))
                };
                let lines = query_plan(&planned.plan, &masks, &|t| !visible(t), &|v| !owns(v));
                Ok(self.buffered(
                    ["id", "parent", "notused", "detail"]
                        .map(String::from)
                        .to_vec(),
                    lines
                        .into_iter()
                        .map(|l| {
                            vec![
                                Value::Integer(l.id),
                                Value::Integer(l.parent),
                                Value::Integer(0),
                                Value::Text(l.detail),
                            ]
                        })
                        .collect(),
                ))
            }
            [Ast::Explain(inner, false)] => {
                let lines = match &**inner {
                    Ast::Query(q) => {
                        let schema = self.schema();
                        let sec = self.security()?;
                        let (planned, uses) = self.plan_query(&schema, &sec, q, text, &params)?;
                        let named = || Named::of_query(q);
                        self.admit(&sec, &schema, &uses, text, &params, &named)?;
                        // A view's base tables are its owner's business.
                        let hidden = |table: &str| {
                            !schema
                                .object_id(table)
                                .is_some_and(|id| sec.auth.visible(&sec.roles, u64::from(id)))
                        };
                        let mut out = Vec::new();
                        describe_masked(&planned.plan, 0, &mut out, &hidden);
                        out
                    }
                    other => vec![format!("{}", statement_kind(other))],
                };
                Ok(self.buffered(
                    vec!["detail".to_string()],
                    lines.into_iter().map(|l| vec![Value::Text(l)]).collect(),
                ))
            }
            [other] => {
                // DML with RETURNING and SHOW yield rows; others none.
                let (cols, rows) = self.run_one(other, &params, text, cache)?;
                Ok(self.buffered(cols, rows))
            }
            _ => Err(Error::sql(
                SqlErrorKind::Misuse,
                "query takes exactly one statement",
            )),
        }
    }

    /// A result set of rows already computed.
    pub(super) fn buffered(&self, columns: Vec<String>, rows: Vec<Vec<Value>>) -> Rows<'_> {
        let columns: Arc<[String]> = Arc::from(columns);
        Rows {
            session: self,
            current: Row::empty(columns.clone()),
            columns,
            source: Source::Buffered(rows.into_iter()),
            txn: None,
            params: Vec::new(),
            outer: Vec::new(),
            cache: BTreeMap::new(),
            sec: None,
            fn_session: self.snapshot(),
            audit: None,
            returned: 0,
            keep: None,
        }
    }

    pub(super) fn open_query<'s>(
        &'s self,
        planned: &Planned,
        params: Vec<Value>,
        sec: Arc<Security>,
        audit: Option<PendingAudit>,
        reuse: Option<Reuse<'s>>,
    ) -> Result<Rows<'s>> {
        let (kept, keep) = match reuse {
            Some(r) => (r.kept, Some((r.home, r.planned))),
            None => (None, None),
        };
        let (kept, row) = match kept {
            Some(k) => (Some(k.it), k.row),
            None => (None, Vec::new()),
        };
        let busy_timeout = self.busy_timeout();
        let fn_session = self.snapshot();
        let mut own = if self.state.borrow().txn.is_some() {
            None
        } else {
            Some(self.db.mgr.begin())
        };
        let mut outer = Vec::new();
        let mut cache = BTreeMap::new();
        let it = (|| {
            let mut st = self.state.borrow_mut();
            let txn = match own.as_mut() {
                Some(t) => t,
                None => st
                    .txn
                    .as_mut()
                    .ok_or_else(|| Error::sql(SqlErrorKind::Misuse, "no transaction"))?,
            };
            let mut cx = ExecCtx {
                txn,
                params: &params,
                outer: &mut outer,
                cache: &mut cache,
                busy_timeout,
                trigger: None,
                sec: Some(std::borrow::Cow::Borrowed(&sec)),
                on_error: Default::default(),
                session: &fn_session,
                trigger_rights: Vec::new(),
                raised_ignore: false,
            };
            crate::sql::exec::reopen(kept, &planned.plan, &mut cx, &[])
        })();
        let it = match it {
            Ok(it) => it,
            Err(e) => {
                self.audit_end(audit, 0, Some(&e))?;
                return Err(e);
            }
        };
        let columns = planned.shared_columns();
        Ok(Rows {
            session: self,
            current: Row {
                values: row,
                columns: columns.clone(),
            },
            columns,
            source: Source::Stream(it),
            txn: own,
            params,
            outer,
            cache,
            sec: Some(sec),
            fn_session,
            audit,
            returned: 0,
            keep,
        })
    }

    pub(super) fn run_parsed(&self, parsed: &Parsed, params: &[Value], text: &str) -> Result<u64> {
        self.run_parsed_cached(parsed, params, text, None)
    }

    pub(super) fn run_parsed_cached(
        &self,
        parsed: &Parsed,
        params: &[Value],
        text: &str,
        cache: Option<&WriteCache>,
    ) -> Result<u64> {
        check_params(parsed, params)?;
        // One change (a prepared INSERT's every run): no texts to split.
        if let [s] = parsed.statements.as_slice() {
            if !matches!(s, Ast::Query(_) | Ast::Explain(..) | Ast::Pragma(_)) {
                self.run_one(s, params, text, cache)?;
                return Ok(self.state.borrow().changes);
            }
        }
        let mut changes = 0;
        let texts = statement_texts(text, parsed.statements.len());
        for (s, text) in parsed.statements.iter().zip(&texts) {
            let text: &str = text;
            if let Ast::Query(_) | Ast::Explain(..) | Ast::Pragma(_) = s {
                // Run it to completion (errors surface), discard the rows.
                let single = Parsed {
                    statements: vec![s.clone()],
                    param_count: parsed.param_count,
                    param_names: parsed.param_names.clone(),
                };
                let mut rows = self.query_parsed(&single, params.to_vec(), text, None)?;
                while rows.next()?.is_some() {}
                changes = 0;
                continue;
            }
            self.run_one(
                s,
                params,
                text,
                cache.filter(|_| parsed.statements.len() == 1),
            )?;
            changes = self.state.borrow().changes;
        }
        Ok(changes)
    }

    pub(super) fn commit(&self) -> Result<()> {
        let mut st = self.state.borrow_mut();
        let txn = st.txn.take().ok_or_else(|| {
            Error::sql(
                SqlErrorKind::Misuse,
                "cannot commit - no transaction is active",
            )
        })?;
        // Deferred foreign key violations fail the COMMIT and leave the
        // transaction open (SQLite).
        if st.fk_deferred.violated() {
            st.txn = Some(txn);
            return Err(crate::sql::run::foreign_key::failed());
        }
        let local = st.local_schema.take();
        let local_auth = st.local_auth.take();
        st.savepoints.clear();
        st.txn_from_savepoint = false;
        st.fk_deferred = Default::default();
        st.defer_foreign_keys = false;
        st.writes_hint = txn.write_count().min(WRITES_HINT_MAX);
        drop(st);
        txn.commit_then(|| self.publish(local, local_auth))?;
        Ok(())
    }

    /// Waits as the session's read consistency requires before a
    /// transaction takes its snapshot (replicated databases only).
    pub(super) fn read_barrier(&self) -> Result<()> {
        let Some(node) = &self.db.node else {
            return Ok(());
        };
        let level = self
            .state
            .borrow()
            .read_consistency
            .unwrap_or_else(|| node.default_read());
        node.read_barrier(level)
    }

    /// The read barrier for a statement that will open its own
    /// transaction (autocommit); inside a transaction, BEGIN had it. Runs
    /// before planning, so the schema it plans with is as fresh as the
    /// data it reads.
    pub(super) fn barrier_if_autocommit(&self) -> Result<()> {
        if self.db.node.is_none() || self.state.borrow().txn.is_some() {
            return Ok(());
        }
        self.read_barrier()
    }

    /// This session's read consistency.
    pub fn read_consistency(&self) -> crate::repl::raft::ReadConsistency {
        let own = self.state.borrow().read_consistency;
        own.or_else(|| self.db.node.as_ref().map(|n| n.default_read()))
            .unwrap_or(crate::repl::raft::ReadConsistency::Local {
                max_staleness: None,
            })
    }

    /// Sets this session's read consistency (like `SET read_consistency`).
    pub fn set_read_consistency(&self, level: crate::repl::raft::ReadConsistency) {
        self.state.borrow_mut().read_consistency = Some(level);
    }

    /// Makes a committed transaction's catalog changes visible to all.
    /// Called while the committing transaction still holds the writer
    /// slot ([`Txn::commit_then`]), so the next writer reads them.
    pub(super) fn publish(&self, schema: Option<Arc<Schema>>, auth: Option<Arc<AuthState>>) {
        if self.db.node.is_some() {
            // Replicated: applying the commit reloaded the caches, in log
            // order; publishing here could put back an older state.
            return;
        }
        if schema.is_some() || auth.is_some() {
            self.db.hooks.at(HookPoint::BeforePublish, &self.user);
        }
        if let Some(s) = schema {
            *self.db.schema.write() = s;
        }
        if let Some(a) = auth {
            *self.db.auth.write() = a;
        }
    }

    pub(super) fn rollback(&self) {
        let mut st = self.state.borrow_mut();
        st.txn = None;
        st.local_schema = None;
        st.local_auth = None;
        st.savepoints.clear();
        st.txn_from_savepoint = false;
        st.fk_deferred = Default::default();
        st.defer_foreign_keys = false;
    }
}
