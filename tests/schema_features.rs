//! Generated columns, indexes on expressions and INSTEAD OF triggers
//! survive a reopen: their definitions are stored as SQL text in the
//! catalog and read back into the same schema (the expressions, VIRTUAL /
//! STORED, key collations and order, the trigger's timing), and the data
//! written before goes on matching them (index entries found by the same
//! keys, integrity_check clean). Their behaviour row by row is compared
//! with SQLite's by `tests/difftest/regress/{generated-columns,
//! expression-indexes,instead-of-triggers}.test`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;

use sealdb::crypto::{KeyBytes, MemoryKeyProvider};
use sealdb::vfs::MemVfs;
use sealdb::{Db, Options, Session, Value};

fn open(vfs: &MemVfs) -> Db {
    Db::open_with(
        "/features",
        MemoryKeyProvider::new(KeyBytes::from_slice(&[9u8; 32])).unwrap(),
        Options {
            vfs: Some(Arc::new(vfs.clone())),
            ..Options::default()
        },
    )
    .unwrap()
}

fn rows(s: &Session, sql: &str) -> Vec<Vec<Value>> {
    let mut out = Vec::new();
    let mut r = s.query(sql, &[]).unwrap();
    while let Some(row) = r.next().unwrap() {
        out.push(row.values().to_vec());
    }
    out
}

fn text(v: &str) -> Value {
    Value::Text(v.to_string())
}

#[test]
fn definitions_and_data_survive_a_reopen() {
    let vfs = MemVfs::new();
    {
        let db = open(&vfs);
        let s = db.root_session();
        s.run_script(
            "CREATE TABLE p (id INTEGER PRIMARY KEY, name TEXT COLLATE NOCASE, a INT, b INT,
                             lname TEXT GENERATED ALWAYS AS (lower(name)) STORED,
                             s INT AS (a + b) VIRTUAL);
             CREATE INDEX p_l ON p (lower(name) DESC);
             CREATE UNIQUE INDEX p_u ON p ((a * 10 + b) COLLATE NOCASE, name);
             CREATE INDEX p_s ON p (s) WHERE s > 0;
             INSERT INTO p (name, a, b) VALUES ('Ann', 1, 2), ('BO', 3, 4), (NULL, 5, 6);
             CREATE VIEW pv AS SELECT id, name, s FROM p;
             CREATE TABLE log (x);
             CREATE TRIGGER pv_ins INSTEAD OF INSERT ON pv BEGIN
               INSERT INTO p (name, a, b) VALUES (NEW.name, NEW.s, 0);
               INSERT INTO log VALUES (NEW.name);
             END;",
            |_, _| {},
        )
        .unwrap();
    }
    let db = open(&vfs);
    let s = db.root_session();
    assert_eq!(
        rows(&s, "SELECT id, lname, s FROM p ORDER BY id"),
        vec![
            vec![Value::Integer(1), text("ann"), Value::Integer(3)],
            vec![Value::Integer(2), text("bo"), Value::Integer(7)],
            vec![Value::Integer(3), Value::Null, Value::Integer(11)],
        ]
    );
    // The same keys find the entries written before the reopen.
    assert_eq!(
        rows(&s, "SELECT id FROM p WHERE lower(name) = 'bo'"),
        vec![vec![Value::Integer(2)]]
    );
    let plan = rows(&s, "EXPLAIN SELECT id FROM p WHERE lower(name) = 'bo'");
    assert!(format!("{plan:?}").contains("USING INDEX p_l"), "{plan:?}");
    assert!(s
        .execute("INSERT INTO p (name, a, b) VALUES ('ann', 1, 2)", &[])
        .unwrap_err()
        .to_string()
        .contains("index 'p_u'"));
    // Still generated: not writable, recomputed.
    assert!(s.execute("UPDATE p SET s = 1", &[]).is_err());
    s.execute("UPDATE p SET a = 100 WHERE id = 1", &[]).unwrap();
    assert_eq!(
        rows(&s, "SELECT s FROM p WHERE id = 1"),
        vec![vec![Value::Integer(102)]]
    );
    assert_eq!(
        rows(
            &s,
            "SELECT name, hidden FROM pragma_table_xinfo('p') WHERE hidden > 0"
        ),
        vec![
            vec![text("lname"), Value::Integer(3)],
            vec![text("s"), Value::Integer(2)],
        ]
    );
    assert_eq!(
        rows(
            &s,
            "SELECT cid, desc, coll FROM pragma_index_xinfo('p_u') WHERE key"
        ),
        vec![
            vec![Value::Integer(-2), Value::Integer(0), text("NOCASE")],
            vec![Value::Integer(1), Value::Integer(0), text("NOCASE")],
        ]
    );
    // The INSTEAD OF trigger still fires.
    s.execute("INSERT INTO pv (name, s) VALUES ('Cy', 9)", &[])
        .unwrap();
    assert_eq!(
        rows(&s, "SELECT lname, s FROM p WHERE name = 'cy'"),
        vec![vec![text("cy"), Value::Integer(9)]]
    );
    assert_eq!(rows(&s, "SELECT x FROM log"), vec![vec![text("Cy")]]);
    assert_eq!(rows(&s, "PRAGMA integrity_check"), vec![vec![text("ok")]]);
}
