//! `db`: the public Rust API — [`Db`], [`Session`], [`Rows`], [`Row`].
//!
//! ```text
//!   Db::open(path, key_provider)            one store, many sessions
//!     └─ Session (root_session)             statements, transactions
//!          ├─ execute(sql, params)          → rows changed
//!          ├─ query(sql, params) → Rows     streaming, typed row access
//!          ├─ prepare(sql) → Statement      parsed once, plan cached
//!          └─ transaction() → Transaction   rolled back on drop
//! ```
//!
//! Transactions: a session is in autocommit mode until `BEGIN` (or
//! [`Session::transaction`]); every statement then runs in that
//! transaction. A statement that fails undoes only its own effects; the
//! transaction stays usable. DDL is transactional: a session sees its own
//! uncommitted schema changes, others see them after commit.
//!
//! Authorization hooks in at one place, [`Session::check`], called for
//! every statement after planning and before execution (today: root may do
//! everything).

use std::cell::RefCell;
use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use parking_lot::RwLock;

use crate::catalog::{Schema, CATALOG_PREFIX};
use crate::crypto::{KeyBytes, KeyProvider, MemoryKeyProvider};
use crate::error::{Error, Result, SqlErrorKind};
use crate::sql::ast::Statement as Ast;
use crate::sql::exec::{describe, open, ExecCtx, RowIter};
use crate::sql::parse::{parse, Parsed};
use crate::sql::plan::{Planned, Planner};
use crate::sql::run;
use crate::sql::value::Value;
use crate::storage::{Direction, Engine, StorageOptions};
use crate::txn::{Mark, Txn, TxnManager};
use crate::vfs::{KeyOptions, MemVfs, OsVfs, Vfs};

/// How to open a database.
#[derive(Clone)]
pub struct Options {
    /// Storage engine tuning.
    pub storage: StorageOptions,
    /// Key management (rotation period, ...).
    pub keys: KeyOptions,
    /// How long a writer waits for another transaction before [`Error::Busy`].
    pub busy_timeout: Duration,
    /// The file system (default: the real one).
    pub vfs: Option<Arc<dyn Vfs>>,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            storage: StorageOptions::default(),
            keys: KeyOptions::default(),
            busy_timeout: Duration::from_secs(5),
            vfs: None,
        }
    }
}

struct DbInner {
    mgr: Arc<TxnManager>,
    schema: RwLock<Arc<Schema>>,
    busy_timeout: Duration,
}

/// An open database. Cheap to clone; every clone shares the store.
#[derive(Clone)]
pub struct Db {
    inner: Arc<DbInner>,
}

fn load_schema(mgr: &Arc<TxnManager>) -> Result<Schema> {
    let mut txn = mgr.begin();
    let mut end = CATALOG_PREFIX.to_vec();
    end.push(0xff);
    let rows = txn.scan(
        std::ops::Bound::Included(CATALOG_PREFIX.to_vec()),
        std::ops::Bound::Excluded(end),
        Direction::Forward,
    )?;
    Schema::load(rows)
}

impl Db {
    /// Opens (or creates) the database in directory `path`, encrypted with
    /// the keys of `provider`.
    pub fn open(path: impl AsRef<Path>, provider: impl KeyProvider + 'static) -> Result<Db> {
        Db::open_with(path, provider, Options::default())
    }

    /// [`Db::open`] with options.
    pub fn open_with(
        path: impl AsRef<Path>,
        provider: impl KeyProvider + 'static,
        options: Options,
    ) -> Result<Db> {
        let vfs: Arc<dyn Vfs> = options
            .vfs
            .clone()
            .unwrap_or_else(|| Arc::new(OsVfs::new()));
        let engine = Engine::open(
            vfs,
            path.as_ref(),
            Arc::new(provider),
            options.keys.clone(),
            options.storage.clone(),
        )?;
        let mgr = TxnManager::new(Arc::new(engine));
        let schema = load_schema(&mgr)?;
        Ok(Db {
            inner: Arc::new(DbInner {
                mgr,
                schema: RwLock::new(Arc::new(schema)),
                busy_timeout: options.busy_timeout,
            }),
        })
    }

    /// A database that lives in memory only (encrypted with a random key,
    /// like every sealdb store), gone when the last handle is dropped.
    pub fn open_in_memory() -> Result<Db> {
        let key = KeyBytes::random(32)?;
        let options = Options {
            vfs: Some(Arc::new(MemVfs::new())),
            storage: StorageOptions {
                sync: crate::storage::SyncMode::Normal,
                ..StorageOptions::default()
            },
            ..Options::default()
        };
        Db::open_with("/memory", MemoryKeyProvider::new(key)?, options)
    }

    /// A session with all rights: whoever holds the store key is the admin.
    pub fn root_session(&self) -> Session {
        Session {
            db: self.inner.clone(),
            state: RefCell::new(SessionState::default()),
        }
    }

    /// The storage engine (statistics, encryption status, key rotation).
    pub fn engine(&self) -> &Arc<Engine> {
        self.inner.mgr.engine()
    }
}

#[derive(Default)]
struct SessionState {
    txn: Option<Txn>,
    /// Schema changed by this session's open transaction.
    local_schema: Option<Arc<Schema>>,
    savepoints: Vec<(String, Mark, Option<Arc<Schema>>)>,
    /// The transaction was opened by SAVEPOINT (released → committed).
    txn_from_savepoint: bool,
    statements: HashMap<String, Arc<Parsed>>,
    last_rowid: i64,
    changes: u64,
}

/// A connection to a [`Db`]: runs statements, holds a transaction. Not
/// shared between threads (make one session per thread).
pub struct Session {
    db: Arc<DbInner>,
    state: RefCell<SessionState>,
}

/// A value that can be bound to a parameter.
pub trait ToValue {
    /// The SQL value.
    fn to_value(&self) -> Value;
}

macro_rules! to_value {
    ($($t:ty),*) => {$(
        impl ToValue for $t {
            fn to_value(&self) -> Value {
                Value::from(self.clone())
            }
        }
    )*};
}
to_value!(i64, i32, f64, String, Vec<u8>, bool);

impl ToValue for &str {
    fn to_value(&self) -> Value {
        Value::Text((*self).to_string())
    }
}

impl ToValue for str {
    fn to_value(&self) -> Value {
        Value::Text(self.to_string())
    }
}

impl ToValue for &[u8] {
    fn to_value(&self) -> Value {
        Value::Blob(self.to_vec())
    }
}

impl ToValue for Value {
    fn to_value(&self) -> Value {
        self.clone()
    }
}

impl<T: ToValue> ToValue for Option<T> {
    fn to_value(&self) -> Value {
        match self {
            Some(v) => v.to_value(),
            None => Value::Null,
        }
    }
}

/// A value that can be read from a result column.
pub trait FromValue: Sized {
    /// Converts, or fails with a type-mismatch error.
    fn from_value(v: &Value) -> Result<Self>;
}

fn mismatch(v: &Value, want: &str) -> Error {
    Error::sql(
        SqlErrorKind::TypeMismatch,
        format!("cannot read a {} value as {want}", v.type_name()),
    )
}

impl FromValue for i64 {
    fn from_value(v: &Value) -> Result<Self> {
        match v {
            Value::Integer(i) => Ok(*i),
            other => Err(mismatch(other, "an integer")),
        }
    }
}

impl FromValue for f64 {
    fn from_value(v: &Value) -> Result<Self> {
        match v {
            Value::Real(f) => Ok(*f),
            Value::Integer(i) => Ok(*i as f64),
            other => Err(mismatch(other, "a real")),
        }
    }
}

impl FromValue for String {
    fn from_value(v: &Value) -> Result<Self> {
        match v {
            Value::Text(s) => Ok(s.clone()),
            other => Err(mismatch(other, "text")),
        }
    }
}

impl FromValue for Vec<u8> {
    fn from_value(v: &Value) -> Result<Self> {
        match v {
            Value::Blob(b) => Ok(b.clone()),
            Value::Text(s) => Ok(s.as_bytes().to_vec()),
            other => Err(mismatch(other, "a blob")),
        }
    }
}

impl FromValue for bool {
    fn from_value(v: &Value) -> Result<Self> {
        match v {
            Value::Integer(i) => Ok(*i != 0),
            other => Err(mismatch(other, "a boolean")),
        }
    }
}

impl FromValue for Value {
    fn from_value(v: &Value) -> Result<Self> {
        Ok(v.clone())
    }
}

impl<T: FromValue> FromValue for Option<T> {
    fn from_value(v: &Value) -> Result<Self> {
        match v {
            Value::Null => Ok(None),
            other => T::from_value(other).map(Some),
        }
    }
}

/// One result row.
#[derive(Clone, Debug)]
pub struct Row {
    values: Vec<Value>,
    columns: Arc<[String]>,
}

impl Row {
    /// Column `i` converted to `T`.
    pub fn get<T: FromValue>(&self, i: usize) -> Result<T> {
        let v = self.values.get(i).ok_or_else(|| {
            Error::sql(
                SqlErrorKind::Misuse,
                format!(
                    "column index {i} out of range (the row has {})",
                    self.values.len()
                ),
            )
        })?;
        T::from_value(v)
    }

    /// The column named `name` converted to `T`.
    pub fn get_by_name<T: FromValue>(&self, name: &str) -> Result<T> {
        let i = self
            .columns
            .iter()
            .position(|c| c.eq_ignore_ascii_case(name))
            .ok_or_else(|| {
                Error::sql(
                    SqlErrorKind::UnknownColumn,
                    format!("no column named {name} in the result"),
                )
            })?;
        self.get(i)
    }

    /// All values.
    pub fn values(&self) -> &[Value] {
        &self.values
    }

    /// Consumes the row into its values.
    pub fn into_values(self) -> Vec<Value> {
        self.values
    }
}

enum Source {
    Stream(Box<dyn RowIter>),
    Buffered(std::vec::IntoIter<Vec<Value>>),
}

/// A streaming result set.
pub struct Rows<'s> {
    session: &'s Session,
    columns: Arc<[String]>,
    source: Source,
    /// Own read transaction (autocommit queries).
    txn: Option<Txn>,
    params: Vec<Value>,
    outer: Vec<Vec<Value>>,
    cache: HashMap<usize, Arc<Vec<Vec<Value>>>>,
}

impl Rows<'_> {
    /// Column names.
    pub fn columns(&self) -> &[String] {
        &self.columns
    }

    /// The next row, or `None` at the end.
    #[allow(clippy::should_implement_trait)]
    pub fn next(&mut self) -> Result<Option<Row>> {
        let values = match &mut self.source {
            Source::Buffered(it) => it.next(),
            Source::Stream(it) => {
                let busy_timeout = self.session.db.busy_timeout;
                match self.txn.as_mut() {
                    Some(txn) => {
                        let mut cx = ExecCtx {
                            txn,
                            params: &self.params,
                            outer: &mut self.outer,
                            cache: &mut self.cache,
                            busy_timeout,
                            trigger: None,
                        };
                        it.next(&mut cx)?
                    }
                    None => {
                        let mut st = self.session.state.borrow_mut();
                        let txn = st.txn.as_mut().ok_or_else(|| {
                            Error::sql(
                                SqlErrorKind::Misuse,
                                "the transaction of this result set has ended",
                            )
                        })?;
                        let mut cx = ExecCtx {
                            txn,
                            params: &self.params,
                            outer: &mut self.outer,
                            cache: &mut self.cache,
                            busy_timeout,
                            trigger: None,
                        };
                        it.next(&mut cx)?
                    }
                }
            }
        };
        Ok(values.map(|values| Row {
            values,
            columns: self.columns.clone(),
        }))
    }

    /// Reads all remaining rows.
    pub fn collect_all(mut self) -> Result<Vec<Row>> {
        let mut out = Vec::new();
        while let Some(r) = self.next()? {
            out.push(r);
        }
        Ok(out)
    }
}

/// A prepared statement: parsed once; its plan is cached while the schema
/// does not change.
pub struct Statement<'s> {
    session: &'s Session,
    parsed: Arc<Parsed>,
    plan: RefCell<Option<(Arc<Schema>, Arc<Planned>)>>,
}

impl Statement<'_> {
    /// Number of parameters.
    pub fn parameter_count(&self) -> usize {
        self.parsed.param_count
    }

    /// Index (1-based) of the named parameter (`:name`, `@name`, `$name`).
    pub fn parameter_index(&self, name: &str) -> Option<usize> {
        self.parsed
            .param_names
            .iter()
            .position(|n| n.as_deref() == Some(name))
            .map(|i| i + 1)
    }

    /// Runs the statement; returns rows changed.
    pub fn execute(&self, params: &[&dyn ToValue]) -> Result<u64> {
        self.session.run_parsed(&self.parsed, &values(params))
    }

    /// Runs a query statement.
    pub fn query(&self, params: &[&dyn ToValue]) -> Result<Rows<'_>> {
        let params = values(params);
        let [Ast::Query(q)] = self.parsed.statements.as_slice() else {
            return self.session.query_parsed(&self.parsed, params);
        };
        let schema = self.session.schema();
        let cached = self
            .plan
            .borrow()
            .as_ref()
            .filter(|(s, _)| Arc::ptr_eq(s, &schema))
            .map(|(_, p)| p.clone());
        let planned = match cached {
            Some(p) => p,
            None => {
                let p = Arc::new(Planner::new(&schema).query(q)?);
                *self.plan.borrow_mut() = Some((schema, p.clone()));
                p
            }
        };
        self.session.open_query(&planned, params)
    }
}

fn values(params: &[&dyn ToValue]) -> Vec<Value> {
    params.iter().map(|p| p.to_value()).collect()
}

/// An explicit transaction; rolled back when dropped without commit.
pub struct Transaction<'s> {
    session: &'s Session,
    done: bool,
}

impl Transaction<'_> {
    /// Runs a statement in the transaction.
    pub fn execute(&self, sql: &str, params: &[&dyn ToValue]) -> Result<u64> {
        self.session.execute(sql, params)
    }

    /// Runs a query in the transaction.
    pub fn query(&self, sql: &str, params: &[&dyn ToValue]) -> Result<Rows<'_>> {
        self.session.query(sql, params)
    }

    /// Commits.
    pub fn commit(mut self) -> Result<()> {
        self.done = true;
        self.session.commit()
    }

    /// Rolls back.
    pub fn rollback(mut self) -> Result<()> {
        self.done = true;
        self.session.rollback();
        Ok(())
    }
}

impl Drop for Transaction<'_> {
    fn drop(&mut self) {
        if !self.done {
            self.session.rollback();
        }
    }
}

impl Session {
    fn schema(&self) -> Arc<Schema> {
        let st = self.state.borrow();
        match &st.local_schema {
            Some(s) => s.clone(),
            None => self.db.schema.read().clone(),
        }
    }

    /// The one place every statement is authorized, after planning and
    /// before execution. Root may do everything; the security layer
    /// replaces this with real checks.
    fn check(&self, _stmt: &Ast) -> Result<()> {
        Ok(())
    }

    fn parsed(&self, sql: &str) -> Result<Arc<Parsed>> {
        if let Some(p) = self.state.borrow().statements.get(sql) {
            return Ok(p.clone());
        }
        let p = Arc::new(parse(sql)?);
        let mut st = self.state.borrow_mut();
        if st.statements.len() > 256 {
            st.statements.clear();
        }
        st.statements.insert(sql.to_string(), p.clone());
        Ok(p)
    }

    /// Runs one or more statements; returns the rows changed by the last.
    pub fn execute(&self, sql: &str, params: &[&dyn ToValue]) -> Result<u64> {
        let parsed = self.parsed(sql)?;
        self.run_parsed(&parsed, &values(params))
    }

    /// Runs a query and streams its rows.
    pub fn query(&self, sql: &str, params: &[&dyn ToValue]) -> Result<Rows<'_>> {
        let parsed = self.parsed(sql)?;
        self.query_parsed(&parsed, values(params))
    }

    /// Parses `sql` once for repeated execution.
    pub fn prepare(&self, sql: &str) -> Result<Statement<'_>> {
        let parsed = self.parsed(sql)?;
        if parsed.statements.len() != 1 {
            return Err(Error::sql(
                SqlErrorKind::Misuse,
                "prepare takes exactly one statement",
            ));
        }
        Ok(Statement {
            session: self,
            parsed,
            plan: RefCell::new(None),
        })
    }

    /// Runs every statement of `sql` in order, handing each result row to
    /// `on_row` with its column names (a script runner, like the shell's).
    /// Stops at the first failing statement.
    pub fn run_script(&self, sql: &str, mut on_row: impl FnMut(&[String], &Row)) -> Result<()> {
        let parsed = self.parsed(sql)?;
        for st in &parsed.statements {
            let single = Parsed {
                statements: vec![st.clone()],
                param_count: parsed.param_count,
                param_names: parsed.param_names.clone(),
            };
            let mut rows = self.query_parsed(&single, Vec::new())?;
            let columns: Vec<String> = rows.columns().to_vec();
            while let Some(r) = rows.next()? {
                on_row(&columns, &r);
            }
        }
        Ok(())
    }

    /// Names of the tables and views this session can see, sorted.
    pub fn table_names(&self) -> Vec<String> {
        let schema = self.schema();
        let mut names: Vec<String> = schema
            .tables
            .values()
            .map(|t| t.name.clone())
            .chain(schema.views.values().map(|v| v.name.clone()))
            .collect();
        names.sort();
        names
    }

    /// Starts an explicit transaction (like `BEGIN`).
    pub fn transaction(&self) -> Result<Transaction<'_>> {
        self.execute("BEGIN", &[])?;
        Ok(Transaction {
            session: self,
            done: false,
        })
    }

    /// Whether a transaction is open.
    pub fn in_transaction(&self) -> bool {
        self.state.borrow().txn.is_some()
    }

    /// Rowid of the last row inserted by this session.
    pub fn last_insert_rowid(&self) -> i64 {
        self.state.borrow().last_rowid
    }

    /// Rows changed by the last statement.
    pub fn changes(&self) -> u64 {
        self.state.borrow().changes
    }

    fn query_parsed(&self, parsed: &Parsed, params: Vec<Value>) -> Result<Rows<'_>> {
        check_params(parsed, &params)?;
        match parsed.statements.as_slice() {
            [Ast::Query(q)] => {
                self.check(&parsed.statements[0])?;
                let planned = Arc::new(Planner::new(&self.schema()).query(q)?);
                self.open_query(&planned, params)
            }
            [Ast::Pragma(name)] => {
                if name != "integrity_check" {
                    return Err(Error::sql(
                        SqlErrorKind::Unsupported,
                        format!("PRAGMA {name} is not supported"),
                    ));
                }
                let mut own = self.db.mgr.begin();
                let schema = self.schema();
                let lines = {
                    let mut st = self.state.borrow_mut();
                    let txn = match st.txn.as_mut() {
                        Some(t) => t,
                        None => &mut own,
                    };
                    let mut outer = Vec::new();
                    let mut cache = HashMap::new();
                    let mut cx = ExecCtx {
                        txn,
                        params: &params,
                        outer: &mut outer,
                        cache: &mut cache,
                        busy_timeout: self.db.busy_timeout,
                        trigger: None,
                    };
                    run::integrity_check(&mut cx, &schema)?
                };
                Ok(self.buffered(
                    vec!["integrity_check".to_string()],
                    lines.into_iter().map(|l| vec![Value::Text(l)]).collect(),
                ))
            }
            [Ast::Explain(inner)] => {
                let lines = match &**inner {
                    Ast::Query(q) => {
                        let planned = Planner::new(&self.schema()).query(q)?;
                        let mut out = Vec::new();
                        describe(&planned.plan, 0, &mut out);
                        out
                    }
                    other => vec![format!("{}", statement_kind(other))],
                };
                Ok(self.buffered(
                    vec!["detail".to_string()],
                    lines.into_iter().map(|l| vec![Value::Text(l)]).collect(),
                ))
            }
            [other] => {
                // DML with RETURNING yields rows; other statements none.
                let (cols, rows) = self.run_one(other, &params)?;
                Ok(self.buffered(cols, rows))
            }
            _ => Err(Error::sql(
                SqlErrorKind::Misuse,
                "query takes exactly one statement",
            )),
        }
    }

    /// A result set of rows already computed.
    fn buffered(&self, columns: Vec<String>, rows: Vec<Vec<Value>>) -> Rows<'_> {
        Rows {
            session: self,
            columns: Arc::from(columns),
            source: Source::Buffered(rows.into_iter()),
            txn: None,
            params: Vec::new(),
            outer: Vec::new(),
            cache: HashMap::new(),
        }
    }

    fn open_query(&self, planned: &Planned, params: Vec<Value>) -> Result<Rows<'_>> {
        let busy_timeout = self.db.busy_timeout;
        let mut own = if self.state.borrow().txn.is_some() {
            None
        } else {
            Some(self.db.mgr.begin())
        };
        let mut outer = Vec::new();
        let mut cache = HashMap::new();
        let it = {
            let mut st = self.state.borrow_mut();
            let txn = match own.as_mut() {
                Some(t) => t,
                None => st
                    .txn
                    .as_mut()
                    .ok_or_else(|| Error::sql(SqlErrorKind::Misuse, "no transaction"))?,
            };
            let mut cx = ExecCtx {
                txn,
                params: &params,
                outer: &mut outer,
                cache: &mut cache,
                busy_timeout,
                trigger: None,
            };
            open(&planned.plan, &mut cx, &[])?
        };
        Ok(Rows {
            session: self,
            columns: Arc::from(planned.columns.clone()),
            source: Source::Stream(it),
            txn: own,
            params,
            outer,
            cache,
        })
    }

    fn run_parsed(&self, parsed: &Parsed, params: &[Value]) -> Result<u64> {
        check_params(parsed, params)?;
        let mut changes = 0;
        for s in &parsed.statements {
            if let Ast::Query(_) | Ast::Explain(_) | Ast::Pragma(_) = s {
                // Run it to completion (errors surface), discard the rows.
                let single = Parsed {
                    statements: vec![s.clone()],
                    param_count: parsed.param_count,
                    param_names: parsed.param_names.clone(),
                };
                let mut rows = self.query_parsed(&single, params.to_vec())?;
                while rows.next()?.is_some() {}
                changes = 0;
                continue;
            }
            self.run_one(s, params)?;
            changes = self.state.borrow().changes;
        }
        Ok(changes)
    }

    fn commit(&self) -> Result<()> {
        let mut st = self.state.borrow_mut();
        let txn = st.txn.take().ok_or_else(|| {
            Error::sql(
                SqlErrorKind::Misuse,
                "cannot commit - no transaction is active",
            )
        })?;
        let local = st.local_schema.take();
        st.savepoints.clear();
        st.txn_from_savepoint = false;
        drop(st);
        txn.commit()?;
        if let Some(s) = local {
            *self.db.schema.write() = s;
        }
        Ok(())
    }

    fn rollback(&self) {
        let mut st = self.state.borrow_mut();
        st.txn = None;
        st.local_schema = None;
        st.savepoints.clear();
        st.txn_from_savepoint = false;
    }

    /// Runs one non-query statement; returns RETURNING columns and rows.
    fn run_one(&self, stmt: &Ast, params: &[Value]) -> Result<(Vec<String>, Vec<Vec<Value>>)> {
        self.check(stmt)?;
        match stmt {
            Ast::Begin => {
                let mut st = self.state.borrow_mut();
                if st.txn.is_some() {
                    return Err(Error::sql(
                        SqlErrorKind::Misuse,
                        "cannot start a transaction within a transaction",
                    ));
                }
                st.txn = Some(self.db.mgr.begin());
                return Ok((Vec::new(), Vec::new()));
            }
            Ast::Commit => {
                self.commit()?;
                return Ok((Vec::new(), Vec::new()));
            }
            Ast::Rollback(None) => {
                if self.state.borrow().txn.is_none() {
                    return Err(Error::sql(
                        SqlErrorKind::Misuse,
                        "cannot rollback - no transaction is active",
                    ));
                }
                self.rollback();
                return Ok((Vec::new(), Vec::new()));
            }
            Ast::Savepoint(name) => {
                let mut st = self.state.borrow_mut();
                if st.txn.is_none() {
                    st.txn = Some(self.db.mgr.begin());
                    st.txn_from_savepoint = true;
                }
                let mark = st.txn.as_ref().map(|t| t.mark());
                let schema = st.local_schema.clone();
                if let Some(m) = mark {
                    st.savepoints.push((name.clone(), m, schema));
                }
                return Ok((Vec::new(), Vec::new()));
            }
            Ast::Release(name) => {
                let mut st = self.state.borrow_mut();
                let pos = st
                    .savepoints
                    .iter()
                    .rposition(|(n, _, _)| n.eq_ignore_ascii_case(name))
                    .ok_or_else(|| {
                        Error::sql(SqlErrorKind::Misuse, format!("no such savepoint: {name}"))
                    })?;
                st.savepoints.truncate(pos);
                let finish = st.savepoints.is_empty() && st.txn_from_savepoint;
                drop(st);
                if finish {
                    self.commit()?;
                }
                return Ok((Vec::new(), Vec::new()));
            }
            Ast::Rollback(Some(name)) => {
                let mut st = self.state.borrow_mut();
                let pos = st
                    .savepoints
                    .iter()
                    .rposition(|(n, _, _)| n.eq_ignore_ascii_case(name))
                    .ok_or_else(|| {
                        Error::sql(SqlErrorKind::Misuse, format!("no such savepoint: {name}"))
                    })?;
                let (_, mark, schema) = st.savepoints[pos].clone();
                st.savepoints.truncate(pos + 1);
                st.local_schema = schema;
                if let Some(t) = st.txn.as_mut() {
                    t.rollback_to(mark);
                }
                return Ok((Vec::new(), Vec::new()));
            }
            _ => {}
        }
        let autocommit = self.state.borrow().txn.is_none();
        let mut txn = match self.state.borrow_mut().txn.take() {
            Some(t) => t,
            None => self.db.mgr.begin(),
        };
        let schema = self.schema();
        let result = (|| {
            txn.ensure_writer(self.db.busy_timeout)?;
            let mark = txn.mark();
            let mut outer = Vec::new();
            let mut cache = HashMap::new();
            let mut cx = ExecCtx {
                txn: &mut txn,
                params,
                outer: &mut outer,
                cache: &mut cache,
                busy_timeout: self.db.busy_timeout,
                trigger: None,
            };
            let r = exec_write(&mut cx, &schema, stmt);
            if r.is_err() {
                txn.rollback_to(mark);
            }
            r
        })();
        let (new_schema, changed) = match result {
            Ok(x) => x,
            Err(e) => {
                if !autocommit {
                    self.state.borrow_mut().txn = Some(txn);
                }
                return Err(e);
            }
        };
        {
            let mut st = self.state.borrow_mut();
            st.changes = changed.changes;
            if let Some(r) = changed.last_rowid {
                st.last_rowid = r;
            }
            if let Some(s) = new_schema {
                st.local_schema = Some(Arc::new(s));
            }
        }
        if autocommit {
            let local = self.state.borrow_mut().local_schema.take();
            txn.commit()?;
            if let Some(s) = local {
                *self.db.schema.write() = s;
            }
        } else {
            self.state.borrow_mut().txn = Some(txn);
        }
        Ok(changed.returning.unwrap_or_default())
    }
}

fn statement_kind(s: &Ast) -> &'static str {
    match s {
        Ast::Insert(_) => "INSERT",
        Ast::Update(_) => "UPDATE",
        Ast::Delete(_) => "DELETE",
        Ast::CreateTable(_) => "CREATE TABLE",
        Ast::CreateIndex(_) => "CREATE INDEX",
        Ast::CreateView { .. } => "CREATE VIEW",
        Ast::Drop { .. } => "DROP",
        _ => "STATEMENT",
    }
}

fn check_params(parsed: &Parsed, params: &[Value]) -> Result<()> {
    if params.len() != parsed.param_count {
        return Err(Error::sql(
            SqlErrorKind::Misuse,
            format!(
                "the statement has {} parameter(s) but {} value(s) were bound",
                parsed.param_count,
                params.len()
            ),
        ));
    }
    Ok(())
}

/// Runs a data- or schema-changing statement.
fn exec_write(
    cx: &mut ExecCtx,
    schema: &Schema,
    stmt: &Ast,
) -> Result<(Option<Schema>, run::Changed)> {
    let none = || run::Changed {
        changes: 0,
        returning: None,
        last_rowid: None,
    };
    Ok(match stmt {
        Ast::Insert(i) => (None, run::insert(cx, schema, i)?),
        Ast::Update(u) => (None, run::update(cx, schema, u)?),
        Ast::Delete(d) => (None, run::delete(cx, schema, d)?),
        Ast::CreateTable(ct) => (run::create_table(cx, schema, ct)?, none()),
        Ast::CreateIndex(ci) => (run::create_index(cx, schema, ci)?, none()),
        Ast::CreateView {
            name,
            columns,
            query,
            query_sql,
            if_not_exists,
        } => (
            run::create_view(cx, schema, name, columns, query, query_sql, *if_not_exists)?,
            none(),
        ),
        Ast::Drop {
            kind,
            names,
            if_exists,
        } => (
            run::drop_objects(cx, schema, *kind, names, *if_exists)?,
            none(),
        ),
        Ast::CreateTrigger(ct) => (Some(run::create_trigger(cx, schema, ct)?), none()),
        Ast::AlterTable { table, op } => (Some(run::alter_table(cx, schema, table, op)?), none()),
        Ast::Reindex(name) => {
            run::reindex(cx, schema, name.as_deref())?;
            (None, none())
        }
        other => {
            return Err(Error::sql(
                SqlErrorKind::Unsupported,
                format!("{} is not supported here", statement_kind(other)),
            ))
        }
    })
}
