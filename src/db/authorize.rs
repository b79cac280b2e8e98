//! Authorization of one statement: the uses the planner and
//! `sql::access` collected are checked against the session's privileges,
//! once, after planning and before execution; objects the user may not see
//! are reported as missing; ownership follows schema changes.

use std::sync::Arc;

use crate::auth::AuthState;
use crate::sql::plan::{ObjectUse, Security};

use crate::catalog::Schema;
use crate::error::{Error, Result, SqlErrorKind};
use crate::syntax::ast::{ObjectKind, Statement as Ast};
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

/// The table index `name` belongs to.
fn index_table(schema: &Schema, name: &str) -> Option<String> {
    schema.tables.values().find_map(|t| {
        t.indexes
            .iter()
            .any(|i| i.name.eq_ignore_ascii_case(name))
            .then(|| t.name.clone())
    })
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
    /// `spell` gives an object's name as the statement wrote it (hidden
    /// objects are reported in the user's spelling, like missing ones).
    pub(super) fn authorize(
        &self,
        sec: &Security,
        schema: &Schema,
        uses: &[ObjectUse],
        spell: &dyn Fn(&str) -> String,
    ) -> Result<()> {
        // First, everything the user named must be visible: a missing
        // object fails while planning, before any privilege is checked,
        // so a hidden one must fail here before a denial elsewhere in the
        // statement could tell the two apart.
        if !sec.roles.admin {
            for u in uses.iter().filter(|u| u.definer.is_none()) {
                if !u.object.is_empty() && !sec.auth.visible(&sec.roles, &u.object) {
                    return Err(Error::sql(
                        SqlErrorKind::UnknownTable,
                        format!("no such table: {}", spell(&u.object)),
                    ));
                }
            }
        }
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
                        format!("no such table: {}", spell(&u.object)),
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
    /// any hidden table the statement named (`names`, as written: see
    /// `Named`) is reported as missing, in the user's spelling. Such a
    /// refusal is audited like any other denied statement.
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

    /// A statement that names, to drop or reindex it, an index or trigger
    /// on a table the user may not see is answered exactly as if the
    /// object did not exist: the same error, or with IF EXISTS the same
    /// silent skip (the statement returned without those names). (Tables
    /// and views need nothing here: a missing one is refused by
    /// authorization, as nobody holds a privilege on it, exactly like a
    /// hidden one.) The refusal is audited.
    pub(super) fn hidden_as_missing(
        &self,
        stmt: &Ast,
        sec: &Security,
        schema: &Schema,
        text: &str,
        params: &[Value],
    ) -> Result<Option<Ast>> {
        if sec.roles.admin {
            return Ok(None);
        }
        let hidden = |table: &str| !sec.auth.visible(&sec.roles, &table.to_lowercase());
        let log = |e: &Error, object: &str| {
            let p = self.audit_start(sec, "denied", text, params, &[], true);
            if let Some(mut p) = p {
                p.rec.objects = vec![object.to_lowercase()];
                // The refusal stands even if the audit log fails.
                let _ = self.audit_end(Some(p), 0, Some(e));
            }
        };
        let refuse = |what: &str, name: &str, object: &str| {
            let e = Error::sql(SqlErrorKind::UnknownTable, format!("{what}{name}"));
            log(&e, object);
            e
        };
        match stmt {
            Ast::Drop {
                kind: kind @ (ObjectKind::Index | ObjectKind::Trigger),
                names,
                if_exists,
            } => {
                let mut kept = Vec::new();
                for n in names {
                    // The table an existing object of this kind hangs on.
                    let table = match kind {
                        ObjectKind::Index => index_table(schema, n),
                        _ => schema
                            .triggers
                            .get(&n.to_lowercase())
                            .map(|t| t.table.clone()),
                    };
                    let Some(table) = table else {
                        // Missing: the ordinary path reports it.
                        kept.push(n.clone());
                        if !if_exists {
                            break;
                        }
                        continue;
                    };
                    if !hidden(&table) {
                        kept.push(n.clone());
                        continue;
                    }
                    if !if_exists {
                        let what = match kind {
                            ObjectKind::Index => "no such index: ",
                            _ => "no such trigger: ",
                        };
                        return Err(refuse(what, n, &table));
                    }
                    log(
                        &denied(format!("IF EXISTS skipped {n}, which the user may not see")),
                        &table,
                    );
                }
                if kept.len() == names.len() || !*if_exists {
                    return Ok(None);
                }
                Ok(Some(Ast::Drop {
                    kind: *kind,
                    names: kept,
                    if_exists: *if_exists,
                }))
            }
            Ast::Reindex(Some(n)) => {
                let table = schema
                    .table(n)
                    .map(|t| t.name.clone())
                    .or_else(|| index_table(schema, n));
                // A missing name is refused by authorization (nobody holds
                // a privilege on it) with this message.
                match table {
                    Some(t) if hidden(&t) => Err(refuse("no such table: ", n, &t)),
                    _ => Ok(None),
                }
            }
            _ => Ok(None),
        }
    }

    /// [`Self::admit`], skipped when `memo` says this cached statement was
    /// already authorized under the same catalog.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn admit_memo(
        &self,
        memo: Option<&Memo>,
        sec: &Security,
        schema: &Schema,
        uses: &[ObjectUse],
        text: &str,
        params: &[Value],
        named: &dyn Fn() -> Named,
    ) -> Result<()> {
        if memo.is_some_and(|m| m.load(std::sync::atomic::Ordering::Acquire)) {
            return Ok(());
        }
        self.admit(sec, schema, uses, text, params, named)?;
        if let Some(m) = memo {
            m.store(true, std::sync::atomic::Ordering::Release);
        }
        Ok(())
    }

    /// Authorizes `uses`; a denial is audited and returned. `named` lists
    /// what the statement names (computed only for a refusal).
    pub(super) fn admit(
        &self,
        sec: &Security,
        schema: &Schema,
        uses: &[ObjectUse],
        text: &str,
        params: &[Value],
        named: &dyn Fn() -> Named,
    ) -> Result<()> {
        let spell = |object: &str| named().spelling(object);
        if let Err(e) = self.authorize(sec, schema, uses, &spell) {
            let p = self.audit_start(sec, "denied", text, params, uses, true);
            self.audit_end(p, 0, Some(&e))?;
            return Err(e);
        }
        Ok(())
    }
}
