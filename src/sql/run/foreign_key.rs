//! FOREIGN KEY enforcement, as SQLite's `fkey.c` does it: constraint
//! counters, parent lookups, child scans and the ON DELETE / ON UPDATE
//! actions.
//!
//! Enforcement is on while a statement runs under `PRAGMA foreign_keys =
//! ON` (the session begins a [`FkScope`] around it). SQLite does not check
//! each row against the constraint at once; it counts violations:
//!
//! ```text
//!   child row added,   parent key missing        → counter + 1
//!   child row removed, parent key missing        → counter − 1  (if ≠ 0)
//!   parent row removed, n children reference it → counter + n  (itself not counted)
//!   parent row added,  n children reference it  → counter − n  (if ≠ 0)
//!   an UPDATE is the removal of the old row and the addition of the new,
//!   counted only for the constraints whose columns it assigns
//! ```
//!
//! An immediate constraint's counter belongs to the statement: the
//! statement fails ("FOREIGN KEY constraint failed", its changes undone)
//! when it ends above zero, so a statement may violate a constraint for a
//! while and repair it before it ends. A deferred constraint's counter
//! (`DEFERRABLE INITIALLY DEFERRED`, or every constraint under `PRAGMA
//! defer_foreign_keys`, which SQLite counts apart) belongs to the
//! transaction and is checked at COMMIT, which fails and leaves the
//! transaction open. A failed statement and `ROLLBACK TO` put the
//! deferred counters back where they were.
//!
//! The parent key is resolved when a row changes, never at CREATE TABLE:
//! the parent's PRIMARY KEY, or the named columns, which must be exactly
//! the columns of a UNIQUE index with their default collations ("foreign
//! key mismatch" otherwise); a parent that is missing — or that the
//! child table's owner may not see, which must look the same — is "no
//! such table". A parent is looked up through its key with its columns'
//! affinities applied to the child's values; children are found with the
//! parent column's affinity and collation (SQLite's `parent = child`).
//!
//! Actions run after the parent row is written or removed, as SQLite's
//! action triggers: CASCADE deletes the child rows or moves their key,
//! SET NULL / SET DEFAULT change it, RESTRICT fails at once (not under
//! `defer_foreign_keys`). Their changes are ordinary row changes of the
//! child table (its triggers fire, its own constraints are counted, under
//! ABORT), made with the authority of the constraint's owner — the child
//! table's — not the user's: no privilege or row policy of the user on
//! the child table applies to them (PostgreSQL's rule; see
//! docs/security.md).

use std::cell::{Cell, RefCell};
use std::cmp::Ordering;

use super::*;
use crate::syntax::ast::{FkAction, ForeignKeySpec};
use crate::types::{apply_comparison_affinity, comparison_affinity, Collation};

/// The deferred counters of a transaction (SQLite's `nDeferredCons` and
/// `nDeferredImmCons`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Deferred {
    /// Violations of `DEFERRABLE INITIALLY DEFERRED` constraints.
    pub constraints: i64,
    /// Violations of immediate constraints counted while `PRAGMA
    /// defer_foreign_keys` was on.
    pub immediate: i64,
}

impl Deferred {
    /// Whether COMMIT must fail.
    pub fn violated(&self) -> bool {
        self.constraints + self.immediate > 0
    }
}

struct Counters {
    statement: i64,
    deferred: Deferred,
    defer_all: bool,
    /// The statement may change several rows (SQLite's `isMultiWrite`).
    multi_write: bool,
    /// Whether the owner of child table `.0` may see parent table `.1`,
    /// as found during this statement (the security catalog does not
    /// change inside one).
    visible: std::collections::HashMap<(u32, u32), bool>,
}

thread_local! {
    static COUNTERS: RefCell<Option<Counters>> = const { RefCell::new(None) };
    /// How deeply actions are running inside actions.
    static ACTION_DEPTH: Cell<usize> = const { Cell::new(0) };
}

/// Deepest chain of actions causing actions (a CASCADE through a
/// self-referencing tree is one level per generation): SQLite's
/// `SQLITE_MAX_TRIGGER_DEPTH`, since its actions are trigger programs.
pub const MAX_ACTION_DEPTH: usize = 1000;

/// The enforcement of one top-level statement (see the module
/// documentation). While it lives, row changes on this thread are
/// counted; dropping it ends enforcement.
pub struct FkScope {
    _private: (),
}

impl FkScope {
    /// Begins enforcement with the transaction's deferred counters.
    pub fn begin(deferred: Deferred, defer_all: bool, multi_write: bool) -> FkScope {
        COUNTERS.with(|c| {
            *c.borrow_mut() = Some(Counters {
                statement: 0,
                deferred,
                defer_all,
                multi_write,
                visible: Default::default(),
            })
        });
        FkScope { _private: () }
    }

    /// Whether the statement leaves an immediate constraint violated.
    pub fn statement_violated(&self) -> bool {
        COUNTERS.with(|c| c.borrow().as_ref().is_some_and(|c| c.statement > 0))
    }

    /// The transaction's deferred counters now.
    pub fn deferred(&self) -> Deferred {
        COUNTERS.with(|c| c.borrow().as_ref().map(|c| c.deferred).unwrap_or_default())
    }
}

impl Drop for FkScope {
    fn drop(&mut self) {
        COUNTERS.with(|c| c.borrow_mut().take());
    }
}

/// Whether foreign keys are enforced on this thread now.
pub fn enforced() -> bool {
    COUNTERS.with(|c| c.borrow().is_some())
}

/// SQLite's error for a violated constraint.
pub fn failed() -> Error {
    Error::sql(SqlErrorKind::ForeignKey, "FOREIGN KEY constraint failed")
}

fn bump(deferred: bool, n: i64) {
    COUNTERS.with(|c| {
        if let Some(c) = c.borrow_mut().as_mut() {
            if c.defer_all {
                c.deferred.immediate += n;
            } else if deferred {
                c.deferred.constraints += n;
            } else {
                c.statement += n;
            }
        }
    })
}

/// SQLite's `OP_FkIfZero`: nothing is outstanding that removing a
/// violation could resolve.
fn is_zero(deferred: bool) -> bool {
    COUNTERS.with(|c| match c.borrow().as_ref() {
        None => true,
        Some(c) if deferred => c.deferred.constraints == 0 && c.deferred.immediate == 0,
        Some(c) => c.statement == 0 && c.deferred.immediate == 0,
    })
}

fn defer_all() -> bool {
    COUNTERS.with(|c| c.borrow().as_ref().is_some_and(|c| c.defer_all))
}

/// Whether an added parent row must be scanned for under immediate
/// constraints: SQLite skips it in a top-level statement that changes one
/// row (it cannot cause or fix an immediate violation there).
fn multi_write() -> bool {
    ACTION_DEPTH.with(|d| d.get()) > 0
        || TRIGGER_DEPTH.with(|d| d.get()) > 0
        || COUNTERS.with(|c| c.borrow().as_ref().is_some_and(|c| c.multi_write))
}

/// A resolved parent key.
struct ParentKey {
    parent: Arc<Table>,
    /// The parent's UNIQUE index on the key; `None`: the rowid (an
    /// INTEGER PRIMARY KEY).
    index: Option<usize>,
    /// The parent key columns, in the index's order (the rowid alias for
    /// a rowid key).
    parent_cols: Vec<usize>,
    /// The child column matching each parent key column.
    child_cols: Vec<usize>,
}

impl ParentKey {
    /// The parent key's values in a parent row (columns ++ rowid).
    fn key_of_parent(&self, row: &[Value]) -> Vec<Value> {
        match self.index {
            None => vec![row.last().cloned().unwrap_or(Value::Null)],
            Some(_) => self.parent_cols.iter().map(|&c| row[c].clone()).collect(),
        }
    }

    /// The affinity and collation of parent key column `i`.
    fn column_rules(&self, i: usize) -> (Affinity, Collation) {
        match self.index {
            None => (Affinity::Integer, Collation::Binary),
            Some(_) => {
                let c = &self.parent.columns[self.parent_cols[i]];
                (c.affinity, c.collation)
            }
        }
    }
}

fn mismatch(child: &Table, fk: &ForeignKeySpec) -> Error {
    Error::sql(
        SqlErrorKind::Misuse,
        format!(
            "foreign key mismatch - \"{}\" referencing \"{}\"",
            child.name, fk.parent
        ),
    )
}

fn column_of(t: &Table, name: &str) -> Result<usize> {
    t.column(name).ok_or_else(|| {
        Error::sql(
            SqlErrorKind::UnknownColumn,
            format!("unknown column \"{name}\" in foreign key definition"),
        )
    })
}

/// SQLite's `sqlite3FkLocateIndex`: the parent key of `fk` (of table
/// `child`) in `parent`.
fn locate(parent: &Arc<Table>, child: &Table, fk: &ForeignKeySpec) -> Result<ParentKey> {
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

/// The parent table of `fk` (of table `child`): missing, or hidden from
/// the child table's owner, is SQLite's "no such table" (the two must
/// not be told apart).
fn parent_table(
    cx: &ExecCtx,
    schema: &Schema,
    child: &Table,
    fk: &ForeignKeySpec,
) -> Option<Arc<Table>> {
    let parent = schema.table(&fk.parent)?.clone();
    if let Some(sec) = &cx.sec {
        let key = (child.id, parent.id);
        let cached = COUNTERS.with(|c| {
            c.borrow()
                .as_ref()
                .and_then(|c| c.visible.get(&key).copied())
        });
        let seen = cached.unwrap_or_else(|| {
            let owner = sec.auth.owner_roles(u64::from(child.id));
            let seen = sec.auth.visible(&owner, u64::from(parent.id));
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

fn no_such_parent(fk: &ForeignKeySpec) -> Error {
    Error::sql(
        SqlErrorKind::UnknownTable,
        format!("no such table: main.{}", fk.parent),
    )
}

/// The parent key of child constraint `fk` of `child`, or SQLite's error.
fn resolve(cx: &ExecCtx, schema: &Schema, child: &Table, fk: &ForeignKeySpec) -> Result<ParentKey> {
    let parent = parent_table(cx, schema, child, fk).ok_or_else(|| no_such_parent(fk))?;
    locate(&parent, child, fk)
}

/// Whether an UPDATE assigning `cols` (positions; the table's width for
/// the rowid) changes a child column of `fk`.
fn child_modified(t: &Table, fk: &ForeignKeySpec, cols: &[usize]) -> bool {
    let rowid_changed = cols.contains(&t.columns.len());
    fk.columns.iter().any(|c| match t.column(c) {
        Some(p) => cols.contains(&p) || (Some(p) == t.rowid_alias && rowid_changed),
        None => false,
    })
}

/// Whether an UPDATE of parent `t` assigning `cols` changes a column of
/// `fk`'s parent key (SQLite's `fkParentIsModified`: a named column, or
/// for an implicit key any PRIMARY KEY column).
fn parent_modified(t: &Table, fk: &ForeignKeySpec, cols: &[usize]) -> bool {
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

/// Whether a DELETE (`changed` `None`) or an UPDATE assigning `changed`
/// of `t` has foreign keys to count (SQLite's `sqlite3FkRequired`): then,
/// as in SQLite, it collects its rows and changes them in table order.
pub(super) fn required(schema: &Schema, t: &Table, changed: Option<&[usize]>) -> bool {
    if !enforced() {
        return false;
    }
    match changed {
        None => !t.foreign_keys.is_empty() || !schema.foreign_keys_to(&t.name).is_empty(),
        Some(cols) => {
            t.foreign_keys.iter().any(|f| child_modified(t, f, cols))
                || schema
                    .foreign_keys_to(&t.name)
                    .iter()
                    .any(|(c, k)| parent_modified(t, &c.foreign_keys[*k], cols))
        }
    }
}

/// What a statement does to a table, for [`prepare`].
pub(super) enum Change<'a> {
    /// INSERT (`replace`: under REPLACE, which may delete rows).
    Insert { replace: bool },
    /// UPDATE assigning these positions.
    Update(&'a [usize]),
    /// DELETE.
    Delete,
}

/// Resolves, before a statement on `t` runs, every parent key its rows
/// will need, so that a missing parent table or a mismatched key fails
/// the statement whatever rows it finds (SQLite raises them when it
/// compiles the statement).
pub(super) fn prepare(cx: &ExecCtx, schema: &Schema, t: &Table, change: Change) -> Result<()> {
    if !enforced() {
        return Ok(());
    }
    for fk in t.foreign_keys.iter().rev() {
        if let Change::Update(cols) = change {
            if !fk.parent.eq_ignore_ascii_case(&t.name) && !child_modified(t, fk, cols) {
                continue;
            }
        }
        resolve(cx, schema, t, fk)?;
    }
    for (child, k) in schema.foreign_keys_to(&t.name) {
        let fk = &child.foreign_keys[k];
        let needed = match change {
            Change::Insert { replace } => replace || fk.deferred || defer_all() || multi_write(),
            Change::Update(cols) => parent_modified(t, fk, cols),
            Change::Delete => true,
        };
        if needed {
            if let Some(parent) = schema.table(&t.name) {
                locate(parent, &child, fk)?;
            }
        }
    }
    Ok(())
}

/// Whether the parent key `key` (values of the child row, in key order)
/// exists (SQLite's `fkLookupParent`: the parent columns' affinities
/// applied, the lookup through the key's index or the rowid).
fn parent_exists(cx: &mut ExecCtx, pk: &ParentKey, key: &[Value]) -> Result<bool> {
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

/// The child side of one row of `t` added (`incr` +1) or removed (−1).
fn count_child_row(
    cx: &mut ExecCtx,
    pk: &ParentKey,
    fk: &ForeignKeySpec,
    t: &Table,
    row: &[Value],
    incr: i64,
) -> Result<()> {
    if incr < 0 && is_zero(fk.deferred) {
        return Ok(());
    }
    let key: Vec<Value> = pk.child_cols.iter().map(|&c| row[c].clone()).collect();
    if key.iter().any(|v| matches!(v, Value::Null)) {
        return Ok(());
    }
    // A row added to a self-referencing table may be its own parent (it
    // is not stored yet): SQLite compares the values as they are.
    if incr > 0 && pk.parent.id == t.id {
        let own = pk.key_of_parent(row);
        let own_key: Vec<Value> = match pk.index {
            None => match must_be_int(key[0].clone()) {
                Ok(r) => vec![Value::Integer(r)],
                Err(_) => vec![Value::Null],
            },
            Some(_) => key.clone(),
        };
        if own
            .iter()
            .zip(&own_key)
            .all(|(a, b)| crate::types::sql_cmp(a, b) == Some(Ordering::Equal))
        {
            return Ok(());
        }
    }
    if !parent_exists(cx, pk, &key)? {
        bump(fk.deferred, incr);
    }
    Ok(())
}

/// The rows of `child` whose key matches parent key `key` (SQLite's
/// `parent = child` for each column: the parent column's affinity and
/// collation), in table order, without the row at rowid `except`.
fn matching_children(
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
fn child_index<'t>(pk: &ParentKey, child: &'t Table) -> Option<&'t crate::catalog::Index> {
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

/// The parent side of one row of `t` (columns ++ rowid) added (`incr`
/// −1 per child) or removed (+1 per child, the row itself not counted).
fn count_children(
    cx: &mut ExecCtx,
    pk: &ParentKey,
    fk: &ForeignKeySpec,
    child: &Table,
    row: &[Value],
    incr: i64,
) -> Result<()> {
    if incr < 0 && is_zero(fk.deferred) {
        return Ok(());
    }
    let key = pk.key_of_parent(row);
    if key.iter().any(|v| matches!(v, Value::Null)) {
        return Ok(());
    }
    let except = match (incr > 0 && child.id == pk.parent.id, row.last()) {
        (true, Some(Value::Integer(r))) => Some(*r),
        _ => None,
    };
    let n = matching_children(cx, pk, child, &key, except)?.len() as i64;
    if n > 0 {
        bump(fk.deferred, incr * n);
    }
    Ok(())
}

/// Counts a row of `t` about to be removed (DELETE, a row REPLACE
/// deletes, or the old image of an UPDATE assigning `changed`).
/// `dropping`: the implicit DELETE of DROP TABLE, which treats a missing
/// parent as empty and skips mismatched keys (SQLite's `isIgnoreErrors`).
pub(super) fn before_remove(
    cx: &mut ExecCtx,
    schema: &Schema,
    t: &Arc<Table>,
    old: &[Value],
    changed: Option<&[usize]>,
    dropping: bool,
) -> Result<()> {
    if !enforced() {
        return Ok(());
    }
    for fk in t.foreign_keys.iter().rev() {
        if let Some(cols) = changed {
            if !fk.parent.eq_ignore_ascii_case(&t.name) && !child_modified(t, fk, cols) {
                continue;
            }
        }
        let pk = match parent_table(cx, schema, t, fk) {
            None if dropping => {
                // The parent is gone: each child row with a full key was
                // a violation, resolved by removing it.
                let full = fk
                    .columns
                    .iter()
                    .filter_map(|c| t.column(c))
                    .all(|c| !matches!(old[c], Value::Null));
                if full {
                    bump(fk.deferred, -1);
                }
                continue;
            }
            None => return Err(no_such_parent(fk)),
            Some(p) => match locate(&p, t, fk) {
                Ok(pk) => pk,
                Err(_) if dropping => continue,
                Err(e) => return Err(e),
            },
        };
        count_child_row(cx, &pk, fk, t, old, -1)?;
    }
    for (child, k) in schema.foreign_keys_to(&t.name) {
        let fk = &child.foreign_keys[k];
        if let Some(cols) = changed {
            if !parent_modified(t, fk, cols) {
                continue;
            }
        }
        let pk = match locate(t, &child, fk) {
            Ok(pk) => pk,
            Err(_) if dropping => continue,
            Err(e) => return Err(e),
        };
        count_children(cx, &pk, fk, &child, old, 1)?;
    }
    Ok(())
}

/// Counts a row of `t` about to be stored (INSERT, or the new image of an
/// UPDATE assigning `changed`).
pub(super) fn before_add(
    cx: &mut ExecCtx,
    schema: &Schema,
    t: &Arc<Table>,
    new: &[Value],
    changed: Option<&[usize]>,
) -> Result<()> {
    if !enforced() {
        return Ok(());
    }
    for fk in t.foreign_keys.iter().rev() {
        if let Some(cols) = changed {
            if !fk.parent.eq_ignore_ascii_case(&t.name) && !child_modified(t, fk, cols) {
                continue;
            }
        }
        let pk = resolve(cx, schema, t, fk)?;
        count_child_row(cx, &pk, fk, t, new, 1)?;
    }
    for (child, k) in schema.foreign_keys_to(&t.name) {
        let fk = &child.foreign_keys[k];
        if let Some(cols) = changed {
            if !parent_modified(t, fk, cols) {
                continue;
            }
        }
        if !fk.deferred && !defer_all() && !multi_write() {
            continue;
        }
        let pk = locate(t, &child, fk)?;
        count_children(cx, &pk, fk, &child, new, -1)?;
    }
    Ok(())
}

/// Runs the actions of the constraints referencing `t` for a row removed
/// (`new` `None`: DELETE, or a row REPLACE deleted) or updated (`new`,
/// assigning `changed`), after the change was written.
pub(super) fn actions(
    cx: &mut ExecCtx,
    schema: &Schema,
    t: &Arc<Table>,
    old: &[Value],
    new: Option<(&[Value], &[usize])>,
) -> Result<()> {
    if !enforced() {
        return Ok(());
    }
    for (child, k) in schema.foreign_keys_to(&t.name) {
        let fk = &child.foreign_keys[k];
        let action = match new {
            None => fk.on_delete,
            Some((_, cols)) => {
                if !parent_modified(t, fk, cols) {
                    continue;
                }
                fk.on_update
            }
        };
        if action == FkAction::NoAction || (action == FkAction::Restrict && defer_all()) {
            continue;
        }
        let pk = locate(t, &child, fk)?;
        let old_key = pk.key_of_parent(old);
        let new_key = new.map(|(n, _)| pk.key_of_parent(n));
        // ON UPDATE acts only when the key changed (WHEN NOT (old.k IS
        // new.k ...), under the parent columns' collations).
        if let Some(nk) = &new_key {
            let same = old_key.iter().zip(nk).enumerate().all(|(i, (a, b))| {
                let (_, coll) = pk.column_rules(i);
                match (a, b) {
                    (Value::Null, Value::Null) => true,
                    (Value::Null, _) | (_, Value::Null) => false,
                    _ => coll.sql_cmp(a, b) == Some(Ordering::Equal),
                }
            });
            if same {
                continue;
            }
        }
        if old_key.iter().any(|v| matches!(v, Value::Null)) {
            continue;
        }
        let rows = matching_children(cx, &pk, &child, &old_key, None)?;
        if rows.is_empty() {
            continue;
        }
        if action == FkAction::Restrict {
            return Err(failed());
        }
        let depth = ACTION_DEPTH.with(|d| d.get());
        if depth >= MAX_ACTION_DEPTH {
            return Err(crate::depth::too_complex(format!(
                "too many levels of trigger recursion (foreign key actions, at most {MAX_ACTION_DEPTH})"
            )));
        }
        ACTION_DEPTH.with(|d| d.set(depth + 1));
        let r = crate::depth::guarded(|| {
            run_action(cx, schema, &child, &pk, action, new_key.as_deref(), rows)
        });
        ACTION_DEPTH.with(|d| d.set(depth));
        r?;
    }
    Ok(())
}

/// CASCADE, SET NULL or SET DEFAULT on the child rows `rows`, as an
/// action trigger's one statement (under ABORT, triggers firing).
fn run_action(
    cx: &mut ExecCtx,
    schema: &Schema,
    child: &Arc<Table>,
    pk: &ParentKey,
    action: FkAction,
    new_key: Option<&[Value]>,
    rows: Vec<Row>,
) -> Result<()> {
    let writer = TableWriter::new(child)?;
    let no_checks = RowChecks {
        update: &None,
        returning: &None,
        replace: &[],
    };
    if action == FkAction::Cascade && new_key.is_none() {
        for r in rows {
            if let Some(old) = current_row(cx, child, &r)? {
                delete_one(cx, schema, &writer, old, None)?;
            }
        }
        return Ok(());
    }
    let dflt = if action == FkAction::SetDefault {
        defaults(child, cx)?
    } else {
        Vec::new()
    };
    let cols = pk.child_cols.clone();
    for r in rows {
        let Some(old) = current_row(cx, child, &r)? else {
            continue;
        };
        let mut values = old.clone();
        for (i, &c) in cols.iter().enumerate() {
            values[c] = match (action, new_key) {
                (FkAction::Cascade, Some(k)) => k[i].clone(),
                (FkAction::SetDefault, _) => dflt.get(c).cloned().unwrap_or(Value::Null),
                _ => Value::Null,
            };
        }
        let checks = RowChecks {
            update: no_checks.update,
            returning: no_checks.returning,
            replace: no_checks.replace,
        };
        update_row(
            cx,
            schema,
            &writer,
            old,
            values,
            &cols,
            Some(Conflict::Abort),
            checks,
            None,
        )?;
    }
    Ok(())
}

/// DROP TABLE `t` under enforcement (SQLite's `sqlite3FkDropTable`): an
/// implicit `DELETE FROM t` without triggers (with the actions) when `t`
/// is a parent, or a child of a deferred constraint while deferred
/// violations are outstanding; an immediate violation it leaves fails the
/// DROP before the table goes.
pub(super) fn before_drop(cx: &mut ExecCtx, schema: &Schema, t: &Arc<Table>) -> Result<()> {
    if !enforced() {
        return Ok(());
    }
    if schema.foreign_keys_to(&t.name).is_empty() {
        let deferred_child = defer_all() || t.foreign_keys.iter().any(|f| f.deferred);
        if !deferred_child || is_zero(true) {
            return Ok(());
        }
    }
    let writer = TableWriter::new(t)?;
    let p = crate::catalog::rows_prefix(t.id);
    let end = crate::sql::exec::prefix_end(&p);
    let mut rowids = Vec::new();
    for e in cx.txn.scan(
        std::ops::Bound::Included(p),
        std::ops::Bound::Excluded(end),
        crate::storage::Direction::Forward,
    )? {
        let (k, _) = e?;
        rowids.push(crate::catalog::rowid_of_key(&k)?);
    }
    for r in rowids {
        // An action of an earlier row may have removed it.
        let Some(old) = read_row(cx.txn, t, r)? else {
            continue;
        };
        before_remove(cx, schema, t, &old, None, true)?;
        writer.delete(cx, r, &old)?;
        actions(cx, schema, t, &old, None)?;
    }
    let immediate = COUNTERS.with(|c| c.borrow().as_ref().map_or(0, |c| c.statement));
    if !defer_all() && immediate > 0 {
        return Err(failed());
    }
    Ok(())
}

/// Whether the user creating a FOREIGN KEY may reference its parent: a
/// constraint reads the parent key whenever a child row changes and lets
/// its owner learn which keys exist, so it needs what reading those
/// columns needs — SELECT on them (sealdb has no separate REFERENCES
/// privilege; SELECT stands for it). A parent the user may not see is
/// treated as the missing table it looks like: accepted, as SQLite
/// accepts a missing parent, and never resolved for this owner (see
/// [`parent_table`]).
pub(super) fn may_reference(cx: &ExecCtx, schema: &Schema, fk: &ForeignKeySpec) -> Result<()> {
    let (Some(sec), Some(parent)) = (&cx.sec, schema.table(&fk.parent)) else {
        return Ok(());
    };
    if !sec.auth.visible(&sec.roles, u64::from(parent.id)) {
        return Ok(());
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
    let table_wide = sec.auth.allowed(
        &sec.roles,
        u64::from(parent.id),
        crate::auth::Privilege::Select,
        None,
    );
    let each = !key.is_empty()
        && key.iter().all(|&c| {
            sec.auth.allowed(
                &sec.roles,
                u64::from(parent.id),
                crate::auth::Privilege::Select,
                Some(parent.columns[c].id),
            )
        });
    if !(table_wide || each) {
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

/// `PRAGMA foreign_key_check` / `pragma_foreign_key_check(table)`: for
/// each child row (in table order) and each of its constraints (the last
/// written first, `fkid` 0), a row `(table, rowid, parent, fkid)` when its
/// key has no NULL and no parent row (SQLite's answer: a missing parent
/// table has none). `args`: the table (NULL or none: every table), then
/// the schema, as the pragma's hidden columns. It lists rowids and which
/// keys exist, so it reads only tables the principal owns (an admin:
/// all): naming another is refused, and the form without a table skips
/// them. A parent it may not see is a missing one, as for enforcement.
pub fn check_rows(
    cx: &mut ExecCtx,
    seen: &crate::sql::introspect::Visible,
    args: &[Value],
) -> Result<Vec<Row>> {
    let arg = args.first().cloned().unwrap_or(Value::Null);
    let schema_arg = args.get(1).cloned().unwrap_or(Value::Null);
    if let Some(s) = schema_arg.to_text() {
        if s.eq_ignore_ascii_case("temp") {
            return Ok(Vec::new());
        }
        if !s.eq_ignore_ascii_case("main") {
            return Err(Error::sql(
                SqlErrorKind::Misuse,
                format!("unknown database {s}"),
            ));
        }
    }
    let tables: Vec<Arc<Table>> = match arg.to_text() {
        Some(name) => {
            let t = seen.table(&name).ok_or_else(|| {
                Error::sql(SqlErrorKind::UnknownTable, format!("no such table: {name}"))
            })?;
            if !t.foreign_keys.is_empty() && !seen.owns(t.id) {
                return Err(Error::PermissionDenied {
                    message: format!(
                        "permission denied: PRAGMA foreign_key_check reads the rows of table {}, which only its owner may check",
                        t.name
                    ),
                });
            }
            vec![t.clone()]
        }
        None => seen
            .tables()
            .iter()
            .filter(|t| seen.owns(t.id))
            .cloned()
            .collect(),
    };
    let mut out = Vec::new();
    for t in tables {
        if t.foreign_keys.is_empty() {
            continue;
        }
        // Per constraint, last written first: its parent key, or `None`
        // for a missing parent (then the child columns as written).
        let mut keys = Vec::new();
        for fk in t.foreign_keys.iter().rev() {
            let pk = match seen.table(&fk.parent) {
                Some(p) => Some(locate(p, &t, fk)?),
                None => None,
            };
            let cols: Vec<usize> = match &pk {
                Some(pk) => pk.child_cols.clone(),
                None => fk
                    .columns
                    .iter()
                    .map(|c| column_of(&t, c))
                    .collect::<Result<_>>()?,
            };
            keys.push((fk, pk, cols));
        }
        let mut rows = Vec::new();
        let p = crate::catalog::rows_prefix(t.id);
        let end = crate::sql::exec::prefix_end(&p);
        for e in cx.txn.scan(
            std::ops::Bound::Included(p),
            std::ops::Bound::Excluded(end),
            crate::storage::Direction::Forward,
        )? {
            let (k, v) = e?;
            let mut row = crate::encoding::decode_row(&v)?;
            row.resize(t.columns.len(), Value::Null);
            row.push(Value::Integer(crate::catalog::rowid_of_key(&k)?));
            rows.push(row);
        }
        sort_in_table_order(&t, &mut rows);
        for row in rows {
            for (fkid, (fk, pk, cols)) in keys.iter().enumerate() {
                let key: Vec<Value> = cols.iter().map(|&c| row[c].clone()).collect();
                if key.iter().any(|v| matches!(v, Value::Null)) {
                    continue;
                }
                let found = match pk {
                    Some(pk) => parent_exists(cx, pk, &key)?,
                    None => false,
                };
                if !found {
                    out.push(vec![
                        Value::Text(t.name.clone()),
                        if t.without_rowid {
                            Value::Null
                        } else {
                            row.last().cloned().unwrap_or(Value::Null)
                        },
                        Value::Text(fk.parent.clone()),
                        Value::Integer(fkid as i64),
                        arg.clone(),
                        schema_arg.clone(),
                    ]);
                }
            }
        }
    }
    Ok(out)
}
