//! CHECK constraints through the public API: the error a violation gives
//! (kind, code, message), that they survive a reopen, and the schema
//! changes they constrain. Their behaviour row by row is compared with
//! SQLite's by `tests/difftest/regress/check-constraints.test`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;

use sealdb::crypto::{KeyBytes, MemoryKeyProvider};
use sealdb::vfs::MemVfs;
use sealdb::{Db, Error, ErrorCode, Options, SqlErrorKind, Value};

fn open(vfs: &MemVfs) -> Db {
    Db::open_with(
        "/checks",
        MemoryKeyProvider::new(KeyBytes::from_slice(&[5u8; 32])).unwrap(),
        Options {
            vfs: Some(Arc::new(vfs.clone())),
            ..Options::default()
        },
    )
    .unwrap()
}

fn refused(db: &Db, sql: &str) -> Error {
    db.root_session().execute(sql, &[]).expect_err(sql)
}

#[test]
fn a_violation_is_a_typed_constraint_error_and_checks_survive_a_reopen() {
    let vfs = MemVfs::new();
    let db = open(&vfs);
    let s = db.root_session();
    s.execute(
        "CREATE TABLE acct (id INTEGER PRIMARY KEY, balance INT NOT NULL CHECK (balance >= 0), \
         owner TEXT, CONSTRAINT owner_set CHECK (owner IS NOT NULL OR balance = 0))",
        &[],
    )
    .unwrap();
    s.execute("INSERT INTO acct (balance, owner) VALUES (10, 'ann')", &[])
        .unwrap();
    drop(s);
    drop(db);

    let db = open(&vfs);
    let e = refused(&db, "UPDATE acct SET balance = balance - 11");
    assert!(
        matches!(
            &e,
            Error::Sql {
                kind: SqlErrorKind::Check,
                ..
            }
        ),
        "{e:?}"
    );
    assert_eq!(e.code(), ErrorCode::SqlConstraint);
    assert_eq!(e.sqlstate(), "23514");
    assert!(
        e.to_string()
            .contains("CHECK constraint failed: balance >= 0"),
        "{e}"
    );
    let e = refused(&db, "INSERT INTO acct (balance) VALUES (5)");
    assert!(
        e.to_string().contains("CHECK constraint failed: owner_set"),
        "{e}"
    );
    let s = db.root_session();
    let rows = s
        .query("SELECT balance, owner FROM acct", &[])
        .unwrap()
        .collect_all()
        .unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!(
        rows[0].clone().into_values(),
        vec![Value::Integer(10), Value::Text("ann".into())]
    );
}

#[test]
fn schema_changes_a_check_depends_on_are_refused() {
    let vfs = MemVfs::new();
    let db = open(&vfs);
    let s = db.root_session();
    s.execute("CREATE TABLE t (a INT CHECK (a > 0), b TEXT, c)", &[])
        .unwrap();
    // Dropping a column a CHECK names would leave it naming nothing:
    // refused, the table unchanged. Renaming it rewrites the CHECK.
    assert!(refused(&db, "ALTER TABLE t DROP COLUMN a")
        .to_string()
        .contains("a"));
    // A column added with a CHECK: every row is tested with its default
    // (none here), later writes with their values.
    s.execute("ALTER TABLE t ADD COLUMN d INT CHECK (d > 0)", &[])
        .unwrap();
    let e = refused(&db, "INSERT INTO t (a, d) VALUES (1, 0)");
    assert!(
        e.to_string().contains("CHECK constraint failed: d > 0"),
        "{e}"
    );
    // Columns no CHECK names can change, and the CHECK still holds.
    s.execute("ALTER TABLE t RENAME COLUMN b TO bb", &[])
        .unwrap();
    s.execute("ALTER TABLE t DROP COLUMN c", &[]).unwrap();
    s.execute("ALTER TABLE t ADD COLUMN e", &[]).unwrap();
    let e = refused(&db, "INSERT INTO t (a) VALUES (0)");
    assert!(e.to_string().contains("CHECK constraint failed"), "{e}");
    s.execute("ALTER TABLE t RENAME COLUMN a TO z", &[])
        .unwrap();
    let e = refused(&db, "INSERT INTO t (z) VALUES (0)");
    assert!(
        e.to_string().contains("CHECK constraint failed: z > 0"),
        "{e}"
    );
    s.execute("ALTER TABLE t RENAME COLUMN z TO a", &[])
        .unwrap();
    s.execute("INSERT INTO t (a, bb, e) VALUES (1, 'x', 2)", &[])
        .unwrap();
    // What a CHECK may not hold, so it can never read another table (a
    // hidden one included) or give two answers for one row.
    for (sql, msg) in [
        (
            "CREATE TABLE x (v CHECK (v IN (SELECT a FROM t)))",
            "subqueries prohibited",
        ),
        (
            "CREATE TABLE x (v CHECK (EXISTS (SELECT 1)))",
            "subqueries prohibited",
        ),
        (
            "CREATE TABLE x (v CHECK (v < random()))",
            "non-deterministic",
        ),
        (
            "CREATE TABLE x (v CHECK (v < date('now')))",
            "non-deterministic",
        ),
        ("CREATE TABLE x (v CHECK (w > 0))", "no such column"),
    ] {
        let e = refused(&db, sql);
        assert!(e.to_string().contains(msg), "{sql}: {e}");
    }
    // A CHECK that reads the clock from a column's value is fine.
    s.execute(
        "CREATE TABLE ev (at TEXT CHECK (date(at) IS NOT NULL))",
        &[],
    )
    .unwrap();
    s.execute("INSERT INTO ev VALUES ('2026-12-02')", &[])
        .unwrap();
    assert!(refused(&db, "INSERT INTO ev VALUES ('soon')")
        .to_string()
        .contains("CHECK constraint failed"));
}
