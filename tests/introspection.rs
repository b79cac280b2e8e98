//! Introspection and pragmas (issue 18): `sqlite_schema` / `sqlite_master`,
//! the table-valued pragmas and their PRAGMA forms, `user_version`,
//! `busy_timeout`, `synchronous`, `journal_mode`, `foreign_keys`, refusals
//! of every other pragma, and EXPLAIN of introspection sources — golden
//! results as root (what ordinary users see is `attack_introspection.rs`;
//! SQLite's answers for the comparable parts are the difftest scripts
//! `tests/difftest/regress/pragma-*.test`).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use sealdb::crypto::{KeyBytes, MemoryKeyProvider};
use sealdb::{Db, Error, Options, Session, SqlErrorKind, Value};

fn db() -> Db {
    db_with(Options::default())
}

fn db_with(options: Options) -> Db {
    Db::open_with(
        "/introspection",
        MemoryKeyProvider::new(KeyBytes::from_slice(&[9u8; 32])).unwrap(),
        Options {
            vfs: Some(std::sync::Arc::new(sealdb::vfs::MemVfs::new())),
            ..options
        },
    )
    .unwrap()
}

/// A value as the golden strings write it.
fn show(v: &Value) -> String {
    match v {
        Value::Null => "NULL".into(),
        Value::Integer(i) => i.to_string(),
        Value::Real(r) => r.to_string(),
        Value::Text(t) => format!("'{}'", t.replace('\'', "''")),
        Value::Blob(b) => format!(
            "x'{}'",
            b.iter().map(|x| format!("{x:02x}")).collect::<String>()
        ),
    }
}

/// The rows of `sql`, one `a|b|c` line each.
fn lines(s: &Session, sql: &str) -> Vec<String> {
    s.query(sql, &[])
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
        .collect_all()
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
        .into_iter()
        .map(|r| r.values().iter().map(show).collect::<Vec<_>>().join("|"))
        .collect()
}

/// The result's column names, which a prepared statement knows before it
/// runs too.
fn columns(s: &Session, sql: &str) -> Vec<String> {
    let got = s.query(sql, &[]).unwrap().columns().to_vec();
    let prepared = s.prepare(sql).unwrap().columns().unwrap();
    assert_eq!(prepared, Some(got.clone()), "{sql}");
    got
}

fn unsupported(s: &Session, sql: &str) -> String {
    match s.execute(sql, &[]) {
        Err(Error::Sql {
            kind: SqlErrorKind::Unsupported,
            message,
            ..
        }) => {
            assert!(message.contains("not supported"), "{sql}: {message}");
            message
        }
        other => panic!("{sql}: expected a refusal, got {other:?}"),
    }
}

fn setup(s: &Session) {
    for sql in [
        "CREATE TABLE t (a UNIQUE, b UNIQUE, c TEXT NOT NULL DEFAULT 'x', d INTEGER DEFAULT -1, PRIMARY KEY (c, b))",
        "CREATE INDEX i1 ON t (b)",
        "CREATE INDEX i2 ON t (a DESC, c COLLATE NOCASE) WHERE a > 0",
        "CREATE TABLE w (x, y, z, PRIMARY KEY (y, x)) WITHOUT ROWID",
        "CREATE INDEX wi ON w (z)",
        "CREATE TABLE s (id INTEGER PRIMARY KEY, v TEXT)",
        "CREATE VIEW v AS SELECT a, b AS bb FROM t",
        "CREATE TRIGGER tr AFTER INSERT ON s BEGIN UPDATE s SET v = 'x' WHERE id = new.id; END",
    ] {
        s.execute(sql, &[]).unwrap();
    }
}

#[test]
fn sqlite_schema_lists_every_object_in_creation_order() {
    let db = db();
    let s = db.root_session();
    setup(&s);
    assert_eq!(
        columns(&s, "SELECT * FROM sqlite_schema"),
        ["type", "name", "tbl_name", "rootpage", "sql"]
    );
    let got = lines(
        &s,
        "SELECT type, name, tbl_name, rootpage FROM sqlite_master",
    );
    assert_eq!(
        got,
        [
            "'table'|'t'|'t'|2",
            "'index'|'sqlite_autoindex_t_1'|'t'|3",
            "'index'|'sqlite_autoindex_t_2'|'t'|4",
            "'index'|'sqlite_autoindex_t_3'|'t'|5",
            "'index'|'i1'|'t'|6",
            "'index'|'i2'|'t'|7",
            "'table'|'w'|'w'|8",
            "'index'|'wi'|'w'|9",
            "'table'|'s'|'s'|10",
            "'view'|'v'|'v'|0",
            "'trigger'|'tr'|'s'|0",
        ]
    );
    // Both names, any case, `main.`, an alias; the same rows.
    for q in [
        "SELECT count(*) FROM sqlite_schema",
        "SELECT count(*) FROM SQLITE_MASTER",
        "SELECT count(*) FROM main.sqlite_master",
        "SELECT count(x.name) FROM sqlite_schema AS x",
    ] {
        assert_eq!(lines(&s, q), ["11"], "{q}");
    }
    // Autoindexes have no SQL; the others have the stored definitions. (A
    // WITHOUT ROWID table's key index has no row: in SQLite it is the
    // table.)
    assert_eq!(
        lines(&s, "SELECT name FROM sqlite_schema WHERE sql IS NULL"),
        [
            "'sqlite_autoindex_t_1'",
            "'sqlite_autoindex_t_2'",
            "'sqlite_autoindex_t_3'",
        ]
    );
    assert_eq!(
        lines(
            &s,
            "SELECT sql FROM sqlite_schema WHERE name IN ('i2', 'v', 's')"
        ),
        [
            "'CREATE INDEX \"i2\" ON \"t\" (\"a\" DESC, \"c\" COLLATE NOCASE) WHERE a > 0'",
            "'CREATE TABLE \"s\" (\"id\" INTEGER, \"v\" TEXT, PRIMARY KEY (\"id\"))'",
            "'CREATE VIEW \"v\" AS SELECT a, b AS bb FROM t'",
        ]
    );
    // The temp schema exists and is empty (sealdb has no TEMP objects).
    assert_eq!(lines(&s, "SELECT count(*) FROM sqlite_temp_master"), ["0"]);
    assert_eq!(lines(&s, "SELECT count(*) FROM sqlite_temp_schema"), ["0"]);
    // It changes with the schema, also inside a transaction.
    s.execute("BEGIN", &[]).unwrap();
    s.execute("DROP VIEW v", &[]).unwrap();
    assert_eq!(lines(&s, "SELECT count(*) FROM sqlite_schema"), ["10"]);
    s.execute("ROLLBACK", &[]).unwrap();
    assert_eq!(lines(&s, "SELECT count(*) FROM sqlite_schema"), ["11"]);
}

#[test]
fn sqlite_schema_is_read_only() {
    let db = db();
    let s = db.root_session();
    setup(&s);
    for sql in [
        "INSERT INTO sqlite_master VALUES ('table', 'x', 'x', 0, 'CREATE TABLE x (a)')",
        "UPDATE sqlite_schema SET name = 'zz'",
        "DELETE FROM sqlite_master",
        "DROP TABLE sqlite_master",
        "CREATE TABLE sqlite_master (a)",
        "ALTER TABLE sqlite_schema ADD COLUMN q",
        "CREATE INDEX ii ON sqlite_master (name)",
    ] {
        assert!(s.execute(sql, &[]).is_err(), "{sql} succeeded");
    }
    assert_eq!(lines(&s, "SELECT count(*) FROM sqlite_schema"), ["11"]);
}

#[test]
fn table_info_and_xinfo() {
    let db = db();
    let s = db.root_session();
    setup(&s);
    let want = [
        "0|'a'|''|0|NULL|0",
        "1|'b'|''|0|NULL|2",
        "2|'c'|'TEXT'|1|'''x'''|1",
        "3|'d'|'INTEGER'|0|'-1'|0",
    ];
    assert_eq!(lines(&s, "PRAGMA table_info(t)"), want);
    assert_eq!(lines(&s, "PRAGMA table_info('t')"), want);
    assert_eq!(lines(&s, "PRAGMA table_info = \"T\""), want);
    assert_eq!(lines(&s, "PRAGMA main.table_info(t)"), want);
    assert_eq!(lines(&s, "SELECT * FROM pragma_table_info('t')"), want);
    assert_eq!(
        lines(&s, "SELECT * FROM pragma_table_info('t', 'main')"),
        want
    );
    assert_eq!(
        columns(&s, "PRAGMA table_info(t)"),
        ["cid", "name", "type", "notnull", "dflt_value", "pk"]
    );
    assert_eq!(
        columns(&s, "PRAGMA table_xinfo(t)"),
        [
            "cid",
            "name",
            "type",
            "notnull",
            "dflt_value",
            "pk",
            "hidden"
        ]
    );
    assert_eq!(
        lines(&s, "PRAGMA table_xinfo(w)"),
        [
            "0|'x'|''|1|NULL|2|0",
            "1|'y'|''|1|NULL|1|0",
            "2|'z'|''|0|NULL|0|0"
        ]
    );
    // A rowid alias is the key's one column.
    assert_eq!(
        lines(&s, "PRAGMA table_info(s)"),
        ["0|'id'|'INTEGER'|0|NULL|1", "1|'v'|'TEXT'|0|NULL|0"]
    );
    // The hidden columns arg and schema.
    assert_eq!(
        lines(&s, "SELECT arg, schema, name FROM pragma_table_info('s')"),
        ["'s'|NULL|'id'", "'s'|NULL|'v'"]
    );
    // The schema table itself.
    assert_eq!(
        lines(&s, "PRAGMA table_info(sqlite_master)"),
        [
            "0|'type'|'TEXT'|0|NULL|0",
            "1|'name'|'TEXT'|0|NULL|0",
            "2|'tbl_name'|'TEXT'|0|NULL|0",
            "3|'rootpage'|'INT'|0|NULL|0",
            "4|'sql'|'TEXT'|0|NULL|0",
        ]
    );
    // Missing: no rows (SQLite's answer), also for NULL, temp, no argument.
    assert!(lines(&s, "PRAGMA table_info(nosuch)").is_empty());
    assert!(lines(&s, "PRAGMA table_info").is_empty());
    assert!(lines(&s, "SELECT * FROM pragma_table_info(NULL)").is_empty());
    assert!(lines(&s, "SELECT * FROM pragma_table_info('t', 'temp')").is_empty());
    assert_eq!(
        columns(&s, "PRAGMA table_info"),
        ["cid", "name", "type", "notnull", "dflt_value", "pk"]
    );
    // Errors as SQLite words them, and refusals.
    let e = s
        .query("SELECT * FROM pragma_table_info('t', 'other')", &[])
        .and_then(|r| r.collect_all())
        .unwrap_err();
    assert!(e.to_string().contains("unknown database other"), "{e}");
    let e = s
        .query("SELECT * FROM pragma_table_info('t', 'main', 3)", &[])
        .and_then(|r| r.collect_all())
        .unwrap_err();
    assert!(e.to_string().contains("too many arguments"), "{e}");
    unsupported(&s, "SELECT * FROM pragma_table_info");
    unsupported(&s, "SELECT * FROM pragma_table_info()");
}

#[test]
fn table_info_of_views() {
    let db = db();
    let s = db.root_session();
    setup(&s);
    s.execute(
        "CREATE VIEW tv AS SELECT c, t.d + 1 AS e, s.*, x.d AS dd FROM t, s, (SELECT d FROM t) AS x",
        &[],
    )
    .unwrap();
    s.execute("CREATE VIEW tv2 (p, q) AS SELECT s.id, e FROM s, tv", &[])
        .unwrap();
    s.execute(
        "CREATE VIEW tv3 AS SELECT v FROM s UNION SELECT c FROM t",
        &[],
    )
    .unwrap();
    assert_eq!(
        lines(&s, "PRAGMA table_info(v)"),
        ["0|'a'|'BLOB'|0|NULL|0", "1|'bb'|'BLOB'|0|NULL|0"]
    );
    assert_eq!(
        lines(&s, "PRAGMA table_info(tv)"),
        [
            "0|'c'|'TEXT'|0|NULL|0",
            "1|'e'|''|0|NULL|0",
            "2|'id'|'INTEGER'|0|NULL|0",
            "3|'v'|'TEXT'|0|NULL|0",
            "4|'dd'|'INTEGER'|0|NULL|0",
        ]
    );
    assert_eq!(
        lines(&s, "PRAGMA table_xinfo(tv2)"),
        ["0|'p'|'INTEGER'|0|NULL|0|0", "1|'q'|''|0|NULL|0|0"]
    );
    assert_eq!(
        lines(&s, "PRAGMA table_info(tv3)"),
        ["0|'v'|'TEXT'|0|NULL|0"]
    );
    // The schema-wide idiom works with views present.
    assert_eq!(
        lines(
            &s,
            "SELECT count(*) FROM sqlite_schema m, pragma_table_info(m.name) WHERE m.type = 'view'"
        ),
        ["10"]
    );
}

#[test]
fn table_info_follows_alter_table() {
    let db = db();
    let s = db.root_session();
    s.execute("CREATE TABLE a (x INTEGER, y)", &[]).unwrap();
    s.execute("ALTER TABLE a ADD COLUMN z TEXT DEFAULT 'q'", &[])
        .unwrap();
    s.execute("ALTER TABLE a RENAME COLUMN y TO yy", &[])
        .unwrap();
    s.execute("ALTER TABLE a DROP COLUMN x", &[]).unwrap();
    s.execute("ALTER TABLE a RENAME TO b", &[]).unwrap();
    assert!(lines(&s, "PRAGMA table_info(a)").is_empty());
    assert_eq!(
        lines(&s, "PRAGMA table_info(b)"),
        ["0|'yy'|''|0|NULL|0", "1|'z'|'TEXT'|0|'''q'''|0"]
    );
}

#[test]
fn index_list_info_xinfo() {
    let db = db();
    let s = db.root_session();
    setup(&s);
    assert_eq!(
        columns(&s, "PRAGMA index_list(t)"),
        ["seq", "name", "unique", "origin", "partial"]
    );
    // Newest first, as SQLite lists them.
    assert_eq!(
        lines(&s, "PRAGMA index_list(t)"),
        [
            "0|'i2'|0|'c'|1",
            "1|'i1'|0|'c'|0",
            "2|'sqlite_autoindex_t_3'|1|'u'|0",
            "3|'sqlite_autoindex_t_2'|1|'u'|0",
            "4|'sqlite_autoindex_t_1'|1|'pk'|0",
        ]
    );
    assert_eq!(
        lines(&s, "PRAGMA index_list(w)"),
        ["0|'wi'|0|'c'|0", "1|'sqlite_autoindex_w_1'|1|'pk'|0"]
    );
    assert!(lines(&s, "PRAGMA index_list(s)").is_empty());
    assert_eq!(
        columns(&s, "PRAGMA index_info(i2)"),
        ["seqno", "cid", "name"]
    );
    assert_eq!(lines(&s, "PRAGMA index_info(i2)"), ["0|0|'a'", "1|2|'c'"]);
    assert_eq!(
        columns(&s, "PRAGMA index_xinfo(i2)"),
        ["seqno", "cid", "name", "desc", "coll", "key"]
    );
    assert_eq!(
        lines(&s, "PRAGMA index_xinfo(i2)"),
        [
            "0|0|'a'|1|'BINARY'|1",
            "1|2|'c'|0|'NOCASE'|1",
            "2|-1|NULL|0|'BINARY'|0"
        ]
    );
    // WITHOUT ROWID: entries end with the key's other columns; the
    // table's name means its key's index.
    assert_eq!(
        lines(&s, "PRAGMA index_xinfo(wi)"),
        [
            "0|2|'z'|0|'BINARY'|1",
            "1|1|'y'|0|'BINARY'|0",
            "2|0|'x'|0|'BINARY'|0"
        ]
    );
    assert_eq!(lines(&s, "PRAGMA index_info(w)"), ["0|1|'y'", "1|0|'x'"]);
    assert_eq!(
        lines(&s, "PRAGMA index_xinfo(w)"),
        [
            "0|1|'y'|0|'BINARY'|1",
            "1|0|'x'|0|'BINARY'|1",
            "2|2|'z'|0|'BINARY'|0"
        ]
    );
    assert!(lines(&s, "PRAGMA index_info(nosuch)").is_empty());
    assert!(lines(&s, "PRAGMA index_info(t)").is_empty());
    // `t` has no FOREIGN KEY (tests/difftest/regress/foreign-keys-*.test
    // compare lists of some with SQLite's).
    assert_eq!(
        columns(&s, "PRAGMA foreign_key_list(t)"),
        [
            "id",
            "seq",
            "table",
            "from",
            "to",
            "on_update",
            "on_delete",
            "match"
        ]
    );
    assert!(lines(&s, "PRAGMA foreign_key_list(t)").is_empty());
}

#[test]
fn table_valued_pragmas_join_with_the_schema() {
    let db = db();
    let s = db.root_session();
    setup(&s);
    // Every column of every table: the argument reads the row joined
    // before it.
    assert_eq!(
        lines(
            &s,
            "SELECT m.name, p.name FROM sqlite_schema AS m JOIN pragma_table_info(m.name) AS p \
             WHERE m.type = 'table' ORDER BY m.name, p.cid"
        ),
        [
            "'s'|'id'", "'s'|'v'", "'t'|'a'", "'t'|'b'", "'t'|'c'", "'t'|'d'", "'w'|'x'",
            "'w'|'y'", "'w'|'z'"
        ]
    );
    // Comma join, LEFT JOIN, and a correlated subquery.
    assert_eq!(
        lines(
            &s,
            "SELECT count(*) FROM sqlite_master m, pragma_index_list(m.name) l WHERE m.type = 'table'"
        ),
        ["7"]
    );
    assert_eq!(
        lines(
            &s,
            "SELECT m.name, count(l.name) FROM sqlite_master m LEFT JOIN pragma_index_list(m.name) l \
             WHERE m.type = 'table' GROUP BY m.name ORDER BY m.name"
        ),
        ["'s'|0", "'t'|5", "'w'|2"]
    );
    assert_eq!(
        lines(
            &s,
            "SELECT name, (SELECT count(*) FROM pragma_table_info(m.name)) FROM sqlite_schema m \
             WHERE type = 'table' ORDER BY 1"
        ),
        ["'s'|2", "'t'|4", "'w'|3"]
    );
    // Index columns through two pragmas.
    assert_eq!(
        lines(
            &s,
            "SELECT l.name, i.name FROM pragma_index_list('t') l, pragma_index_info(l.name) i \
             WHERE l.origin = 'c' ORDER BY l.name, i.seqno"
        ),
        ["'i1'|'b'", "'i2'|'a'", "'i2'|'c'"]
    );
    // A parameter as the argument, in a prepared statement.
    let st = s
        .prepare("SELECT count(*) FROM pragma_table_info(?)")
        .unwrap();
    let n = |name: &str| -> i64 {
        st.query(&[&name])
            .unwrap()
            .next()
            .unwrap()
            .unwrap()
            .get(0)
            .unwrap()
    };
    assert_eq!((n("t"), n("w"), n("nosuch")), (4, 3, 0));
    // In a view (the view's owner's view of the schema) and a CTE.
    s.execute(
        "CREATE VIEW cols AS SELECT m.name AS t, p.name AS c FROM sqlite_schema m, pragma_table_info(m.name) p WHERE m.type = 'table'",
        &[],
    )
    .unwrap();
    assert_eq!(lines(&s, "SELECT count(*) FROM cols"), ["9"]);
    assert_eq!(
        lines(
            &s,
            "WITH x AS (SELECT name FROM sqlite_schema WHERE type = 'view') SELECT * FROM x ORDER BY 1"
        ),
        ["'cols'", "'v'"]
    );
}

#[test]
fn other_table_valued_functions_are_refused() {
    let db = db();
    let s = db.root_session();
    // json_each and json_tree exist; without an argument (SQLite reads
    // it from a constraint on the hidden `json` column) they are refused.
    let m = unsupported(&s, "SELECT * FROM json_each");
    assert!(m.contains("json_each"), "{m}");
    let m = unsupported(&s, "SELECT * FROM json_tree() WHERE json = '[1]'");
    assert!(m.contains("json_tree"), "{m}");
    let m = unsupported(&s, "SELECT * FROM generate_series(1, 3)");
    assert!(m.contains("generate_series"), "{m}");
    let m = unsupported(&s, "SELECT * FROM pragma_user_version()");
    assert!(m.contains("pragma_user_version"), "{m}");
}

#[test]
fn user_version_is_stored_and_transactional() {
    let db = db();
    let s = db.root_session();
    assert_eq!(lines(&s, "PRAGMA user_version"), ["0"]);
    assert_eq!(columns(&s, "PRAGMA user_version"), ["user_version"]);
    assert_eq!(s.execute("PRAGMA user_version = 7", &[]).unwrap(), 0);
    assert_eq!(lines(&s, "PRAGMA user_version"), ["7"]);
    s.execute("PRAGMA user_version(-3)", &[]).unwrap();
    assert_eq!(lines(&s, "PRAGMA user_version"), ["-3"]);
    // SQLite's reading of the value: 32 bits, leading digits.
    for (v, want) in [
        ("2147483647", "2147483647"),
        ("2147483648", "0"),
        ("-2147483648", "-2147483648"),
        ("'42abc'", "42"),
        ("'abc'", "0"),
        ("1.5", "1"),
        ("x", "0"),
    ] {
        s.execute(&format!("PRAGMA user_version = {v}"), &[])
            .unwrap();
        assert_eq!(lines(&s, "PRAGMA user_version"), [want], "{v}");
    }
    s.execute("PRAGMA user_version = 11", &[]).unwrap();
    // Rolled back with its transaction; seen by others once committed.
    s.execute("BEGIN", &[]).unwrap();
    s.execute("PRAGMA user_version = 12", &[]).unwrap();
    assert_eq!(lines(&s, "PRAGMA user_version"), ["12"]);
    let other = db.root_session();
    assert_eq!(lines(&other, "PRAGMA user_version"), ["11"]);
    s.execute("ROLLBACK", &[]).unwrap();
    assert_eq!(lines(&s, "PRAGMA user_version"), ["11"]);
    s.execute("BEGIN; PRAGMA user_version = 13; COMMIT", &[])
        .unwrap();
    assert_eq!(lines(&other, "PRAGMA user_version"), ["13"]);
}

#[test]
fn user_version_survives_reopen() {
    let vfs = std::sync::Arc::new(sealdb::vfs::MemVfs::new());
    let open = || {
        Db::open_with(
            "/uv",
            MemoryKeyProvider::new(KeyBytes::from_slice(&[9u8; 32])).unwrap(),
            Options {
                vfs: Some(vfs.clone()),
                ..Options::default()
            },
        )
        .unwrap()
    };
    {
        let db = open();
        db.root_session()
            .execute("PRAGMA user_version = 42", &[])
            .unwrap();
    }
    let db = open();
    assert_eq!(lines(&db.root_session(), "PRAGMA user_version"), ["42"]);
}

#[test]
fn busy_timeout_is_the_sessions() {
    let db = db_with(Options {
        busy_timeout: Duration::from_millis(1500),
        ..Options::default()
    });
    let s = db.root_session();
    assert_eq!(columns(&s, "PRAGMA busy_timeout"), ["timeout"]);
    assert_eq!(lines(&s, "PRAGMA busy_timeout"), ["1500"]);
    assert_eq!(lines(&s, "PRAGMA busy_timeout = 20"), ["20"]);
    assert_eq!(lines(&s, "PRAGMA busy_timeout"), ["20"]);
    assert_eq!(lines(&s, "PRAGMA busy_timeout = -5"), ["0"]);
    assert_eq!(lines(&s, "PRAGMA busy_timeout(250)"), ["250"]);
    // Another session keeps the database's.
    assert_eq!(lines(&db.root_session(), "PRAGMA busy_timeout"), ["1500"]);
    // And it is honoured: a writer waits that long for the slot, then
    // fails busy.
    s.execute("CREATE TABLE q (a)", &[]).unwrap();
    let holder = db.root_session();
    holder.execute("BEGIN IMMEDIATE", &[]).unwrap();
    s.execute("PRAGMA busy_timeout = 50", &[]).unwrap();
    let t = std::time::Instant::now();
    let e = s.execute("INSERT INTO q VALUES (1)", &[]).unwrap_err();
    assert!(e.is_retryable(), "{e}");
    assert!(
        t.elapsed() < Duration::from_millis(1400),
        "{:?}",
        t.elapsed()
    );
    holder.execute("ROLLBACK", &[]).unwrap();
}

#[test]
fn synchronous_and_journal_mode_report_the_store() {
    let full = db();
    let s = full.root_session();
    assert_eq!(lines(&s, "PRAGMA synchronous"), ["2"]);
    for ok in ["FULL", "2", "'full'"] {
        s.execute(&format!("PRAGMA synchronous = {ok}"), &[])
            .unwrap();
    }
    for no in ["OFF", "NORMAL", "0", "1", "EXTRA", "3"] {
        let m = unsupported(&s, &format!("PRAGMA synchronous = {no}"));
        assert!(m.contains("FULL"), "{m}");
    }
    let normal = db_with(Options {
        storage: sealdb::storage::StorageOptions {
            sync: sealdb::storage::SyncMode::Normal,
            ..Default::default()
        },
        ..Options::default()
    });
    let n = normal.root_session();
    assert_eq!(lines(&n, "PRAGMA synchronous"), ["1"]);
    n.execute("PRAGMA synchronous = NORMAL", &[]).unwrap();
    unsupported(&n, "PRAGMA synchronous = FULL");

    assert_eq!(lines(&s, "PRAGMA journal_mode"), ["'wal'"]);
    assert_eq!(lines(&s, "PRAGMA journal_mode = WAL"), ["'wal'"]);
    for no in ["DELETE", "MEMORY", "OFF", "TRUNCATE", "PERSIST"] {
        let m = unsupported(&s, &format!("PRAGMA journal_mode = {no}"));
        assert!(m.contains("wal"), "{m}");
    }
}

#[test]
fn foreign_keys_switch_as_sqlite_reads_a_boolean() {
    let db = db();
    let s = db.root_session();
    assert_eq!(lines(&s, "PRAGMA foreign_keys"), ["0"]);
    for (v, on) in [
        ("ON", "1"),
        ("OFF", "0"),
        ("1", "1"),
        ("0", "0"),
        ("true", "1"),
        ("no", "0"),
        ("yes", "1"),
        ("full", "0"),
    ] {
        s.execute(&format!("PRAGMA foreign_keys = {v}"), &[])
            .unwrap();
        assert_eq!(lines(&s, "PRAGMA foreign_keys"), [on], "{v}");
    }
    assert_eq!(lines(&s, "PRAGMA defer_foreign_keys"), ["0"]);
    s.execute("PRAGMA defer_foreign_keys = ON", &[]).unwrap();
    assert_eq!(lines(&s, "PRAGMA defer_foreign_keys"), ["1"]);
}

#[test]
fn every_other_pragma_is_refused_by_name() {
    let db = db();
    let s = db.root_session();
    for name in [
        "cache_size",
        "page_size",
        "recursive_triggers",
        "case_sensitive_like",
        "legacy_alter_table",
        "wal_checkpoint",
        "optimize",
        "schema_version",
        "application_id",
        "quick_check",
        "database_list",
        "compile_options",
        "nosuchpragma",
    ] {
        for sql in [
            format!("PRAGMA {name}"),
            format!("PRAGMA {name} = 1"),
            format!("PRAGMA {name}(1)"),
        ] {
            let m = unsupported(&s, &sql);
            assert!(m.contains(name), "{sql}: {m}");
        }
    }
    unsupported(&s, "PRAGMA integrity_check(5)");
    unsupported(&s, "PRAGMA temp.table_info(t)");
    // A parameter is no pragma value (SQLite: a syntax error).
    assert!(s.execute("PRAGMA user_version = ?", &[&1]).is_err());
}

#[test]
fn explain_names_introspection_sources() {
    let db = db();
    let s = db.root_session();
    setup(&s);
    let plan = lines(
        &s,
        "EXPLAIN SELECT * FROM sqlite_master m, pragma_table_info(m.name)",
    )
    .join("\n");
    assert!(
        plan.contains("SCAN sqlite_schema (virtual table)"),
        "{plan}"
    );
    assert!(
        plan.contains("SCAN pragma_table_info (table-valued function)"),
        "{plan}"
    );
    // SQLite's format: `SCAN sqlite_schema` (a table there), the pragma a
    // virtual table.
    let plan = lines(
        &s,
        "EXPLAIN QUERY PLAN SELECT * FROM sqlite_master m, pragma_table_info(m.name)",
    );
    assert_eq!(
        plan,
        [
            "1|0|0|'SCAN sqlite_schema'",
            "2|0|0|'SCAN pragma_table_info VIRTUAL TABLE'"
        ]
    );
}
