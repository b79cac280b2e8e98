//! Who may create a FOREIGN KEY: what referencing a parent table needs
//! (see docs/security.md, "Foreign keys").

use super::*;

/// Whether the user creating a FOREIGN KEY may reference its parent: a
/// constraint reads the parent key whenever a child row changes and lets
/// its owner learn which keys exist, so it needs what reading those
/// columns needs — SELECT on them (sealdb has no separate REFERENCES
/// privilege; SELECT stands for it). A parent the user may not see is
/// treated as the missing table it looks like: accepted, as SQLite
/// accepts a missing parent, and never resolved for this owner (see
/// [`parent_table`]).
pub(in crate::sql::run) fn may_reference(
    cx: &ExecCtx,
    schema: &Schema,
    fk: &ForeignKeySpec,
) -> Result<()> {
    let (Some(sec), Some(parent)) = (&cx.sec, schema.table(&fk.parent)) else {
        return Ok(());
    };
    if !sec.auth.visible(&sec.roles, u64::from(parent.id)) {
        return Ok(());
    }
    if !may_read_key(&sec.auth, &sec.roles, parent, fk) {
        return Err(Error::PermissionDenied {
            message: format!(
                "permission denied: a FOREIGN KEY referencing table {} needs SELECT on its key columns",
                parent.name
            ),
        });
    }
    // ON UPDATE CASCADE copies a parent row's new key into the child
    // table: under row-level security that would show the user the new
    // key of rows hidden from her, more than the constraint's error ever
    // tells.
    if fk.on_update == FkAction::Cascade && sec.auth.rls_applies(&sec.roles, u64::from(parent.id)) {
        return Err(Error::PermissionDenied {
            message: format!(
                "permission denied: ON UPDATE CASCADE onto table {}, whose row-level security applies to you, would copy keys of rows you may not see",
                parent.name
            ),
        });
    }
    Ok(())
}

/// Whether `roles` may read the parent key of `fk` in `parent`: SELECT on
/// the table or on every key column. Asked when a constraint is created,
/// and of its owner whenever it is enforced (a constraint whose owner
/// may no longer read the key, or never could, treats the parent as
/// missing: see `key::parent_table`).
pub(super) fn may_read_key(
    auth: &crate::auth::AuthState,
    roles: &crate::auth::Roles,
    parent: &Table,
    fk: &ForeignKeySpec,
) -> bool {
    let select = crate::auth::Privilege::Select;
    if auth.allowed(roles, u64::from(parent.id), select, None) {
        return true;
    }
    let key: Vec<usize> = if fk.parent_columns.is_empty() {
        match parent.rowid_alias {
            Some(a) => vec![a],
            None => parent.primary_key.clone(),
        }
    } else {
        fk.parent_columns
            .iter()
            .filter_map(|c| parent.column(c))
            .collect()
    };
    !key.is_empty()
        && (fk.parent_columns.is_empty() || key.len() == fk.parent_columns.len())
        && key.iter().all(|&c| {
            auth.allowed(
                roles,
                u64::from(parent.id),
                select,
                Some(parent.columns[c].id),
            )
        })
}
