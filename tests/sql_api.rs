//! The public Rust API end to end: statements, typed rows, transactions,
//! errors, persistence across reopen on an encrypted on-disk store.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use sealdb::crypto::{KeyBytes, MemoryKeyProvider};
use sealdb::{Db, Error, Options, SqlErrorKind, Value};

fn mem() -> Db {
    Db::open_in_memory().unwrap()
}

fn rows(db: &Db, sql: &str) -> Vec<Vec<Value>> {
    let s = db.root_session();
    let r = s.query(sql, &[]).unwrap();
    r.collect_all()
        .unwrap()
        .into_iter()
        .map(|r| r.into_values())
        .collect()
}

fn kind(e: &Error) -> Option<SqlErrorKind> {
    match e {
        Error::Sql { kind, .. } => Some(*kind),
        _ => None,
    }
}

#[test]
fn create_insert_select_with_typed_rows() {
    let db = mem();
    let s = db.root_session();
    s.execute(
        "CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT NOT NULL, score REAL)",
        &[],
    )
    .unwrap();
    for (i, n) in ["ann", "bob", "cy"].iter().enumerate() {
        s.execute(
            "INSERT INTO t (name, score) VALUES (?, ?)",
            &[n, &(i as f64 * 1.5)],
        )
        .unwrap();
    }
    assert_eq!(s.last_insert_rowid(), 3);
    let mut r = s
        .query(
            "SELECT id, name, score FROM t WHERE id > $1 ORDER BY id DESC",
            &[&1i64],
        )
        .unwrap();
    assert_eq!(r.columns(), &["id", "name", "score"]);
    let first = r.next().unwrap().unwrap();
    assert_eq!(first.get::<i64>(0).unwrap(), 3);
    assert_eq!(first.get::<String>(1).unwrap(), "cy");
    assert_eq!(first.get::<f64>(2).unwrap(), 3.0);
    assert!(first.get::<i64>(1).is_err(), "text is not an integer");
    let second = r.next().unwrap().unwrap();
    assert_eq!(second.get_by_name::<String>("name").unwrap(), "bob");
    assert!(r.next().unwrap().is_none());
}

#[test]
fn primary_key_lookups_use_the_rowid_and_indexes_are_chosen() {
    let db = mem();
    let s = db.root_session();
    s.execute(
        "CREATE TABLE t (id INTEGER PRIMARY KEY, k INTEGER, v TEXT)",
        &[],
    )
    .unwrap();
    s.execute("CREATE INDEX tk ON t (k)", &[]).unwrap();
    for i in 0..200i64 {
        s.execute(
            "INSERT INTO t VALUES (?, ?, ?)",
            &[&i, &(i % 10), &format!("v{i}")],
        )
        .unwrap();
    }
    let plan = |sql: &str| -> String {
        rows(&db, &format!("EXPLAIN {sql}"))
            .into_iter()
            .map(|r| r[0].to_text().unwrap())
            .collect::<Vec<_>>()
            .join("\n")
    };
    assert!(
        plan("SELECT v FROM t WHERE id = 5").contains("USING ROWID"),
        "{}",
        plan("SELECT v FROM t WHERE id = 5")
    );
    assert!(plan("SELECT v FROM t WHERE k = 3").contains("USING INDEX tk"));
    assert!(plan("SELECT v FROM t WHERE k IN (1, 2)").contains("USING INDEX tk"));
    assert!(plan("SELECT v FROM t WHERE v = 'x'").contains("SCAN t"));
    // ORDER BY satisfied by the index or the rowid: no sort step.
    let p = plan("SELECT k FROM t ORDER BY k");
    assert!(p.contains("USING INDEX tk") && !p.contains("SORT"), "{p}");
    assert!(!plan("SELECT v FROM t WHERE id > 5 ORDER BY id").contains("SORT"));
    assert!(plan("SELECT v FROM t ORDER BY v").contains("SORT"));
    let ks: Vec<i64> = rows(&db, "SELECT k FROM t ORDER BY k")
        .into_iter()
        .map(|r| match r[0] {
            Value::Integer(i) => i,
            _ => -1,
        })
        .collect();
    assert!(ks.windows(2).all(|w| w[0] <= w[1]) && ks.len() == 200);
    assert_eq!(
        rows(&db, "SELECT v FROM t WHERE id = 5"),
        vec![vec![Value::Text("v5".into())]]
    );
    assert_eq!(
        rows(&db, "SELECT count(*) FROM t WHERE k = 3"),
        vec![vec![Value::Integer(20)]]
    );
    assert_eq!(
        rows(&db, "SELECT count(*) FROM t WHERE k IN (1, 2, 2)"),
        vec![vec![Value::Integer(40)]]
    );
    assert_eq!(
        rows(&db, "SELECT count(*) FROM t WHERE k BETWEEN 2 AND 4"),
        vec![vec![Value::Integer(60)]]
    );
    assert_eq!(
        rows(&db, "SELECT count(*) FROM t WHERE id >= 190"),
        vec![vec![Value::Integer(10)]]
    );
}

#[test]
fn a_failed_statement_changes_nothing_and_the_transaction_stays_usable() {
    let db = mem();
    let s = db.root_session();
    s.execute("CREATE TABLE t (a INTEGER PRIMARY KEY, b TEXT UNIQUE)", &[])
        .unwrap();
    s.execute("BEGIN", &[]).unwrap();
    s.execute("INSERT INTO t VALUES (1, 'x')", &[]).unwrap();
    // The second row conflicts: the whole statement must vanish.
    let e = s
        .execute("INSERT INTO t VALUES (2, 'y'), (3, 'x')", &[])
        .unwrap_err();
    assert_eq!(kind(&e), Some(SqlErrorKind::Unique), "{e}");
    s.execute("INSERT INTO t VALUES (4, 'z')", &[]).unwrap();
    s.execute("COMMIT", &[]).unwrap();
    assert_eq!(
        rows(&db, "SELECT a FROM t ORDER BY a"),
        vec![vec![Value::Integer(1)], vec![Value::Integer(4)]]
    );
    let e = s.execute("INSERT INTO t VALUES (1, 'w')", &[]).unwrap_err();
    assert!(
        e.to_string().contains("UNIQUE") || kind(&e).is_some(),
        "{e}"
    );
}

#[test]
fn transaction_guard_rolls_back_on_drop_and_commits_on_commit() {
    let db = mem();
    let s = db.root_session();
    s.execute("CREATE TABLE t (a INTEGER)", &[]).unwrap();
    {
        let tx = s.transaction().unwrap();
        tx.execute("INSERT INTO t VALUES (1)", &[]).unwrap();
    }
    assert_eq!(
        rows(&db, "SELECT count(*) FROM t"),
        vec![vec![Value::Integer(0)]]
    );
    let tx = s.transaction().unwrap();
    tx.execute("INSERT INTO t VALUES (2)", &[]).unwrap();
    tx.commit().unwrap();
    assert_eq!(rows(&db, "SELECT a FROM t"), vec![vec![Value::Integer(2)]]);
}

#[test]
fn savepoints_roll_back_part_of_a_transaction() {
    let db = mem();
    let s = db.root_session();
    s.execute("CREATE TABLE t (a INTEGER)", &[]).unwrap();
    s.execute(
        "BEGIN; INSERT INTO t VALUES (1); SAVEPOINT sp; INSERT INTO t VALUES (2);",
        &[],
    )
    .unwrap();
    s.execute(
        "ROLLBACK TO sp; INSERT INTO t VALUES (3); RELEASE sp; COMMIT",
        &[],
    )
    .unwrap();
    assert_eq!(
        rows(&db, "SELECT a FROM t ORDER BY a"),
        vec![vec![Value::Integer(1)], vec![Value::Integer(3)]]
    );
}

/// Between statements of a transaction with no savepoint open, the undo
/// log forgets the finished statements' writes (`Txn::settle`): a failed
/// statement still undoes exactly itself, savepoints opened later still
/// roll back to themselves, new rowids still follow the largest one the
/// transaction sees, and a rollback still drops everything.
#[test]
fn a_long_transaction_undoes_each_statement_and_still_rolls_back_whole() {
    let db = mem();
    let s = db.root_session();
    s.execute("CREATE TABLE t (a INTEGER PRIMARY KEY, b TEXT UNIQUE)", &[])
        .unwrap();
    let count = |s: &sealdb::Session| {
        s.query("SELECT count(*), max(a) FROM t", &[])
            .unwrap()
            .collect_all()
            .unwrap()[0]
            .clone()
            .into_values()
    };
    for round in 0..2 {
        s.execute("BEGIN", &[]).unwrap();
        for i in 1..=300i64 {
            s.execute("INSERT INTO t VALUES (?, ?)", &[&i, &format!("v{i}")])
                .unwrap();
        }
        // A failing row statement and a failing multi-row statement undo
        // themselves only.
        let e = s
            .execute("INSERT INTO t VALUES (150, 'dup')", &[])
            .unwrap_err();
        assert_eq!(kind(&e), Some(SqlErrorKind::Unique), "{e}");
        let e = s
            .execute(
                "INSERT INTO t VALUES (301, 'a'), (302, 'b'), (303, 'v7')",
                &[],
            )
            .unwrap_err();
        assert_eq!(kind(&e), Some(SqlErrorKind::Unique), "{e}");
        assert_eq!(count(&s), vec![Value::Integer(300), Value::Integer(300)]);
        // Rowids follow the largest one, across deletes of it.
        s.execute("INSERT INTO t (b) VALUES ('auto')", &[]).unwrap();
        assert_eq!(s.last_insert_rowid(), 301);
        s.execute("DELETE FROM t WHERE a = 301", &[]).unwrap();
        s.execute("INSERT INTO t (b) VALUES ('again')", &[])
            .unwrap();
        assert_eq!(s.last_insert_rowid(), 301);
        // A savepoint opened after many settled statements.
        s.execute("SAVEPOINT sp", &[]).unwrap();
        s.execute(
            "INSERT INTO t VALUES (400, 'x'); DELETE FROM t WHERE a <= 10",
            &[],
        )
        .unwrap();
        s.execute("ROLLBACK TO sp", &[]).unwrap();
        assert_eq!(count(&s), vec![Value::Integer(301), Value::Integer(301)]);
        s.execute("INSERT INTO t VALUES (500, 'y'); RELEASE sp", &[])
            .unwrap();
        s.execute("INSERT INTO t (b) VALUES ('after')", &[])
            .unwrap();
        assert_eq!(s.last_insert_rowid(), 501);
        if round == 0 {
            s.execute("ROLLBACK", &[]).unwrap();
            assert_eq!(count(&s), vec![Value::Integer(0), Value::Null]);
        } else {
            s.execute("COMMIT", &[]).unwrap();
            assert_eq!(count(&s), vec![Value::Integer(303), Value::Integer(501)]);
        }
    }
}

#[test]
fn ddl_is_transactional() {
    let db = mem();
    let s = db.root_session();
    s.execute("BEGIN; CREATE TABLE t (a); INSERT INTO t VALUES (1);", &[])
        .unwrap();
    // Another session does not see the uncommitted table.
    let other = db.root_session();
    assert!(other.query("SELECT * FROM t", &[]).is_err());
    assert_eq!(
        s.query("SELECT count(*) FROM t", &[])
            .unwrap()
            .next()
            .unwrap()
            .unwrap()
            .get::<i64>(0)
            .unwrap(),
        1
    );
    s.execute("ROLLBACK", &[]).unwrap();
    assert!(
        s.query("SELECT * FROM t", &[]).is_err(),
        "rolled back with the transaction"
    );
    s.execute("BEGIN; CREATE TABLE t (a); COMMIT", &[]).unwrap();
    assert!(other.query("SELECT * FROM t", &[]).is_ok());
}

#[test]
fn errors_are_typed() {
    let db = mem();
    let s = db.root_session();
    let e = s.execute("SELEC 1", &[]).unwrap_err();
    match &e {
        Error::Sql {
            kind: SqlErrorKind::Syntax,
            position: Some((1, _)),
            ..
        } => {}
        other => panic!("expected a syntax error with a position, got {other:?}"),
    }
    assert_eq!(e.sqlstate(), "42601");
    assert_eq!(
        kind(&s.execute("SELECT * FROM nope", &[]).unwrap_err()),
        Some(SqlErrorKind::UnknownTable)
    );
    s.execute("CREATE TABLE t (a INTEGER, b INTEGER NOT NULL)", &[])
        .unwrap();
    s.execute("CREATE TABLE u (a INTEGER)", &[]).unwrap();
    assert_eq!(
        kind(&s.execute("SELECT c FROM t", &[]).unwrap_err()),
        Some(SqlErrorKind::UnknownColumn)
    );
    assert_eq!(
        kind(&s.execute("SELECT a FROM t, u", &[]).unwrap_err()),
        Some(SqlErrorKind::Ambiguous)
    );
    assert_eq!(
        kind(&s.execute("SELECT nosuchfn(1)", &[]).unwrap_err()),
        Some(SqlErrorKind::UnknownFunction)
    );
    assert_eq!(
        kind(&s.execute("INSERT INTO t (a) VALUES (1)", &[]).unwrap_err()),
        Some(SqlErrorKind::NotNull)
    );
    // Overflow in + gives a REAL (as SQLite); sum() raises it.
    assert_eq!(
        rows(&db, "SELECT 9223372036854775807 + 1"),
        vec![vec![Value::Real(9_223_372_036_854_775_808.0)]]
    );
    s.execute("CREATE TABLE big (v INTEGER)", &[]).unwrap();
    s.execute("INSERT INTO big VALUES (9223372036854775807), (1)", &[])
        .unwrap();
    assert_eq!(
        kind(&s.execute("SELECT sum(v) FROM big", &[]).unwrap_err()),
        Some(SqlErrorKind::Overflow)
    );
    assert_eq!(
        rows(&db, "SELECT 1 / 0, 5 % 0, 7 / 2, 7.0 / 2"),
        vec![vec![
            Value::Null,
            Value::Null,
            Value::Integer(3),
            Value::Real(3.5)
        ]]
    );
    assert_eq!(
        kind(&s.execute("SELECT ?", &[]).unwrap_err()),
        Some(SqlErrorKind::Misuse),
        "unbound parameter"
    );
}

#[test]
fn busy_writer_gets_a_clear_error() {
    let db = Db::open_with(
        "/busy",
        MemoryKeyProvider::new(KeyBytes::from_slice(&[5u8; 32])).unwrap(),
        Options {
            vfs: Some(std::sync::Arc::new(sealdb::vfs::MemVfs::new())),
            busy_timeout: Duration::from_millis(50),
            ..Options::default()
        },
    )
    .unwrap();
    let a = db.root_session();
    let b = db.root_session();
    a.execute("CREATE TABLE t (x)", &[]).unwrap();
    a.execute("BEGIN; INSERT INTO t VALUES (1)", &[]).unwrap();
    let e = b.execute("INSERT INTO t VALUES (2)", &[]).unwrap_err();
    assert!(matches!(e, Error::Busy { .. }), "{e:?}");
    assert!(e.is_retryable());
    // Readers are not blocked and see the last committed state.
    assert_eq!(
        b.query("SELECT count(*) FROM t", &[])
            .unwrap()
            .next()
            .unwrap()
            .unwrap()
            .get::<i64>(0)
            .unwrap(),
        0
    );
    a.execute("COMMIT", &[]).unwrap();
    b.execute("INSERT INTO t VALUES (2)", &[]).unwrap();
}

#[test]
fn data_survives_reopen_on_an_encrypted_disk_store() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("db");
    let key = [9u8; 32];
    {
        let db = Db::open(
            &path,
            MemoryKeyProvider::new(KeyBytes::from_slice(&key)).unwrap(),
        )
        .unwrap();
        let s = db.root_session();
        s.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)", &[])
            .unwrap();
        s.execute("CREATE UNIQUE INDEX tv ON t (v)", &[]).unwrap();
        s.execute(
            "INSERT INTO t VALUES (1, 'secret-value-one'), (2, 'two')",
            &[],
        )
        .unwrap();
    }
    let db = Db::open(
        &path,
        MemoryKeyProvider::new(KeyBytes::from_slice(&key)).unwrap(),
    )
    .unwrap();
    assert_eq!(
        rows(&db, "SELECT v FROM t WHERE v = 'two'"),
        vec![vec![Value::Text("two".into())]]
    );
    let s = db.root_session();
    assert_eq!(
        kind(
            &s.execute("INSERT INTO t VALUES (3, 'two')", &[])
                .unwrap_err()
        ),
        Some(SqlErrorKind::Unique),
        "the unique index came back"
    );
    // Sessions keep the store open; closing both releases its lock.
    drop(s);
    drop(db);
    // Nothing on disk shows the plaintext.
    for entry in std::fs::read_dir(&path).unwrap() {
        let bytes = std::fs::read(entry.unwrap().path()).unwrap();
        assert!(!bytes.windows(16).any(|w| w == b"secret-value-one"));
    }
    let wrong = Db::open(
        &path,
        MemoryKeyProvider::new(KeyBytes::from_slice(&[8u8; 32])).unwrap(),
    );
    assert!(
        matches!(wrong, Err(Error::KeyUnavailable { .. })),
        "{:?}",
        wrong.err()
    );
}

#[test]
fn alter_table_reindex_and_integrity_check() {
    let db = mem();
    let s = db.root_session();
    s.execute(
        "CREATE TABLE t (id INTEGER PRIMARY KEY, a TEXT, b INTEGER)",
        &[],
    )
    .unwrap();
    s.execute("CREATE INDEX tb ON t (b)", &[]).unwrap();
    s.execute("INSERT INTO t VALUES (1, 'x', 10), (2, 'y', 20)", &[])
        .unwrap();
    s.execute("ALTER TABLE t ADD COLUMN c INTEGER NOT NULL DEFAULT 7", &[])
        .unwrap();
    assert_eq!(
        rows(&db, "SELECT c FROM t WHERE b = 20"),
        vec![vec![Value::Integer(7)]]
    );
    s.execute("ALTER TABLE t RENAME COLUMN a TO name", &[])
        .unwrap();
    assert_eq!(
        rows(&db, "SELECT name FROM t WHERE id = 1"),
        vec![vec![Value::Text("x".into())]]
    );
    assert!(
        s.execute("ALTER TABLE t DROP COLUMN b", &[]).is_err(),
        "indexed column"
    );
    s.execute("ALTER TABLE t DROP COLUMN name", &[]).unwrap();
    assert_eq!(
        rows(&db, "SELECT * FROM t WHERE b = 10"),
        vec![vec![
            Value::Integer(1),
            Value::Integer(10),
            Value::Integer(7)
        ]]
    );
    s.execute("ALTER TABLE t RENAME TO u", &[]).unwrap();
    assert!(s.query("SELECT * FROM t", &[]).is_err());
    assert_eq!(
        rows(&db, "SELECT count(*) FROM u WHERE b >= 10"),
        vec![vec![Value::Integer(2)]]
    );
    s.execute("REINDEX u", &[]).unwrap();
    assert_eq!(
        rows(&db, "PRAGMA integrity_check"),
        vec![vec![Value::Text("ok".into())]]
    );
}

#[test]
fn committed_transactions_survive_a_crash_and_uncommitted_ones_vanish() {
    use sealdb::vfs::MemVfs;
    use std::sync::Arc;
    let vfs = MemVfs::new();
    let open = || {
        Db::open_with(
            "/crash",
            MemoryKeyProvider::new(KeyBytes::from_slice(&[3u8; 32])).unwrap(),
            Options {
                vfs: Some(Arc::new(vfs.clone())),
                ..Options::default()
            },
        )
        .unwrap()
    };
    let db = open();
    let s = db.root_session();
    s.execute(
        "CREATE TABLE t (id INTEGER PRIMARY KEY, k INTEGER UNIQUE, v TEXT)",
        &[],
    )
    .unwrap();
    s.execute("CREATE INDEX tv ON t (v)", &[]).unwrap();
    for round in 0..20i64 {
        let tx = s.transaction().unwrap();
        for i in 0..10 {
            let id = round * 10 + i;
            tx.execute(
                "INSERT INTO t VALUES (?, ?, ?)",
                &[&id, &(id * 7), &format!("v{}", id % 13)],
            )
            .unwrap();
        }
        tx.execute("UPDATE t SET v = 'updated' WHERE id = ?", &[&(round * 10)])
            .unwrap();
        tx.execute("DELETE FROM t WHERE id = ?", &[&(round * 10 + 1)])
            .unwrap();
        tx.commit().unwrap();
        if round == 10 {
            db.engine().flush().unwrap();
        }
    }
    // A transaction in flight when the machine stops.
    let other = db.root_session();
    other
        .execute(
            "BEGIN; INSERT INTO t VALUES (1000, 1, 'lost'); DELETE FROM t WHERE id = 5",
            &[],
        )
        .unwrap();
    vfs.crash();
    drop(other);
    drop(s);
    drop(db);

    let db = open();
    assert_eq!(
        rows(&db, "SELECT count(*) FROM t"),
        vec![vec![Value::Integer(180)]]
    );
    assert_eq!(
        rows(&db, "SELECT count(*) FROM t WHERE v = 'updated'"),
        vec![vec![Value::Integer(20)]]
    );
    assert!(
        rows(&db, "SELECT * FROM t WHERE id = 1000").is_empty(),
        "uncommitted insert vanished"
    );
    assert_eq!(
        rows(&db, "SELECT id FROM t WHERE id = 5"),
        vec![vec![Value::Integer(5)]],
        "uncommitted delete vanished"
    );
    assert_eq!(
        rows(&db, "SELECT id FROM t WHERE k = 14"),
        vec![vec![Value::Integer(2)]],
        "unique index consistent"
    );
    assert_eq!(
        rows(&db, "PRAGMA integrity_check"),
        vec![vec![Value::Text("ok".into())]]
    );
}

#[test]
fn row_triggers_fire_with_new_and_old() {
    let db = mem();
    let s = db.root_session();
    s.execute(
        "CREATE TABLE t (id INTEGER PRIMARY KEY, v INTEGER, w TEXT)",
        &[],
    )
    .unwrap();
    s.execute("CREATE TABLE log (what TEXT, a INTEGER, b INTEGER)", &[])
        .unwrap();
    s.execute(
        "CREATE TRIGGER ti AFTER INSERT ON t WHEN new.v > 10 BEGIN INSERT INTO log VALUES ('ins', new.id, new.v); END",
        &[],
    )
    .unwrap();
    s.execute(
        "CREATE TRIGGER tu AFTER UPDATE OF v ON t BEGIN INSERT INTO log VALUES ('upd', old.v, new.v); END",
        &[],
    )
    .unwrap();
    s.execute(
        "CREATE TRIGGER td BEFORE DELETE ON t BEGIN INSERT INTO log SELECT 'del', old.id, count(*) FROM t; END",
        &[],
    )
    .unwrap();
    s.execute("INSERT INTO t VALUES (1, 5, 'a'), (2, 50, 'b')", &[])
        .unwrap();
    s.execute("UPDATE t SET w = 'x' WHERE id = 1", &[]).unwrap();
    s.execute("UPDATE t SET v = v + 1 WHERE id = 2", &[])
        .unwrap();
    s.execute("DELETE FROM t WHERE id = 1", &[]).unwrap();
    assert_eq!(
        rows(&db, "SELECT what, a, b FROM log ORDER BY rowid"),
        vec![
            vec![
                Value::Text("ins".into()),
                Value::Integer(2),
                Value::Integer(50)
            ],
            vec![
                Value::Text("upd".into()),
                Value::Integer(50),
                Value::Integer(51)
            ],
            vec![
                Value::Text("del".into()),
                Value::Integer(1),
                Value::Integer(2)
            ],
        ]
    );
    s.execute("DROP TRIGGER ti", &[]).unwrap();
    s.execute("INSERT INTO t VALUES (3, 99, 'c')", &[]).unwrap();
    assert_eq!(
        rows(&db, "SELECT count(*) FROM log"),
        vec![vec![Value::Integer(3)]]
    );
    assert!(s.execute("DROP TRIGGER ti", &[]).is_err());
    // A failing trigger body undoes the whole statement.
    s.execute(
        "CREATE TRIGGER bad BEFORE INSERT ON t BEGIN INSERT INTO nosuch VALUES (1); END",
        &[],
    )
    .unwrap();
    assert!(s.execute("INSERT INTO t VALUES (4, 1, 'd')", &[]).is_err());
    assert!(rows(&db, "SELECT * FROM t WHERE id = 4").is_empty());
}

#[test]
fn upsert_with_on_conflict_do_update() {
    let db = mem();
    let s = db.root_session();
    s.execute(
        "CREATE TABLE kv (k TEXT PRIMARY KEY, n INTEGER NOT NULL)",
        &[],
    )
    .unwrap();
    for _ in 0..3 {
        s.execute(
            "INSERT INTO kv VALUES ('a', 1) ON CONFLICT (k) DO UPDATE SET n = n + excluded.n",
            &[],
        )
        .unwrap();
    }
    s.execute(
        "INSERT INTO kv VALUES ('b', 5) ON CONFLICT (k) DO NOTHING",
        &[],
    )
    .unwrap();
    s.execute(
        "INSERT INTO kv VALUES ('b', 9) ON CONFLICT (k) DO NOTHING",
        &[],
    )
    .unwrap();
    s.execute(
        "INSERT INTO kv VALUES ('b', 100) ON CONFLICT (k) DO UPDATE SET n = excluded.n WHERE excluded.n < 50",
        &[],
    )
    .unwrap();
    assert_eq!(
        rows(&db, "SELECT k, n FROM kv ORDER BY k"),
        vec![
            vec![Value::Text("a".into()), Value::Integer(3)],
            vec![Value::Text("b".into()), Value::Integer(5)],
        ]
    );
    assert_eq!(
        rows(&db, "PRAGMA integrity_check"),
        vec![vec![Value::Text("ok".into())]]
    );
}

#[test]
fn defaults_and_default_values() {
    let db = mem();
    let s = db.root_session();
    s.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, a INTEGER DEFAULT 42, b TEXT DEFAULT 'x' NOT NULL)", &[]).unwrap();
    s.execute("INSERT INTO t DEFAULT VALUES", &[]).unwrap();
    s.execute("INSERT INTO t (a) VALUES (1)", &[]).unwrap();
    assert_eq!(
        rows(&db, "SELECT id, a, b FROM t ORDER BY id"),
        vec![
            vec![
                Value::Integer(1),
                Value::Integer(42),
                Value::Text("x".into())
            ],
            vec![
                Value::Integer(2),
                Value::Integer(1),
                Value::Text("x".into())
            ],
        ]
    );
}

/// A rename's rewritten views, triggers, CHECKs and partial indexes are
/// stored: after a reopen they still read and write the renamed table.
#[test]
fn renamed_dependents_survive_a_reopen() {
    use sealdb::vfs::MemVfs;
    use std::sync::Arc;
    let vfs = MemVfs::new();
    let open = || {
        Db::open_with(
            "/rename",
            MemoryKeyProvider::new(KeyBytes::from_slice(&[5u8; 32])).unwrap(),
            Options {
                vfs: Some(Arc::new(vfs.clone())),
                ..Options::default()
            },
        )
        .unwrap()
    };
    let db = open();
    let s = db.root_session();
    for sql in [
        "CREATE TABLE t (id INTEGER PRIMARY KEY, a INTEGER CHECK (a >= 0), b TEXT)",
        "CREATE UNIQUE INDEX t_b ON t (b) WHERE a > 0",
        "CREATE TABLE log (m TEXT)",
        "CREATE VIEW v AS SELECT t.a, b FROM t WHERE a > 0",
        "CREATE TRIGGER tr AFTER UPDATE OF a ON t BEGIN INSERT INTO log VALUES (old.a || '>' || new.a); END",
        "INSERT INTO t VALUES (1, 1, 'x'), (2, 0, 'y')",
        "ALTER TABLE t RENAME TO t2",
        "ALTER TABLE t2 RENAME COLUMN a TO amount",
    ] {
        s.execute(sql, &[]).unwrap();
    }
    drop(s);
    drop(db);
    let db = open();
    let s = db.root_session();
    assert_eq!(
        rows(&db, "SELECT amount, b FROM v"),
        vec![vec![Value::Integer(1), Value::Text("x".into())]]
    );
    s.execute("UPDATE t2 SET amount = 5 WHERE id = 1", &[])
        .unwrap();
    assert_eq!(
        rows(&db, "SELECT m FROM log"),
        vec![vec![Value::Text("1>5".into())]]
    );
    let e = s
        .execute("INSERT INTO t2 VALUES (3, -1, 'z')", &[])
        .unwrap_err();
    assert!(
        e.to_string()
            .contains("CHECK constraint failed: amount >= 0"),
        "{e}"
    );
    // The partial unique index still applies only where amount > 0.
    s.execute("INSERT INTO t2 VALUES (4, 0, 'x')", &[]).unwrap();
    assert!(s.execute("INSERT INTO t2 VALUES (5, 2, 'x')", &[]).is_err());
    assert_eq!(
        rows(
            &db,
            "SELECT sql FROM sqlite_schema WHERE type IN ('view', 'trigger') ORDER BY name"
        ),
        vec![
            vec![Value::Text(
                "CREATE TRIGGER tr AFTER UPDATE OF amount ON \"t2\" BEGIN INSERT INTO log VALUES (old.amount || '>' || new.amount); END".into()
            )],
            vec![Value::Text(
                "CREATE VIEW \"v\" AS SELECT \"t2\".amount, b FROM \"t2\" WHERE amount > 0".into()
            )],
        ]
    );
    assert_eq!(
        rows(&db, "PRAGMA integrity_check"),
        vec![vec![Value::Text("ok".into())]]
    );
}

/// A prepared statement keeps its statement-journal decision only for the
/// schema it was made for: after a trigger appears, an error inside the
/// trigger undoes the statement's own row (the statement now keeps a
/// journal, as SQLite would recompile it), also inside a transaction.
#[test]
fn a_prepared_insert_decides_its_statement_journal_again_after_ddl() {
    for with_lite in [false, true] {
        let setup = "CREATE TABLE t (x); CREATE TABLE u (y UNIQUE); INSERT INTO u VALUES (7);";
        let trigger = "CREATE TRIGGER tr AFTER INSERT ON t WHEN new.x = 7 BEGIN INSERT INTO u VALUES (new.x); END";
        if with_lite {
            // SQLite's answer, for the record.
            let lite = rusqlite::Connection::open_in_memory().unwrap();
            lite.execute_batch(setup).unwrap();
            let mut st = lite.prepare("INSERT INTO t VALUES (?)").unwrap();
            st.execute([1]).unwrap();
            lite.execute_batch(trigger).unwrap();
            lite.execute_batch("BEGIN").unwrap();
            assert!(st.execute([7]).is_err());
            drop(st);
            let n: i64 = lite
                .query_row("SELECT count(*) FROM t WHERE x = 7", [], |r| r.get(0))
                .unwrap();
            assert_eq!(n, 0);
            continue;
        }
        let db = mem();
        let s = db.root_session();
        s.run_script(setup, |_, _| {}).unwrap();
        let st = s.prepare("INSERT INTO t VALUES (?)").unwrap();
        st.execute(&[&1i64]).unwrap();
        s.execute(trigger, &[]).unwrap();
        s.execute("BEGIN", &[]).unwrap();
        assert!(st.execute(&[&7i64]).is_err());
        drop(st);
        // Read in the same transaction (the row would be uncommitted).
        let n = s
            .query("SELECT count(*) FROM t WHERE x = 7", &[])
            .unwrap()
            .collect_all()
            .unwrap();
        assert_eq!(n[0].values(), &[Value::Integer(0)]);
        s.execute("COMMIT", &[]).unwrap();
        assert_eq!(
            rows(&db, "SELECT count(*) FROM t"),
            vec![vec![Value::Integer(1)]]
        );
    }
}
