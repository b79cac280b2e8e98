//! Schema changes: CREATE TABLE / INDEX / VIEW, REINDEX, DROP, ALTER
//! TABLE, and the integrity check.

use super::*;
use crate::sql::rename::{self, Rename};

/// CREATE TABLE (and CREATE TABLE ... AS SELECT).
pub fn create_table(cx: &mut ExecCtx, schema: &Schema, ct: &CreateTable) -> Result<Option<Schema>> {
    if ct.if_not_exists && (schema.table(&ct.name).is_some() || schema.view(&ct.name).is_some()) {
        return Ok(None);
    }
    reserved(&ct.name)?;
    for c in &ct.columns {
        check_column_name(&c.name)?;
        // SQLite: neither RAISE nor a subquery is constant, so neither is
        // a default (an INSERT inside a trigger program would run it).
        if let Some(d) = &c.default {
            let mut variable = false;
            if let Ok(e) = crate::syntax::parse::parse_expr(d) {
                variable = crate::sql::plan::has_subquery_expr(&e);
                crate::sql::plan::walk(&e, &mut |x| variable |= matches!(x, Expr::Raise(..)));
            }
            if variable {
                return Err(Error::sql(
                    SqlErrorKind::Misuse,
                    format!("default value of column [{}] is not constant", c.name),
                ));
            }
        }
    }
    for fk in &ct.foreign_keys {
        if !fk.parent.eq_ignore_ascii_case(&ct.name) {
            foreign_key::may_reference(cx, schema, fk)?;
        }
    }
    if !ct.checks.is_empty() || ct.columns.iter().any(|c| c.generated.is_some()) {
        // Each CHECK and generated column must bind over the table's row
        // (its columns exist, nothing it may not hold) before the table
        // is made.
        let probe = Arc::new(crate::catalog::table_of_spec(ct)?);
        crate::sql::generated::check_generated(&probe)?;
        crate::sql::check::bind_checks(&probe)?;
    }
    if let Some(q) = &ct.as_query {
        let planned = planner_for(schema, cx).query(q)?;
        for c in &planned.columns {
            check_column_name(c)?;
        }
        let spec = CreateTable {
            // As SQLite: each column's declared type names the affinity
            // of its expression.
            columns: planned
                .columns
                .iter()
                .zip(&planned.types)
                .map(|(n, t)| crate::syntax::ast::ColumnSpec {
                    name: n.clone(),
                    decl_type: match t.aff {
                        Some(Affinity::Text) => "TEXT",
                        Some(Affinity::Numeric) => "NUM",
                        Some(Affinity::Integer) => "INT",
                        Some(Affinity::Real) => "REAL",
                        Some(Affinity::Blob) | None => "",
                    }
                    .to_string(),
                    ..Default::default()
                })
                .collect(),
            as_query: None,
            ..ct.clone()
        };
        let next = schema.create_table(&spec, &mut TxnWriter(cx.txn))?;
        let t = table(&next, &ct.name)?.clone();
        let mut it = open(&planned.plan, cx, &[])?;
        let mut rowid = 0;
        let mut rows = Vec::new();
        while let Some(r) = it.next(cx)? {
            rows.push(r);
        }
        drop(it);
        for r in rows {
            rowid += 1;
            let mut r: Row = r
                .into_iter()
                .zip(&t.columns)
                .map(|(v, c)| apply_affinity(v, c.affinity))
                .collect();
            r.push(Value::Integer(rowid));
            crate::sql::exec::write_row(cx.txn, &t, rowid, &r, &[]);
        }
        return Ok(Some(next));
    }
    Ok(Some(schema.create_table(ct, &mut TxnWriter(cx.txn))?))
}

/// CREATE INDEX: adds it and fills it from the table.
pub fn create_index(cx: &mut ExecCtx, schema: &Schema, ci: &CreateIndex) -> Result<Option<Schema>> {
    reserved(&ci.name)?;
    if let Some(f) = &ci.filter {
        if crate::sql::plan::has_subquery_text(f)? {
            return Err(Error::sql(
                SqlErrorKind::Misuse,
                "subqueries prohibited in partial index WHERE clauses",
            ));
        }
    }
    let lower = ci.name.to_lowercase();
    if ci.if_not_exists
        && schema
            .tables
            .values()
            .any(|t| t.indexes.iter().any(|i| i.name.to_lowercase() == lower))
    {
        return Ok(None);
    }
    let (next, t, idx) = schema.create_index(ci, &mut TxnWriter(cx.txn))?;
    crate::sql::index_expr::check_index_exprs(&t, &idx)?;
    fill_index(cx, &t, &idx)?;
    Ok(Some(next))
}

/// SQLite's error for a user object named like the ones it makes.
pub(super) fn reserved(name: &str) -> Result<()> {
    if crate::catalog::is_reserved_name(name) {
        return Err(Error::sql(
            SqlErrorKind::Misuse,
            format!("object name reserved for internal use: {name}"),
        ));
    }
    Ok(())
}

/// The entries index `idx` of `t` holds, computed from the table's rows
/// (a partial index's only for the rows its WHERE selects): each one's key
/// values and rowid, in rowid order.
pub(super) fn index_entries(
    cx: &mut ExecCtx,
    t: &Arc<Table>,
    idx: &crate::catalog::Index,
) -> Result<Vec<(Vec<Value>, i64)>> {
    let mut entries = Vec::new();
    each_index_entry(cx, t, idx, |vals, rowid| {
        entries.push((vals, rowid));
        Ok(())
    })?;
    Ok(entries)
}

/// Calls `f` with the key values and rowid of every entry index `idx` of
/// `t` holds, in rowid order, as the table scan reads each row (a row is
/// dropped once its entry is made: the table is never held in memory).
fn each_index_entry(
    cx: &mut ExecCtx,
    t: &Arc<Table>,
    idx: &crate::catalog::Index,
    mut f: impl FnMut(Vec<Value>, i64) -> Result<()>,
) -> Result<()> {
    let plan = Planner::full_scan(t);
    let writer = TableWriter::new(t)?;
    let pos = t.indexes.iter().position(|i| i.id == idx.id).unwrap_or(0);
    let mut it = open(&plan, cx, &[])?;
    // Every row is read into the same buffers (nothing keeps a row).
    let mut r = Vec::new();
    while it.next_into(cx, &mut r)? {
        let Some(Value::Integer(rowid)) = r.last() else {
            continue;
        };
        let rowid = *rowid;
        if writer.holds(cx, pos, &r)? {
            f(writer.key_values(cx, pos, &r)?, rowid)?;
        }
    }
    Ok(())
}

/// Writes the entries of index `idx` of `t` (which lists it) for the
/// table's rows (a partial index: the rows its WHERE selects), checking
/// uniqueness.
pub(super) fn fill_index(
    cx: &mut ExecCtx,
    t: &Arc<Table>,
    idx: &crate::catalog::Index,
) -> Result<()> {
    let mut seen: std::collections::HashSet<Vec<u8>> = Default::default();
    // A duplicate fails the build only after the whole scan: as in SQLite,
    // an error evaluating a later row's key or WHERE comes first.
    let mut duplicate = false;
    // Sorted by their heads (`txn::SortedKeys`): one integer compare
    // decides most pairs, and their order is checked mostly on the heads.
    let lower = index_prefix(t.id, idx.id);
    let mut keys = crate::txn::SortedKeysBuilder::new(&lower);
    let mut foreign = false;
    each_index_entry(cx, t, idx, |vals, rowid| {
        if idx.unique && !duplicate && !vals.iter().any(|v| matches!(v, Value::Null)) {
            let k = crate::sql::exec::distinct_key(&vals, &idx.collations);
            duplicate = !seen.insert(k);
        }
        let key = crate::catalog::index_key(t.id, idx, &vals, rowid);
        foreign |= !keys.push(key);
        Ok(())
    })?;
    if foreign {
        // index_key starts every key with index_prefix: never reached.
        return Err(Error::sql(
            SqlErrorKind::Misuse,
            "an index key was made outside its index's key range",
        ));
    }
    if duplicate {
        return Err(Error::sql(
            SqlErrorKind::Unique,
            format!(
                "UNIQUE constraint failed: {}",
                crate::sql::write::index_constraint_name(t, idx)
            ),
        ));
    }
    // In key order, the write set's tree is filled at its right edge;
    // a new index's keys are new to the write set (one undo entry).
    let upper = crate::sql::exec::prefix_end(&lower);
    cx.txn.put_fresh_sorted(&lower, &upper, keys.finish());
    Ok(())
}

/// REINDEX: rebuilds every index, or those of one table, or one index, or
/// those using one collation; SQLite's error when the name is none of
/// these.
pub fn reindex(cx: &mut ExecCtx, schema: &Schema, name: Option<&str>) -> Result<()> {
    let is_table = name.is_some_and(|n| schema.table(n).is_some());
    let is_index = name.is_some_and(|n| schema.tables.index_table(n).is_some());
    let collation = name.and_then(crate::types::Collation::from_name);
    if name.is_some() && !is_table && !is_index && collation.is_none() {
        return Err(Error::sql(
            SqlErrorKind::UnknownTable,
            "unable to identify the object to be reindexed",
        ));
    }
    for t in schema.tables.values() {
        for idx in &t.indexes {
            if let Some(n) = name {
                let chosen = if is_table {
                    t.name.eq_ignore_ascii_case(n)
                } else if is_index {
                    idx.name.eq_ignore_ascii_case(n)
                } else {
                    idx.collations.iter().any(|c| Some(*c) == collation)
                };
                if !chosen {
                    continue;
                }
            }
            delete_prefix(cx.txn, &index_prefix(t.id, idx.id))?;
            fill_index(cx, t, idx)?;
        }
    }
    Ok(())
}

/// CREATE VIEW.
pub fn create_view(
    cx: &mut ExecCtx,
    schema: &Schema,
    name: &str,
    columns: &[String],
    query: &Query,
    sql: &str,
    if_not_exists: bool,
) -> Result<Option<Schema>> {
    if if_not_exists && (schema.view(name).is_some() || schema.table(name).is_some()) {
        return Ok(None);
    }
    // Plan it once now so errors show at CREATE time.
    let planned = planner_for(schema, cx).query(query)?;
    if !columns.is_empty() && columns.len() != planned.columns.len() {
        return Err(Error::sql(
            SqlErrorKind::Misuse,
            format!(
                "expected {} columns for '{name}' but got {}",
                columns.len(),
                planned.columns.len()
            ),
        ));
    }
    // What the query names, by id (see `View::binds`).
    let mut binder = Planner::new(schema);
    binder.query(query)?;
    let mut binds: Vec<(String, u32)> = Vec::new();
    for u in binder
        .take_uses()
        .into_iter()
        .filter(|u| u.definer.is_none())
    {
        if let Some(id) = schema.object_id(&u.object) {
            if !binds.iter().any(|(n, _)| *n == u.object) {
                binds.push((u.object, id));
            }
        }
    }
    let view = View {
        id: 0,
        name: name.to_string(),
        columns: columns.to_vec(),
        query: query.clone(),
        sql: sql.to_string(),
        binds: Some(binds),
    };
    Ok(Some(schema.create_view(view, &mut TxnWriter(cx.txn))?))
}

/// DROP TABLE / INDEX / VIEW.
pub fn drop_objects(
    cx: &mut ExecCtx,
    schema: &Schema,
    kind: ObjectKind,
    names: &[String],
    if_exists: bool,
) -> Result<Option<Schema>> {
    let mut s = schema.clone();
    let mut changed = false;
    for name in names {
        match kind {
            ObjectKind::Table => {
                if s.table(name).is_none() {
                    if if_exists {
                        continue;
                    }
                    return Err(Error::sql(
                        SqlErrorKind::UnknownTable,
                        format!("no such table: {name}"),
                    ));
                }
                let auth = cx.sec.as_ref().map(|x| &*x.auth);
                refuse_if_referred(
                    &format!("drop table {name}"),
                    not_views(referrers(&s, auth, name, None, true)),
                )?;
                if let Some(t) = s.table(name).cloned() {
                    foreign_key::before_drop(cx, &s, &t)?;
                }
                let (next, t) = s.drop_table(name, &mut TxnWriter(cx.txn))?;
                delete_prefix(cx.txn, &table_prefix(t.id))?;
                forget_sequence(cx, &next, &t.name, None)?;
                s = next;
            }
            ObjectKind::Index => {
                let exists = s
                    .tables
                    .values()
                    .any(|t| t.indexes.iter().any(|i| i.name.eq_ignore_ascii_case(name)));
                if !exists {
                    if if_exists {
                        continue;
                    }
                    return Err(Error::sql(
                        SqlErrorKind::UnknownTable,
                        format!("no such index: {name}"),
                    ));
                }
                let (next, t, idx) = s.drop_index(name, &mut TxnWriter(cx.txn))?;
                delete_prefix(cx.txn, &index_prefix(t.id, idx.id))?;
                s = next;
            }
            ObjectKind::View => {
                if s.view(name).is_none() {
                    if if_exists {
                        continue;
                    }
                    return Err(Error::sql(
                        SqlErrorKind::UnknownTable,
                        format!("no such view: {name}"),
                    ));
                }
                let auth = cx.sec.as_ref().map(|x| &*x.auth);
                refuse_if_referred(
                    &format!("drop view {name}"),
                    not_views(referrers(&s, auth, name, None, true)),
                )?;
                s = s.drop_view(name, &mut TxnWriter(cx.txn))?;
            }
            ObjectKind::Trigger => {
                let seen = match s.triggers.get(&name.to_lowercase()) {
                    Some(trig) => may_drop_trigger(cx, &s, trig)?,
                    None => false,
                };
                if !seen {
                    if if_exists {
                        continue;
                    }
                    return Err(Error::sql(
                        SqlErrorKind::UnknownTable,
                        format!("no such trigger: {name}"),
                    ));
                }
                s = s.drop_trigger(name, &mut TxnWriter(cx.txn))?;
            }
        }
        changed = true;
    }
    Ok(changed.then_some(s))
}

/// The referrers that are not views: a view may outlive what it names (as
/// in SQLite), because it is bound to the ids it named when created and
/// fails rather than pick up a new object of the same name.
pub(super) fn not_views(referrers: Vec<String>) -> Vec<String> {
    referrers
        .into_iter()
        .filter(|r| !r.starts_with("view "))
        .collect()
}

/// Whether the user may drop trigger `trig`: its owner, its table's owner
/// or an admin may (`Ok(true)`); one who may see the table gets a refusal;
/// to anyone else it does not exist (`Ok(false)`).
pub(super) fn may_drop_trigger(cx: &ExecCtx, schema: &Schema, trig: &Trigger) -> Result<bool> {
    let Some(sec) = &cx.sec else {
        return Ok(true);
    };
    let r = &sec.roles;
    let table = schema.object_id(&trig.table).map(u64::from);
    if r.admin || sec.auth.owns(r, u64::from(trig.id)) || table.is_some_and(|t| sec.auth.owns(r, t))
    {
        return Ok(true);
    }
    if table.is_some_and(|t| sec.auth.visible(r, t)) {
        return Err(Error::PermissionDenied {
            message: format!(
                "only the owner of trigger {}, the owner of {} or an admin may drop it",
                trig.name, trig.table
            ),
        });
    }
    Ok(false)
}

/// Used by tests and EXPLAIN: evaluates a constant expression.
pub fn eval_const(cx: &mut ExecCtx, e: &Expr) -> Result<Value> {
    let empty = Schema::default();
    let mut p = Planner::new(&empty);
    let t = Arc::new(Table {
        id: 0,
        name: String::new(),
        columns: Vec::new(),
        rowid_alias: None,
        primary_key: Vec::new(),
        indexes: Vec::new(),
        without_rowid: false,
        strict: false,
        autoincrement: false,
        next_column_id: 1,
        checks: Vec::new(),
        foreign_keys: Vec::new(),
        stats: None,
    });
    let b = p.table_exprs(&t, std::slice::from_ref(e))?;
    match b.first() {
        Some(x) => eval(x, &[], cx),
        None => Ok(Value::Null),
    }
}

/// ALTER TABLE.
pub fn alter_table(cx: &mut ExecCtx, schema: &Schema, name: &str, op: &AlterOp) -> Result<Schema> {
    let old = table(schema, name)?.clone();
    // Nothing that refers to the table or a column by name may come to
    // mean something else (see `depend`).
    let auth = cx.sec.as_ref().map(|x| x.auth.clone());
    let refs = |column: Option<&str>| referrers(schema, auth.as_deref(), name, column, true);
    match op {
        AlterOp::AddColumn(spec) => check_column_name(&spec.name)?,
        AlterOp::DropColumn(col) => refuse_if_referred(
            &format!("drop column {col} of {}", old.name),
            refs(Some(col)),
        )?,
        // Views and triggers are rewritten (`sql::rename`); a row policy's
        // text is not, so a rename it would change is refused.
        AlterOp::RenameColumn(from, to) => {
            check_column_name(to)?;
            refuse_if_referred(
                &format!("rename column {from} of {}", old.name),
                policies_only(refs(Some(from))),
            )?
        }
        AlterOp::RenameTable(_) => refuse_if_referred(
            &format!("rename table {}", old.name),
            policies_only(refs(None)),
        )?,
    }
    let mut new = (*old).clone();
    let misuse = |m: String| Error::sql(SqlErrorKind::Misuse, m);
    let rows = |cx: &mut ExecCtx| -> Result<Vec<Row>> {
        let plan = Planner::full_scan(&old);
        let mut it = open(&plan, cx, &[])?;
        let mut out = Vec::new();
        while let Some(r) = it.next(cx)? {
            out.push(r);
        }
        Ok(out)
    };
    match op {
        AlterOp::AddColumn(spec) => {
            let existing = rows(cx)?;
            add_column(cx, schema, &old, &mut new, spec, existing)?
        }
        AlterOp::DropColumn(col) => {
            let pos = new.column(col).ok_or_else(|| {
                Error::sql(
                    SqlErrorKind::UnknownColumn,
                    format!("no such column: \"{col}\""),
                )
            })?;
            if new.rowid_alias == Some(pos) || new.primary_key.contains(&pos) {
                return Err(misuse(format!("cannot drop PRIMARY KEY column: \"{col}\"")));
            }
            if new.indexes.iter().any(|i| {
                i.columns.contains(&pos)
                    || crate::sql::index_expr::columns_read(&new, i).contains(&pos)
            }) {
                return Err(misuse(format!(
                    "cannot drop indexed or UNIQUE column: \"{col}\""
                )));
            }
            if new.columns.len() == 1 {
                return Err(misuse(format!(
                    "cannot drop column \"{col}\": no other columns exist"
                )));
            }
            // A column's own REFERENCES goes with it; a table FOREIGN KEY
            // naming it would be left naming nothing (SQLite).
            new.foreign_keys.retain(|f| {
                !(f.column_level && f.columns.iter().any(|c| c.eq_ignore_ascii_case(col)))
            });
            if new
                .foreign_keys
                .iter()
                .any(|f| f.columns.iter().any(|c| c.eq_ignore_ascii_case(col)))
            {
                return Err(misuse(format!(
                    "error in table {} after drop column: unknown column \"{col}\" in foreign key definition",
                    new.name
                )));
            }
            if new
                .columns
                .iter()
                .enumerate()
                .all(|(i, c)| i == pos || c.generated.is_some())
            {
                return Err(misuse(format!(
                    "error in table {} after drop column: must have at least one non-generated column",
                    new.name
                )));
            }
            new.columns.remove(pos);
            let shift = |c: &mut usize| {
                if *c > pos {
                    *c -= 1
                }
            };
            new.rowid_alias.iter_mut().for_each(shift);
            new.primary_key.iter_mut().for_each(shift);
            for i in new.indexes.iter_mut() {
                i.columns.iter_mut().for_each(shift);
            }
            // A partial index's WHERE naming the column fails to bind.
            let writer = TableWriter::new(&Arc::new(new.clone()))?;
            for mut r in rows(cx)? {
                r.remove(pos);
                if let Some(Value::Integer(id)) = r.last().cloned() {
                    writer.write(cx, id, &r)?;
                }
            }
        }
        AlterOp::RenameColumn(from, to) => {
            let pos = new.column(from).ok_or_else(|| {
                Error::sql(
                    SqlErrorKind::UnknownColumn,
                    format!("no such column: \"{from}\""),
                )
            })?;
            // SQLite 3.54 (isRowidAlias): rowid names are the rowid's.
            let rowid_name = |n: &str| {
                ["rowid", "oid", "_rowid_"]
                    .iter()
                    .any(|r| n.eq_ignore_ascii_case(r))
            };
            for (name, dir) in [(from, "from"), (to, "to")] {
                if !old.without_rowid && rowid_name(name) {
                    return Err(misuse(format!("cannot rename {dir} rowid alias: {name}")));
                }
            }
            if new.column(to).is_some_and(|other| other != pos) {
                return Err(Error::sql(
                    SqlErrorKind::AlreadyExists,
                    format!("duplicate column name: {to}"),
                ));
            }
            let from_name = new.columns[pos].name.clone();
            new.columns[pos].name = to.clone();
            rename::rewrite_table_exprs(
                &old,
                &mut new,
                Rename::Column {
                    table: &old.name,
                    old: from,
                    new: to,
                },
            )?;
            rename_in_foreign_keys(&mut new, &from_name, to);
            if TableWriter::new(&Arc::new(new.clone())).is_err() {
                return Err(Error::sql(
                    SqlErrorKind::Unsupported,
                    format!(
                        "renaming a column a partial index, a CHECK constraint or a generated column uses ({from}) is not supported"
                    ),
                ));
            }
        }
        AlterOp::RenameTable(to) => {
            if to.eq_ignore_ascii_case(&old.name) {
                return Err(misuse(format!(
                    "there is already another table or index with this name: {to}"
                )));
            }
            forget_sequence(cx, schema, &old.name, Some(to))?;
            new.name = to.clone();
            rename::rewrite_table_exprs(
                &old,
                &mut new,
                Rename::Table {
                    old: &old.name,
                    new: to,
                },
            )?;
            for fk in new.foreign_keys.iter_mut() {
                if fk.parent.eq_ignore_ascii_case(&old.name) {
                    fk.parent = to.clone();
                }
            }
        }
    }
    let mut after = schema.replace_table(&old, new, &mut TxnWriter(cx.txn))?.0;
    // The other tables' FOREIGN KEYs follow their parent's new names, as
    // SQLite rewrites them.
    let renames = matches!(op, AlterOp::RenameTable(_) | AlterOp::RenameColumn(..));
    for (child, _) in schema.foreign_keys_to(&old.name) {
        if child.id == old.id || !renames {
            continue;
        }
        let Some(current) = after.table(&child.name).cloned() else {
            continue;
        };
        let mut moved = (*current).clone();
        for fk in moved.foreign_keys.iter_mut() {
            if !fk.parent.eq_ignore_ascii_case(&old.name) {
                continue;
            }
            match op {
                AlterOp::RenameTable(to) => fk.parent = to.clone(),
                AlterOp::RenameColumn(from, to) => {
                    for c in fk.parent_columns.iter_mut() {
                        if c.eq_ignore_ascii_case(from) {
                            *c = to.clone();
                        }
                    }
                }
                _ => {}
            }
        }
        after = after
            .replace_table(&current, moved, &mut TxnWriter(cx.txn))?
            .0;
    }
    let what = match op {
        AlterOp::RenameTable(to) => Rename::Table {
            old: &old.name,
            new: to,
        },
        AlterOp::RenameColumn(from, to) => Rename::Column {
            table: &old.name,
            old: from,
            new: to,
        },
        _ => return Ok(after),
    };
    let sec = cx.sec.as_deref();
    let sees = |id: u32| {
        sec.as_ref()
            .is_none_or(|s| s.auth.visible(&s.roles, u64::from(id)))
    };
    let rewritten = rename::rewrite_dependents(schema, &after, what, &sees)?;
    for v in rewritten.views {
        after = after.replace_view(v, &mut TxnWriter(cx.txn))?;
    }
    for t in rewritten.triggers {
        after = after.replace_trigger(t, &mut TxnWriter(cx.txn))?;
    }
    Ok(after)
}

/// The policies among `referrers` (views and triggers are rewritten).
fn policies_only(referrers: Vec<String>) -> Vec<String> {
    referrers
        .into_iter()
        .filter(|r| r.starts_with("policy "))
        .collect()
}

/// ALTER TABLE ADD COLUMN, as SQLite 3.54's `sqlite3AlterFinishAddColumn`:
/// no PRIMARY KEY, UNIQUE or rowid name; on a table with rows, a NOT NULL
/// column needs a non-NULL default and a default must be a constant (a
/// literal, signed or CAST); then, if the table has a CHECK constraint,
/// every row (with the new column's default) must pass all of them
/// ("CHECK constraint failed"), and a STRICT table's rows must take the
/// default ("type mismatch on DEFAULT"). `rows`: the table's rows, each
/// ending with its rowid.
fn add_column(
    cx: &mut ExecCtx,
    schema: &Schema,
    old: &Table,
    new: &mut Table,
    spec: &crate::syntax::ast::ColumnSpec,
    rows: Vec<Row>,
) -> Result<()> {
    let misuse = |m: String| Error::sql(SqlErrorKind::Misuse, m);
    if new.column(&spec.name).is_some() {
        return Err(Error::sql(
            SqlErrorKind::AlreadyExists,
            format!("duplicate column name: {}", spec.name),
        ));
    }
    if spec.primary_key {
        return Err(misuse("Cannot add a PRIMARY KEY column".into()));
    }
    if spec.unique {
        return Err(misuse("Cannot add a UNIQUE column".into()));
    }
    let rowid_name = ["rowid", "oid", "_rowid_"]
        .iter()
        .any(|n| spec.name.eq_ignore_ascii_case(n));
    if !old.without_rowid && rowid_name {
        return Err(misuse(format!("cannot add rowid alias: {}", spec.name)));
    }
    let default = match &spec.default {
        Some(text) => Some(crate::syntax::parse::parse_expr(text)?),
        None => None,
    };
    match &spec.generated {
        Some(g) if g.stored => return Err(misuse("cannot add a STORED column".into())),
        Some(_) if spec.default.is_some() => {
            return Err(misuse("cannot use DEFAULT on a generated column".into()))
        }
        _ => {}
    }
    let null_default = matches!(default, None | Some(Expr::Literal(Value::Null)));
    if !rows.is_empty() {
        if spec.not_null && null_default && spec.generated.is_none() {
            return Err(misuse(
                "Cannot add a NOT NULL column with default value NULL".into(),
            ));
        }
        if default.as_ref().is_some_and(|d| !constant_default(d)) {
            return Err(misuse(
                "Cannot add a column with non-constant default".into(),
            ));
        }
    }
    for fk in &spec.references {
        if !fk.parent.eq_ignore_ascii_case(&new.name) {
            foreign_key::may_reference(cx, schema, fk)?;
        }
    }
    new.add_column(spec);
    // As SQLite inserts the new column after the others, before the table
    // constraints: its REFERENCES come after the columns' ones (the order
    // PRAGMA foreign_key_list numbers).
    let at = new.foreign_keys.iter().filter(|f| f.column_level).count();
    for (k, fk) in spec.references.iter().enumerate() {
        new.foreign_keys.insert(at + k, fk.clone());
    }
    new.checks.extend(spec.checks.iter().cloned());
    let new_arc = Arc::new(new.clone());
    if spec.generated.is_some() {
        crate::sql::generated::check_generated(&new_arc)?;
    }
    // Binding refuses what a CHECK may not hold (as CREATE TABLE does).
    let checks = crate::sql::check::bind_checks(&new_arc)?;
    let dflt = defaults(new, cx)?.pop().unwrap_or(Value::Null);
    let dflt = apply_affinity(dflt, new.columns[new.columns.len() - 1].affinity);
    let writer = TableWriter::new(&new_arc)?;
    for mut r in rows {
        let rowid = r.pop();
        r.push(dflt.clone());
        if new.strict && crate::sql::write::check_strict(new, &r).is_err() {
            return Err(Error::sql(
                SqlErrorKind::TypeMismatch,
                "type mismatch on DEFAULT",
            ));
        }
        r.extend(rowid);
        // A VIRTUAL column added is computed for the rows there (sealdb
        // keeps it in the row). As SQLite, NOT NULL is not tested on them
        // (its check skips virtual columns): only rows written from now on
        // must hold it.
        if spec.generated.is_some() {
            writer.compute_generated(cx, &mut r)?;
        }
        if !crate::sql::check::passes(cx, &checks, &r, Conflict::Ignore)? {
            return Err(Error::sql(SqlErrorKind::Check, "CHECK constraint failed"));
        }
        if let Some(Value::Integer(id)) = r.last().cloned() {
            writer.write(cx, id, &r)?;
        }
    }
    Ok(())
}

/// Whether a DEFAULT is a value SQLite's `sqlite3ValueFromExpr` computes
/// without running anything: a literal, possibly signed or CAST.
fn constant_default(e: &Expr) -> bool {
    match e {
        Expr::Literal(_) => true,
        Expr::Unary(crate::syntax::ast::UnOp::Neg | crate::syntax::ast::UnOp::Plus, inner)
        | Expr::Cast(inner, _) => constant_default(inner),
        _ => false,
    }
}

/// Column `from` of `t` is now `to`: its FOREIGN KEYs name it so, as
/// child column and, referencing `t` itself, as parent column.
fn rename_in_foreign_keys(t: &mut Table, from: &str, to: &str) {
    let own = t.name.clone();
    for fk in t.foreign_keys.iter_mut() {
        for c in fk.columns.iter_mut() {
            if c.eq_ignore_ascii_case(from) {
                *c = to.to_string();
            }
        }
        if fk.parent.eq_ignore_ascii_case(&own) {
            for c in fk.parent_columns.iter_mut() {
                if c.eq_ignore_ascii_case(from) {
                    *c = to.to_string();
                }
            }
        }
    }
}

/// PRAGMA integrity_check: every row decodes, every index has exactly the
/// entries its table's rows call for. Returns the problems ("ok" if none).
pub fn integrity_check(cx: &mut ExecCtx, schema: &Schema) -> Result<Vec<String>> {
    let mut problems = Vec::new();
    let mut names: Vec<&String> = schema.tables.keys().collect();
    names.sort();
    for name in names {
        let Some(t) = schema.tables.get(name) else {
            continue;
        };
        let plan = Planner::full_scan(t);
        let mut it = open(&plan, cx, &[])?;
        let mut rows = Vec::new();
        loop {
            match it.next(cx) {
                Ok(Some(r)) => rows.push(r),
                Ok(None) => break,
                Err(e) => {
                    problems.push(format!("table {}: {e}", t.name));
                    break;
                }
            }
        }
        drop(it);
        let writer = TableWriter::new(t)?;
        for (pos, idx) in t.indexes.iter().enumerate() {
            let mut expected = std::collections::HashSet::new();
            let mut held = 0usize;
            for r in &rows {
                let Some(Value::Integer(id)) = r.last() else {
                    continue;
                };
                if !writer.holds(cx, pos, r)? {
                    continue;
                }
                held += 1;
                let key =
                    crate::catalog::index_key(t.id, idx, &writer.key_values(cx, pos, r)?, *id);
                if cx.txn.get(&key)?.is_none() {
                    problems.push(format!("row {id} missing from index {}", idx.name));
                }
                expected.insert(key);
            }
            let prefix = index_prefix(t.id, idx.id);
            let mut end = prefix.clone();
            end.push(0xff);
            let mut count = 0usize;
            for e in cx.txn.scan(
                std::ops::Bound::Included(prefix),
                std::ops::Bound::Excluded(end),
                crate::storage::Direction::Forward,
            )? {
                let (k, _) = e?;
                count += 1;
                if !expected.contains(&k) {
                    problems.push(format!(
                        "index {} has an entry for a row that does not match",
                        idx.name
                    ));
                }
            }
            if count != held {
                problems.push(format!(
                    "wrong # of entries in index {}: {count} for {held} rows",
                    idx.name
                ));
            }
        }
    }
    if problems.is_empty() {
        problems.push("ok".into());
    }
    Ok(problems)
}
