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
//! Prepared statements keep what does not depend on their parameters: a
//! query's plan, a data change's authorization uses, an INSERT's plan
//! (`sql::run::InsertPlan`). Each is kept with the schema and the security
//! catalog it was made under and used only while both are still the same
//! `Arc`s (a DDL statement or a grant replaces them, never mutates them).
//!
//! Transactions: a session is in autocommit mode until `BEGIN` (or
//! [`Session::transaction`]); every statement then runs in that
//! transaction. A statement that fails undoes only its own effects; the
//! transaction stays usable. DDL is transactional: a session sees its own
//! uncommitted schema changes, others see them after commit.
//!
//! Sessions: [`Db::root_session`] is for whoever holds the store key (the
//! application that opened the database) and acts as `root`; every other
//! session comes from [`Db::connect`] with credentials, checked against
//! the host rules, password hashes and login tokens of the security
//! catalog (`auth`).
//!
//! Authorization happens at one place, `Session::authorize`, for every
//! statement after planning and before execution: the planner (or
//! `sql::access` for data changes and DDL) lists every table, view and
//! column the statement reaches — through subqueries, views (checked
//! against the view owner's rights) and triggers (the invoker's) — and
//! each use must be allowed, or the statement fails having changed
//! nothing. Objects the user holds no privilege on are reported as not
//! existing. Denied statements, logins, security changes and statements
//! on audited tables go to the audit log (`audit`).

use std::cell::RefCell;
use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use parking_lot::{Mutex, RwLock};
use zeroize::Zeroizing;

use crate::audit::{AuditLog, AuditRecord, AuditSink, VerifyReport};
use crate::auth::state::ObjectLookup;
use crate::auth::stmt::{ApplyEnv, AuthStmt};
use crate::auth::{codec, AuthState, ClientInfo, Credentials, PasswordCost, Privilege, Throttle};
use crate::sql::access::{analyze, needs_admin};
use crate::sql::plan::{ObjectUse, Security};

use crate::catalog::{Schema, CATALOG_PREFIX};
use crate::crypto::{KeyBytes, KeyProvider, MemoryKeyProvider};
use crate::error::{Error, Result, SqlErrorKind};
use crate::sql::exec::{describe, open, ExecCtx, RowIter};
use crate::sql::plan::{Planned, Planner};
use crate::sql::run;
use crate::storage::{Direction, Engine, StorageOptions};
use crate::syntax::ast::Statement as Ast;
use crate::syntax::parse::{parse, Parsed};
use crate::txn::{Mark, Txn, TxnManager};
use crate::types::Value;
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
    /// Cost of new password hashes (argon2id).
    pub password_cost: PasswordCost,
    /// Host rules to store at open (`None`: keep what the database has;
    /// see `auth::hba` for the format).
    pub host_rules: Option<String>,
    /// Called with every audit record as it is written.
    pub audit_sink: Option<AuditSink>,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            storage: StorageOptions::default(),
            keys: KeyOptions::default(),
            busy_timeout: Duration::from_secs(5),
            vfs: None,
            password_cost: PasswordCost::default(),
            host_rules: None,
            audit_sink: None,
        }
    }
}

/// Where the security catalog is stored (a system key, outside the
/// catalog and table key ranges).
const AUTH_KEY: &[u8] = b"\x00s/auth";
/// The data key the audit log last saw active (to log key changes).
const SEEN_KEY: &[u8] = b"\x00s/audit_key";

struct DbInner {
    mgr: Arc<TxnManager>,
    schema: RwLock<Arc<Schema>>,
    auth: RwLock<Arc<AuthState>>,
    audit: AuditLog,
    throttle: Mutex<Throttle>,
    password_cost: PasswordCost,
    busy_timeout: Duration,
    policy_exprs: Arc<Mutex<HashMap<String, crate::syntax::ast::Expr>>>,
}

fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

fn unix_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// A login token made by [`Session::create_login_token`]. The token text
/// is a secret: hand it to the client, never log it.
pub struct LoginToken {
    /// The token's id (for revocation; not secret).
    pub id: String,
    /// When it stops working (Unix seconds).
    pub expires_at: i64,
    token: Zeroizing<String>,
}

impl LoginToken {
    /// The token text to pass to [`Credentials::token`].
    pub fn token(&self) -> &str {
        &self.token
    }
}

struct SchemaLookup<'a>(&'a Schema);

impl ObjectLookup for SchemaLookup<'_> {
    fn columns(&self, name: &str) -> Option<Vec<String>> {
        if let Some(t) = self.0.table(name) {
            return Some(t.columns.iter().map(|c| c.name.to_lowercase()).collect());
        }
        let v = self.0.view(name)?;
        // Without a column list, the columns are those of its query.
        let cols = if v.columns.is_empty() {
            Planner::new(self.0).query(&v.query).ok()?.columns
        } else {
            v.columns.clone()
        };
        Some(cols.iter().map(|c| c.to_lowercase()).collect())
    }
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
        let engine = Arc::new(engine);
        let mgr = TxnManager::new(engine.clone());
        let schema = load_schema(&mgr)?;
        let auth = match mgr.begin().get(AUTH_KEY)? {
            Some(bytes) => codec::decode(&bytes)?,
            None => AuthState::new(),
        };
        let sync = options.storage.sync == crate::storage::SyncMode::Full;
        let audit = AuditLog::open(engine.clone(), sync, options.audit_sink.clone())?;
        let db = Db {
            inner: Arc::new(DbInner {
                mgr,
                schema: RwLock::new(Arc::new(schema)),
                auth: RwLock::new(Arc::new(auth)),
                audit,
                throttle: Mutex::new(Throttle::default()),
                password_cost: options.password_cost,
                busy_timeout: options.busy_timeout,
                policy_exprs: Arc::default(),
            }),
        };
        db.note_key_change()?;
        if let Some(rules) = &options.host_rules {
            if db.inner.auth.read().hba != *rules {
                let root = db.root_session();
                // A literal: SET CLUSTER SETTING takes no parameters.
                root.execute(
                    &format!(
                        "SET CLUSTER SETTING server.host_based_authentication.configuration = '{}'",
                        rules.replace('\'', "''")
                    ),
                    &[],
                )?;
            }
        }
        Ok(db)
    }

    /// Logs a change of the active data key (rotation, a new store key, a
    /// switch to or from plaintext) since the last open.
    fn note_key_change(&self) -> Result<()> {
        let engine = self.engine();
        let active = engine.sealed_dir().active_data_key().to_string();
        let seen = engine.get(SEEN_KEY)?;
        if seen.as_deref() == Some(active.as_bytes()) {
            return Ok(());
        }
        let before = seen
            .map(|s| String::from_utf8_lossy(&s).into_owned())
            .unwrap_or_else(|| "none".into());
        let event = if before == "none" || active == "plaintext" || before == "plaintext" {
            "encryption"
        } else {
            "key_rotation"
        };
        self.inner.audit.append(AuditRecord {
            time_ms: unix_ms(),
            event: event.into(),
            user: crate::auth::ROOT.into(),
            statement: format!("active data key changed from {before} to {active}"),
            outcome: "ok".into(),
            ..AuditRecord::default()
        })?;
        engine.put(SEEN_KEY, active.as_bytes())?;
        Ok(())
    }

    /// Opens a session as the user `credentials` name, after checking the
    /// host rules, the password or token, LOGIN and VALID UNTIL. Unknown
    /// users and wrong passwords fail alike (same error, similar time);
    /// repeated failures from one address for one user are throttled.
    pub fn connect(&self, credentials: Credentials, client: ClientInfo) -> Result<Session> {
        let started = Instant::now();
        let user = credentials.user().to_string();
        let record = |event: &str, outcome: Option<(&Error, String)>| AuditRecord {
            time_ms: unix_ms(),
            event: event.into(),
            user: user.clone(),
            client_address: client.address.map(|a| a.to_string()),
            application_name: client.application_name.clone(),
            statement: format!("LOGIN ({})", credentials.method().name()),
            outcome: if outcome.is_some() { "error" } else { "ok" }.into(),
            error_code: outcome.as_ref().map(|(e, _)| e.code() as u32),
            error: outcome.map(|(_, reason)| reason),
            duration_us: started.elapsed().as_micros() as u64,
            ..AuditRecord::default()
        };
        let throttled = self.inner.throttle.lock().check(client.address, &user);
        if let Err(e) = throttled {
            self.inner
                .audit
                .append(record("login_failed", Some((&e, "throttled".into()))))?;
            return Err(e);
        }
        let auth = self.inner.auth.read().clone();
        match auth.authenticate(&credentials, &client, unix_now(), self.inner.password_cost) {
            Ok(roles) => {
                self.inner.throttle.lock().succeed(client.address, &user);
                let mut rec = record("login", None);
                rec.roles = roles.granted();
                self.inner.audit.append(rec)?;
                Ok(Session {
                    db: self.inner.clone(),
                    state: RefCell::new(SessionState::default()),
                    user,
                    client,
                    sec: RefCell::new(None),
                })
            }
            Err(f) => {
                self.inner.throttle.lock().fail(client.address, &user);
                self.inner
                    .audit
                    .append(record("login_failed", Some((&f.error, f.reason))))?;
                Err(f.error)
            }
        }
    }

    /// Rewrites every file under the active key (see
    /// [`Engine::rewrite_all`]) and records it in the audit log.
    pub fn rotate_keys(&self, progress: impl FnMut(crate::storage::Progress)) -> Result<()> {
        let started = Instant::now();
        let r = self.engine().rewrite_all(progress);
        self.inner.audit.append(AuditRecord {
            time_ms: unix_ms(),
            event: "key_rotation".into(),
            user: crate::auth::ROOT.into(),
            statement: format!(
                "rewrite all files under data key {}",
                self.engine().sealed_dir().active_data_key()
            ),
            outcome: if r.is_ok() { "ok" } else { "error" }.into(),
            error_code: r.as_ref().err().map(|e| e.code() as u32),
            error: r.as_ref().err().map(|e| e.to_string()),
            duration_us: started.elapsed().as_micros() as u64,
            ..AuditRecord::default()
        })?;
        r
    }

    /// Checks the audit log's hash chain; the report names the first
    /// altered, removed, reordered or missing record.
    pub fn audit_verify(&self) -> Result<VerifyReport> {
        self.inner.audit.verify()
    }

    /// Writes the audit log as JSON lines (up to the first bad record).
    pub fn audit_export(&self, out: &mut dyn std::io::Write) -> Result<VerifyReport> {
        self.inner.audit.export(out)
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

    /// A session as `root`, with all rights: whoever holds the store key
    /// is the admin.
    pub fn root_session(&self) -> Session {
        Session {
            db: self.inner.clone(),
            state: RefCell::new(SessionState::default()),
            user: crate::auth::ROOT.to_string(),
            client: ClientInfo::local("root session"),
            sec: RefCell::new(None),
        }
    }

    /// The storage engine (statistics, encryption status, key rotation).
    pub fn engine(&self) -> &Arc<Engine> {
        self.inner.mgr.engine()
    }
}

type Savepoint = (String, Mark, Option<Arc<Schema>>, Option<Arc<AuthState>>);

#[derive(Default)]
struct SessionState {
    txn: Option<Txn>,
    /// Schema changed by this session's open transaction.
    local_schema: Option<Arc<Schema>>,
    /// Security catalog changed by this session's open transaction.
    local_auth: Option<Arc<AuthState>>,
    savepoints: Vec<Savepoint>,
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
    user: String,
    client: ClientInfo,
    /// The user's roles under the current security catalog (recomputed
    /// when the catalog changes).
    sec: RefCell<Option<Arc<Security>>>,
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
    sec: Option<Arc<Security>>,
    /// The audit record to finish when the rows are done.
    audit: Option<PendingAudit>,
    returned: u64,
}

impl Rows<'_> {
    /// Column names.
    pub fn columns(&self) -> &[String] {
        &self.columns
    }

    /// The next row, or `None` at the end.
    #[allow(clippy::should_implement_trait)]
    pub fn next(&mut self) -> Result<Option<Row>> {
        match self.next_values() {
            Ok(Some(values)) => {
                self.returned += 1;
                Ok(Some(Row {
                    values,
                    columns: self.columns.clone(),
                }))
            }
            Ok(None) => {
                let pending = self.audit.take();
                self.session.audit_end(pending, self.returned, None)?;
                Ok(None)
            }
            Err(e) => {
                let pending = self.audit.take();
                self.session.audit_end(pending, self.returned, Some(&e))?;
                Err(e)
            }
        }
    }

    fn next_values(&mut self) -> Result<Option<Vec<Value>>> {
        Ok(match &mut self.source {
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
                            sec: self.sec.clone(),
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
                            sec: self.sec.clone(),
                        };
                        it.next(&mut cx)?
                    }
                }
            }
        })
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

impl Drop for Rows<'_> {
    fn drop(&mut self) {
        // Rows abandoned early are still audited, with the count read.
        let pending = self.audit.take();
        let _ = self.session.audit_end(pending, self.returned, None);
    }
}

/// A cached plan: valid while the schema and the security catalog are
/// the ones it was made under.
type CachedPlan = (
    Arc<Schema>,
    Arc<AuthState>,
    Arc<Planned>,
    Arc<Vec<ObjectUse>>,
    Memo,
);

/// Whether a cached statement was already authorized under the catalog
/// its cache entry belongs to (the answer cannot change while both the
/// schema and the security catalog are the same immutable values).
/// (Atomic, so a statement stays free of thread-affine state: the C ABI
/// moves statements between threads under a lock.)
type Memo = Arc<std::sync::atomic::AtomicBool>;

/// A prepared statement: parsed once; its plan is cached while the schema
/// does not change.
pub struct Statement<'s> {
    session: &'s Session,
    sql: String,
    parsed: Arc<Parsed>,
    plan: RefCell<Option<CachedPlan>>,
    cache: WriteCache,
}

/// What a prepared data change keeps between runs, each part valid while
/// the schema and the security catalog are the ones it was made under
/// (compared with `Arc::ptr_eq`; both are replaced, never changed, when
/// they change).
#[derive(Default)]
struct WriteCache {
    /// What the statement uses (for authorization and audit), and whether
    /// that was already authorized.
    uses: RefCell<Option<UsesEntry>>,
    /// An INSERT's parameter-independent plan.
    insert: RefCell<Option<Keyed<run::InsertPlan>>>,
}

/// A statement's uses, with the catalog they are valid for and whether
/// they were authorized.
type UsesEntry = (Arc<Schema>, Arc<AuthState>, Arc<Vec<ObjectUse>>, Memo);

/// A cached item with the schema and security catalog it is valid for.
type Keyed<T> = (Arc<Schema>, Arc<AuthState>, T);

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
        self.session
            .run_parsed_cached(&self.parsed, &values(params), &self.sql, Some(&self.cache))
    }

    /// Runs a query statement.
    pub fn query(&self, params: &[&dyn ToValue]) -> Result<Rows<'_>> {
        let params = values(params);
        let [Ast::Query(q)] = self.parsed.statements.as_slice() else {
            return self.session.query_parsed(&self.parsed, params, &self.sql);
        };
        check_params(&self.parsed, &params)?;
        let schema = self.session.schema();
        let sec = self.session.security();
        let cached = self
            .plan
            .borrow()
            .as_ref()
            .filter(|(s, a, _, _, _)| Arc::ptr_eq(s, &schema) && Arc::ptr_eq(a, &sec.auth))
            .map(|(_, _, p, u, m)| (p.clone(), u.clone(), m.clone()));
        let (planned, uses, memo) = match cached {
            Some(x) => x,
            None => {
                let (p, u) = self
                    .session
                    .plan_query(&schema, &sec, q, &self.sql, &params)?;
                let (p, u, m) = (Arc::new(p), Arc::new(u), Memo::default());
                *self.plan.borrow_mut() = Some((
                    schema.clone(),
                    sec.auth.clone(),
                    p.clone(),
                    u.clone(),
                    m.clone(),
                ));
                (p, u, m)
            }
        };
        self.session.run_query(
            &schema,
            &sec,
            &planned,
            &uses,
            params,
            &self.sql,
            Some(&memo),
        )
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

/// Column names and rows of a computed result.
type ResultSet = (Vec<String>, Vec<Vec<Value>>);

/// A statement's audit record, finished when the statement ends.
struct PendingAudit {
    rec: AuditRecord,
    started: Instant,
}

fn render(v: &Value) -> String {
    match v {
        Value::Null => "NULL".into(),
        Value::Blob(b) => format!(
            "x'{}'",
            b.iter().map(|x| format!("{x:02x}")).collect::<String>()
        ),
        other => other.to_text().unwrap_or_default(),
    }
}

fn denied(msg: String) -> Error {
    Error::PermissionDenied { message: msg }
}

/// The column a use names: rowid aliases map to the INTEGER PRIMARY KEY
/// column (or to nothing when the table has none).
fn real_column(schema: &Schema, object: &str, col: &str) -> Option<String> {
    let is_rowid = ["rowid", "_rowid_", "oid"].contains(&col);
    match schema.table(object) {
        Some(t) if is_rowid && t.column(col).is_none() => {
            t.rowid_alias.map(|a| t.columns[a].name.to_lowercase())
        }
        _ => Some(col.to_string()),
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

    fn auth(&self) -> Arc<AuthState> {
        let st = self.state.borrow();
        match &st.local_auth {
            Some(a) => a.clone(),
            None => self.db.auth.read().clone(),
        }
    }

    /// The user this session runs as.
    pub fn user(&self) -> &str {
        &self.user
    }

    /// Where this session comes from.
    pub fn client(&self) -> &ClientInfo {
        &self.client
    }

    fn security(&self) -> Arc<Security> {
        let auth = self.auth();
        if let Some(s) = self.sec.borrow().as_ref() {
            if Arc::ptr_eq(&s.auth, &auth) {
                return s.clone();
            }
        }
        let sec = Arc::new(Security {
            user: self.user.clone(),
            roles: auth.roles_of(&self.user),
            auth,
            policy_exprs: self.db.policy_exprs.clone(),
        });
        *self.sec.borrow_mut() = Some(sec.clone());
        sec
    }

    /// The one place every statement is authorized, after planning and
    /// before execution: every use must be allowed (see the module docs).
    fn authorize(&self, sec: &Security, schema: &Schema, uses: &[ObjectUse]) -> Result<()> {
        for u in uses {
            let definer;
            let roles = match &u.definer {
                None => &sec.roles,
                Some(v) => {
                    definer = sec
                        .auth
                        .roles_of(sec.auth.owner_of(v).unwrap_or(crate::auth::ROOT));
                    &definer
                }
            };
            if roles.admin {
                continue;
            }
            let p = u.privilege.name();
            if u.object.is_empty() {
                if !sec.auth.allowed(roles, "", u.privilege, None) {
                    return Err(denied(format!(
                        "user {} has no {p} privilege on database main",
                        roles.user
                    )));
                }
                continue;
            }
            if !sec.auth.visible(roles, &u.object) {
                return Err(match &u.definer {
                    None => Error::sql(
                        SqlErrorKind::UnknownTable,
                        format!("no such table: {}", u.object),
                    ),
                    Some(v) => denied(format!(
                        "the owner of view {v} ({}) has no privilege on {}",
                        roles.user, u.object
                    )),
                });
            }
            let cols: Vec<String> = u
                .columns
                .iter()
                .filter_map(|c| real_column(schema, &u.object, c))
                .collect();
            if cols.is_empty() {
                let ok = sec.auth.allowed(roles, &u.object, u.privilege, None)
                    || (u.privilege.column_level()
                        && sec.auth.allowed_any_column(roles, &u.object, u.privilege));
                if !ok {
                    return Err(denied(format!(
                        "user {} has no {p} privilege on {}",
                        roles.user, u.object
                    )));
                }
            } else {
                for c in &cols {
                    if !sec.auth.allowed(roles, &u.object, u.privilege, Some(c)) {
                        return Err(denied(format!(
                            "user {} has no {p} privilege on column {c} of {}",
                            roles.user, u.object
                        )));
                    }
                }
            }
        }
        Ok(())
    }

    /// A planning error must not reveal objects the user may not see:
    /// any hidden table the statement named is reported as missing.
    /// Such a refusal is audited like any other denied statement.
    fn hide_unseen(
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
            let exists = schema.table(n).is_some() || schema.view(n).is_some();
            if exists && !sec.auth.visible(&sec.roles, &n.to_lowercase()) {
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

    /// Starts an audit record when the statement touches an audited
    /// table in an audited mode, or always with `force`.
    fn audit_start(
        &self,
        sec: &Security,
        event: &str,
        text: &str,
        params: &[Value],
        uses: &[ObjectUse],
        force: bool,
    ) -> Option<PendingAudit> {
        let auth = &sec.auth;
        let (mut read, mut write) = (false, false);
        if !auth.audit.is_empty() {
            for u in uses {
                let m = auth.audit_mode(&u.object);
                if u.privilege == Privilege::Select {
                    read |= m.read;
                } else {
                    write |= m.write;
                }
            }
        }
        if !(read || write || force) {
            return None;
        }
        let (r, w) = uses.iter().fold((false, false), |(r, w), u| {
            (
                r || u.privilege == Privilege::Select,
                w || u.privilege != Privilege::Select,
            )
        });
        let mode = match (r, w) {
            (true, true) => "read write",
            (true, false) => "read",
            (false, true) => "write",
            _ => "",
        };
        let mut objects: Vec<String> = uses
            .iter()
            .filter(|u| !u.object.is_empty())
            .map(|u| u.object.clone())
            .collect();
        objects.sort();
        objects.dedup();
        Some(PendingAudit {
            rec: AuditRecord {
                time_ms: unix_ms(),
                event: event.into(),
                user: self.user.clone(),
                roles: sec.roles.granted(),
                client_address: self.client.address.map(|a| a.to_string()),
                application_name: self.client.application_name.clone(),
                statement: text.trim().to_string(),
                values: if auth.redact || params.is_empty() {
                    None
                } else {
                    Some(params.iter().map(render).collect())
                },
                objects,
                mode: mode.into(),
                outcome: "ok".into(),
                ..AuditRecord::default()
            },
            started: Instant::now(),
        })
    }

    fn audit_end(
        &self,
        pending: Option<PendingAudit>,
        rows: u64,
        err: Option<&Error>,
    ) -> Result<()> {
        let Some(mut p) = pending else {
            return Ok(());
        };
        p.rec.rows = rows;
        p.rec.duration_us = p.started.elapsed().as_micros() as u64;
        if let Some(e) = err {
            p.rec.outcome = "error".into();
            p.rec.error_code = Some(e.code() as u32);
            p.rec.error = Some(e.to_string());
            if matches!(e, Error::PermissionDenied { .. }) {
                p.rec.event = "denied".into();
            }
        }
        self.db.audit.append(p.rec).map(|_| ())
    }

    /// [`Self::admit`], skipped when `memo` says this cached statement was
    /// already authorized under the same catalog.
    fn admit_memo(
        &self,
        memo: Option<&Memo>,
        sec: &Security,
        schema: &Schema,
        uses: &[ObjectUse],
        text: &str,
        params: &[Value],
    ) -> Result<()> {
        if memo.is_some_and(|m| m.load(std::sync::atomic::Ordering::Acquire)) {
            return Ok(());
        }
        self.admit(sec, schema, uses, text, params)?;
        if let Some(m) = memo {
            m.store(true, std::sync::atomic::Ordering::Release);
        }
        Ok(())
    }

    /// Authorizes `uses`; a denial is audited and returned.
    fn admit(
        &self,
        sec: &Security,
        schema: &Schema,
        uses: &[ObjectUse],
        text: &str,
        params: &[Value],
    ) -> Result<()> {
        if let Err(e) = self.authorize(sec, schema, uses) {
            let p = self.audit_start(sec, "denied", text, params, uses, true);
            self.audit_end(p, 0, Some(&e))?;
            return Err(e);
        }
        Ok(())
    }

    fn parsed(&self, sql: &str) -> Result<Arc<Parsed>> {
        if let Some(p) = self.state.borrow().statements.get(sql) {
            return Ok(p.clone());
        }
        let p = Arc::new(parse(sql)?);
        // Statement text holding a password is not kept around.
        if p.statements.iter().any(|s| matches!(s, Ast::Auth(_))) {
            return Ok(p);
        }
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
        self.run_parsed(&parsed, &values(params), sql)
    }

    /// Runs a query and streams its rows.
    pub fn query(&self, sql: &str, params: &[&dyn ToValue]) -> Result<Rows<'_>> {
        let parsed = self.parsed(sql)?;
        self.query_parsed(&parsed, values(params), sql)
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
            sql: sql.to_string(),
            parsed,
            plan: RefCell::new(None),
            cache: WriteCache::default(),
        })
    }

    /// Runs every statement of `sql` in order, handing each result row to
    /// `on_row` with its column names (a script runner, like the shell's).
    /// Stops at the first failing statement.
    pub fn run_script(&self, sql: &str, mut on_row: impl FnMut(&[String], &Row)) -> Result<()> {
        let parsed = self.parsed(sql)?;
        // Each statement's own text, for the audit log (the whole script
        // if the split does not line up with the parse).
        let pieces = crate::syntax::parse_auth::split_statements(sql)
            .ok()
            .filter(|p| p.len() == parsed.statements.len());
        for (i, st) in parsed.statements.iter().enumerate() {
            let single = Parsed {
                statements: vec![st.clone()],
                param_count: parsed.param_count,
                param_names: parsed.param_names.clone(),
            };
            let text = pieces.as_ref().map_or(sql, |p| p[i]);
            let mut rows = self.query_parsed(&single, Vec::new(), text)?;
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
        let sec = self.security();
        let mut names: Vec<String> = schema
            .tables
            .values()
            .map(|t| t.name.clone())
            .chain(schema.views.values().map(|v| v.name.clone()))
            .filter(|n| sec.auth.visible(&sec.roles, &n.to_lowercase()))
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

    /// Changes the security catalog outside SQL (login tokens), in a
    /// transaction of its own.
    fn change_auth<R>(
        &self,
        what: &str,
        f: impl FnOnce(&mut AuthState, &Security) -> Result<R>,
    ) -> Result<R> {
        if self.in_transaction() {
            return Err(Error::sql(
                SqlErrorKind::Misuse,
                format!("finish the open transaction before you {what}"),
            ));
        }
        let started = Instant::now();
        let mut txn = self.db.mgr.begin();
        txn.ensure_writer(self.db.busy_timeout)?;
        let sec = self.security();
        let mut new = (*sec.auth).clone();
        let r = f(&mut new, &sec);
        let r = match r {
            Ok(v) => {
                txn.put(AUTH_KEY.to_vec(), codec::encode(&new));
                txn.commit().map(|_| v)
            }
            Err(e) => Err(e),
        };
        if r.is_ok() {
            *self.db.auth.write() = Arc::new(new);
        }
        let mut p = self.audit_start(&sec, "security", what, &[], &[], true);
        if let Some(p) = p.as_mut() {
            p.started = started;
        }
        self.audit_end(p, 0, r.as_ref().err())?;
        r
    }

    /// Creates a login token for this session's user, valid for
    /// `valid_for`; [`Db::connect`] accepts it with [`Credentials::token`].
    /// Only its hash is stored.
    pub fn create_login_token(&self, valid_for: Duration) -> Result<LoginToken> {
        let user = self.user.clone();
        let expires_at = unix_now().saturating_add(valid_for.as_secs().min(i64::MAX as u64) as i64);
        self.change_auth("create a login token", |auth, _| {
            if !auth.roles.get(&user).is_some_and(|r| r.login) {
                return Err(denied(format!(
                    "user {user} may not log in, so it gets no token"
                )));
            }
            let (id, token, hash) = crate::auth::secret::new_token()?;
            auth.tokens.insert(
                id.clone(),
                crate::auth::state::TokenInfo {
                    user: user.clone(),
                    hash,
                    expires: expires_at,
                },
            );
            Ok(LoginToken {
                id,
                expires_at,
                token,
            })
        })
    }

    /// Revokes one login token (this user's own, or any as an admin).
    /// Returns whether it existed.
    pub fn revoke_login_token(&self, id: &str) -> Result<bool> {
        let user = self.user.clone();
        self.change_auth(
            &format!("revoke login token {id}"),
            |auth, sec| match auth.tokens.get(id) {
                None => Ok(false),
                Some(t) if t.user == user || sec.roles.admin => {
                    auth.tokens.remove(id);
                    Ok(true)
                }
                Some(_) => Err(denied(
                    "only admins may revoke another user's tokens".into(),
                )),
            },
        )
    }

    /// Revokes every login token of `user` (oneself, or anyone as an
    /// admin); returns how many.
    pub fn revoke_login_tokens(&self, user: &str) -> Result<u64> {
        let me = self.user.clone();
        let user = user.to_lowercase();
        self.change_auth(
            &format!("revoke all login tokens of {user}"),
            |auth, sec| {
                if user != me && !sec.roles.admin {
                    return Err(denied(
                        "only admins may revoke another user's tokens".into(),
                    ));
                }
                let before = auth.tokens.len();
                auth.tokens.retain(|_, t| t.user != user);
                Ok((before - auth.tokens.len()) as u64)
            },
        )
    }

    /// Plans a query as `sec`'s user: the plan and what it uses.
    fn plan_query(
        &self,
        schema: &Schema,
        sec: &Arc<Security>,
        q: &crate::syntax::ast::Query,
        text: &str,
        params: &[Value],
    ) -> Result<(Planned, Vec<ObjectUse>)> {
        let mut planner = Planner::new(schema).with_security(Some(sec.clone()));
        let planned = planner.query(q);
        let uses = planner.take_uses();
        match planned {
            Ok(p) => Ok((p, uses)),
            Err(e) => {
                // Only what the user named: a view's base tables are the
                // view owner's business (and must not be revealed).
                let names: Vec<String> = uses
                    .iter()
                    .filter(|u| u.definer.is_none())
                    .map(|u| u.object.clone())
                    .collect();
                Err(self.hide_unseen(e, sec, &names, text, params))
            }
        }
    }

    /// Authorizes, audits and opens a planned query.
    #[allow(clippy::too_many_arguments)]
    fn run_query(
        &self,
        schema: &Schema,
        sec: &Arc<Security>,
        planned: &Planned,
        uses: &[ObjectUse],
        params: Vec<Value>,
        text: &str,
        memo: Option<&Memo>,
    ) -> Result<Rows<'_>> {
        self.admit_memo(memo, sec, schema, uses, text, &params)?;
        let pending = self.audit_start(sec, "statement", text, &params, uses, false);
        self.open_query(planned, params, sec.clone(), pending)
    }

    fn query_parsed(&self, parsed: &Parsed, params: Vec<Value>, text: &str) -> Result<Rows<'_>> {
        check_params(parsed, &params)?;
        match parsed.statements.as_slice() {
            [Ast::Query(q)] => {
                let schema = self.schema();
                let sec = self.security();
                let (planned, uses) = self.plan_query(&schema, &sec, q, text, &params)?;
                self.run_query(&schema, &sec, &planned, &uses, params, text, None)
            }
            [Ast::Pragma(name)] => {
                if name != "integrity_check" {
                    return Err(Error::sql(
                        SqlErrorKind::Unsupported,
                        format!("PRAGMA {name} is not supported"),
                    ));
                }
                let sec = self.security();
                if !sec.roles.admin {
                    let e = denied("only admins may run PRAGMA integrity_check".into());
                    let p = self.audit_start(&sec, "denied", text, &params, &[], true);
                    self.audit_end(p, 0, Some(&e))?;
                    return Err(e);
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
                        sec: Some(sec.clone()),
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
                        let schema = self.schema();
                        let sec = self.security();
                        let (planned, uses) = self.plan_query(&schema, &sec, q, text, &params)?;
                        self.admit(&sec, &schema, &uses, text, &params)?;
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
                // DML with RETURNING and SHOW yield rows; others none.
                let (cols, rows) = self.run_one(other, &params, text, None)?;
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
            sec: None,
            audit: None,
            returned: 0,
        }
    }

    fn open_query(
        &self,
        planned: &Planned,
        params: Vec<Value>,
        sec: Arc<Security>,
        audit: Option<PendingAudit>,
    ) -> Result<Rows<'_>> {
        let busy_timeout = self.db.busy_timeout;
        let mut own = if self.state.borrow().txn.is_some() {
            None
        } else {
            Some(self.db.mgr.begin())
        };
        let mut outer = Vec::new();
        let mut cache = HashMap::new();
        let it = (|| {
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
                sec: Some(sec.clone()),
            };
            open(&planned.plan, &mut cx, &[])
        })();
        let it = match it {
            Ok(it) => it,
            Err(e) => {
                self.audit_end(audit, 0, Some(&e))?;
                return Err(e);
            }
        };
        Ok(Rows {
            session: self,
            columns: Arc::from(planned.columns.clone()),
            source: Source::Stream(it),
            txn: own,
            params,
            outer,
            cache,
            sec: Some(sec),
            audit,
            returned: 0,
        })
    }

    fn run_parsed(&self, parsed: &Parsed, params: &[Value], text: &str) -> Result<u64> {
        self.run_parsed_cached(parsed, params, text, None)
    }

    fn run_parsed_cached(
        &self,
        parsed: &Parsed,
        params: &[Value],
        text: &str,
        cache: Option<&WriteCache>,
    ) -> Result<u64> {
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
                let mut rows = self.query_parsed(&single, params.to_vec(), text)?;
                while rows.next()?.is_some() {}
                changes = 0;
                continue;
            }
            self.run_one(
                s,
                params,
                text,
                cache.filter(|_| parsed.statements.len() == 1),
            )?;
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
        let local_auth = st.local_auth.take();
        st.savepoints.clear();
        st.txn_from_savepoint = false;
        drop(st);
        txn.commit()?;
        self.publish(local, local_auth);
        Ok(())
    }

    /// Makes a committed transaction's catalog changes visible to all.
    fn publish(&self, schema: Option<Arc<Schema>>, auth: Option<Arc<AuthState>>) {
        if let Some(s) = schema {
            *self.db.schema.write() = s;
        }
        if let Some(a) = auth {
            *self.db.auth.write() = a;
        }
    }

    fn rollback(&self) {
        let mut st = self.state.borrow_mut();
        st.txn = None;
        st.local_schema = None;
        st.local_auth = None;
        st.savepoints.clear();
        st.txn_from_savepoint = false;
    }

    /// Runs one non-query statement; returns RETURNING (or SHOW) columns
    /// and rows.
    fn run_one(
        &self,
        stmt: &Ast,
        params: &[Value],
        text: &str,
        cache: Option<&WriteCache>,
    ) -> Result<ResultSet> {
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
                let auth = st.local_auth.clone();
                if let Some(m) = mark {
                    st.savepoints.push((name.clone(), m, schema, auth));
                }
                return Ok((Vec::new(), Vec::new()));
            }
            Ast::Release(name) => {
                let mut st = self.state.borrow_mut();
                let pos = st
                    .savepoints
                    .iter()
                    .rposition(|(n, _, _, _)| n.eq_ignore_ascii_case(name))
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
                    .rposition(|(n, _, _, _)| n.eq_ignore_ascii_case(name))
                    .ok_or_else(|| {
                        Error::sql(SqlErrorKind::Misuse, format!("no such savepoint: {name}"))
                    })?;
                let (_, mark, schema, auth) = st.savepoints[pos].clone();
                st.savepoints.truncate(pos + 1);
                st.local_schema = schema;
                st.local_auth = auth;
                if let Some(t) = st.txn.as_mut() {
                    t.rollback_to(mark);
                }
                return Ok((Vec::new(), Vec::new()));
            }
            _ => {}
        }
        let started = Instant::now();
        let sec = self.security();
        let schema = self.schema();
        if needs_admin(stmt) && !sec.roles.admin {
            let e = denied("only admins may run this statement".into());
            let p = self.audit_start(&sec, "denied", text, params, &[], true);
            self.audit_end(p, 0, Some(&e))?;
            return Err(e);
        }
        let cached = cache.and_then(|c| {
            c.uses
                .borrow()
                .as_ref()
                .filter(|(s, a, _, _)| Arc::ptr_eq(s, &schema) && Arc::ptr_eq(a, &sec.auth))
                .map(|(_, _, u, m)| (u.clone(), m.clone()))
        });
        let (uses, memo): (Arc<Vec<ObjectUse>>, Option<Memo>) = match (stmt, cached) {
            (Ast::Auth(_), _) => (Arc::default(), None),
            (_, Some((u, m))) => (u, Some(m)),
            _ if sec.roles.admin && sec.auth.audit.is_empty() => (Arc::default(), None),
            _ => {
                let u =
                    Arc::new(analyze(&schema, stmt, &Some(sec.clone())).map_err(|e| {
                        self.hide_unseen(e, &sec, &target_names(stmt), text, params)
                    })?);
                let m = cache.map(|c| {
                    let m = Memo::default();
                    *c.uses.borrow_mut() =
                        Some((schema.clone(), sec.auth.clone(), u.clone(), m.clone()));
                    m
                });
                (u, m)
            }
        };
        self.admit_memo(memo.as_ref(), &sec, &schema, &uses, text, params)?;
        let (event, force, audit_text, audit_params) = match stmt {
            Ast::Auth(a) if !a.is_show() => ("security", true, a.audit_text(text), &[][..]),
            Ast::Auth(a) => ("statement", false, a.audit_text(text), &[][..]),
            _ => ("statement", false, text.to_string(), params),
        };
        // Security statements name their tables themselves (they are not
        // analysed into uses).
        let name_objects = |p: &mut Option<PendingAudit>| {
            if let (Ast::Auth(a), Some(p)) = (stmt, p.as_mut()) {
                p.rec.objects = a.objects();
            }
        };
        let mut pending = self.audit_start(&sec, event, &audit_text, audit_params, &uses, force);
        name_objects(&mut pending);
        if let Ast::Auth(a) = stmt {
            if a.is_show() {
                let r = self
                    .apply_auth(&sec, &schema, a, params)
                    .map(|(_, out)| out);
                self.audit_end(pending, 0, r.as_ref().err())?;
                return r;
            }
        }
        let r = self.run_write(stmt, params, &sec, &schema, cache);
        let changes = self.state.borrow().changes;
        let pending = match (&r, pending) {
            (Err(Error::PermissionDenied { .. }), None) => {
                let mut p =
                    self.audit_start(&sec, "denied", &audit_text, audit_params, &uses, true);
                if let Some(p) = p.as_mut() {
                    p.started = started;
                }
                name_objects(&mut p);
                p
            }
            (_, p) => p,
        };
        self.audit_end(
            pending,
            if r.is_ok() { changes } else { 0 },
            r.as_ref().err(),
        )?;
        r
    }

    /// Applies a security statement to a copy of the catalog.
    fn apply_auth(
        &self,
        sec: &Security,
        schema: &Schema,
        a: &AuthStmt,
        params: &[Value],
    ) -> Result<(AuthState, ResultSet)> {
        if let AuthStmt::CreatePolicy(p) = a {
            // Bind the expressions now, so mistakes show at CREATE time.
            // As the session's user, so `current_user` is known.
            if let Some(t) = schema.table(&p.table) {
                let as_user = Arc::new(Security {
                    user: sec.user.clone(),
                    roles: sec.roles.clone(),
                    auth: sec.auth.clone(),
                    policy_exprs: sec.policy_exprs.clone(),
                });
                for text in p.using.iter().chain(p.check.iter()) {
                    let e = crate::syntax::parse::parse_expr(text)?;
                    Planner::new(schema)
                        .with_security(Some(as_user.clone()))
                        .table_exprs(t, &[e])?;
                }
            }
        }
        let param = |i: usize| match params.get(i.wrapping_sub(1)) {
            Some(Value::Text(s)) => Some(Zeroizing::new(s.clone())),
            _ => None,
        };
        let env = ApplyEnv {
            objects: &SchemaLookup(schema),
            now: unix_now(),
            cost: self.db.password_cost,
            param: &param,
        };
        let mut new = (*sec.auth).clone();
        let out = new.apply(&sec.roles, a, &env)?;
        let cols = out.columns.iter().map(|c| c.to_string()).collect();
        let rows = out
            .rows
            .into_iter()
            .map(|r| {
                r.into_iter()
                    .map(|v| v.map(Value::Text).unwrap_or(Value::Null))
                    .collect()
            })
            .collect();
        Ok((new, (cols, rows)))
    }

    /// Runs a data, schema or security change in the session's
    /// transaction (or its own, committed at once).
    fn run_write(
        &self,
        stmt: &Ast,
        params: &[Value],
        sec: &Arc<Security>,
        schema: &Arc<Schema>,
        prepared: Option<&WriteCache>,
    ) -> Result<(Vec<String>, Vec<Vec<Value>>)> {
        let autocommit = self.state.borrow().txn.is_none();
        let mut txn = match self.state.borrow_mut().txn.take() {
            Some(t) => t,
            None => self.db.mgr.begin(),
        };
        let result = (|| {
            txn.ensure_writer(self.db.busy_timeout)?;
            let mark = txn.mark();
            let r = (|| -> Result<(Option<Schema>, Option<AuthState>, run::Changed)> {
                if let Ast::Auth(a) = stmt {
                    let (new, _) = self.apply_auth(sec, schema, a, params)?;
                    txn.put(AUTH_KEY.to_vec(), codec::encode(&new));
                    let none = run::Changed {
                        changes: 0,
                        returning: None,
                        last_rowid: None,
                    };
                    return Ok((None, Some(new), none));
                }
                let mut outer = Vec::new();
                let mut cache = HashMap::new();
                let mut cx = ExecCtx {
                    txn: &mut txn,
                    params,
                    outer: &mut outer,
                    cache: &mut cache,
                    busy_timeout: self.db.busy_timeout,
                    trigger: None,
                    sec: Some(sec.clone()),
                };
                let (new_schema, changed) = match (stmt, prepared) {
                    (Ast::Insert(i), Some(c)) => {
                        // A prepared INSERT keeps its plan between runs.
                        let mut slot = c
                            .insert
                            .borrow_mut()
                            .take()
                            .filter(|(s, a, _)| Arc::ptr_eq(s, schema) && Arc::ptr_eq(a, &sec.auth))
                            .map(|(_, _, p)| p);
                        let r = run::insert_planned(&mut cx, schema, i, &mut slot);
                        if let Some(p) = slot {
                            *c.insert.borrow_mut() = Some((schema.clone(), sec.auth.clone(), p));
                        }
                        (None, r?)
                    }
                    _ => exec_write(&mut cx, schema, stmt)?,
                };
                let new_auth = ownership(&sec.auth, schema, new_schema.as_ref(), stmt, &self.user);
                if let Some(a) = &new_auth {
                    txn.put(AUTH_KEY.to_vec(), codec::encode(a));
                }
                Ok((new_schema, new_auth, changed))
            })();
            if r.is_err() {
                txn.rollback_to(mark);
            }
            r
        })();
        let (new_schema, new_auth, changed) = match result {
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
            if let Some(a) = new_auth {
                st.local_auth = Some(Arc::new(a));
            }
        }
        if autocommit {
            let (local, local_auth) = {
                let mut st = self.state.borrow_mut();
                (st.local_schema.take(), st.local_auth.take())
            };
            txn.commit()?;
            self.publish(local, local_auth);
        } else {
            self.state.borrow_mut().txn = Some(txn);
        }
        Ok(changed.returning.unwrap_or_default())
    }
}

/// The tables a data change names (for hiding unseen objects in errors).
fn target_names(stmt: &Ast) -> Vec<String> {
    match stmt {
        Ast::Insert(i) => vec![i.table.clone()],
        Ast::Update(u) => vec![u.table.clone()],
        Ast::Delete(d) => vec![d.table.clone()],
        Ast::CreateIndex(c) => vec![c.table.clone()],
        Ast::AlterTable { table, .. } => vec![table.clone()],
        Ast::Drop { names, .. } => names.clone(),
        _ => Vec::new(),
    }
}

/// What a schema change does to ownership: new tables and views belong
/// to their creator (root's need no entry: admins may do everything),
/// dropped ones lose their grants and policies, renamed ones keep them.
fn ownership(
    auth: &AuthState,
    old: &Schema,
    new: Option<&Schema>,
    stmt: &Ast,
    user: &str,
) -> Option<AuthState> {
    let new = new?;
    let mut a = auth.clone();
    let mut changed = false;
    let attached = |a: &AuthState, n: &str| {
        let n = n.to_lowercase();
        a.owners.contains_key(&n)
            || a.grants.keys().any(|(o, _)| *o == n)
            || a.rls.contains(&n)
            || a.audit.contains_key(&n)
            || a.policies.keys().any(|(t, _)| *t == n)
    };
    let by_user = user != crate::auth::ROOT;
    match stmt {
        Ast::CreateTable(ct)
            if by_user && old.table(&ct.name).is_none() && new.table(&ct.name).is_some() =>
        {
            a.set_owner(&ct.name, user);
            changed = true;
        }
        Ast::CreateView { name, .. }
            if by_user && old.view(name).is_none() && new.view(name).is_some() =>
        {
            a.set_owner(name, user);
            changed = true;
        }
        Ast::Drop { names, .. } => {
            for n in names {
                let gone = new.table(n).is_none() && new.view(n).is_none();
                if gone && attached(&a, n) {
                    a.drop_object(n);
                    changed = true;
                }
            }
        }
        Ast::AlterTable {
            table,
            op: crate::syntax::ast::AlterOp::RenameTable(to),
        } if attached(&a, table) => {
            a.rename_object(table, to);
            changed = true;
        }
        _ => {}
    }
    changed.then_some(a)
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
