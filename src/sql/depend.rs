//! What stored definitions refer to, so schema changes cannot change what
//! they mean: views, trigger bodies and row policies name tables and
//! columns, and a rename or drop could otherwise move a name onto
//! something else — a definer view or a trigger (both run with their
//! owner's rights) or a policy would then read what its author never
//! chose. A rename rewrites the views and triggers that name what it
//! renames, as SQLite does (`sql::rename`, which proves each rewrite
//! keeps the definition's meaning); a drop of a table or column that a
//! view, trigger or policy refers to, and a rename a policy's text would
//! have to follow, are refused with the dependents named (drop or
//! recreate them first), the rule SQLite applies to DROP COLUMN.
//!
//! Dropping a table or view that another table's trigger or policy names
//! is refused too (PostgreSQL's rule without CASCADE; SQLite would let the
//! dependent dangle, and a new object of that name would then be picked
//! up by it — with its owner's rights). Views may dangle, as in SQLite,
//! because they are bound to ids when created (`catalog::View::binds`).
//! Policies are bound by id (`auth::state::PolicyRef`), so they are found
//! exactly; views and triggers are planned to see what they name. A view
//! or trigger that no longer plans (it names something missing) is
//! skipped: it is already broken.
//!
//! Column names `current_user` and `session_user` are reserved: those
//! words always mean the functions (as in PostgreSQL), so a column named
//! so could never be read by that name and could confuse readers of a
//! policy.

use crate::auth::AuthState;
use crate::catalog::Schema;
use crate::error::{Error, Result, SqlErrorKind};
use crate::sql::access::trigger_uses;
use crate::sql::plan::{Definer, ObjectUse, Planner};
use crate::syntax::ast::TriggerEvent;

/// Refuses a column name that is reserved (see the module docs).
pub fn check_column_name(name: &str) -> Result<()> {
    if name.eq_ignore_ascii_case("current_user") || name.eq_ignore_ascii_case("session_user") {
        return Err(Error::sql(
            SqlErrorKind::Misuse,
            format!("{name} is reserved and cannot name a column"),
        ));
    }
    Ok(())
}

/// What refers to table or view `object` (to its column `column` when
/// given): "view v", "trigger t", "policy p on t". With `only_others`
/// and no column, triggers on `object` and policies of `object` itself
/// are left out (they are bound to the table, not to its name).
pub fn referrers(
    schema: &Schema,
    auth: Option<&AuthState>,
    object: &str,
    column: Option<&str>,
    only_others: bool,
) -> Vec<String> {
    let object = object.to_lowercase();
    let column = column.map(|c| c.to_lowercase());
    let names = |uses: &[ObjectUse], direct: &Option<Definer>| {
        uses.iter().any(|u| {
            u.definer == *direct
                && u.object == object
                && column.as_ref().is_none_or(|c| u.columns.contains(c))
        })
    };
    let mut out = Vec::new();
    let mut views: Vec<_> = schema.views.values().collect();
    views.sort_by_key(|v| v.name.to_lowercase());
    for v in views {
        if v.name.eq_ignore_ascii_case(&object) {
            continue;
        }
        let mut p = Planner::new(schema);
        if p.query(&v.query).is_ok() && names(&p.take_uses(), &None) {
            out.push(format!("view {}", v.name));
        }
    }
    let mut triggers: Vec<_> = schema.triggers.values().collect();
    triggers.sort_by_key(|t| t.name.to_lowercase());
    for trig in triggers {
        let on_object = trig.table.eq_ignore_ascii_case(&object);
        if on_object && only_others && column.is_none() {
            continue;
        }
        // On a table, or (INSTEAD OF) on a view, as its triggers see it.
        let table = match (schema.table(&trig.table), schema.view(&trig.table)) {
            (Some(t), _) => t.clone(),
            (None, Some(v)) => match crate::sql::run::view_row_table(schema, v) {
                Ok(t) => t,
                Err(_) => continue,
            },
            (None, None) => continue,
        };
        let direct = Some(Definer::Trigger(trig.name.to_lowercase()));
        if let Ok(uses) = trigger_uses(schema, &table, trig, &None) {
            let of_columns: &[String] = match &trig.event {
                TriggerEvent::Update(cols) => cols,
                _ => &[],
            };
            let fires_on = of_columns
                .iter()
                .any(|c| on_object && column.as_ref().is_some_and(|x| c.eq_ignore_ascii_case(x)));
            if fires_on || names(&uses, &direct) {
                out.push(format!("trigger {}", trig.name));
            }
        }
    }
    if let (Some(auth), Some(id)) = (auth, schema.object_id(&object)) {
        let id = u64::from(id);
        let col_id = column.as_ref().and_then(|c| {
            let t = schema.table(&object)?;
            t.column(c).map(|i| t.columns[i].id)
        });
        for p in auth.policies.values() {
            if only_others && column.is_none() && p.table == id {
                continue;
            }
            let hit = p.refs.iter().any(|r| {
                r.object == id
                    && match (&column, col_id) {
                        (None, _) => true,
                        (Some(_), Some(c)) => r.columns.iter().any(|(i, _)| *i == c),
                        (Some(_), None) => false,
                    }
            });
            if hit {
                let table = schema
                    .tables
                    .values()
                    .find(|t| u64::from(t.id) == p.table)
                    .map(|t| t.name.clone())
                    .unwrap_or_default();
                out.push(format!("policy {} on {table}", p.name));
            }
        }
    }
    out
}

/// Refuses `what` (e.g. "rename column a of t") when `referrers` is not
/// empty.
pub fn refuse_if_referred(what: &str, referrers: Vec<String>) -> Result<()> {
    if referrers.is_empty() {
        return Ok(());
    }
    Err(Error::sql(
        SqlErrorKind::Misuse,
        format!(
            "cannot {what}: {} refer{} to it (drop or recreate {} first)",
            referrers.join(", "),
            if referrers.len() == 1 { "s" } else { "" },
            if referrers.len() == 1 { "it" } else { "them" }
        ),
    ))
}
