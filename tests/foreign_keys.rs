//! FOREIGN KEY constraints through the public API: the error a violation
//! gives (kind, code, SQLSTATE, message), that constraints survive a
//! reopen, that `PRAGMA foreign_keys` belongs to one session, and the
//! errors SQLite raises for a missing parent or a mismatched key. Their
//! behaviour row by row is compared with SQLite's by
//! `tests/difftest/regress/foreign-keys-*.test`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;

use sealdb::crypto::{KeyBytes, MemoryKeyProvider};
use sealdb::vfs::MemVfs;
use sealdb::{Db, Error, ErrorCode, Options, Session, SqlErrorKind, Value};

fn open(vfs: &MemVfs) -> Db {
    Db::open_with(
        "/fks",
        MemoryKeyProvider::new(KeyBytes::from_slice(&[6u8; 32])).unwrap(),
        Options {
            vfs: Some(Arc::new(vfs.clone())),
            ..Options::default()
        },
    )
    .unwrap()
}

fn one(s: &Session, sql: &str) -> Value {
    let rows = s.query(sql, &[]).unwrap().collect_all().unwrap();
    rows[0].clone().into_values()[0].clone()
}

#[test]
fn a_violation_is_a_typed_constraint_error_and_constraints_survive_a_reopen() {
    let vfs = MemVfs::new();
    let db = open(&vfs);
    let s = db.root_session();
    s.run_script(
        "CREATE TABLE p (id INTEGER PRIMARY KEY, k TEXT COLLATE NOCASE UNIQUE);
         CREATE TABLE c (id INTEGER PRIMARY KEY,
                         pid INT REFERENCES p ON DELETE CASCADE,
                         pk TEXT, FOREIGN KEY (pk) REFERENCES p (k) ON UPDATE SET NULL DEFERRABLE INITIALLY DEFERRED);
         INSERT INTO p VALUES (1, 'a');",
        |_, _| {},
    )
    .unwrap();
    drop(s);
    drop(db);

    let db = open(&vfs);
    let s = db.root_session();
    // Off by default, as in SQLite.
    assert_eq!(one(&s, "PRAGMA foreign_keys"), Value::Integer(0));
    s.execute("INSERT INTO c VALUES (1, 9, NULL)", &[]).unwrap();
    s.execute("DELETE FROM c", &[]).unwrap();
    s.execute("PRAGMA foreign_keys = ON", &[]).unwrap();
    assert_eq!(one(&s, "PRAGMA foreign_keys"), Value::Integer(1));
    let e = s
        .execute("INSERT INTO c VALUES (1, 9, NULL)", &[])
        .unwrap_err();
    assert!(
        matches!(
            &e,
            Error::Sql {
                kind: SqlErrorKind::ForeignKey,
                ..
            }
        ),
        "{e:?}"
    );
    assert_eq!(e.code(), ErrorCode::SqlConstraint);
    assert_eq!(e.sqlstate(), "23503");
    assert_eq!(e.to_string(), "FOREIGN KEY constraint failed");
    // The reloaded constraints: the action and the deferral.
    s.execute("INSERT INTO c VALUES (1, 1, 'A')", &[]).unwrap();
    s.execute("BEGIN", &[]).unwrap();
    s.execute("INSERT INTO c VALUES (2, NULL, 'zz')", &[])
        .unwrap();
    let e = s.execute("COMMIT", &[]).unwrap_err();
    assert_eq!(e.sqlstate(), "23503");
    // The transaction is still open: repair and commit.
    s.execute("INSERT INTO p VALUES (2, 'ZZ')", &[]).unwrap();
    s.execute("COMMIT", &[]).unwrap();
    s.execute("DELETE FROM p WHERE id = 1", &[]).unwrap();
    assert_eq!(one(&s, "SELECT count(*) FROM c"), Value::Integer(1));
    let list = s
        .query("PRAGMA foreign_key_list(c)", &[])
        .unwrap()
        .collect_all()
        .unwrap();
    assert_eq!(list.len(), 2);
}

#[test]
fn enforcement_belongs_to_the_session_and_is_fixed_inside_a_transaction() {
    let db = open(&MemVfs::new());
    let a = db.root_session();
    let b = db.root_session();
    a.run_script(
        "CREATE TABLE p (id INTEGER PRIMARY KEY); CREATE TABLE c (pid REFERENCES p);",
        |_, _| {},
    )
    .unwrap();
    a.execute("PRAGMA foreign_keys = ON", &[]).unwrap();
    assert!(a.execute("INSERT INTO c VALUES (1)", &[]).is_err());
    // Another session keeps SQLite's default.
    b.execute("INSERT INTO c VALUES (1)", &[]).unwrap();
    assert_eq!(one(&b, "PRAGMA foreign_keys"), Value::Integer(0));
    // Inside a transaction the switch is a no-op (SQLite).
    b.execute("BEGIN", &[]).unwrap();
    b.execute("PRAGMA foreign_keys = ON", &[]).unwrap();
    assert_eq!(one(&b, "PRAGMA foreign_keys"), Value::Integer(0));
    b.execute("INSERT INTO c VALUES (2)", &[]).unwrap();
    b.execute("COMMIT", &[]).unwrap();
    // The rows left without a parent are what foreign_key_check lists.
    let bad = a
        .query("SELECT rowid FROM pragma_foreign_key_check('c')", &[])
        .unwrap()
        .collect_all()
        .unwrap();
    assert_eq!(bad.len(), 2);
}

#[test]
fn a_missing_parent_or_a_mismatched_key_fails_every_change() {
    let db = open(&MemVfs::new());
    let s = db.root_session();
    s.run_script(
        "CREATE TABLE p (a, b);
         CREATE TABLE c (x REFERENCES p(a));
         CREATE TABLE m (x REFERENCES nowhere);
         PRAGMA foreign_keys = ON;",
        |_, _| {},
    )
    .unwrap();
    for sql in ["INSERT INTO c VALUES (1)", "DELETE FROM c", "DELETE FROM p"] {
        let e = s.execute(sql, &[]).unwrap_err();
        assert_eq!(
            e.to_string(),
            "foreign key mismatch - \"c\" referencing \"p\"",
            "{sql}"
        );
    }
    for sql in ["INSERT INTO m VALUES (NULL)", "DELETE FROM m"] {
        let e = s.execute(sql, &[]).unwrap_err();
        assert_eq!(e.to_string(), "no such table: main.nowhere", "{sql}");
    }
    // CREATE TABLE checks the constraint's own shape (SQLite's messages).
    for (sql, msg) in [
        (
            "CREATE TABLE d (x REFERENCES p(a, b))",
            "foreign key on x should reference only one column of table p",
        ),
        (
            "CREATE TABLE d (x, FOREIGN KEY (x) REFERENCES p(a, b))",
            "number of columns in foreign key does not match the number of columns in the referenced table",
        ),
        (
            "CREATE TABLE d (x, FOREIGN KEY (y) REFERENCES p)",
            "unknown column \"y\" in foreign key definition",
        ),
    ] {
        let e = s.execute(sql, &[]).unwrap_err();
        assert_eq!(e.to_string(), msg, "{sql}");
    }
    for sql in [
        "CREATE TABLE d (x REFERENCES p MATCH FULL)",
        "CREATE TABLE d (x REFERENCES p NOT ENFORCED)",
    ] {
        let e = s.execute(sql, &[]).unwrap_err();
        assert!(
            matches!(
                &e,
                Error::Sql {
                    kind: SqlErrorKind::Unsupported,
                    ..
                }
            ),
            "{sql}: {e:?}"
        );
    }
}
