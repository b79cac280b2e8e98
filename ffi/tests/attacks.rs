//! Access-control attacks through the C ABI (issue 13, items 1, 3, 4, 5,
//! 7, 8, 9, 11): one or more per class, as an ordinary user, with the
//! calls a C program makes. The Rust suites (tests/attack_*.rs) try many
//! more; these show the rules hold at the ABI, with its error codes.
//!
//! Users log in under a `trust` host rule (no password hashing cost).

// Every unsafe block calls an export with pointers to live locals.
#![allow(clippy::undocumented_unsafe_blocks, clippy::unwrap_used)]

use std::ffi::{c_char, CStr, CString};
use std::ptr::{null, null_mut};

use sealdb_ffi::conn::*;
use sealdb_ffi::db::*;
use sealdb_ffi::error::*;
use sealdb_ffi::stmt::*;

fn c(s: &str) -> CString {
    CString::new(s).unwrap()
}

struct Lab {
    db: *mut sealdb_db,
    root: *mut sealdb_conn,
    users: Vec<*mut sealdb_conn>,
}

impl Lab {
    fn new(setup: &str) -> Lab {
        let mut db = null_mut();
        assert_eq!(unsafe { sealdb_db_open_in_memory(&mut db) }, SEALDB_OK);
        Lab::with(db, setup)
    }

    /// A store on disk at `path` (made or reopened), key 7 × 32.
    fn at(path: &std::path::Path, setup: &str) -> Lab {
        let (path, key) = (c(path.to_str().unwrap()), [7u8; 32]);
        let mut db = null_mut();
        assert_eq!(
            unsafe { sealdb_db_open_key(path.as_ptr(), key.as_ptr(), key.len(), &mut db) },
            SEALDB_OK
        );
        Lab::with(db, setup)
    }

    fn with(db: *mut sealdb_db, setup: &str) -> Lab {
        let mut root = null_mut();
        assert_eq!(unsafe { sealdb_connect_root(db, &mut root) }, SEALDB_OK);
        let lab = Lab {
            db,
            root,
            users: Vec::new(),
        };
        lab.ok(
            root,
            "SET CLUSTER SETTING server.host_based_authentication.configuration = 'local all all trust'",
        );
        lab.ok(root, setup);
        lab
    }

    fn user(&mut self, name: &str) -> *mut sealdb_conn {
        let (user, pw, app) = (c(name), c("unused"), c("ffi-attacks"));
        let mut conn = null_mut();
        let rc = unsafe {
            sealdb_connect(
                self.db,
                user.as_ptr(),
                pw.as_ptr(),
                null(),
                app.as_ptr(),
                &mut conn,
            )
        };
        assert_eq!(rc, SEALDB_OK, "login {name}");
        self.users.push(conn);
        conn
    }

    fn exec(&self, conn: *mut sealdb_conn, sql: &str) -> i32 {
        let sql = c(sql);
        unsafe { sealdb_exec(conn, sql.as_ptr()) }
    }

    fn ok(&self, conn: *mut sealdb_conn, sql: &str) {
        let rc = self.exec(conn, sql);
        assert_eq!(rc, SEALDB_OK, "`{sql}`: {}", errmsg(conn));
    }

    /// `sql` fails with `code`; returns the message.
    fn fails(&self, conn: *mut sealdb_conn, sql: &str, code: i32) -> String {
        let rc = self.exec(conn, sql);
        let msg = errmsg(conn);
        assert_eq!(rc, code, "`{sql}`: {msg}");
        msg
    }

    /// The first column of every row of `sql`, as text.
    fn column(&self, conn: *mut sealdb_conn, sql: &str) -> Vec<String> {
        let sql = c(sql);
        let mut stmt = null_mut();
        assert_eq!(
            unsafe { sealdb_prepare(conn, sql.as_ptr(), &mut stmt) },
            SEALDB_OK
        );
        let mut out = Vec::new();
        loop {
            match sealdb_step(stmt) {
                SEALDB_ROW => {
                    let mut p: *const c_char = null();
                    let mut n = 0usize;
                    assert_eq!(
                        unsafe { sealdb_column_text(stmt, 0, &mut p, &mut n) },
                        SEALDB_OK
                    );
                    out.push(if p.is_null() {
                        "NULL".into()
                    } else {
                        unsafe { CStr::from_ptr(p) }.to_string_lossy().into_owned()
                    });
                }
                SEALDB_DONE => break,
                rc => panic!("step: {rc}"),
            }
        }
        assert_eq!(sealdb_stmt_free(stmt), SEALDB_OK);
        out
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        for u in self.users.drain(..) {
            sealdb_conn_free(u);
        }
        sealdb_conn_free(self.root);
        sealdb_db_free(self.db);
    }
}

fn errmsg(conn: *mut sealdb_conn) -> String {
    let p = sealdb_conn_errmsg(conn);
    if p.is_null() {
        return String::new();
    }
    let s = unsafe { CStr::from_ptr(p) }.to_string_lossy().into_owned();
    unsafe { sealdb_string_free(p) };
    s
}

const SETUP: &str = "
CREATE TABLE t (id INTEGER PRIMARY KEY, owner TEXT, pub TEXT, secret TEXT, code TEXT UNIQUE);
INSERT INTO t VALUES (1, 'alice', 'p1', 's1', 'A'), (2, 'bob', 'p2', 's2', 'B');
CREATE USER alice; CREATE USER bob; CREATE USER carol;
GRANT CREATE ON DATABASE main TO alice;
";

#[test]
fn triggers_fail_closed_and_run_as_their_owner() {
    let mut lab = Lab::new(SETUP);
    let alice = lab.user("alice");
    lab.ok(alice, "CREATE TABLE loot (v TEXT)");
    for i in 1..=17 {
        lab.ok(alice, &format!("CREATE TABLE c{i} (x INTEGER)"));
    }
    for i in 1..17 {
        lab.ok(
            alice,
            &format!(
                "CREATE TRIGGER k{i} AFTER INSERT ON c{i} BEGIN INSERT INTO c{} VALUES (1); END",
                i + 1
            ),
        );
    }
    lab.ok(
        alice,
        "CREATE TRIGGER k17 AFTER INSERT ON c17 BEGIN INSERT INTO loot SELECT secret FROM t; END",
    );
    // Item 1: past the old analysis limit of 16, still refused — as a
    // missing table, since alice cannot see t (hidden = missing, item 13).
    let msg = lab.fails(
        alice,
        "INSERT INTO c1 VALUES (1)",
        SEALDB_ERR_SQL_UNKNOWN_OBJECT,
    );
    assert_eq!(msg, "no such table: t");
    // Item 4: root firing alice's trojan gives it no rights.
    lab.fails(
        lab.root,
        "INSERT INTO c17 VALUES (1)",
        SEALDB_ERR_PERMISSION_DENIED,
    );
    // Item 3: a WHEN clause reading the secret is refused, not evaluated.
    lab.ok(
        alice,
        "CREATE TRIGGER spy AFTER INSERT ON loot WHEN (SELECT secret FROM t WHERE id = 2) = 's2' \
         BEGIN DELETE FROM loot; END",
    );
    lab.fails(
        lab.root,
        "INSERT INTO loot VALUES ('x')",
        SEALDB_ERR_PERMISSION_DENIED,
    );
    assert_eq!(lab.column(lab.root, "SELECT count(*) FROM loot"), ["0"]);
    // Planting a trigger on another's table needs TRIGGER.
    lab.ok(lab.root, "GRANT CREATE ON t TO alice");
    lab.fails(
        alice,
        "CREATE TRIGGER p AFTER INSERT ON t BEGIN DELETE FROM loot; END",
        SEALDB_ERR_PERMISSION_DENIED,
    );
}

#[test]
fn raise_only_inside_trigger_programs() {
    let mut lab = Lab::new(SETUP);
    let alice = lab.user("alice");
    for sql in [
        "SELECT RAISE(IGNORE)",
        "CREATE VIEW v AS SELECT RAISE(ABORT, 'x')",
        "CREATE TABLE c (a CHECK (RAISE(IGNORE)))",
        "CREATE TABLE d (a DEFAULT (RAISE(IGNORE)))",
    ] {
        lab.fails(alice, sql, SEALDB_ERR_SQL_MISUSE);
    }
    assert_eq!(
        lab.column(
            alice,
            "SELECT count(*) FROM sqlite_schema WHERE name IN ('v', 'c', 'd')"
        ),
        ["0"]
    );
    lab.ok(alice, "CREATE TABLE mine (x INTEGER)");
    lab.ok(
        alice,
        "CREATE TRIGGER skip BEFORE INSERT ON mine WHEN new.x < 0 BEGIN SELECT RAISE(IGNORE); END",
    );
    lab.ok(
        alice,
        "CREATE TRIGGER stop BEFORE INSERT ON mine WHEN new.x = 0 \
         BEGIN SELECT RAISE(ABORT, 'zero from ' || current_user); END",
    );
    lab.ok(alice, "INSERT INTO mine VALUES (1), (-1), (2)");
    let msg = lab.fails(
        alice,
        "INSERT INTO mine VALUES (3), (0)",
        SEALDB_ERR_SQL_CONSTRAINT,
    );
    assert_eq!(msg, "zero from alice");
    assert_eq!(
        lab.column(alice, "SELECT x FROM mine ORDER BY x"),
        ["1", "2"]
    );
    // No oracle through the message: alice may not read t.secret.
    lab.ok(
        alice,
        "CREATE TRIGGER leak BEFORE INSERT ON mine WHEN new.x = 9 \
         BEGIN SELECT RAISE(ABORT, (SELECT secret FROM t WHERE id = 2)); END",
    );
    for conn in [alice, lab.root] {
        let rc = lab.exec(conn, "INSERT INTO mine VALUES (9)");
        let msg = errmsg(conn);
        assert!(
            rc == SEALDB_ERR_PERMISSION_DENIED || rc == SEALDB_ERR_SQL_UNKNOWN_OBJECT,
            "{rc}: {msg}"
        );
        assert!(!msg.contains("s2"), "{msg}");
    }
}

/// Ownership hangs on object ids: across reopens nobody gains another's
/// table, and a name reused after a DROP is not its old owner's.
#[test]
fn owners_survive_reopens() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("db");
    let hidden_or_denied = |lab: &Lab, conn, sql: &str| {
        let rc = lab.exec(conn, sql);
        assert!(
            rc == SEALDB_ERR_PERMISSION_DENIED || rc == SEALDB_ERR_SQL_UNKNOWN_OBJECT,
            "`{sql}`: {rc} {}",
            errmsg(conn)
        );
    };
    {
        let mut lab = Lab::at(
            &path,
            "CREATE USER alice; CREATE USER bob; GRANT CREATE ON DATABASE main TO alice, bob",
        );
        let (alice, bob) = (lab.user("alice"), lab.user("bob"));
        lab.ok(
            alice,
            "CREATE TABLE hers (v TEXT); INSERT INTO hers VALUES ('a')",
        );
        lab.ok(alice, "CREATE TABLE gone (v TEXT); DROP TABLE gone");
        lab.ok(
            bob,
            "CREATE TABLE his (v TEXT); INSERT INTO his VALUES ('b')",
        );
        lab.ok(
            lab.root,
            "CREATE TABLE gone (v TEXT); INSERT INTO gone VALUES ('root''s')",
        );
    }
    {
        let mut lab = Lab::at(&path, "SELECT 1");
        let (alice, bob) = (lab.user("alice"), lab.user("bob"));
        assert_eq!(lab.column(alice, "SELECT v FROM hers"), ["a"]);
        for sql in [
            "SELECT v FROM his",
            "DROP TABLE his",
            "ALTER TABLE his RENAME TO mine",
            "GRANT SELECT ON his TO alice",
            "SELECT v FROM gone",
            "DROP TABLE gone",
            "GRANT SELECT ON gone TO bob",
        ] {
            hidden_or_denied(&lab, alice, sql);
        }
        lab.ok(bob, "CREATE TABLE later (v TEXT)");
        hidden_or_denied(&lab, alice, "DROP TABLE later");
        lab.ok(lab.root, "REASSIGN OWNED BY alice TO bob");
    }
    let mut lab = Lab::at(&path, "SELECT 1");
    let (alice, bob) = (lab.user("alice"), lab.user("bob"));
    hidden_or_denied(&lab, alice, "DROP TABLE hers");
    lab.ok(bob, "DROP TABLE hers");
    hidden_or_denied(&lab, bob, "DROP TABLE gone");
    assert_eq!(lab.column(lab.root, "SELECT v FROM gone"), ["root's"]);
}

#[test]
fn conflict_clauses_and_updates_respect_row_level_security() {
    let mut lab = Lab::new(SETUP);
    lab.ok(
        lab.root,
        "GRANT ALL ON t TO alice, bob;
         ALTER TABLE t ENABLE ROW LEVEL SECURITY;
         CREATE POLICY own ON t FOR ALL USING (owner = current_user)",
    );
    let alice = lab.user("alice");
    // Item 5.
    lab.fails(
        alice,
        "REPLACE INTO t VALUES (2, 'alice', 'x', 'x', 'Z')",
        SEALDB_ERR_PERMISSION_DENIED,
    );
    lab.fails(
        alice,
        "INSERT INTO t VALUES (2, 'alice', 'x', 'x', 'Z') ON CONFLICT (id) DO UPDATE SET owner = 'alice'",
        SEALDB_ERR_PERMISSION_DENIED,
    );
    // Item 9: an UPDATE that reads rows matches none of bob's.
    lab.ok(alice, "UPDATE t SET pub = 'pwned' WHERE secret = 's2'");
    let mut changes = 9;
    assert_eq!(unsafe { sealdb_changes(alice, &mut changes) }, SEALDB_OK);
    assert_eq!(changes, 0);
    assert_eq!(
        lab.column(lab.root, "SELECT pub || secret || code FROM t WHERE id = 2"),
        ["p2s2B"]
    );
}

#[test]
fn or_replace_needs_delete() {
    let mut lab = Lab::new(SETUP);
    lab.ok(lab.root, "GRANT SELECT, INSERT, UPDATE ON t TO alice");
    let alice = lab.user("alice");
    // Item 7.
    let msg = lab.fails(
        alice,
        "UPDATE OR REPLACE t SET code = 'B' WHERE id = 1",
        SEALDB_ERR_PERMISSION_DENIED,
    );
    assert!(msg.contains("DELETE"), "{msg}");
    assert_eq!(lab.column(lab.root, "SELECT count(*) FROM t"), ["2"]);
}

#[test]
fn names_are_not_identities() {
    let mut lab = Lab::new(SETUP);
    lab.ok(
        lab.root,
        "GRANT SELECT (id, pub) ON t TO alice; GRANT CREATE ON t TO alice",
    );
    let alice = lab.user("alice");
    // Item 8: a column swap moves no grant.
    lab.ok(alice, "ALTER TABLE t RENAME COLUMN pub TO tmp");
    lab.ok(alice, "ALTER TABLE t RENAME COLUMN secret TO pub");
    lab.fails(alice, "SELECT pub FROM t", SEALDB_ERR_PERMISSION_DENIED);
    // A dropped user's session ends even if the name comes back.
    let bob = lab.user("bob");
    lab.ok(
        lab.root,
        "DROP USER bob; CREATE USER bob; GRANT SELECT ON t TO bob",
    );
    let msg = lab.fails(bob, "SELECT id FROM t", SEALDB_ERR_PERMISSION_DENIED);
    assert!(msg.contains("no longer exists"), "{msg}");
}

#[test]
fn revoke_follows_grantors() {
    let mut lab = Lab::new(SETUP);
    lab.ok(
        lab.root,
        "GRANT SELECT ON t TO alice, bob WITH GRANT OPTION",
    );
    let (alice, bob, carol) = (lab.user("alice"), lab.user("bob"), lab.user("carol"));
    // Item 11.
    lab.ok(alice, "GRANT SELECT ON t TO carol WITH GRANT OPTION");
    lab.ok(bob, "REVOKE SELECT ON t FROM carol");
    assert_eq!(lab.column(carol, "SELECT count(*) FROM t"), ["2"]);
    lab.ok(carol, "GRANT SELECT ON t TO bob");
    lab.fails(
        lab.root,
        "REVOKE SELECT ON t FROM alice",
        SEALDB_ERR_SQL_MISUSE,
    );
    lab.ok(lab.root, "REVOKE SELECT ON t FROM alice CASCADE");
    lab.fails(carol, "SELECT id FROM t", SEALDB_ERR_SQL_UNKNOWN_OBJECT);
    assert_eq!(lab.column(bob, "SELECT count(*) FROM t"), ["2"]);
}
