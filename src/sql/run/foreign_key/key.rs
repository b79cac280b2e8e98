//! The parent key of a FOREIGN KEY and the rows on either side of it:
//! resolving the parent (SQLite's `sqlite3FkLocateIndex`; a parent the
//! child table's owner may not see is a missing one), looking a key up
//! in the parent, and finding the child rows that reference a parent row
//! (through an index on the child key when its rules are the parent's,
//! else by a scan; every candidate is compared as SQLite's `parent =
//! child`).

use super::*;

/// A resolved parent key.
pub(super) struct ParentKey {
    pub(super) parent: Arc<Table>,
    /// The parent's UNIQUE index on the key; `None`: the rowid (an
    /// INTEGER PRIMARY KEY).
    pub(super) index: Option<usize>,
    /// The parent key columns, in the index's order (the rowid alias for
    /// a rowid key).
    pub(super) parent_cols: Vec<usize>,
    /// The child column matching each parent key column.
    pub(super) child_cols: Vec<usize>,
}

impl ParentKey {
    /// The parent key's values in a parent row (columns ++ rowid).
    pub(super) fn key_of_parent(&self, row: &[Value]) -> Vec<Value> {
        match self.index {
            None => vec![row.last().cloned().unwrap_or(Value::Null)],
            Some(_) => self.parent_cols.iter().map(|&c| row[c].clone()).collect(),
        }
    }

    /// The affinity and collation of parent key column `i`.
    pub(super) fn column_rules(&self, i: usize) -> (Affinity, Collation) {
        match self.index {
            None => (Affinity::Integer, Collation::Binary),
            Some(_) => {
                let c = &self.parent.columns[self.parent_cols[i]];
                (c.affinity, c.collation)
            }
        }
    }
}

pub(super) fn mismatch(child: &Table, fk: &ForeignKeySpec) -> Error {
    Error::sql(
        SqlErrorKind::Misuse,
        format!(
            "foreign key mismatch - \"{}\" referencing \"{}\"",
            child.name, fk.parent
        ),
    )
}

pub(super) fn column_of(t: &Table, name: &str) -> Result<usize> {
    t.column(name).ok_or_else(|| {
        Error::sql(
            SqlErrorKind::UnknownColumn,
            format!("unknown column \"{name}\" in foreign key definition"),
        )
    })
}

/// SQLite's `sqlite3FkLocateIndex`: the parent key of `fk` (of table
/// `child`) in `parent`.
pub(super) fn locate(parent: &Arc<Table>, child: &Table, fk: &ForeignKeySpec) -> Result<ParentKey> {
    let n = fk.columns.len();
    let child_pos: Vec<usize> = fk
        .columns
        .iter()
        .map(|c| column_of(child, c))
        .collect::<Result<_>>()?;
    if n == 1 {
        if let Some(a) = parent.rowid_alias {
            let names_alias = match fk.parent_columns.first() {
                None => true,
                Some(k) => parent.columns[a].name.eq_ignore_ascii_case(k),
            };
            if names_alias {
                return Ok(ParentKey {
                    parent: parent.clone(),
                    index: None,
                    parent_cols: vec![a],
                    child_cols: child_pos,
                });
            }
        }
    }
    for (i, idx) in parent.indexes.iter().enumerate() {
        if !idx.unique || idx.filter.is_some() || idx.columns.len() != n {
            continue;
        }
        if fk.parent_columns.is_empty() {
            let is_pk =
                idx.auto && !parent.primary_key.is_empty() && idx.columns == parent.primary_key;
            if is_pk {
                return Ok(ParentKey {
                    parent: parent.clone(),
                    index: Some(i),
                    parent_cols: idx.columns.clone(),
                    child_cols: child_pos,
                });
            }
            continue;
        }
        let mut child_cols = Vec::with_capacity(n);
        for (k, &col) in idx.columns.iter().enumerate() {
            if idx.collation(k) != parent.columns[col].collation {
                break;
            }
            let name = &parent.columns[col].name;
            match fk
                .parent_columns
                .iter()
                .position(|p| p.eq_ignore_ascii_case(name))
            {
                Some(j) => child_cols.push(child_pos[j]),
                None => break,
            }
        }
        if child_cols.len() == n {
            return Ok(ParentKey {
                parent: parent.clone(),
                index: Some(i),
                parent_cols: idx.columns.clone(),
                child_cols,
            });
        }
    }
    Err(mismatch(child, fk))
}

/// The parent table of `fk` (of table `child`): missing, hidden from the
/// child table's owner, or with a key that owner may not read (SELECT,
/// as creating the constraint needs: it may have been created onto a
/// hidden table, or the privilege revoked since), is SQLite's "no such
/// table" — none may be told apart, nor let the constraint probe keys.
pub(super) fn parent_table(
    cx: &ExecCtx,
    schema: &Schema,
    child: &Table,
    fk: &ForeignKeySpec,
) -> Option<Arc<Table>> {
    let parent = schema.table(&fk.parent)?.clone();
    if let Some(sec) = &cx.sec {
        let key = (child.id, parent.id, fk.parent_columns.join(","));
        let cached = COUNTERS.with(|c| {
            c.borrow()
                .as_ref()
                .and_then(|c| c.visible.get(&key).copied())
        });
        let seen = cached.unwrap_or_else(|| {
            let owner = sec.auth.owner_roles(u64::from(child.id));
            let seen = sec.auth.visible(&owner, u64::from(parent.id))
                && super::reference::may_read_key(&sec.auth, &owner, &parent, fk);
            COUNTERS.with(|c| {
                if let Some(c) = c.borrow_mut().as_mut() {
                    c.visible.insert(key, seen);
                }
            });
            seen
        });
        if !seen {
            return None;
        }
    }
    Some(parent)
}

pub(super) fn no_such_parent(fk: &ForeignKeySpec) -> Error {
    Error::sql(
        SqlErrorKind::UnknownTable,
        format!("no such table: main.{}", fk.parent),
    )
}

/// The parent key of child constraint `fk` of `child`, or SQLite's error.
pub(super) fn resolve_parent(
    cx: &ExecCtx,
    schema: &Schema,
    child: &Table,
    fk: &ForeignKeySpec,
) -> Result<ParentKey> {
    let parent = parent_table(cx, schema, child, fk).ok_or_else(|| no_such_parent(fk))?;
    locate(&parent, child, fk)
}

/// Whether an UPDATE assigning `cols` (positions; the table's width for
/// the rowid) changes a child column of `fk`.
pub(super) fn child_modified(t: &Table, fk: &ForeignKeySpec, cols: &[usize]) -> bool {
    let rowid_changed = cols.contains(&t.columns.len());
    fk.columns.iter().any(|c| match t.column(c) {
        Some(p) => cols.contains(&p) || (Some(p) == t.rowid_alias && rowid_changed),
        None => false,
    })
}

/// Whether an UPDATE of parent `t` assigning `cols` changes a column of
/// `fk`'s parent key (SQLite's `fkParentIsModified`: a named column, or
/// for an implicit key any PRIMARY KEY column).
pub(super) fn parent_modified(t: &Table, fk: &ForeignKeySpec, cols: &[usize]) -> bool {
    let rowid_changed = cols.contains(&t.columns.len());
    (0..t.columns.len()).any(|k| {
        let changed = cols.contains(&k) || (Some(k) == t.rowid_alias && rowid_changed);
        changed
            && if fk.parent_columns.is_empty() {
                t.primary_key.contains(&k)
            } else {
                fk.parent_columns
                    .iter()
                    .any(|p| p.eq_ignore_ascii_case(&t.columns[k].name))
            }
    })
}

/// Whether the parent key `key` (values of the child row, in key order)
/// exists (SQLite's `fkLookupParent`: the parent columns' affinities
/// applied, the lookup through the key's index or the rowid).
pub(super) fn parent_exists(cx: &mut ExecCtx, pk: &ParentKey, key: &[Value]) -> Result<bool> {
    match pk.index {
        None => match must_be_int(key[0].clone()) {
            Ok(r) => Ok(read_row(cx.txn, &pk.parent, r)?.is_some()),
            Err(_) => Ok(false),
        },
        Some(i) => {
            let idx = &pk.parent.indexes[i];
            let probe: Vec<Value> = key
                .iter()
                .zip(&pk.parent_cols)
                .map(|(v, &c)| apply_affinity(v.clone(), pk.parent.columns[c].affinity))
                .collect();
            Ok(
                !crate::sql::exec::unique_conflicts(cx.txn, &pk.parent, idx, &probe, None)?
                    .is_empty(),
            )
        }
    }
}

/// The rows of `child` whose key matches parent key `key` (SQLite's
/// `parent = child` for each column: the parent column's affinity and
/// collation), in table order, without the row at rowid `except`.
pub(super) fn matching_children(
    cx: &mut ExecCtx,
    pk: &ParentKey,
    child: &Table,
    key: &[Value],
    except: Option<i64>,
) -> Result<Vec<Row>> {
    let mut out = Vec::new();
    let mut rows = Vec::new();
    match child_index(pk, child) {
        // Candidates through an index on the child key; each is checked
        // below as a scanned row would be.
        Some(idx) => {
            let mut p = crate::catalog::index_prefix(child.id, idx.id);
            for (i, v) in key.iter().enumerate() {
                idx.encode_key_column(i, v, &mut p);
            }
            let end = crate::sql::exec::prefix_end(&p);
            let mut ids = Vec::new();
            for e in cx.txn.scan(
                std::ops::Bound::Included(p),
                std::ops::Bound::Excluded(end),
                crate::storage::Direction::Forward,
            )? {
                let (k, _) = e?;
                ids.push(crate::catalog::rowid_of_key(&k)?);
            }
            ids.sort_unstable();
            for id in ids {
                if let Some(v) = cx.txn.get(&crate::catalog::row_key(child.id, id))? {
                    rows.push((id, v));
                }
            }
        }
        None => {
            let p = crate::catalog::rows_prefix(child.id);
            let end = crate::sql::exec::prefix_end(&p);
            for e in cx.txn.scan(
                std::ops::Bound::Included(p),
                std::ops::Bound::Excluded(end),
                crate::storage::Direction::Forward,
            )? {
                let (k, v) = e?;
                rows.push((crate::catalog::rowid_of_key(&k)?, v));
            }
        }
    }
    'rows: for (rowid, v) in rows {
        if Some(rowid) == except {
            continue;
        }
        let mut row = crate::encoding::decode_row(&v)?;
        row.resize(child.columns.len(), Value::Null);
        row.push(Value::Integer(rowid));
        for (i, &c) in pk.child_cols.iter().enumerate() {
            let (aff, coll) = pk.column_rules(i);
            let cmp = comparison_affinity(Some(aff), Some(child.columns[c].affinity));
            let (a, b) = match cmp {
                Some(a) => (
                    apply_comparison_affinity(key[i].clone(), a),
                    apply_comparison_affinity(row[c].clone(), a),
                ),
                None => (key[i].clone(), row[c].clone()),
            };
            if coll.sql_cmp(&a, &b) != Some(Ordering::Equal) {
                continue 'rows;
            }
        }
        out.push(row);
    }
    sort_in_table_order(child, &mut out);
    Ok(out)
}

/// An index of `child` that finds every child row matching a parent key
/// (and maybe others): not partial, its leading columns the child key
/// columns in key order, each with the parent column's affinity and
/// collation, so that `parent = child` holds only between values its
/// entries store equal.
pub(super) fn child_index<'t>(
    pk: &ParentKey,
    child: &'t Table,
) -> Option<&'t crate::catalog::Index> {
    child.indexes.iter().find(|idx| {
        idx.filter.is_none()
            && idx.columns.len() >= pk.child_cols.len()
            && pk.child_cols.iter().enumerate().all(|(i, &c)| {
                let (aff, coll) = pk.column_rules(i);
                idx.columns[i] == c
                    && idx.collation(i) == coll
                    && child.columns[c].affinity == aff
                    && Some(c) != child.rowid_alias
            })
    })
}
