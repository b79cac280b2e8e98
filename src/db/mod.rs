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
//! column the statement reaches — through subqueries, views and row
//! policies (checked against their owner's rights) and triggers (their
//! owner's, checked again when each fires) — and each use must be
//! allowed, or the statement fails having changed nothing. Objects the user holds no privilege on are reported as not
//! existing. Denied statements, logins, security changes and statements
//! on audited tables go to the audit log (`audit`).

mod audit_trail;
mod authorize;
mod backup;
mod cluster;
mod convert;
mod dispatch;
mod named;
mod node;
mod pragma;
mod refusal_audit;
mod rows;
mod security;
mod session;
mod statement;
mod test_hook;
mod transaction;
mod vacuum;

use std::cell::RefCell;
use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use parking_lot::{Mutex, RwLock};

use crate::audit::{AuditCheckpoint, AuditLog, AuditRecord, AuditSink, VerifyReport};
use crate::auth::state::{ObjectId, ObjectInfo, ObjectLookup};
use crate::auth::{codec, AuthState, ClientInfo, Credentials, PasswordCost, Throttle};

use crate::catalog::{Schema, CATALOG_PREFIX};
use crate::crypto::{KeyBytes, KeyProvider, MemoryKeyProvider};
use crate::error::{Error, Result};
use crate::repl::raft::node::{NodeCommitter, RaftNode};
use crate::repl::raft::state_machine::ApplyHook;
use crate::repl::raft::ReplicationOptions;
use crate::storage::{Direction, Engine, StorageOptions};
use crate::txn::TxnManager;
use crate::vfs::{KeyOptions, MemVfs, OsVfs, Vfs};

use audit_trail::*;
use authorize::*;
pub use cluster::Cluster;
use convert::*;
pub use convert::{FromValue, ToValue};
use dispatch::*;
use named::Named;
use rows::*;
pub use rows::{Row, Rows};
pub use security::LoginToken;
pub use session::Session;
use session::*;
pub use statement::Statement;
use statement::*;
#[doc(hidden)]
pub use test_hook::{HookPoint, TestHook};
pub use transaction::Transaction;

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
    /// Join a Raft cluster: every commit is replicated (see
    /// [`crate::repl::raft`]); `None` (the default) is a single node.
    pub replication: Option<ReplicationOptions>,
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
            replication: None,
        }
    }
}

/// Where the security catalog is stored (a system key, outside the
/// catalog and table key ranges).
const AUTH_KEY: &[u8] = b"\x00s/auth";

/// Reads the security catalog in `txn`: its value, with the owners kept
/// under owner keys (version 4) added to those a value of version 3 or
/// older holds. `None`: no catalog stored yet.
fn read_auth(txn: &mut crate::txn::Txn) -> Result<Option<codec::Decoded>> {
    let Some(bytes) = txn.get(AUTH_KEY)? else {
        return Ok(None);
    };
    let mut decoded = codec::decode(&bytes)?;
    if let codec::Decoded::Current(a) = &mut decoded {
        let end = crate::sql::exec::prefix_end(codec::OWNER_PREFIX);
        let rows = txn.scan(
            std::ops::Bound::Included(codec::OWNER_PREFIX.to_vec()),
            std::ops::Bound::Excluded(end),
            Direction::Forward,
        )?;
        for row in rows {
            let (k, v) = row?;
            let (object, owner) = codec::decode_owner(&k, &v)?;
            a.owners.insert(object, owner);
        }
    }
    Ok(Some(decoded))
}

/// Writes the security catalog `new` in `txn`, which holds `old` (what
/// the store holds as of this transaction): the value, and the owner keys
/// that changed. A store whose value is older than version 4 has its
/// owners in that value and no owner keys: all of them are written then,
/// in this same transaction, so the stored owners never depend on which
/// version wrote the value.
pub(super) fn put_auth(txn: &mut crate::txn::Txn, old: &AuthState, new: &AuthState) -> Result<()> {
    let stored = txn.get(AUTH_KEY)?;
    let keyed = stored.as_deref().and_then(|b| b.first()).copied() == Some(codec::VERSION);
    let empty = imbl::OrdMap::new();
    let (put, del) = codec::owner_changes(if keyed { &old.owners } else { &empty }, &new.owners);
    txn.put(AUTH_KEY.to_vec(), codec::encode(new));
    for (k, v) in put {
        txn.put(k, v);
    }
    for k in del {
        txn.delete(k);
    }
    Ok(())
}

/// The data key the audit log last saw active (to log key changes).
const SEEN_KEY: &[u8] = b"\x00s/audit_key";

/// What a replicated database's Raft node needs to open its own log
/// store beside the data: the same file system, directory and keys.
struct NodeParts<'a> {
    vfs: Arc<dyn Vfs>,
    path: &'a Path,
    provider: Arc<dyn KeyProvider>,
}

struct DbInner {
    mgr: Arc<TxnManager>,
    schema: RwLock<Arc<Schema>>,
    auth: RwLock<Arc<AuthState>>,
    /// Writes the transport's refusals to `audit` (replicated over QUIC).
    /// Before `audit`: dropping it drains its queue into the log.
    _refusal_audit: Option<refusal_audit::RefusalAudit>,
    audit: Arc<AuditLog>,
    throttle: Mutex<Throttle>,
    password_cost: PasswordCost,
    busy_timeout: Duration,
    /// Commits are fsynced (`SyncMode::Full`), for `PRAGMA synchronous`.
    sync_full: bool,
    policy_exprs: Arc<Mutex<HashMap<String, crate::syntax::ast::Expr>>>,
    hooks: test_hook::HookSlot,
    /// This store's Raft node, when replicated.
    node: Option<Arc<RaftNode>>,
}

impl DbInner {
    /// Re-reads the schema and the security catalog from the engine
    /// (after a replicated commit or a snapshot changed them).
    fn reload_caches(&self) -> Result<()> {
        let schema = load_schema(&self.mgr)?;
        let auth = match read_auth(&mut self.mgr.begin())? {
            Some(decoded) => match decoded {
                codec::Decoded::Current(a) => a,
                // Upgrading writes a commit, which cannot run inside the
                // apply that called this; the leader upgrades at open.
                codec::Decoded::Legacy(_) => {
                    return Err(Error::InvalidArgument {
                        what: "a replicated security catalog in the old format".into(),
                    })
                }
            },
            None => AuthState::new(),
        };
        *self.schema.write() = Arc::new(schema);
        *self.auth.write() = Arc::new(auth);
        Ok(())
    }
}

impl ApplyHook for DbInner {
    fn watches(&self, key: &[u8]) -> bool {
        key.starts_with(CATALOG_PREFIX) || key == AUTH_KEY || key.starts_with(codec::OWNER_PREFIX)
    }

    fn reload(&self) {
        // A failure here is a failing engine, which refuses the next read
        // or write itself; the caches keep their last good state.
        let _ = self.reload_caches();
    }
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

struct SchemaLookup<'a>(&'a Schema);

impl ObjectLookup for SchemaLookup<'_> {
    fn object(&self, name: &str) -> Option<ObjectInfo> {
        if let Some(t) = self.0.table(name) {
            return Some(ObjectInfo {
                id: u64::from(t.id),
                columns: t
                    .columns
                    .iter()
                    .map(|c| (c.id, c.name.to_lowercase()))
                    .collect(),
            });
        }
        let v = self.0.view(name)?;
        // A view's columns are numbered in order (views are not altered).
        let cols = crate::sql::access::view_columns(self.0, name);
        Some(ObjectInfo {
            id: u64::from(v.id),
            columns: cols
                .iter()
                .enumerate()
                .map(|(i, c)| (i as u32 + 1, c.to_lowercase()))
                .collect(),
        })
    }

    fn name_of(&self, id: ObjectId) -> Option<String> {
        let s = self.0;
        s.tables
            .values()
            .find(|t| u64::from(t.id) == id)
            .map(|t| t.name.clone())
            .or_else(|| {
                s.views
                    .values()
                    .find(|v| u64::from(v.id) == id)
                    .map(|v| v.name.clone())
            })
            .or_else(|| {
                s.triggers
                    .values()
                    .find(|t| u64::from(t.id) == id)
                    .map(|t| format!("trigger {}", t.name))
            })
    }
}

/// Converts a version-1 security catalog (names) to the current one (ids)
/// and stores it: names resolve through the schema at open, legacy
/// objects without an owner get root, legacy triggers their table's
/// owner, and policies are bound to what they name now.
fn upgrade_auth(
    mgr: &Arc<TxnManager>,
    schema: &Schema,
    legacy: codec::LegacyAuth,
) -> Result<AuthState> {
    let lookup = SchemaLookup(schema);
    let objects: Vec<ObjectId> = schema
        .tables
        .values()
        .map(|t| u64::from(t.id))
        .chain(schema.views.values().map(|v| u64::from(v.id)))
        .collect();
    let triggers: Vec<(ObjectId, String)> = schema
        .triggers
        .values()
        .map(|t| (u64::from(t.id), t.table.to_lowercase()))
        .collect();
    let mut auth = legacy.upgrade(&lookup, &objects, &triggers);
    let root = Arc::new(crate::sql::plan::Security {
        user: crate::auth::ROOT.into(),
        session_user: crate::auth::ROOT.into(),
        roles: auth.roles_of_id(crate::auth::state::ROOT_ID),
        auth: Arc::new(auth.clone()),
        policy_exprs: Arc::default(),
    });
    for p in auth.policies.values_mut() {
        let Some(table) = lookup.name_of(p.table) else {
            continue;
        };
        let texts: Vec<&str> = p
            .using
            .iter()
            .chain(p.check.iter())
            .map(|s| s.as_str())
            .collect();
        // A policy that no longer binds keeps no references; using it
        // fails (its expression does not bind), which refuses access.
        if let Ok(refs) = crate::sql::access::bind_policy(schema, &table, &texts, &root) {
            p.refs = refs;
        }
    }
    // A read-only open converts in memory only; the next read-write open
    // stores the conversion.
    if !mgr.engine().is_read_only() {
        let mut txn = mgr.begin();
        txn.ensure_writer(Duration::from_secs(5))?;
        put_auth(&mut txn, &AuthState::new(), &auth)?;
        txn.commit()?;
    }
    Ok(auth)
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
        let provider: Arc<dyn KeyProvider> = Arc::new(provider);
        let engine = Engine::open(
            vfs.clone(),
            path.as_ref(),
            provider.clone(),
            options.keys.clone(),
            options.storage.clone(),
        )?;
        let db = Db::assemble(
            engine,
            &options,
            Some(NodeParts {
                vfs,
                path: path.as_ref(),
                provider,
            }),
        )?;
        db.note_key_change()?;
        db.note_quarantine()?;
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

    /// Opens the database in `path` for reading only (see
    /// [`Engine::open_read_only`]): nothing is written, renamed or deleted,
    /// so it works on a read-only copy and leaves the evidence as it was;
    /// the log's tail is replayed into memory. For inspection: the root
    /// session's reads, [`Db::audit_verify`], [`Db::audit_export`] and the
    /// encryption status. Anything that must write (a statement that
    /// changes data, a login, which is audited) fails with
    /// [`Error::ReadOnly`]. `options.host_rules` is ignored.
    pub fn open_read_only(
        path: impl AsRef<Path>,
        provider: impl KeyProvider + 'static,
        options: Options,
    ) -> Result<Db> {
        let vfs: Arc<dyn Vfs> = options
            .vfs
            .clone()
            .unwrap_or_else(|| Arc::new(OsVfs::new()));
        let engine = Engine::open_read_only(
            vfs,
            path.as_ref(),
            Arc::new(provider),
            options.keys.clone(),
            options.storage.clone(),
        )?;
        if options.replication.is_some() {
            return Err(Error::InvalidArgument {
                what: "a replicated database is not opened read-only: open its \
                       directory read-only without Options::replication to inspect it"
                    .into(),
            });
        }
        Db::assemble(engine, &options, None)
    }

    /// A database over an open engine: catalog, security state, audit
    /// log, and with [`Options::replication`] (and `node`, what the Raft
    /// node's own log store needs) the node that replicates its commits.
    fn assemble(engine: Engine, options: &Options, node: Option<NodeParts<'_>>) -> Result<Db> {
        let engine = Arc::new(engine);
        let mgr = TxnManager::new(engine.clone());
        let node = match (&options.replication, node) {
            (None, _) => None,
            (Some(_), None) => {
                return Err(Error::InvalidArgument {
                    what: "this open does not support replication".into(),
                })
            }
            (Some(r), Some(parts)) => {
                if options.host_rules.is_some() {
                    return Err(Error::InvalidArgument {
                        what: "host rules of a replicated database are set with SET CLUSTER \
                               SETTING on the leader, not at open"
                            .into(),
                    });
                }
                let node = RaftNode::open(
                    parts.vfs,
                    parts.path,
                    parts.provider,
                    options.keys.clone(),
                    mgr.clone(),
                    r.clone(),
                )?;
                mgr.set_committer(Arc::new(NodeCommitter {
                    node: Arc::downgrade(&node),
                    engine: engine.clone(),
                }));
                Some(node)
            }
        };
        let schema = load_schema(&mgr)?;
        let auth = match read_auth(&mut mgr.begin())? {
            Some(decoded) => match decoded {
                codec::Decoded::Current(a) => a,
                codec::Decoded::Legacy(l) => upgrade_auth(&mgr, &schema, l)?,
            },
            None => AuthState::new(),
        };
        let sync = options.storage.sync == crate::storage::SyncMode::Full;
        let audit = Arc::new(AuditLog::open(
            engine.clone(),
            sync,
            options.audit_sink.clone(),
        )?);
        let refusal_audit = match options
            .replication
            .as_ref()
            .and_then(|r| r.transport.refusals())
        {
            Some(sinks) => Some(refusal_audit::RefusalAudit::start(
                &sinks,
                Arc::downgrade(&audit),
            )?),
            None => None,
        };
        let db = Db {
            inner: Arc::new(DbInner {
                mgr,
                schema: RwLock::new(Arc::new(schema)),
                auth: RwLock::new(Arc::new(auth)),
                _refusal_audit: refusal_audit,
                audit,
                throttle: Mutex::new(Throttle::default()),
                password_cost: options.password_cost,
                busy_timeout: options.busy_timeout,
                sync_full: sync,
                policy_exprs: Arc::default(),
                hooks: test_hook::HookSlot::default(),
                node,
            }),
        };
        if let Some(node) = &db.inner.node {
            let hook: std::sync::Weak<DbInner> = Arc::downgrade(&db.inner);
            node.set_hook(hook);
            // Entries applied between the load above and the hook.
            db.inner.reload_caches()?;
        }
        Ok(db)
    }

    /// Logs the files the open found newer than the manifest knew of and
    /// moved to `quarantine/` (a crash leftover, or a rolled-back manifest).
    fn note_quarantine(&self) -> Result<()> {
        let moved = self.engine().quarantined();
        if moved.is_empty() {
            return Ok(());
        }
        self.inner.audit.append(AuditRecord {
            time_ms: unix_ms(),
            event: "security".into(),
            user: crate::auth::ROOT.into(),
            statement: format!(
                "files newer than the manifest moved to {}/: {}",
                crate::storage::QUARANTINE_DIR,
                moved.join(", ")
            ),
            outcome: "ok".into(),
            ..AuditRecord::default()
        })?;
        Ok(())
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
                    user_id: roles.id,
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

    /// Rewrites every file under the active key — the audit log's
    /// segments (re-sealed record by record: the chain is unchanged) and
    /// the storage engine's files (see [`Engine::rewrite_all`]) — and
    /// records it in the audit log.
    pub fn rotate_keys(&self, progress: impl FnMut(crate::storage::Progress)) -> Result<()> {
        let started = Instant::now();
        // The audit files first, under the key the rewrite will use, so
        // that the rewrite's last step can retire the old data key. A
        // damaged segment keeps its key (and the rewrite still runs).
        let resealed = self
            .engine()
            .sealed_dir()
            .maybe_rotate()
            .and_then(|_| self.inner.audit.reseal_all());
        let mut r = self.engine().rewrite_all(progress).and(resealed);
        if let (Ok(()), Some(node)) = (&r, &self.inner.node) {
            // The Raft log store is sealed under the same provider.
            r = node.log_engine().rewrite_all(|_| {});
        }
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

    /// [`Db::audit_verify`], also proving that the log still contains the
    /// prefix `anchor` vouches for, unchanged (and is not shorter).
    pub fn audit_verify_against(&self, anchor: &AuditCheckpoint) -> Result<VerifyReport> {
        self.inner.audit.verify_against(anchor)
    }

    /// Verifies the audit chain and returns its head as a checkpoint to
    /// keep outside the database ([`AuditCheckpoint::to_text`]); refuses a
    /// broken chain.
    pub fn audit_checkpoint(&self) -> Result<AuditCheckpoint> {
        self.inner.audit.checkpoint()
    }

    /// Which keys protect the store's files: the live files of the
    /// storage engine and the audit log's segments and checkpoint.
    pub fn encryption_status(&self) -> Result<crate::vfs::EncryptionStatus> {
        let engine = self.engine();
        let mut st = engine.encryption_status()?;
        let audit = engine
            .sealed_dir()
            .encryption_status(|n| n.starts_with(crate::vfs::AUDIT_FILE_PREFIX))?;
        st.files.extend(audit.files);
        st.files.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(st)
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
            user_id: crate::auth::state::ROOT_ID,
            client: ClientInfo::local("root session"),
            sec: RefCell::new(None),
        }
    }

    /// The storage engine (statistics, encryption status, key rotation).
    pub fn engine(&self) -> &Arc<Engine> {
        self.inner.mgr.engine()
    }
}
