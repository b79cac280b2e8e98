//! Authorization of one statement: the uses the planner and
//! `sql::access` collected are checked against the session's privileges,
//! once, after planning and before execution; objects the user may not see
//! are reported as missing; ownership follows schema changes.

use std::sync::Arc;

use crate::auth::AuthState;
use crate::sql::plan::{ObjectUse, Security};

use crate::catalog::Schema;
use crate::error::{Error, Result, SqlErrorKind};
use crate::syntax::ast::Statement as Ast;
use crate::types::Value;

use super::*;

pub(super) fn denied(msg: String) -> Error {
    Error::PermissionDenied { message: msg }
}

/// The column a use names: rowid aliases map to the INTEGER PRIMARY KEY
/// column (or to nothing when the table has none).
pub(super) fn real_column(schema: &Schema, object: &str, col: &str) -> Option<String> {
    let is_rowid = ["rowid", "_rowid_", "oid"].contains(&col);
    match schema.table(object) {
        Some(t) if is_rowid && t.column(col).is_none() => {
            t.rowid_alias.map(|a| t.columns[a].name.to_lowercase())
        }
        _ => Some(col.to_string()),
    }
}

/// The tables a data change names (for hiding unseen objects in errors).
pub(super) fn target_names(stmt: &Ast) -> Vec<String> {
    match stmt {
        Ast::Insert(i) => vec![i.table.clone()],
        Ast::Update(u) => vec![u.table.clone()],
        Ast::Delete(d) => vec![d.table.clone()],
        Ast::CreateIndex(c) => vec![c.table.clone()],
        Ast::AlterTable { table, .. } => vec![table.clone()],
        Ast::Drop { names, .. } => names.clone(),
        _ => Vec::new(),
    }
}

/// What a schema change does to ownership: new tables and views belong
/// to their creator (root's need no entry: admins may do everything),
/// dropped ones lose their grants and policies, renamed ones keep them.
pub(super) fn ownership(
    auth: &AuthState,
    old: &Schema,
    new: Option<&Schema>,
    stmt: &Ast,
    user: &str,
) -> Option<AuthState> {
    let new = new?;
    let mut a = auth.clone();
    let mut changed = false;
    let attached = |a: &AuthState, n: &str| {
        let n = n.to_lowercase();
        a.owners.contains_key(&n)
            || a.grants.keys().any(|(o, _)| *o == n)
            || a.rls.contains(&n)
            || a.audit.contains_key(&n)
            || a.policies.keys().any(|(t, _)| *t == n)
    };
    let by_user = user != crate::auth::ROOT;
    match stmt {
        Ast::CreateTable(ct)
            if by_user && old.table(&ct.name).is_none() && new.table(&ct.name).is_some() =>
        {
            a.set_owner(&ct.name, user);
            changed = true;
        }
        Ast::CreateView { name, .. }
            if by_user && old.view(name).is_none() && new.view(name).is_some() =>
        {
            a.set_owner(name, user);
            changed = true;
        }
        Ast::Drop { names, .. } => {
            for n in names {
                let gone = new.table(n).is_none() && new.view(n).is_none();
                if gone && attached(&a, n) {
                    a.drop_object(n);
                    changed = true;
                }
            }
        }
        Ast::AlterTable {
            table,
            op: crate::syntax::ast::AlterOp::RenameTable(to),
        } if attached(&a, table) => {
            a.rename_object(table, to);
            changed = true;
        }
        _ => {}
    }
    changed.then_some(a)
}

impl Session {
    pub(super) fn security(&self) -> Arc<Security> {
        let auth = self.auth();
        if let Some(s) = self.sec.borrow().as_ref() {
            if Arc::ptr_eq(&s.auth, &auth) {
                return s.clone();
            }
        }
        let sec = Arc::new(Security {
            user: self.user.clone(),
            roles: auth.roles_of(&self.user),
            auth,
            policy_exprs: self.db.policy_exprs.clone(),
        });
        *self.sec.borrow_mut() = Some(sec.clone());
        sec
    }

    /// The one place every statement is authorized, after planning and
    /// before execution: every use must be allowed (see the module docs).
    pub(super) fn authorize(
        &self,
        sec: &Security,
        schema: &Schema,
        uses: &[ObjectUse],
    ) -> Result<()> {
        for u in uses {
            let definer;
            let roles = match &u.definer {
                None => &sec.roles,
                Some(v) => {
                    definer = sec
                        .auth
                        .roles_of(sec.auth.owner_of(v).unwrap_or(crate::auth::ROOT));
                    &definer
                }
            };
            if roles.admin {
                continue;
            }
            let p = u.privilege.name();
            if u.object.is_empty() {
                if !sec.auth.allowed(roles, "", u.privilege, None) {
                    return Err(denied(format!(
                        "user {} has no {p} privilege on database main",
                        roles.user
                    )));
                }
                continue;
            }
            if !sec.auth.visible(roles, &u.object) {
                return Err(match &u.definer {
                    None => Error::sql(
                        SqlErrorKind::UnknownTable,
                        format!("no such table: {}", u.object),
                    ),
                    Some(v) => denied(format!(
                        "the owner of view {v} ({}) has no privilege on {}",
                        roles.user, u.object
                    )),
                });
            }
            let cols: Vec<String> = u
                .columns
                .iter()
                .filter_map(|c| real_column(schema, &u.object, c))
                .collect();
            if cols.is_empty() {
                let ok = sec.auth.allowed(roles, &u.object, u.privilege, None)
                    || (u.privilege.column_level()
                        && sec.auth.allowed_any_column(roles, &u.object, u.privilege));
                if !ok {
                    return Err(denied(format!(
                        "user {} has no {p} privilege on {}",
                        roles.user, u.object
                    )));
                }
            } else {
                for c in &cols {
                    if !sec.auth.allowed(roles, &u.object, u.privilege, Some(c)) {
                        return Err(denied(format!(
                            "user {} has no {p} privilege on column {c} of {}",
                            roles.user, u.object
                        )));
                    }
                }
            }
        }
        Ok(())
    }

    /// A planning error must not reveal objects the user may not see:
    /// any hidden table the statement named is reported as missing.
    /// Such a refusal is audited like any other denied statement.
    pub(super) fn hide_unseen(
        &self,
        e: Error,
        sec: &Security,
        names: &[String],
        text: &str,
        params: &[Value],
    ) -> Error {
        if sec.roles.admin {
            return e;
        }
        let schema = self.schema();
        for n in names {
            let exists = schema.table(n).is_some() || schema.view(n).is_some();
            if exists && !sec.auth.visible(&sec.roles, &n.to_lowercase()) {
                let e = Error::sql(SqlErrorKind::UnknownTable, format!("no such table: {n}"));
                let p = self.audit_start(sec, "denied", text, params, &[], true);
                if let Some(mut p) = p {
                    p.rec.objects = vec![n.to_lowercase()];
                    // The refusal stands even if the audit log fails.
                    let _ = self.audit_end(Some(p), 0, Some(&e));
                }
                return e;
            }
        }
        e
    }

    /// [`Self::admit`], skipped when `memo` says this cached statement was
    /// already authorized under the same catalog.
    pub(super) fn admit_memo(
        &self,
        memo: Option<&Memo>,
        sec: &Security,
        schema: &Schema,
        uses: &[ObjectUse],
        text: &str,
        params: &[Value],
    ) -> Result<()> {
        if memo.is_some_and(|m| m.load(std::sync::atomic::Ordering::Acquire)) {
            return Ok(());
        }
        self.admit(sec, schema, uses, text, params)?;
        if let Some(m) = memo {
            m.store(true, std::sync::atomic::Ordering::Release);
        }
        Ok(())
    }

    /// Authorizes `uses`; a denial is audited and returned.
    pub(super) fn admit(
        &self,
        sec: &Security,
        schema: &Schema,
        uses: &[ObjectUse],
        text: &str,
        params: &[Value],
    ) -> Result<()> {
        if let Err(e) = self.authorize(sec, schema, uses) {
            let p = self.audit_start(sec, "denied", text, params, uses, true);
            self.audit_end(p, 0, Some(&e))?;
            return Err(e);
        }
        Ok(())
    }
}
