//! Authorization of one statement: the uses the planner and
//! `sql::access` collected are checked against the session's privileges,
//! once, after planning and before execution; objects the user may not see
//! are reported as missing; ownership follows schema changes.

use std::sync::Arc;

use std::collections::BTreeSet;

use crate::auth::state::RoleId;
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

/// Every object id of a schema: tables, views, triggers.
fn object_ids(s: &Schema) -> BTreeSet<u32> {
    s.tables
        .values()
        .map(|t| t.id)
        .chain(s.views.values().map(|v| v.id))
        .chain(s.triggers.values().map(|t| t.id))
        .collect()
}

/// What a schema change does to the security catalog: objects it created
/// belong to `owner` (tables, views, and triggers, which run with their
/// owner's rights); whatever hung on objects or columns it removed is
/// forgotten. Renames need nothing: the catalog is keyed by ids.
pub(super) fn ownership(
    auth: &AuthState,
    old: &Schema,
    new: Option<&Schema>,
    owner: RoleId,
) -> Option<AuthState> {
    let new = new?;
    let (before, after) = (object_ids(old), object_ids(new));
    let mut a = auth.clone();
    let mut changed = false;
    for id in after.difference(&before) {
        a.set_owner(u64::from(*id), owner);
        changed = true;
    }
    let exists = |id: u64| u32::try_from(id).is_ok_and(|id| after.contains(&id));
    let column_exists = |table: u64, col: u32| {
        new.tables
            .values()
            .find(|t| u64::from(t.id) == table)
            .is_none_or(|t| t.column_by_id(col).is_some())
    };
    changed |= a.forget_missing(&exists, &column_exists);
    changed.then_some(a)
}

impl Session {
    /// Who this session's statements run as, under the current security
    /// catalog. The session is bound to its user's id: if that user was
    /// dropped (even if a new user now has the name), it ends.
    pub(super) fn security(&self) -> Result<Arc<Security>> {
        let auth = self.auth();
        if let Some(s) = self.sec.borrow().as_ref() {
            if Arc::ptr_eq(&s.auth, &auth) {
                return Ok(s.clone());
            }
        }
        if auth.role_id(&self.user) != Some(self.user_id) {
            return Err(denied(format!(
                "user {} no longer exists; this session has ended",
                self.user
            )));
        }
        let sec = Arc::new(Security {
            user: self.user.clone(),
            session_user: self.user.clone(),
            roles: auth.roles_of_id(self.user_id),
            auth,
            policy_exprs: self.db.policy_exprs.clone(),
        });
        *self.sec.borrow_mut() = Some(sec.clone());
        Ok(sec)
    }

    /// The one place every statement is authorized, after planning and
    /// before execution: every use must be allowed (see `sql::access`).
    pub(super) fn authorize(
        &self,
        sec: &Security,
        schema: &Schema,
        uses: &[ObjectUse],
    ) -> Result<()> {
        crate::sql::access::check(sec, schema, uses)
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
            let id = schema.object_id(n).map(u64::from);
            if id.is_some_and(|id| !sec.auth.visible(&sec.roles, id)) {
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
