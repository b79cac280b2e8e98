//! Introspection: SQLite's schema table (`sqlite_schema`, also named
//! `sqlite_master`; `sqlite_temp_schema` / `sqlite_temp_master`, always
//! empty: sealdb has no TEMP objects), ANALYZE's `sqlite_stat1` (rows
//! only for the tables shown, read-only) and the table-valued pragmas
//! `pragma_table_info`, `pragma_table_xinfo`, `pragma_index_list`,
//! `pragma_index_info`, `pragma_index_xinfo` and `pragma_foreign_key_list`
//! (which `PRAGMA table_info(t)` and the others run through), with SQLite's
//! columns and rows.
//!
//! They show the schema as one principal may see it — the session's user,
//! or the owner of the view or trigger they are read through — taken when
//! the statement is planned ([`Visible::of`]; a plan is used only under the
//! schema and security catalog it was made under). The rule, failing
//! closed:
//!
//! ```text
//!   table, view   shown if the principal may see it (owns it or holds
//!                 any privilege on it: AuthState::visible)
//!   index         shown if its table is
//!   trigger       shown if its table is
//!   sql           a table's and an index's: shown with the row; a view's
//!                 or trigger's: only to its owner (or an admin), and only
//!                 if no name or string in its text is that of a table,
//!                 view, index or trigger the principal may not see
//!                 (else NULL: the definition is its owner's business)
//!   rootpage      2, 3, ... for the tables and indexes shown, in creation
//!                 order (SQLite's numbers in a fresh database); 0 for
//!                 views and triggers, as in SQLite
//! ```
//!
//! `sqlite_stat1` has rows only for the tables shown whose every row and
//! column the principal may read (table-wide SELECT, and no row policy
//! filters her): the statistics count all of them.
//!
//! A pragma naming a table or index the principal may not see answers as
//! for one that does not exist: no rows (SQLite's answer for a missing
//! one). Columns are not hidden: the columns of a visible table are no
//! secret in sealdb (an error naming a column one may not read says so),
//! and an application needs all of them to write rows.

use std::collections::HashSet;
use std::sync::Arc;

use crate::auth::{AuthState, Privilege, Roles};
use crate::catalog::{Index, Schema, Table};
use crate::error::{Error, Result, SqlErrorKind};
use crate::syntax::ast::{Expr, FromItem, Query, Select, SelectItem, SetExpr};
use crate::types::{Affinity, Value};

/// What an introspection source shows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Introspect {
    /// `sqlite_schema` / `sqlite_master`.
    Schema,
    /// `sqlite_temp_schema` / `sqlite_temp_master`: no rows.
    TempSchema,
    /// `sqlite_stat1`: ANALYZE's statistics of the tables the principal
    /// may see (read-only; empty before any ANALYZE, where SQLite has no
    /// such table).
    Stat1,
    /// `table_info`: one row per column.
    TableInfo,
    /// `table_xinfo`: `table_info` with the `hidden` column.
    TableXinfo,
    /// `index_list`: a table's indexes, newest first.
    IndexList,
    /// `index_info`: an index's key columns.
    IndexInfo,
    /// `index_xinfo`: every column of an index entry.
    IndexXinfo,
    /// `foreign_key_list`: a table's FOREIGN KEY constraints.
    ForeignKeyList,
    /// `foreign_key_check`: the child rows whose parent key is missing
    /// (read from the data by `sql::run::foreign_key::check_rows`).
    ForeignKeyCheck,
}

/// The schema table's columns with their types (SQLite declares `rootpage`
/// INT and the others TEXT).
const SCHEMA_COLUMNS: [(&str, &str); 5] = [
    ("type", "TEXT"),
    ("name", "TEXT"),
    ("tbl_name", "TEXT"),
    ("rootpage", "INT"),
    ("sql", "TEXT"),
];

/// The name of the statistics table ANALYZE fills.
pub const STAT1_TABLE: &str = "sqlite_stat1";

/// The pragmas with a table-valued form.
const PRAGMAS: [(&str, Introspect); 7] = [
    ("table_info", Introspect::TableInfo),
    ("table_xinfo", Introspect::TableXinfo),
    ("index_list", Introspect::IndexList),
    ("index_info", Introspect::IndexInfo),
    ("index_xinfo", Introspect::IndexXinfo),
    ("foreign_key_list", Introspect::ForeignKeyList),
    ("foreign_key_check", Introspect::ForeignKeyCheck),
];

impl Introspect {
    /// The schema table named `name`, if it is one.
    pub fn of_table(name: &str) -> Option<Introspect> {
        match name.to_ascii_lowercase().as_str() {
            "sqlite_schema" | "sqlite_master" => Some(Introspect::Schema),
            "sqlite_temp_schema" | "sqlite_temp_master" => Some(Introspect::TempSchema),
            STAT1_TABLE => Some(Introspect::Stat1),
            _ => None,
        }
    }

    /// The pragma `name` (as in `PRAGMA name(arg)`), if it is one of these.
    pub fn of_pragma(name: &str) -> Option<Introspect> {
        PRAGMAS
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, w)| *w)
    }

    /// The table-valued function `name` (`pragma_table_info`), if it is
    /// one of these.
    pub fn of_function(name: &str) -> Option<Introspect> {
        let lower = name.to_ascii_lowercase();
        Introspect::of_pragma(lower.strip_prefix("pragma_")?)
    }

    /// The pragma's name (`table_info`); the table's for the schema tables.
    pub fn name(self) -> &'static str {
        match self {
            Introspect::Schema => "sqlite_schema",
            Introspect::TempSchema => "sqlite_temp_schema",
            Introspect::Stat1 => STAT1_TABLE,
            other => PRAGMAS
                .iter()
                .find(|(_, w)| *w == other)
                .map_or("", |(n, _)| n),
        }
    }

    /// Whether it is a pragma (takes an argument), not a schema table.
    pub fn is_pragma(self) -> bool {
        !matches!(
            self,
            Introspect::Schema | Introspect::TempSchema | Introspect::Stat1
        )
    }

    /// Its result columns, with their affinities (a pragma's columns have
    /// none, as SQLite declares them without types); a pragma's hidden
    /// `arg` and `schema` columns follow (see [`Introspect::visible_width`]).
    pub fn columns(self) -> Vec<(&'static str, Affinity)> {
        let none = |names: &[&'static str]| {
            names
                .iter()
                .chain(["arg", "schema"].iter())
                .map(|n| (*n, Affinity::Blob))
                .collect()
        };
        match self {
            Introspect::Schema | Introspect::TempSchema => SCHEMA_COLUMNS
                .iter()
                .map(|(n, t)| (*n, crate::types::affinity_of_type(t)))
                .collect(),
            // Declared without types, as SQLite creates it.
            Introspect::Stat1 => ["tbl", "idx", "stat"]
                .iter()
                .map(|n| (*n, Affinity::Blob))
                .collect(),
            Introspect::TableInfo => none(&["cid", "name", "type", "notnull", "dflt_value", "pk"]),
            Introspect::TableXinfo => none(&[
                "cid",
                "name",
                "type",
                "notnull",
                "dflt_value",
                "pk",
                "hidden",
            ]),
            Introspect::IndexList => none(&["seq", "name", "unique", "origin", "partial"]),
            Introspect::IndexInfo => none(&["seqno", "cid", "name"]),
            Introspect::IndexXinfo => none(&["seqno", "cid", "name", "desc", "coll", "key"]),
            Introspect::ForeignKeyList => none(&[
                "id",
                "seq",
                "table",
                "from",
                "to",
                "on_update",
                "on_delete",
                "match",
            ]),
            Introspect::ForeignKeyCheck => none(&["table", "rowid", "parent", "fkid"]),
        }
    }

    /// How many of [`Introspect::columns`] `SELECT *` shows (the rest are
    /// hidden).
    pub fn visible_width(self) -> usize {
        let n = self.columns().len();
        if self.is_pragma() {
            n - 2
        } else {
            n
        }
    }

    /// Checks the number of arguments a use passes (SQLite's messages).
    pub fn check_args(self, n: usize) -> Result<()> {
        if !self.is_pragma() {
            return Ok(());
        }
        if n == 0 && self != Introspect::ForeignKeyCheck {
            // SQLite answers a scan without the argument from a hidden-
            // column constraint (`WHERE arg = 't'`), which sealdb does not
            // read: refused rather than answered with no rows.
            return Err(Error::sql(
                SqlErrorKind::Unsupported,
                format!(
                    "pragma_{0} without its argument is not supported: write pragma_{0}('name')",
                    self.name()
                ),
            ));
        }
        if n > 2 {
            return Err(Error::sql(
                SqlErrorKind::Misuse,
                format!("too many arguments on pragma_{}() - max 2", self.name()),
            ));
        }
        Ok(())
    }
}

/// The schema as one principal may see it (see the module's rule).
#[derive(Debug, Default)]
pub struct Visible {
    /// The schema table's rows.
    rows: Vec<Vec<Value>>,
    /// The tables it may see.
    tables: Vec<Arc<Table>>,
    /// The views it may see (lowercase names).
    views: Vec<String>,
    /// Those whose definitions it may read (lowercase names).
    readable: Vec<String>,
    /// The columns of the views it may see, `(name, declared type)`, when
    /// the source needs them (see [`Visible::set_view_columns`]); `None`:
    /// the view could not be planned.
    view_columns: Vec<(String, Option<Columns>)>,
    /// The ids of the visible tables the principal owns (all, for an
    /// admin).
    owned: Vec<u32>,
    /// `sqlite_stat1`'s rows for the visible tables.
    stat1: Vec<Vec<Value>>,
}

/// One object of the schema table before numbering.
struct Entry {
    id: u32,
    kind: &'static str,
    name: String,
    table: String,
    sql: Option<String>,
}

impl Visible {
    /// Nothing: for a planner that knows no principal (fail closed).
    pub fn nothing() -> Visible {
        Visible::default()
    }

    /// What `roles` may see of `schema` under `auth`.
    pub fn of(schema: &Schema, auth: &AuthState, roles: &Roles) -> Visible {
        let seen = |id: u32| auth.visible(roles, u64::from(id));
        let owns = |id: u32| roles.admin || auth.owns(roles, u64::from(id));
        // Every name the principal may not know (lowercase).
        let mut hidden: HashSet<String> = HashSet::new();
        for t in schema.tables.values().filter(|t| !seen(t.id)) {
            hidden.insert(t.name.to_lowercase());
            hidden.extend(t.indexes.iter().map(|i| i.name.to_lowercase()));
        }
        for v in schema.views.values().filter(|v| !seen(v.id)) {
            hidden.insert(v.name.to_lowercase());
        }
        // A trigger is on a table, or (INSTEAD OF) on a view.
        let on_id = |name: &str| schema.object_id(name);
        for tr in schema.triggers.values() {
            if !on_id(&tr.table).is_some_and(seen) {
                hidden.insert(tr.name.to_lowercase());
            }
        }
        let text_ok = |sql: &str| {
            roles.admin
                || crate::syntax::parse::words(sql)
                    .is_ok_and(|ws| ws.iter().all(|w| !hidden.contains(&w.to_lowercase())))
        };
        let mut entries = Vec::new();
        let mut tables = Vec::new();
        let mut stat1 = Vec::new();
        // Statistics count every row and column: shown only to who may
        // read them all (table-wide SELECT, no row policy filtering her).
        let reads_all = |id: u32| {
            auth.allowed(roles, u64::from(id), Privilege::Select, None)
                && !auth.rls_applies(roles, u64::from(id))
        };
        for t in schema.tables.values().filter(|t| seen(t.id)) {
            if reads_all(t.id) {
                stat1.extend(stat1_rows(t));
            }
            entries.push(Entry {
                id: t.id,
                kind: "table",
                name: t.name.clone(),
                table: t.name.clone(),
                sql: Some(t.to_sql()),
            });
            // A WITHOUT ROWID table's key index is the table itself in
            // SQLite: no row of its own.
            let key = pk_index(t).filter(|_| t.without_rowid).map(|i| i.id);
            for i in t.indexes.iter().filter(|i| Some(i.id) != key) {
                entries.push(Entry {
                    id: i.id,
                    kind: "index",
                    name: i.name.clone(),
                    table: t.name.clone(),
                    sql: (!i.auto).then(|| i.to_sql(t)),
                });
            }
            tables.push(t.clone());
        }
        let mut views = Vec::new();
        let mut readable = Vec::new();
        for v in schema.views.values().filter(|v| seen(v.id)) {
            let sql = v.to_sql();
            let read = owns(v.id) && text_ok(&sql);
            entries.push(Entry {
                id: v.id,
                kind: "view",
                name: v.name.clone(),
                table: v.name.clone(),
                sql: read.then_some(sql),
            });
            views.push(v.name.to_lowercase());
            if read {
                readable.push(v.name.to_lowercase());
            }
        }
        for tr in schema.triggers.values() {
            if !on_id(&tr.table).is_some_and(seen) {
                continue;
            }
            let on = match (schema.table(&tr.table), schema.view(&tr.table)) {
                (Some(t), _) => t.name.clone(),
                (None, Some(v)) => v.name.clone(),
                (None, None) => continue,
            };
            entries.push(Entry {
                id: tr.id,
                kind: "trigger",
                name: tr.name.clone(),
                table: on,
                sql: (owns(tr.id) && text_ok(&tr.sql)).then(|| tr.sql.clone()),
            });
        }
        entries.sort_by_key(|e| e.id);
        let mut page = 1i64;
        let rows = entries
            .into_iter()
            .map(|e| {
                let root = match e.kind {
                    "table" | "index" => {
                        page += 1;
                        page
                    }
                    _ => 0,
                };
                vec![
                    Value::Text(e.kind.into()),
                    Value::Text(e.name),
                    Value::Text(e.table),
                    Value::Integer(root),
                    e.sql.map_or(Value::Null, Value::Text),
                ]
            })
            .collect();
        tables.sort_by_key(|t| t.id);
        let owned = tables.iter().filter(|t| owns(t.id)).map(|t| t.id).collect();
        Visible {
            rows,
            tables,
            views,
            readable,
            view_columns: Vec::new(),
            owned,
            stat1,
        }
    }

    /// The tables the principal may see, in creation order.
    pub fn tables(&self) -> &[Arc<Table>] {
        &self.tables
    }

    /// Whether the principal owns table `id` (or is an admin).
    pub fn owns(&self, id: u32) -> bool {
        self.owned.contains(&id)
    }

    /// The views the principal may see (lowercase names).
    pub fn views(&self) -> &[String] {
        &self.views
    }

    /// Gives `table_info` the columns of the views: for each, its column
    /// names and affinities as planned (`None` if it could not be). Each
    /// column's type is SQLite's (`sqlite3SubqueryColumnTypes`): the
    /// declared type of the table column it reads directly
    /// ([`view_decl_types`]) when that type gives the column's affinity,
    /// else the standard name of the affinity (BLOB, INT, REAL, TEXT,
    /// NUM), '' for none. A declared type is used only where the principal
    /// may read the view's definition (it would tell of the tables the
    /// view reads, its owner's business); the affinity anyone reading the
    /// view can observe.
    pub fn set_view_columns(&mut self, schema: &Schema, planned: ViewColumns) {
        self.view_columns = planned
            .into_iter()
            .map(|(name, cols)| {
                let decls = match schema.view(&name) {
                    Some(v) if self.readable.contains(&name) => view_decl_types(schema, v, 0),
                    _ => None,
                };
                let cols = cols.map(|cols| {
                    let decls = decls.filter(|t| t.len() == cols.len());
                    cols.into_iter()
                        .enumerate()
                        .map(|(i, (c, aff))| {
                            let decl = decls.as_ref().map_or("", |d| d[i].as_str());
                            (c, column_type(decl, aff))
                        })
                        .collect()
                });
                (name, cols)
            })
            .collect();
    }

    /// The table named `name`, if the principal may see it.
    pub fn table(&self, name: &str) -> Option<&Arc<Table>> {
        self.tables
            .iter()
            .find(|t| t.name.eq_ignore_ascii_case(name))
    }

    /// The index named `name` with its table (for a WITHOUT ROWID table's
    /// name, its primary key's index, as SQLite's `index_info` takes it).
    fn index(&self, name: &str) -> Option<(&Arc<Table>, &Index)> {
        for t in &self.tables {
            if let Some(i) = t.indexes.iter().find(|i| i.name.eq_ignore_ascii_case(name)) {
                return Some((t, i));
            }
        }
        let t = self.table(name).filter(|t| t.without_rowid)?;
        Some((t, pk_index(t)?))
    }
}

/// Each view's column names and affinities as planned (`None`: it could
/// not be planned).
pub type ViewColumns = Vec<(String, Option<Vec<(String, Option<Affinity>)>>)>;

/// Columns as `(name, declared type)`.
type Columns = Vec<(String, String)>;

/// A view column's type from its declared type (or '') and affinity.
fn column_type(decl: &str, aff: Option<Affinity>) -> String {
    if !decl.is_empty() && aff == Some(crate::types::affinity_of_type(decl)) {
        return decl.to_string();
    }
    match aff {
        Some(Affinity::Blob) => "BLOB",
        Some(Affinity::Integer) => "INT",
        Some(Affinity::Real) => "REAL",
        Some(Affinity::Text) => "TEXT",
        Some(Affinity::Numeric) => "NUM",
        None => "",
    }
    .to_string()
}

/// The index of a table's PRIMARY KEY, if it has one (not a rowid alias).
fn pk_index(t: &Table) -> Option<&Index> {
    if t.primary_key.is_empty() || t.rowid_alias.is_some() {
        return None;
    }
    t.indexes
        .iter()
        .filter(|i| i.auto && i.columns == t.primary_key)
        .min_by_key(|i| i.id)
}

/// `sqlite_stat1`'s rows for `t`: one per analysed index that still
/// exists (named, for a WITHOUT ROWID table's key, after the table, as in
/// SQLite), then the table's own row if ANALYZE wrote one.
fn stat1_rows(t: &Table) -> Vec<Vec<Value>> {
    let Some(st) = &t.stats else {
        return Vec::new();
    };
    let key = pk_index(t).filter(|_| t.without_rowid).map(|i| i.id);
    let nums = |v: &[u64]| {
        let words: Vec<String> = v.iter().map(u64::to_string).collect();
        Value::Text(words.join(" "))
    };
    let mut out: Vec<Vec<Value>> = t
        .indexes
        .iter()
        .filter_map(|i| {
            let v = st.of_index(i.id)?;
            let name = if Some(i.id) == key { &t.name } else { &i.name };
            Some(vec![text(&t.name), text(name), nums(v)])
        })
        .collect();
    if let Some(n) = st.rows {
        out.push(vec![text(&t.name), Value::Null, nums(&[n])]);
    }
    out
}

fn int(n: impl TryInto<i64>) -> Value {
    Value::Integer(n.try_into().unwrap_or(i64::MAX))
}

fn text(s: &str) -> Value {
    Value::Text(s.to_string())
}

/// The rows of `what` as `seen` shows them, for the arguments `args` (a
/// pragma's: the name, then an optional schema), each with the hidden
/// `arg` and `schema` columns of a pragma.
pub fn rows(what: Introspect, seen: &Visible, args: &[Value]) -> Result<Vec<Vec<Value>>> {
    match what {
        Introspect::Schema => return Ok(seen.rows.clone()),
        Introspect::TempSchema => return Ok(Vec::new()),
        Introspect::Stat1 => return Ok(seen.stat1.clone()),
        _ => {}
    }
    what.check_args(args.len())?;
    let schema = args.get(1).cloned().unwrap_or(Value::Null);
    match &schema {
        Value::Null => {}
        s => {
            let s = s.to_text().unwrap_or_default();
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
    }
    let arg = args[0].clone();
    let Some(name) = (match &arg {
        Value::Null => None,
        v => v.to_text(),
    }) else {
        return Ok(Vec::new());
    };
    let mut out = match what {
        Introspect::TableInfo | Introspect::TableXinfo => {
            table_info(seen, &name, what == Introspect::TableXinfo)?
        }
        Introspect::IndexList => seen.table(&name).map_or_else(Vec::new, |t| index_list(t)),
        Introspect::IndexInfo | Introspect::IndexXinfo => {
            seen.index(&name).map_or_else(Vec::new, |(t, i)| {
                index_info(t, i, what == Introspect::IndexXinfo)
            })
        }
        Introspect::ForeignKeyList => seen
            .table(&name)
            .map_or_else(Vec::new, |t| foreign_key_list(t)),
        Introspect::ForeignKeyCheck => {
            return Err(Error::sql(
                SqlErrorKind::Misuse,
                "pragma_foreign_key_check reads the data: it runs through the executor",
            ))
        }
        Introspect::Schema | Introspect::TempSchema | Introspect::Stat1 => Vec::new(),
    };
    for r in out.iter_mut() {
        r.push(arg.clone());
        r.push(schema.clone());
    }
    Ok(out)
}

/// `PRAGMA foreign_key_list(t)`: one row per column of each FOREIGN KEY
/// of `t`, numbered as SQLite does (the last written is 0); `to` is NULL
/// for a key that names no parent columns (the parent's PRIMARY KEY).
fn foreign_key_list(t: &Table) -> Vec<Vec<Value>> {
    let mut out = Vec::new();
    for (id, fk) in t.foreign_keys.iter().rev().enumerate() {
        for (seq, from) in fk.columns.iter().enumerate() {
            let from = t
                .column(from)
                .map_or(from.as_str(), |c| t.columns[c].name.as_str());
            out.push(vec![
                int(id),
                int(seq),
                text(&fk.parent),
                text(from),
                fk.parent_columns.get(seq).map_or(Value::Null, |c| text(c)),
                text(fk.on_update.name()),
                text(fk.on_delete.name()),
                text("NONE"),
            ]);
        }
    }
    out
}

fn table_info(seen: &Visible, name: &str, extended: bool) -> Result<Vec<Vec<Value>>> {
    if Introspect::of_table(name).is_some() {
        return Ok(SCHEMA_COLUMNS
            .iter()
            .enumerate()
            .map(|(i, (n, t))| {
                let mut r = vec![int(i), text(n), text(t), int(0), Value::Null, int(0)];
                if extended {
                    r.push(int(0));
                }
                r
            })
            .collect());
    }
    let Some(t) = seen.table(name) else {
        let lower = name.to_lowercase();
        if !seen.views.contains(&lower) {
            return Ok(Vec::new());
        }
        let Some((_, cols)) = seen.view_columns.iter().find(|(n, _)| *n == lower) else {
            // A view read while planning a view's columns.
            return Err(Error::sql(
                SqlErrorKind::Unsupported,
                format!(
                    "PRAGMA table_info of view {name} inside a view's definition is not supported"
                ),
            ));
        };
        let Some(cols) = cols else {
            // Not why: the reason could name what the view's owner reads.
            return Err(Error::sql(
                SqlErrorKind::Misuse,
                format!("view {name} cannot be read: its definition no longer holds"),
            ));
        };
        return Ok(cols
            .iter()
            .enumerate()
            .map(|(i, (c, ty))| {
                let mut r = vec![int(i), text(c), text(ty), int(0), Value::Null, int(0)];
                if extended {
                    r.push(int(0));
                }
                r
            })
            .collect());
    };
    // As SQLite: `table_info` leaves generated columns out and numbers the
    // others without them; `table_xinfo` shows them, hidden 2 (VIRTUAL)
    // or 3 (STORED).
    let mut skipped = 0;
    Ok(t.columns
        .iter()
        .enumerate()
        .filter_map(|(i, c)| {
            let hidden = match &c.generated {
                None => 0,
                Some(_) if !extended => {
                    skipped += 1;
                    return None;
                }
                Some(g) if g.stored => 3,
                Some(_) => 2,
            };
            let pk = t
                .primary_key
                .iter()
                .position(|&p| p == i)
                .map_or(0, |k| k + 1);
            let mut r = vec![
                int(i - skipped),
                text(&c.name),
                text(&c.decl_type),
                int(i64::from(c.not_null)),
                c.default.as_deref().map_or(Value::Null, text),
                int(pk),
            ];
            if extended {
                r.push(int(hidden));
            }
            Some(r)
        })
        .collect())
}

/// A table's indexes, newest first (SQLite's list order); `origin` is
/// `pk` for the primary key's, `u` for another constraint's, `c` for one
/// made by CREATE INDEX.
fn index_list(t: &Table) -> Vec<Vec<Value>> {
    let pk = pk_index(t).map(|i| i.id);
    let mut idx: Vec<&Index> = t.indexes.iter().collect();
    idx.sort_by_key(|i| std::cmp::Reverse(i.id));
    idx.into_iter()
        .enumerate()
        .map(|(seq, i)| {
            let origin = match (i.auto, Some(i.id) == pk) {
                (true, true) => "pk",
                (true, false) => "u",
                _ => "c",
            };
            vec![
                int(seq),
                text(&i.name),
                int(i64::from(i.unique)),
                text(origin),
                int(i64::from(i.filter.is_some())),
            ]
        })
        .collect()
}

/// An index's columns; `extended`: also what follows the key in an entry
/// as SQLite lays it out (the rowid, or a WITHOUT ROWID table's primary
/// key columns, and for its primary key's index the other columns).
fn index_info(t: &Table, i: &Index, extended: bool) -> Vec<Vec<Value>> {
    let mut out = Vec::new();
    // `cid`: a column's position; -1 the rowid, -2 an expression (NULL
    // name), as SQLite shows them.
    let push = |out: &mut Vec<Vec<Value>>, cid: Option<usize>, desc: bool, coll: &str, key| {
        let seqno = out.len();
        let (cid_v, name) = match cid.and_then(|c| t.columns.get(c).map(|col| (c, col))) {
            Some((c, col)) => (int(c), text(&col.name)),
            None if cid == Some(crate::catalog::EXPR_COLUMN) => (int(-2), Value::Null),
            None => (int(-1), Value::Null),
        };
        out.push(if extended {
            vec![
                int(seqno),
                cid_v,
                name,
                int(i64::from(desc)),
                text(coll),
                int(i64::from(key)),
            ]
        } else {
            vec![int(seqno), cid_v, name]
        });
    };
    for (k, &c) in i.columns.iter().enumerate() {
        let desc = i.desc.get(k).copied().unwrap_or(false);
        push(&mut out, Some(c), desc, i.collation(k).name(), true);
    }
    if !extended {
        return out;
    }
    if !t.without_rowid {
        push(&mut out, None, false, "BINARY", false);
        return out;
    }
    let pk = pk_index(t);
    if pk.is_some_and(|p| p.id == i.id) {
        for (c, col) in t.columns.iter().enumerate() {
            if !i.columns.contains(&c) {
                push(&mut out, Some(c), false, col.collation.name(), false);
            }
        }
    } else if let Some(p) = pk {
        for (k, &c) in p.columns.iter().enumerate() {
            if !i.columns.contains(&c) {
                let desc = p.desc.get(k).copied().unwrap_or(false);
                push(&mut out, Some(c), desc, p.collation(k).name(), false);
            }
        }
    }
    out
}

/// The declared type of each column of view `v`, as SQLite's
/// `columnType` finds it: a result column that reads a table's column
/// directly (through subqueries and views, the leftmost SELECT of a
/// compound) has that column's declared type, any other ''. `None` when
/// the columns cannot be followed (views nested too deeply).
fn view_decl_types(schema: &Schema, v: &crate::catalog::View, depth: usize) -> Option<Vec<String>> {
    if depth > crate::depth::MAX_VIEW_DEPTH {
        return None;
    }
    let cols = query_columns(schema, &v.query, depth + 1)?;
    Some(cols.into_iter().map(|(_, t)| t).collect())
}

/// `(name, declared type)` of each result column of `q` (names only as
/// far as resolving references needs them).
fn query_columns(schema: &Schema, q: &Query, depth: usize) -> Option<Columns> {
    crate::depth::guarded(|| set_columns(schema, &q.body, depth))
}

fn set_columns(schema: &Schema, s: &SetExpr, depth: usize) -> Option<Columns> {
    match s {
        SetExpr::Select(sel) => select_columns(schema, sel, depth),
        SetExpr::Query(q) => query_columns(schema, q, depth),
        SetExpr::SetOp { left, .. } => set_columns(schema, left, depth),
        SetExpr::Values(rows) => {
            let n = rows.first().map_or(0, Vec::len);
            Some(
                (1..=n)
                    .map(|i| (format!("column{i}"), String::new()))
                    .collect(),
            )
        }
    }
}

/// One FROM source: its label and columns.
type FromCols = (String, Vec<(String, String)>);

fn from_columns(
    schema: &Schema,
    f: &FromItem,
    depth: usize,
    out: &mut Vec<FromCols>,
) -> Option<()> {
    match f {
        FromItem::Table { name, alias, .. } => {
            let label = alias.clone().unwrap_or_else(|| name.clone());
            let cols = if let Some(t) = schema.table(name) {
                t.columns
                    .iter()
                    .map(|c| (c.name.clone(), c.decl_type.clone()))
                    .collect()
            } else if let Some(v) = schema.view(name) {
                if depth > crate::depth::MAX_VIEW_DEPTH {
                    return None;
                }
                let mut cols = query_columns(schema, &v.query, depth + 1)?;
                for (c, n) in cols.iter_mut().zip(&v.columns) {
                    c.0 = n.clone();
                }
                cols
            } else {
                // A CTE or an introspection source: not followed.
                Vec::new()
            };
            out.push((label, cols));
        }
        FromItem::Subquery { query, alias } => {
            let cols = query_columns(schema, query, depth)?;
            out.push((alias.clone().unwrap_or_default(), cols));
        }
        FromItem::Function { name, alias, .. } => {
            out.push((alias.clone().unwrap_or_else(|| name.clone()), Vec::new()));
        }
        FromItem::Join {
            left, right, using, ..
        } => {
            from_columns(schema, left, depth, out)?;
            let before = out.len();
            from_columns(schema, right, depth, out)?;
            // The right copy of a USING column is not in `*`.
            for (_, cols) in out[before..].iter_mut() {
                cols.retain(|(c, _)| !using.iter().any(|u| u.eq_ignore_ascii_case(c)));
            }
        }
    }
    Some(())
}

fn select_columns(schema: &Schema, sel: &Select, depth: usize) -> Option<Columns> {
    let mut from = Vec::new();
    if let Some(f) = &sel.from {
        from_columns(schema, f, depth, &mut from)?;
    }
    let mut out = Vec::new();
    for it in &sel.items {
        match it {
            SelectItem::Wildcard => {
                for (_, cols) in &from {
                    out.extend(cols.iter().cloned());
                }
            }
            SelectItem::QualifiedWildcard(t) => {
                let (_, cols) = from.iter().find(|(l, _)| l.eq_ignore_ascii_case(t))?;
                out.extend(cols.iter().cloned());
            }
            SelectItem::Expr { expr, alias, .. } => {
                let (name, ty) = match expr {
                    Expr::Column { table, name } => {
                        let ty = from
                            .iter()
                            .filter(|(l, _)| {
                                table.as_ref().is_none_or(|t| l.eq_ignore_ascii_case(t))
                            })
                            .find_map(|(_, cols)| {
                                cols.iter().find(|(c, _)| c.eq_ignore_ascii_case(name))
                            })
                            .map(|(_, t)| t.clone())
                            .unwrap_or_default();
                        (name.clone(), ty)
                    }
                    _ => (String::new(), String::new()),
                };
                out.push((alias.clone().unwrap_or(name), ty));
            }
        }
    }
    Some(out)
}
