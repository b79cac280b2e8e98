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
use crate::syntax::ast::{AlterOp, ObjectKind, Statement as Ast};
use crate::types::Value;

use super::*;

pub(super) fn denied(msg: String) -> Error {
    Error::PermissionDenied { message: msg }
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

/// How many tables, views and triggers a schema has.
fn object_count(s: &Schema) -> usize {
    s.tables.len() + s.views.len() + s.triggers.len()
}

/// What a schema change does to the security catalog: objects it created
/// belong to `owner` (tables, views, and triggers, which run with their
/// owner's rights); whatever hung on objects or columns it removed is
/// forgotten. Renames need nothing: the catalog is keyed by ids.
///
/// `change` is what the statement names ([`DdlChange`]). For one that can
/// only add objects (CREATE TABLE, INDEX, VIEW, TRIGGER), the ids of the
/// objects it names in the new schema: object ids are never reused and
/// every new one is at least `old.next_id`, so when the object count grew
/// by exactly the new ones among them, nothing else was added or removed
/// and nothing needs forgetting: the cost is then a few lookups, no pass
/// over the objects and no pruning of the whole catalog (DDL cost must not
/// grow with the number of objects). A DROP gives the objects it removed,
/// an ALTER TABLE its table and the columns it dropped, checked the same
/// way by counts and ids. Otherwise every object is compared.
pub(super) fn ownership(
    auth: &AuthState,
    old: &Schema,
    new: Option<&Schema>,
    owner: RoleId,
    change: DdlChange,
) -> Option<AuthState> {
    let new = new?;
    let Some(named) = by_named_objects(auth, old, new, owner, change) else {
        return by_comparison(auth, old, new, owner);
    };
    // Every DDL statement of the test suites checks the shortcut against
    // the full comparison.
    #[cfg(debug_assertions)]
    {
        let full = by_comparison(auth, old, new, owner);
        let (a, b) = (
            named.as_ref().unwrap_or(auth),
            full.as_ref().unwrap_or(auth),
        );
        debug_assert!(
            a.owners == b.owners && crate::auth::codec::encode(a) == crate::auth::codec::encode(b),
            "the security catalog after a DDL statement differs from the full comparison's"
        );
    }
    named
}

/// What a DDL statement changed, found from what it names (see
/// [`ownership`]).
#[derive(Default)]
pub(super) struct DdlChange {
    /// CREATE: [`added_by`].
    pub added: Option<Vec<u32>>,
    /// DROP: [`removed_by`].
    pub removed: Option<Vec<u32>>,
    /// ALTER TABLE: [`altered_by`].
    pub altered: Option<(u32, Vec<u32>)>,
}

impl DdlChange {
    /// What `stmt` names of the change from `old` to `new`.
    pub(super) fn of(stmt: &Ast, old: &Schema, new: &Schema) -> DdlChange {
        DdlChange {
            added: added_by(stmt, new),
            removed: removed_by(stmt, old, new),
            altered: altered_by(stmt, old, new),
        }
    }
}

/// [`ownership`] from the objects the statement names; `None` when they
/// do not account for the whole change.
fn by_named_objects(
    auth: &AuthState,
    old: &Schema,
    new: &Schema,
    owner: RoleId,
    change: DdlChange,
) -> Option<Option<AuthState>> {
    let DdlChange {
        added,
        removed,
        altered,
    } = change;
    if let Some((table, columns)) = altered {
        // No object added or removed: the table's dropped columns are all
        // that changed (renames need nothing, ids stay).
        if new.next_id == old.next_id && object_count(new) == object_count(old) {
            if columns.is_empty() {
                return Some(None);
            }
            let mut a = auth.clone();
            return Some(a.forget_columns(u64::from(table), &columns).then_some(a));
        }
    }
    if let Some(mut created) = added {
        created.retain(|id| *id >= old.next_id);
        created.sort_unstable();
        created.dedup();
        if object_count(old) + created.len() == object_count(new) {
            if created.is_empty() {
                return Some(None);
            }
            let mut a = auth.clone();
            for id in created {
                a.set_owner(u64::from(id), owner);
            }
            return Some(Some(a));
        }
    }
    if let Some(gone) = removed {
        // Nothing added (no id was handed out, and ids are never reused,
        // so every object of `new` was in `old`) and exactly `gone`
        // missing: `new` is `old` without them.
        if new.next_id == old.next_id && object_count(new) + gone.len() == object_count(old) {
            let mut a = auth.clone();
            let ids: Vec<u64> = gone.iter().map(|id| u64::from(*id)).collect();
            return Some(a.forget_objects(&ids).then_some(a));
        }
    }
    None
}

/// [`ownership`] by comparing every object of the two schemas.
fn by_comparison(auth: &AuthState, old: &Schema, new: &Schema, owner: RoleId) -> Option<AuthState> {
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

/// The ids, in `new`, of the objects a statement that only adds objects
/// names (for [`ownership`]); `None` for any other statement. CREATE TABLE
/// may also add `sqlite_sequence` (its first AUTOINCREMENT table).
pub(super) fn added_by(stmt: &Ast, new: &Schema) -> Option<Vec<u32>> {
    let ids = match stmt {
        Ast::CreateTable(ct) => [
            new.table(&ct.name),
            new.table(crate::catalog::SEQUENCE_TABLE),
        ]
        .into_iter()
        .flatten()
        .map(|t| t.id)
        .collect(),
        Ast::CreateIndex(_) => Vec::new(),
        Ast::CreateView { name, .. } => new.view(name).map(|v| v.id).into_iter().collect(),
        Ast::CreateTrigger(t) => new
            .triggers
            .get(&t.name.to_lowercase())
            .map(|t| t.id)
            .into_iter()
            .collect(),
        _ => return None,
    };
    Some(ids)
}

/// For an ALTER TABLE, the table's id and the ids of its columns that are
/// gone from `new` (for [`ownership`]); `None` for any other statement or
/// when the table is not found in both schemas under its id.
pub(super) fn altered_by(stmt: &Ast, old: &Schema, new: &Schema) -> Option<(u32, Vec<u32>)> {
    let Ast::AlterTable { table, op } = stmt else {
        return None;
    };
    let before = old.table(table)?;
    let after_name = match op {
        AlterOp::RenameTable(to) => to.as_str(),
        _ => table.as_str(),
    };
    let after = new.table(after_name).filter(|t| t.id == before.id)?;
    let gone = before
        .columns
        .iter()
        .filter(|c| after.column_by_id(c.id).is_none())
        .map(|c| c.id)
        .collect();
    Some((before.id, gone))
}

/// For a DROP, the ids of the objects it names (with the triggers on a
/// named table or view) that were in `old` and are gone from `new` (for
/// [`ownership`]); `None` for any other statement.
pub(super) fn removed_by(stmt: &Ast, old: &Schema, new: &Schema) -> Option<Vec<u32>> {
    let Ast::Drop { kind, names, .. } = stmt else {
        return None;
    };
    let trigger = |s: &Schema, name: &str| s.triggers.get(&name.to_lowercase()).map(|t| t.id);
    let mut ids: Vec<u32> = Vec::new();
    for name in names {
        let (object, inside) = match kind {
            ObjectKind::Table => (old.table(name).map(|t| t.id), new.table(name).map(|t| t.id)),
            ObjectKind::View => (old.view(name).map(|v| v.id), new.view(name).map(|v| v.id)),
            ObjectKind::Trigger => (trigger(old, name), trigger(new, name)),
            ObjectKind::Index => (None, None),
        };
        ids.extend(object.filter(|id| inside != Some(*id)));
        if matches!(kind, ObjectKind::Table | ObjectKind::View) {
            ids.extend(
                old.triggers_on(name)
                    .iter()
                    .filter(|t| trigger(new, &t.name) != Some(t.id))
                    .map(|t| t.id),
            );
        }
    }
    ids.sort_unstable();
    ids.dedup();
    Some(ids)
}

impl Session {
    /// Who this session's statements run as, under the current security
    /// catalog. The session is bound to its user's id: if that user was
    /// dropped (even if a new user now has the name), it ends.
    pub(super) fn security(&self) -> Result<Arc<Security>> {
        if let Some(s) = self.sec.borrow().as_ref() {
            if self.auth_is(&s.auth) {
                return Ok(s.clone());
            }
        }
        let auth = self.auth();
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
    /// before execution: everything the user named must be visible, then
    /// every use allowed (see `sql::access::check_spelled`). `spell` gives
    /// an object's name as the statement wrote it (hidden objects are
    /// reported in the user's spelling, like missing ones).
    pub(super) fn authorize(
        &self,
        sec: &Security,
        schema: &Schema,
        uses: &[ObjectUse],
        spell: &dyn Fn(&str) -> String,
    ) -> Result<()> {
        crate::sql::access::check_spelled(sec, schema, uses, spell)
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

    /// A statement that names, to drop or reindex it, an index or trigger
    /// on a table the user may not see is answered exactly as if the
    /// object did not exist: the same error, or with IF EXISTS the same
    /// silent skip (the statement returned without those names). Tables
    /// and views without IF EXISTS need nothing here: a missing one is
    /// refused by authorization, as nobody holds a privilege on it,
    /// exactly like a hidden one. The refusal is audited.
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
        let hidden = |table: &str| {
            schema
                .object_id(table)
                .is_some_and(|id| !sec.auth.visible(&sec.roles, u64::from(id)))
        };
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
            // IF EXISTS skips a table or view that is missing, as SQLite
            // and PostgreSQL do, and so one the user may not see too.
            // (Without it both are refused by authorization, as nobody
            // holds a privilege on a missing one.)
            Ast::Drop {
                kind: kind @ (ObjectKind::Table | ObjectKind::View),
                names,
                if_exists: true,
            } => {
                let mut kept = Vec::new();
                for n in names {
                    if schema.object_id(n).is_none() {
                        continue;
                    }
                    if hidden(n) {
                        log(
                            &denied(format!("IF EXISTS skipped {n}, which the user may not see")),
                            n,
                        );
                        continue;
                    }
                    kept.push(n.clone());
                }
                if kept.len() == names.len() {
                    return Ok(None);
                }
                Ok(Some(Ast::Drop {
                    kind: *kind,
                    names: kept,
                    if_exists: true,
                }))
            }
            Ast::Drop {
                kind: kind @ (ObjectKind::Index | ObjectKind::Trigger),
                names,
                if_exists,
            } => {
                let mut kept = Vec::new();
                for n in names {
                    // The table an existing object of this kind hangs on.
                    let table = match kind {
                        ObjectKind::Index => crate::sql::access::index_table(schema, n),
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
            Ast::Reindex(Some(n)) | Ast::Analyze(Some(n)) => {
                let table = schema
                    .table(n)
                    .map(|t| t.name.clone())
                    .or_else(|| crate::sql::access::index_table(schema, n));
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
