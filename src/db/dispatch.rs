//! Running one parsed statement: the dispatch from statement kind to the
//! SQL layer (queries, data changes, DDL), transactions and savepoints, and
//! security statements.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Instant;

use crate::auth::AuthState;
use crate::sql::access::{analyze, needs_admin};
use crate::sql::plan::{ObjectUse, Security};

use crate::catalog::Schema;
use crate::error::{Error, Result, SqlErrorKind};
use crate::sql::exec::{ErrorScope, ExecCtx};
use crate::sql::run;
use crate::syntax::ast::Statement as Ast;
use crate::syntax::parse::Parsed;
use crate::txn::Txn;
use crate::types::Value;

use super::*;

pub(super) fn check_params(parsed: &Parsed, params: &[Value]) -> Result<()> {
    if params.len() != parsed.param_count {
        return Err(Error::sql(
            SqlErrorKind::Misuse,
            format!(
                "the statement has {} parameter(s) but {} value(s) were bound",
                parsed.param_count,
                params.len()
            ),
        ));
    }
    Ok(())
}

/// Runs a data- or schema-changing statement.
pub(super) fn exec_write(
    cx: &mut ExecCtx,
    schema: &Schema,
    stmt: &Ast,
) -> Result<(Option<Box<Schema>>, run::Changed)> {
    // A new schema is boxed: the result is moved on its way up, and for
    // every DML (a prepared INSERT per row) it is `None`, whose unboxed
    // slot was a schema's size.
    let boxed = |s: Option<Schema>| s.map(Box::new);
    let none = || run::Changed {
        changes: 0,
        returning: None,
        last_rowid: None,
    };
    crate::sql::access::compile_triggers(schema, stmt)?;
    Ok(match stmt {
        Ast::Insert(i) => (None, run::insert(cx, schema, i)?),
        Ast::Update(u) => (None, run::update(cx, schema, u)?),
        Ast::Delete(d) => (None, run::delete(cx, schema, d)?),
        Ast::CreateTable(ct) => (boxed(run::create_table(cx, schema, ct)?), none()),
        Ast::CreateIndex(ci) => (boxed(run::create_index(cx, schema, ci)?), none()),
        Ast::CreateView {
            name,
            columns,
            query,
            query_sql,
            if_not_exists,
        } => (
            boxed(run::create_view(
                cx,
                schema,
                name,
                columns,
                query,
                query_sql,
                *if_not_exists,
            )?),
            none(),
        ),
        Ast::Drop {
            kind,
            names,
            if_exists,
        } => (
            boxed(run::drop_objects(cx, schema, *kind, names, *if_exists)?),
            none(),
        ),
        Ast::CreateTrigger(ct) => (Some(Box::new(run::create_trigger(cx, schema, ct)?)), none()),
        Ast::AlterTable { table, op } => (
            Some(Box::new(run::alter_table(cx, schema, table, op)?)),
            none(),
        ),
        Ast::Reindex(name) => {
            run::reindex(cx, schema, name.as_deref())?;
            (None, none())
        }
        Ast::Analyze(name) => (
            boxed(run::analyze_stats(cx, schema, name.as_deref())?),
            none(),
        ),
        Ast::Pragma(p) if p.name == "user_version" => {
            let v = super::pragma::user_version_value(p).ok_or_else(|| {
                Error::sql(SqlErrorKind::Misuse, "PRAGMA user_version without a value")
            })?;
            let mut row = Vec::new();
            crate::encoding::encode_row(&[Value::Integer(i64::from(v))], &mut row);
            cx.txn.put(crate::catalog::USER_VERSION_KEY.to_vec(), row);
            (None, none())
        }
        other => {
            return Err(Error::sql(
                SqlErrorKind::Unsupported,
                format!("{} is not supported here", statement_kind(other)),
            ))
        }
    })
}

/// ANALYZE of one table or index needs its table's owner or an admin (a
/// view named: the view's owner). Runs after hidden objects were made
/// missing, so a refusal here names only what the user may see.
fn analyze_denied(stmt: &Ast, sec: &Security, schema: &Schema) -> Option<Error> {
    let Ast::Analyze(Some(name)) = stmt else {
        return None;
    };
    if sec.roles.admin {
        return None;
    }
    let id = match run::analyze_target(schema, Some(name))? {
        run::AnalyzeTarget::Table(t) | run::AnalyzeTarget::Index(t, _) => t.id,
        run::AnalyzeTarget::Nothing => schema.object_id(name)?,
        run::AnalyzeTarget::All => return None,
    };
    if !sec.auth.visible(&sec.roles, u64::from(id)) {
        return Some(Error::sql(
            SqlErrorKind::UnknownTable,
            format!("no such table: {name}"),
        ));
    }
    (!sec.auth.owns(&sec.roles, u64::from(id))).then(|| {
        super::authorize::denied(format!(
            "permission denied: only the owner of {name} or an admin may ANALYZE it"
        ))
    })
}

impl Session {
    /// Runs one non-query statement; returns RETURNING (or SHOW) columns
    /// and rows.
    pub(super) fn run_one(
        &self,
        stmt: &Ast,
        params: &[Value],
        text: &str,
        cache: Option<&WriteCache>,
    ) -> Result<ResultSet> {
        match stmt {
            Ast::Backup(b) => return self.run_backup(b, params, text),
            Ast::Vacuum => return self.run_vacuum(text),
            Ast::Begin { immediate } => {
                let st = self.state.borrow_mut();
                if st.txn.is_some() {
                    return Err(Error::sql(
                        SqlErrorKind::Misuse,
                        "cannot start a transaction within a transaction",
                    ));
                }
                drop(st);
                self.read_barrier()?;
                let mut txn = self.db.mgr.begin();
                if *immediate {
                    txn.ensure_writer(self.busy_timeout())?;
                }
                let mut st = self.state.borrow_mut();
                txn.reserve_writes(st.writes_hint);
                st.txn = Some(Box::new(txn));
                return Ok((Vec::new(), Vec::new()));
            }
            Ast::SetSession { name, value } => {
                if name != "read_consistency" {
                    return Err(Error::sql(
                        SqlErrorKind::Unsupported,
                        format!("unknown session setting {name}"),
                    ));
                }
                let level = crate::repl::raft::ReadConsistency::parse(value).ok_or_else(|| {
                    Error::sql(
                        SqlErrorKind::Misuse,
                        format!(
                            "read_consistency must be local, 'local <N>ms', leader or \
                             linearizable, not {value:?}"
                        ),
                    )
                })?;
                self.set_read_consistency(level);
                return Ok((Vec::new(), Vec::new()));
            }
            Ast::Commit => {
                self.commit()?;
                return Ok((Vec::new(), Vec::new()));
            }
            Ast::Rollback(None) => {
                if self.state.borrow().txn.is_none() {
                    return Err(Error::sql(
                        SqlErrorKind::Misuse,
                        "cannot rollback - no transaction is active",
                    ));
                }
                self.rollback();
                return Ok((Vec::new(), Vec::new()));
            }
            Ast::Savepoint(name) => {
                if self.state.borrow().txn.is_none() {
                    self.read_barrier()?;
                }
                let mut st = self.state.borrow_mut();
                if st.txn.is_none() {
                    st.txn = Some(Box::new(self.db.mgr.begin()));
                    st.txn_from_savepoint = true;
                }
                let mark = st.txn.as_ref().map(|t| t.mark());
                let schema = st.local_schema.clone();
                let auth = st.local_auth.clone();
                let deferred = st.fk_deferred;
                if let Some(m) = mark {
                    st.savepoints
                        .push((name.clone(), m, schema, auth, deferred));
                }
                return Ok((Vec::new(), Vec::new()));
            }
            Ast::Release(name) => {
                let mut st = self.state.borrow_mut();
                let pos = st
                    .savepoints
                    .iter()
                    .rposition(|(n, _, _, _, _)| n.eq_ignore_ascii_case(name))
                    .ok_or_else(|| {
                        Error::sql(SqlErrorKind::Misuse, format!("no such savepoint: {name}"))
                    })?;
                let finish = pos == 0 && st.txn_from_savepoint;
                // Releasing the outermost savepoint commits: deferred
                // foreign key violations fail it, keeping the savepoint.
                if !finish {
                    st.savepoints.truncate(pos);
                }
                drop(st);
                if finish {
                    self.commit()?;
                }
                return Ok((Vec::new(), Vec::new()));
            }
            Ast::Rollback(Some(name)) => {
                let mut st = self.state.borrow_mut();
                let pos = st
                    .savepoints
                    .iter()
                    .rposition(|(n, _, _, _, _)| n.eq_ignore_ascii_case(name))
                    .ok_or_else(|| {
                        Error::sql(SqlErrorKind::Misuse, format!("no such savepoint: {name}"))
                    })?;
                let (_, mark, schema, auth, deferred) = st.savepoints[pos].clone();
                st.savepoints.truncate(pos + 1);
                st.local_schema = schema;
                st.local_auth = auth;
                st.fk_deferred = deferred;
                if let Some(t) = st.txn.as_mut() {
                    t.rollback_to(mark);
                }
                return Ok((Vec::new(), Vec::new()));
            }
            _ => {}
        }
        let started = Instant::now();
        // A change takes the writer slot before it reads the schema and
        // the security catalog it plans, authorizes and changes. Read
        // before, they could be stale by the time the slot is ours (another
        // session committed meanwhile): the change would be authorized
        // under rules no longer in force and would publish a catalog built
        // on the old one, undoing what was committed in between. Under the
        // slot nobody else commits, and the published catalog is the
        // committed one (it is published before the slot is released).
        let read_only =
            matches!(stmt, Ast::Auth(a) if a.is_show()) || matches!(stmt, Ast::ShowCluster);
        let autocommit = self.state.borrow().txn.is_none();
        let mut txn = (!read_only).then(|| {
            let open = self.state.borrow_mut().txn.take();
            open.unwrap_or_else(|| Box::new(self.db.mgr.begin()))
        });
        let slot = match txn.as_mut() {
            Some(t) => {
                self.db.hooks.at(HookPoint::BeforeWriterSlot, &self.user);
                t.ensure_writer(self.busy_timeout())
            }
            None => Ok(()),
        };
        let r = self.run_checked(
            stmt, params, text, cache, started, &mut txn, slot, autocommit,
        );
        // An explicit transaction goes back to the session whatever
        // happened; an autocommit one still here was not committed and is
        // rolled back as it drops (releasing the writer slot).
        if !autocommit {
            if let Some(t) = txn {
                self.state.borrow_mut().txn = Some(t);
            }
        }
        r
    }

    /// [`Self::run_one`] for everything but transaction control, with the
    /// writer slot taken (`slot`) for changes: plan, authorize, audit, run.
    #[allow(clippy::too_many_arguments)]
    fn run_checked(
        &self,
        stmt: &Ast,
        params: &[Value],
        text: &str,
        cache: Option<&WriteCache>,
        started: Instant,
        txn: &mut Option<Box<Txn>>,
        slot: Result<()>,
        autocommit: bool,
    ) -> Result<ResultSet> {
        let sec = self.security()?;
        let schema = self.schema();
        if needs_admin(stmt) && !sec.roles.admin {
            let e = denied("only admins may run this statement".into());
            let p = self.audit_start(&sec, "denied", text, params, &[], true);
            self.audit_end(p, 0, Some(&e))?;
            return Err(e);
        }
        if let Ast::ShowCluster = stmt {
            return self.show_cluster();
        }
        // A trigger is the session user's own when she owns it herself
        // (as `sql::access::check` counts it).
        let own_trigger =
            |t: &crate::catalog::Trigger| sec.auth.owner_of(u64::from(t.id)) == Some(sec.roles.id);
        let filtered = self.hidden_as_missing(stmt, &sec, &schema, text, params)?;
        let stmt = filtered.as_ref().unwrap_or(stmt);
        if let Some(e) = analyze_denied(stmt, &sec, &schema) {
            let p = self.audit_start(&sec, "denied", text, params, &[], true);
            self.audit_end(p, 0, Some(&e))?;
            return Err(e);
        }
        let cached = cache.and_then(|c| {
            c.uses
                .borrow()
                .as_ref()
                .filter(|(s, a, _, _)| Arc::ptr_eq(s, &schema) && Arc::ptr_eq(a, &sec.auth))
                .map(|(_, _, u, m)| (u.clone(), m.clone()))
        });
        let (uses, memo): (Arc<Vec<ObjectUse>>, Option<Memo>) = match (stmt, cached) {
            (Ast::Auth(_), _) => (Arc::default(), None),
            (_, Some((u, m))) => (u, Some(m)),
            // An admin needs no uses when nothing is audited: none are
            // computed (and a prepared statement keeps the empty list, so
            // its next runs allocate nothing here either).
            _ if sec.roles.admin && sec.auth.audit.is_empty() && cache.is_none() => {
                (Arc::default(), None)
            }
            _ => {
                let u = if sec.roles.admin && sec.auth.audit.is_empty() {
                    Arc::default()
                } else {
                    Arc::new(analyze(&schema, stmt, &Some(sec.clone())).map_err(|e| {
                        let named = Named::of_statement(&schema, stmt, &own_trigger);
                        self.hide_unseen(e, &sec, named.names(), text, params)
                    })?)
                };
                let m = cache.map(|c| {
                    let m = Memo::default();
                    *c.uses.borrow_mut() =
                        Some((schema.clone(), sec.auth.clone(), u.clone(), m.clone()));
                    m
                });
                (u, m)
            }
        };
        let named = || Named::of_statement(&schema, stmt, &own_trigger);
        self.admit_memo(memo.as_ref(), &sec, &schema, &uses, text, params, &named)?;
        let (event, force, audit_text, audit_params) = match stmt {
            Ast::Auth(a) if !a.is_show() => {
                ("security", true, Cow::Owned(a.audit_text(text)), &[][..])
            }
            Ast::Auth(a) => ("statement", false, Cow::Owned(a.audit_text(text)), &[][..]),
            // A change of the schema's version is always on record.
            Ast::Pragma(_) => ("statement", true, Cow::Borrowed(text), params),
            _ => ("statement", false, Cow::Borrowed(text), params),
        };
        // Security statements name their tables themselves (they are not
        // analysed into uses).
        let name_objects = |p: &mut Option<PendingAudit>| {
            if let (Ast::Auth(a), Some(p)) = (stmt, p.as_mut()) {
                p.rec.objects = a.objects();
            }
        };
        let mut pending = self.audit_start(&sec, event, &audit_text, audit_params, &uses, force);
        name_objects(&mut pending);
        if let Ast::Auth(a) = stmt {
            if a.is_show() {
                let r = self
                    .apply_auth(&sec, &schema, a, params)
                    .map(|(_, out)| out);
                self.audit_end(pending, 0, r.as_ref().err())?;
                return r;
            }
        }
        let r =
            slot.and_then(|()| self.run_write(stmt, params, &sec, &schema, cache, txn, autocommit));
        let changes = self.state.borrow().changes;
        let pending = match (&r, pending) {
            (Err(Error::PermissionDenied { .. }), None) => {
                let mut p =
                    self.audit_start(&sec, "denied", &audit_text, audit_params, &uses, true);
                if let Some(p) = p.as_mut() {
                    p.started = started;
                }
                name_objects(&mut p);
                p
            }
            (_, p) => p,
        };
        self.audit_end(
            pending,
            if r.is_ok() { changes } else { 0 },
            r.as_ref().err(),
        )?;
        r
    }

    /// `SHOW CLUSTER`: one row per member as this node sees it.
    fn show_cluster(&self) -> Result<ResultSet> {
        let Some(node) = &self.db.node else {
            return Err(Error::sql(
                SqlErrorKind::Misuse,
                "SHOW CLUSTER: this database is not replicated",
            ));
        };
        let st = node.status();
        let columns = [
            "node_id",
            "address",
            "kind",
            "role",
            "is_self",
            "matched_index",
            "term",
            "applied_index",
        ]
        .map(String::from)
        .to_vec();
        let int = |v: Option<u64>| v.map_or(Value::Null, |x| Value::Integer(x as i64));
        let rows = st
            .members
            .iter()
            .map(|m| {
                let me = m.node_id == st.node_id;
                let role = if me {
                    st.role.to_string()
                } else if st.leader == Some(m.node_id) {
                    "leader".to_string()
                } else if m.voter {
                    "follower".to_string()
                } else {
                    "learner".to_string()
                };
                vec![
                    Value::Integer(m.node_id as i64),
                    Value::Text(m.address.clone()),
                    Value::Text(if m.voter { "voter" } else { "learner" }.into()),
                    Value::Text(role),
                    Value::Integer(me as i64),
                    int(m.matched_index),
                    if me { int(Some(st.term)) } else { Value::Null },
                    if me {
                        int(st.applied_index)
                    } else {
                        Value::Null
                    },
                ]
            })
            .collect();
        Ok((columns, rows))
    }

    /// Runs a data, schema or security change in `txn` (which holds the
    /// writer slot); commits it at once in autocommit mode.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn run_write(
        &self,
        stmt: &Ast,
        params: &[Value],
        sec: &Arc<Security>,
        schema: &Arc<Schema>,
        prepared: Option<&WriteCache>,
        txn: &mut Option<Box<Txn>>,
        autocommit: bool,
    ) -> Result<(Vec<String>, Vec<Vec<Value>>)> {
        if let Some(node) = &self.db.node {
            node.check_can_write()?;
        }
        let Some(txn_ref) = txn.as_mut() else {
            return Err(Error::sql(SqlErrorKind::Misuse, "no transaction"));
        };
        let fn_session = self.snapshot();
        // What a failure undoes: the statement's changes, unless its
        // conflict resolution says otherwise (OR FAIL, OR ROLLBACK).
        let scope = std::cell::Cell::new(ErrorScope::Statement);
        // Without a statement journal SQLite cannot undo the statement: an
        // error leaves what it wrote before (inside a transaction).
        let keeps = || match stmt {
            Ast::Insert(_) | Ast::Update(_) | Ast::Delete(_) => {
                crate::sql::journal::keeps_statement_journal(schema, stmt)
            }
            _ => true,
        };
        // A prepared statement decides once per schema (the decision
        // depends on nothing else); others only what they need.
        let decided = prepared.map(|c| {
            let mut slot = c.journal.borrow_mut();
            match &*slot {
                Some((s, j)) if Arc::ptr_eq(s, schema) => *j,
                _ => {
                    let j = Journal {
                        keeps: keeps(),
                        multi_write: crate::sql::journal::multi_write(schema, stmt),
                    };
                    *slot = Some((schema.clone(), j));
                    j
                }
            }
        });
        let journal = decided.map_or_else(keeps, |j| j.keeps);
        let mark = txn_ref.mark();
        // Foreign keys are enforced through the statement when the
        // session asked (PRAGMA foreign_keys), counted from the
        // transaction's deferred violations.
        let fk = {
            let st = self.state.borrow();
            st.foreign_keys.then(|| {
                run::foreign_key::FkScope::begin(
                    st.fk_deferred,
                    st.defer_foreign_keys,
                    decided.map_or_else(
                        || crate::sql::journal::multi_write(schema, stmt),
                        |j| j.multi_write,
                    ),
                )
            })
        };
        // The new catalogs are boxed: the result is moved several times,
        // and a statement that changes neither (every DML) copied their
        // empty slots' bytes with it.
        type Outcome = (Option<Box<Schema>>, Option<Box<AuthState>>, run::Changed);
        let r = (|| -> Result<Outcome> {
            if let Ast::Auth(a) = stmt {
                // CREATE LOGIN TOKEN returns its token as a row.
                let (new, out) = self.apply_auth(sec, schema, a, params)?;
                put_auth(txn_ref, &sec.auth, &new)?;
                let changed = run::Changed {
                    changes: 0,
                    returning: (!out.0.is_empty()).then_some(out),
                    last_rowid: None,
                };
                return Ok((None, Some(Box::new(new)), changed));
            }
            let mut outer = Vec::new();
            let mut cache = BTreeMap::new();
            let mut cx = ExecCtx {
                txn: &mut *txn_ref,
                params,
                outer: &mut outer,
                cache: &mut cache,
                busy_timeout: self.busy_timeout(),
                trigger: None,
                sec: Some(std::borrow::Cow::Borrowed(sec)),
                on_error: Default::default(),
                session: &fn_session,
                trigger_rights: Vec::new(),
                raised_ignore: false,
            };
            let done = match (stmt, prepared) {
                (Ast::Insert(i), Some(c)) => {
                    // A prepared INSERT keeps its plan between runs, and
                    // the catalogs it was made under stay in place while
                    // they are current (no counts taken and dropped per
                    // run). The plan is out of the cell while it runs.
                    let current =
                        |e: &Keyed<_>| Arc::ptr_eq(&e.0, schema) && Arc::ptr_eq(&e.1, &sec.auth);
                    let mut slot = {
                        let mut e = c.insert.borrow_mut();
                        match e.as_mut() {
                            Some(k) if current(k) => k.2.take(),
                            _ => {
                                *e = None;
                                None
                            }
                        }
                    };
                    let r = run::insert_planned(&mut cx, schema, i, &mut slot);
                    if let Some(p) = slot {
                        let mut e = c.insert.borrow_mut();
                        match e.as_mut() {
                            Some(k) if current(k) => k.2 = Some(p),
                            _ => *e = Some((schema.clone(), sec.auth.clone(), Some(p))),
                        }
                    }
                    r.map(|changed| (None, changed))
                }
                _ => exec_write(&mut cx, schema, stmt),
            };
            scope.set(cx.on_error);
            // An OR FAIL error keeps what the statement did, unless that
            // leaves an immediate foreign key violated: then the error is
            // the constraint's, and the statement is undone (SQLite's
            // halt checks them on a FAIL too).
            if done.is_err()
                && cx.on_error == ErrorScope::Nothing
                && fk.as_ref().is_some_and(|f| f.statement_violated())
            {
                scope.set(ErrorScope::Statement);
                return Err(run::foreign_key::failed());
            }
            let (new_schema, changed) = done?;
            // An immediate constraint still violated when the statement
            // ends fails it; in autocommit the deferred ones fail it too
            // (its COMMIT is now). Either way the statement is undone.
            if let Some(fk) = &fk {
                if fk.statement_violated() || (autocommit && fk.deferred().violated()) {
                    scope.set(ErrorScope::Statement);
                    return Err(run::foreign_key::failed());
                }
            }
            let change = new_schema
                .as_ref()
                .map(|n| DdlChange::of(stmt, schema, n))
                .unwrap_or_default();
            let new_auth = ownership(
                &sec.auth,
                schema,
                new_schema.as_deref(),
                self.user_id,
                change,
            );
            if let Some(a) = &new_auth {
                put_auth(txn_ref, &sec.auth, a)?;
            }
            Ok((new_schema, new_auth.map(Box::new), changed))
        })();
        // SQLite raises a name it cannot resolve (in a trigger program it
        // codes, too) while compiling the statement, before anything ran;
        // sealdb plans a trigger's body when it fires, so it undoes what
        // the statement did, whatever its conflict resolution says.
        let compile_time = matches!(
            &r,
            Err(Error::Sql {
                kind: SqlErrorKind::UnknownTable
                    | SqlErrorKind::UnknownColumn
                    | SqlErrorKind::UnknownFunction
                    | SqlErrorKind::Ambiguous
                    | SqlErrorKind::Syntax,
                ..
            })
        );
        // A foreign key error undoes the statement whatever its conflict
        // resolution (SQLite resolves them by ABORT only).
        let fk_error = matches!(
            &r,
            Err(Error::Sql {
                kind: SqlErrorKind::ForeignKey,
                ..
            })
        );
        if compile_time || fk_error {
            scope.set(ErrorScope::Statement);
        }
        let keep = match scope.get() {
            ErrorScope::Nothing => true,
            ErrorScope::Statement => !journal && !autocommit && !compile_time && !fk_error,
            _ => false,
        };
        // The deferred counters follow the statement: kept when it
        // succeeded, as they were when it is undone.
        let deferred_violated = fk.as_ref().is_some_and(|f| f.deferred().violated());
        if let Some(fk) = fk {
            if r.is_ok() || keep {
                self.state.borrow_mut().fk_deferred = fk.deferred();
            }
        }
        // An autocommit change ends its transaction, committed or not:
        // nothing stays deferred, and defer_foreign_keys switches off
        // (SQLite).
        if autocommit {
            let mut st = self.state.borrow_mut();
            st.fk_deferred = Default::default();
            st.defer_foreign_keys = false;
        }
        if r.is_err() && !keep {
            txn_ref.rollback_to(mark);
        }
        // Between statements, with no savepoint open, nothing will undo
        // this statement's writes one by one any more (a rollback drops
        // the whole transaction): the undo log forgets them instead of
        // growing with every row of a long transaction.
        if !autocommit && self.state.borrow().savepoints.is_empty() {
            txn_ref.settle();
        }
        let (new_schema, new_auth, changed) = match r {
            Ok(x) => x,
            Err(e) => {
                match scope.get() {
                    // OR ROLLBACK: the transaction is gone (dropped here,
                    // so `run_one` has nothing to give back).
                    ErrorScope::Transaction => {
                        *txn = None;
                        self.rollback();
                    }
                    // OR FAIL: what the statement did before stays (and
                    // is committed at once outside a transaction, still
                    // under the writer slot).
                    // Deferred foreign key violations fail that commit:
                    // nothing stays, and the error is theirs (SQLite).
                    ErrorScope::Nothing if autocommit && deferred_violated => {
                        *txn = None;
                        return Err(run::foreign_key::failed());
                    }
                    ErrorScope::Nothing if autocommit => {
                        let (local, local_auth) = {
                            let mut st = self.state.borrow_mut();
                            (st.local_schema.take(), st.local_auth.take())
                        };
                        if let Some(t) = txn.take() {
                            t.commit_then(|| self.publish(local, local_auth))?;
                        }
                    }
                    // Otherwise `run_one` gives an explicit transaction
                    // back to the session and drops (rolls back) an
                    // autocommit one.
                    _ => {}
                }
                return Err(e);
            }
        };
        {
            let mut st = self.state.borrow_mut();
            st.changes = changed.changes;
            // changes() keeps the count of the last INSERT, UPDATE or
            // DELETE; other statements leave it, as in SQLite.
            if matches!(stmt, Ast::Insert(_) | Ast::Update(_) | Ast::Delete(_)) {
                st.dml_changes = changed.changes;
                st.total_changes = st.total_changes.saturating_add(changed.changes);
            }
            if let Some(r) = changed.last_rowid {
                st.last_rowid = r;
            }
            if let Some(s) = new_schema {
                st.local_schema = Some(Arc::new(*s));
            }
            if let Some(a) = new_auth {
                st.local_auth = Some(Arc::new(*a));
            }
        }
        if autocommit {
            let (local, local_auth) = {
                let mut st = self.state.borrow_mut();
                (st.local_schema.take(), st.local_auth.take())
            };
            if let Some(t) = txn.take() {
                t.commit_then(|| self.publish(local, local_auth))?;
            }
        }
        Ok(changed.returning.unwrap_or_default())
    }
}
