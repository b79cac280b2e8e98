//! Shared by the `attack_*` suites: a fresh in-memory database, users
//! logged in as themselves, and checks that an attack failed — the
//! statement was refused (or did nothing) AND every table and the
//! security catalog are exactly as before ("nothing changed"), so a
//! refusal that happened after a partial change still fails the test.
//!
//! Each suite counts its attacks with [`Attacks`] and prints the count,
//! so the report can say how many ways each class was tried.

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use sealdb::{
    AuditRecord, ClientInfo, Credentials, Db, Error, ErrorCode, Options, PasswordCost, Session,
    Value,
};

/// Table `notes (id, owner, body)` under row policies (each user reads
/// and inserts her own rows only), and `users`, each with password
/// `pw-<name>` (see [`login`]), granted SELECT and INSERT on it.
pub fn own_notes(root: &Session, users: &[&str]) {
    let mut script = String::from(
        "CREATE TABLE notes (id INTEGER PRIMARY KEY, owner TEXT, body TEXT);
         ALTER TABLE notes ENABLE ROW LEVEL SECURITY;
         CREATE POLICY own_read ON notes FOR SELECT USING (owner = current_user);
         CREATE POLICY own_write ON notes FOR INSERT WITH CHECK (owner = current_user);",
    );
    for u in users {
        script += &format!("CREATE USER {u} WITH PASSWORD 'pw-{u}';");
    }
    script += &format!("GRANT SELECT, INSERT ON notes TO {};", users.join(", "));
    root.run_script(&script, |_, _| {}).unwrap();
}

/// `name` logged in with password `pw-<name>` (as [`own_notes`] made her).
pub fn login(db: &Db, name: &str) -> Session {
    db.connect(
        Credentials::password(name, &format!("pw-{name}")),
        ClientInfo::local("attack"),
    )
    .unwrap()
}

/// A fresh encrypted database in memory, with cheap password hashing.
pub fn open_db() -> Db {
    open_db_with(Options::default())
}

/// [`open_db`] with `options` (its file system and password cost are
/// replaced).
pub fn open_db_with(options: Options) -> Db {
    Db::open_with(
        "/db",
        sealdb::MemoryKeyProvider::new(sealdb::KeyBytes::from_slice(&[7u8; 32])).unwrap(),
        Options {
            vfs: Some(Arc::new(sealdb::vfs::MemVfs::new())),
            password_cost: PasswordCost::dangerous_minimal(),
            ..options
        },
    )
    .unwrap()
}

/// A database with a root session, users created on demand (password
/// `pw-NAME`), and every audit record kept.
pub struct Lab {
    pub db: Db,
    pub root: Session,
    pub audit: Arc<Mutex<Vec<AuditRecord>>>,
    sessions: HashMap<String, Session>,
}

impl Lab {
    /// A fresh database; `setup` runs as root.
    pub fn new(setup: &str) -> Lab {
        let audit: Arc<Mutex<Vec<AuditRecord>>> = Arc::default();
        let sink = audit.clone();
        let db = open_db_with(Options {
            audit_sink: Some(Arc::new(move |r: &AuditRecord| {
                sink.lock().unwrap().push(r.clone())
            })),
            ..Options::default()
        });
        let root = db.root_session();
        root.run_script(setup, |_, _| {})
            .unwrap_or_else(|e| panic!("setup failed: {e}\n{setup}"));
        Lab {
            db,
            root,
            audit,
            sessions: HashMap::new(),
        }
    }

    /// Creates `name` (a user with password `pw-NAME`) as root.
    pub fn user(&mut self, name: &str) -> &mut Self {
        self.root
            .execute(
                &format!("CREATE USER {name} WITH PASSWORD 'pw-{name}'"),
                &[],
            )
            .unwrap();
        self
    }

    /// `name`'s session (logged in on first use).
    pub fn s(&mut self, name: &str) -> &Session {
        if name == "root" {
            return &self.root;
        }
        let db = self.db.clone();
        self.sessions.entry(name.to_string()).or_insert_with(|| {
            db.connect(
                Credentials::password(name, &format!("pw-{name}")),
                ClientInfo::local("attack"),
            )
            .unwrap_or_else(|e| panic!("login {name}: {e}"))
        })
    }

    /// Logs `name` in again (a fresh session).
    pub fn relogin(&mut self, name: &str) -> &Session {
        self.sessions.remove(name);
        self.s(name)
    }

    /// Runs `sql` as root; it must succeed.
    pub fn as_root(&mut self, sql: &str) {
        self.root
            .run_script(sql, |_, _| {})
            .unwrap_or_else(|e| panic!("root `{sql}`: {e}"));
    }

    /// Runs `sql` as `who`; it must succeed. Returns the rows (or
    /// `ok N` for a statement without a result).
    pub fn ok(&mut self, who: &str, sql: &str) -> String {
        let s = self.s(who);
        run(s, sql).unwrap_or_else(|e| panic!("{who}: `{sql}` failed: {e}"))
    }

    /// Runs `sql` as `who`; returns the result or the error.
    pub fn try_run(&mut self, who: &str, sql: &str) -> Result<String, Error> {
        let s = self.s(who);
        run(s, sql)
    }

    /// Runs `sql` as root and returns the rows.
    pub fn root_rows(&self, sql: &str) -> String {
        run(&self.root, sql).unwrap_or_else(|e| panic!("root `{sql}`: {e}"))
    }

    /// The attack `sql` by `who` must fail (any error) and change
    /// nothing; returns the error.
    pub fn refused(&mut self, who: &str, sql: &str) -> Error {
        let before = dump(&self.db);
        let r = self.try_run(who, sql);
        let after = dump(&self.db);
        assert_eq!(before, after, "{who}: `{sql}` changed something ({r:?})");
        match r {
            Err(e) => e,
            Ok(v) => panic!("{who}: `{sql}` should have been refused, gave {v}"),
        }
    }

    /// Like [`Lab::refused`], with a permission error (or "no such
    /// table", for objects the attacker may not see).
    pub fn denied(&mut self, who: &str, sql: &str) -> Error {
        let e = self.refused(who, sql);
        assert!(
            e.code() == ErrorCode::PermissionDenied || e.to_string().contains("no such"),
            "{who}: `{sql}`: expected a permission error, got {e}"
        );
        e
    }

    /// The audit records written since `mark` (see [`Lab::mark`]).
    pub fn audit_since(&self, mark: usize) -> Vec<AuditRecord> {
        self.audit.lock().unwrap()[mark..].to_vec()
    }

    /// The number of audit records so far.
    pub fn mark(&self) -> usize {
        self.audit.lock().unwrap().len()
    }
}

fn render(v: &Value) -> String {
    match v {
        Value::Null => "NULL".into(),
        Value::Integer(i) => i.to_string(),
        Value::Real(r) => r.to_string(),
        Value::Text(s) => s.clone(),
        Value::Blob(b) => format!("{b:?}"),
    }
}

/// Rows as `a|b;c|d`, or `ok N` (rows changed) without a result set.
pub fn run(s: &Session, sql: &str) -> Result<String, Error> {
    let mut rows = s.query(sql, &[])?;
    let has_columns = !rows.columns().is_empty();
    let mut out = Vec::new();
    while let Some(r) = rows.next()? {
        out.push(r.values().iter().map(render).collect::<Vec<_>>().join("|"));
    }
    drop(rows);
    if has_columns {
        Ok(out.join(";"))
    } else {
        Ok(format!("ok {}", s.changes()))
    }
}

/// Every table's rows and the security catalog, as root sees them.
pub fn dump(db: &Db) -> String {
    let root = db.root_session();
    let mut out = String::new();
    for name in root.table_names() {
        out.push_str(&format!("== {name}\n"));
        match run(&root, &format!("SELECT * FROM \"{name}\"")) {
            Ok(rows) => {
                let mut rows: Vec<&str> = rows.split(';').collect();
                rows.sort();
                out.push_str(&rows.join("\n"));
            }
            Err(e) => out.push_str(&format!("error: {e}")),
        }
        out.push('\n');
    }
    for sql in ["SHOW GRANTS", "SHOW ROLES"] {
        out.push_str(&format!("== {sql}\n{}\n", run(&root, sql).unwrap()));
    }
    out
}

/// Counts the attacks of one suite and reports them.
pub struct Attacks {
    class: &'static str,
    n: usize,
}

impl Attacks {
    pub fn new(class: &'static str) -> Attacks {
        Attacks { class, n: 0 }
    }

    /// One more attack tried.
    pub fn tried(&mut self) {
        self.n += 1;
    }

    /// How many.
    pub fn count(&self) -> usize {
        self.n
    }
}

impl Drop for Attacks {
    fn drop(&mut self) {
        println!("{}: {} attacks", self.class, self.n);
    }
}

/// The message SQLite (rusqlite's bundled one) gives for `sql`, which must
/// fail there: the reference a test compares sealdb's error with.
pub fn sqlite_error(lite: &rusqlite::Connection, sql: &str) -> String {
    match lite.execute_batch(sql) {
        Err(rusqlite::Error::SqliteFailure(_, Some(m))) => m,
        Err(e) => e.to_string(),
        Ok(()) => panic!("SQLite accepted `{sql}`"),
    }
}
