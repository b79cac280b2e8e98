//! The two engines under test behind one face: sealdb (in memory) and
//! SQLite (rusqlite's bundled build, in memory). Each runs one statement
//! and reports an [`Outcome`]: the rows of a query (or of RETURNING), the
//! number of rows a data change changed, or an error.
//!
//! Values cross over as [`V`], a copy of SQLite's five storage classes, so
//! that the comparison never depends on either engine's value type.
//!
//! A statement sealdb refuses as "not supported" is reported as
//! [`Outcome::Unsupported`], and the driver then does not run it on SQLite
//! at all, so the two databases stay identical.

use rusqlite::types::{Value as SqliteValue, ValueRef};
use sealdb::{Db, Error, Session, SqlErrorKind, ToValue, Value as SealValue};

/// A value in SQLite's five storage classes.
#[derive(Clone, Debug, PartialEq)]
pub enum V {
    /// NULL.
    Null,
    /// INTEGER.
    Int(i64),
    /// REAL.
    Real(f64),
    /// TEXT.
    Text(String),
    /// BLOB.
    Blob(Vec<u8>),
}

impl V {
    /// The value as an SQL literal (`1`, `1.5`, `'it''s'`, `x'00ff'`, `NULL`).
    pub fn literal(&self) -> String {
        match self {
            V::Null => "NULL".into(),
            V::Int(i) => i.to_string(),
            V::Real(r) => real_literal(*r),
            V::Text(s) => format!("'{}'", s.replace('\'', "''")),
            V::Blob(b) => format!(
                "x'{}'",
                b.iter().map(|x| format!("{x:02x}")).collect::<String>()
            ),
        }
    }
}

/// A REAL as a literal that reads back as the same double and is never
/// taken for an INTEGER (`3.0`, not `3`).
pub fn real_literal(r: f64) -> String {
    if r.is_infinite() {
        return if r > 0.0 {
            "1e999".into()
        } else {
            "-1e999".into()
        };
    }
    let s = format!("{r:?}");
    if s.contains(['.', 'e', 'E']) {
        s
    } else {
        format!("{s}.0")
    }
}

/// What one statement did.
#[derive(Clone, Debug)]
pub enum Outcome {
    /// Result rows (a query, or a data change with RETURNING).
    Rows(Vec<Vec<V>>),
    /// Rows changed by a data change (0 for DDL and transaction control).
    Changed(u64),
    /// The statement failed.
    Error(String),
    /// sealdb refused the statement as not supported (never SQLite).
    Unsupported(String),
}

/// Whether the driver expects rows or a change count.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// A query, or a data change with RETURNING.
    Rows,
    /// A data change, DDL or transaction control.
    Exec,
}

/// One engine.
pub trait Engine {
    /// Runs `sql` with `params` bound to `?1`, `?2`, ...
    fn run(&mut self, sql: &str, params: &[V], mode: Mode) -> Outcome;
}

/// sealdb, in memory, as root.
pub struct Sealdb {
    // The session borrows nothing from the Db; both live as long as this.
    session: Session,
    _db: Db,
}

impl Sealdb {
    /// A fresh, empty in-memory database.
    pub fn new() -> Sealdb {
        let db = Db::open_in_memory().expect("open sealdb in memory");
        let session = db.root_session();
        Sealdb { session, _db: db }
    }
}

fn to_seal(v: &V) -> SealValue {
    match v {
        V::Null => SealValue::Null,
        V::Int(i) => SealValue::Integer(*i),
        V::Real(r) => SealValue::Real(*r),
        V::Text(s) => SealValue::Text(s.clone()),
        V::Blob(b) => SealValue::Blob(b.clone()),
    }
}

fn from_seal(v: &SealValue) -> V {
    match v {
        SealValue::Null => V::Null,
        SealValue::Integer(i) => V::Int(*i),
        SealValue::Real(r) => V::Real(*r),
        SealValue::Text(s) => V::Text(s.clone()),
        SealValue::Blob(b) => V::Blob(b.clone()),
        #[allow(unreachable_patterns)]
        _ => V::Null,
    }
}

fn seal_error(e: Error) -> Outcome {
    match &e {
        Error::Sql {
            kind: SqlErrorKind::Unsupported,
            ..
        } => Outcome::Unsupported(e.to_string()),
        _ => Outcome::Error(e.to_string()),
    }
}

impl Engine for Sealdb {
    fn run(&mut self, sql: &str, params: &[V], mode: Mode) -> Outcome {
        let owned: Vec<SealValue> = params.iter().map(to_seal).collect();
        let refs: Vec<&dyn ToValue> = owned.iter().map(|v| v as &dyn ToValue).collect();
        match mode {
            Mode::Exec => match self.session.execute(sql, &refs) {
                Ok(n) => Outcome::Changed(n),
                Err(e) => seal_error(e),
            },
            Mode::Rows => {
                let mut rows = match self.session.query(sql, &refs) {
                    Ok(r) => r,
                    Err(e) => return seal_error(e),
                };
                let mut out = Vec::new();
                loop {
                    match rows.next() {
                        Ok(Some(r)) => out.push(r.values().iter().map(from_seal).collect()),
                        Ok(None) => return Outcome::Rows(out),
                        Err(e) => return seal_error(e),
                    }
                }
            }
        }
    }
}

/// SQLite, in memory, with its default settings (recursive triggers off).
pub struct Sqlite {
    conn: rusqlite::Connection,
}

impl Sqlite {
    /// A fresh, empty in-memory database.
    pub fn new() -> Sqlite {
        let conn = rusqlite::Connection::open_in_memory().expect("open sqlite in memory");
        // rusqlite's bundled build turns foreign keys on; SQLite's default
        // is off (and the generator declares none).
        conn.execute_batch("PRAGMA foreign_keys = OFF")
            .expect("pragma");
        Sqlite { conn }
    }

    /// Whether no transaction is open.
    pub fn is_autocommit(&self) -> bool {
        self.conn.is_autocommit()
    }

    /// A copy of the database in a new connection (same settings);
    /// `None` if the copy fails. Only taken outside a transaction: the
    /// copy has none open.
    pub fn snapshot(&self) -> Option<Sqlite> {
        let mut copy = Sqlite::new();
        rusqlite::backup::Backup::new(&self.conn, &mut copy.conn)
            .ok()?
            .run_to_completion(1000, std::time::Duration::ZERO, None)
            .ok()?;
        Some(copy)
    }
}

fn to_sqlite(v: &V) -> SqliteValue {
    match v {
        V::Null => SqliteValue::Null,
        V::Int(i) => SqliteValue::Integer(*i),
        V::Real(r) => SqliteValue::Real(*r),
        V::Text(s) => SqliteValue::Text(s.clone()),
        V::Blob(b) => SqliteValue::Blob(b.clone()),
    }
}

fn from_sqlite(v: ValueRef<'_>) -> V {
    match v {
        ValueRef::Null => V::Null,
        ValueRef::Integer(i) => V::Int(i),
        ValueRef::Real(r) => V::Real(r),
        ValueRef::Text(t) => V::Text(String::from_utf8_lossy(t).into_owned()),
        ValueRef::Blob(b) => V::Blob(b.to_vec()),
    }
}

impl Engine for Sqlite {
    fn run(&mut self, sql: &str, params: &[V], mode: Mode) -> Outcome {
        let values: Vec<SqliteValue> = params.iter().map(to_sqlite).collect();
        let mut stmt = match self.conn.prepare(sql) {
            Ok(s) => s,
            Err(e) => return Outcome::Error(e.to_string()),
        };
        let p = rusqlite::params_from_iter(values.iter());
        match mode {
            Mode::Exec => match stmt.execute(p) {
                Ok(_) => Outcome::Changed(self.conn.changes()),
                Err(e) => Outcome::Error(e.to_string()),
            },
            Mode::Rows => {
                let n = stmt.column_count();
                let mut rows = match stmt.query(p) {
                    Ok(r) => r,
                    Err(e) => return Outcome::Error(e.to_string()),
                };
                let mut out = Vec::new();
                loop {
                    match rows.next() {
                        Ok(Some(r)) => out.push(
                            (0..n)
                                .map(|i| r.get_ref(i).map(from_sqlite).unwrap_or(V::Null))
                                .collect(),
                        ),
                        Ok(None) => return Outcome::Rows(out),
                        Err(e) => return Outcome::Error(e.to_string()),
                    }
                }
            }
        }
    }
}
