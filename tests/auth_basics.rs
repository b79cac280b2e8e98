//! Users, roles, grants, host rules, tokens and the audit log through the
//! public API: the behaviour applications rely on.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use sealdb::{
    AuditRecord, ClientInfo, Credentials, Db, Error, ErrorCode, Options, PasswordCost, Session,
    Value,
};

fn options() -> Options {
    Options {
        vfs: Some(Arc::new(sealdb::vfs::MemVfs::new())),
        password_cost: PasswordCost::dangerous_minimal(),
        ..Options::default()
    }
}

fn open() -> Db {
    Db::open_with(
        "/db",
        sealdb::MemoryKeyProvider::new(sealdb::KeyBytes::from_slice(&[7u8; 32])).unwrap(),
        options(),
    )
    .unwrap()
}

fn ip(s: &str) -> Option<IpAddr> {
    Some(s.parse().unwrap())
}

fn login(db: &Db, user: &str, pw: &str) -> Session {
    db.connect(
        Credentials::password(user, pw),
        ClientInfo::new(ip("10.0.0.5"), "test"),
    )
    .unwrap()
}

fn rows(s: &Session, sql: &str) -> Vec<Vec<Value>> {
    s.query(sql, &[])
        .unwrap()
        .collect_all()
        .unwrap()
        .into_iter()
        .map(|r| r.into_values())
        .collect()
}

#[test]
fn password_login_and_deny_by_default() {
    let db = open();
    let root = db.root_session();
    root.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)", &[])
        .unwrap();
    root.execute("INSERT INTO t VALUES (1, 'a')", &[]).unwrap();
    root.execute("CREATE USER alice WITH PASSWORD $1", &[&"s3cret"])
        .unwrap();
    let alice = login(&db, "alice", "s3cret");
    assert_eq!(alice.user(), "alice");
    // Deny by default, and the table is not even revealed.
    let e = alice.query("SELECT * FROM t", &[]).err().unwrap();
    assert!(e.to_string().contains("no such table: t"), "{e}");
    root.execute("GRANT SELECT ON t TO alice", &[]).unwrap();
    assert_eq!(
        rows(&alice, "SELECT v FROM t"),
        vec![vec![Value::Text("a".into())]]
    );
    let e = alice
        .execute("INSERT INTO t VALUES (2, 'b')", &[])
        .unwrap_err();
    assert_eq!(e.code(), ErrorCode::PermissionDenied, "{e}");
    assert_eq!(
        rows(&root, "SELECT count(*) FROM t"),
        vec![vec![Value::Integer(1)]]
    );
}

#[test]
fn wrong_password_and_unknown_user_fail_alike() {
    let db = open();
    db.root_session()
        .execute("CREATE USER bob WITH PASSWORD 'right'", &[])
        .unwrap();
    let a = db
        .connect(
            Credentials::password("bob", "wrong"),
            ClientInfo::local("x"),
        )
        .err()
        .unwrap();
    let b = db
        .connect(
            Credentials::password("nobody", "wrong"),
            ClientInfo::local("x"),
        )
        .err()
        .unwrap();
    assert_eq!(a.to_string(), b.to_string());
    assert_eq!(a.code(), ErrorCode::AuthenticationFailed);
}

#[test]
fn audit_records_logins_and_verify_passes() {
    let seen: Arc<Mutex<Vec<AuditRecord>>> = Arc::default();
    let sink = seen.clone();
    let db = Db::open_with(
        "/db",
        sealdb::MemoryKeyProvider::new(sealdb::KeyBytes::from_slice(&[7u8; 32])).unwrap(),
        Options {
            audit_sink: Some(Arc::new(move |r: &AuditRecord| {
                sink.lock().unwrap().push(r.clone())
            })),
            ..options()
        },
    )
    .unwrap();
    db.root_session()
        .execute("CREATE USER carol WITH PASSWORD 'pw'", &[])
        .unwrap();
    let _ = db.connect(
        Credentials::password("carol", "bad"),
        ClientInfo::local("app"),
    );
    let c = login(&db, "carol", "pw");
    let tok = c.create_login_token(Duration::from_secs(60)).unwrap();
    let c2 = db
        .connect(
            Credentials::token("carol", tok.token()),
            ClientInfo::local("api"),
        )
        .unwrap();
    assert_eq!(c2.user(), "carol");
    c.revoke_login_token(&tok.id).unwrap();
    let e = db
        .connect(
            Credentials::token("carol", tok.token()),
            ClientInfo::local("api"),
        )
        .err()
        .unwrap();
    assert!(matches!(e, Error::AuthenticationFailed { .. }));
    let events: Vec<String> = seen
        .lock()
        .unwrap()
        .iter()
        .map(|r| r.event.clone())
        .collect();
    assert!(events.contains(&"login_failed".to_string()), "{events:?}");
    assert!(events.contains(&"login".to_string()));
    let report = db.audit_verify().unwrap();
    assert!(report.is_intact(), "{report:?}");
    assert!(report.intact >= 5);
}

#[test]
fn views_run_with_their_owners_rights_and_rls_filters_rows() {
    let db = open();
    let root = db.root_session();
    for stmt in [
        "CREATE TABLE orders (id INTEGER PRIMARY KEY, owner TEXT, amount INTEGER, secret TEXT)",
        "INSERT INTO orders VALUES (1, 'alice', 10, 'x'), (2, 'bob', 20, 'y'), (3, 'alice', 30, 'z')",
        "CREATE USER alice WITH PASSWORD 'a'",
        "CREATE USER bob WITH PASSWORD 'b'",
        "CREATE USER owner WITH PASSWORD 'o'",
        "GRANT CREATE ON DATABASE main TO owner",
        "GRANT SELECT ON orders TO owner WITH GRANT OPTION",
    ] {
        root.execute(stmt, &[]).unwrap();
    }
    let owner = login(&db, "owner", "o");
    owner
        .execute(
            "CREATE VIEW my_orders AS SELECT id, amount FROM orders WHERE owner = current_user",
            &[],
        )
        .unwrap();
    owner
        .execute("GRANT SELECT ON my_orders TO alice, bob", &[])
        .unwrap();
    let alice = login(&db, "alice", "a");
    assert_eq!(
        rows(&alice, "SELECT id, amount FROM my_orders ORDER BY id"),
        vec![
            vec![Value::Integer(1), Value::Integer(10)],
            vec![Value::Integer(3), Value::Integer(30)]
        ]
    );
    // The base table stays hidden.
    let e = alice.query("SELECT * FROM orders", &[]).err().unwrap();
    assert!(e.to_string().contains("no such table"), "{e}");
    // Once the owner loses its rights, the view stops working. alice
    // cannot see the table it reads, so it fails for her exactly as if
    // that table were missing (one she could see would be named in a
    // permission error).
    root.execute("REVOKE SELECT ON orders FROM owner", &[])
        .unwrap();
    let e = alice.query("SELECT * FROM my_orders", &[]).err().unwrap();
    assert_eq!(e.code(), ErrorCode::SqlUnknownObject, "{e}");
    assert_eq!(e.to_string(), "no such table: orders");
    root.execute("GRANT SELECT (id) ON orders TO alice", &[])
        .unwrap();
    let e = alice.query("SELECT * FROM my_orders", &[]).err().unwrap();
    assert_eq!(e.code(), ErrorCode::PermissionDenied, "{e}");
    root.execute("REVOKE SELECT (id) ON orders FROM alice", &[])
        .unwrap();

    // Row-level security on the table itself.
    for stmt in [
        "GRANT SELECT, INSERT, UPDATE, DELETE ON orders TO bob",
        "ALTER TABLE orders ENABLE ROW LEVEL SECURITY",
        "CREATE POLICY own ON orders USING (owner = current_user) WITH CHECK (owner = current_user)",
    ] {
        root.execute(stmt, &[]).unwrap();
    }
    let bob = login(&db, "bob", "b");
    assert_eq!(
        rows(&bob, "SELECT id FROM orders"),
        vec![vec![Value::Integer(2)]]
    );
    assert_eq!(bob.execute("DELETE FROM orders", &[]).unwrap(), 1);
    assert_eq!(bob.execute("UPDATE orders SET amount = 0", &[]).unwrap(), 0);
    let e = bob
        .execute("INSERT INTO orders VALUES (9, 'alice', 1, 's')", &[])
        .unwrap_err();
    assert_eq!(e.code(), ErrorCode::PermissionDenied, "{e}");
    bob.execute("INSERT INTO orders VALUES (9, 'bob', 1, 's')", &[])
        .unwrap();
    assert_eq!(
        rows(&root, "SELECT id FROM orders ORDER BY id"),
        vec![
            vec![Value::Integer(1)],
            vec![Value::Integer(3)],
            vec![Value::Integer(9)]
        ]
    );
}

#[test]
fn columns_and_triggers() {
    let db = open();
    let root = db.root_session();
    for stmt in [
        "CREATE TABLE emp (id INTEGER PRIMARY KEY, name TEXT, salary INTEGER)",
        "CREATE TABLE log (what TEXT)",
        "CREATE TRIGGER emp_log AFTER UPDATE ON emp BEGIN INSERT INTO log VALUES (new.name); END",
        "INSERT INTO emp VALUES (1, 'ann', 100)",
        "CREATE USER hr WITH PASSWORD 'h'",
        "GRANT SELECT (id, name), UPDATE (name) ON emp TO hr",
    ] {
        root.execute(stmt, &[]).unwrap();
    }
    let hr = login(&db, "hr", "h");
    assert_eq!(
        rows(&hr, "SELECT name FROM emp"),
        vec![vec![Value::Text("ann".into())]]
    );
    let e = hr.query("SELECT salary FROM emp", &[]).err().unwrap();
    assert!(e.to_string().contains("column salary"), "{e}");
    let e = hr.query("SELECT * FROM emp", &[]).err().unwrap();
    assert_eq!(e.code(), ErrorCode::PermissionDenied);
    // The trigger writes `log`, which hr may not touch: it runs with its
    // owner's (root's) rights, so hr's update goes through and is logged.
    let e = hr.query("SELECT * FROM log", &[]).err().unwrap();
    assert!(e.to_string().contains("no such table: log"), "{e}");
    hr.execute("UPDATE emp SET name = 'anne'", &[]).unwrap();
    assert_eq!(
        rows(&root, "SELECT what FROM log"),
        vec![vec![Value::Text("anne".into())]]
    );
    let e = hr.execute("UPDATE emp SET salary = 1", &[]).unwrap_err();
    assert_eq!(e.code(), ErrorCode::PermissionDenied);
}

#[test]
fn a_prepared_statement_is_checked_again_after_a_revoke() {
    let db = open();
    let root = db.root_session();
    for stmt in [
        "CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)",
        "INSERT INTO t VALUES (1, 'a')",
        "CREATE USER alice WITH PASSWORD 'a'",
        "GRANT SELECT, UPDATE ON t TO alice",
    ] {
        root.execute(stmt, &[]).unwrap();
    }
    let alice = login(&db, "alice", "a");
    let q = alice.prepare("SELECT v FROM t WHERE id = ?").unwrap();
    let u = alice.prepare("UPDATE t SET v = ? WHERE id = ?").unwrap();
    for _ in 0..3 {
        assert_eq!(q.query(&[&1i64]).unwrap().collect_all().unwrap().len(), 1);
        assert_eq!(u.execute(&[&"b", &1i64]).unwrap(), 1);
    }
    root.execute("REVOKE UPDATE ON t FROM alice", &[]).unwrap();
    assert_eq!(q.query(&[&1i64]).unwrap().collect_all().unwrap().len(), 1);
    let e = u.execute(&[&"c", &1i64]).unwrap_err();
    assert_eq!(e.code(), ErrorCode::PermissionDenied);
    root.execute("REVOKE SELECT ON t FROM alice", &[]).unwrap();
    assert!(q.query(&[&1i64]).is_err());
    assert_eq!(
        rows(&root, "SELECT v FROM t"),
        vec![vec![Value::Text("b".into())]]
    );
}
