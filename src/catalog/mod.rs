//! `catalog`: tables, columns, indexes and views, stored in system keys.
//!
//! Like SQLite's `sqlite_master`, each schema object is one row holding its
//! kind, name, numeric id and the SQL that recreates it; the in-memory
//! [`Schema`] is rebuilt by parsing those statements. Catalog rows are
//! ordinary keys, written in the same transaction as the DDL, so DDL is
//! transactional.
//!
//! ```text
//!   catalog row  0x00 'c' kind name_lowercase → row[kind, name, id, sql]
//!                (a table's row adds: text column ids "1,2,5", next column id;
//!                 a view's row adds: blob of the (id, name) it binds)
//!   id counter   0x00 'c' 0x00 → row[0, '', next object id, '']
//!   table row    't' table_id u32be 'r' rowid-key → row of column values
//!   index entry  't' table_id u32be 'i' index_id u32be key-columns… rowid-key → ()
//! ```
//!
//! Every table has a 64-bit rowid (an `INTEGER PRIMARY KEY` column is an
//! alias of it, as in SQLite); other primary keys are unique indexes.
//!
//! Identities: every table, index, view and trigger has a numeric id and
//! every column an id within its table. Ids are never reused — the next
//! object id is stored (so dropping the newest object and reopening does
//! not hand its id out again) and so is each table's next column id — and
//! they survive renames. The security catalog keys grants, owners and
//! policies by these ids, never by names, so a rename cannot move a grant
//! onto another object and a new object with an old name inherits nothing.

mod tables;

pub use tables::Tables;

use std::collections::HashMap;
use std::sync::Arc;

use crate::encoding::{decode_row, encode_index_value, encode_row};
use crate::error::{Error, Result, SqlErrorKind};
use crate::syntax::ast::{
    CheckSpec, ColumnSpec, CreateIndex, CreateTable, CreateTrigger, FkAction, ForeignKeySpec,
    GeneratedSpec, IndexedColumn, Query, Statement,
};
use crate::types::{affinity_of_type, Affinity, Collation, Value};

/// The table AUTOINCREMENT keeps the largest rowid of each of its tables
/// in (SQLite's name and layout: `name`, `seq`).
pub const SEQUENCE_TABLE: &str = "sqlite_sequence";

/// Whether `name` is reserved for objects the database makes itself
/// (SQLite: names beginning with `sqlite_`).
pub fn is_reserved_name(name: &str) -> bool {
    name.len() >= 7 && name[..7].eq_ignore_ascii_case("sqlite_")
}

/// The key of `PRAGMA user_version` (an encoded row of one INTEGER; absent
/// means 0). Outside the catalog prefix: no schema object.
pub const USER_VERSION_KEY: &[u8] = b"\x00s/user_version";

/// Prefix of every catalog key.
pub const CATALOG_PREFIX: &[u8] = b"\x00c";

/// A column.
#[derive(Clone, Debug)]
pub struct Column {
    /// Id within its table: never reused, kept across renames.
    pub id: u32,
    /// Name as declared.
    pub name: String,
    /// Declared type.
    pub decl_type: String,
    /// Affinity from the declared type.
    pub affinity: Affinity,
    /// NOT NULL.
    pub not_null: bool,
    /// DEFAULT as SQL text.
    pub default: Option<String>,
    /// The default collating sequence of comparisons, sorts and keys on
    /// this column.
    pub collation: Collation,
    /// A generated column's expression (as SQL text over the table's
    /// columns) and whether it is STORED; `sql::generated` computes it.
    pub generated: Option<GeneratedSpec>,
}

/// A secondary index (also used for UNIQUE and non-rowid PRIMARY KEYs).
#[derive(Clone, Debug)]
pub struct Index {
    /// Numeric id (part of its keys).
    pub id: u32,
    /// Name.
    pub name: String,
    /// Column positions in the table.
    pub columns: Vec<usize>,
    /// DESC per column.
    pub desc: Vec<bool>,
    /// Collating sequence per column: its text keys are stored folded by
    /// it (see [`Collation::fold`]), so equal keys are equal bytes.
    pub collations: Vec<Collation>,
    /// UNIQUE.
    pub unique: bool,
    /// Made for a constraint (dropped with the table, not by DROP INDEX).
    pub auto: bool,
    /// A partial index's WHERE, as SQL text over the table's columns:
    /// only rows where it is true have entries.
    pub filter: Option<String>,
    /// Per key column, the expression it holds (SQL text over the table's
    /// columns) for an index on expressions; its `columns` entry is then
    /// [`EXPR_COLUMN`], no column's position.
    pub exprs: Vec<Option<String>>,
}

/// The position in [`Index::columns`] of a key that is an expression
/// (SQLite's `XN_EXPR`): no column has it, so comparing it with a column
/// position never matches.
pub const EXPR_COLUMN: usize = usize::MAX;

impl Index {
    /// The expression key column `k` holds, if it is one.
    pub fn expr(&self, k: usize) -> Option<&str> {
        self.exprs.get(k).and_then(|e| e.as_deref())
    }

    /// Whether some key column is an expression.
    pub fn has_exprs(&self) -> bool {
        self.exprs.iter().any(Option::is_some)
    }

    /// The collating sequence of key column `k`.
    pub fn collation(&self, k: usize) -> Collation {
        self.collations.get(k).copied().unwrap_or_default()
    }

    /// Appends key column `k` holding `v` to an index key or probe.
    pub fn encode_key_column(&self, k: usize, v: &Value, out: &mut Vec<u8>) {
        let folded = self.collation(k).fold_value(v);
        encode_index_value(&folded, self.desc.get(k).copied().unwrap_or(false), out);
    }
}

/// A table.
#[derive(Clone, Debug)]
pub struct Table {
    /// Numeric id (part of its keys).
    pub id: u32,
    /// Name as declared.
    pub name: String,
    /// Columns in order.
    pub columns: Vec<Column>,
    /// The column that aliases the rowid (`INTEGER PRIMARY KEY`).
    pub rowid_alias: Option<usize>,
    /// PRIMARY KEY columns (empty: none declared).
    pub primary_key: Vec<usize>,
    /// Indexes.
    pub indexes: Vec<Index>,
    /// WITHOUT ROWID: no rowid visible (rows are still kept by an internal
    /// one), and the primary key columns are NOT NULL.
    pub without_rowid: bool,
    /// STRICT: values must be of the declared types.
    pub strict: bool,
    /// AUTOINCREMENT on the INTEGER PRIMARY KEY: rowids are never reused
    /// (the largest one used is kept in `sqlite_sequence`).
    pub autoincrement: bool,
    /// The id the next added column gets.
    pub next_column_id: u32,
    /// CHECK constraints (of columns and of the table), in the order they
    /// were written: a row must not make one false.
    pub checks: Vec<CheckSpec>,
    /// FOREIGN KEY constraints (this table is their child), in the order
    /// they were written; the child column names are this table's, the
    /// parent is resolved when a row changes (see `sql::run::foreign_key`).
    pub foreign_keys: Vec<ForeignKeySpec>,
    /// What the last ANALYZE measured of it (`None`: never analysed).
    pub stats: Option<Arc<TableStats>>,
}

/// ANALYZE's measurements of one table: SQLite's `sqlite_stat1` rows for
/// it. Kept under a catalog key of its own, by table and index ids, so a
/// rename carries them along and a dropped index's entry is never read
/// (ids are never reused).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TableStats {
    /// The row `(tbl, NULL, rows)`: written by SQLite only when no index
    /// of the table is a full (non-partial) one and the table has rows.
    pub rows: Option<u64>,
    /// Per index id, the numbers of its stat string (`"N d1 d2 ..."`): the
    /// entries, then per key prefix the average rows sharing one value.
    pub indexes: Vec<(u32, Vec<u64>)>,
}

impl TableStats {
    /// The numbers measured for index `id`, if it was analysed.
    pub fn of_index(&self, id: u32) -> Option<&[u64]> {
        self.indexes
            .iter()
            .find(|(i, _)| *i == id)
            .map(|(_, v)| v.as_slice())
    }

    /// Whether nothing is recorded (no row in `sqlite_stat1`).
    pub fn is_empty(&self) -> bool {
        self.rows.is_none() && self.indexes.is_empty()
    }

    /// The stored text: `t N` for the table row, `i <id> N d1 ...` per
    /// index, one per line.
    fn encode(&self) -> String {
        let mut lines = Vec::new();
        if let Some(n) = self.rows {
            lines.push(format!("t {n}"));
        }
        for (id, v) in &self.indexes {
            let nums: Vec<String> = v.iter().map(u64::to_string).collect();
            lines.push(format!("i {id} {}", nums.join(" ")));
        }
        lines.join("\n")
    }

    fn decode(text: &str) -> Option<TableStats> {
        let mut st = TableStats::default();
        for line in text.lines() {
            let mut w = line.split(' ');
            match w.next()? {
                "t" => st.rows = Some(w.next()?.parse().ok()?),
                "i" => {
                    let id = w.next()?.parse().ok()?;
                    let nums = w
                        .map(str::parse)
                        .collect::<std::result::Result<Vec<u64>, _>>();
                    st.indexes.push((id, nums.ok()?));
                }
                _ => return None,
            }
        }
        Some(st)
    }
}

/// A view.
#[derive(Clone, Debug)]
pub struct View {
    /// Numeric id (never reused).
    pub id: u32,
    /// Name.
    pub name: String,
    /// Explicit column names.
    pub columns: Vec<String>,
    /// The query.
    pub query: Query,
    /// Its SQL text.
    pub sql: String,
    /// The tables and views its query names, bound when it was created:
    /// (lowercase name, id). Expanding the view fails if a name now leads
    /// to another object (it was dropped and replaced), rather than read
    /// the newcomer with the view owner's rights. `None` for views stored
    /// before bindings were kept.
    pub binds: Option<Vec<(String, u32)>>,
}

impl View {
    /// The CREATE VIEW statement for this view (as stored in its catalog
    /// row).
    pub fn to_sql(&self) -> String {
        let cols = if self.columns.is_empty() {
            String::new()
        } else {
            format!(
                " ({})",
                self.columns
                    .iter()
                    .map(|c| quote(c))
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        };
        format!("CREATE VIEW {}{} AS {}", quote(&self.name), cols, self.sql)
    }
}

/// A trigger: its definition and its id (the key of its owner in the
/// security catalog).
#[derive(Clone, Debug)]
pub struct Trigger {
    /// Numeric id (never reused).
    pub id: u32,
    /// The definition.
    pub def: CreateTrigger,
}

impl std::ops::Deref for Trigger {
    type Target = CreateTrigger;
    fn deref(&self) -> &CreateTrigger {
        &self.def
    }
}

/// The whole schema, immutable; changed by building a new one (a copy
/// shares its maps: see [`Tables`]).
#[derive(Clone, Debug, Default)]
pub struct Schema {
    /// Tables by lowercase name (and their indexes' names).
    pub tables: Tables,
    /// Views by lowercase name.
    pub views: imbl::HashMap<String, Arc<View>>,
    /// Triggers by lowercase name.
    pub triggers: imbl::HashMap<String, Arc<Trigger>>,
    /// Next object id (stored: ids are never reused).
    pub next_id: u32,
}

/// Kinds of catalog rows (stored; frozen). Kind 0 is the id counter.
const K_COUNTER: i64 = 0;
const K_TABLE: i64 = 1;
const K_INDEX: i64 = 2;
const K_VIEW: i64 = 3;
const K_TRIGGER: i64 = 4;
/// ANALYZE's statistics of a table (keyed by the table's id).
const K_STAT: i64 = 5;

fn stat_key(table: u32) -> Vec<u8> {
    cat_key(K_STAT, &table.to_string())
}

fn cat_key(kind: i64, name: &str) -> Vec<u8> {
    let mut k = CATALOG_PREFIX.to_vec();
    k.push(kind as u8);
    k.extend_from_slice(name.to_lowercase().as_bytes());
    k
}

/// Prefix of all keys of table `id`.
pub fn table_prefix(id: u32) -> Vec<u8> {
    table_prefix_with_room(id, 0)
}

/// [`table_prefix`] with room for `more` bytes after it, so that building
/// a row or index key does not reallocate, nor does the storage engine
/// when it appends its 8-byte trailer to a committed key in place.
fn table_prefix_with_room(id: u32, more: usize) -> Vec<u8> {
    let mut k = Vec::with_capacity(5 + more + STORAGE_TRAILER);
    k.push(b't');
    k.extend_from_slice(&id.to_be_bytes());
    k
}

/// `name` as the catalog's maps key it (`to_lowercase`), borrowed when it
/// is already (every statement looks its tables up by name).
fn folded(name: &str) -> std::borrow::Cow<'_, str> {
    if name
        .bytes()
        .all(|b| b.is_ascii() && !b.is_ascii_uppercase())
    {
        std::borrow::Cow::Borrowed(name)
    } else {
        std::borrow::Cow::Owned(name.to_lowercase())
    }
}

/// What the storage engine appends to a key (its internal-key trailer).
const STORAGE_TRAILER: usize = 8;

/// Prefix of the rows of table `id`.
pub fn rows_prefix(id: u32) -> Vec<u8> {
    rows_bounds_array(id).0.to_vec()
}

/// Key of row `rowid` of table `id`.
pub fn row_key(id: u32, rowid: i64) -> Vec<u8> {
    let mut k = Vec::with_capacity(ROW_KEY_LEN + STORAGE_TRAILER);
    k.extend_from_slice(&row_key_array(id, rowid));
    k
}

/// Length of a row key.
pub const ROW_KEY_LEN: usize = 14;

/// [`row_key`] without an allocation (to compare, not to store).
pub fn row_key_array(id: u32, rowid: i64) -> [u8; ROW_KEY_LEN] {
    let mut k = [0; ROW_KEY_LEN];
    k[..6].copy_from_slice(&rows_bounds_array(id).0);
    k[6..].copy_from_slice(&((rowid as u64) ^ (1 << 63)).to_be_bytes());
    k
}

/// [`rows_prefix`] and the first key after every row key of table `id`
/// (the prefix's end), without an allocation.
pub fn rows_bounds_array(id: u32) -> ([u8; 6], [u8; 6]) {
    let mut lower = [0; 6];
    lower[0] = b't';
    lower[1..5].copy_from_slice(&id.to_be_bytes());
    lower[5] = b'r';
    let mut upper = lower;
    upper[5] = b'r' + 1;
    (lower, upper)
}

/// The rowid in a row key.
pub fn rowid_of_key(key: &[u8]) -> Result<i64> {
    let tail = key
        .len()
        .checked_sub(8)
        .map(|s| &key[s..])
        .ok_or_else(|| Error::Corruption {
            file: "<table>".into(),
            offset: 0,
            what: "short row key".into(),
        })?;
    let mut a = [0u8; 8];
    a.copy_from_slice(tail);
    Ok((u64::from_be_bytes(a) ^ (1 << 63)) as i64)
}

/// Prefix of the entries of index `index` of table `table`.
pub fn index_prefix(table: u32, index: u32) -> Vec<u8> {
    index_prefix_with_room(table, index, 0)
}

/// [`index_prefix`] with room for `more` bytes after it (an index probe's
/// key columns), so that appending them does not reallocate.
pub fn index_prefix_with_room(table: u32, index: u32, more: usize) -> Vec<u8> {
    let mut k = table_prefix_with_room(table, 5 + more);
    k.push(b'i');
    k.extend_from_slice(&index.to_be_bytes());
    k
}

/// Key of an index entry: prefix, key columns, rowid.
pub fn index_key(table: u32, idx: &Index, values: &[Value], rowid: i64) -> Vec<u8> {
    // Numbers take 18 bytes; text and blobs their length plus escapes
    // and terminator (reserved roughly: a longer key just grows).
    let room: usize = values
        .iter()
        .map(|v| match v {
            Value::Text(t) => t.len() + 4,
            Value::Blob(b) => b.len() + 4,
            _ => 18,
        })
        .sum();
    let mut k = table_prefix_with_room(table, 5 + room + 8);
    k.push(b'i');
    k.extend_from_slice(&idx.id.to_be_bytes());
    for (i, v) in values.iter().enumerate() {
        idx.encode_key_column(i, v, &mut k);
    }
    k.extend_from_slice(&((rowid as u64) ^ (1 << 63)).to_be_bytes());
    k
}

impl Table {
    /// Position of column `name` (case-insensitive).
    pub fn column(&self, name: &str) -> Option<usize> {
        self.columns
            .iter()
            .position(|c| c.name.eq_ignore_ascii_case(name))
    }

    /// Position of the column with id `id`.
    pub fn column_by_id(&self, id: u32) -> Option<usize> {
        self.columns.iter().position(|c| c.id == id)
    }

    /// Appends a column built from `spec`, with a fresh id.
    pub fn add_column(&mut self, spec: &ColumnSpec) {
        let mut c = column_of(spec);
        c.id = self.next_column_id;
        self.next_column_id += 1;
        self.columns.push(c);
    }

    /// The column ids as stored in the catalog row ("1,2,5").
    fn column_ids_text(&self) -> String {
        self.columns
            .iter()
            .map(|c| c.id.to_string())
            .collect::<Vec<_>>()
            .join(",")
    }

    /// Applies stored column ids (`None`: a row written before ids were
    /// stored; its columns are numbered in order from 1).
    fn set_column_ids(&mut self, stored: Option<(&str, i64)>) -> Result<()> {
        let bad = || Error::Corruption {
            file: "<catalog>".into(),
            offset: 0,
            what: format!("bad column ids for table {}", self.name),
        };
        match stored {
            None => {
                for (i, c) in self.columns.iter_mut().enumerate() {
                    c.id = i as u32 + 1;
                }
                self.next_column_id = self.columns.len() as u32 + 1;
            }
            Some((ids, next)) => {
                let ids: Vec<u32> = ids
                    .split(',')
                    .map(|x| x.parse().map_err(|_| bad()))
                    .collect::<Result<_>>()?;
                let next = u32::try_from(next).map_err(|_| bad())?;
                if ids.len() != self.columns.len() || ids.iter().any(|&i| i == 0 || i >= next) {
                    return Err(bad());
                }
                for (c, id) in self.columns.iter_mut().zip(ids) {
                    c.id = id;
                }
                self.next_column_id = next;
            }
        }
        Ok(())
    }

    /// The CREATE TABLE statement for this table.
    pub fn to_sql(&self) -> String {
        // An AUTOINCREMENT key can only be written on its column.
        let inline_pk = self.autoincrement.then_some(self.rowid_alias).flatten();
        let cols: Vec<String> = self
            .columns
            .iter()
            .enumerate()
            .map(|(i, c)| {
                let mut s = quote(&c.name);
                if !c.decl_type.is_empty() {
                    s.push(' ');
                    s.push_str(&c.decl_type);
                }
                if inline_pk == Some(i) {
                    s.push_str(" PRIMARY KEY AUTOINCREMENT");
                }
                if c.not_null {
                    s.push_str(" NOT NULL");
                }
                if let Some(d) = &c.default {
                    s.push_str(" DEFAULT ");
                    s.push_str(d);
                }
                if c.collation != Collation::Binary {
                    s.push_str(" COLLATE ");
                    s.push_str(c.collation.name());
                }
                if let Some(g) = &c.generated {
                    s.push_str(&format!(
                        " GENERATED ALWAYS AS ({}) {}",
                        g.expr,
                        if g.stored { "STORED" } else { "VIRTUAL" }
                    ));
                }
                for fk in self.foreign_keys.iter().filter(|f| {
                    f.column_level
                        && f.columns
                            .first()
                            .is_some_and(|n| n.eq_ignore_ascii_case(&c.name))
                }) {
                    s.push(' ');
                    s.push_str(&foreign_key_sql(fk));
                }
                s
            })
            .collect();
        let mut body = cols.join(", ");
        if !self.primary_key.is_empty() && inline_pk.is_none() {
            // The key's own order and collations are those of its
            // constraint index (`sqlite_autoindex_..._1`), or plain for a
            // rowid alias.
            let pk_index = self
                .indexes
                .iter()
                .find(|i| i.auto && i.columns == self.primary_key);
            let pk: Vec<String> = self
                .primary_key
                .iter()
                .enumerate()
                .map(|(k, &c)| {
                    let mut s = quote(&self.columns[c].name);
                    if let Some(idx) = pk_index {
                        if idx.collation(k) != self.columns[c].collation {
                            s.push_str(" COLLATE ");
                            s.push_str(idx.collation(k).name());
                        }
                        if idx.desc.get(k).copied().unwrap_or(false) {
                            s.push_str(" DESC");
                        }
                    }
                    s
                })
                .collect();
            body.push_str(&format!(", PRIMARY KEY ({})", pk.join(", ")));
        }
        // Column CHECKs are kept as table CHECKs (the same constraint, in
        // the same order).
        for c in &self.checks {
            if let Some(n) = &c.name {
                body.push_str(&format!(", CONSTRAINT {}", quote(n)));
            } else {
                body.push(',');
            }
            body.push_str(&format!(" CHECK ({})", c.expr));
        }
        for fk in self.foreign_keys.iter().filter(|f| !f.column_level) {
            body.push_str(", ");
            body.push_str(&foreign_key_sql(fk));
        }
        let mut sql = format!("CREATE TABLE {} ({})", quote(&self.name), body);
        let mut options = Vec::new();
        if self.without_rowid {
            options.push("WITHOUT ROWID");
        }
        if self.strict {
            options.push("STRICT");
        }
        if !options.is_empty() {
            sql.push(' ');
            sql.push_str(&options.join(", "));
        }
        sql
    }
}

impl Index {
    /// The CREATE INDEX statement for this index on `table`.
    pub fn to_sql(&self, table: &Table) -> String {
        let cols: Vec<String> = self
            .columns
            .iter()
            .enumerate()
            .map(|(k, &c)| {
                // An expression is kept in parentheses, so that COLLATE
                // after it applies to all of it when read again.
                let (mut s, own) = match (self.expr(k), table.columns.get(c)) {
                    (Some(e), _) => (format!("({e})"), Collation::Binary),
                    (None, Some(col)) => (quote(&col.name), col.collation),
                    (None, None) => ("\"?\"".to_string(), Collation::Binary),
                };
                if self.collation(k) != own {
                    s.push_str(" COLLATE ");
                    s.push_str(self.collation(k).name());
                }
                if self.desc.get(k).copied().unwrap_or(false) {
                    s.push_str(" DESC");
                }
                s
            })
            .collect();
        let mut sql = format!(
            "CREATE {}INDEX {} ON {} ({})",
            if self.unique { "UNIQUE " } else { "" },
            quote(&self.name),
            quote(&table.name),
            cols.join(", ")
        );
        if let Some(f) = &self.filter {
            sql.push_str(" WHERE ");
            sql.push_str(f);
        }
        sql
    }
}

/// A FOREIGN KEY as `CREATE TABLE` writes it: `REFERENCES ...` on its
/// column, or `FOREIGN KEY (...) REFERENCES ...` as a table constraint.
fn foreign_key_sql(fk: &ForeignKeySpec) -> String {
    let list = |names: &[String]| {
        names
            .iter()
            .map(|n| quote(n))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let mut s = if fk.column_level {
        format!("REFERENCES {}", quote(&fk.parent))
    } else {
        format!(
            "FOREIGN KEY ({}) REFERENCES {}",
            list(&fk.columns),
            quote(&fk.parent)
        )
    };
    if !fk.parent_columns.is_empty() {
        s.push_str(&format!(" ({})", list(&fk.parent_columns)));
    }
    if fk.on_delete != FkAction::NoAction {
        s.push_str(&format!(" ON DELETE {}", fk.on_delete.name()));
    }
    if fk.on_update != FkAction::NoAction {
        s.push_str(&format!(" ON UPDATE {}", fk.on_update.name()));
    }
    if fk.deferred {
        s.push_str(" DEFERRABLE INITIALLY DEFERRED");
    }
    s
}

fn quote(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

fn sql_err(kind: SqlErrorKind, msg: impl Into<String>) -> Error {
    Error::sql(kind, msg)
}

/// Writes into a transaction; implemented by the SQL layer's transaction.
pub trait CatalogWriter {
    /// Sets a key.
    fn put(&mut self, key: Vec<u8>, value: Vec<u8>) -> Result<()>;
    /// Deletes a key.
    fn delete(&mut self, key: Vec<u8>) -> Result<()>;
}

impl Schema {
    /// The table named `name`.
    pub fn table(&self, name: &str) -> Option<&Arc<Table>> {
        self.tables.get(folded(name).as_ref())
    }

    /// The view named `name`.
    pub fn view(&self, name: &str) -> Option<&Arc<View>> {
        self.views.get(folded(name).as_ref())
    }

    fn name_taken(&self, name: &str) -> bool {
        let l = name.to_lowercase();
        if self.triggers.contains_key(&l) {
            return true;
        }
        self.tables.contains_key(&l)
            || self.views.contains_key(&l)
            || self.tables.index_name_taken(&l)
    }

    /// Rebuilds the schema from catalog rows `(key, value)`.
    pub fn load(rows: impl Iterator<Item = Result<(Vec<u8>, Vec<u8>)>>) -> Result<Schema> {
        let mut schema = Schema {
            next_id: 1,
            ..Schema::default()
        };
        let mut indexes = Vec::new();
        let mut stats = Vec::new();
        let malformed = || Error::Corruption {
            file: "<catalog>".into(),
            offset: 0,
            what: "malformed catalog row".into(),
        };
        for row in rows {
            let (_, v) = row?;
            let vals = decode_row(&v)?;
            let mut view_binds = None;
            let (kind, id, sql, column_ids) = match vals.as_slice() {
                [Value::Integer(k), Value::Text(_), Value::Integer(id), Value::Text(sql)] => {
                    (*k, *id, sql.clone(), None)
                }
                [Value::Integer(k), Value::Text(_), Value::Integer(id), Value::Text(sql), Value::Text(ids), Value::Integer(next)] => {
                    (*k, *id, sql.clone(), Some((ids.as_str(), *next)))
                }
                [Value::Integer(k), Value::Text(_), Value::Integer(id), Value::Text(sql), Value::Blob(b)]
                    if *k == K_VIEW =>
                {
                    view_binds = Some(decode_binds(b).ok_or_else(malformed)?);
                    (*k, *id, sql.clone(), None)
                }
                _ => return Err(malformed()),
            };
            let id = u32::try_from(id).map_err(|_| malformed())?;
            if kind == K_STAT {
                stats.push((id, TableStats::decode(&sql).ok_or_else(malformed)?));
                continue;
            }
            if kind == K_COUNTER {
                schema.next_id = schema.next_id.max(id);
                continue;
            }
            schema.next_id = schema.next_id.max(id.saturating_add(1));
            let parsed = crate::syntax::parse::parse(&sql)?;
            for st in parsed.statements {
                match (kind, st) {
                    (K_TABLE, Statement::CreateTable(ct)) => {
                        let mut t = build_table(id, &ct)?;
                        t.set_column_ids(column_ids)?;
                        schema.tables.insert(t.name.to_lowercase(), Arc::new(t));
                    }
                    (K_INDEX, Statement::CreateIndex(ci)) => indexes.push((id, ci)),
                    (K_TRIGGER, Statement::CreateTrigger(ct)) => {
                        schema
                            .triggers
                            .insert(ct.name.to_lowercase(), Arc::new(Trigger { id, def: *ct }));
                    }
                    (
                        K_VIEW,
                        Statement::CreateView {
                            name,
                            columns,
                            query,
                            query_sql,
                            ..
                        },
                    ) => {
                        schema.views.insert(
                            name.to_lowercase(),
                            Arc::new(View {
                                id,
                                name,
                                columns,
                                query: *query,
                                sql: query_sql,
                                binds: view_binds.take(),
                            }),
                        );
                    }
                    _ => {
                        return Err(Error::Corruption {
                            file: "<catalog>".into(),
                            offset: 0,
                            what: "catalog row does not match its kind".into(),
                        })
                    }
                }
            }
        }
        for (id, ci) in indexes {
            let t = schema.table(&ci.table).ok_or_else(|| {
                sql_err(
                    SqlErrorKind::UnknownTable,
                    format!("index {} on missing table {}", ci.name, ci.table),
                )
            })?;
            let mut t2 = (**t).clone();
            t2.indexes.push(build_index(
                id,
                &t2,
                &ci,
                ci.name.starts_with("sqlite_autoindex_"),
            )?);
            t2.indexes.sort_by_key(|i| i.id);
            schema.tables.insert(t2.name.to_lowercase(), Arc::new(t2));
        }
        let by_id: HashMap<u32, String> = schema
            .tables
            .values()
            .map(|t| (t.id, t.name.to_lowercase()))
            .collect();
        for (id, st) in stats {
            // DROP TABLE deletes a table's statistics with it; a row left
            // for a missing table would be only stale numbers, never a
            // reason to refuse the store.
            let Some(key) = by_id.get(&id) else { continue };
            if let Some(t) = schema.tables.get(key) {
                let mut t = (**t).clone();
                t.stats = Some(Arc::new(st));
                schema.tables.insert(key.clone(), Arc::new(t));
            }
        }
        Ok(schema)
    }

    /// CREATE TABLE: returns the new schema and writes the catalog rows.
    pub fn create_table(&self, ct: &CreateTable, w: &mut dyn CatalogWriter) -> Result<Schema> {
        if self.name_taken(&ct.name) {
            return Err(sql_err(
                SqlErrorKind::AlreadyExists,
                format!("table {} already exists", ct.name),
            ));
        }
        let mut s = self.clone();
        let id = s.alloc_id(w)?;
        let mut t = build_table(id, ct)?;
        // Constraint indexes: a PRIMARY KEY that is no rowid alias, then
        // the UNIQUE constraints, as SQLite numbers its autoindexes.
        let mut uniques: Vec<Vec<IndexedColumn>> = Vec::new();
        let pk: Vec<IndexedColumn> = if !ct.primary_key.is_empty() {
            ct.primary_key.clone()
        } else {
            ct.columns
                .iter()
                .filter(|c| c.primary_key)
                .map(|c| IndexedColumn {
                    desc: c.primary_key_desc,
                    ..IndexedColumn::plain(c.name.clone())
                })
                .collect()
        };
        if !pk.is_empty() && t.rowid_alias.is_none() {
            uniques.push(pk);
        }
        uniques.extend(
            ct.columns
                .iter()
                .filter(|c| c.unique)
                .map(|c| vec![IndexedColumn::plain(c.name.clone())]),
        );
        uniques.extend(ct.uniques.iter().cloned());
        for (n, cols) in uniques.into_iter().enumerate() {
            let iid = s.alloc_id(w)?;
            let ci = CreateIndex {
                name: format!("sqlite_autoindex_{}_{}", t.name, n + 1),
                table: t.name.clone(),
                columns: cols,
                unique: true,
                if_not_exists: false,
                filter: None,
            };
            let idx = build_index(iid, &t, &ci, true)?;
            w.put(
                cat_key(K_INDEX, &idx.name),
                encode_catalog(K_INDEX, &idx.name, iid, &idx.to_sql(&t)),
            )?;
            t.indexes.push(idx);
        }
        w.put(cat_key(K_TABLE, &t.name), encode_table(&t))?;
        let autoincrement = t.autoincrement;
        s.tables.insert(t.name.to_lowercase(), Arc::new(t));
        // The first AUTOINCREMENT table brings sqlite_sequence, where the
        // largest rowid each such table used is kept (see sql::write).
        if autoincrement && s.table(SEQUENCE_TABLE).is_none() {
            let id = s.next_id;
            s.next_id += 1;
            let ct = CreateTable {
                checks: Vec::new(),
                foreign_keys: Vec::new(),
                name: SEQUENCE_TABLE.to_string(),
                if_not_exists: false,
                columns: ["name", "seq"]
                    .iter()
                    .map(|n| ColumnSpec {
                        name: n.to_string(),
                        ..ColumnSpec::default()
                    })
                    .collect(),
                primary_key: Vec::new(),
                uniques: Vec::new(),
                as_query: None,
                without_rowid: false,
                strict: false,
            };
            let seq = build_table(id, &ct)?;
            w.put(cat_key(K_TABLE, &seq.name), encode_table(&seq))?;
            s.tables.insert(seq.name.to_lowercase(), Arc::new(seq));
        }
        Ok(s)
    }

    /// CREATE INDEX: returns the new schema and the new index (the caller
    /// fills it from the table's rows).
    pub fn create_index(
        &self,
        ci: &CreateIndex,
        w: &mut dyn CatalogWriter,
    ) -> Result<(Schema, Arc<Table>, Index)> {
        if self.name_taken(&ci.name) {
            return Err(sql_err(
                SqlErrorKind::AlreadyExists,
                format!("index {} already exists", ci.name),
            ));
        }
        let t = self.table(&ci.table).ok_or_else(|| {
            sql_err(
                SqlErrorKind::UnknownTable,
                format!("no such table: {}", ci.table),
            )
        })?;
        let mut s = self.clone();
        let id = s.alloc_id(w)?;
        let idx = build_index(id, t, ci, false)?;
        w.put(
            cat_key(K_INDEX, &idx.name),
            encode_catalog(K_INDEX, &idx.name, id, &idx.to_sql(t)),
        )?;
        let mut t2 = (**t).clone();
        t2.indexes.push(idx.clone());
        let t2 = Arc::new(t2);
        s.tables.insert(t2.name.to_lowercase(), t2.clone());
        Ok((s, t2, idx))
    }

    /// CREATE VIEW (the view's id is assigned here).
    pub fn create_view(&self, mut view: View, w: &mut dyn CatalogWriter) -> Result<Schema> {
        if self.name_taken(&view.name) {
            return Err(sql_err(
                SqlErrorKind::AlreadyExists,
                format!("view {} already exists", view.name),
            ));
        }
        let mut s = self.clone();
        let id = s.alloc_id(w)?;
        view.id = id;
        w.put(cat_key(K_VIEW, &view.name), encode_view(&view))?;
        s.views.insert(view.name.to_lowercase(), Arc::new(view));
        Ok(s)
    }

    /// Stores `view` in place of the view of its name, keeping its id
    /// (its text rewritten by ALTER TABLE RENAME).
    pub fn replace_view(&self, view: Arc<View>, w: &mut dyn CatalogWriter) -> Result<Schema> {
        w.put(cat_key(K_VIEW, &view.name), encode_view(&view))?;
        let mut s = self.clone();
        s.views.insert(view.name.to_lowercase(), view);
        Ok(s)
    }

    /// Stores `trigger` in place of the trigger of its name, keeping its
    /// id (its text rewritten by ALTER TABLE RENAME).
    pub fn replace_trigger(
        &self,
        trigger: Arc<Trigger>,
        w: &mut dyn CatalogWriter,
    ) -> Result<Schema> {
        w.put(
            cat_key(K_TRIGGER, &trigger.name),
            encode_catalog(K_TRIGGER, &trigger.name, trigger.id, &trigger.sql),
        )?;
        let mut s = self.clone();
        s.triggers.insert(trigger.name.to_lowercase(), trigger);
        Ok(s)
    }

    /// Replaces table `old` by `new` (same id): ALTER TABLE.
    pub fn replace_table(
        &self,
        old: &Table,
        new: Table,
        w: &mut dyn CatalogWriter,
    ) -> Result<(Schema, Arc<Table>)> {
        if !old.name.eq_ignore_ascii_case(&new.name) && self.name_taken(&new.name) {
            return Err(sql_err(
                SqlErrorKind::AlreadyExists,
                format!(
                    "there is already another table or index with this name: {}",
                    new.name
                ),
            ));
        }
        w.delete(cat_key(K_TABLE, &old.name))?;
        for i in &old.indexes {
            w.delete(cat_key(K_INDEX, &i.name))?;
        }
        w.put(cat_key(K_TABLE, &new.name), encode_table(&new))?;
        for i in &new.indexes {
            w.put(
                cat_key(K_INDEX, &i.name),
                encode_catalog(K_INDEX, &i.name, i.id, &i.to_sql(&new)),
            )?;
        }
        let mut s = self.clone();
        s.tables.remove(&old.name.to_lowercase());
        let t = Arc::new(new);
        s.tables.insert(t.name.to_lowercase(), t.clone());
        Ok((s, t))
    }

    /// Triggers on table `name` (lowercase name order).
    pub fn triggers_on(&self, name: &str) -> Vec<Arc<Trigger>> {
        if self.triggers.is_empty() {
            return Vec::new();
        }
        let mut v: Vec<_> = self
            .triggers
            .values()
            .filter(|t| t.table.eq_ignore_ascii_case(name))
            .cloned()
            .collect();
        v.sort_by_key(|t| t.name.to_lowercase());
        v
    }

    /// CREATE TRIGGER.
    pub fn create_trigger(&self, ct: &CreateTrigger, w: &mut dyn CatalogWriter) -> Result<Schema> {
        if self.triggers.contains_key(&ct.name.to_lowercase()) {
            return Err(sql_err(
                SqlErrorKind::AlreadyExists,
                format!("trigger {} already exists", ct.name),
            ));
        }
        if self.table(&ct.table).is_none() && self.view(&ct.table).is_none() {
            return Err(sql_err(
                SqlErrorKind::UnknownTable,
                format!("no such table: {}", ct.table),
            ));
        }
        let mut s = self.clone();
        let id = s.alloc_id(w)?;
        w.put(
            cat_key(K_TRIGGER, &ct.name),
            encode_catalog(K_TRIGGER, &ct.name, id, &ct.sql),
        )?;
        s.triggers.insert(
            ct.name.to_lowercase(),
            Arc::new(Trigger {
                id,
                def: ct.clone(),
            }),
        );
        Ok(s)
    }

    /// DROP TRIGGER.
    pub fn drop_trigger(&self, name: &str, w: &mut dyn CatalogWriter) -> Result<Schema> {
        let t = self.triggers.get(&name.to_lowercase()).ok_or_else(|| {
            sql_err(
                SqlErrorKind::UnknownTable,
                format!("no such trigger: {name}"),
            )
        })?;
        w.delete(cat_key(K_TRIGGER, &t.name))?;
        let mut s = self.clone();
        s.triggers.remove(&name.to_lowercase());
        s.keep_counter(w)?;
        Ok(s)
    }

    /// DROP TABLE (its catalog rows; the caller deletes its data).
    pub fn drop_table(
        &self,
        name: &str,
        w: &mut dyn CatalogWriter,
    ) -> Result<(Schema, Arc<Table>)> {
        let t = self
            .table(name)
            .ok_or_else(|| sql_err(SqlErrorKind::UnknownTable, format!("no such table: {name}")))?
            .clone();
        let mut s = self.clone();
        w.delete(cat_key(K_TABLE, &t.name))?;
        if t.stats.is_some() {
            w.delete(stat_key(t.id))?;
        }
        for i in &t.indexes {
            w.delete(cat_key(K_INDEX, &i.name))?;
        }
        for trig in s.triggers_on(&t.name) {
            w.delete(cat_key(K_TRIGGER, &trig.name))?;
            s.triggers.remove(&trig.name.to_lowercase());
        }
        s.tables.remove(&t.name.to_lowercase());
        s.keep_counter(w)?;
        Ok((s, t))
    }

    /// DROP INDEX: returns the new schema, the table and the dropped index.
    pub fn drop_index(
        &self,
        name: &str,
        w: &mut dyn CatalogWriter,
    ) -> Result<(Schema, Arc<Table>, Index)> {
        let l = name.to_lowercase();
        let t = self
            .tables
            .values()
            .find(|t| t.indexes.iter().any(|i| i.name.to_lowercase() == l))
            .ok_or_else(|| sql_err(SqlErrorKind::UnknownTable, format!("no such index: {name}")))?;
        let mut t2 = (**t).clone();
        let pos = t2
            .indexes
            .iter()
            .position(|i| i.name.to_lowercase() == l)
            .unwrap_or(0);
        if t2.indexes[pos].auto {
            return Err(sql_err(
                SqlErrorKind::Misuse,
                format!("index associated with UNIQUE or PRIMARY KEY constraint cannot be dropped: {name}"),
            ));
        }
        let idx = t2.indexes.remove(pos);
        w.delete(cat_key(K_INDEX, &idx.name))?;
        // Its sqlite_stat1 row goes with it, as in SQLite.
        if let Some(st) = &t2.stats {
            let mut st = (**st).clone();
            st.indexes.retain(|(i, _)| *i != idx.id);
            t2.stats = write_stats(t2.id, st, w)?;
        }
        let mut s = self.clone();
        s.keep_counter(w)?;
        let t2 = Arc::new(t2);
        s.tables.insert(t2.name.to_lowercase(), t2.clone());
        Ok((s, t2, idx))
    }

    /// ANALYZE: replaces the statistics of table `name` with `stats`
    /// (`None` or empty: it has none).
    pub fn set_stats(
        &self,
        name: &str,
        stats: Option<TableStats>,
        w: &mut dyn CatalogWriter,
    ) -> Result<Schema> {
        let t = self
            .table(name)
            .ok_or_else(|| sql_err(SqlErrorKind::UnknownTable, format!("no such table: {name}")))?;
        let mut t2 = (**t).clone();
        t2.stats = match stats {
            Some(st) => write_stats(t2.id, st, w)?,
            None => {
                w.delete(stat_key(t2.id))?;
                None
            }
        };
        let mut s = self.clone();
        s.tables.insert(t2.name.to_lowercase(), Arc::new(t2));
        Ok(s)
    }

    /// DROP VIEW (with its INSTEAD OF triggers, as SQLite).
    pub fn drop_view(&self, name: &str, w: &mut dyn CatalogWriter) -> Result<Schema> {
        let v = self
            .view(name)
            .ok_or_else(|| sql_err(SqlErrorKind::UnknownTable, format!("no such view: {name}")))?;
        w.delete(cat_key(K_VIEW, &v.name))?;
        let mut s = self.clone();
        for trig in s.triggers_on(&v.name) {
            w.delete(cat_key(K_TRIGGER, &trig.name))?;
            s.triggers.remove(&trig.name.to_lowercase());
        }
        s.views.remove(&name.to_lowercase());
        s.keep_counter(w)?;
        Ok(s)
    }
}

impl Schema {
    /// A fresh object id; the stored counter moves with it, so the id is
    /// never handed out again, even after the object is dropped.
    fn alloc_id(&mut self, w: &mut dyn CatalogWriter) -> Result<u32> {
        let id = self.next_id.max(1);
        self.next_id = id
            .checked_add(1)
            .ok_or_else(|| sql_err(SqlErrorKind::Misuse, "the schema has run out of object ids"))?;
        w.put(
            cat_key(K_COUNTER, ""),
            encode_catalog(K_COUNTER, "", self.next_id, ""),
        )?;
        Ok(id)
    }

    /// Stores the id counter (before an object is dropped, so that even
    /// the newest object's id is not handed out again after a reopen).
    fn keep_counter(&self, w: &mut dyn CatalogWriter) -> Result<()> {
        w.put(
            cat_key(K_COUNTER, ""),
            encode_catalog(K_COUNTER, "", self.next_id.max(1), ""),
        )
    }

    /// The FOREIGN KEY constraints whose parent is table `name`: (child
    /// table, position in its `foreign_keys`), in SQLite's order (the
    /// newest table first, and within a table the last written first).
    pub fn foreign_keys_to(&self, name: &str) -> Vec<(Arc<Table>, usize)> {
        let mut children = self.tables.children_of(name);
        // Every use of the constraints of the test suites checks the map
        // against a pass over every table.
        debug_assert_eq!(
            {
                let mut ids: Vec<u32> = children.iter().map(|t| t.id).collect();
                ids.sort_unstable();
                ids
            },
            {
                let mut ids: Vec<u32> = self
                    .tables
                    .values()
                    .filter(|t| {
                        t.foreign_keys
                            .iter()
                            .any(|f| f.parent.eq_ignore_ascii_case(name))
                    })
                    .map(|t| t.id)
                    .collect();
                ids.sort_unstable();
                ids
            },
            "the children of {name}"
        );
        children.sort_by_key(|t| std::cmp::Reverse(t.id));
        let mut out = Vec::new();
        for t in children {
            for (k, f) in t.foreign_keys.iter().enumerate().rev() {
                if f.parent.eq_ignore_ascii_case(name) {
                    out.push((t.clone(), k));
                }
            }
        }
        out
    }

    /// The id of table or view `name`.
    pub fn object_id(&self, name: &str) -> Option<u32> {
        match self.table(name) {
            Some(t) => Some(t.id),
            None => self.view(name).map(|v| v.id),
        }
    }
}

/// A view's bindings as stored: per entry u32 id, u32 length, name bytes
/// (little-endian).
fn encode_binds(binds: &[(String, u32)]) -> Vec<u8> {
    let mut out = Vec::new();
    for (name, id) in binds {
        out.extend_from_slice(&id.to_le_bytes());
        out.extend_from_slice(&(name.len() as u32).to_le_bytes());
        out.extend_from_slice(name.as_bytes());
    }
    out
}

fn decode_binds(mut b: &[u8]) -> Option<Vec<(String, u32)>> {
    let mut out = Vec::new();
    while !b.is_empty() {
        let id = u32::from_le_bytes(b.get(..4)?.try_into().ok()?);
        let n = u32::from_le_bytes(b.get(4..8)?.try_into().ok()?) as usize;
        let name = std::str::from_utf8(b.get(8..8usize.checked_add(n)?)?).ok()?;
        out.push((name.to_string(), id));
        b = &b[8 + n..];
    }
    Some(out)
}

/// A view's catalog row: the common fields, then its bindings.
fn encode_view(view: &View) -> Vec<u8> {
    let mut row = Vec::new();
    encode_row(
        &[
            Value::Integer(K_VIEW),
            Value::Text(view.name.clone()),
            Value::Integer(i64::from(view.id)),
            Value::Text(view.to_sql()),
            Value::Blob(encode_binds(view.binds.as_deref().unwrap_or_default())),
        ],
        &mut row,
    );
    row
}

/// A table's catalog row: the common fields, then its column ids.
fn encode_table(t: &Table) -> Vec<u8> {
    let mut out = Vec::new();
    encode_row(
        &[
            Value::Integer(K_TABLE),
            Value::Text(t.name.clone()),
            Value::Integer(i64::from(t.id)),
            Value::Text(t.to_sql()),
            Value::Text(t.column_ids_text()),
            Value::Integer(i64::from(t.next_column_id)),
        ],
        &mut out,
    );
    out
}

/// Stores table `id`'s statistics (deletes them when empty); returns what
/// the table then holds.
fn write_stats(
    id: u32,
    st: TableStats,
    w: &mut dyn CatalogWriter,
) -> Result<Option<Arc<TableStats>>> {
    if st.is_empty() {
        w.delete(stat_key(id))?;
        return Ok(None);
    }
    w.put(stat_key(id), encode_catalog(K_STAT, "", id, &st.encode()))?;
    Ok(Some(Arc::new(st)))
}

fn encode_catalog(kind: i64, name: &str, id: u32, sql: &str) -> Vec<u8> {
    let mut out = Vec::new();
    encode_row(
        &[
            Value::Integer(kind),
            Value::Text(name.to_string()),
            Value::Integer(i64::from(id)),
            Value::Text(sql.to_string()),
        ],
        &mut out,
    );
    out
}

fn build_table(id: u32, ct: &CreateTable) -> Result<Table> {
    if ct.columns.is_empty() {
        return Err(sql_err(
            SqlErrorKind::Syntax,
            format!("table {} has no columns", ct.name),
        ));
    }
    let mut columns: Vec<Column> = Vec::new();
    for c in &ct.columns {
        if columns.iter().any(|x| x.name.eq_ignore_ascii_case(&c.name)) {
            return Err(sql_err(
                SqlErrorKind::AlreadyExists,
                format!("duplicate column name: {}", c.name),
            ));
        }
        if ct.strict {
            check_strict_type(&ct.name, c)?;
        }
        let mut col = column_of(c);
        if ct.strict && c.decl_type.eq_ignore_ascii_case("ANY") {
            // STRICT's ANY keeps every value as given.
            col.affinity = Affinity::Blob;
        }
        col.id = columns.len() as u32 + 1;
        columns.push(col);
    }
    check_generated_columns(ct)?;
    let position = |n: &str| {
        columns
            .iter()
            .position(|c| c.name.eq_ignore_ascii_case(n))
            .ok_or_else(|| sql_err(SqlErrorKind::UnknownColumn, format!("no such column: {n}")))
    };
    let column_pk: Vec<&ColumnSpec> = ct.columns.iter().filter(|c| c.primary_key).collect();
    if column_pk.len() + usize::from(!ct.primary_key.is_empty()) > 1 {
        return Err(sql_err(
            SqlErrorKind::Syntax,
            format!("table \"{}\" has more than one primary key", ct.name),
        ));
    }
    let pk_cols: Vec<usize> = if !ct.primary_key.is_empty() {
        ct.primary_key
            .iter()
            .map(|c| position(&c.name))
            .collect::<Result<_>>()?
    } else {
        column_pk
            .iter()
            .map(|c| position(&c.name))
            .collect::<Result<_>>()?
    };
    // Only a lone column declared exactly INTEGER (not PRIMARY KEY DESC)
    // aliases the rowid, and only in a table that has one.
    let pk_desc =
        column_pk.iter().any(|c| c.primary_key_desc) || ct.primary_key.iter().any(|c| c.desc);
    let rowid_alias = match pk_cols.as_slice() {
        [c] if columns[*c].decl_type.eq_ignore_ascii_case("INTEGER")
            && !pk_desc
            && !ct.without_rowid =>
        {
            Some(*c)
        }
        _ => None,
    };
    let autoincrement = ct.columns.iter().any(|c| c.autoincrement);
    if autoincrement {
        if ct.without_rowid {
            return Err(sql_err(
                SqlErrorKind::Syntax,
                "AUTOINCREMENT not allowed on WITHOUT ROWID tables",
            ));
        }
        if rowid_alias.is_none() {
            return Err(sql_err(
                SqlErrorKind::Syntax,
                "AUTOINCREMENT is only allowed on an INTEGER PRIMARY KEY",
            ));
        }
    }
    if ct.without_rowid && pk_cols.is_empty() {
        return Err(sql_err(
            SqlErrorKind::Syntax,
            format!("PRIMARY KEY missing on table {}", ct.name),
        ));
    }
    // The key of a WITHOUT ROWID or STRICT table is NOT NULL (elsewhere
    // SQLite keeps its old leniency), but for a rowid alias, where NULL
    // asks for a new rowid.
    if ct.without_rowid || ct.strict {
        for &c in &pk_cols {
            if Some(c) != rowid_alias {
                columns[c].not_null = true;
            }
        }
    }
    for fk in &ct.foreign_keys {
        check_foreign_key(fk, &columns)?;
    }
    let next_column_id = columns.len() as u32 + 1;
    Ok(Table {
        id,
        name: ct.name.clone(),
        columns,
        rowid_alias,
        primary_key: pk_cols,
        indexes: Vec::new(),
        without_rowid: ct.without_rowid,
        strict: ct.strict,
        autoincrement,
        next_column_id,
        checks: ct.checks.clone(),
        foreign_keys: ct.foreign_keys.clone(),
        stats: None,
    })
}

/// What SQLite checks of a FOREIGN KEY at CREATE TABLE (the parent is
/// looked at only when rows change): its child columns exist and are as
/// many as the parent columns it names.
fn check_foreign_key(fk: &ForeignKeySpec, columns: &[Column]) -> Result<()> {
    for c in &fk.columns {
        if !columns.iter().any(|x| x.name.eq_ignore_ascii_case(c)) {
            return Err(sql_err(
                SqlErrorKind::UnknownColumn,
                format!("unknown column \"{c}\" in foreign key definition"),
            ));
        }
    }
    if !fk.parent_columns.is_empty() && fk.parent_columns.len() != fk.columns.len() {
        return Err(sql_err(
            SqlErrorKind::Misuse,
            if fk.column_level {
                format!(
                    "foreign key on {} should reference only one column of table {}",
                    fk.columns[0], fk.parent
                )
            } else {
                "number of columns in foreign key does not match the number of columns in the referenced table".to_string()
            },
        ));
    }
    Ok(())
}

/// SQLite's rules on where generated columns may stand (their
/// expressions are checked in `sql::generated`).
fn check_generated_columns(ct: &CreateTable) -> Result<()> {
    let generated = |n: &str| {
        ct.columns
            .iter()
            .any(|c| c.generated.is_some() && c.name.eq_ignore_ascii_case(n))
    };
    for c in &ct.columns {
        if c.generated.is_some() && c.default.is_some() {
            return Err(sql_err(
                SqlErrorKind::Misuse,
                "cannot use DEFAULT on a generated column",
            ));
        }
    }
    let in_pk = ct
        .columns
        .iter()
        .any(|c| c.primary_key && c.generated.is_some())
        || ct.primary_key.iter().any(|c| generated(&c.name));
    if in_pk {
        return Err(sql_err(
            SqlErrorKind::Misuse,
            "generated columns cannot be part of the PRIMARY KEY",
        ));
    }
    if ct.columns.iter().all(|c| c.generated.is_some()) {
        return Err(sql_err(
            SqlErrorKind::Misuse,
            "must have at least one non-generated column",
        ));
    }
    Ok(())
}

/// The table `ct` would make (id 0, not added to any schema): what its
/// definition means, to be checked before it is created.
pub fn table_of_spec(ct: &CreateTable) -> Result<Table> {
    build_table(0, ct)
}

/// A STRICT table's column must name one of SQLite's six types.
fn check_strict_type(table: &str, c: &ColumnSpec) -> Result<()> {
    if c.decl_type.is_empty() {
        return Err(sql_err(
            SqlErrorKind::Syntax,
            format!("missing datatype for {table}.{}", c.name),
        ));
    }
    const TYPES: [&str; 6] = ["INT", "INTEGER", "REAL", "TEXT", "BLOB", "ANY"];
    if !TYPES.iter().any(|t| t.eq_ignore_ascii_case(&c.decl_type)) {
        return Err(sql_err(
            SqlErrorKind::Syntax,
            format!(
                "unknown datatype for {table}.{}: \"{}\"",
                c.name, c.decl_type
            ),
        ));
    }
    Ok(())
}

/// A column from its CREATE TABLE definition (id 0: the table assigns
/// it, see [`Table::add_column`] and `build_table`).
fn column_of(c: &ColumnSpec) -> Column {
    Column {
        id: 0,
        name: c.name.clone(),
        decl_type: c.decl_type.clone(),
        affinity: affinity_of_type(&c.decl_type),
        not_null: c.not_null,
        default: c.default.clone(),
        collation: c.collation.unwrap_or_default(),
        generated: c.generated.clone(),
    }
}

fn build_index(id: u32, t: &Table, ci: &CreateIndex, auto: bool) -> Result<Index> {
    let mut columns = Vec::new();
    let mut desc = Vec::new();
    let mut collations = Vec::new();
    let mut exprs = Vec::new();
    for ic in &ci.columns {
        exprs.push(ic.expr.clone());
        if ic.expr.is_some() {
            columns.push(EXPR_COLUMN);
            desc.push(ic.desc);
            collations.push(ic.collation.unwrap_or_default());
            continue;
        }
        let c = t.column(&ic.name).ok_or_else(|| {
            sql_err(
                SqlErrorKind::UnknownColumn,
                format!("no such column: {}", ic.name),
            )
        })?;
        columns.push(c);
        desc.push(ic.desc);
        collations.push(ic.collation.unwrap_or(t.columns[c].collation));
    }
    Ok(Index {
        id,
        name: ci.name.clone(),
        columns,
        desc,
        collations,
        unique: ci.unique,
        auto,
        filter: ci.filter.clone(),
        exprs,
    })
}
